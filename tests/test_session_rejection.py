"""Contract v3: a rejection logged in the session closes the application for the
rules at once, and the session offers to record the status in the store too."""

from __future__ import annotations

import pytest

from followup_lib.faces.session import WorkingSession
from followup_lib.faces.session_state import SessionState

from builders import AS_OF


@pytest.fixture
def state(demo_store, tmp_path):
    s = SessionState(demo_store.url, "C001", AS_OF, drafts_dir=tmp_path / "drafts")
    yield s
    s.close()


def log(state: SessionState, kind: str) -> dict:
    values = {
        **state.new_record("messages"),
        "application_id": "A002",
        "direction": "received",
        "kind": kind,
        "summary": "Not moving forward",
    }
    return state.save_form("messages", values)


def test_a_received_rejection_stops_the_follow_ups_and_offers_the_status(state, demo_store):
    assert set(state.actions.loc[state.actions["application_id"].eq("A002"), "kind"]) == {
        "offer_checkin",
        "reference_checkin",
    }
    log(state, "rejection")
    kinds = set(state.actions.loc[state.actions["application_id"].eq("A002"), "kind"])
    assert kinds == {"close_the_loop"}
    app_id, status, on, sentence = state.status_offer
    assert (app_id, status, on) == ("A002", "rejected", AS_OF)
    assert (
        sentence.startswith("Bluefin Logistics said no on Monday 16 November") and "Record the application" in sentence
    )
    assert demo_store.row("applications", {"application_id": "A002"})["status"] == "active"  # nothing written yet
    assert state.record_status_offer() == "Recorded Bluefin Logistics as rejected."
    row = demo_store.row("applications", {"application_id": "A002"})
    assert row["status"] == "rejected" and str(row["closed_on"])[:10] == AS_OF.isoformat()
    assert state.status_offer is None


def test_another_kind_offers_nothing(state):
    log(state, "update")
    assert state.status_offer is None


def test_the_page_shows_the_offer_and_records_it(demo_store, tmp_path):
    view = WorkingSession(demo_store.url, "C001", AS_OF, drafts_dir=tmp_path / "drafts")
    try:
        assert view.status_offer.layout.display == "none"
        log(view.state, "Rejection")
        view.show()
        assert view.status_offer.layout.display == "flex" and "said no" in view.status_offer_text.value
        view.status_offer_button.click()
        assert "Recorded Bluefin Logistics as rejected." in view.action_status.value
        assert view.status_offer.layout.display == "none"
    finally:
        view.state.close()


def test_the_draft_shows_what_the_coach_should_add(demo_store, tmp_path):
    """A panel note with nothing personal recorded says so beside the draft (its
    X-Followup-Review), to the coach, never in the text to the recipient."""
    from followup_lib.data.logbook import save_record

    row = demo_store.row("interview_contacts", {"interview_id": "I004", "contact_id": "K001"})
    save_record(demo_store, "interview_contacts", {**row, "topics": None}, row["row_version"])
    view = WorkingSession(demo_store.url, "C001", AS_OF, drafts_dir=tmp_path / "drafts")
    try:
        samir = next(v for label, v in view.state.action_options() if "Samir Okoye" in label)
        view.action_list.value = samir
        view.open_button.click()
        assert view.draft_box.layout.display is None
        assert "for you, not the recipient" in view.draft_review.value
        assert "for you, not the recipient" not in view.draft_body.value
        elena = next(v for label, v in view.state.action_options() if "Elena Voss" in label and "Thank" in label)
        view.action_list.value = elena
        view.open_button.click()
        assert view.draft_review.value == ""
    finally:
        view.state.close()
