"""Reading a mailbox the client exported — an mbox file (Gmail Takeout, Thunderbird),
a Maildir, or a folder of ``.eml`` files — one message at a time, with the standard
library's ``mailbox`` and ``email`` packages (no hand-written parsing).

Memory stays bounded: a message is read, its headers parsed, and it is let go
unless ``keep`` wants it; only then is its body parsed (plain text, or the text of
an HTML-only message, scripts and styles dropped). Attachments are never kept.

Each message comes out as a plain record (a dict), for
``followup_lib.logic.mail_match``:

``key`` (the Message-ID, or a hash of Date/From/To/Subject when it has none),
``message_id`` (the Message-ID or None), ``date`` (a ``datetime.date``),
``from_addrs`` and ``to_addrs`` (lower-case addresses; To and Cc), ``subject``,
``followup_actions``, ``followup_coachee``, ``followup_as_of`` (our drafts'
headers, raw), ``where`` (which message of the mailbox) and, once kept, ``body``.

Writing what was matched (``apply_mail``) is one transaction, or nothing.
"""

from __future__ import annotations

import datetime as dt
import email.errors
import email.utils
import hashlib
import mailbox
import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser, Parser
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

from ..errors import UserError
from ..schema import TABLES
from .store import Store
from .validation import RawTable, validate_tables

MAX_BODY = 20_000  # characters of a message's text kept in the store
MAX_MESSAGE_BYTES = 50_000_000  # a bigger "message" is not one (or not worth parsing)
_SURROGATES = re.compile("[\ud800-\udfff]")
_SEPARATOR = re.compile(rb"\r?\n\r?\n")

# Why a message was skipped, as said in the summary.
CUT_SHORT = "cut short or damaged (a truncated mailbox?)"
NOT_EMAIL = "not an email"
NO_DATE = "no date"
TOO_LARGE = "too large"


@dataclass
class MailStats:
    """What reading a mailbox came to: read, kept for matching, skipped (by reason)."""

    kind: str = ""
    read: int = 0
    kept: int = 0
    skipped: Counter = field(default_factory=Counter)

    @property
    def let_go(self) -> int:
        """Messages read and let go: they concern nobody of the coachee's."""
        return self.read - self.kept - sum(self.skipped.values())

    def summary(self) -> str:
        text = f"read {self.read} message{'s' if self.read != 1 else ''} from the {self.kind}"
        if self.skipped:
            text += "; skipped " + ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items()))
        return text


# ------------------------------------------------------------------ HTML to text


class _HTMLText(HTMLParser):
    """The readable text of an HTML part: scripts, styles and the head dropped,
    a line break at each block."""

    DROP = {"script", "style", "noscript", "template", "head", "title"}
    BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "hr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.dropping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.DROP:
            self.dropping += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self.DROP:
            self.dropping = max(0, self.dropping - 1)
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.dropping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Plain text from HTML with the standard library's parser; no script is kept."""
    parser = _HTMLText()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# ------------------------------------------------------------------ one message


def _clean(text) -> str:
    return _SURROGATES.sub("\ufffd", str(text or ""))


def _header_block(data: bytes) -> tuple[str, bool]:
    """The message's header lines as text, whatever their encoding (RFC 6532
    UTF-8, or raw Latin-1/Windows-1252 bytes from an old client), and whether
    a blank line ends them (a message cut inside its headers has none)."""
    m = _SEPARATOR.search(data)
    head = data[: m.start()] if m else data
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = head.decode("cp1252", errors="replace")
    return text, m is not None


def _header(msg, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # noqa: BLE001 — a header the email package cannot parse is no header
        return ""
    return " ".join(_clean(value).split()) if value is not None else ""


def _addresses(msg, *names: str) -> tuple[str, ...]:
    values = []
    for name in names:
        try:
            values.extend(str(v) for v in msg.get_all(name, []))
        except Exception:  # noqa: BLE001
            continue
    out = []
    for _, addr in email.utils.getaddresses([_clean(v) for v in values]):
        addr = addr.strip().strip("<>").lower()
        if "@" in addr and addr not in out:
            out.append(addr)
    return tuple(out)


def _date(msg, fallback: dt.date | None) -> dt.date | None:
    text = _header(msg, "Date")
    if text:
        try:
            return email.utils.parsedate_to_datetime(text).date()
        except (TypeError, ValueError, IndexError, OverflowError):
            pass
    return fallback


def header_record(data: bytes, where: str, fallback_date: dt.date | None = None) -> dict | str:
    """The record of one message's headers, or the reason it is skipped."""
    if len(data) > MAX_MESSAGE_BYTES:
        return TOO_LARGE
    text, complete = _header_block(data)
    msg = Parser(policy=policy.default).parsestr(text, headersonly=True)
    from_addrs = _addresses(msg, "From")
    to_addrs = _addresses(msg, "To", "Cc")
    message_id = _header(msg, "Message-ID") or None
    if not from_addrs and not to_addrs and not message_id:
        return NOT_EMAIL
    if not complete:
        return CUT_SHORT
    day = _date(msg, fallback_date)
    if day is None:
        return NO_DATE
    subject = _header(msg, "Subject")
    key = (
        message_id
        or "no-message-id:"
        + hashlib.sha256(
            "\n".join([_header(msg, "Date"), ",".join(from_addrs), ",".join(to_addrs), subject]).encode()
        ).hexdigest()
    )
    return {
        "key": key,
        "message_id": message_id,
        "date": day,
        "from_addrs": from_addrs,
        "to_addrs": to_addrs,
        "subject": subject,
        "followup_actions": _header(msg, "X-Followup-Actions"),
        "followup_coachee": _header(msg, "X-Followup-Coachee"),
        "followup_as_of": _header(msg, "X-Followup-As-Of"),
        "where": where,
    }


def _part_text(part) -> str:
    try:
        text = part.get_content()
    except Exception:  # noqa: BLE001 — an unknown charset or a broken encoding
        payload = part.get_payload(decode=True) or b""
        text = payload.decode(part.get_content_charset() or "utf-8", errors="replace") if payload else ""
    if not isinstance(text, str):
        return ""
    return html_to_text(text) if part.get_content_type() == "text/html" else text


def body_text(data: bytes) -> str | None:
    """The message's text: its plain part, else its HTML part as text; attachments
    never. None when the message is cut short (a multipart with no closing boundary)."""
    msg = BytesParser(policy=policy.default).parsebytes(data)
    if any(
        isinstance(d, email.errors.CloseBoundaryNotFoundDefect | email.errors.StartBoundaryNotFoundDefect)
        for part in msg.walk()
        for d in part.defects
    ):
        return None
    part = msg.get_body(preferencelist=("plain", "html"))
    text = _clean(_part_text(part)) if part is not None else ""
    text = text.replace("\r\n", "\n").strip()
    if len(text) > MAX_BODY:
        text = text[:MAX_BODY].rstrip() + "\n[…]"
    return text


# ------------------------------------------------------------------ mailboxes


@dataclass
class Mailbox:
    """A mailbox on disk, checked; ``records`` reads it one message at a time."""

    path: Path
    kind: str  # mbox | Maildir | folder of .eml files | .eml file
    stats: MailStats

    def _messages(self) -> Iterator[tuple[bytes, str, dt.date | None]]:
        if self.kind == "mbox":
            box = mailbox.mbox(self.path, create=False)
            try:
                for n, key in enumerate(box.iterkeys(), 1):
                    with box.get_file(key, from_=True) as f:
                        from_line = f.readline()
                        data = f.read()
                    yield data, f"message {n}", _from_line_date(from_line)
            finally:
                box.close()
        elif self.kind == "Maildir":
            box = mailbox.Maildir(self.path, factory=None, create=False)
            for key in sorted(box.iterkeys()):
                yield box.get_bytes(key), f"Maildir message {key}", _maildir_date(key)
        else:
            files = [self.path] if self.path.is_file() else sorted(self.path.rglob("*.eml"))
            for f in files:
                if f.is_file():
                    day = dt.datetime.fromtimestamp(f.stat().st_mtime).date()
                    yield f.read_bytes(), str(f.relative_to(self.path) if f != self.path else f.name), day

    def records(self, keep: Callable[[dict], bool] | None = None) -> Iterator[dict]:
        """The record, with its body, of every readable message ``keep`` wants (all
        of them without ``keep``); the others are let go unread past their headers."""
        for data, where, fallback in self._messages():
            self.stats.read += 1
            rec = header_record(data, where, fallback)
            if isinstance(rec, str):
                self.stats.skipped[rec] += 1
                continue
            if keep is not None and not keep(rec):
                continue  # not the coachee's: let go, headers and all
            body = body_text(data)
            if body is None:
                self.stats.skipped[CUT_SHORT] += 1
                continue
            self.stats.kept += 1
            yield {**rec, "body": body}


def _from_line_date(line: bytes) -> dt.date | None:
    """The day of an mbox ``From sender Sat Nov 14 09:00:00 2026`` line."""
    parts = line.decode("ascii", errors="replace").split()
    try:
        return dt.datetime.strptime(" ".join(parts[-5:]), "%a %b %d %H:%M:%S %Y").date()
    except ValueError:
        return None


def _maildir_date(key: str) -> dt.date | None:
    try:
        return dt.datetime.fromtimestamp(int(key.split(".")[0])).date()
    except (ValueError, OverflowError, OSError):
        return None


def open_mailbox(path: str | Path) -> Mailbox:
    """The mailbox at ``path``, or UserError saying why it is not one."""
    path = Path(path).expanduser()
    if not path.exists():
        raise UserError(f"{path} does not exist: name an mbox file, a Maildir or a folder of .eml files")
    if path.is_dir():
        if (path / "cur").is_dir() and (path / "new").is_dir():
            return Mailbox(path, "Maildir", MailStats("Maildir"))
        if next(path.rglob("*.eml"), None) is not None:
            return Mailbox(path, "folder of .eml files", MailStats("folder of .eml files"))
        raise UserError(f"{path} is not a mailbox: a folder must be a Maildir (with cur/ and new/) or hold .eml files")
    if path.suffix.lower() == ".eml":
        return Mailbox(path, ".eml file", MailStats(".eml file"))
    with open(path, "rb") as f:
        start = f.read(5)
    if start[:2] == b"\x1f\x8b" or start[:2] == b"PK":
        raise UserError(f"{path} is compressed (a .gz or .zip): unpack it and give the .mbox inside")
    if start and start != b"From ":
        raise UserError(
            f"{path} is not a mailbox: an mbox file starts with a 'From ' line "
            "(give an mbox file, a Maildir or a folder of .eml files)"
        )
    return Mailbox(path, "mbox", MailStats("mbox"))


# ------------------------------------------------------------------ writing


class _InTransaction:
    """The store, with every write going into one transaction already open: what
    ``complete`` writes (drafts marked sent) commits or rolls back with the rest."""

    def __init__(self, store: Store, conn):
        self._store, self._conn = store, conn

    def __getattr__(self, name):
        return getattr(self._store, name)

    @contextmanager
    def writing(self):
        yield self._conn

    def upsert(self, frames, conn=None):
        return self._store.upsert(frames, conn if conn is not None else self._conn)


WRITTEN = ("message_id", "application_id", "on", "direction", "channel", "kind", "summary", "body", "contact_id")


def _cell(value):
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10]
    return str(value)


def apply_mail(
    store: Store,
    rows: list[dict],
    complete: Callable[[object], list[str]] | None = None,
) -> tuple[int, list[str]]:
    """Log ``rows`` (``messages`` rows) and run ``complete`` (drafts marked sent),
    in one transaction: all of it, or nothing. A row whose ``message_id`` is
    already stored is left as it is (the coach may have filled in its
    ``next_step_by``). Returns (rows added, the lines ``complete`` reported)."""
    columns = [*WRITTEN, "reference_id"]
    added, lines = 0, []
    frame = None
    if rows:
        ids, links = store.stored_keys()
        cells = pd.DataFrame([[_cell(r.get(c)) for c in columns] for r in rows], columns=columns, dtype=object)
        frame = validate_tables({"messages": RawTable(cells, "the mailbox", first_row=1)}, ids, links)["messages"]
    with store.writing() as conn:
        if frame is not None:
            key = TABLES["messages"].key[0]
            stored = store.existing(conn, "messages", frame[key])
            new = frame[~frame[key].isin(stored)]
            if len(new):
                added = store.upsert({"messages": new}, conn)["messages"]["added"]
        if complete is not None:
            lines = complete(_InTransaction(store, conn))
    return added, lines
