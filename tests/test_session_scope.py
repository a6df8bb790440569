"""Whose rows a session may write: the client's app (`followup app --client`) and a
coach's session (`--coach`) hold on the server side, in ``SessionState.save_form``
itself, whatever a form's values say (the dropdowns offer only the coachee's own
rows, but values can come from anywhere: a crafted widget message, a stale page).

Every form and every link is tried with another coachee's id, and every table
with an id of its own is tried with an id another coachee's row already has.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from followup_lib.errors import ConflictError, UserError
from followup_lib.faces import session as session_module
from followup_lib.faces.session import FORMS, WorkingSession
from followup_lib.faces.session_state import SessionState
from followup_lib.schema import TABLES

from builders import AS_OF

# Jordan Okafor's (C002) rows, while the session works on Maya Lindqvist (C001).
FOREIGN = {"applications": "A005", "interviews": "I006", "contacts": "K004", "references": "R003"}
# Maya's own, to show the same form saves when its ids are hers.
OWN = {"applications": "A003", "interviews": "I004", "contacts": "K001", "references": "R002"}
# A record of each table that saves for Maya (the links filled from OWN).
VALID = {
    "applications": dict(company="Lakeside Data", role="Analyst"),
    "interviews": dict(application_id="A003", held_on=AS_OF, interviewer_name="Noor Haddad"),
    "interview_contacts": dict(interview_id="I004", contact_id="K001"),
    "contacts": dict(application_id="A003", name="Ines Duarte"),
    "messages": dict(application_id="A003", on=AS_OF, direction="received", kind="update"),
    "promises": dict(application_id="A003", what="a sample dashboard", due_on=AS_OF),
    "reference_uses": dict(reference_id="R002", application_id="A003"),
    "offers": dict(application_id="A003", verbal_on=AS_OF),
    "references": dict(name="Lena Park"),
}
MODES = {
    "client": dict(client=True),
    "coach": dict(coach="Dana Reyes"),
    "whole store": {},
}


def open_state(url: str, mode: str, tmp_path) -> SessionState:
    return SessionState(url, "C001", AS_OF, drafts_dir=tmp_path / "drafts", **MODES[mode])


@pytest.fixture(params=list(MODES))
def mode(request):
    return request.param


def link_cases():
    """(table, column, target table) for every link a form can hold to another coachee's rows."""
    for table in VALID:
        for c in TABLES[table].columns:
            if c.links_to and c.links_to[0] in FOREIGN:
                yield table, c.name, c.links_to[0]


def full_record(state: SessionState, table: str, **changes) -> dict:
    return {**state.new_record(table), **VALID[table], **changes}


@pytest.mark.parametrize("table, column, target", list(link_cases()))
def test_every_link_to_another_coachees_row_is_refused(demo_store, tmp_path, mode, table, column, target):
    state = open_state(demo_store.url, mode, tmp_path)
    try:
        before = demo_store.load()
        with pytest.raises(UserError, match="not one of this coachee's") as refused:
            state.save_form(table, full_record(state, table, **{column: FOREIGN[target]}))
        assert "C002" not in str(refused.value) and "Jordan" not in str(refused.value)
        for name, df in before.items():
            pd.testing.assert_frame_equal(df, demo_store.load([name])[name], obj=name)
    finally:
        state.close()


@pytest.mark.parametrize("table, column, target", list(link_cases()))
def test_the_same_link_to_the_coachees_own_row_is_accepted_by_the_scope(demo_store, tmp_path, table, column, target):
    # The control: the scope check lets Maya's own ids through (the save may still
    # be refused for another reason, such as a record that already exists).
    state = open_state(demo_store.url, "client", tmp_path)
    try:
        state._check_scope(table, full_record(state, table, **{column: OWN[target]}))
    finally:
        state.close()


def own_id_tables():
    return [t for t in VALID if len(TABLES[t].key) == 1 and not TABLES[t].column(TABLES[t].key[0]).links_to]


@pytest.mark.parametrize("table", own_id_tables())
def test_an_id_another_coachees_row_has_is_refused_not_overwritten(demo_store, tmp_path, mode, table):
    key = TABLES[table].key[0]
    theirs = demo_store.load([table], coachee_id="C002")[table][key].iloc[0]
    state = open_state(demo_store.url, mode, tmp_path)
    try:
        before = demo_store.load([table])[table]
        with pytest.raises(ConflictError, match="already taken"):
            state.save_form(table, full_record(state, table, **{key: theirs}))
        pd.testing.assert_frame_equal(before, demo_store.load([table])[table])
        # The same record with the id the form offered is saved, for Maya.
        saved = state.save_form(table, full_record(state, table))
        assert saved[key] not in set(before[key])
    finally:
        state.close()


def test_a_client_adds_no_coachee_and_changes_none(demo_store, tmp_path):
    state = open_state(demo_store.url, "client", tmp_path)
    try:
        before = demo_store.load(["coachees"])["coachees"]
        new = {**state.new_record("coachees"), "name": "Someone New"}
        with pytest.raises(UserError, match="cannot add or change a coachee"):
            state.save_form("coachees", new)
        own = state.record("coachees", ("C001",))
        with pytest.raises(UserError, match="cannot add or change a coachee"):
            state.save_form("coachees", {**own, "coach": "Someone Else"}, ("C001",), 1)
        pd.testing.assert_frame_equal(before, demo_store.load(["coachees"])["coachees"])
        assert state.coachee_ids() == ["C001"]
        with pytest.raises(UserError, match="reads no mailbox"):
            state.read_mail(str(tmp_path))
        with pytest.raises(UserError, match="reads no mailbox"):
            state.log_mail([0])
    finally:
        state.close()


def test_a_client_session_can_still_log_its_own_work(demo_store, tmp_path):
    state = open_state(demo_store.url, "client", tmp_path)
    try:
        saved = state.save_form("messages", full_record(state, "messages", summary="They will decide Friday"))
        assert demo_store.row("messages", {"message_id": saved["message_id"]})["application_id"] == "A003"
    finally:
        state.close()


def test_a_coach_cannot_write_on_another_coachs_application(demo_store, tmp_path):
    # Issue 22: save_form accepted interviews, messages and reference uses on another
    # coach's application; only the app's dropdowns stopped it.
    coachees = demo_store.load(["coachees"])["coachees"]
    coachees.loc[coachees["coachee_id"].eq("C002"), "coach"] = "Alex Kim"
    demo_store.upsert({"coachees": coachees[coachees["coachee_id"].eq("C002")]})
    state = SessionState(demo_store.url, "C001", AS_OF, coach="Dana Reyes")
    try:
        assert "C002" not in state.coachee_ids()
        before = demo_store.load()
        for table, values in [
            ("interviews", dict(application_id="A005", held_on=AS_OF, interviewer_name="X")),
            ("messages", dict(application_id="A005", on=AS_OF, direction="received")),
            ("reference_uses", dict(reference_id="R002", application_id="A005")),
        ]:
            with pytest.raises(UserError, match="not one of this coachee's"):
                state.save_form(table, {**state.new_record(table), **values})
        for name, df in before.items():
            pd.testing.assert_frame_equal(df, demo_store.load([name])[name], obj=name)
    finally:
        state.close()


def test_the_client_page_offers_no_coachee_form_and_no_mail(demo_store, tmp_path, monkeypatch):
    monkeypatch.setattr(session_module, "display", lambda *a, **k: None)
    client = WorkingSession(demo_store.url, "C001", AS_OF, drafts_dir=tmp_path, client=True)
    coach = WorkingSession(demo_store.url, "C001", AS_OF, drafts_dir=tmp_path)
    try:
        assert "coachees" not in client.forms and "Coachee" not in client.form_tabs.titles
        assert "Mail" not in client.form_tabs.titles and client.picker.layout.display == "none"
        assert "coachees" in coach.forms and {"Coachee", "Mail"} <= set(coach.form_tabs.titles)
        # Tab titles are whole words, each once.
        assert len(set(coach.form_tabs.titles)) == len(coach.form_tabs.titles) == len(FORMS) + 2  # Mail, the sheet
        assert "Bring a spreadsheet" in coach.form_tabs.titles and "Bring a spreadsheet" not in client.form_tabs.titles
    finally:
        client.state.close()
        coach.state.close()


def test_a_message_form_sent_through_the_widgets_with_a_foreign_id_writes_nothing(demo_store, tmp_path, monkeypatch):
    # A value no dropdown offers (set as a crafted widget message would set it).
    monkeypatch.setattr(session_module, "display", lambda *a, **k: None)
    view = WorkingSession(demo_store.url, "C001", AS_OF, drafts_dir=tmp_path, client=True)
    try:
        form = view.forms["messages"]
        before = demo_store.load(["messages"])["messages"]
        form.fields["application_id"].options = [*form.fields["application_id"].options, ("x", "A005")]
        form.fields["application_id"].value = "A005"
        form.fields["on"].value = dt.date(2026, 11, 16)
        form.save.click()
        assert "fw-error" in form.status.value and "not one of this coachee" in form.status.value
        pd.testing.assert_frame_equal(before, demo_store.load(["messages"])["messages"])
    finally:
        view.state.close()
