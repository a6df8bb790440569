"""Reading a mailbox the client exported — an mbox file (Gmail Takeout, Thunderbird),
a Maildir (Maildir++ subfolders, mbsync and offlineimap trees), Apple Mail's
``.mbox`` folders, a Thunderbird profile's mail folder, or a folder of ``.eml``
files — one message at a time, with the standard library's ``email`` package.

Memory stays bounded: a message is read up to ``MAX_MESSAGE_BYTES`` (a bigger one
is skipped while it is read, and named), its headers parsed, and it is let go
unless ``keep`` wants it; only then is its body parsed (plain text, or the text of
an HTML-only message, scripts and styles dropped). Attachments are never kept.

Nothing one message holds stops the read: a message that cannot be read is
skipped and named (where it is, its Message-ID, why), and the read goes on.

Each message comes out as a plain record (a dict), for
``followup_lib.logic.mail_match``:

``key`` (the Message-ID, or a hash of Date/From/To/Subject when it has none),
``message_id`` (the Message-ID or None), ``date`` (a ``datetime.date``),
``from_addrs``, ``from_names`` (display names), ``reply_to``, ``sender``,
``to_addrs`` (To and Cc), ``cc_addrs``, ``delivered_to``, ``in_reply_to`` and
``references`` (Message-IDs), ``subject``, the headers that say a message is
automatic (``auto_submitted``, ``x_autoreply``, ``precedence``, ``list_id``,
``list_unsubscribe``), ``content_type``, ``followup_actions``,
``followup_coachee``, ``followup_as_of`` (our drafts' headers, raw), ``where``
(which message of the mailbox) and, once kept, ``body``, ``calendar`` (an
invitation's method, start, organiser) and ``returned`` (the headers of the
message a bounce returns).

Writing what was matched (``apply_mail``) is one transaction, or nothing.
"""

from __future__ import annotations

import codecs
import datetime as dt
import email.errors
import email.utils
import hashlib
import os
import re
import stat
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header
from email.message import EmailMessage
from email.parser import BytesParser, Parser
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from ..errors import UserError
from ..schema import TABLES
from .store import Store
from .validation import RawTable, validate_tables

MAX_BODY = 20_000  # characters of a message's text kept in the store
MAX_MESSAGE_BYTES = 50_000_000  # a bigger "message" is not one (or not worth parsing)
MAX_MIME_DEPTH = 30  # multiparts inside multiparts: real mail nests 3 or 4 deep
FUTURE_DAYS = 366  # a message dated further ahead than this is misdated
MAX_NAMED = 20  # skipped messages named one by one in the summary
_SURROGATES = re.compile("[\ud800-\udfff]")
_SEPARATOR = re.compile(rb"\r?\n\r?\n")
_MULTIPART = re.compile(rb"(?im)^content-type:[ \t]*(\r?\n[ \t]+)?multipart/")

# Why a message was skipped, as said in the summary.
CUT_SHORT = "cut short or damaged (a truncated mailbox?)"
NOT_EMAIL = "not an email"
NO_DATE = "no date"
TOO_LARGE = f"too large (over {MAX_MESSAGE_BYTES // 1_000_000} MB)"
TOO_DEEP = f"MIME parts nested over {MAX_MIME_DEPTH} deep"
NOT_A_FILE = "not a regular file"
UNREADABLE = "unreadable"
FUTURE = "dated in the far future"
BROKEN = "could not be read"


class Skip(Exception):
    """One message skipped, with the reason said in the summary."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(reason)
        self.reason, self.detail = reason, detail


@dataclass
class MailStats:
    """What reading a mailbox came to: read, kept for matching, skipped (by reason,
    and each one named: where, its Message-ID, why)."""

    kind: str = ""
    read: int = 0
    kept: int = 0
    skipped: Counter = field(default_factory=Counter)
    named: list[str] = field(default_factory=list)

    @property
    def let_go(self) -> int:
        """Messages read and let go: they concern nobody of the coachee's."""
        return self.read - self.kept - sum(self.skipped.values())

    def skip(self, where: str, reason: str, message_id: str | None = None, detail: str = "") -> None:
        self.skipped[reason] += 1
        if len(self.named) < MAX_NAMED:
            self.named.append(
                f"{where}{f' {message_id}' if message_id else ''}: {reason}{f' ({detail})' if detail else ''}"
            )

    def summary(self) -> str:
        text = f"read {self.read} message{'s' if self.read != 1 else ''} from the {self.kind}"
        if self.skipped:
            text += "; skipped " + ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items()))
        return text

    def skipped_lines(self) -> list[str]:
        """One line per skipped message (the first ``MAX_NAMED``), then how many more."""
        more = sum(self.skipped.values()) - len(self.named)
        return [f"skipped {line}" for line in self.named] + ([f"skipped {more} more"] if more > 0 else [])


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


def normalise_line_endings(data: bytes) -> bytes:
    """Old Mac mail (CR-only line endings) as lines the parser reads."""
    if b"\r" in data and b"\n" not in data:
        return data.replace(b"\r", b"\n")
    return data


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


def _words(value: str) -> str:
    """A header's RFC 2047 encoded words decoded, whatever charset they name."""
    if "=?" not in value:
        return value
    try:
        parts = decode_header(value)
    except Exception:  # noqa: BLE001 — a malformed encoded word stays as it is
        return value
    out = []
    for text, charset in parts:
        if isinstance(text, bytes):
            out.append(_decode(text, charset) if charset else text.decode("raw-unicode-escape", errors="replace"))
        else:
            out.append(text)
    return "".join(out)


def _header(msg, name: str) -> str:
    """One header's text, encoded words decoded, on one line ("" when absent).
    Headers are parsed raw (``compat32``): ten times faster than the modern
    policy's header objects, and nothing in them can raise."""
    value = msg.get(name)
    return " ".join(_clean(_words(str(value))).split()) if value is not None else ""


def _named(msg, *names: str) -> tuple[tuple[str, str], ...]:
    values = []
    for name in names:
        values.extend(str(v) for v in msg.get_all(name, ()))
    return _name_address_pairs(tuple(values)) if values else ()


@lru_cache(maxsize=4096)
def _name_address_pairs(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """(display name, address) pairs of address headers. Cached: a mailbox repeats
    the same few To and From lines thousands of times, and parsing them is most of
    what reading a message's headers costs."""
    try:
        pairs = email.utils.getaddresses([_clean(v) for v in values])
    except Exception:  # noqa: BLE001
        return ()
    return tuple((_words(n), a) for n, a in pairs)


def _addresses(msg, *names: str, named: tuple[tuple[str, str], ...] | None = None) -> tuple[str, ...]:
    out = []
    for _, addr in named if named is not None else _named(msg, *names):
        addr = addr.strip().strip("<>").lower()
        if "@" in addr and addr not in out:
            out.append(addr)
    return tuple(out)


_MSGID = re.compile(r"<[^<>\s]+>")


def _message_ids(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(m.lower() for m in _MSGID.findall(text or "")))


def _date(msg, fallback: dt.date | None) -> tuple[dt.date | None, str]:
    text = _header(msg, "Date")
    if text:
        try:
            return email.utils.parsedate_to_datetime(text).date(), text
        except (TypeError, ValueError, IndexError, OverflowError):
            pass
    return fallback, text


def header_record(
    data: bytes, where: str, fallback_date: dt.date | None = None, today: dt.date | None = None
) -> dict | str:
    """The record of one message's headers, or the reason it is skipped (a
    ``Skip`` for a far-future date, with the date)."""
    if len(data) > MAX_MESSAGE_BYTES:
        return TOO_LARGE
    text, complete = _header_block(data)
    msg = Parser(policy=policy.compat32).parsestr(text, headersonly=True)
    from_named = _named(msg, "From")
    from_addrs = _addresses(msg, named=from_named)
    to_addrs = _addresses(msg, "To", "Cc")
    message_id = _header(msg, "Message-ID") or None
    if not from_addrs and not to_addrs and not message_id:
        return NOT_EMAIL
    if not complete:
        return CUT_SHORT
    day, date_text = _date(msg, fallback_date)
    if day is None:
        return NO_DATE
    if day > (today or dt.date.today()) + dt.timedelta(days=FUTURE_DAYS):
        raise Skip(FUTURE, f"{day:%Y-%m-%d}")
    subject = _header(msg, "Subject")
    key = (
        message_id
        or "no-message-id:"
        + hashlib.sha256("\n".join([date_text, ",".join(from_addrs), ",".join(to_addrs), subject]).encode()).hexdigest()
    )
    return {
        "key": key,
        "message_id": message_id,
        "date": day,
        "from_addrs": from_addrs,
        "from_names": tuple(" ".join(_clean(n).split()) for n, _ in from_named if n),
        "reply_to": _addresses(msg, "Reply-To"),
        "sender": _addresses(msg, "Sender"),
        "to_addrs": to_addrs,
        "cc_addrs": _addresses(msg, "Cc"),
        "delivered_to": _addresses(msg, "Delivered-To", "X-Original-To", "Envelope-To"),
        "in_reply_to": _message_ids(_header(msg, "In-Reply-To")),
        "references": _message_ids(_header(msg, "References")),
        "subject": subject,
        "auto_submitted": _header(msg, "Auto-Submitted"),
        "x_autoreply": bool(_header(msg, "X-Autoreply") or _header(msg, "X-Autorespond")),
        "precedence": _header(msg, "Precedence"),
        "list_id": _header(msg, "List-Id"),
        "list_unsubscribe": _header(msg, "List-Unsubscribe"),
        "content_type": _content_type(msg),
        "followup_actions": _header(msg, "X-Followup-Actions"),
        "followup_coachee": _header(msg, "X-Followup-Coachee"),
        "followup_as_of": _header(msg, "X-Followup-As-Of"),
        "where": where,
    }


def _content_type(msg) -> str:
    try:
        return msg.get_content_type()
    except Exception:  # noqa: BLE001
        return "text/plain"


def _decode(payload: bytes, declared: str | None) -> str:
    """Text from bytes: the declared charset if Python knows it, else the one
    detected, else Windows-1252 with replacement characters — never an error."""
    if declared:
        try:
            codecs.lookup(declared)
        except LookupError:
            declared = {"iso-8859-8-i": "iso-8859-8", "x-mac-roman": "mac-roman", "cp-850": "cp850",
                        "windows-874": "cp874"}.get(declared.lower())  # fmt: skip
        if declared:
            try:
                return payload.decode(declared)
            except (UnicodeDecodeError, LookupError):
                pass
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(payload[:200_000]).best()
        if best is not None:
            return str(best)
    except Exception:  # noqa: BLE001 — detection is a guess; the fallback below always works
        pass
    return payload.decode("cp1252", errors="replace")


def _part_text(part) -> str:
    """A text part's text: decoded as the standard library's ``get_content`` does
    (the declared charset, ASCII if none, bad bytes replaced), and through
    ``_decode``'s fallbacks when the charset is one Python does not know."""
    try:
        payload = part.get_payload(decode=True) or b""
    except Exception:  # noqa: BLE001 — a broken encoding
        payload = b""
    if not isinstance(payload, bytes):
        return ""
    try:
        declared = part.get_content_charset()
    except Exception:  # noqa: BLE001
        declared = None
    try:
        text = payload.decode(declared or "ascii", errors="replace")
    except LookupError:  # an unknown charset
        text = _decode(payload, declared)
    return html_to_text(text) if part.get_content_type() == "text/html" else text


def _calendar(msg) -> dict | None:
    """An invitation's method (REQUEST, CANCEL, REPLY), start, organiser and summary."""
    for part in msg.walk():
        if part.get_content_type() != "text/calendar":
            continue
        try:
            payload = part.get_payload(decode=True) or b""
            from icalendar import Calendar

            cal = Calendar.from_ical(_decode(payload, part.get_content_charset()))
        except Exception:  # noqa: BLE001 — a broken calendar part is no invitation
            return None
        method = str(cal.get("METHOD", "") or part.get_param("method") or "").upper()
        for event in cal.walk("VEVENT"):
            start = event.get("DTSTART")
            organizer = str(event.get("ORGANIZER", "") or "")
            return {
                "method": method,
                "start": start.dt if start is not None else None,
                "organizer": organizer.split(":", 1)[-1].lower() if organizer else "",
                "summary": str(event.get("SUMMARY", "") or ""),
            }
        return {"method": method, "start": None, "organizer": "", "summary": ""}
    return None


def _returned(msg) -> dict | None:
    """The headers of the message a bounce (multipart/report) returns."""
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            try:
                if ctype == "message/rfc822":
                    inner = part.get_payload(0) if part.is_multipart() else None
                else:
                    inner = Parser(policy=policy.default).parsestr(_part_text(part), headersonly=True)
            except Exception:  # noqa: BLE001
                inner = None
            if inner is None:
                continue
            return {
                "message_id": (_message_ids(_header(inner, "Message-ID")) or (None,))[0],
                "to_addrs": _addresses(inner, "To", "Cc"),
                "subject": _header(inner, "Subject"),
                "followup_actions": _header(inner, "X-Followup-Actions"),
                "followup_coachee": _header(inner, "X-Followup-Coachee"),
            }
    return None


def body_parts(data: bytes) -> dict:
    """The message's text (its plain part, else its HTML part as text; attachments
    never), its calendar invitation and, for a bounce, the message it returns.
    A multipart missing its closing boundary keeps what is there (``note`` says so).
    Raises ``Skip`` when the MIME parts nest deeper than ``MAX_MIME_DEPTH``."""
    if len(_MULTIPART.findall(data, 0, 2_000_000)) > MAX_MIME_DEPTH:
        raise Skip(TOO_DEEP)
    try:
        # Raw headers (compat32) on EmailMessage's methods: the modern policy's header
        # objects cost ten times as much, and only the parts' types and charsets are read.
        msg = BytesParser(_class=EmailMessage, policy=policy.compat32).parsebytes(data)
        note = ""
        if any(
            isinstance(d, email.errors.CloseBoundaryNotFoundDefect | email.errors.StartBoundaryNotFoundDefect)
            for part in msg.walk()
            for d in part.defects
        ):
            note = "its closing boundary is missing: what is there is kept"
        try:
            part = msg.get_body(preferencelist=("plain", "html"))
        except Exception:  # noqa: BLE001
            part = None
        text = _clean(_part_text(part)) if part is not None else ""
        calendar = _calendar(msg)
        returned = (
            _returned(msg)
            if msg.get_content_type() == "multipart/report" or "daemon" in str(msg.get("From", "")).lower()
            else None
        )
    except RecursionError:
        raise Skip(TOO_DEEP) from None
    text = text.replace("\r\n", "\n").strip()
    if len(text) > MAX_BODY:
        text = text[:MAX_BODY].rstrip() + "\n[…]"
    return {"body": text, "calendar": calendar, "returned": returned, "note": note}


def body_text(data: bytes) -> str:
    """The message's text (see ``body_parts``)."""
    return body_parts(data)["body"]


# ------------------------------------------------------------------ reading files safely


def read_regular(path: Path, limit: int = MAX_MESSAGE_BYTES) -> bytes:
    """The bytes of a regular file, at most ``limit`` of them; ``Skip`` for a FIFO,
    a device (a link to /dev/zero), a symlink loop, or a file over the limit —
    checked on the open file, so nothing hangs and nothing is read twice."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise Skip(UNREADABLE, e.strerror or type(e).__name__) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Skip(NOT_A_FILE)
        if st.st_size > limit:
            raise Skip(TOO_LARGE)
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise Skip(TOO_LARGE)
        return data
    finally:
        os.close(fd)


# ------------------------------------------------------------------ mailboxes


_FROM_LINE = re.compile(
    rb"(Mon|Tue|Wed|Thu|Fri|Sat|Sun)\s+(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+(\d{1,2})\s+"
    rb"\d\d:\d\d(?::\d\d)?(?:\s+[+-]\d{4}|\s+[A-Z]{3,4})?\s+(\d{4})"
)
_MONTHS = {m: n for n, m in enumerate(b"Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}


def _from_line_date(line: bytes) -> dt.date | None:
    """The day of an mbox ``From sender Sat Nov 14 09:00:00 2026`` line (Gmail
    Takeout's carries a zone: ``Sat Nov 14 09:00:00 +0000 2026``)."""
    m = _FROM_LINE.search(line)
    if not m:
        return None
    try:
        return dt.date(int(m.group(4)), _MONTHS[m.group(2)], int(m.group(3)))
    except ValueError:
        return None


_FROM_QUOTED = re.compile(rb"(?m)^>(>*From )")
CHUNK = 1 << 22


def _mbox_messages(path: Path, where: str) -> Iterator[tuple[bytes | Skip, str, dt.date | None]]:
    """The messages of an mbox file, streamed in large chunks: each cut at its
    ``From `` line, ``>From`` unquoted; one over ``MAX_MESSAGE_BYTES`` is skipped
    while it is read (its bytes are never held). Old Mac files (CR-only lines) read too."""
    with open(path, "rb") as f:
        start = f.read(65536)
        f.seek(0)
        cr_only = b"\r" in start and b"\n" not in start
        n, from_line, parts, size, too_big, pending = 0, None, [], 0, False, b""

        def finish():
            if too_big:
                return Skip(TOO_LARGE)
            data = b"".join(parts)
            if data.endswith(b"\n"):
                data = data[:-1]  # the blank line before the next From_ line is the mbox's
            return _FROM_QUOTED.sub(rb"\1", data) if b">From " in data else data

        def add(piece: bytes):
            nonlocal size, too_big, parts
            if too_big or not piece:
                return
            size += len(piece)
            if size > MAX_MESSAGE_BYTES:
                too_big, parts = True, []
            else:
                parts.append(piece)

        while True:
            chunk = f.read(CHUNK)
            if cr_only:
                chunk = chunk.replace(b"\r", b"\n")
            data, pos = pending + chunk, 0
            while True:
                if from_line is None:
                    nl = data.find(b"\n", pos)
                    if nl < 0:
                        break
                    from_line, pos = data[pos:nl], nl + 1
                    n, parts, size, too_big = n + 1, [], 0, False
                i = data.find(b"\nFrom ", pos - 1 if pos else 0)
                if i < 0:
                    break
                add(data[pos : i + 1])
                yield finish(), f"{where}message {n}", _from_line_date(from_line)
                from_line, pos = None, i + 1
            if not chunk:
                if from_line is not None:
                    add(data[pos:])
                    yield finish(), f"{where}message {n}", _from_line_date(from_line)
                return
            keep = 0 if from_line is None else 6  # a "\nFrom " may straddle two chunks
            if from_line is not None:
                add(data[pos : max(pos, len(data) - keep)])
                pending = data[max(pos, len(data) - keep) :]
            else:
                pending = data[pos:]


def _maildir_date(name: str) -> dt.date | None:
    try:
        return dt.datetime.fromtimestamp(int(name.split(".")[0])).date()
    except (ValueError, OverflowError, OSError):
        return None


def _maildir_messages(folder: Path, where: str) -> Iterator[tuple[bytes | Skip, str, dt.date | None]]:
    for sub in ("new", "cur"):
        try:
            names = sorted(e.name for e in os.scandir(folder / sub) if not e.name.startswith("."))
        except OSError:
            continue
        for name in names:
            label = f"{where}{sub}/{name}"
            try:
                yield read_regular(folder / sub / name), label, _maildir_date(name)
            except Skip as s:
                yield s, label, None


def _is_maildir(path: Path) -> bool:
    return (path / "cur").is_dir() and (path / "new").is_dir()


def _is_mbox_file(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(5) == b"From "
    except OSError:
        return False


@dataclass
class Mailbox:
    """A mailbox on disk, checked; ``records`` reads it one message at a time.
    ``sources`` are its folders and files: (kind, path) with kind mbox, Maildir or
    eml."""

    path: Path
    kind: str  # what it is, as said in the summary
    stats: MailStats
    sources: list[tuple[str, Path]] = field(default_factory=list)
    today: dt.date | None = None
    since: dt.date | None = None  # messages dated before it are let go

    def _label(self, p: Path) -> str:
        if p == self.path:
            return "" if p.is_dir() else f"{p.name}: "
        return f"{p.relative_to(self.path)}: " if p != self.path else ""

    def _messages(self) -> Iterator[tuple[bytes | Skip, str, dt.date | None]]:
        if not self.sources:
            self.sources = [(self.kind if self.kind in ("mbox", "Maildir") else "eml", self.path)]
        for kind, p in self.sources:
            if kind == "mbox":
                yield from _mbox_messages(p, self._label(p) if p != self.path else "")
            elif kind == "Maildir":
                yield from _maildir_messages(p, "" if p == self.path else f"{p.relative_to(self.path)}/")
            else:
                label = p.name if p == self.path else str(p.relative_to(self.path))
                try:
                    day = dt.datetime.fromtimestamp(p.lstat().st_mtime).date()
                    yield read_regular(p), label, day
                except Skip as s:
                    yield s, label, None
                except OSError as e:
                    yield Skip(UNREADABLE, e.strerror or ""), label, None

    def records(self, keep: Callable[[dict], bool] | None = None) -> Iterator[dict]:
        """The record, with its body, of every readable message ``keep`` wants (all
        of them without ``keep``); the others are let go unread past their headers.
        A message that cannot be read is skipped and named in ``stats``."""
        for data, where, fallback in self._messages():
            self.stats.read += 1
            if isinstance(data, Skip):
                self.stats.skip(where, data.reason, detail=data.detail)
                continue
            rec = None
            try:
                data = normalise_line_endings(data)
                rec = header_record(data, where, fallback, self.today)
                if isinstance(rec, str):
                    self.stats.skip(where, rec)
                    continue
                if (keep is not None and not keep(rec)) or (self.since is not None and rec["date"] < self.since):
                    continue  # not the coachee's (or older than asked): let go, headers and all
                parts = body_parts(data)
            except Skip as s:
                mid = rec.get("message_id") if isinstance(rec, dict) else None
                self.stats.skip(where, s.reason, mid, s.detail)
                continue
            except Exception as e:  # noqa: BLE001 — one broken message never stops the read
                mid = rec.get("message_id") if isinstance(rec, dict) else None
                self.stats.skip(where, BROKEN, mid, f"{type(e).__name__}: {str(e)[:80]}")
                continue
            self.stats.kept += 1
            yield {**rec, **parts}


CONVERT = {
    ".msg": "an Outlook .msg file: save it from Outlook as .eml (File > Save As), or convert it with "
    "`msgconvert` (Debian package libemail-outlook-message-perl), and give the .eml",
    ".pst": "an Outlook data file (.pst): convert it to mbox files with `readpst -r FILE.pst` (Debian package "
    "pst-utils), or export the folders from Outlook, and give the folder readpst writes",
    ".ost": "an Outlook offline file (.ost): export the folders from Outlook as .pst, then `readpst -r`",
}


def _sources(path: Path) -> list[tuple[str, Path]]:
    """Every mailbox inside a folder: Maildirs (Maildir++ ``.Sent`` subfolders,
    mbsync/offlineimap trees), mbox files (Apple Mail's ``X.mbox/mbox``, a
    Thunderbird profile's files beside their ``.msf``, ``*.mbox``), ``.eml`` files.
    Symlinks are not followed out of the folder."""
    found: list[tuple[str, Path]] = []
    for root, dirs, files in os.walk(path, followlinks=False):
        here = Path(root)
        dirs.sort()
        if _is_maildir(here):
            found.append(("Maildir", here))
            dirs[:] = [d for d in dirs if d not in ("cur", "new", "tmp")]
        names = set(files)
        for name in sorted(files):
            f = here / name
            if f.is_symlink():
                continue
            if name.lower().endswith(".eml"):
                found.append(("eml", f))
            elif name.endswith(".msf") or name.startswith("."):
                continue
            elif (
                name == "mbox"
                or name.lower().endswith((".mbox", ".mbx"))
                or f"{name}.msf" in names
                or (not Path(name).suffix and _is_mbox_file(f))
            ) and _is_mbox_file(f):
                found.append(("mbox", f))
    return found


def open_mailbox(path: str | Path, today: dt.date | None = None, since: dt.date | None = None) -> Mailbox:
    """The mailbox at ``path``, or UserError saying why it is not one; ``since``:
    only the messages dated that day or later are read past their headers."""
    box = _mailbox_at(path, today)
    box.since = since
    return box


def _mailbox_at(path: str | Path, today: dt.date | None) -> Mailbox:
    path = Path(path).expanduser()
    if not path.exists():
        raise UserError(f"{path} does not exist: name an mbox file, a Maildir or a folder of .eml files")
    if path.suffix.lower() in CONVERT:
        raise UserError(f"{path} is {CONVERT[path.suffix.lower()]}")
    if path.is_dir():
        sources = _sources(path)
        if not sources:
            outlook = next((p for p in path.rglob("*") if p.suffix.lower() in CONVERT), None)
            if outlook is not None:
                raise UserError(f"{outlook} is {CONVERT[outlook.suffix.lower()]}")
            raise UserError(
                f"{path} is not a mailbox: a folder must be a Maildir (with cur/ and new/), hold mbox files "
                "(Apple Mail's Inbox.mbox/, Thunderbird's Inbox) or hold .eml files"
            )
        kinds = {k for k, _ in sources}
        if kinds == {"Maildir"} and sources[0][1] == path and len(sources) == 1:
            kind = "Maildir"
        elif kinds == {"Maildir"}:
            kind = f"Maildir ({len(sources)} folders)"
        elif kinds == {"eml"}:
            kind = "folder of .eml files"
        elif kinds == {"mbox"} and len(sources) == 1:
            kind = "mbox"
        else:
            kind = f"folder of {len(sources)} mailboxes"
        return Mailbox(path, kind, MailStats(kind), sources, today)
    if path.suffix.lower() == ".eml":
        return Mailbox(path, ".eml file", MailStats(".eml file"), [("eml", path)], today)
    with open(path, "rb") as f:
        start = f.read(5)
    if start[:2] == b"\x1f\x8b" or start[:2] == b"PK":
        raise UserError(f"{path} is compressed (a .gz or .zip): unpack it and give the .mbox inside")
    if start and start != b"From ":
        raise UserError(
            f"{path} is not a mailbox: an mbox file starts with a 'From ' line "
            "(give an mbox file, a Maildir or a folder of .eml files)"
        )
    return Mailbox(path, "mbox", MailStats("mbox"), [("mbox", path)], today)


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


WRITTEN = (
    "message_id", "application_id", "on", "direction", "channel", "kind", "summary", "body", "contact_id",
    "next_step_by", "message_ref", "action_id",
)  # fmt: skip


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
    refs: dict[str, str] | None = None,
) -> tuple[int, list[str]]:
    """Log ``rows`` (``messages`` rows) and run ``complete`` (drafts marked sent),
    in one transaction: all of it, or nothing. A row whose ``message_id`` is
    already stored is left as it is (the coach may have filled in its
    ``next_step_by``). ``refs`` ({action_id: Message-ID}) give the rows
    ``complete`` wrote their ``message_ref``, so replies find their thread.
    Returns (rows added, the lines ``complete`` reported)."""
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
        for action_id, ref in (refs or {}).items():
            conn.execute(
                sa.text(
                    "UPDATE messages SET message_ref = :ref WHERE action_id = :action "
                    "AND (message_ref IS NULL OR message_ref = '')"
                ),
                {"ref": ref, "action": action_id},
            )
    return added, lines
