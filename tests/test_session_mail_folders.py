"""The Mail tab reads only inside the folders a coach configured (``mail_folders``)
and never follows a symlink out of them (issue 22: it read any server path,
recursively)."""

from __future__ import annotations

import mailbox
import os
from email.message import EmailMessage

import pytest

from followup_lib.errors import UserError
from followup_lib.faces.session_state import SessionState

from builders import AS_OF


def write_mbox(path, subject="Re: where things stand"):
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = (
        "Chloe Adams <chloe.adams@northwind.example>",
        "maya.lindqvist@example.com",
        subject,
    )
    m["Date"], m["Message-ID"] = "Tue, 17 Nov 2026 09:00:00 +0000", "<a@n>"
    m.set_content("Thanks for checking in.")
    box = mailbox.mbox(path)
    box.add(m)
    box.flush()
    box.close()


@pytest.fixture
def folders(tmp_path, monkeypatch):
    inside, outside = tmp_path / "exports", tmp_path / "elsewhere"
    inside.mkdir()
    outside.mkdir()
    settings = tmp_path / "settings.toml"
    settings.write_text(f'[defaults]\nmail_folders = "{inside}"\n\n[coach."Alex Kim"]\nmail_folders = "{outside}"\n')
    monkeypatch.setenv("FOLLOWUP_SETTINGS", str(settings))
    return inside, outside


@pytest.fixture
def state(demo_store, folders):
    s = SessionState(demo_store.url, "C001", AS_OF)
    yield s
    s.close()


def test_a_mailbox_inside_the_folder_is_read(state, folders):
    inside, _ = folders
    write_mbox(inside / "maya.mbox")
    assert len(state.read_mail(str(inside / "maya.mbox"))) == 1
    assert len(state.read_mail("maya.mbox")) == 1  # a name alone: in the first folder


@pytest.mark.parametrize("where", ["outside", "parent", "dotdot"])
def test_a_path_outside_the_folders_is_refused_before_anything_is_read(state, folders, where):
    inside, outside = folders
    write_mbox(outside / "other.mbox")
    typed = {
        "outside": str(outside / "other.mbox"),
        "parent": str(inside.parent),
        "dotdot": str(inside / ".." / "elsewhere" / "other.mbox"),
    }[where]
    with pytest.raises(UserError, match="is not inside a mail folder"):
        state.read_mail(typed)
    assert state.mail_proposals == []


def test_a_symlink_out_of_the_folder_is_not_followed(state, folders):
    inside, outside = folders
    write_mbox(outside / "other.mbox")
    os.symlink(outside / "other.mbox", inside / "link.mbox")
    with pytest.raises(UserError, match="is not inside a mail folder"):
        state.read_mail(str(inside / "link.mbox"))
    box = inside / "box"
    box.mkdir()
    (outside / "secret.eml").write_bytes(b"From: a@b\nSubject: salary\n\n150k\n")
    os.symlink(outside / "secret.eml", box / "secret.eml")
    with pytest.raises(UserError, match="links outside the mail folders"):
        state.read_mail(str(box))
    # A link that stays inside is fine.
    os.remove(box / "secret.eml")
    write_mbox(inside / "maya.mbox")
    os.symlink(inside / "maya.mbox", inside / "again.mbox")
    assert len(state.read_mail(str(inside / "again.mbox"))) == 1


def test_each_coach_has_their_own_folders(demo_store, folders):
    inside, outside = folders
    coachees = demo_store.load(["coachees"])["coachees"]
    coachees.loc[coachees["coachee_id"].eq("C001"), "coach"] = "Alex Kim"
    demo_store.upsert({"coachees": coachees[coachees["coachee_id"].eq("C001")]})
    s = SessionState(demo_store.url, "C001", AS_OF)
    try:
        assert s.mail_folders() == [outside.resolve()]
        write_mbox(inside / "maya.mbox")
        with pytest.raises(UserError, match="is not inside a mail folder"):
            s.read_mail(str(inside / "maya.mbox"))
    finally:
        s.close()


def test_no_folder_configured_reads_nothing(demo_store, tmp_path, monkeypatch):
    monkeypatch.setenv("FOLLOWUP_SETTINGS", str(tmp_path / "none.toml"))
    s = SessionState(demo_store.url, "C001", AS_OF)
    try:
        with pytest.raises(UserError, match="No mail folder is set up"):
            s.read_mail("/")
    finally:
        s.close()
