"""`followup mail PATH --coachee ID [--apply]`: replies and sent mail read from an
exported mailbox (mbox, Maildir, a folder of .eml files), proposed, and logged only
when asked, once.

Mailboxes are written with the standard library's ``mailbox`` and ``email``
packages; ``followup`` runs in this process against a real SQLite file loaded with
the demo practice (its today: 2026-11-16); the store is read back with sqlite3.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import gzip
import json
import mailbox
import sqlite3
from email.message import EmailMessage
from pathlib import Path

import pytest

from followup_lib.data.mailbox import CUT_SHORT, apply_mail, html_to_text, open_mailbox
from followup_lib.data.store import open_store
from followup_lib.errors import UserError
from followup_lib.logic.drafts import ACTIONS_HEADER, decode_action_ids
from followup_lib.logic.mail_match import mail_message_id

from builders import copy_sqlite, data_contents, db_path, run_main

DAY = "2026-11-16"
MAYA = "Maya Lindqvist <maya.lindqvist@example.com>"


@pytest.fixture
def store(tmp_path, demo_once_file):
    """The demo (unshifted) in a store of its own: a copy of the one loaded once this run."""
    copy_sqlite(demo_once_file, tmp_path / "followup.db")
    s = open_store(f"sqlite:///{tmp_path / 'followup.db'}")
    yield s
    s.engine.dispose()


def mail(
    frm: str,
    to: str,
    subject: str,
    body: str = "Thank you for your time.",
    date: str = "Tue, 10 Nov 2026 10:00:00 +0000",
    msgid: str | None = None,
    html: str | None = None,
    attachment: bytes | None = None,
    **headers: str,
) -> EmailMessage:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"], m["Date"] = frm, to, subject, date
    m["Message-ID"] = msgid or email.utils.make_msgid(domain="mail.example")
    for k, v in headers.items():
        m[k.replace("_", "-")] = v
    if body is not None:
        m.set_content(body)
        if html is not None:
            m.add_alternative(html, subtype="html")
    elif html is not None:
        m.set_content(html, subtype="html")
    if attachment is not None:
        m.add_attachment(attachment, maintype="application", subtype="pdf", filename="offer.pdf")
    return m


def basic_messages() -> list[EmailMessage]:
    return [
        mail("Priya Natarajan <priya.natarajan@northwind.example>", MAYA, "Next steps", "We will be in touch.",
             msgid="<priya-1@northwind.example>"),
        mail(MAYA, "Marcus Hale <marcus.hale@bluefin.example>", "Following up", "Any news?",
             date="Wed, 11 Nov 2026 09:00:00 +0000", msgid="<maya-1@example.com>"),
        mail("Ana Ruiz <ana.ruiz@example.org>", MAYA, "Re: reference", "Harbor Health called me today.",
             date="Fri, 13 Nov 2026 18:30:00 +0000", msgid="<ana-1@example.org>"),
        mail("News <news@shop.example>", MAYA, "50% off", "Buy now", msgid="<promo-1@shop.example>"),
    ]  # fmt: skip


def write_mbox(path: Path, messages) -> Path:
    box = mailbox.mbox(path)
    for m in messages:
        box.add(m)
    box.flush()
    box.close()
    return path


def write_maildir(path: Path, messages) -> Path:
    box = mailbox.Maildir(path, create=True)
    for m in messages:
        box.add(m)
    box.close()
    return path


def write_eml_folder(path: Path, messages) -> Path:
    path.mkdir()
    for n, m in enumerate(messages):
        (path / f"{n:03}.eml").write_bytes(m.as_bytes())
    return path


WRITERS = {"mbox": write_mbox, "Maildir": write_maildir, "eml": write_eml_folder}


def mail_cmd(capsys, monkeypatch, store, path, *extra, check=True):
    return run_main(capsys, monkeypatch, "mail", str(path), "--coachee", "C001", *extra, db=store.url, check=check)


def mail_rows(store) -> dict[str, dict]:
    conn = sqlite3.connect(db_path(store))
    conn.row_factory = sqlite3.Row
    try:
        rows = conn.execute("SELECT * FROM messages WHERE message_id LIKE 'mail-%'").fetchall()
    finally:
        conn.close()
    return {r["message_id"]: dict(r) for r in rows}


# ------------------------------------------------------------------ formats


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_each_format_is_proposed_and_nothing_is_written(tmp_path, store, capsys, monkeypatch, fmt):
    path = WRITERS[fmt](tmp_path / f"box-{fmt}", basic_messages())
    before = data_contents(store)
    ran = mail_cmd(capsys, monkeypatch, store, path)
    assert data_contents(store) == before
    out = ran.stdout
    assert "read 4 messages" in out and "3 new" in out and "1 ignored" in out
    assert "received   Northwind Analytics (A001)" in out
    assert "sent       Bluefin Logistics (A002)" in out
    assert "Harbor Health (A003)" in out and "reference Ana Ruiz" in out
    assert "contacted_on" in out  # suggested for the reference, never set
    assert "50% off" not in out  # the rest of the mailbox is not shown, nor kept
    assert "nothing was written" in out


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_apply_logs_once_keyed_by_message_id(tmp_path, store, capsys, monkeypatch, fmt):
    path = WRITERS[fmt](tmp_path / f"box-{fmt}", basic_messages())
    ran = mail_cmd(capsys, monkeypatch, store, path, "--apply")
    assert "logged 3 messages" in ran.stdout
    rows = mail_rows(store)
    priya = rows[mail_message_id("<priya-1@northwind.example>", "C001")]
    assert (priya["application_id"], priya["direction"], priya["on"]) == ("A001", "received", "2026-11-10")
    assert priya["summary"] == "Next steps" and priya["body"] == "We will be in touch."
    assert priya["next_step_by"] is None  # never read from the text
    sent = rows[mail_message_id("<maya-1@example.com>", "C001")]
    assert (sent["application_id"], sent["direction"]) == ("A002", "sent")
    ana = rows[mail_message_id("<ana-1@example.org>", "C001")]
    assert (ana["application_id"], ana["reference_id"], ana["direction"]) == ("A003", "R002", "received")
    conn = sqlite3.connect(db_path(store))
    assert conn.execute("SELECT contacted_on FROM reference_uses WHERE reference_id='R002'").fetchone() == (None,)
    conn.close()

    before = data_contents(store)
    again = mail_cmd(capsys, monkeypatch, store, path, "--apply")
    assert "logged 0 messages" in again.stdout and "3 already logged" in again.stdout
    assert data_contents(store) == before


def test_coach_edits_survive_a_second_import(tmp_path, store, capsys, monkeypatch):
    path = write_mbox(tmp_path / "box.mbox", basic_messages())
    mail_cmd(capsys, monkeypatch, store, path, "--apply")
    mid = mail_message_id("<priya-1@northwind.example>", "C001")
    conn = sqlite3.connect(db_path(store))
    with conn:
        conn.execute("UPDATE messages SET next_step_by='2026-12-04' WHERE message_id=?", (mid,))
    mail_cmd(capsys, monkeypatch, store, path, "--apply")
    assert conn.execute("SELECT next_step_by FROM messages WHERE message_id=?", (mid,)).fetchone() == ("2026-12-04",)
    conn.close()


def test_ambiguous_domain_and_other_coachees(tmp_path, store, capsys, monkeypatch):
    messages = [
        # Tom was given to Northwind, Bluefin and Harbor Health, all open: not guessed.
        mail("Tom Becker <tom.becker@example.org>", MAYA, "Got a call", msgid="<tom-1@example.org>"),
        # Someone new at Bluefin: matched by the domain of Marcus's address.
        mail("Recruiting <jobs@bluefin.example>", MAYA, "Scheduling", msgid="<bf-1@bluefin.example>"),
        # Jordan's (C002) employer: not Maya's, so ignored.
        mail("Dev Patel <dev.patel@atlasfreight.example>", MAYA, "Hello", msgid="<atlas-1@x.example>"),
        # A webmail stranger is not matched by domain.
        mail("Someone <someone@gmail.com>", MAYA, "Hi", msgid="<gm-1@gmail.com>"),
    ]
    path = write_mbox(tmp_path / "box.mbox", messages)
    ran = mail_cmd(capsys, monkeypatch, store, path, "--apply")
    assert (
        "AMBIGUOUS" in ran.stdout
        and "Northwind Analytics (A001) or Bluefin Logistics (A002) or Harbor Health (A003)" in ran.stdout
    )
    assert "of the domain of Bluefin Logistics" in ran.stdout
    assert "2 ignored" in ran.stdout
    assert set(mail_rows(store)) == {mail_message_id("<bf-1@bluefin.example>", "C001")}


# ------------------------------------------------------------------ hard mail


def test_gmail_style_multipart_with_attachment(tmp_path, store, capsys, monkeypatch):
    pdf = b"%PDF-1.4 SECRET-ATTACHMENT-BYTES"
    m = mail(
        "Chloe Adams <chloe.adams@northwind.example>",
        MAYA,
        "Your offer",
        "Please find the letter attached.",
        html="<p>Please find the <b>letter</b> attached.</p>",
        attachment=pdf,
        msgid="<chloe-1@northwind.example>",
        X_Gmail_Labels="Inbox,Important",
    )
    path = write_mbox(tmp_path / "All mail Including Spam and Trash.mbox", [m, *basic_messages()])
    mail_cmd(capsys, monkeypatch, store, path, "--apply")
    row = mail_rows(store)[mail_message_id("<chloe-1@northwind.example>", "C001")]
    assert row["body"] == "Please find the letter attached."
    assert row["contact_id"] == "K003"
    assert "SECRET" not in json.dumps(mail_rows(store))


def test_html_only_message_keeps_text_not_scripts(tmp_path, store, capsys, monkeypatch):
    html = (
        "<html><head><title>t</title><style>p{color:red}</style></head><body>"
        "<p>Dear Maya,</p><script>alert('x')</script><p>We would like to move you to the final&nbsp;round.</p>"
        "</body></html>"
    )
    m = mail("Elena Voss <elena.voss@harborhealth.example>", MAYA, "Final round", None, html=html, msgid="<ev@h>")
    path = write_mbox(tmp_path / "box.mbox", [m])
    mail_cmd(capsys, monkeypatch, store, path, "--apply")
    body = mail_rows(store)[mail_message_id("<ev@h>", "C001")]["body"]
    assert body == "Dear Maya,\n\nWe would like to move you to the final round."
    assert "alert" not in body and "color" not in body
    assert html_to_text("<div>a<script>b</script>c</div>") == "ac"


def test_non_utf8_headers(tmp_path, store, capsys, monkeypatch):
    raw = (
        b"From: =?x-unknown?q?J=E9r=F4me?= <marcus.hale@bluefin.example>\r\n"
        b"To: \xc9lise <maya.lindqvist@example.com>\r\n"
        b"Subject: Caf\xe9 =?iso-8859-1?q?r=E9sum=E9?=\r\n"
        b"Date: Fri, 13 Nov 2026 08:00:00 +0000\r\n"
        b"Message-ID: <latin@bluefin.example>\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\n\r\n"
        b"Bonjour, \xe0 bient\xf4t.\r\n"
    )
    folder = tmp_path / "emls"
    folder.mkdir()
    (folder / "latin.eml").write_bytes(raw)
    mail_cmd(capsys, monkeypatch, store, folder, "--apply")
    row = mail_rows(store)[mail_message_id("<latin@bluefin.example>", "C001")]
    assert row["summary"] == "Café résumé"
    assert row["body"] == "Bonjour, à bientôt."


def test_truncated_mbox_keeps_what_is_there_of_a_cut_multipart(tmp_path, store, capsys, monkeypatch):
    cut = mail(
        "Chloe Adams <chloe.adams@northwind.example>", MAYA, "Offer", "See attached.",
        attachment=b"x" * 5000, msgid="<cut@northwind.example>",
    )  # fmt: skip
    path = write_mbox(tmp_path / "box.mbox", [*basic_messages(), cut])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 3000])  # the download stopped inside the attachment
    ran = mail_cmd(capsys, monkeypatch, store, path, "--apply")
    # A multipart without its closing boundary is shown by every mail client: its text is kept.
    assert "what is there is kept" in ran.stdout
    assert mail_rows(store)[mail_message_id("<cut@northwind.example>", "C001")]["body"] == "See attached."
    assert len(mail_rows(store)) == 4

    # Cut inside the headers of the last message.
    path2 = write_mbox(tmp_path / "box2.mbox", [*basic_messages(), cut])
    data = path2.read_bytes()
    path2.write_bytes(data[: data.index(b"<cut@northwind.example>")])
    ran = mail_cmd(capsys, monkeypatch, store, path2)
    assert f"skipped 1 {CUT_SHORT}" in ran.stdout


def test_not_a_mailbox(tmp_path, store, capsys, monkeypatch):
    before = data_contents(store)
    csv = tmp_path / "applications.csv"
    csv.write_text("application_id,company\nA1,Acme\n")
    ran = mail_cmd(capsys, monkeypatch, store, csv, check=False)
    assert ran.returncode == 2 and "is not a mailbox" in ran.stderr
    gz = tmp_path / "mail.mbox.gz"
    gz.write_bytes(gzip.compress(b"From x\n"))
    ran = mail_cmd(capsys, monkeypatch, store, gz, check=False)
    assert ran.returncode == 2 and "compressed" in ran.stderr
    empty = tmp_path / "empty-folder"
    empty.mkdir()
    ran = mail_cmd(capsys, monkeypatch, store, empty, check=False)
    assert ran.returncode == 2 and "Maildir" in ran.stderr
    ran = mail_cmd(capsys, monkeypatch, store, tmp_path / "missing.mbox", check=False)
    assert ran.returncode == 2 and "does not exist" in ran.stderr
    with pytest.raises(UserError):
        open_mailbox(csv)
    # A folder of .eml files that are not emails: skipped with a count.
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "notes.eml").write_text("just some text\nno headers here\n")
    ran = mail_cmd(capsys, monkeypatch, store, junk)
    assert "skipped 1 not an email" in ran.stdout
    assert data_contents(store) == before


def test_unknown_coachee_is_refused(tmp_path, store, capsys, monkeypatch):
    path = write_mbox(tmp_path / "box.mbox", basic_messages())
    ran = run_main(capsys, monkeypatch, "mail", str(path), "--coachee", "C999", db=store.url)
    assert ran.returncode == 2 and "no coachee 'C999'" in ran.stderr


# ------------------------------------------------------------------ one transaction


def test_apply_is_one_transaction(store):
    before = data_contents(store)
    row = {
        "message_id": "mail-x",
        "application_id": "A001",
        "on": "2026-11-10",
        "direction": "received",
        "channel": "email",
        "kind": "update",
        "summary": "s",
        "body": "b",
    }

    def fails(in_transaction):
        in_transaction.upsert(
            {"messages": __import__("pandas").DataFrame([{**row, "message_id": "mail-y", "on": None}])}
        )
        raise UserError("stop")

    with pytest.raises(UserError):
        apply_mail(store, [row], fails)
    assert data_contents(store) == before
    assert apply_mail(store, [row]) == (1, [])
    assert apply_mail(store, [row]) == (0, [])


# ------------------------------------------------------------------ round trip


def due_ids(capsys, monkeypatch, store) -> set[str]:
    ran = run_main(
        capsys, monkeypatch, "due", "--coachee", "C001", "--as-of", DAY, "--format", "json", db=store.url, check=True
    )
    return {a["action_id"] for a in json.loads(ran.stdout)}


def test_round_trip_a_sent_draft_completes_its_actions(tmp_path, store, capsys, monkeypatch):
    out = tmp_path / "drafts"
    run_main(capsys, monkeypatch, "drafts", "--coachee", "C001", "--as-of", DAY, "--out", str(out), db=store.url,
             check=True)  # fmt: skip
    emls = sorted(out.glob("*.eml"))
    assert emls
    # The client sends each draft from their mail client: it keeps our headers and
    # gains a Date and a Message-ID; the mailbox is exported as an mbox.
    sent, covered = [], set()
    for n, p in enumerate(emls):
        m = email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        del m["X-Unsent"]
        if m["From"] is None:
            m["From"] = MAYA
        m["Date"] = "Mon, 16 Nov 2026 15:00:00 +0000"
        m["Message-ID"] = f"<sent-{n}@example.com>"
        covered |= set(decode_action_ids(str(m[ACTIONS_HEADER])))
        sent.append(m)
    path = write_mbox(tmp_path / "Sent.mbox", [*sent, *basic_messages()])
    assert covered <= due_ids(capsys, monkeypatch, store)

    before = data_contents(store)
    ran = mail_cmd(capsys, monkeypatch, store, path)
    assert ran.stdout.count("sent draft") == len(emls)
    assert data_contents(store) == before

    ran = mail_cmd(capsys, monkeypatch, store, path, "--apply")
    assert f"and {len(emls)} sent draft" in ran.stdout
    assert not covered & due_ids(capsys, monkeypatch, store)
    conn = sqlite3.connect(db_path(store))
    done = {r[0] for r in conn.execute("SELECT action_id FROM messages WHERE action_id IS NOT NULL")}
    conn.close()
    assert covered <= done

    before = data_contents(store)
    again = mail_cmd(capsys, monkeypatch, store, path, "--apply")
    assert "logged 0 messages and 0 sent drafts" in again.stdout
    assert data_contents(store) == before
