"""A live session with the client in the room (issue 21), on the session's state and
its widgets: the draft belongs to its action, Mark sent stores what was sent and
names what it logs, a typed date never leaves an error behind, a refusal in a stale
window redraws its list, and the forms speak in names and keep what was typed.
"""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import pytest

from followup_lib.errors import ConflictError, UserError
from followup_lib.faces import session as session_module
from followup_lib.faces.session import WorkingSession
from followup_lib.faces.session_state import MESSAGE_KIND_CHOICES, SessionState, typed_day

from builders import AS_OF


@pytest.fixture
def state(demo_store, tmp_path):
    s = SessionState(demo_store.url, "C001", AS_OF, drafts_dir=tmp_path / "drafts")
    yield s
    s.close()


@pytest.fixture
def view(demo_store, tmp_path, monkeypatch):
    monkeypatch.setattr(session_module, "display", lambda *a, **k: None)  # no kernel: no chart output
    s = WorkingSession(demo_store.url, "C001", AS_OF, drafts_dir=tmp_path / "drafts")
    yield s
    s.state.close()


def first(state, kind: str, **match) -> str:
    for a in state.actions.to_dict("records"):
        if a["kind"] == kind and all(a.get(k) == v for k, v in match.items()):
            return a["action_id"]
    raise AssertionError(f"no {kind} {match}")


def messages(store) -> pd.DataFrame:
    return store.load(["messages"])["messages"]


# ------------------------------------------------------------------ the draft belongs to its action


def test_picking_another_action_closes_the_draft_of_the_one_before(state, demo_store):
    # Issue 21: Marcus's phone script stayed open under Grace's thank-you, and Mark
    # sent logged "Ask for written offer to Marcus Hale".
    state.pick_action(first(state, "offer_checkin"))
    state.open_draft()
    assert "to Marcus Hale" in state.sent_label()
    other = next(a for a in state.actions.to_dict("records") if a["recipient"] != "Marcus Hale")
    state.pick_action(other["action_id"])
    assert state.draft is None and state.sent_label() == "Mark sent"
    before = len(messages(demo_store))
    with pytest.raises(UserError, match="Open a draft first"):
        state.mark_sent()
    assert len(messages(demo_store)) == before


def test_another_day_closes_the_draft(state):
    state.pick_action(first(state, "offer_checkin"))
    state.open_draft()
    state.set_day(dt.date(2026, 11, 17))
    assert state.draft is None


def test_the_same_day_or_a_draft_covering_the_action_keeps_it_open(state):
    state.pick_action(first(state, "offer_checkin"))
    draft = state.open_draft()
    state.set_day(AS_OF)  # the same day again: nothing changes
    state.pick_action(draft.action_ids[-1])  # an action the draft covers
    assert state.draft is draft


def test_mark_sent_names_the_action_and_stores_the_edited_body(state, demo_store):
    action_id = first(state, "thank_you_note", recipient="Elena Voss")
    state.pick_action(action_id)
    state.open_draft()
    assert state.sent_label().startswith("Mark sent: thank-you note") and "Elena Voss" in state.sent_label()
    body = "Dear Elena,\n\nThank you for Friday. The wait-times report is attached.\n\nMaya"
    logged = state.mark_sent("Thank you, Elena", body)
    m = messages(demo_store).set_index("message_id").loc[logged.message_ids[0]]
    assert m["body"] == body and m["summary"] == "Thank you, Elena" and m["action_id"] == action_id


def test_a_logged_call_summary_has_no_stray_quote(state, demo_store):
    state.pick_action(first(state, "offer_checkin"))
    draft = state.open_draft()
    assert draft.channel == "phone"
    logged = state.mark_sent()
    summary = messages(demo_store).set_index("message_id").loc[logged.message_ids[0], "summary"]
    assert summary and summary[0] not in "\"'“”‘’"


def test_a_refusal_in_a_stale_window_speaks_in_words_and_redraws_the_list(demo_store, tmp_path):
    a = SessionState(demo_store.url, "C001", AS_OF, drafts_dir=tmp_path)
    b = SessionState(demo_store.url, "C001", AS_OF, drafts_dir=tmp_path)
    try:
        action_id = first(a, "thank_you_note", recipient="Elena Voss")
        for s in (a, b):
            s.pick_action(action_id)
            s.open_draft()
        a.mark_sent()
        with pytest.raises(ConflictError) as refused:
            b.mark_sent()
        said = str(refused.value)
        assert "Monday 16 November 2026" in said and "thank-you note to Elena Voss" in said
        assert not re.search(r"\d{4}-\d\d-\d\d", said) and "thank you note" not in said
        assert action_id not in set(b.actions["action_id"]) and b.draft is None
    finally:
        a.close()
        b.close()


def test_a_refusal_in_a_stale_page_redraws_its_list_and_says_why_there(demo_store, tmp_path, monkeypatch):
    monkeypatch.setattr(session_module, "display", lambda *a, **k: None)
    a = WorkingSession(demo_store.url, "C001", AS_OF, drafts_dir=tmp_path)
    b = WorkingSession(demo_store.url, "C001", AS_OF, drafts_dir=tmp_path)
    try:
        action_id = first(a.state, "thank_you_note", recipient="Elena Voss")
        for page in (a, b):
            page.action_list.value = action_id
            page.open_button.click()
            assert page.sent_button.description.startswith("Mark sent: thank-you note")
        a.sent_button.click()
        b.sent_button.click()
        assert action_id not in [v for _, v in b.action_list.options]  # redrawn as it stands
        assert "fw-error" in b.action_status.value and "already marked sent" in b.action_status.value
        assert b.draft_box.layout.display == "none" and b.sent_button.description
    finally:
        a.state.close()
        b.state.close()


# ------------------------------------------------------------------ typed dates


@pytest.mark.parametrize("typed", [dt.date(20, 11, 16), dt.date(1, 1, 1), dt.date(9999, 12, 31), "2026-02-30", None])
def test_a_date_being_typed_is_ignored_until_it_is_a_real_day(state, typed):
    before = list(state.actions["action_id"])
    state.set_day(typed)
    assert state.as_of == AS_OF and list(state.actions["action_id"]) == before
    assert typed_day(typed) is None


def test_typing_a_date_through_the_picker_leaves_no_error(view):
    for day in (dt.date(20, 11, 16), dt.date(202, 11, 16), dt.date(2026, 11, 17)):
        view.day.value = day  # 11162026 typed one digit at a time passes through these
        assert "fw-error" not in view.top_status.value
    assert view.state.as_of == dt.date(2026, 11, 17)


def test_an_error_clears_on_the_next_good_action(view):
    view.sent_button.click()  # no draft open: an error
    assert "fw-error" in view.action_status.value
    view.action_list.value = view.state.action_options()[1][1]
    assert "fw-error" not in view.action_status.value
    view.top_status.value = session_module._message("error", "something earlier")
    view.refresh_button.click()
    assert "fw-error" not in view.top_status.value
    view.top_status.value = session_module._message("error", "something earlier")
    form = view.forms["promises"]
    form.fields["application_id"].value = "A001"
    form.fields["what"].value = "a sample dashboard"
    form.fields["due_on"].value = dt.date(2026, 11, 18)
    form.save.click()
    assert "fw-ok" in form.status.value and "fw-error" not in view.top_status.value


# ------------------------------------------------------------------ forms


def test_a_half_filled_form_survives_a_day_change(view):
    form = view.forms["promises"]
    fresh = form.fields["promise_id"].value
    form.fields["what"].value = "the roadmap one-pager"
    view.day.value = dt.date(2026, 11, 17)
    assert form.fields["what"].value == "the roadmap one-pager" and form.fields["promise_id"].value == fresh
    assert "kept" in form.status.value
    # A blank form starts again from the new day.
    msg = view.forms["messages"]
    assert msg.fields["on"].value == dt.date(2026, 11, 17)


def test_message_kinds_are_offered_and_free_text_is_kept(view, demo_store):
    kind = view.forms["messages"].fields["kind"]
    for k in ("rejection", "offer", "offer_letter", "invitation", "date_moved", "update", "question", "auto_reply"):
        assert k in kind.options
    for k in ("bounce", "thank_you_note", "extension_request", "acceptance", "decline", "withdrawal"):
        assert k in MESSAGE_KIND_CHOICES
    form = view.forms["messages"]
    form.fields["application_id"].value = "A001"
    kind.value = "coffee chat"
    form.save.click()
    assert "fw-ok" in form.status.value
    assert "coffee chat" in set(messages(demo_store)["kind"])


def test_new_ids_follow_the_demos_style_per_table(state, demo_store):
    assert state.new_record("contacts")["contact_id"] == "K005"
    assert state.new_record("interviews")["interview_id"].startswith("I0")
    stored = demo_store.load()
    for table, letter in [("contacts", "K"), ("interviews", "I"), ("promises", "P"), ("applications", "A")]:
        fresh = state.new_record(table)[f"{table[:-1]}_id"]
        assert re.fullmatch(rf"{letter}\d{{3,}}", fresh) and fresh not in set(stored[table][f"{table[:-1]}_id"])


def test_records_of_people_met_show_names_and_dates_not_ids(state):
    labels = [label for label, key in state.record_options("interview_contacts") if key]
    assert labels and all("K00" not in label and "I00" not in label for label in labels)
    assert any("Samir Okoye" in label and "Harbor Health" in label for label in labels)
    refs = [label for label, key in state.record_options("reference_uses") if key]
    assert any("Tom Becker" in label for label in refs) and all("R00" not in label for label in refs)
