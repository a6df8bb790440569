"""The working session's Mail tab: proposals from the client's mailbox, a checkbox
each, one button to log the checked ones (on the state, and through the widgets)."""

from __future__ import annotations

import mailbox
from email.message import EmailMessage

import pytest

from followup_lib.errors import UserError
from followup_lib.faces.session import WorkingSession
from followup_lib.faces.session_state import SessionState

from builders import AS_OF


def reply(frm: str, subject: str, day: str, mid: str) -> EmailMessage:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = frm, "maya.lindqvist@example.com", subject
    m["Date"], m["Message-ID"] = f"{day} 09:00:00 +0000", mid
    m.set_content("Thanks for checking in. We will decide soon.")
    return m


@pytest.fixture
def mbox(tmp_path, monkeypatch):
    # The Mail tab reads only inside the folders the settings name.
    settings = tmp_path / "settings.toml"
    settings.write_text(f'[defaults]\nmail_folders = "{tmp_path}"\n')
    monkeypatch.setenv("FOLLOWUP_SETTINGS", str(settings))
    path = tmp_path / "maya.mbox"
    box = mailbox.mbox(path)
    box.add(reply("Chloe Adams <chloe.adams@northwind.example>", "Re: where things stand", "Tue, 17 Nov 2026", "<a@n>"))
    box.add(reply("Elena Voss <elena.voss@harborhealth.example>", "Thanks", "Tue, 17 Nov 2026", "<b@h>"))
    box.add(reply("news@jobs.example", "10 tips", "Tue, 17 Nov 2026", "<c@j>"))
    box.flush()
    box.close()
    return path


def received(store) -> int:
    m = store.load(["messages"])["messages"]
    return int(m["direction"].eq("received").sum())


def test_the_state_proposes_then_logs_only_what_is_picked(demo_store, mbox):
    s = SessionState(demo_store.url, "C001", AS_OF)
    try:
        before = received(demo_store)
        options = s.read_mail(str(mbox))
        assert len(options) == 2 and received(demo_store) == before  # nothing written yet
        assert any("Northwind" in label for label, _ in options)
        northwind = next(i for label, i in options if "Northwind" in label)
        assert s.log_mail([northwind]).startswith("Logged 1 message")
        assert received(demo_store) == before + 1
        # Reading again: the logged one is no longer proposed.
        assert len(s.read_mail(str(mbox))) == 1
        with pytest.raises(UserError, match="Tick"):
            s.log_mail([])
        with pytest.raises(UserError, match="Name the mailbox"):
            s.read_mail("  ")
    finally:
        s.close()


def test_the_tab_reads_ticks_and_logs(demo_store, mbox):
    session = WorkingSession(demo_store.url, "C001", AS_OF)
    try:
        before = received(demo_store)
        session.mail_path.value = str(mbox)
        session.mail_read.click()
        boxes = session.mail_list.children
        assert len(boxes) == 2 and all(b.value for b in boxes)
        boxes[1].value = False  # untick one
        session.mail_log.click()
        assert "Logged 1 message" in session.mail_status.value
        assert received(demo_store) == before + 1 and session.mail_list.children == ()
        # A mailbox that is not one is a message, not a traceback.
        session.mail_path.value = str(mbox.parent / "nothing-here.mbox")
        session.mail_read.click()
        assert "fw-error" in session.mail_status.value
    finally:
        session.state.close()


def test_the_tab_shows_sender_and_reason_leaves_auto_replies_unticked_and_picks_ambiguous(demo_store, mbox):
    path = mbox.parent / "mixed.mbox"  # inside the mail folder the settings name
    box = mailbox.mbox(path)
    box.add(reply("Chloe Adams <chloe.adams@northwind.example>", "Next steps", "Tue, 17 Nov 2026", "<n@n>"))
    ooo = reply("Elena Voss <elena.voss@harborhealth.example>", "Automatic reply: Thanks", "Tue, 17 Nov 2026", "<o@h>")
    ooo["Auto-Submitted"] = "auto-replied"
    box.add(ooo)
    # Tom is given to three open applications: the user picks one.
    box.add(reply("Tom Becker <tom.becker@example.org>", "Got a call", "Tue, 17 Nov 2026", "<t@x>"))
    box.close()
    session = WorkingSession(demo_store.url, "C001", AS_OF)
    try:
        before = received(demo_store)
        session.mail_path.value = str(path)
        session.mail_read.click()
        rows = session.mail.rows
        labels = [box.description for box, _ in rows]
        assert len(rows) == 3
        assert "Chloe Adams <chloe.adams@northwind.example>" in labels[0] and "Northwind Analytics" in labels[0]
        assert "from Chloe Adams" in labels[0]  # the reason
        assert [box.value for box, _ in rows] == [True, False, False]  # the auto-reply and the ambiguous unticked
        assert "Auto-Submitted" in labels[1]
        tom_box, picker = rows[2]
        assert picker is not None and {v for _, v in picker.options} == {None, "A001", "A002", "A003"}
        tom_box.value = True
        session.mail_log.click()
        assert "Pick the application" in session.mail_status.value and received(demo_store) == before
        picker.value = "A002"
        session.mail_log.click()
        assert "Logged 2 messages" in session.mail_status.value
        assert received(demo_store) == before + 2
        m = demo_store.load(["messages"])["messages"]
        assert m.loc[m["message_ref"] == "<t@x>", "application_id"].tolist() == ["A002"]
    finally:
        session.state.close()
