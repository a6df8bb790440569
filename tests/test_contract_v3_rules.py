"""Contract v3's rules (PRODUCT.md, "Contract v3"): message kinds with consequences,
outcomes, business days, one employer a day. Each situation is tested on both
sides of its rule, in memory, through the pure ``due_actions``."""

from __future__ import annotations

import pytest

from followup_lib.settings import Settings

from contract_builders import (
    application,
    contact,
    day,
    due,
    interview,
    message,
    none_of,
    of_kind,
    one,
    ref_use,
    reference,
)

LETTER = dict(application_id="A1", verbal_on="2026-11-02", written_received_on="2026-11-06", salary="£52,000")


# ------------------------------------------------------------ offers


def test_a_verbal_yes_does_not_hide_the_letter():
    rows = dict(
        applications=[application(status="accepted")],
        interviews=[interview(final_round=True)],
        offers=[{**LETTER, "accepted_on": "2026-11-03", "response_deadline": "2026-11-13"}],
    )
    a = one(due("2026-11-09", **rows), "review_offer_letter")
    assert a["status"] == "overdue" and "after you said yes to the verbal offer on 3 Nov" in a["why"]
    assert "benefits" in a["why"] and "ask before you sign" in a["why"]
    # The other side: the letter itself was accepted (on or after it came): nothing to review.
    rows["offers"] = [{**LETTER, "accepted_on": "2026-11-07"}]
    none_of(due("2026-11-09", **rows), "review_offer_letter")


def test_a_deadline_given_with_a_verbal_offer_is_minded():
    verbal = dict(application_id="A1", verbal_on="2026-11-10", written_requested_on="2026-11-10")
    rows = dict(
        applications=[application(status="offer")],
        interviews=[interview(final_round=True)],
        offers=[{**verbal, "response_deadline": "2026-11-17"}],
    )
    close = one(due("2026-11-16", **rows), "request_written_offer")
    assert close["priority"] == 1 and "respond by 17 Nov" in close["why"]
    gone = one(due("2026-11-19", **rows), "request_written_offer")
    assert "has passed unanswered" in gone["why"] and gone["status"] == "overdue"
    assert due("2026-11-19", **rows).iloc[0]["kind"] == "request_written_offer"
    # Without a deadline, the request waits its 3 business days and says nothing of one.
    rows["offers"] = [verbal]
    a = one(due("2026-11-16", **rows), "request_written_offer")
    assert a["priority"] != 1 and "respond by" not in a["why"] and "passed" not in a["why"]
    # Once the client said yes, the verbal deadline is answered.
    rows["offers"] = [{**verbal, "response_deadline": "2026-11-17", "accepted_on": "2026-11-11"}]
    assert "passed" not in one(due("2026-11-19", **rows), "request_written_offer")["why"]


def test_an_extension_request_holds_the_deadline_until_the_employer_answers():
    rows = dict(
        applications=[application(status="offer")],
        interviews=[interview(final_round=True)],
        offers=[{**LETTER, "response_deadline": "2026-11-13"}],
        messages=[message("M1", "2026-11-09", kind="review_offer_letter")],
    )
    before = one(due("2026-11-16", **rows), "review_offer_letter")
    assert "has passed unanswered" in before["why"]
    rows["messages"].append(message("M2", "2026-11-16", kind="extension_request"))
    for on in ("2026-11-17", "2026-11-19", "2026-11-23"):
        actions = due(on, **rows)
        assert not actions["why"].str.contains("passed unanswered").any(), on
        assert not actions["why"].str.contains("ask for more time").any(), on
    # Their answer with a new date moves the deadline; the reminder comes back for it.
    rows["messages"].append(message("M3", "2026-11-18", "received", "update", next_step_by="2026-11-27"))
    assert of_kind(due("2026-11-19", **rows), "review_offer_letter").empty
    late = one(due("2026-11-30", **rows), "review_offer_letter")
    assert "27 Nov" in late["why"] and "passed unanswered" in late["why"]


def test_offer_messages_stand_for_the_offers_table():
    rows = dict(interviews=[interview(final_round=True)], messages=[message("M1", "2026-11-10", "received", "offer")])
    a = one(due("2026-11-10", **rows), "request_written_offer")
    assert "verbal offer on 10 Nov" in a["why"]
    none_of(due("2026-11-10", **rows), "offer_checkin")
    rows["messages"] = [message("M1", "2026-11-10", "received", "Offer letter")]
    assert one(due("2026-11-10", **rows), "review_offer_letter")["status"] == "due"
    rows["messages"] = [message("M1", "2026-11-10", "received", "update")]
    none_of(due("2026-11-10", **rows), "request_written_offer")


# ------------------------------------------------------------ outcomes


def test_a_rejection_by_email_closes_the_application():
    rows = dict(
        interviews=[interview(final_round=True, held_on="2026-11-02")],
        references=[reference()],
        reference_uses=[ref_use(briefed_on="2026-11-03")],
        messages=[message("M1", "2026-11-12", "received", "rejection")],
    )
    actions = due("2026-11-16", **rows)
    assert set(actions["kind"]) == {"close_the_loop"}
    a = one(actions, "close_the_loop")
    assert a["due_on"] == day("2026-11-12") and "they decided not to go ahead" in a["why"]
    # The other side: a plain update restarts the wait, and the check-in comes.
    rows["messages"] = [message("M1", "2026-11-12", "received", "update")]
    assert one(due("2026-11-20", **rows), "offer_checkin")["status"] == "overdue"
    none_of(due("2026-11-20", **rows), "close_the_loop")


def test_a_rescinded_offer_closes_it_and_resumes_the_others():
    rows = dict(
        applications=[application(status="accepted"), application("A2", "Initech")],
        interviews=[
            interview(final_round=True),
            interview("I2", "A2", next_step_by="2026-11-09"),
        ],
        references=[reference()],
        reference_uses=[ref_use()],
        offers=[{**LETTER, "accepted_on": "2026-11-07", "approved_on": "2026-11-09"}],
    )
    approved = due("2026-11-16", **rows)
    assert one(approved, "withdraw_application", "A2")
    none_of(approved, "status_inquiry", "A2")
    rows["offers"] = [{**rows["offers"][0], "rescinded_on": "2026-11-12"}]
    after = due("2026-11-16", **rows)
    none_of(after, "withdraw_application")
    assert one(after, "status_inquiry", "A2")["status"] == "overdue"
    loop = one(after, "close_the_loop", "A1")
    assert "they withdrew their offer" in loop["why"] and "you got the job" not in loop["why"]


@pytest.mark.parametrize(
    "reason, words",
    [("relocation", "you withdrew: the role meant relocating"), (None, "has ended (you withdrew):")],
)
def test_the_reason_an_application_ended_is_only_what_is_recorded(reason, words):
    rows = dict(
        applications=[application(status="withdrawn", closed_on="2026-11-10", closed_reason=reason)],
        interviews=[interview()],
        references=[reference()],
        reference_uses=[ref_use()],
    )
    why = one(due("2026-11-16", **rows), "close_the_loop")["why"]
    assert words in why and "another offer" not in why


# ------------------------------------------------------------ the employer's word


def test_an_invitation_holds_the_silence_rules():
    rows = dict(
        interviews=[interview(next_step_by="2026-11-05")],
        messages=[message("M1", "2026-11-06", "received", "invitation")],
    )
    none_of(due("2026-11-25", **rows), "status_inquiry")
    rows["messages"] = []
    assert one(due("2026-11-25", **rows), "status_inquiry")["status"] == "overdue"


@pytest.mark.parametrize("kind", ["auto_reply", "bounce", "Auto reply"])
def test_an_automatic_reply_is_not_word_from_the_employer(kind):
    rows = dict(
        interviews=[interview(next_step_by="2026-11-05")],
        messages=[message("M1", "2026-11-09", "received", kind)],
    )
    a = one(due("2026-11-16", **rows), "status_inquiry")
    assert "no word since" in a["why"]
    rows["messages"] = [message("M1", "2026-11-09", "received", "update")]
    assert "no word since" not in " ".join(due("2026-11-16", **rows)["why"])


def test_a_bounce_makes_its_action_due_again():
    sent = message("M1", "2026-11-02", kind="thank_you_note", action_id="thank_you_note:A1:I1")
    rows = dict(interviews=[interview()], messages=[sent])
    none_of(due("2026-11-03", **rows), "thank_you_note")
    rows["messages"] = [sent, message("M2", "2026-11-03", "received", "bounce", action_id="thank_you_note:A1:I1")]
    a = one(due("2026-11-03", **rows), "thank_you_note")
    assert a["action_id"] == "thank_you_note:A1:I1:again" and "did not arrive" in a["why"]
    # Sent again: done.
    rows["messages"].append(message("M3", "2026-11-03", kind="thank_you_note", action_id="thank_you_note:A1:I1:again"))
    none_of(due("2026-11-04", **rows), "thank_you_note")


def test_several_bounces_at_once_each_make_their_own_action_due_again():
    """Two thank-you notes and a kept promise, each come back: all three are due
    again; a fourth message, delivered, stays done."""
    ids = ["thank_you_note:A1:I1", "thank_you_note:A2:I2", "keep_promise:A1:P1", "thank_you_note:A3:I3"]
    sent = [
        message(f"S{i}", "2026-11-10", kind=a.split(":")[0], aid=a.split(":")[1], action_id=a)
        for i, a in enumerate(ids)
    ]
    back = [
        message(f"B{i}", "2026-11-10", "received", "bounce", aid=a.split(":")[1], action_id=a)
        for i, a in enumerate(ids[:3])
    ]
    rows = dict(
        applications=[application("A1"), application("A2", "Initech"), application("A3", "Umbrella")],
        interviews=[
            interview("I1", "A1", "2026-11-09", thank_you_sent_on="2026-11-10"),
            interview("I2", "A2", "2026-11-09", thank_you_sent_on="2026-11-10"),
            interview("I3", "A3", "2026-11-09", thank_you_sent_on="2026-11-10"),
        ],
        promises=[
            dict(promise_id="P1", application_id="A1", what="a work sample", due_on="2026-11-10", done_on="2026-11-10")
        ],
        messages=sent + back,
    )
    actions = due("2026-11-11", **rows)
    again = set(actions.loc[actions["action_id"].str.endswith(":again"), "action_id"])
    assert again == {a + ":again" for a in ids[:3]}
    assert not actions["action_id"].str.startswith("thank_you_note:A3").any()


# ------------------------------------------------------------ days and people


def test_a_friday_interviews_thank_you_is_due_on_monday():
    rows = dict(interviews=[interview(held_on="2026-11-13", thank_you_sent_on=None)])
    a = one(due("2026-11-16", **rows), "thank_you_note")
    assert a["due_on"] == day("2026-11-16") and a["status"] == "due"
    # A Tuesday interview's is due on Wednesday.
    rows = dict(interviews=[interview(held_on="2026-11-10", thank_you_sent_on=None)])
    assert one(due("2026-11-10", **rows), "thank_you_note")["due_on"] == day("2026-11-11")


def test_no_thank_you_to_an_interviewer_not_named():
    rows = dict(interviews=[interview(thank_you_sent_on=None, interviewer_name=None, interviewer_email=None)])
    none_of(due("2026-11-03", **rows), "thank_you_note")
    rows = dict(interviews=[interview(thank_you_sent_on=None)])
    assert one(due("2026-11-03", **rows), "thank_you_note")["recipient"] == "Priya Natarajan"


def test_one_employer_one_message_a_day_the_promise_first():
    rows = dict(
        contacts=[contact("K1", point_of_contact=True)],
        interviews=[interview(next_step_by="2026-11-04")],
        promises=[dict(promise_id="P1", application_id="A1", what="the summary", due_on="2026-11-06")],
    )
    actions = due("2026-11-16", **rows)
    assert one(actions, "keep_promise")["status"] == "overdue"
    inquiry = one(actions, "status_inquiry")
    assert inquiry["status"] == "upcoming" and inquiry["due_on"] == day("2026-11-23")
    assert "one message a day" in inquiry["why"] and "Priya Natarajan" in inquiry["why"]
    # Why a week and not a day: the inquiry keeps its distance from today's message.
    assert inquiry["why"].endswith("a status inquiry then waits 5 business days after a message to them."), inquiry[
        "why"
    ]
    # Promise kept today: the inquiry then waits the gap from that contact, as before.
    # Two applications: each gets its own message.
    rows["applications"] = [application(), application("A2", "Initech")]
    rows["promises"] = [dict(promise_id="P1", application_id="A2", what="the summary", due_on="2026-11-06")]
    rows["interviews"].append(interview("I2", "A2"))
    actions = due("2026-11-16", **rows)
    assert one(actions, "status_inquiry", "A1")["status"] == "overdue"


def test_panel_thank_yous_all_go_on_the_same_day():
    rows = dict(
        contacts=[contact("K1", name="Samir Okoye"), contact("K2", name="Julia Brandt", role="hr")],
        interviews=[interview(thank_you_sent_on=None, held_on="2026-11-13")],
        interview_contacts=[dict(interview_id="I1", contact_id="K1"), dict(interview_id="I1", contact_id="K2")],
    )
    notes = of_kind(due("2026-11-16", **rows), "thank_you_note")
    assert len(notes) == 3 and set(notes["status"]) == {"due"}


def test_the_reference_check_in_cap_counts_a_check_in_recorded_on_the_row():
    rows = dict(
        interviews=[interview(final_round=True, held_on="2026-10-01")],
        references=[reference()],
        reference_uses=[ref_use(briefed_on="2026-10-02", last_checkin_on="2026-10-20")],
        messages=[
            message("M1", "2026-10-09", kind="reference_checkin", reference_id="R1"),
            message("M2", "2026-10-16", kind="reference_checkin", reference_id="R1"),
        ],
    )
    none_of(due("2026-11-16", **rows), "reference_checkin")  # 2 logged + 1 recorded = 3
    rows["messages"] = rows["messages"][:1]
    a = one(due("2026-11-16", **rows), "reference_checkin")
    assert a["attempt"] == 3 and "you last spoke on 20 Oct" in a["why"]


def test_a_logged_call_is_not_no_check_in_yet():
    rows = dict(
        interviews=[interview(final_round=True, held_on="2026-11-05")],
        messages=[message("M1", "2026-11-12", kind="call", channel="phone")],
    )
    a = one(due("2026-11-20", **rows), "offer_checkin")
    assert "no check-in yet" not in a["why"] and "last in touch on 12 Nov" in a["why"]
    rows["messages"] = []
    assert "no check-in yet" in one(due("2026-11-20", **rows), "offer_checkin")["why"]


def test_settings_still_apply():
    rows = dict(interviews=[interview(held_on="2026-11-13", thank_you_sent_on=None)])
    a = one(due("2026-11-16", Settings(thank_you_within_days=2), **rows), "thank_you_note")
    assert a["due_on"] == day("2026-11-17")
