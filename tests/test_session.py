"""The working session: the widget app driven as a person would (clicks and
values, no browser), and the logbook functions behind its buttons.

ipywidgets swallows exceptions raised in callbacks, so every assertion here is
on what the store holds and on what the widgets show.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy

import pandas as pd
import pytest
from conftest import AS_OF

from followup_lib.data.logbook import log_received, mark_sent, new_id, save_record
from followup_lib.data.store import ConflictError
from followup_lib.data.validation import ValidationError
from followup_lib.faces.session import WorkingSession
from followup_lib.logic.rules import due_actions

DAY = pd.Timestamp(AS_OF)


@pytest.fixture(autouse=True)
def no_personal_settings(tmp_path, monkeypatch):
    """The user's own settings and templates never reach a test."""
    monkeypatch.setenv("FOLLOWUP_SETTINGS", str(tmp_path / "no-settings.toml"))
    monkeypatch.setenv("FOLLOWUP_TEMPLATES", str(tmp_path / "no-templates"))


def open_session(store, tmp_path, coachee="C001") -> WorkingSession:
    return WorkingSession(store.url, coachee, AS_OF, drafts_dir=tmp_path / "drafts")


@pytest.fixture
def session(demo_store, tmp_path):
    s = open_session(demo_store, tmp_path)
    yield s
    s.store.engine.dispose()


def snapshot(store) -> dict[str, pd.DataFrame]:
    return store.load()


def assert_unchanged(before: dict, after: dict) -> None:
    for name, df in before.items():
        pd.testing.assert_frame_equal(df, after[name], obj=name)


def option_ids(widget) -> list:
    return [value for _, value in widget.options]


def pick(session: WorkingSession, kind: str, **match) -> dict:
    """Select the first listed action of ``kind`` (matching ``match``) in the action list."""
    for a in session.actions.to_dict("records"):
        if a["kind"] == kind and all(a.get(k) == v for k, v in match.items()):
            session.action_list.value = a["action_id"]
            return a
    raise AssertionError(f"no {kind} action {match} in {list(session.actions['action_id'])}")


# ------------------------------------------------------------------ today's actions


def test_actions_listed_most_urgent_first_with_their_why(session, demo_store):
    expected = due_actions(demo_store.load(coachee_id="C001"), AS_OF)
    assert option_ids(session.action_list) == list(expected["action_id"])
    assert list(session.actions["priority"]) == sorted(session.actions["priority"])
    assert session.actions["coachee_id"].eq("C001").all()
    labels = [label for label, _ in session.action_list.options]
    assert labels[0].startswith("OVERDUE") and "Elena Voss" in labels[0] and "Harbor Health" in labels[0]
    assert "4 overdue, 2 due, 1 upcoming" in session.summary.value
    # The most urgent is selected, with its why.
    first = expected.iloc[0]
    assert session.action_list.value == first["action_id"]
    assert "overdue" in session.why.value and "priority 2" in session.why.value
    assert "You interviewed with Elena Voss at Harbor Health on 13 Nov" in session.why.value
    # Picking another action shows its own why.
    pick(session, "keep_promise")
    assert "a writing sample (the Q3 churn analysis)" in session.why.value and "upcoming" in session.why.value


def test_another_coachee_and_another_day(session):
    session.picker.value = "C002"
    assert session.actions["coachee_id"].eq("C002").all() and len(session.actions)
    app_options = option_ids(session.forms["promises"].fields["application_id"])
    assert set(app_options) == {None, "A005", "A006", "A007", "A008"}  # only Jordan's applications
    session.picker.value = "C001"
    before = set(session.actions["action_id"])
    session.day.value = dt.date(2026, 11, 20)
    assert session.as_of == dt.date(2026, 11, 20)
    assert set(session.actions["action_id"]) != before
    assert "Keep promise" not in "".join(label for label, _ in session.action_list.options if "UPCOMING" in label)


# ------------------------------------------------------------------ drafts


def test_open_draft_shows_recipient_subject_and_body(session):
    pick(session, "thank_you_note")
    session.open_button.click()
    assert session.draft_box.layout.display is None  # shown
    assert session.draft_to.value == "Elena Voss <elena.voss@harborhealth.example>"
    assert "Reporting Analyst" in session.draft_subject.value
    assert session.draft_body.value.startswith("Dear Elena")
    assert "fw-error" not in session.action_status.value


def test_open_phone_draft_is_a_call_script(session):
    pick(session, "offer_checkin")
    session.open_button.click()
    assert session.draft_to.value == "Call Marcus Hale on +1 555 0142"
    assert session.draft_subject.layout.display == "none"
    assert "Marcus" in session.draft_body.value


def test_edited_draft_is_saved_as_an_eml_file(session, tmp_path):
    pick(session, "thank_you_note")
    session.open_button.click()
    session.draft_subject.value = "Thank you, Elena"
    session.draft_body.value = session.draft_body.value + "\n\nP.S. The wait-times report is attached."
    session.save_button.click()
    files = list((tmp_path / "drafts" / "C001").glob("*.eml"))
    assert len(files) == 1, session.draft_status.value
    msg = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert msg["To"] == "Elena Voss <elena.voss@harborhealth.example>"
    assert msg["Subject"] == "Thank you, Elena"
    assert "P.S. The wait-times report is attached." in msg.get_content()
    assert str(files[0]) in session.draft_status.value and "fw-ok" in session.draft_status.value


def test_phone_draft_is_saved_as_text(session, tmp_path):
    pick(session, "offer_checkin")
    session.open_button.click()
    session.save_button.click()
    (script,) = (tmp_path / "drafts" / "C001").glob("*.txt")
    assert script.read_text(encoding="utf-8").startswith("Call Marcus Hale (Bluefin Logistics) on +1 555 0142")


@pytest.mark.parametrize(
    "kind, match, table, key, column",
    [
        ("thank_you_note", {}, "interviews", {"interview_id": "I004"}, "thank_you_sent_on"),
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
            {"reference_id": "R001", "application_id": "A001"},
            "last_checkin_on",
        ),
        ("keep_promise", {}, "promises", {"promise_id": "P001"}, "done_on"),
        ("status_inquiry", {}, None, None, None),
    ],
)
def test_mark_sent_logs_the_message_and_the_action_disappears(session, demo_store, kind, match, table, key, column):
    action = pick(session, kind, **match)
    before = demo_store.load(["messages"])["messages"]
    session.open_button.click()
    session.sent_button.click()
    assert "Logged as sent" in session.action_status.value, session.draft_status.value
    msgs = demo_store.load(["messages"])["messages"]
    new = msgs[~msgs["message_id"].isin(before["message_id"])]
    assert len(new) == 1
    m = new.iloc[0]
    assert (m["application_id"], m["direction"], m["kind"], m["on"]) == (action["application_id"], "sent", kind, DAY)
    assert m["channel"] == action["channel"]
    if table:
        assert demo_store.row(table, key)[column] == DAY
    assert action["action_id"] not in option_ids(session.action_list)
    assert session.draft_box.layout.display == "none"


def test_draft_problems_are_shown_not_raised(session, demo_store):
    # An interview whose interviewer left no email or phone: the thank-you cannot be drafted.
    save_record(
        demo_store,
        "interviews",
        dict(interview_id="I777", application_id="A001", held_on=AS_OF, interviewer_name="Noor Haddad"),
    )
    session.after_change()
    pick(session, "thank_you_note", interview_id="I777")
    session.open_button.click()
    assert "fw-error" in session.action_status.value
    assert "email" in session.action_status.value
    assert session.draft is None
    session.sent_button.click()  # nothing open: says so, writes nothing
    assert "Open a draft first" in session.draft_status.value


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


def fill(form, values: dict) -> None:
    for name, value in values.items():
        form.fields[name].value = value


def saved_key(form, values: dict) -> dict:
    return {k: values.get(k, form.fields[k].value) for k in form.t.key}


@pytest.mark.parametrize("table", list(FORM_CASES))
def test_each_form_saves_a_valid_record(session, demo_store, table):
    values, expected = FORM_CASES[table]
    form = session.forms[table]
    fill(form, values)
    key = saved_key(form, values)
    assert demo_store.row(table, key) is None
    form.save.click()
    assert "fw-ok" in form.status.value and "Saved" in form.status.value, form.status.value
    row = demo_store.row(table, key)
    assert row is not None, form.status.value
    for column, value in expected.items():
        got = row[column]
        assert (pd.isna(got) and pd.isna(value)) if value is pd.NaT else got == value, (column, got)
    # The form is ready for the next record.
    assert form.record.value is None and form.version is None


def test_message_received_stops_the_status_inquiry(session):
    assert "status_inquiry" in set(session.actions["kind"])
    form = session.forms["messages"]
    fill(form, dict(application_id="A001", summary="Priya: we are still interviewing"))
    form.save.click()
    assert "status_inquiry" not in set(session.actions["kind"])


def test_new_coachee_appears_in_the_picker(session, demo_store):
    form = session.forms["coachees"]
    fill(form, dict(name="Noor Haddad", email="noor@example.com"))
    cid = form.fields["coachee_id"].value
    form.save.click()
    assert demo_store.row("coachees", {"coachee_id": cid})["name"] == "Noor Haddad"
    assert cid in option_ids(session.picker)


def test_an_empty_store_starts_with_the_first_coachee(empty_store, tmp_path):
    s = open_session(empty_store, tmp_path, coachee=None)
    assert "No coachees yet" in s.summary.value
    form = s.forms["coachees"]
    assert form.fields["coachee_id"].value, "the form should offer a fresh id"
    form.fields["name"].value = "Noor Haddad"
    form.save.click()
    assert "Saved coachee" in form.status.value, form.status.value
    assert empty_store.coachee_ids() == [s.coachee_id]
    assert "Nothing due." in s.summary.value
    s.store.engine.dispose()


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
def test_invalid_input_is_shown_and_nothing_is_written(session, demo_store, table, values, says):
    form = session.forms[table]
    fill(form, values)
    before = snapshot(demo_store)
    form.save.click()
    assert "fw-error" in form.status.value and "Nothing was saved" in form.status.value
    assert says in form.status.value
    assert_unchanged(before, snapshot(demo_store))
    # The form keeps what was typed, to be corrected.
    for name, value in values.items():
        if isinstance(value, str):
            assert form.fields[name].value == value


def test_the_interview_date_message_is_plain_words(session):
    form = session.forms["interviews"]
    fill(form, dict(application_id="A001", held_on=dt.date(2026, 11, 16), next_step_by=dt.date(2026, 11, 12)))
    form.save.click()
    assert "cannot come before the interview" in form.status.value


def test_editing_a_record_opened_in_two_sessions_refuses_the_second_save(demo_store, tmp_path):
    first, second = open_session(demo_store, tmp_path), open_session(demo_store, tmp_path)
    for s in (first, second):
        s.forms["interviews"].record.value = ("I001",)
        assert s.forms["interviews"].fields["interviewer_name"].value == "Priya Natarajan"
    first.forms["interviews"].fields["notes"].value = "Went well; she asked for a dashboard sample"
    first.forms["interviews"].save.click()
    assert "Saved interview I001" in first.forms["interviews"].status.value
    before = snapshot(demo_store)
    second.forms["interviews"].fields["notes"].value = "Overwriting the first edit"
    second.forms["interviews"].save.click()
    status = second.forms["interviews"].status.value
    assert "fw-error" in status and "changed elsewhere" in status
    assert (
        demo_store.row("interviews", {"interview_id": "I001"})["notes"] == "Went well; she asked for a dashboard sample"
    )
    assert_unchanged(before, snapshot(demo_store))
    # Reloading the record and saving again works.
    form = second.forms["interviews"]
    second.after_change()
    form.record.value = None
    form.record.value = ("I001",)
    form.fields["notes"].value = "Second edit, on top of the first"
    form.save.click()
    assert "Saved" in form.status.value
    for s in (first, second):
        s.store.engine.dispose()


def test_a_new_record_with_a_taken_id_is_refused(session, demo_store):
    form = session.forms["promises"]
    fill(form, dict(promise_id="P001", application_id="A001", what="something else", due_on=dt.date(2026, 11, 20)))
    before = snapshot(demo_store)
    form.save.click()
    assert "already exists" in form.status.value
    assert_unchanged(before, snapshot(demo_store))


def test_a_choice_made_in_a_form_survives_a_refresh(session):
    promise = session.forms["promises"]
    fill(promise, dict(application_id="A003", what="a sample"))
    session.forms["messages"].fields["application_id"].value = "A001"
    session.forms["messages"].save.click()  # refreshes every form's options
    assert promise.fields["application_id"].value == "A003"
    assert promise.fields["what"].value == "a sample"


# ------------------------------------------------------------------ the chart


def waiting_by_label(fig) -> dict[str, str]:
    return {y: bar.name for bar in fig.data if bar.type == "bar" for y in bar.y}


def test_chart_refreshes_after_a_change(session):
    before = session.figure
    assert waiting_by_label(before)["Harbor Health · Reporting Analyst"] == "thank-you not sent"
    pick(session, "thank_you_note")
    session.open_button.click()
    session.sent_button.click()
    assert session.figure is not before
    assert waiting_by_label(session.figure)["Harbor Health · Reporting Analyst"] == "employer's date ahead"
    # A new interview for a new application adds a bar.
    apps = session.forms["applications"]
    fill(apps, dict(company="Lakeside Clinic", role="Data Analyst"))
    app_id = apps.fields["application_id"].value
    apps.save.click()
    fill(
        session.forms["interviews"],
        dict(application_id=app_id, held_on=dt.date(2026, 11, 12), thank_you_sent_on=dt.date(2026, 11, 12)),
    )
    session.forms["interviews"].save.click()
    assert "Lakeside Clinic · Data Analyst" in waiting_by_label(session.figure)
    assert "4 open applications" in session.chart_sentence.value


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
    action = due_actions(demo_store.load(coachee_id="C001"), AS_OF).iloc[0].to_dict()
    assert action["kind"] == "thank_you_note"
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


def test_the_same_action_marked_sent_in_two_windows_is_logged_once(demo_store):
    """The coach (JupyterLab) and the client (the app) both press Mark sent on the
    same status inquiry: one message is logged, the second window is told."""
    coach = WorkingSession(demo_store.url, "C001", AS_OF)
    client = WorkingSession(demo_store.url, "C001", AS_OF)
    for s in (coach, client):
        s.action_list.value = next(v for label, v in s.action_list.options if "Status inquiry" in label)
        s.open_button.click()
    count = lambda: int((demo_store.load(["messages"])["messages"]["kind"] == "status_inquiry").sum())  # noqa: E731
    before = count()
    coach.sent_button.click()
    assert "Logged as sent" in coach.action_status.value
    client.sent_button.click()
    assert "already marked sent" in client.draft_status.value
    assert count() == before + 1
    stored = demo_store.load(["messages"])["messages"]
    assert stored["action_id"].eq("status_inquiry:A001:I001:1").sum() == 1
