"""The working session: its behaviour on ``SessionState`` (no widgets), a few tests
of the widget view wired over it, and the logbook functions behind its buttons.

Every test runs against a real SQLite file (conftest's ``demo_store``). The view
tests click and type as a person would; ipywidgets swallows exceptions raised in
callbacks, so they assert on what the store holds and what the widgets show.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import html
import re
import subprocess
import sys

import pandas as pd
import pytest

from followup_lib.data.logbook import log_received, mark_sent, new_id, save_record
from followup_lib.data.validation import Problem
from followup_lib.errors import ConflictError, DraftError, FollowupError, UserError, ValidationError
from followup_lib.faces import session as session_module
from followup_lib.faces.session import WorkingSession, error_text
from followup_lib.faces.session_state import NO_COACHEES, SessionState
from followup_lib.logic.rules import due_actions
from followup_lib.paths import safe_name
from followup_lib.schema import TABLES

from builders import AS_OF

DAY = pd.Timestamp(AS_OF)


@pytest.fixture
def state(demo_store, tmp_path):
    s = SessionState(demo_store.url, "C001", AS_OF, drafts_dir=tmp_path / "drafts")
    yield s
    s.close()


def snapshot(store) -> dict[str, pd.DataFrame]:
    return store.load()


def assert_unchanged(before: dict, after: dict) -> None:
    for name, df in before.items():
        pd.testing.assert_frame_equal(df, after[name], obj=name)


def pick(state: SessionState, kind: str, **match) -> dict:
    """Pick the first listed action of ``kind`` (matching ``match``)."""
    for a in state.actions.to_dict("records"):
        if a["kind"] == kind and all(a.get(k) == v for k, v in match.items()):
            return state.pick_action(a["action_id"])
    raise AssertionError(f"no {kind} action {match} in {list(state.actions['action_id'])}")


def messages(store) -> pd.DataFrame:
    return store.load(["messages"])["messages"]


def applications_of(store, coachee_id: str) -> set[str]:
    return set(store.load(["applications"], coachee_id=coachee_id)["applications"]["application_id"])


def coachee_with(store, kind: str) -> str:
    """The first coachee with an action of ``kind`` today."""
    for cid in store.coachee_ids():
        if kind in set(due_actions(store.load(coachee_id=cid), AS_OF)["kind"]):
            return cid
    raise AssertionError(f"no coachee has a {kind} action")


# ------------------------------------------------------------------ who and when


def test_actions_listed_most_urgent_first_with_their_why(state, demo_store):
    expected = due_actions(demo_store.load(coachee_id="C001"), AS_OF)
    assert [v for _, v in state.action_options()] == list(expected["action_id"])
    assert list(state.actions["priority"]) == sorted(state.actions["priority"])
    assert state.actions["coachee_id"].eq("C001").all()
    first = expected.iloc[0]
    label = state.action_options()[0][0]
    assert label.startswith("OVERDUE") and first["recipient"] in label and first["company"] in label
    counts = expected["status"].value_counts()
    assert state.summary() == ", ".join(f"{counts.get(s, 0)} {s}" for s in ("overdue", "due", "upcoming"))
    assert state.summary() == "3 overdue, 6 due, 3 upcoming"  # the promise first: Chloe's inquiry waits a day
    # The most urgent is picked, with its why.
    assert state.action_id == first["action_id"] and state.action()["why"] == first["why"]
    thanks = pick(state, "thank_you_note", recipient="Elena Voss")
    assert state.action() == thanks
    assert "You interviewed with Elena Voss at Harbor Health on 13 Nov" in thanks["why"]
    promise = pick(state, "keep_promise", promise_id="P001")
    assert "a writing sample (the Q3 churn analysis)" in promise["why"]
    with pytest.raises(UserError, match="No action"):
        state.pick_action("nothing:like:this")


def test_another_coachee_and_another_day(state):
    pick(state, "thank_you_note")
    state.open_draft()
    state.select_coachee("C002")
    assert state.draft is None and state.draft_action is None  # nothing of Maya's stays open
    assert state.actions["coachee_id"].eq("C002").all() and len(state.actions)
    assert state.action()["coachee_id"] == "C002"
    apps = [v for _, v in state.link_options()["applications"]]
    assert set(apps) == {None} | applications_of(state.store, "C002")  # only Jordan's applications
    assert {"A005", "A006"} <= set(apps)
    state.select_coachee("C001")
    before = set(state.actions["action_id"])
    state.set_day(dt.date(2026, 11, 20))
    assert state.as_of == dt.date(2026, 11, 20)
    assert set(state.actions["action_id"]) != before
    upcoming = "".join(label for label, _ in state.action_options() if "UPCOMING" in label)
    assert "Keep promise" not in upcoming
    state.set_day(None)  # a date being typed: nothing changes
    assert state.as_of == dt.date(2026, 11, 20)


def test_an_unknown_coachee_is_refused_or_opens_on_the_first(demo_store, state):
    with pytest.raises(UserError, match="No coachee 'C404'"):
        state.select_coachee("C404")
    assert state.coachee_id == "C001"
    other = SessionState(demo_store.url, "C404", AS_OF)
    try:
        assert other.coachee_id == "C001" and "No coachee 'C404' in the store" in other.notice
    finally:
        other.close()


def test_an_empty_store_starts_with_the_first_coachee_saved(empty_store):
    s = SessionState(empty_store.url, None, AS_OF)
    try:
        assert s.coachee_id is None and s.summary() == NO_COACHEES and s.action_options() == []
        fresh = s.new_record("coachees")
        assert fresh["coachee_id"], "a blank form offers a fresh id"
        s.save_form("coachees", {**fresh, "name": "Noor Haddad"})
        assert empty_store.coachee_ids() == [s.coachee_id] == [fresh["coachee_id"]]
        assert s.summary() == "Nothing due."
        assert s.coachee_options() == [(f"Noor Haddad ({s.coachee_id})", s.coachee_id)]
    finally:
        s.close()


def test_refresh_shows_changes_made_elsewhere(state, demo_store):
    assert "status_inquiry" in set(state.actions["kind"])
    log_received(demo_store, "A001", AS_OF, summary="Priya: next week")  # another window
    save_record(demo_store, "coachees", dict(coachee_id="C009", name="Noor Haddad"))
    assert "status_inquiry" in set(state.actions["kind"])  # not read yet
    state.refresh()
    assert "status_inquiry" not in set(state.actions["kind"])
    assert "C009" in state.coachee_ids() and state.coachee_id == "C001"


# ------------------------------------------------------------------ drafts


def test_an_email_draft_opened_edited_and_saved_as_an_eml_file(state, tmp_path):
    pick(state, "thank_you_note", recipient="Elena Voss")
    draft = state.open_draft()
    assert state.draft is draft and state.draft_action["kind"] == "thank_you_note"
    assert (draft.channel, draft.to_name, draft.to_address) == (
        "email",
        "Elena Voss",
        "elena.voss@harborhealth.example",
    )
    assert "Reporting Analyst" in draft.subject and draft.body.startswith("Dear Elena")
    path = state.save_draft("Thank you, Elena", draft.body + "\n\nP.S. The wait-times report is attached.")
    assert path.parent == tmp_path / "drafts" / safe_name("C001") and list(path.parent.iterdir()) == [path]
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert msg["To"] == "Elena Voss <elena.voss@harborhealth.example>"
    assert msg["Subject"] == "Thank you, Elena"
    assert "P.S. The wait-times report is attached." in msg.get_content()


def test_a_phone_draft_is_a_call_script_saved_as_text(state):
    pick(state, "offer_checkin")
    draft = state.open_draft()
    assert (draft.channel, draft.to_name, draft.to_address) == ("phone", "Marcus Hale", "+1 555 0142")
    script = state.save_draft()
    assert script.suffix == ".txt"
    assert script.read_text(encoding="utf-8").startswith("Call Marcus Hale (Bluefin Logistics) on +1 555 0142")


def test_an_action_without_a_message_has_no_draft(state):
    state.select_coachee(coachee_with(state.store, "await_approval"))
    pick(state, "await_approval")
    with pytest.raises(UserError, match="needs no message"):
        state.open_draft()
    assert state.draft is None


@pytest.mark.parametrize(
    "kind, match, table, key, column",
    [
        ("thank_you_note", {"recipient": "Elena Voss"}, "interviews", {"interview_id": "I004"}, "thank_you_sent_on"),
        (
            "brief_references",
            {"reference_id": "R001"},
            "reference_uses",
            {"reference_id": "R001", "application_id": "A003"},
            "briefed_on",
        ),
        (
            "reference_checkin",
            {},
            "reference_uses",
            {"reference_id": "R001", "application_id": "A002"},
            "last_checkin_on",
        ),
        ("keep_promise", {"promise_id": "P001"}, "promises", {"promise_id": "P001"}, "done_on"),
        ("status_inquiry", {}, None, None, None),
    ],
)
def test_mark_sent_logs_the_message_and_the_action_disappears(state, demo_store, kind, match, table, key, column):
    action = pick(state, kind, **match)
    before = messages(demo_store)
    draft = state.open_draft()
    logged = state.mark_sent()
    assert str(logged) == f"Logged as sent ({logged.message_id}): {logged.what}." and draft.to_name in logged.what
    new = messages(demo_store)
    new = new[~new["message_id"].isin(before["message_id"])]
    # One draft per person per day: it may carry out more than this action, each logged.
    assert set(new["message_id"]) == set(logged.message_ids) and len(new) == len(draft.action_ids)
    assert set(new["action_id"]) == set(draft.action_ids) and action["action_id"] in draft.action_ids
    assert new["body"].eq(draft.body.strip()).all()  # the text sent, as stored (trimmed)
    m = new[new["action_id"].eq(action["action_id"])].iloc[0]
    assert (m["application_id"], m["direction"], m["kind"], m["on"]) == (action["application_id"], "sent", kind, DAY)
    assert m["channel"] == action["channel"]
    if table:
        assert demo_store.row(table, key)[column] == DAY
    assert action["action_id"] not in set(state.actions["action_id"])
    assert state.draft is None and state.action_id == state.actions["action_id"].iloc[0]


def test_draft_problems_are_raised_as_draft_errors(state, demo_store):
    # An interview whose interviewer left no email or phone: the thank-you cannot be drafted.
    save_record(
        demo_store,
        "interviews",
        dict(interview_id="I777", application_id="A001", held_on=AS_OF, interviewer_name="Noor Haddad"),
    )
    state.reload()
    pick(state, "thank_you_note", interview_id="I777")
    with pytest.raises(DraftError, match="email"):
        state.open_draft()
    assert state.draft is None
    before = snapshot(demo_store)
    for nothing_open in (state.mark_sent, state.save_draft):
        with pytest.raises(UserError, match="Open a draft first"):
            nothing_open()
    assert_unchanged(before, snapshot(demo_store))


def test_the_same_action_marked_sent_in_two_sessions_is_logged_once(demo_store):
    """The coach (JupyterLab) and the client (the app) both mark the same status
    inquiry sent: one message is logged, the second session is told."""
    coach, client = SessionState(demo_store.url, "C001", AS_OF), SessionState(demo_store.url, "C001", AS_OF)
    try:
        for s in (coach, client):
            inquiry = pick(s, "status_inquiry")
            s.open_draft()
        before = len(messages(demo_store))
        coach.mark_sent()
        with pytest.raises(ConflictError, match="already marked sent"):
            client.mark_sent()
        # Refused, and the client's list and draft refresh at once: the inquiry is gone.
        assert client.draft is None and inquiry["action_id"] not in set(client.actions["action_id"])
        assert len(messages(demo_store)) == before + 1
        assert messages(demo_store)["action_id"].eq(inquiry["action_id"]).sum() == 1
    finally:
        for s in (coach, client):
            s.close()


# ------------------------------------------------------------------ forms

FORM_CASES = {
    "applications": (
        dict(
            company="Lakeside Clinic",
            role="Data Analyst",
            status="active",
            applied_on=dt.date(2026, 11, 14),
            source="referral",
        ),
        dict(company="Lakeside Clinic", coachee_id="C001", status="active"),
    ),
    "interviews": (
        dict(
            application_id="A001",
            held_on=dt.date(2026, 11, 16),
            round="2",
            format="onsite",
            interviewer_name="Priya Natarajan",
            interviewer_email="priya.natarajan@northwind.example",
            preferred_channel="phone",
            next_step_by=dt.date(2026, 11, 20),
            final_round=True,
            topics="SQL depth; stakeholder reporting",
        ),
        dict(
            application_id="A001",
            preferred_channel="phone",
            final_round=True,
            next_step_by=pd.Timestamp("2026-11-20"),
            topics="SQL depth; stakeholder reporting",
        ),
    ),
    "messages": (
        dict(application_id="A001", channel="email", kind="update", summary="Priya: still deciding"),
        dict(application_id="A001", direction="received", on=DAY, summary="Priya: still deciding"),
    ),
    "promises": (
        dict(application_id="A001", what="a sample dashboard", due_on=dt.date(2026, 11, 18)),
        dict(what="a sample dashboard", due_on=pd.Timestamp("2026-11-18"), done_on=pd.NaT),
    ),
    "reference_uses": (
        dict(
            reference_id="R002",
            application_id="A001",
            given_on=dt.date(2026, 11, 10),
            briefed_on=dt.date(2026, 11, 11),
            last_checkin_on=dt.date(2026, 11, 13),
            contacted_on=dt.date(2026, 11, 14),
        ),
        dict(contacted_on=pd.Timestamp("2026-11-14"), last_checkin_on=pd.Timestamp("2026-11-13")),
    ),
    "offers": (
        dict(
            application_id="A001",
            verbal_on=dt.date(2026, 11, 9),
            written_received_on=dt.date(2026, 11, 11),
            salary="$120,000",
            benefits="Health, dental",
            expense_reimbursement="Relocation up to $5,000",
            conditions="Background check",
            response_deadline=dt.date(2026, 11, 20),
            accepted_on=dt.date(2026, 11, 13),
            approved_on=dt.date(2026, 11, 16),
        ),
        dict(salary="$120,000", accepted_on=pd.Timestamp("2026-11-13"), approved_on=DAY),
    ),
    "references": (
        dict(name="Lena Park", relationship="Mentor", email="lena.park@example.org"),
        dict(name="Lena Park", coachee_id="C001"),
    ),
}


def key_of(table: str, values: dict) -> dict:
    return {k: values[k] for k in TABLES[table].key}


@pytest.mark.parametrize("table", list(FORM_CASES))
def test_each_form_saves_a_valid_record(state, demo_store, table):
    typed, expected = FORM_CASES[table]
    values = {**state.new_record(table), **typed}
    key = key_of(table, values)
    assert demo_store.row(table, key) is None
    saved = state.save_form(table, values)
    assert saved["row_version"] == 1
    row = demo_store.row(table, key)
    assert row is not None
    for column, value in expected.items():
        got = row[column]
        assert (pd.isna(got) and pd.isna(value)) if value is pd.NaT else got == value, (column, got)
    # Read again: the new record is one of the form's records.
    assert tuple(key.values()) in [k for _, k in state.record_options(table)]


def test_a_message_received_stops_the_status_inquiry(state):
    assert "status_inquiry" in set(state.actions["kind"])
    state.save_form("messages", {**state.new_record("messages"), "application_id": "A001", "summary": "Priya: soon"})
    assert "status_inquiry" not in set(state.actions["kind"])


def test_a_new_coachee_is_listed(state, demo_store):
    values = {**state.new_record("coachees"), "name": "Noor Haddad", "email": "noor@example.com"}
    state.save_form("coachees", values)
    assert demo_store.row("coachees", {"coachee_id": values["coachee_id"]})["name"] == "Noor Haddad"
    assert values["coachee_id"] in state.coachee_ids()
    assert state.coachee_id == "C001"  # still working with the same coachee


def test_what_a_form_offers_and_whose_record_it_saves(state, demo_store):
    labels = dict((k, label) for label, k in state.record_options("interviews"))
    assert labels[None] == "(new record)"
    # Names, rounds and dates, never bare ids.
    assert labels[("I001",)] == "Northwind Analytics · round 1 · Priya Natarajan · 02 Nov 2026"
    assert not any("I00" in label for label in labels.values())
    assert state.record("interviews", ("I001",))["interviewer_name"] == "Priya Natarajan"
    with pytest.raises(UserError):
        state.record("interviews", ("I006",))  # Jordan's, not this coachee's
    fresh = state.new_record("messages")
    stored = set(demo_store.load(["messages"])["messages"]["message_id"])
    assert (fresh["direction"], fresh["on"]) == ("received", AS_OF) and fresh["message_id"] not in stored
    assert re.fullmatch(r"M\d{3,}", fresh["message_id"])  # the demo's style
    assert state.new_record("reference_uses") == {}  # its key is two links: picked, not made up
    # A form saves for the session's coachee, whatever it says.
    values = {**state.new_record("references"), "name": "Lena Park", "coachee_id": "C002"}
    state.save_form("references", values)
    assert demo_store.row("references", {"reference_id": values["reference_id"]})["coachee_id"] == "C001"


@pytest.mark.parametrize(
    "table, values, says",
    [
        ("applications", dict(company="", role="Data Analyst"), "company"),
        ("applications", dict(company="   ", role="Data Analyst"), "company"),
        (
            "interviews",
            dict(application_id="A001", held_on=dt.date(2026, 11, 16), next_step_by=dt.date(2026, 11, 12)),
            "next_step_by",
        ),
        ("interviews", dict(application_id=None, held_on=dt.date(2026, 11, 16)), "application_id"),
        ("promises", dict(application_id="A001", what="a sample"), "due_on"),
        ("messages", dict(application_id="A001", on=None), "on"),
    ],
)
def test_invalid_input_is_refused_and_nothing_is_written(state, demo_store, table, values, says):
    before = snapshot(demo_store)
    with pytest.raises(ValidationError) as err:
        state.save_form(table, {**state.new_record(table), **values})
    assert says in [p.column for p in err.value.problems]
    assert_unchanged(before, snapshot(demo_store))


def test_a_record_opened_in_two_sessions_refuses_the_second_save(demo_store):
    first, second = SessionState(demo_store.url, "C001", AS_OF), SessionState(demo_store.url, "C001", AS_OF)
    try:
        opened = {s: s.record("interviews", ("I001",)) for s in (first, second)}
        row = opened[first]
        first.save_form(
            "interviews", {**row, "notes": "Went well; she asked for a sample"}, ("I001",), row["row_version"]
        )
        before = snapshot(demo_store)
        row = opened[second]
        with pytest.raises(ConflictError, match="changed elsewhere"):
            second.save_form("interviews", {**row, "notes": "Overwriting"}, ("I001",), row["row_version"])
        assert_unchanged(before, snapshot(demo_store))
        # Read again, the record saves.
        second.reload()
        row = second.record("interviews", ("I001",))
        assert row["notes"] == "Went well; she asked for a sample"
        second.save_form("interviews", {**row, "notes": "On top of the first"}, ("I001",), row["row_version"])
        assert demo_store.row("interviews", {"interview_id": "I001"})["notes"] == "On top of the first"
    finally:
        for s in (first, second):
            s.close()


def test_an_id_already_taken_is_refused_even_typed_into_an_opened_record(state, demo_store):
    before = snapshot(demo_store)
    with pytest.raises(ConflictError, match="already exists"):
        state.save_form(
            "promises", dict(promise_id="P001", application_id="A001", what="else", due_on=dt.date(2026, 11, 20))
        )
    # Interview I001 opened, I002 (another interview, also at version 1) typed into
    # its id: I002 must not be silently replaced by I001's details.
    row = state.record("interviews", ("I001",))
    with pytest.raises(ConflictError, match="already exists"):
        state.save_form("interviews", {**row, "interview_id": "I002"}, ("I001",), row["row_version"])
    assert_unchanged(before, snapshot(demo_store))


# ------------------------------------------------------------------ the chart


def waiting_by_label(fig) -> dict[str, str]:
    return {y: bar.name for bar in fig.data if bar.type == "bar" for y in bar.y}


def test_chart_follows_each_change(state):
    before = state.figure
    assert waiting_by_label(before)["Harbor Health · Reporting Analyst"] == "thank-you not sent"
    pick(state, "thank_you_note", recipient="Elena Voss")
    state.open_draft()
    state.mark_sent()
    assert state.figure is not before
    assert waiting_by_label(state.figure)["Harbor Health · Reporting Analyst"] == "employer's date ahead"
    # A new interview for a new application adds a bar.
    app = {**state.new_record("applications"), "company": "Lakeside Clinic", "role": "Data Analyst"}
    state.save_form("applications", app)
    interview = dict(
        application_id=app["application_id"], held_on=dt.date(2026, 11, 12), thank_you_sent_on=dt.date(2026, 11, 12)
    )
    state.save_form("interviews", {**state.new_record("interviews"), **interview})
    assert "Lakeside Clinic · Data Analyst" in waiting_by_label(state.figure)
    assert "4 open applications" in state.chart_sentence


def test_the_state_needs_no_widgets():
    code = (
        "import sys, followup_lib.faces.session_state; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'ipywidgets', 'IPython', 'ipykernel'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ------------------------------------------------------------------ the widget view


@pytest.fixture
def view(demo_store, tmp_path, monkeypatch):
    monkeypatch.setattr(session_module, "display", lambda *a, **k: None)  # no kernel: no chart output
    s = WorkingSession(demo_store.url, "C001", AS_OF, drafts_dir=tmp_path / "drafts")
    yield s
    s.state.close()


def option_ids(widget) -> list:
    return [value for _, value in widget.options]


def test_the_view_shows_the_state(view):
    s = view.state
    assert list(view.action_list.options) == s.action_options()
    assert view.action_list.value == s.action_id
    assert s.summary() in view.summary.value
    a = s.action()
    assert a["status"] in view.why.value and f"priority {int(a['priority'])}" in view.why.value
    assert html.escape(a["why"]) in view.why.value
    assert view.picker.label == "Maya Lindqvist (C001)"
    assert view.draft_box.layout.display == "none"
    # Picking another action picks it in the state, and shows its why.
    view.action_list.value = next(v for label, v in view.action_list.options if "Thank-you note → Elena" in label)
    assert s.action()["kind"] == "thank_you_note"
    assert "You interviewed with Elena Voss at Harbor Health on 13 Nov" in view.why.value
    # A phone call's script has no subject.
    view.action_list.value = next(v for label, v in view.action_list.options if "Check-in" in label)
    view.open_button.click()
    assert view.draft_to.value == "Call Marcus Hale on +1 555 0142"
    assert view.draft_subject.layout.display == "none" and view.draft_box.layout.display is None
    # Nothing to draft: the button says so by being off.
    view.picker.value = coachee_with(view.store, "await_approval")
    assert view.draft_box.layout.display == "none"
    view.action_list.value = next(v for label, v in view.action_list.options if "Await approval" in label)
    assert view.open_button.disabled


def test_the_top_row_calls_through(view, demo_store):
    view.picker.value = "C002"
    assert view.state.coachee_id == "C002"
    apps = option_ids(view.forms["promises"].fields["application_id"])
    assert set(apps) == {None} | applications_of(demo_store, "C002")
    view.picker.value = "C001"
    inquiry = lambda: any("Status inquiry → Chloe Adams" in label for label, _ in view.action_list.options)  # noqa: E731
    assert inquiry()
    log_received(demo_store, "A001", AS_OF, summary="Priya: next week")  # another window
    assert inquiry()
    view.refresh_button.click()
    assert "Up to date." in view.top_status.value
    assert not inquiry()
    view.day.value = dt.date(2026, 11, 20)
    assert view.state.as_of == dt.date(2026, 11, 20)
    assert list(view.action_list.options) == view.state.action_options()


def test_open_edit_save_and_mark_sent_through_the_buttons(view, demo_store, tmp_path):
    view.action_list.value = next(v for label, v in view.action_list.options if "Thank-you note → Elena" in label)
    view.open_button.click()
    assert view.draft_box.layout.display is None  # shown
    assert view.draft_to.value == "Elena Voss <elena.voss@harborhealth.example>"
    assert "Reporting Analyst" in view.draft_subject.value and view.draft_body.value.startswith("Dear Elena")
    assert "fw-error" not in view.action_status.value
    view.draft_subject.value = "Thank you, Elena"
    view.save_button.click()
    (path,) = (tmp_path / "drafts" / safe_name("C001")).glob("*.eml")
    assert email.message_from_bytes(path.read_bytes(), policy=email.policy.default)["Subject"] == "Thank you, Elena"
    assert str(path) in view.draft_status.value and "fw-ok" in view.draft_status.value
    view.sent_button.click()
    assert "Logged as sent" in view.action_status.value and "Thank-you note to Elena Voss" in view.action_status.value
    assert messages(demo_store)["summary"].eq("Thank you, Elena").sum() == 1
    assert not any("Thank-you note → Elena" in label for label, _ in view.action_list.options)
    assert view.draft_box.layout.display == "none" and view.draft_body.value == ""


def test_errors_are_shown_inline(view, demo_store):
    save_record(
        demo_store,
        "interviews",
        dict(interview_id="I777", application_id="A001", held_on=AS_OF, interviewer_name="Noor Haddad"),
    )
    view.after_change()
    action = next(a for a in view.actions.to_dict("records") if a.get("interview_id") == "I777")
    view.action_list.value = action["action_id"]
    view.open_button.click()
    assert "fw-error" in view.action_status.value and "email" in view.action_status.value
    assert view.draft is None
    view.sent_button.click()  # nothing open: says so, writes nothing
    assert "Open a draft first" in view.action_status.value
    # A form refused: the message says why, the form keeps what was typed.
    form = view.forms["interviews"]
    form.fields["application_id"].value = "A001"
    form.fields["held_on"].value = dt.date(2026, 11, 16)
    form.fields["next_step_by"].value = dt.date(2026, 11, 12)
    form.fields["notes"].value = "Typed, to be corrected"
    before = snapshot(demo_store)
    form.save.click()
    assert "fw-error" in form.status.value and "Nothing was saved" in form.status.value
    assert "cannot come before the interview" in form.status.value
    assert form.fields["notes"].value == "Typed, to be corrected"
    assert_unchanged(before, snapshot(demo_store))


def test_a_form_saves_through_its_callbacks_and_is_ready_for_the_next(view, demo_store):
    form = view.forms["promises"]
    fresh = form.fields["promise_id"].value
    assert re.fullmatch(r"P\d{3,}", fresh) and demo_store.row("promises", {"promise_id": fresh}) is None
    form.fields["application_id"].value = "A001"
    form.fields["what"].value = "a sample dashboard"
    form.fields["due_on"].value = dt.date(2026, 11, 18)
    form.save.click()
    assert f"Saved promise {fresh}." in form.status.value and "fw-ok" in form.status.value
    assert demo_store.row("promises", {"promise_id": fresh})["what"] == "a sample dashboard"
    assert form.record.value is None and form.version is None and form.fields["promise_id"].value != fresh
    assert view.state.actions["why"].str.contains("a sample dashboard").any()  # read again, shown
    assert list(view.action_list.options) == view.state.action_options()
    # Opened, edited and saved again: the version read goes with it.
    form.record.value = (fresh,)
    assert form.fields["what"].value == "a sample dashboard" and form.version == 1
    form.fields["what"].value = "a sample dashboard, with notes"
    form.save.click()
    assert demo_store.row("promises", {"promise_id": fresh})["row_version"] == 2


def test_a_choice_made_in_a_form_survives_a_refresh(view):
    promise = view.forms["promises"]
    promise.fields["application_id"].value = "A003"
    promise.fields["what"].value = "a sample"
    view.forms["messages"].fields["application_id"].value = "A001"
    view.forms["messages"].save.click()  # refreshes every form's options
    assert "Saved message" in view.forms["messages"].status.value
    assert promise.fields["application_id"].value == "A003"
    assert promise.fields["what"].value == "a sample"


def test_a_first_coachee_saved_in_an_empty_store(empty_store, tmp_path, monkeypatch):
    monkeypatch.setattr(session_module, "display", lambda *a, **k: None)
    s = WorkingSession(empty_store.url, None, AS_OF, drafts_dir=tmp_path / "drafts")
    try:
        assert "No coachees yet" in s.summary.value
        form = s.forms["coachees"]
        assert form.fields["coachee_id"].value, "the form should offer a fresh id"
        form.fields["name"].value = "Noor Haddad"
        form.save.click()
        assert "Saved coachee" in form.status.value, form.status.value
        assert empty_store.coachee_ids() == [s.state.coachee_id] == [s.picker.value]
        assert "Nothing due." in s.summary.value
    finally:
        s.state.close()


# ------------------------------------------------------------------ what an error says


class _Odd(FollowupError):
    """A FollowupError the session has never heard of: shown by its message."""


@pytest.mark.parametrize(
    "exc, says",
    [
        (ConflictError("changed elsewhere; read it again"), "changed elsewhere; read it again"),
        (UserError("Pick an action first."), "Pick an action first."),
        (DraftError("thank_you_note for X: no email address"), "thank_you_note for X: no email address"),
        (_Odd("something to fix"), "something to fix"),
        (ZeroDivisionError("division by zero"), "ZeroDivisionError: division by zero"),
        (ValueError("bad"), "ValueError: bad"),
    ],
)
def test_error_text_names_a_followup_error_by_its_message_and_anything_else_by_its_type(exc, says):
    assert error_text(exc) == says


def test_error_text_lists_every_validation_problem():
    problems = [Problem("promises", None, "due_on", "is required"), Problem("promises", None, None, "no such row")]
    # In the coach's words: the field's label, not the column's name.
    assert error_text(ValidationError(problems)) == "Nothing was saved. Due on: is required. no such row."
    empty = [Problem("interviews", 1, "application_id", "is empty but required")]
    assert error_text(ValidationError(empty)) == "Nothing was saved. Application: is required."


# ------------------------------------------------------------------ the logbook itself


def test_save_record_versions_and_conflicts(demo_store):
    saved = save_record(
        demo_store, "promises", dict(promise_id="P100", application_id="A001", what="a sample", due_on="2026-11-18")
    )
    assert saved["row_version"] == 1 and saved["due_on"] == pd.Timestamp("2026-11-18")
    again = save_record(demo_store, "promises", {**saved, "done_on": AS_OF}, expected_version=1)
    assert again["row_version"] == 2
    with pytest.raises(ConflictError, match="changed elsewhere"):
        save_record(demo_store, "promises", {**saved, "what": "stale"}, expected_version=1)
    with pytest.raises(ConflictError, match="already exists"):
        save_record(demo_store, "promises", {**saved, "what": "a duplicate"})
    assert demo_store.row("promises", {"promise_id": "P100"})["done_on"] == DAY


@pytest.mark.parametrize(
    "table, values, column",
    [
        (
            "interviews",
            dict(interview_id="I100", application_id="A001", held_on="2026-11-16", preferred_channel="fax"),
            "preferred_channel",
        ),
        ("interviews", dict(interview_id="I100", application_id="A001", held_on="2026-11-31"), "held_on"),
        ("interviews", dict(interview_id="I100", application_id="A404", held_on="2026-11-16"), "application_id"),
        (
            "messages",
            dict(message_id="M100", application_id="A001", on="2026-11-16", direction="sideways"),
            "direction",
        ),
        ("reference_uses", dict(reference_id="R003", application_id="A001"), "application_id"),  # Jordan's reference
        ("applications", dict(application_id="A100", coachee_id="C001", company="", role="Analyst"), "company"),
    ],
)
def test_save_record_checks_like_an_import(demo_store, table, values, column):
    before = snapshot(demo_store)
    with pytest.raises(ValidationError) as err:
        save_record(demo_store, table, values)
    assert column in [p.column for p in err.value.problems]
    assert_unchanged(before, snapshot(demo_store))


def test_mark_sent_each_kind_sets_the_date_the_rules_read(demo_store):
    tables = demo_store.load(coachee_id="C001")
    actions = due_actions(tables, AS_OF)
    for a in actions.to_dict("records"):
        mark_sent(demo_store, a, AS_OF)
    left = due_actions(demo_store.load(coachee_id="C001"), AS_OF)
    assert not set(left["action_id"]) & set(actions["action_id"])
    msgs = demo_store.load(["messages"], coachee_id="C001")["messages"]
    assert (msgs["on"].eq(DAY) & msgs["direction"].eq("sent")).sum() == len(actions)


def test_mark_sent_without_its_record_writes_nothing(demo_store):
    actions = due_actions(demo_store.load(coachee_id="C001"), AS_OF)
    action = actions[actions["kind"].eq("thank_you_note")].iloc[0].to_dict()
    before = snapshot(demo_store)
    with pytest.raises(ValueError, match="interview"):
        mark_sent(demo_store, {**action, "interview_id": None}, AS_OF)
    with pytest.raises(ValueError, match="no interview I404"):
        mark_sent(demo_store, {**action, "interview_id": "I404"}, AS_OF)
    assert_unchanged(before, snapshot(demo_store))


def test_log_received_resets_the_wait(demo_store):
    kinds = lambda: set(due_actions(demo_store.load(coachee_id="C001"), AS_OF)["kind"])  # noqa: E731
    assert "status_inquiry" in kinds()
    mid = log_received(demo_store, "A001", AS_OF, summary="Priya: next week")
    row = demo_store.row("messages", {"message_id": mid})
    assert (row["direction"], row["application_id"], row["on"]) == ("received", "A001", DAY)
    assert "status_inquiry" not in kinds()


def test_new_ids_are_readable_and_distinct():
    ids = {new_id("interviews", AS_OF) for _ in range(50)}
    assert all(i.startswith("I261116-") for i in ids)
    assert len(ids) > 40


def test_offers_side_by_side_in_the_session(demo_store, tmp_path):
    """The coachee's offers in one table, missing terms flagged; no one else's."""
    view = WorkingSession(demo_store.url, "C002", AS_OF, drafts_dir=tmp_path / "drafts")
    s = view.state
    try:
        page = s.offers_html()
        assert "Lumen Software" in page and "Quarry Labs" in page and "Pinecrest" not in page
        assert "missing: ask for it in writing" in page
        for term in ("salary", "benefits", "expense reimbursement", "conditions", "requirements"):
            assert term in page, term
        assert view.offers.value == page
        s.select_coachee("C001")
        view.show()
        # Maya's one offer was withdrawn by Sable Robotics: said so, and no one else's.
        assert "Sable Robotics" in view.offers.value and "Lumen" not in view.offers.value
        assert "withdrawn by the employer on Wed 11 Nov 2026" in view.offers.value
    finally:
        s.close()


# ------------------------------------------------------------------ the app's warm kernel


def test_wait_for_page_outside_the_app_returns_at_once(demo_store, monkeypatch):
    monkeypatch.delenv("VOILA_PREHEAT", raising=False)
    asked = []
    monkeypatch.setattr(session_module, "wait_for_request", lambda *a: asked.append(a))
    session_module.wait_for_page(demo_store.url, "C001", AS_OF)
    assert asked == []  # in JupyterLab, or in the app without preheating: nothing to wait for


@pytest.mark.parametrize("broken", [False, True])
def test_wait_for_page_in_a_preheated_kernel_opens_the_session_unseen_then_waits(
    demo_store, monkeypatch, tmp_path, broken
):
    """The warm kernel opens the session once (reading, never writing) and then
    waits for the page; a store it cannot open is left for the page's own
    session to report: the kernel still waits, it does not fail."""
    monkeypatch.setenv("VOILA_PREHEAT", "True")
    asked = []
    monkeypatch.setattr(session_module, "wait_for_request", lambda *a: asked.append(a))
    before = snapshot(demo_store)
    files = sorted(p.name for p in tmp_path.rglob("*"))
    url = f"sqlite:///{tmp_path / 'no-such-folder' / 'x.db'}" if broken else demo_store.url
    session_module.wait_for_page(url, "C001", AS_OF)
    assert asked == [()]
    assert_unchanged(before, snapshot(demo_store))
    assert sorted(p.name for p in tmp_path.rglob("*")) == files  # no drafts, no folder made
