"""Contract v2, the pure rules (issue 9, PRODUCT.md guidance 1–10): each new
situation on both sides of its rule, on typed tables built in memory.

The tables are typed exactly as ``Store.load`` returns them (by the store's own
``_typed``); no SQLite here. The store parts (migration, import, Mark sent,
refusals) are in test_contract_v2_data.py.

November 2026: Mon 2, Fri 6, Mon 9, Wed 11, Fri 13, Mon 16, Fri 20, Mon 23,
Thu 26 (Thanksgiving in the US), Fri 27, Mon 30.
"""

from __future__ import annotations

import pandas as pd
import pytest

from followup_lib.data.demo import DEMO_AS_OF
from followup_lib.data.store import ROW_VERSION, _typed
from followup_lib.kinds import ACTION_KINDS
from followup_lib.logic.rules import due_actions
from followup_lib.schema import TABLE_ORDER, TABLES
from followup_lib.settings import Settings

# ------------------------------------------------------------------ small local builders

COACHEE = dict(coachee_id="C1", name="Maya Lindqvist", email="maya@example.com", coach="Dana Reyes")


def application(aid: str = "A1", company: str = "Globex", status: str = "active", **over) -> dict:
    return dict(application_id=aid, coachee_id="C1", company=company, role="Data Analyst", status=status, **over)


def interview(iid: str = "I1", aid: str = "A1", held_on: str = "2026-11-02", **over) -> dict:
    """An interview with Priya, thanked on the day, with no date given and not the final round."""
    row = dict(
        interview_id=iid,
        application_id=aid,
        held_on=held_on,
        round="1",
        format="video",
        interviewer_name="Priya Natarajan",
        interviewer_email="priya@globex.example",
        interviewer_phone=None,
        preferred_channel="email",
        next_step_by=None,
        final_round=False,
        thank_you_sent_on=held_on,
    )
    row.update(over)
    return row


def contact(cid: str, aid: str = "A1", name: str = "Chloe Adams", **over) -> dict:
    row = dict(
        contact_id=cid,
        application_id=aid,
        name=name,
        title="Talent Partner",
        email=f"{cid.lower()}@globex.example",
        phone=None,
        preferred_channel="email",
        point_of_contact=False,
    )
    row.update(over)
    return row


def reference(rid: str = "R1", name: str = "Tom Becker", **over) -> dict:
    row = dict(reference_id=rid, coachee_id="C1", name=name, email=f"{rid.lower()}@example.org")
    row.update(over)
    return row


def ref_use(rid: str = "R1", aid: str = "A1", **over) -> dict:
    row = dict(reference_id=rid, application_id=aid, given_on="2026-10-01")
    row.update(over)
    return row


def message(mid: str, on: str, direction: str = "sent", kind: str = "update", aid: str = "A1", **over) -> dict:
    row = dict(message_id=mid, application_id=aid, on=on, direction=direction, channel="email", kind=kind)
    row.update(over)
    return row


def typed_tables(**rows: list[dict]) -> dict[str, pd.DataFrame]:
    """Every table of the schema, typed as ``Store.load`` returns it (the store's own
    ``_typed``, a row_version of 1); tables not named are empty. Maya and her Globex
    application unless coachees / applications are given."""
    rows.setdefault("coachees", [COACHEE])
    rows.setdefault("applications", [application()])
    unknown = set(rows) - set(TABLES)
    assert not unknown, unknown
    out = {}
    for name in TABLE_ORDER:
        t = TABLES[name]
        for r in rows.get(name, []):
            assert set(r) <= set(t.column_names), f"{name} has no column {set(r) - set(t.column_names)}"
        frame = pd.DataFrame(
            [{c: r.get(c) for c in t.column_names} for r in rows.get(name, [])], columns=t.column_names, dtype=object
        )
        frame[ROW_VERSION] = 1
        out[name] = _typed(t, frame)
    return out


def due(as_of: str, settings: Settings | None = None, **rows: list[dict]) -> pd.DataFrame:
    return due_actions(typed_tables(**rows), as_of, settings or Settings())


def of_kind(actions: pd.DataFrame, kind: str, app: str | None = None) -> pd.DataFrame:
    rows = actions[actions["kind"].eq(kind)]
    if app is not None:
        rows = rows[rows["application_id"].eq(app)]
    return rows.reset_index(drop=True)


def one(actions: pd.DataFrame, kind: str, app: str | None = None) -> dict:
    rows = of_kind(actions, kind, app)
    assert len(rows) == 1, f"expected one {kind}, got {len(rows)}:\n{actions[['action_id', 'status', 'due_on']]}"
    return rows.iloc[0].to_dict()


def none_of(actions: pd.DataFrame, kind: str, app: str | None = None) -> None:
    rows = of_kind(actions, kind, app)
    assert rows.empty, f"expected no {kind}, got:\n{rows[['action_id', 'status', 'due_on', 'why']]}"


def day(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def blank(value) -> str | None:
    """None for every kind of missing value (None, NaN, NaT, NA), else the value."""
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def with_other_work(rows: dict, on: str) -> dict:
    """The same rows plus a promise to Initech due on ``on``: the list of actions is
    not empty, whatever the rule under test leaves out (see test_nothing_to_do_…)."""
    return {
        **rows,
        "applications": rows.get("applications", [application()]) + [application("A9", company="Initech")],
        "promises": rows.get("promises", [])
        + [dict(promise_id="P9", application_id="A9", what="a list of projects", due_on=on)],
    }


# ------------------------------------------------------------------ 1. a panel: one thank-you per person met

PANEL = dict(
    interviews=[interview(held_on="2026-11-09", format="panel", thank_you_sent_on=None)],
    contacts=[
        contact("K1", name="Samir Okoye", title="Data Engineering Lead", email="samir@globex.example"),
        contact("K2", name="Julia Brandt", title="HR", email=None, phone="+1 555 0102", preferred_channel="phone"),
    ],
    interview_contacts=[dict(interview_id="I1", contact_id="K1"), dict(interview_id="I1", contact_id="K2")],
)


def notes_of(actions: pd.DataFrame) -> list[tuple]:
    return sorted(
        (
            r["recipient"],
            blank(r["recipient_email"]),
            blank(r["recipient_phone"]),
            r["channel"],
            blank(r["contact_id"]),
            r["interview_id"],
            r["due_on"],
            r["status"],
        )
        for r in of_kind(actions, "thank_you_note").to_dict("records")
    )


def test_a_panel_of_three_gets_three_thank_you_notes_one_per_person():
    tuesday = day("2026-11-10")
    assert notes_of(due("2026-11-10", **PANEL)) == [
        ("Julia Brandt", None, "+1 555 0102", "phone", "K2", "I1", tuesday, "due"),
        ("Priya Natarajan", "priya@globex.example", None, "email", None, "I1", tuesday, "due"),
        ("Samir Okoye", "samir@globex.example", None, "email", "K1", "I1", tuesday, "due"),
    ]
    # The day of the interview: the same three, not yet due.
    assert [n[-1] for n in notes_of(due("2026-11-09", **PANEL))] == ["upcoming"] * 3
    whys = of_kind(due("2026-11-10", **PANEL), "thank_you_note")["why"].tolist()
    assert sorted(w.split(" at Globex")[0] for w in whys) == [
        "You interviewed with Julia Brandt",
        "You interviewed with Priya Natarajan",
        "You interviewed with Samir Okoye",
    ]


def test_a_panel_member_thanked_drops_only_their_note():
    rows = {
        **PANEL,
        "interview_contacts": [
            dict(interview_id="I1", contact_id="K1", thank_you_sent_on="2026-11-10"),
            dict(interview_id="I1", contact_id="K2"),
        ],
    }
    assert [n[0] for n in notes_of(due("2026-11-11", **rows))] == ["Julia Brandt", "Priya Natarajan"]
    # The interviewer's own note is recorded on the interview, and drops only hers.
    rows["interviews"] = [{**PANEL["interviews"][0], "thank_you_sent_on": "2026-11-10"}]
    assert [n[0] for n in notes_of(due("2026-11-11", **rows))] == ["Julia Brandt"]


def test_a_contact_of_another_application_is_no_panel_member():
    rows = {
        **PANEL,
        "applications": [application(), application("A2", company="Initech")],
        "contacts": [PANEL["contacts"][0], contact("K2", aid="A2", name="Julia Brandt")],
    }
    assert [n[0] for n in notes_of(due("2026-11-10", **rows))] == ["Priya Natarajan", "Samir Okoye"]


# ------------------------------------------------------------------ 2. the point of contact

DATE_PASSED = dict(interviews=[interview(next_step_by="2026-11-06")])  # due: Fri 6 + 2 business days = Tue 10
CHLOE = contact(
    "K1",
    name="Chloe Adams",
    email="chloe@globex.example",
    phone="+1 555 0175",
    preferred_channel="phone",
    point_of_contact=True,
)


def recipient_of(action: dict) -> tuple:
    return (action["recipient"], action["channel"], blank(action["contact_id"]), blank(action["recipient_phone"]))


def test_the_point_of_contact_gets_the_status_inquiry_by_their_preferred_channel():
    a = one(due("2026-11-10", contacts=[CHLOE], **DATE_PASSED), "status_inquiry")
    assert (a["due_on"], a["status"]) == (day("2026-11-10"), "due")
    assert recipient_of(a) == ("Chloe Adams", "phone", "K1", "+1 555 0175")
    assert a["recipient_email"] == "chloe@globex.example"


def test_without_a_point_of_contact_the_latest_interviewer_gets_the_status_inquiry():
    not_poc = {**CHLOE, "point_of_contact": False}
    a = one(due("2026-11-10", contacts=[not_poc], **DATE_PASSED), "status_inquiry")
    assert recipient_of(a) == ("Priya Natarajan", "email", None, None)
    assert a["recipient_email"] == "priya@globex.example"
    # Two interviews: the interviewer of the latest one, as in the first release.
    second = interview(
        "I2",
        held_on="2026-11-04",
        interviewer_name="Marcus Hale",
        interviewer_email=None,
        interviewer_phone="+1 555 0142",
        preferred_channel="phone",
        next_step_by="2026-11-06",
    )
    a = one(due("2026-11-10", contacts=[not_poc], interviews=[DATE_PASSED["interviews"][0], second]), "status_inquiry")
    assert recipient_of(a) == ("Marcus Hale", "phone", None, "+1 555 0142")


def test_the_point_of_contact_gets_the_decision_check_in():
    final = dict(interviews=[interview(final_round=True)])  # Mon 2 + 7 days: check-in on Mon 9
    a = one(due("2026-11-09", contacts=[CHLOE], **final), "offer_checkin")
    assert (a["due_on"], a["status"]) == (day("2026-11-09"), "due")
    assert recipient_of(a) == ("Chloe Adams", "phone", "K1", "+1 555 0175")
    a = one(due("2026-11-09", contacts=[{**CHLOE, "point_of_contact": False}], **final), "offer_checkin")
    assert recipient_of(a) == ("Priya Natarajan", "email", None, None)


# ------------------------------------------------------------------ 3. the employer moves the date, then goes quiet

MOVED = dict(
    interviews=[interview(next_step_by="2026-11-06")],
    messages=[message("M1", "2026-11-05", "received", next_step_by="2026-11-20")],
)


def test_a_moved_date_is_followed_up_at_the_new_date_plus_grace():
    # Fri 20 + 2 business days = Tue 24.
    before = one(due("2026-11-23", **MOVED), "status_inquiry")
    assert (before["due_on"], before["status"]) == (day("2026-11-24"), "upcoming")
    a = one(due("2026-11-24", **MOVED), "status_inquiry")
    assert (a["due_on"], a["status"]) == (day("2026-11-24"), "due")
    assert "moved the date" in a["why"] and "20 Nov" in a["why"]
    assert recipient_of(a) == ("Priya Natarajan", "email", None, None)


def test_the_old_date_no_longer_triggers_an_inquiry_once_moved():
    without_move = dict(interviews=MOVED["interviews"])
    assert one(due("2026-11-10", **without_move), "status_inquiry")["due_on"] == day("2026-11-10")
    none_of(due("2026-11-10", **MOVED), "status_inquiry")


def test_a_later_word_without_a_date_stops_the_inquiry_until_the_silence_lasts():
    quiet_word = dict(
        interviews=MOVED["interviews"],
        messages=MOVED["messages"] + [message("M2", "2026-11-23", "received", summary="still deciding")],
    )
    for as_of in ("2026-11-24", "2026-11-25", "2026-11-30"):
        due_now = of_kind(due(as_of, **quiet_word), "status_inquiry")
        assert (due_now["due_on"] > day(as_of)).all(), (as_of, due_now[["due_on", "why"]])
    # Silence always gets a follow-up: 7 business days after that word (Mon 23 -> Wed 2 Dec).
    a = one(due("2026-12-02", **quiet_word), "status_inquiry")
    assert (a["due_on"], a["status"]) == (day("2026-12-02"), "due")


# ------------------------------------------------------------------ 4. no date given

NO_DATE = dict(interviews=[interview()])  # Mon 2 Nov, not the final round, no date


def test_no_date_after_a_non_final_round_asks_after_seven_business_days_of_silence():
    before = one(due("2026-11-10", **NO_DATE), "status_inquiry")
    assert (before["due_on"], before["status"]) == (day("2026-11-11"), "upcoming")
    a = one(due("2026-11-11", **NO_DATE), "status_inquiry")
    assert (a["due_on"], a["status"]) == (day("2026-11-11"), "due")
    assert "gave no date" in a["why"] and "2 Nov" in a["why"]


def test_the_no_date_silence_is_a_setting():
    s = Settings(no_date_followup_business_days=3)  # Mon 2 + 3 business days = Thu 5
    assert one(due("2026-11-04", s, **NO_DATE), "status_inquiry")["status"] == "upcoming"
    a = one(due("2026-11-05", s, **NO_DATE), "status_inquiry")
    assert (a["due_on"], a["status"]) == (day("2026-11-05"), "due")


def test_no_date_after_the_final_round_gets_check_ins_instead():
    final = dict(interviews=[interview(final_round=True)])
    actions = due("2026-11-11", **final)
    none_of(actions, "status_inquiry")
    a = one(actions, "offer_checkin")
    assert (a["due_on"], a["status"]) == (day("2026-11-09"), "overdue")


# ------------------------------------------------------------------ 5. a logged call is an employer contact


@pytest.mark.parametrize("kind", ["call", "Phone call", "thank_you_note", "keep_promise", "request_written_offer"])
def test_any_sent_message_delays_the_status_inquiry_by_the_pester_gap(kind):
    rows = dict(
        interviews=DATE_PASSED["interviews"],
        messages=[message("M1", "2026-11-09", kind=kind, channel="phone")],
    )
    # Mon 9 + 5 business days = Mon 16 (not Tue 10).
    before = one(due("2026-11-13", **rows), "status_inquiry")
    assert (before["due_on"], before["status"]) == (day("2026-11-16"), "upcoming")
    assert one(due("2026-11-16", **rows), "status_inquiry")["status"] == "due"


def test_a_message_to_a_reference_is_no_employer_contact():
    rows = dict(
        interviews=DATE_PASSED["interviews"],
        references=[reference()],
        messages=[message("M1", "2026-11-09", kind="call", channel="phone", reference_id="R1")],
    )
    a = one(due("2026-11-10", **rows), "status_inquiry")
    assert (a["due_on"], a["status"]) == (day("2026-11-10"), "due")


def test_a_logged_call_holds_the_next_check_in_for_the_pester_gap():
    final = [interview(final_round=True)]  # check-in otherwise due Mon 9
    call = [message("M1", "2026-11-05", kind="call", channel="phone")]
    s = Settings(pester_gap_business_days=10)  # Thu 5 + 10 business days = Thu 19
    before = one(due("2026-11-18", s, interviews=final, messages=call), "offer_checkin")
    assert (before["due_on"], before["status"]) == (day("2026-11-19"), "upcoming")
    assert one(due("2026-11-19", s, interviews=final, messages=call), "offer_checkin")["status"] == "due"
    # The same call to a reference: the check-in keeps its day.
    to_ref = [{**call[0], "reference_id": "R1"}]
    a = one(due("2026-11-09", s, interviews=final, messages=to_ref, references=[reference()]), "offer_checkin")
    assert (a["due_on"], a["status"]) == (day("2026-11-09"), "due")


# ------------------------------------------------------------------ 6. public holidays


def holiday_world(country=None, subdivision=None) -> dict:
    # Interviewed Mon 16 Nov; they said Tue 24: grace of 2 business days ends Thu 26 (Thanksgiving).
    return dict(
        coachees=[{**COACHEE, "country": country, "subdivision": subdivision}],
        interviews=[interview(held_on="2026-11-16", next_step_by="2026-11-24")],
    )


def test_a_grace_period_ending_on_thanksgiving_moves_to_the_next_business_day():
    before = one(due("2026-11-26", **holiday_world("US")), "status_inquiry")
    assert (before["due_on"], before["status"]) == (day("2026-11-27"), "upcoming")
    a = one(due("2026-11-27", **holiday_world("US")), "status_inquiry")
    assert (a["due_on"], a["status"]) == (day("2026-11-27"), "due")


def test_with_no_country_only_weekends_are_skipped():
    a = one(due("2026-11-26", **holiday_world()), "status_inquiry")
    assert (a["due_on"], a["status"]) == (day("2026-11-26"), "due")


def test_the_country_setting_applies_when_the_coachee_gives_none():
    a = one(due("2026-11-26", Settings(country="US"), **holiday_world()), "status_inquiry")
    assert a["due_on"] == day("2026-11-27")
    # The coachee's own country wins over the setting (no holiday in GB on 26 Nov).
    a = one(due("2026-11-26", Settings(country="US"), **holiday_world("GB")), "status_inquiry")
    assert a["due_on"] == day("2026-11-26")


def test_a_subdivision_adds_its_own_holidays():
    # California also keeps the day after Thanksgiving: Wed 25, (26, 27, weekend), Mon 30.
    assert one(due("2026-11-26", **holiday_world("US", "CA")), "status_inquiry")["due_on"] == day("2026-11-30")
    assert one(due("2026-11-26", **holiday_world("US", "NY")), "status_inquiry")["due_on"] == day("2026-11-27")


# ------------------------------------------------------------------ 7. an offer's response deadline

LETTER = dict(
    application_id="A1",
    verbal_on="2026-11-02",
    written_requested_on="2026-11-02",
    written_received_on="2026-11-04",
    salary="$98,000",
    benefits="Health insurance",
    expense_reimbursement="Relocation",
    conditions="Background check",
    response_deadline="2026-11-10",
)


def offer_world(**offer_over) -> dict:
    """Globex's written offer (deadline Tue 10), and an older promise to Initech that is late."""
    return dict(
        applications=[application(status="offer"), application("A2", company="Initech")],
        interviews=[interview(final_round=True), interview("I2", "A2", interviewer_name="Marcus Hale")],
        promises=[dict(promise_id="P1", application_id="A2", what="a writing sample", due_on="2026-11-03")],
        offers=[{**LETTER, **offer_over}],
    )


def test_a_passed_response_deadline_is_the_most_urgent_action_of_all():
    actions = due("2026-11-11", **offer_world())
    first = actions.iloc[0].to_dict()
    assert (first["kind"], first["application_id"], first["priority"]) == ("review_offer_letter", "A1", 1)
    assert (first["due_on"], first["status"]) == (day("2026-11-10"), "overdue")
    assert "has passed" in first["why"] and "10 Nov" in first["why"]
    assert "call them today" in first["why"] and "ask for more time" in first["why"]
    # The late promise is priority 1 too, and older: it comes second.
    assert (actions.iloc[1]["kind"], actions.iloc[1]["priority"]) == ("keep_promise", 1)
    assert actions["priority"].min() == 1


def test_a_deadline_not_yet_passed_does_not_say_it_has():
    on_the_day = one(due("2026-11-10", **offer_world()), "review_offer_letter")
    assert on_the_day["priority"] == 1  # within deadline_warning_days
    assert "passed" not in on_the_day["why"] and "respond by 10 Nov" in on_the_day["why"]
    earlier = one(due("2026-11-07", **offer_world()), "review_offer_letter")
    assert earlier["priority"] == 3  # three days ahead: not yet urgent
    # Accepted: nothing more to mind.
    none_of(due("2026-11-11", **offer_world(accepted_on="2026-11-09")), "review_offer_letter")


def test_after_a_question_about_the_letter_the_deadline_is_still_reminded():
    rows = offer_world(response_deadline="2026-11-20")
    rows["messages"] = [message("M1", "2026-11-05", kind="review_offer_letter", summary="Asked about the bonus")]
    none_of(due("2026-11-17", **rows), "review_offer_letter")  # 3 days ahead: quiet
    a = one(due("2026-11-18", **rows), "review_offer_letter")  # 2 days ahead: remind
    assert (a["due_on"], a["status"], a["priority"]) == (day("2026-11-18"), "due", 1)
    assert "20 Nov" in a["why"] and "passed" not in a["why"]
    gone = one(due("2026-11-21", **rows), "review_offer_letter")
    assert gone["priority"] == 1 and "has passed" in gone["why"]
    assert due("2026-11-21", **rows).iloc[0]["kind"] == "review_offer_letter"


# ------------------------------------------------------------------ 8. an approved offer, and closing the loop


def approval_world(approved_on: str | None = "2026-11-10") -> dict:
    """Globex's offer accepted (and approved); Initech and Umbrella still open; Hooli
    rejected her."""
    return dict(
        applications=[
            application(status="accepted"),
            application("A2", company="Initech"),
            application("A3", company="Umbrella"),
            application("A4", company="Hooli", status="rejected", closed_on="2026-11-06"),
        ],
        interviews=[
            interview(final_round=True, held_on="2026-10-26"),
            # Initech: a date that has passed (status inquiry), a promise, a point of contact.
            interview("I2", "A2", interviewer_name="Ben Ito", next_step_by="2026-11-04"),
            # Umbrella: two final rounds (check-in, reference check-in), no point of contact.
            interview("I3", "A3", held_on="2026-10-26", final_round=True, interviewer_name="Ada Wu"),
            interview("I4", "A3", held_on="2026-11-02", final_round=True, interviewer_name="Marcus Hale"),
            interview("I5", "A4", held_on="2026-10-20", interviewer_name="Owen Price"),
        ],
        contacts=[contact("K2", aid="A2", name="Hana Kim", point_of_contact=True)],
        promises=[dict(promise_id="P2", application_id="A2", what="a sample report", due_on="2026-11-12")],
        references=[reference("R1"), reference("R2", name="Ana Ruiz"), reference("R3", name="Lee Chan")],
        reference_uses=[
            ref_use("R1", "A1", briefed_on="2026-10-27"),
            ref_use("R3", "A1", briefed_on="2026-10-27"),
            ref_use("R1", "A2", briefed_on="2026-11-03"),
            ref_use("R2", "A3", briefed_on="2026-11-03"),
            ref_use("R1", "A4", briefed_on="2026-10-21"),
            ref_use("R2", "A4", briefed_on="2026-10-21", thanked_on="2026-11-09"),
        ],
        offers=[
            dict(
                **{**LETTER, "response_deadline": "2026-11-06"},
                accepted_on="2026-11-05",
                approved_on=approved_on,
            )
        ],
    )


def test_an_approved_offer_withdraws_from_every_other_open_application():
    actions = due("2026-11-16", **approval_world())
    w = of_kind(actions, "withdraw_application")
    got = sorted(
        (r["application_id"], r["recipient"], blank(r["contact_id"]), r["due_on"]) for r in w.to_dict("records")
    )
    assert got == [
        ("A2", "Hana Kim", "K2", day("2026-11-10")),  # its point of contact
        ("A3", "Marcus Hale", None, day("2026-11-10")),  # else its latest interviewer
    ]
    # Nothing else for them: no inquiry, check-in, promise, reference check-in.
    for aid in ("A2", "A3"):
        assert set(actions.loc[actions["application_id"].eq(aid), "kind"]) == {"withdraw_application"}, aid
    none_of(actions, "await_approval")


def test_close_the_loop_with_the_references_of_the_approved_and_the_rejected_application():
    actions = due("2026-11-16", **approval_world())
    loops = sorted(
        (r["application_id"], r["reference_id"], r["due_on"])
        for r in of_kind(actions, "close_the_loop").to_dict("records")
    )
    assert loops == [
        ("A1", "R1", day("2026-11-10")),  # approved on 10 Nov
        ("A1", "R3", day("2026-11-10")),
        ("A4", "R1", day("2026-11-06")),  # rejected on 6 Nov; Ana (R2) already thanked
    ]
    assert all(r in ("Tom Becker", "Lee Chan") for r in of_kind(actions, "close_the_loop")["recipient"])


def test_until_the_offer_is_approved_the_other_applications_stay_warm():
    actions = due("2026-11-16", **approval_world(approved_on=None))
    none_of(actions, "withdraw_application")
    assert one(actions, "await_approval")["application_id"] == "A1"
    assert one(actions, "status_inquiry", "A2")["recipient"] == "Hana Kim"
    assert one(actions, "keep_promise", "A2")["due_on"] == day("2026-11-12")
    assert one(actions, "offer_checkin", "A3")["recipient"] == "Marcus Hale"
    assert one(actions, "reference_checkin", "A3")["reference_id"] == "R2"
    assert [r for r in of_kind(actions, "close_the_loop")["application_id"]] == ["A4"]


def test_once_the_withdrawal_is_sent_its_references_hear_how_it_ended():
    rows = approval_world()
    # What Mark sent records for a withdrawal: the application withdrawn, that day.
    rows["applications"][1] = {**rows["applications"][1], "status": "withdrawn", "closed_on": "2026-11-16"}
    actions = due("2026-11-16", **rows)
    assert of_kind(actions, "withdraw_application")["application_id"].tolist() == ["A3"]
    a = one(actions, "close_the_loop", "A2")
    assert (a["reference_id"], a["due_on"]) == ("R1", day("2026-11-16"))
    assert "has ended (you withdrew" in a["why"]


def test_an_approval_counts_from_its_day():
    rows = approval_world(approved_on="2026-11-17")
    none_of(due("2026-11-16", **rows), "withdraw_application")
    assert len(of_kind(due("2026-11-17", **rows), "withdraw_application")) == 2


@pytest.mark.parametrize(
    "status,outcome",
    [("rejected", "they decided not to go ahead"), ("withdrawn", "you withdrew"), ("hired", "you got the job")],
)
def test_a_closed_application_gets_only_close_the_loop_once_per_unthanked_reference(status, outcome):
    rows = dict(
        applications=[application(status=status, closed_on="2026-11-12")],
        interviews=[interview(next_step_by="2026-11-04", thank_you_sent_on=None)],
        promises=[dict(promise_id="P1", application_id="A1", what="a writing sample", due_on="2026-11-13")],
        references=[reference("R1"), reference("R2", name="Ana Ruiz")],
        reference_uses=[ref_use("R1"), ref_use("R2")],
    )
    actions = due("2026-11-16", **rows)
    assert sorted(actions["kind"]) == ["close_the_loop", "close_the_loop"]
    assert sorted(actions["recipient"]) == ["Ana Ruiz", "Tom Becker"]
    assert set(actions["due_on"]) == {day("2026-11-12")}
    assert all(f"has ended ({outcome})" in why for why in actions["why"]), actions["why"].tolist()
    rows["reference_uses"] = [ref_use("R1", thanked_on="2026-11-13"), ref_use("R2")]
    assert due("2026-11-16", **rows)["recipient"].tolist() == ["Ana Ruiz"]
    rows["reference_uses"] = [ref_use("R1", thanked_on="2026-11-13"), ref_use("R2", thanked_on="2026-11-13")]
    actions = due("2026-11-16", **with_other_work(rows, "2026-11-16"))
    assert actions["application_id"].tolist() == ["A9"]  # nothing left for A1


def test_nothing_to_do_is_an_empty_list_not_an_error():
    rows = dict(
        applications=[application(status="rejected", closed_on="2026-11-12")],
        references=[reference()],
        reference_uses=[ref_use(thanked_on="2026-11-13")],
    )
    actions = due("2026-11-16", **rows)
    assert actions.empty
    assert {"kind", "status", "due_on", "priority", "recipient", "channel", "why"} <= set(actions.columns)


# ------------------------------------------------------------------ 9. reference check-ins


def test_no_reference_check_in_after_a_phone_screen_however_long():
    rows = dict(
        interviews=[interview(held_on="2026-10-01", format="phone")],
        references=[reference()],
        reference_uses=[ref_use(briefed_on="2026-10-02")],
    )
    none_of(due("2026-11-30", **rows), "reference_checkin")
    # The same after a final round: a check-in a week after the briefing.
    rows["interviews"] = [interview(held_on="2026-10-01", final_round=True)]
    assert one(due("2026-11-30", **rows), "reference_checkin")["due_on"] == day("2026-10-09")


FINAL_WITH_REF = dict(
    interviews=[interview(final_round=True)],  # Mon 2 Nov
    references=[reference()],
    reference_uses=[ref_use(briefed_on="2026-11-03")],
)


def test_from_the_final_round_a_reference_check_in_every_seven_days():
    before = one(due("2026-11-09", **FINAL_WITH_REF), "reference_checkin")
    assert (before["due_on"], before["status"]) == (day("2026-11-10"), "upcoming")
    a = one(due("2026-11-10", **FINAL_WITH_REF), "reference_checkin")
    assert (a["due_on"], a["status"], a["recipient"]) == (day("2026-11-10"), "due", "Tom Becker")
    checked = {**FINAL_WITH_REF, "reference_uses": [ref_use(briefed_on="2026-11-03", last_checkin_on="2026-11-10")]}
    assert one(due("2026-11-16", **checked), "reference_checkin")["status"] == "upcoming"
    assert one(due("2026-11-17", **checked), "reference_checkin")["due_on"] == day("2026-11-17")


def capped(n_sent: int, logged_by_mark_sent: bool = True) -> dict:
    """Check-ins already sent to Tom about Globex: as Mark sent logs them (with the
    action's id), or as an imported v2 file may hold them (a reference_id, no action id)."""
    anchors = ["2026-11-03", "2026-11-10", "2026-11-17"]
    sent = ["2026-11-10", "2026-11-17", "2026-11-24"][:n_sent]
    return {
        **FINAL_WITH_REF,
        "reference_uses": [ref_use(briefed_on="2026-11-03", last_checkin_on=sent[-1])],
        "messages": [
            message(
                f"M{i}",
                on,
                kind="reference_checkin",
                reference_id="R1",
                action_id=f"reference_checkin:A1:R1:{anchors[i - 1]}" if logged_by_mark_sent else None,
            )
            for i, on in enumerate(sent, 1)
        ],
    }


def test_reference_check_ins_stop_at_max_reference_checkins():
    a = one(due("2026-12-01", **capped(2)), "reference_checkin")  # 2 of 3: one more, a week after the last
    assert a["due_on"] == day("2026-11-24")
    none_of(due("2026-12-01", **capped(3)), "reference_checkin")
    none_of(due("2026-12-01", Settings(max_reference_checkins=2), **capped(2)), "reference_checkin")


def test_reference_check_ins_logged_without_an_action_id_count_too():
    a = one(due("2026-12-01", **capped(2, logged_by_mark_sent=False)), "reference_checkin")
    assert a["due_on"] == day("2026-11-24")
    none_of(due("2026-12-01", **capped(3, logged_by_mark_sent=False)), "reference_checkin")


@pytest.mark.parametrize(
    "change",
    [
        {"applications": [application(status="rejected", closed_on="2026-11-09")]},
        {"applications": [application(status="hired", closed_on="2026-11-09")]},
        {"reference_uses": [ref_use(briefed_on="2026-11-03", contacted_on="2026-11-06")]},
    ],
    ids=["rejected", "hired", "reference-reported-a-contact"],
)
def test_no_reference_check_in_once_closed_or_contacted(change):
    one(due("2026-11-10", **FINAL_WITH_REF), "reference_checkin")
    none_of(due("2026-11-10", **{**FINAL_WITH_REF, **change}), "reference_checkin")


# ------------------------------------------------------------------ 10. offers


def test_a_verbal_offer_already_accepted_still_gets_the_request_for_it_in_writing():
    rows = dict(
        applications=[application(status="accepted")],
        interviews=[interview(final_round=True)],
        offers=[dict(application_id="A1", verbal_on="2026-11-10", accepted_on="2026-11-10")],
    )
    a = one(due("2026-11-10", **rows), "request_written_offer")
    assert (a["due_on"], a["status"]) == (day("2026-11-10"), "due")
    assert "even though you have said yes" in a["why"]
    rows["offers"] = [{**rows["offers"][0], "written_received_on": "2026-11-12"}]
    none_of(due("2026-11-12", **rows), "request_written_offer")


@pytest.mark.parametrize(
    "iv,kind",
    [
        (interview(final_round=True), "offer_checkin"),
        (interview(next_step_by="2026-11-06"), "status_inquiry"),
    ],
    ids=["final-round", "date-passed"],
)
def test_an_offer_on_an_application_still_marked_active_stops_inquiries_and_check_ins(iv, kind):
    assert len(of_kind(due("2026-11-16", interviews=[iv]), kind)) == 1
    actions = due("2026-11-16", interviews=[iv], offers=[dict(application_id="A1", verbal_on="2026-11-12")])
    none_of(actions, "offer_checkin")
    none_of(actions, "status_inquiry")
    assert one(actions, "request_written_offer")["due_on"] == day("2026-11-12")


# ------------------------------------------------------------------ 11. max_checkins over the whole life


def two_final_rounds(n_checkins: int) -> dict:
    sent = ["2026-10-12", "2026-10-19", "2026-10-26"][:n_checkins]
    return dict(
        interviews=[
            interview(held_on="2026-10-05", final_round=True),
            interview("I2", held_on="2026-11-02", final_round=True),
        ],
        messages=[message(f"M{i}", on, kind="offer_checkin") for i, on in enumerate(sent, 1)],
    )


def test_a_second_final_round_does_not_restart_the_check_in_count():
    none_of(due("2026-11-16", **with_other_work(two_final_rounds(3), "2026-11-16")), "offer_checkin")
    a = one(due("2026-11-16", **two_final_rounds(2)), "offer_checkin")
    assert a["due_on"] == day("2026-11-09")  # a week after the second final round
    assert "2 of 3 check-ins sent" in a["why"] and "no check-in yet" not in a["why"]


# ------------------------------------------------------------------ 12. no interviewer name


ANONYMOUS = dict(interviewer_name=None, interviewer_email=None)


def test_with_no_interviewer_name_the_why_never_names_the_company_twice():
    rows = dict(
        applications=[application(), application("A2", status="offer"), application("A3"), application("A4")],
        interviews=[
            interview(next_step_by="2026-11-04", thank_you_sent_on=None, **ANONYMOUS),
            interview("I2", "A2", final_round=True, **ANONYMOUS),
            interview("I3", "A3", final_round=True, **ANONYMOUS),
            interview("I4", "A4", **ANONYMOUS),
        ],
        offers=[dict(application_id="A2", verbal_on="2026-11-10")],
    )
    actions = due("2026-11-16", **rows)
    assert sorted(actions["kind"]) == [
        "offer_checkin",
        "request_written_offer",
        "status_inquiry",
        "status_inquiry",
    ]
    for why in actions["why"]:
        assert "at Globex at Globex" not in why, why
        assert "your interviewer at Globex" not in why, why
    # Contract v3: an interview with no interviewer named has no one to thank.
    none_of(actions, "thank_you_note")
    # With the name, the why says who.
    rows["interviews"][0] = {**rows["interviews"][0], "interviewer_name": "Priya Natarajan"}
    assert one(due("2026-11-16", **rows), "thank_you_note")["why"].startswith(
        "You interviewed with Priya Natarajan at Globex on 2 Nov;"
    )


@pytest.mark.parametrize("kind", ["send", "contact"])
def test_with_no_interviewer_name_a_promise_never_names_the_company_twice(kind):
    rows = dict(
        interviews=[interview(**ANONYMOUS)],
        promises=[dict(promise_id="P1", application_id="A1", what="a writing sample", due_on="2026-11-05", kind=kind)],
    )
    a = one(due("2026-11-16", **rows), "keep_promise")
    assert "at Globex at Globex" not in a["why"], a["why"]
    assert "Globex" in a["why"] and "5 Nov" in a["why"]


# ------------------------------------------------------------------ 16. the demo shows every kind


def test_the_committed_demo_shows_every_action_kind(demo_tables):
    actions = due_actions(demo_tables, DEMO_AS_OF, Settings())
    assert set(actions["kind"]) == set(ACTION_KINDS)
    # Its panel (Harbor Health, I004): three people met, three notes.
    panel = of_kind(actions, "thank_you_note", "A003")
    assert sorted(panel["recipient"]) == ["Elena Voss", "Julia Brandt", "Samir Okoye"]
