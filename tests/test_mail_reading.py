"""Reading real mailboxes without stopping: unknown charsets, cut multiparts,
CR-only line endings, a From_ line's date, and the limits a hostile mailbox meets
(deep MIME nesting, a message over the size limit, FIFOs, /dev/zero links, symlink
loops, far-future dates, .msg/.pst files). Every message that cannot be read is
skipped and named; the read goes on. Real files in tmp_path, read by the real reader."""

from __future__ import annotations

import datetime as dt
import mailbox
import os
import sys
from email.message import EmailMessage

import pytest

from followup_lib.data import mailbox as mb
from followup_lib.data.mailbox import FUTURE, NOT_A_FILE, TOO_DEEP, TOO_LARGE, UNREADABLE, open_mailbox
from followup_lib.errors import UserError

TODAY = dt.date(2026, 11, 16)
CHARSETS = ["iso-8859-8-i", "unknown-8bit", "x-unknown", "windows-874", "x-user-defined", "x-mac-roman", "cp-850"]


def raw(subject: str, body: bytes, charset: str = "utf-8", mid: str = "<m@x>", date: str | None = None) -> bytes:
    head = (
        f"From: Chloe Adams <chloe.adams@northwind.example>\r\nTo: maya.lindqvist@example.com\r\n"
        f"Subject: {subject}\r\nMessage-ID: {mid}\r\n"
        + (f"Date: {date}\r\n" if date else "Date: Tue, 10 Nov 2026 10:00:00 +0000\r\n")
        + f'MIME-Version: 1.0\r\nContent-Type: text/plain; charset="{charset}"\r\n'
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
    )
    return head.encode() + body


def read_all(path) -> tuple[list[dict], mb.MailStats]:
    box = open_mailbox(path, today=TODAY)
    return list(box.records()), box.stats


def eml_folder(tmp_path, messages: dict[str, bytes]):
    folder = tmp_path / "emls"
    folder.mkdir()
    for name, data in messages.items():
        (folder / name).write_bytes(data)
    return folder


@pytest.mark.parametrize("charset", CHARSETS)
def test_every_unknown_charset_is_read_without_an_exception(tmp_path, charset):
    folder = eml_folder(
        tmp_path,
        {"odd.eml": raw("Next steps", "Merci, à bientôt — שלום".encode("cp1255", errors="replace"), charset),
         "fine.eml": raw("Fine", b"All good.", mid="<fine@x>")},
    )  # fmt: skip
    records, stats = read_all(folder)
    assert len(records) == 2 and not stats.skipped
    odd = next(r for r in records if r["subject"] == "Next steps")
    assert odd["body"].startswith("Merci")  # declared, detected, or cp1252 with replacement


def test_a_hebrew_outlook_message_reads_in_its_charset(tmp_path):
    folder = eml_folder(tmp_path, {"he.eml": raw("תודה", "תודה רבה על הראיון".encode("iso-8859-8"), "iso-8859-8-i")})
    [rec], _ = read_all(folder)
    assert rec["body"] == "תודה רבה על הראיון"


def test_cr_only_line_endings_read_in_an_mbox_and_an_eml(tmp_path):
    one = raw("Old Mac", b"Line one\r\nLine two\r\n", mid="<mac1@x>").replace(b"\r\n", b"\r")
    folder = eml_folder(tmp_path, {"mac.eml": one})
    [rec], _ = read_all(folder)
    assert rec["subject"] == "Old Mac" and rec["body"] == "Line one\nLine two"
    box = tmp_path / "mac.mbox"
    box.write_bytes(
        b"From chloe Tue Nov 10 10:00:00 2026\r" + one + b"\r\rFrom chloe Tue Nov 10 11:00:00 2026\r"
        + raw("Second", b"Two\r\n", mid="<mac2@x>").replace(b"\r\n", b"\r")
    )  # fmt: skip
    records, stats = read_all(box)
    assert [r["subject"] for r in records] == ["Old Mac", "Second"] and not stats.skipped


def test_a_from_line_date_stands_in_for_a_missing_date_header(tmp_path):
    data = raw("No date", b"Hello", mid="<nd@x>").replace(b"Date: Tue, 10 Nov 2026 10:00:00 +0000\r\n", b"")
    box = tmp_path / "takeout.mbox"
    # Gmail Takeout's From_ line carries a zone before the year.
    box.write_bytes(b"From 1783457198347@xxx Thu Nov 12 09:30:00 +0000 2026\n" + data.replace(b"\r\n", b"\n"))
    [rec], _ = read_all(box)
    assert rec["date"] == dt.date(2026, 11, 12)


def test_a_missing_closing_boundary_keeps_what_is_there(tmp_path):
    data = (
        b"From: chloe.adams@northwind.example\nTo: maya.lindqvist@example.com\nSubject: Offer\n"
        b"Date: Tue, 10 Nov 2026 10:00:00 +0000\nMessage-ID: <cut@x>\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="BB"\n\n--BB\nContent-Type: text/plain\n\nThe letter is attached.\n'
        b"--BB\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0x"
    )
    [rec], stats = read_all(eml_folder(tmp_path, {"cut.eml": data}))
    assert rec["body"] == "The letter is attached." and "closing boundary" in rec["note"] and not stats.skipped


def nested(depth: int) -> bytes:
    head = b"From: a@northwind.example\nTo: maya.lindqvist@example.com\nSubject: deep\nMessage-ID: <deep@x>\n"
    head += b"Date: Tue, 10 Nov 2026 10:00:00 +0000\nMIME-Version: 1.0\n"
    parts = [b'Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n' % (i, i) for i in range(depth)]
    tail = b"".join(b"\n--b%d--\n" % i for i in reversed(range(depth)))
    return head + b"".join(parts) + b"Content-Type: text/plain\n\nhi\n" + tail


def test_mime_nested_a_thousand_deep_is_skipped_and_named_and_the_read_goes_on(tmp_path):
    folder = eml_folder(tmp_path, {"a-deep.eml": nested(1000), "b-fine.eml": raw("Fine", b"ok", mid="<ok@x>")})
    records, stats = read_all(folder)
    assert [r["subject"] for r in records] == ["Fine"]
    assert stats.skipped[TOO_DEEP] == 1
    assert any("a-deep.eml" in line and TOO_DEEP in line for line in stats.skipped_lines())
    # Real nesting (a forwarded message in a multipart/alternative) reads.
    (tmp_path / "real").mkdir()
    records, _ = read_all(eml_folder(tmp_path / "real", {"ok.eml": nested(4)}))
    assert records[0]["body"] == "hi"


def test_the_size_limit_is_enforced_while_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(mb, "MAX_MESSAGE_BYTES", 20_000)
    big = raw("Big", b"x" * 200_000, mid="<big@x>").replace(b"\r\n", b"\n")
    small = raw("Small", b"ok", mid="<small@x>").replace(b"\r\n", b"\n")
    path = tmp_path / "box.mbox"
    path.write_bytes(b"From a Tue Nov 10 10:00:00 2026\n" + big + b"\n\nFrom b Tue Nov 10 10:00:00 2026\n" + small)
    records, stats = read_all(path)
    assert [r["subject"] for r in records] == ["Small"]
    assert stats.skipped[TOO_LARGE] == 1 and stats.skipped_lines() == [f"skipped message 1: {TOO_LARGE}"]
    # A Maildir and an .eml folder hold the same limit, checked on the open file.
    folder = eml_folder(tmp_path, {"big.eml": big, "small.eml": small})
    records, stats = read_all(folder)
    assert [r["subject"] for r in records] == ["Small"] and stats.skipped[TOO_LARGE] == 1


def maildir_with(tmp_path, good: EmailMessage):
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    box.add(good)
    box.close()
    return tmp_path / "Maildir"


def good_message() -> EmailMessage:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "chloe.adams@northwind.example", "maya.lindqvist@example.com", "Good"
    m["Date"], m["Message-ID"] = "Tue, 10 Nov 2026 10:00:00 +0000", "<good@x>"
    m.set_content("Fine.")
    return m


@pytest.mark.skipif(sys.platform == "win32", reason="FIFOs and /dev/zero are POSIX")
def test_maildir_entries_are_checked_as_regular_files(tmp_path):
    folder = maildir_with(tmp_path, good_message())
    os.mkfifo(folder / "cur" / "1700000000.fifo:2,S")  # would hang a plain read
    os.symlink("/dev/zero", folder / "cur" / "1700000001.zero:2,S")  # would fill memory
    os.symlink(folder / "cur" / "loop-b", folder / "cur" / "loop-a")
    os.symlink(folder / "cur" / "loop-a", folder / "cur" / "loop-b")
    records, stats = read_all(folder)
    assert [r["subject"] for r in records] == ["Good"]
    assert stats.skipped[NOT_A_FILE] == 2 and stats.skipped[UNREADABLE] == 2
    named = "\n".join(stats.skipped_lines())
    assert "1700000000.fifo" in named and "1700000001.zero" in named and "loop-a" in named


def test_a_far_future_date_is_refused_for_that_message_only(tmp_path):
    folder = eml_folder(
        tmp_path,
        {"a.eml": raw("Year 2263", b"x", mid="<f1@x>", date="Mon, 01 Jan 2263 10:00:00 +0000"),
         "b.eml": raw("Year 2099", b"x", mid="<f2@x>", date="Thu, 01 Jan 2099 10:00:00 +0000"),
         "c.eml": raw("Today", b"x", mid="<f3@x>")},
    )  # fmt: skip
    records, stats = read_all(folder)
    assert [r["subject"] for r in records] == ["Today"]
    assert stats.skipped[FUTURE] == 2
    named = stats.skipped_lines()
    assert f"skipped a.eml: {FUTURE} (2263-01-01)" in named and f"skipped b.eml: {FUTURE} (2099-01-01)" in named


def test_one_broken_message_is_named_with_its_message_id_and_the_read_goes_on(tmp_path, monkeypatch):
    def broken(data):
        if b"<boom@x>" in data:
            raise ValueError("a parser bug")
        return real(data)

    real = mb.body_parts
    monkeypatch.setattr(mb, "body_parts", broken)
    folder = eml_folder(
        tmp_path, {"a.eml": raw("Boom", b"x", mid="<boom@x>"), "b.eml": raw("Fine", b"ok", mid="<k@x>")}
    )
    records, stats = read_all(folder)
    assert [r["subject"] for r in records] == ["Fine"]
    assert stats.skipped_lines() == ["skipped a.eml <boom@x>: could not be read (ValueError: a parser bug)"]


def test_formats_maildir_plus_plus_mbsync_apple_mail_thunderbird(tmp_path):
    def msg(mid: str) -> EmailMessage:
        m = good_message()
        m.replace_header("Message-ID", mid)
        return m

    # Maildir++: the Sent folder is .Sent/ inside the Maildir.
    root = tmp_path / "Maildir"
    box = mailbox.Maildir(root, create=True)
    box.add(msg("<inbox@x>"))
    box.add_folder("Sent").add(msg("<sent@x>"))
    box.close()
    assert {r["message_id"] for r in read_all(root)[0]} == {"<inbox@x>", "<sent@x>"}
    # mbsync / offlineimap: a tree of Maildirs with no Maildir at its root.
    tree = tmp_path / "mbsync"
    for name in ("INBOX", "Sent", "Archive/2026"):
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        b = mailbox.Maildir(tree / name, create=True)
        b.add(msg(f"<{name.replace('/', '-')}@x>"))
        b.close()
    box = open_mailbox(tree, today=TODAY)
    assert box.kind == "Maildir (3 folders)" and len(list(box.records())) == 3
    # Apple Mail's export: Inbox.mbox/ folders holding a file named mbox.
    apple = tmp_path / "Apple"
    for name in ("Inbox.mbox", "Sent Messages.mbox"):
        (apple / name).mkdir(parents=True)
        m = mailbox.mbox(apple / name / "mbox")
        m.add(msg(f"<{name[:4]}@x>"))
        m.close()
        (apple / name / "Info.plist").write_text("<plist/>")
    assert len(read_all(apple)[0]) == 2
    assert len(read_all(apple / "Inbox.mbox")[0]) == 1
    # A Thunderbird profile: mbox files without a suffix beside their .msf index.
    tb = tmp_path / "Mail" / "Local Folders"
    tb.mkdir(parents=True)
    for name in ("Inbox", "Sent"):
        m = mailbox.mbox(tb / name)
        m.add(msg(f"<tb-{name}@x>"))
        m.close()
        (tb / f"{name}.msf").write_text("// index")
    assert {r["message_id"] for r in read_all(tmp_path / "Mail")[0]} == {"<tb-Inbox@x>", "<tb-Sent@x>"}


@pytest.mark.parametrize(("suffix", "how"), [(".msg", "msgconvert"), (".pst", "readpst -r")])
def test_outlook_files_are_refused_with_how_to_convert(tmp_path, suffix, how):
    path = tmp_path / f"Inbox{suffix}"
    path.write_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 100)
    with pytest.raises(UserError, match=how):
        open_mailbox(path)
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / path.name).write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(UserError, match=how):
        open_mailbox(folder)
