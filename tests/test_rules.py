"""The due-action rules: each of the eleven kinds on both sides of its rule.

Every case is a tiny job search typed in memory exactly as ``Store.load`` types
it (``builders.world``), with no SQLite; ``test_in_memory_tables_are_what_the_store_loads``
keeps that builder honest against a real store. Dates are fixed; November 2026
runs Mon 2, Fri 6, Mon 9, Fri 13, Mon 16, Fri 20.
"""

from __future__ import annotations

import datetime as dt
import json
import warnings

import pandas as pd
import pytest

from followup_lib.data.validation import validate_tables
from followup_lib.kinds import ACTION_KINDS, BASE_PRIORITY
from followup_lib.logic.rules import add_business_days
from followup_lib.schema import BOOL, CHOICE, DATE, TABLE_ORDER, TABLES
from followup_lib.settings import Settings

from builders import (
    APP,
    AS_OF,
    FINAL,
    LETTER,
    OFFER_APP,
    day,
    due,
    interview,
    message,
    of_kind,
    offer,
    one,
    raw_world,
    ref_use,
    reference,
    store_rows,
    tables,
    world,
    world_rows,
)

# ------------------------------------------------------------------ the world, in memory and in a store

# Rows on every table the rules read, of every kind of cell (blank dates and
# booleans, a default status, keys given out of order).
WORLD_ROWS = dict(
    applications=[{**APP, "application_id": "A2", "status": "offer"}, {**APP, "status": ""}],
    interviews=[
        interview(interview_id="I2", application_id="A2", thank_you_sent_on="", final_round=""),
        interview(next_step_by="2026-11-06", final_round="true"),
    ],
    references=[reference()],
    reference_uses=[ref_use(briefed_on="2026-11-03")],
    promises=[dict(promise_id="P1", application_id="A1", what="a list", due_on="2026-11-04")],
    messages=[message("Q1", "2026-11-10", "sent", "status_inquiry"), message("M1", "2026-11-05", "received")],
    offers=[offer(application_id="A2", **LETTER, response_deadline="2026-11-18")],
)


def every_column_rows() -> dict[str, list[dict]]:
    """Three rows a table, keys in reverse order, a value of its kind in every column
    of the schema (a blank in some): whatever columns the schema grows, they are covered."""
    rows = {}
    for name in TABLE_ORDER:
        t = TABLES[name]
        rows[name] = []
        for i in (3, 2, 1):
            row = {}
            for j, c in enumerate(t.columns):
                if c.kind == BOOL:
                    value = {3: "", 2: "false", 1: "true"}[i]
                elif (i + j) % 3 == 0 and c.name not in t.key:
                    value = ""
                elif c.kind == DATE:
                    value = f"2026-11-{i + j:02d}"
                elif c.kind == CHOICE:
                    value = c.choices[(i + j) % len(c.choices)]
                else:
                    value = f"{c.name} {i} é"
                row[c.name] = value
            rows[name].append(row)
    return rows


@pytest.mark.parametrize("rows", ["the world", "every column", "nothing"])
def test_in_memory_tables_are_what_the_store_loads(empty_store, rows):
    """The one round trip through SQLite: ``tables()`` (what every rule test uses)
    equals ``Store.load`` of the same rows, values, dtypes, row order and all."""
    given = {"the world": world_rows(**WORLD_ROWS), "every column": every_column_rows(), "nothing": {}}[rows]
    loaded = store_rows(empty_store, **given)
    built = tables(**given)
    assert list(built) == list(loaded) == TABLE_ORDER
    for name in TABLE_ORDER:
        pd.testing.assert_frame_equal(built[name], loaded[name], check_dtype=True, obj=name)
        if rows != "nothing":
            assert len(built[name]) > 0 or name not in given, name
    if rows == "every column":  # the check above compared something of every kind
        iv = built["interviews"]
        assert pd.api.types.is_datetime64_dtype(iv["held_on"]) and str(iv["final_round"].dtype) == "boolean"
        assert iv["held_on"].isna().any() and iv["final_round"].isna().any() and iv["final_round"].any()
        assert iv["topics"].dtype == object and iv["topics"].isna().any() and iv["topics"].map(type).eq(str).any()
        assert built["interviews"]["interview_id"].is_monotonic_increasing


def test_world_rows_pass_import_validation():
    validated = validate_tables(raw_world(**WORLD_ROWS))
    built = world(**WORLD_ROWS)
    for name in TABLE_ORDER:  # the same typed tables, either way in
        key = list(TABLES[name].key)
        expected = validated[name].reindex(columns=TABLES[name].column_names).sort_values(key, ignore_index=True)
        got = built[name][TABLES[name].column_names]
        assert len(got) == len(expected)
        for col in TABLES[name].column_names:
            a, b = got[col].tolist(), expected[col].tolist()
            assert [None if pd.isna(x) else x for x in a] == [None if pd.isna(x) else x for x in b], (name, col)


# ------------------------------------------------------------------ business days


@pytest.mark.parametrize(
    "start, n, expected",
    [
        ("2026-11-06", 2, "2026-11-10"),  # Friday + 2 = Tuesday
        ("2026-11-05", 2, "2026-11-09"),  # Thursday + 2 = Monday
        ("2026-11-07", 2, "2026-11-10"),  # Saturday + 2 = Tuesday, not Wednesday
        ("2026-11-08", 2, "2026-11-10"),  # Sunday + 2 = Tuesday
        ("2026-11-09", 5, "2026-11-16"),  # Monday + 5 = next Monday
        ("2026-11-06", 0, "2026-11-06"),
        ("2026-11-07", 0, "2026-11-07"),
    ],
)
def test_business_days_skip_weekends(start, n, expected):
    out = add_business_days(pd.Series([pd.Timestamp(start)]), n)
    assert out.iloc[0] == pd.Timestamp(expected)


def test_business_days_keep_missing_dates_missing():
    out = add_business_days(pd.Series([pd.NaT, pd.Timestamp("2026-11-06")]), 2)
    assert pd.isna(out.iloc[0]) and out.iloc[1] == pd.Timestamp("2026-11-10")


# ------------------------------------------------------------------ 1. thank-you note


def test_thank_you_note_is_due_the_day_after_the_interview():
    t = world(interviews=[interview(thank_you_sent_on="")])
    a = one(due(t, "2026-11-03"), "thank_you_note")
    assert a["status"] == "due" and a["due_on"] == day("2026-11-03")
    assert a["priority"] == BASE_PRIORITY["thank_you_note"]
    assert a["recipient"] == "Priya Natarajan" and a["channel"] == "email"
    assert "Northwind Analytics" in a["why"] and "2 Nov" in a["why"] and "by 3 Nov" in a["why"]


def test_thank_you_note_is_overdue_after_its_day_and_upcoming_before():
    t = world(interviews=[interview(thank_you_sent_on="")])
    assert one(due(t, "2026-11-05"), "thank_you_note")["status"] == "overdue"
    upcoming = one(due(t, "2026-11-02"), "thank_you_note")
    assert upcoming["status"] == "upcoming"
    assert upcoming["priority"] == BASE_PRIORITY["thank_you_note"] + 5


def test_thank_you_note_disappears_once_sent():
    t = world(interviews=[interview(thank_you_sent_on="2026-11-03")])
    assert of_kind(due(t, "2026-11-04"), "thank_you_note").empty


def test_thank_you_note_waits_for_an_interview_not_yet_held():
    t = world(interviews=[interview(held_on="2026-11-20", thank_you_sent_on="")])
    assert of_kind(due(t, "2026-11-16"), "thank_you_note").empty
    assert len(of_kind(due(t, "2026-11-20"), "thank_you_note")) == 1


def test_one_thank_you_per_interview_still_owed():
    t = world(
        interviews=[
            interview(),  # thanked
            interview(
                interview_id="I2",
                held_on="2026-11-09",
                interviewer_name="Owen Price",
                interviewer_email="owen@northwind.example",
                thank_you_sent_on="",
            ),
        ],
    )
    a = one(due(t, "2026-11-10"), "thank_you_note")
    assert a["interview_id"] == "I2" and a["recipient"] == "Owen Price"


# ------------------------------------------------------------------ 2. brief references


def test_brief_references_one_per_reference_once_the_thank_you_is_out():
    t = world(
        interviews=[interview()],
        references=[reference(), reference(reference_id="R2", name="Ana Ruiz", email="ana@example.org")],
        reference_uses=[ref_use(), ref_use(reference_id="R2")],
    )
    rows = of_kind(due(t, "2026-11-04"), "brief_references")
    assert sorted(rows["recipient"]) == ["Ana Ruiz", "Tom Becker"]
    assert set(rows["due_on"]) == {day("2026-11-03")}  # the day the thank-you went out
    assert set(rows["status"]) == {"overdue"}
    why = rows.loc[rows["recipient"] == "Tom Becker", "why"].iloc[0]
    assert "Northwind Analytics" in why and "2 Nov" in why and "the churn dashboard" in why


def test_brief_references_waits_on_the_thank_you_due_date_when_not_sent():
    t = world(interviews=[interview(thank_you_sent_on="")], references=[reference()], reference_uses=[ref_use()])
    assert one(due(t, "2026-11-03"), "brief_references")["due_on"] == day("2026-11-03")


def test_brief_references_not_needed_once_briefed_after_the_interview():
    t = world(
        interviews=[interview()],
        references=[reference()],
        reference_uses=[ref_use(briefed_on="2026-11-03")],
    )
    assert of_kind(due(t, "2026-11-04"), "brief_references").empty


def test_brief_references_again_after_a_later_interview():
    rounds = [
        interview(),
        interview(interview_id="I2", held_on="2026-11-09", round="2", thank_you_sent_on="2026-11-10", **FINAL),
    ]
    t = world(interviews=rounds, references=[reference()], reference_uses=[ref_use(briefed_on="2026-11-03")])
    a = one(due(t, "2026-11-10"), "brief_references")
    assert a["interview_id"] == "I2" and a["due_on"] == day("2026-11-10")
    # ...and that pending briefing replaces the reference's check-in (a week after
    # the 3 Nov briefing, after a final round, one would be due that day)...
    assert of_kind(due(t, "2026-11-10"), "reference_checkin").empty
    # ...which comes back a week after the new briefing.
    t = world(interviews=rounds, references=[reference()], reference_uses=[ref_use(briefed_on="2026-11-10")])
    assert of_kind(due(t, "2026-11-10"), "brief_references").empty
    assert one(due(t, "2026-11-17"), "reference_checkin")["due_on"] == day("2026-11-17")


def test_brief_references_by_phone_when_the_reference_has_only_a_phone():
    t = world(interviews=[interview()], references=[reference(email="")], reference_uses=[ref_use()])
    assert one(due(t, "2026-11-04"), "brief_references")["channel"] == "phone"


# ------------------------------------------------------------------ 3. keep promises


def test_keep_promise_outranks_everything():
    t = world(
        interviews=[interview(thank_you_sent_on="")],
        promises=[dict(promise_id="P1", application_id="A1", what="a writing sample", due_on="2026-11-04")],
    )
    actions = due(t, "2026-11-04")
    a = one(actions, "keep_promise")
    assert a["priority"] == 1 and a["status"] == "due" and a["due_on"] == day("2026-11-04")
    assert a["recipient"] == "Priya Natarajan"
    assert "a writing sample" in a["why"] and "4 Nov" in a["why"] and "Northwind Analytics" in a["why"]
    assert actions.iloc[0]["kind"] == "keep_promise"  # ahead of the overdue thank-you
    assert one(actions, "thank_you_note")["status"] == "overdue"


def test_keep_promise_overdue_then_gone_once_done():
    p = dict(promise_id="P1", application_id="A1", what="a writing sample", due_on="2026-11-04")
    t = world(interviews=[interview()], promises=[p])
    assert one(due(t, "2026-11-06"), "keep_promise")["status"] == "overdue"
    t = world(interviews=[interview()], promises=[{**p, "done_on": "2026-11-04"}])
    assert of_kind(due(t, "2026-11-06"), "keep_promise").empty


def test_keep_promise_upcoming_only_within_the_upcoming_window():
    t = world(
        interviews=[interview()],
        promises=[dict(promise_id="P1", application_id="A1", what="a list", due_on="2026-11-13")],
    )
    assert of_kind(due(t, "2026-11-05"), "keep_promise").empty  # 8 days away: not listed
    a = one(due(t, "2026-11-06"), "keep_promise")  # 7 days away
    assert a["status"] == "upcoming" and a["priority"] == 1 + 5


# ------------------------------------------------------------------ 4. status inquiry


def test_status_inquiry_waits_for_the_grace_business_days():
    # Friday 6 Nov + 2 business days = Tuesday 10 Nov.
    t = world(interviews=[interview(next_step_by="2026-11-06")])
    before = one(due(t, "2026-11-09"), "status_inquiry")
    assert before["status"] == "upcoming" and before["due_on"] == day("2026-11-10")
    assert "if no word comes" in before["why"]
    on_day = one(due(t, "2026-11-10"), "status_inquiry")
    assert on_day["status"] == "due" and on_day["priority"] == BASE_PRIORITY["status_inquiry"]
    assert one(due(t, "2026-11-11"), "status_inquiry")["status"] == "overdue"


def test_status_inquiry_why_states_the_facts():
    t = world(interviews=[interview(next_step_by="2026-11-06")])
    a = one(due(t, "2026-11-16"), "status_inquiry")
    assert "Northwind Analytics said you would hear by 6 Nov; it is now 16 Nov" in a["why"]
    assert "2 Nov" in a["why"]
    assert a["recipient"] == "Priya Natarajan" and a["channel"] == "email"


def test_why_names_the_year_of_a_date_in_another_year():
    t = world(interviews=[interview(next_step_by="2026-11-06")])
    a = one(due(t, "2027-01-05"), "status_inquiry")
    assert (
        "said you would hear by 6 Nov 2026; it is now 5 Jan with no word since your interview on 2 Nov 2026" in a["why"]
    )


def test_status_inquiry_uses_the_channel_the_interviewer_prefers():
    t = world(interviews=[interview(next_step_by="2026-11-06", preferred_channel="phone")])
    assert one(due(t, "2026-11-16"), "status_inquiry")["channel"] == "phone"


def test_a_reply_without_a_new_date_counts_the_silence_from_the_reply():
    # Contract v2: a word from the employer answers their date but no longer silences
    # follow-ups for good; the no-date silence rule counts from it (Thu 5 Nov + 7
    # business days = Mon 16 Nov), not the date's grace period (Tue 10 Nov).
    t = world(
        interviews=[interview(next_step_by="2026-11-06")],
        messages=[message("M1", "2026-11-05", "received")],
    )
    early = one(due(t, "2026-11-10"), "status_inquiry")
    assert early["status"] == "upcoming" and early["due_on"] == day("2026-11-16")
    a = one(due(t, "2026-11-16"), "status_inquiry")
    assert a["status"] == "due" and a["due_on"] == day("2026-11-16")
    assert "last wrote on 5 Nov without a date and has been silent since" in a["why"]
    assert "said you would hear by" not in a["why"]
    # Each further word starts the count again: Thu 12 Nov + 7 = Mon 23 Nov.
    t = world(
        interviews=[interview(next_step_by="2026-11-06")],
        messages=[message("M1", "2026-11-05", "received"), message("M2", "2026-11-12", "received")],
    )
    later = one(due(t, "2026-11-16"), "status_inquiry")
    assert later["status"] == "upcoming" and later["due_on"] == day("2026-11-23")


def test_word_from_before_the_interview_does_not_count_as_a_reply():
    t = world(
        interviews=[interview(next_step_by="2026-11-06")],
        messages=[message("M1", "2026-10-28", "received", "invitation")],
    )
    assert len(of_kind(due(t, "2026-11-16"), "status_inquiry")) == 1


def test_status_inquiry_repeats_a_week_later_then_stops():
    iv = [interview(next_step_by="2026-11-06")]
    t = world(interviews=iv, messages=[message("Q1", "2026-11-10", "sent", "status_inquiry")])
    again = one(due(t, "2026-11-17"), "status_inquiry")
    assert again["due_on"] == day("2026-11-17") and again["status"] == "due"
    assert "once more" in again["why"]
    assert one(due(t, "2026-11-11"), "status_inquiry")["status"] == "upcoming"
    t = world(
        interviews=iv,
        messages=[
            message("Q1", "2026-11-10", "sent", "status_inquiry"),
            message("Q2", "2026-11-17", "sent", "status_inquiry"),
        ],
    )
    assert of_kind(due(t, "2026-11-30"), "status_inquiry").empty  # at most two


def test_status_inquiry_respects_the_pester_gap():
    # An offer check-in on Monday 9 Nov: no second contact before Monday 16 Nov.
    t = world(
        interviews=[interview(next_step_by="2026-11-06")],
        messages=[message("K1", "2026-11-09", "sent", "offer_checkin")],
    )
    a = one(due(t, "2026-11-12"), "status_inquiry")
    assert a["due_on"] == day("2026-11-16") and a["status"] == "upcoming"


def test_without_a_date_a_status_inquiry_after_seven_business_days_of_silence():
    # Contract v2 (the no-date silence rule): silence after a non-final round always
    # gets a follow-up. Mon 2 Nov + 7 business days = Wed 11 Nov.
    t = world(interviews=[interview(next_step_by="")])
    assert one(due(t, "2026-11-10"), "status_inquiry")["status"] == "upcoming"
    a = one(due(t, "2026-11-11"), "status_inquiry")
    assert a["status"] == "due" and a["due_on"] == day("2026-11-11")
    assert "gave no date at your interview on 2 Nov and has been silent since" in a["why"]
    assert a["recipient"] == "Priya Natarajan"
    # After a final round with no date, decision check-ins take over instead.
    t = world(interviews=[interview(**FINAL)])
    actions = due(t, "2026-11-30")
    assert of_kind(actions, "status_inquiry").empty and len(of_kind(actions, "offer_checkin")) == 1


# ------------------------------------------------------------------ 5. offer check-in


def test_offer_checkin_a_week_after_the_final_round():
    t = world(interviews=[interview(**FINAL)])
    assert one(due(t, "2026-11-08"), "offer_checkin")["status"] == "upcoming"
    a = one(due(t, "2026-11-09"), "offer_checkin")
    assert a["status"] == "due" and a["due_on"] == day("2026-11-09")
    assert a["priority"] == BASE_PRIORITY["offer_checkin"]
    assert "final round with Northwind Analytics was on 2 Nov" in a["why"] and "no check-in yet" in a["why"]


def test_no_offer_checkin_before_the_final_round():
    t = world(interviews=[interview(final_round="false", next_step_by="")])
    assert of_kind(due(t, "2026-11-30"), "offer_checkin").empty


def test_offer_checkin_every_seven_days_at_most_three():
    iv = [interview(**FINAL)]
    sent = [
        message(f"K{i}", d, "sent", "offer_checkin")
        for i, d in enumerate(["2026-11-09", "2026-11-16", "2026-11-23"], 1)
    ]
    t = world(interviews=iv, messages=sent[:1])
    a = one(due(t, "2026-11-16"), "offer_checkin")
    assert a["due_on"] == day("2026-11-16") and "1 of 3 check-ins sent" in a["why"]
    assert of_kind(due(t, "2026-11-12"), "offer_checkin")["status"].tolist() == ["upcoming"]
    t = world(interviews=iv, messages=sent[:2])
    assert one(due(t, "2026-11-23"), "offer_checkin")["due_on"] == day("2026-11-23")
    t = world(interviews=iv, messages=sent)
    assert of_kind(due(t, "2026-12-31"), "offer_checkin").empty


def test_offer_checkin_counts_from_the_employers_last_word():
    t = world(interviews=[interview(**FINAL)], messages=[message("M1", "2026-11-11", "received")])
    assert one(due(t, "2026-11-18"), "offer_checkin")["due_on"] == day("2026-11-18")


def test_offer_checkin_keeps_the_pester_gap_between_employer_contacts():
    # With a 2-day cadence the next note would fall on Wed 11 Nov, but the
    # check-in of Mon 9 Nov blocks every employer contact for 5 business days.
    t = world(interviews=[interview(**FINAL)], messages=[message("K1", "2026-11-09", "sent", "offer_checkin")])
    a = one(due(t, "2026-11-11", Settings(checkin_every_days=2)), "offer_checkin")
    assert a["due_on"] == day("2026-11-16") and a["status"] == "upcoming"


def test_final_round_with_a_date_asks_first_then_checks_in():
    iv = [interview(final_round="true", next_step_by="2026-11-06")]
    t = world(interviews=iv)
    actions = due(t, "2026-11-10")
    assert one(actions, "status_inquiry")["due_on"] == day("2026-11-10")
    assert of_kind(actions, "offer_checkin").empty
    t = world(interviews=iv, messages=[message("Q1", "2026-11-10", "sent", "status_inquiry")])
    actions = due(t, "2026-11-17")
    assert of_kind(actions, "status_inquiry").empty  # after the final round one inquiry is enough
    assert one(actions, "offer_checkin")["due_on"] == day("2026-11-17")


# ------------------------------------------------------------------ 6. reference check-in


def test_reference_checkin_a_week_after_the_briefing_from_the_final_round_on():
    t = world(
        interviews=[interview(**FINAL)],
        references=[reference()],
        reference_uses=[ref_use(briefed_on="2026-11-03")],
    )
    assert one(due(t, "2026-11-05"), "reference_checkin")["status"] == "upcoming"
    a = one(due(t, "2026-11-10"), "reference_checkin")
    assert a["status"] == "due" and a["due_on"] == day("2026-11-10") and a["recipient"] == "Tom Becker"
    assert "Northwind Analytics" in a["why"] and "3 Nov" in a["why"]
    assert one(due(t, "2026-11-12"), "reference_checkin")["status"] == "overdue"
    # Contract v2: after an earlier round (a phone screen, say) references are not pinged.
    t = world(
        interviews=[interview()],
        references=[reference()],
        reference_uses=[ref_use(briefed_on="2026-11-03")],
    )
    assert of_kind(due(t, "2026-11-12"), "reference_checkin").empty


def test_reference_checkin_counts_from_the_last_checkin():
    t = world(
        interviews=[interview(**FINAL)],
        references=[reference()],
        reference_uses=[ref_use(briefed_on="2026-11-03", last_checkin_on="2026-11-10")],
    )
    assert one(due(t, "2026-11-17"), "reference_checkin")["due_on"] == day("2026-11-17")


def test_reference_checkin_stops_once_the_reference_was_contacted():
    t = world(
        interviews=[interview(**FINAL)],
        references=[reference()],
        reference_uses=[ref_use(briefed_on="2026-11-03", last_checkin_on="2026-11-10")],
    )
    assert len(of_kind(due(t, "2026-11-30"), "reference_checkin")) == 1
    t = world(
        interviews=[interview(**FINAL)],
        references=[reference()],
        reference_uses=[ref_use(briefed_on="2026-11-03", last_checkin_on="2026-11-10", contacted_on="2026-11-12")],
    )
    assert of_kind(due(t, "2026-11-30"), "reference_checkin").empty


def test_no_reference_checkin_before_the_briefing():
    t = world(interviews=[interview(**FINAL)], references=[reference()], reference_uses=[ref_use()])
    actions = due(t, "2026-11-30")
    assert of_kind(actions, "reference_checkin").empty
    assert len(of_kind(actions, "brief_references")) == 1


# ------------------------------------------------------------------ 7. written offer


def test_verbal_offer_asks_for_it_in_writing_at_once():
    t = world(applications=[OFFER_APP], interviews=[interview()], offers=[offer(verbal_on="2026-11-13")])
    a = one(due(t, "2026-11-13"), "request_written_offer")
    assert a["status"] == "due" and a["due_on"] == day("2026-11-13")
    assert a["priority"] == BASE_PRIORITY["request_written_offer"] and a["recipient"] == "Priya Natarajan"
    assert "Northwind Analytics made you a verbal offer on 13 Nov" in a["why"]


def test_written_offer_asked_again_three_business_days_after_asking():
    t = world(
        applications=[OFFER_APP],
        interviews=[interview()],
        offers=[offer(verbal_on="2026-11-12", written_requested_on="2026-11-13")],
    )
    a = one(due(t, "2026-11-16"), "request_written_offer")
    assert a["status"] == "upcoming" and a["due_on"] == day("2026-11-18")  # Fri + 3 = Wed
    assert "You asked Northwind Analytics for the offer in writing on 13 Nov" in a["why"]
    assert one(due(t, "2026-11-18"), "request_written_offer")["status"] == "due"


def test_no_written_offer_request_once_it_arrived():
    t = world(
        applications=[OFFER_APP],
        interviews=[interview()],
        offers=[offer(verbal_on="2026-11-12", written_requested_on="2026-11-12", written_received_on="2026-11-13")],
    )
    assert of_kind(due(t, "2026-11-20"), "request_written_offer").empty


# ------------------------------------------------------------------ 8. offer letter


def test_review_offer_letter_lists_the_missing_terms():
    t = world(applications=[OFFER_APP], interviews=[interview()], offers=[offer(**LETTER)])
    a = one(due(t, "2026-11-13"), "review_offer_letter")
    assert a["status"] == "overdue" and a["due_on"] == day("2026-11-12")
    assert "It does not state: benefits, expense reimbursement, requirements" in a["why"]
    assert "salary" not in a["why"].split("does not state")[1]
    assert "12 Nov" in a["why"] and "Northwind Analytics" in a["why"]


def test_review_offer_letter_with_every_term():
    # Contract v2: the job's requirements are a term the letter should state too.
    full = {
        **LETTER,
        "benefits": "Health",
        "expense_reimbursement": "Home office",
        "requirements": "Onsite twice a week",
    }
    t = world(applications=[OFFER_APP], interviews=[interview()], offers=[offer(**full)])
    a = one(due(t, "2026-11-13"), "review_offer_letter")
    assert "does not state" not in a["why"] and "every term" in a["why"]
    t = world(applications=[OFFER_APP], interviews=[interview()], offers=[offer(**{**full, "requirements": ""})])
    assert "It does not state: requirements" in one(due(t, "2026-11-13"), "review_offer_letter")["why"]


def test_review_offer_letter_is_priority_one_near_the_deadline():
    t = world(
        applications=[OFFER_APP],
        interviews=[interview()],
        offers=[offer(**LETTER, response_deadline="2026-11-18")],
    )
    far = one(due(t, "2026-11-13"), "review_offer_letter")
    assert far["priority"] == BASE_PRIORITY["review_offer_letter"] and "respond by 18 Nov" in far["why"]
    near = one(due(t, "2026-11-16"), "review_offer_letter")
    assert near["priority"] == 1


def test_review_offer_letter_done_once_answered():
    t = world(
        applications=[OFFER_APP],
        interviews=[interview()],
        offers=[offer(**LETTER)],
        messages=[message("M1", "2026-11-13", "sent", "review_offer_letter")],
    )
    assert of_kind(due(t, "2026-11-16"), "review_offer_letter").empty


# ------------------------------------------------------------------ 9. approval


def test_await_approval_until_approved():
    accepted = {**APP, "status": "accepted"}
    others = [{**APP, "application_id": f"A{i}", "company": f"Other {i}"} for i in (2, 3)]
    deal = {**LETTER, "benefits": "Health", "accepted_on": "2026-11-14"}
    t = world(applications=[accepted, *others], interviews=[interview()], offers=[offer(**deal)])
    a = one(due(t, "2026-11-16"), "await_approval")
    assert a["status"] == "due" and a["priority"] == BASE_PRIORITY["await_approval"]
    assert "accepted Northwind Analytics' offer on 14 Nov" in a["why"]
    assert "keep your 2 other applications warm" in a["why"]
    assert of_kind(due(t, "2026-11-16"), "review_offer_letter").empty  # accepted: nothing left to review
    t = world(
        applications=[accepted, *others],
        interviews=[interview()],
        offers=[offer(**deal, approved_on="2026-11-16")],
    )
    after = due(t, "2026-11-16")
    assert of_kind(after, "await_approval").empty
    # Contract v2 (guidance 9): once approved, a courteous withdrawal from each other application.
    assert sorted(of_kind(after, "withdraw_application")["application_id"]) == ["A2", "A3"]


def test_await_approval_does_not_count_its_own_application_as_another():
    # The coach logged the acceptance but left the application marked active.
    t = world(applications=[APP], interviews=[interview()], offers=[offer(**LETTER, accepted_on="2026-11-14")])
    why = one(due(t, "2026-11-16"), "await_approval")["why"]
    assert "no other application is open" in why and "other applications warm" not in why


# ------------------------------------------------------------------ closed and rescinded


def busy_application(status: str, **offer_over) -> dict[str, pd.DataFrame]:
    """One application owing something of every kind it can."""
    return world(
        applications=[{**APP, "status": status}],
        interviews=[interview(thank_you_sent_on="", next_step_by="2026-11-06", final_round="true")],
        references=[reference(), reference(reference_id="R2", name="Ana Ruiz")],
        reference_uses=[ref_use(), ref_use(reference_id="R2", briefed_on="2026-11-03")],
        promises=[dict(promise_id="P1", application_id="A1", what="a list", due_on="2026-11-12")],
        offers=[
            offer(verbal_on="2026-11-10", written_received_on="2026-11-12", accepted_on="2026-11-13", **offer_over)
        ],
    )


def test_an_open_application_with_that_history_owes_many_things():
    kinds = set(due(busy_application("active"), "2026-11-16")["kind"])
    assert {
        "thank_you_note",
        "brief_references",
        "keep_promise",
        "reference_checkin",
        "await_approval",
    } <= kinds
    # Contract v2 (guidance 7): once an offer exists, the offer actions take over from
    # status inquiries and check-ins, even on an application still marked active...
    assert not kinds & {"status_inquiry", "offer_checkin"}
    # ...which the same history without the offer does get (its date passed on 6 Nov).
    no_offer = {**busy_application("active"), "offers": world()["offers"]}
    assert "status_inquiry" in set(due(no_offer, "2026-11-16")["kind"])


@pytest.mark.parametrize("status", ["rejected", "withdrawn", "hired"])
def test_closed_applications_get_only_close_the_loop(status):
    # Contract v2 (guidance 10): a closed application owes its references a word on
    # how it ended, one each, and nothing else; nothing once they are thanked.
    actions = due(busy_application(status), "2026-11-16")
    assert set(actions["kind"]) == {"close_the_loop"}
    assert sorted(actions["recipient"]) == ["Ana Ruiz", "Tom Becker"]
    assert set(actions["application_id"]) == {"A1"}
    thanked = {
        **busy_application(status),
        "reference_uses": world(
            reference_uses=[
                ref_use(thanked_on="2026-11-14"),
                ref_use(reference_id="R2", briefed_on="2026-11-03", thanked_on="2026-11-14"),
            ]
        )["reference_uses"],
    }
    assert due(thanked, "2026-11-16").empty


def test_a_rescinded_offer_gets_nothing():
    t = world(
        applications=[OFFER_APP],
        interviews=[interview()],
        offers=[offer(**LETTER, accepted_on="2026-11-13", rescinded_on="2026-11-14")],
    )
    kinds = set(due(t, "2026-11-16")["kind"])
    assert not kinds & {"request_written_offer", "review_offer_letter", "await_approval"}
    t = world(
        applications=[OFFER_APP],
        interviews=[interview()],
        offers=[offer(verbal_on="2026-11-13", rescinded_on="2026-11-14")],
    )
    assert of_kind(due(t, "2026-11-16"), "request_written_offer").empty


# ------------------------------------------------------------------ the demo, ordering and ids


def test_demo_actions_are_sorted_most_urgent_first(demo_tables):
    # Guidance 8: a response deadline passed unanswered is the most urgent of all,
    # ahead of everything else of priority 1 (the demo as it was before Jordan
    # asked Quarry Labs for more time: with the request, the reminder waits).
    m = demo_tables["messages"]
    demo_tables["messages"] = m[m["kind"].ne("extension_request")]
    a = due(demo_tables, AS_OF)
    passed = a["kind"].eq("review_offer_letter") & a["why"].str.contains("has passed unanswered")
    assert passed.sum() == 1 and passed.iloc[0]
    status = a["status"].map({"overdue": 0, "due": 1, "upcoming": 2})
    key = list(zip(a["priority"], ~passed, status, a["due_on"]))
    assert key == sorted(key)
    assert a.iloc[0]["priority"] == 1
    assert set(a["status"]) == {"overdue", "due", "upcoming"}
    # Upcoming actions rank below every due or overdue one of the same kind.
    assert (a.loc[a["status"] == "upcoming", "priority"] > 5).all()


def test_demo_action_ids_are_unique_and_statuses_match_dates(demo_tables):
    a = due(demo_tables, AS_OF)
    assert a["action_id"].is_unique
    as_of = pd.Timestamp(AS_OF)
    for r in a.itertuples():
        if r.kind == "await_approval":
            assert r.status == "due"
        elif r.due_on > as_of:
            assert r.status == "upcoming"
        elif r.due_on == as_of:
            assert r.status == "due"
        else:
            assert r.status == "overdue"


def test_the_rules_raise_no_pandas_warnings(demo_tables):
    # A deprecation today is an error in the next pandas: keep the rules clear of them.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        due(demo_tables, AS_OF)
        due(demo_tables, "2026-10-01")  # few actions: some rules see no rows at all


def test_due_actions_on_no_data_is_an_empty_frame():
    a = due(tables(), AS_OF)
    assert a.empty and {"kind", "status", "due_on", "priority", "why"} <= set(a.columns)


# ------------------------------------------------------------------ the JSON contract, through the CLI (in this process)

CONTRACT = {"coachee_id", "application_id", "kind", "status", "due_on", "priority", "recipient", "channel", "why"}


def test_cli_due_json_contract_for_one_coachee(followup, demo_store):
    proc = followup(
        "due", "--coachee", "C001", "--as-of", AS_OF.isoformat(), "--format", "json", db=demo_store.url, check=True
    )
    actions = json.loads(proc.stdout)
    assert actions and {a["coachee_id"] for a in actions} == {"C001"}
    for a in actions:
        assert CONTRACT <= set(a)
        assert a["kind"] in ACTION_KINDS
        assert a["status"] in ("upcoming", "due", "overdue")
        assert a["channel"] in ("email", "phone")
        assert dt.date.fromisoformat(a["due_on"])
        assert isinstance(a["priority"], int) and a["priority"] >= 1
        assert a["recipient"] and a["why"]
    # Northwind moved its date to 11 Nov in a message from Chloe, the point of contact.
    northwind = [a for a in actions if a["kind"] == "status_inquiry" and a["application_id"] == "A001"]
    assert len(northwind) == 1 and northwind[0]["recipient"] == "Chloe Adams"
    assert "they said on 6 Nov you would hear by 11 Nov; it is now 16 Nov" in northwind[0]["why"]
    assert [a["priority"] for a in actions] == sorted(a["priority"] for a in actions)


def test_cli_due_json_all_matches_the_library(followup, demo_store, demo_tables):
    proc = followup("due", "--all", "--as-of", AS_OF.isoformat(), "--format", "json", db=demo_store.url, check=True)
    actions = json.loads(proc.stdout)
    assert {a["coachee_id"] for a in actions} == {"C001", "C002", "C003"}
    expected = due(demo_tables, AS_OF)
    expected = expected.sort_values("coachee_id", kind="stable")  # --all: coachee by coachee, each most urgent first
    assert [a["action_id"] for a in actions] == expected["action_id"].tolist()
    assert {a["kind"] for a in actions} == set(ACTION_KINDS)
