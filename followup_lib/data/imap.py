"""Reading a folder straight from the client's IMAP server, read-only, with
``imap-tools``: ``imap://USER@HOST[:PORT]/FOLDER`` (or ``imaps://``).

What comes out is what the mailbox files give (``mailbox.header_record`` and
``mailbox.body_parts``, the same records, the same ``MailStats``), so matching,
proposing and logging do not know where the mail came from.

- Read-only: the folder is opened with EXAMINE and every message fetched with
  ``BODY.PEEK``; no flag is ever set, nothing is moved or deleted.
- TLS: ``imaps://``, or ``imap://`` on port 993 (the default), is TLS from the
  first byte; ``imap://`` on another port (143) upgrades with STARTTLS. A server
  that offers neither is refused before the password is sent — unless it is on
  this machine (loopback) and ``FOLLOWUP_IMAP_ALLOW_PLAINTEXT_LOOPBACK=1`` says so.
  Certificates are checked against the system's authorities, or the file
  ``FOLLOWUP_IMAP_CAFILE`` names (a private or self-signed one).
- The password comes from ``FOLLOWUP_IMAP_PASSWORD`` or a prompt on the terminal;
  it is sent to the server and kept nowhere, and no message or traceback shows it.
- Memory stays bounded: the headers are fetched in batches of ``HEADER_BATCH``,
  and only the messages that concern the coachee are fetched whole, in batches of
  at most ``BODY_BATCH_BYTES`` (the server's sizes say which fit); one over
  ``MAX_MESSAGE_BYTES`` is skipped unread, and named.
"""

from __future__ import annotations

import datetime as dt
import getpass
import imaplib
import ipaddress
import os
import re
import socket
import ssl
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from ..errors import FollowupError, UserError
from .mailbox import (
    BROKEN,
    MAX_MESSAGE_BYTES,
    TOO_LARGE,
    MailStats,
    Skip,
    body_parts,
    header_record,
    normalise_line_endings,
)

PASSWORD_VARIABLE = "FOLLOWUP_IMAP_PASSWORD"
CAFILE_VARIABLE = "FOLLOWUP_IMAP_CAFILE"
PLAINTEXT_VARIABLE = "FOLLOWUP_IMAP_ALLOW_PLAINTEXT_LOOPBACK"
TLS_PORT = 993
TIMEOUT = 30  # seconds: connecting, and each answer of the server
HEADER_BATCH = 500  # messages whose headers are fetched in one FETCH
BODY_BATCH = 100  # messages fetched whole in one FETCH, at most…
BODY_BATCH_BYTES = 16_000_000  # …and at most this many bytes of them (by the server's sizes)

_URL = re.compile(r"(?i)^[a-z][a-z0-9+.-]*://")
_FETCH_META = re.compile(rb"UID (\d+)|RFC822\.SIZE (\d+)|INTERNALDATE \"([^\"]+)\"")


class MailServerError(FollowupError):
    """The mail server could not be read: not reached, the TLS or the login
    refused, the connection lost. Nothing was written."""

    exit_code = 1


def is_mail_url(text) -> bool:
    """Whether ``text`` names a mail server (``scheme://…``) rather than a file."""
    return isinstance(text, str) and bool(_URL.match(text.strip()))


@dataclass(frozen=True)
class ImapUrl:
    """Where to read: who, on which server, which folder, and how the connection is secured."""

    user: str
    host: str
    port: int
    folder: str
    implicit_tls: bool

    def __str__(self) -> str:
        return f"{self.user}@{self.host}:{self.port}/{self.folder}"

    @property
    def loopback(self) -> bool:
        if self.host.lower() == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def parse_imap_url(text: str) -> ImapUrl:
    """``imap://USER@HOST[:PORT]/FOLDER`` or ``imaps://…`` read, or UserError saying
    what is wrong with it (never repeating a password written into it)."""
    text = text.strip()
    example = "imap://USER@HOST[:PORT]/FOLDER, for example imap://maya@imap.example.com/INBOX"
    scheme = text.split(":", 1)[0].lower()
    if scheme not in ("imap", "imaps"):
        raise UserError(f"{scheme}:// is not read: name an IMAP folder as {example} (or an exported mailbox file)")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise UserError(f"the IMAP address's port is not a number from 1 to 65535: give {example}") from None
    if parts.password is not None:
        raise UserError(
            f"a password does not belong in the IMAP address (it would be kept in the shell's history): "
            f"remove it and set {PASSWORD_VARIABLE}, or type it when asked"
        )
    user, host = unquote(parts.username or ""), parts.hostname or ""
    if not user or not host:
        raise UserError(f"the IMAP address names no {'user' if host else 'server'}: give {example}")
    if port == 0:
        raise UserError(f"the IMAP address's port is not a number from 1 to 65535: give {example}")
    if parts.query or parts.fragment or ";" in parts.path:
        raise UserError(f"the IMAP address holds more than a folder: give {example}")
    folder = unquote(parts.path.lstrip("/")).rstrip("/") or "INBOX"
    port = port or TLS_PORT
    return ImapUrl(user, host, port, folder, implicit_tls=scheme == "imaps" or port == TLS_PORT)


def password_from_environment_or_prompt(url: ImapUrl) -> str:
    """The password: ``FOLLOWUP_IMAP_PASSWORD``, else typed at the terminal (not echoed).
    UserError when there is neither (a notebook, a script without the variable)."""
    password = os.environ.get(PASSWORD_VARIABLE, "")
    if password:
        return password
    if not (sys.stdin and sys.stdin.isatty()):
        raise UserError(f"no password for {url.user}@{url.host}: set {PASSWORD_VARIABLE} (it is never stored)")
    return getpass.getpass(f"IMAP password for {url.user}@{url.host}: ")


def _tls_context() -> ssl.SSLContext:
    cafile = os.environ.get(CAFILE_VARIABLE) or None
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as e:
        raise UserError(f"{CAFILE_VARIABLE}={cafile} cannot be read as certificates ({_reason(e)})") from None


def _reason(e: BaseException) -> str:
    if isinstance(e, ssl.SSLCertVerificationError):
        return f"its certificate is not trusted: {e.verify_message}; set {CAFILE_VARIABLE} to trust a private one"
    if isinstance(e, socket.gaierror):
        return "no such server (the name does not resolve)"
    if isinstance(e, ConnectionRefusedError):
        return "connection refused (is it the IMAP port?)"
    if isinstance(e, TimeoutError | socket.timeout):
        return f"no answer within {TIMEOUT} s"
    if isinstance(e, ssl.SSLError):
        return f"TLS failed: {e.reason or e}"
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return f"{type(e).__name__}: {str(e)[:200]}"


def _connect(url: ImapUrl):
    """An imap-tools mailbox over TLS (implicit or STARTTLS), not yet logged in."""
    from imap_tools import MailBox, MailBoxUnencrypted

    context = _tls_context()
    where = f"{url.host}:{url.port}"
    try:
        if url.implicit_tls:
            return MailBox(url.host, url.port, timeout=TIMEOUT, ssl_context=context)
        box = MailBoxUnencrypted(url.host, url.port, timeout=TIMEOUT)
    except (OSError, imaplib.IMAP4.error) as e:
        hint = (
            f" (if TLS starts at once on this port, say imaps://{url.user}@{where}/{url.folder})"
            if isinstance(e, TimeoutError | socket.timeout)
            else ""
        )
        raise MailServerError(f"could not connect to the IMAP server {where}: {_reason(e)}{hint}") from None
    try:
        if "STARTTLS" in box.client.capabilities:
            typ, _ = box.client.starttls(context)
            if typ != "OK":
                raise MailServerError(f"the IMAP server {where} refused STARTTLS")
        elif not (url.loopback and os.environ.get(PLAINTEXT_VARIABLE) == "1"):
            raise MailServerError(
                f"the IMAP server {where} offers no TLS (STARTTLS) on this port: the password would cross the "
                f"network in clear. Use imaps://{url.user}@{url.host}/{url.folder} (TLS on port {TLS_PORT})"
            )
    except MailServerError:
        _close(box)
        raise
    except (OSError, imaplib.IMAP4.error) as e:
        _close(box)
        raise MailServerError(f"TLS with the IMAP server {where} failed: {_reason(e)}") from None
    return box


def _close(box) -> None:
    try:
        box.client.shutdown()
    except Exception:  # noqa: BLE001 — already gone
        pass


def _login(box, url: ImapUrl, password: str) -> None:
    from imap_tools import MailboxLoginError

    failed = None
    try:
        if password.isascii() and url.user.isascii():
            box.login(url.user, password, initial_folder=None)
        else:  # LOGIN takes ASCII only: AUTHENTICATE PLAIN carries UTF-8
            box.login_utf8(url.user, password, initial_folder=None)
    except MailboxLoginError as e:
        said = b" ".join(x for x in (e.command_result[1] or []) if isinstance(x, bytes)).decode(errors="replace")
        failed = f"login failed for {url.user} on {url.host}: the server said “{said.strip() or 'no'}”"
    except (OSError, imaplib.IMAP4.error, UnicodeError) as e:
        failed = f"login to {url.host} failed: {_reason(e) if not isinstance(e, UnicodeError) else 'not sent'}"
    if failed is not None:
        _close(box)
        # The server's words, never ours: and if it echoed the password, it is cut out.
        raise MailServerError(failed.replace(password, "***") if password else failed) from None


def _open_folder(box, url: ImapUrl) -> int:
    """EXAMINE the folder (read-only); how many messages it holds."""
    from imap_tools import MailboxFolderSelectError

    try:
        typ, data = box.folder.set(url.folder, readonly=True)
    except MailboxFolderSelectError:
        try:
            names = [f.name for f in box.folder.list()]
        except Exception:  # noqa: BLE001 — the list is only a help
            names = []
        _logout(box)
        known = f" (it has {', '.join(names[:15])}{'…' if len(names) > 15 else ''})" if names else ""
        raise UserError(f"no folder {url.folder!r} for {url.user} on {url.host}{known}") from None
    except (OSError, imaplib.IMAP4.error) as e:
        _close(box)
        raise MailServerError(f"could not open the folder {url.folder!r} on {url.host}: {_reason(e)}") from None
    try:
        return int((data or [b"0"])[0])
    except (TypeError, ValueError):
        return 0


def _logout(box) -> None:
    try:
        box.logout()
    except Exception:  # noqa: BLE001 — leaving a server that already left
        _close(box)


def _since_criteria(since: dt.date | None) -> str:
    if since is None:
        return "ALL"
    from imap_tools import AND

    return str(AND(date_gte=since))  # SINCE d-Mon-yyyy: the day the server received it


def _fetched(data: list) -> Iterator[tuple[str, int, dt.date | None, bytes]]:
    """(UID, size, the server's date, bytes) of each message of a FETCH answer."""
    meta, payload = None, None
    for item in data:
        if isinstance(item, tuple):
            if meta is not None:
                yield _one(meta, payload)
            meta, payload = item[0], item[1]
        elif isinstance(item, bytes) and meta is not None:
            meta += b" " + item  # the items a server sends after the literal (some put UID there)
    if meta is not None:
        yield _one(meta, payload)


def _one(meta: bytes, payload: bytes) -> tuple[str, int, dt.date | None, bytes]:
    uid, size, day = "", 0, None
    for m in _FETCH_META.finditer(meta):
        if m.group(1) and not uid:
            uid = m.group(1).decode()
        elif m.group(2):
            size = int(m.group(2))
        elif m.group(3):
            parsed = imaplib.Internaldate2tuple(b'INTERNALDATE "' + m.group(3) + b'"')
            day = dt.date(*parsed[:3]) if parsed else None
    return uid, size, day, payload or b""


@dataclass
class ImapMailbox:
    """One folder of an IMAP server, examined read-only; ``records`` reads it as
    ``mailbox.Mailbox.records`` reads a file: the same records, the same stats."""

    url: ImapUrl
    box: object  # an imap-tools mailbox, logged in, the folder examined
    stats: MailStats
    since: dt.date | None = None
    today: dt.date | None = None
    size: int = 0  # messages in the folder
    closed: bool = field(default=False, repr=False)

    @property
    def kind(self) -> str:
        return self.stats.kind

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            _logout(self.box)

    def _fetch(self, uids: list[str], parts: str) -> list:
        try:
            typ, data = self.box.client.uid("FETCH", ",".join(uids), parts)
        except (OSError, imaplib.IMAP4.error) as e:
            raise MailServerError(
                f"reading {self.url.folder!r} on {self.url.host} stopped after {self.stats.read} messages: "
                f"{_reason(e)}; nothing was written"
            ) from None
        if typ != "OK":
            raise MailServerError(f"the server {self.url.host} refused to send messages of {self.url.folder!r}")
        return data

    def _uids(self) -> list[str]:
        try:
            # No CHARSET: the criteria are ASCII, and some servers refuse the word.
            return self.box.uids(_since_criteria(self.since), charset=None)
        except Exception as e:  # noqa: BLE001 — imap-tools' own errors, and the socket's
            raise MailServerError(f"could not list the messages of {self.url.folder!r}: {_reason(e)}") from None

    def records(self, keep: Callable[[dict], bool] | None = None) -> Iterator[dict]:
        """The record, with its body, of every readable message ``keep`` wants (all
        of them without ``keep``), in the folder's order; the others are let go after
        their headers, which is all that was fetched of them. The connection is
        closed at the end."""
        try:
            uids = self._uids()
            for start in range(0, len(uids), HEADER_BATCH):
                wanted: list[tuple[str, int, dict]] = []
                for uid, size, day, head in _fetched(
                    self._fetch(uids[start : start + HEADER_BATCH], "(UID RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER])")
                ):
                    rec = self._header(uid, size, day, head)
                    if rec is not None and (keep is None or keep(rec)):
                        wanted.append((uid, size, rec))
                yield from self._bodies(wanted)
        finally:
            self.close()

    def _where(self, uid: str) -> str:
        return f"{self.url.folder} UID {uid}"

    def _header(self, uid: str, size: int, day: dt.date | None, head: bytes) -> dict | None:
        self.stats.read += 1
        where = self._where(uid)
        if size > MAX_MESSAGE_BYTES:
            self.stats.skip(where, TOO_LARGE)
            return None
        try:
            rec = header_record(normalise_line_endings(head), where, day, self.today)
        except Skip as s:
            self.stats.skip(where, s.reason, detail=s.detail)
            return None
        except Exception as e:  # noqa: BLE001 — one broken message never stops the read
            self.stats.skip(where, BROKEN, detail=f"{type(e).__name__}: {str(e)[:80]}")
            return None
        if isinstance(rec, str):
            self.stats.skip(where, rec)
            return None
        return rec

    def _bodies(self, wanted: list[tuple[str, int, dict]]) -> Iterator[dict]:
        batch: list[tuple[str, int, dict]] = []
        total = 0
        for item in [*wanted, None]:
            if item is not None and (not batch or (len(batch) < BODY_BATCH and total + item[1] <= BODY_BATCH_BYTES)):
                batch.append(item)
                total += item[1]
                continue
            if batch:
                recs = {uid: rec for uid, _, rec in batch}
                got = {uid: data for uid, _, _, data in _fetched(self._fetch(list(recs), "(UID BODY.PEEK[])"))}
                for uid, rec in recs.items():
                    data = got.get(uid)
                    if data is None:  # expunged by another client meanwhile
                        self.stats.skip(rec["where"], BROKEN, rec["message_id"], "gone from the server while read")
                        continue
                    try:
                        parts = body_parts(normalise_line_endings(data))
                    except Skip as s:
                        self.stats.skip(rec["where"], s.reason, rec["message_id"], s.detail)
                        continue
                    except Exception as e:  # noqa: BLE001
                        self.stats.skip(rec["where"], BROKEN, rec["message_id"], f"{type(e).__name__}: {str(e)[:80]}")
                        continue
                    self.stats.kept += 1
                    yield {**rec, **parts}
            batch, total = ([item], item[1]) if item is not None else ([], 0)


def open_imap(
    text: str,
    today: dt.date | None = None,
    since: dt.date | None = None,
    password: Callable[[ImapUrl], str] = password_from_environment_or_prompt,
) -> ImapMailbox:
    """The folder ``text`` names (``imap://USER@HOST[:PORT]/FOLDER``), connected,
    logged in and examined read-only, ready to be read; UserError for an address
    that is not one (or no password), MailServerError when the server cannot be
    reached, secured, logged in to."""
    url = parse_imap_url(text)
    secret = password(url)
    box = _connect(url)
    try:
        _login(box, url, secret)
    finally:
        del secret
    size = _open_folder(box, url)
    kind = f"IMAP folder {url.folder} of {url.user} on {url.host}"
    return ImapMailbox(url, box, MailStats(kind), since, today, size)
