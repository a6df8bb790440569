"""What the practice's history says: pure functions of small typed tables.

The tables are typed in memory as ``Store.load`` types them (``builders.make_tables``).
November 2026 runs Mon 2, Fri 6, Mon 9, Fri 13, Mon 16; AS_OF is Monday 16.
"""

from __future__ import annotations

import pandas as pd
import pytest

from followup_lib.logic import analysis
from followup_lib.logic.charts import WAITING_COLOURS

from builders import AS_OF, app, iv, make_tables, msg

# ------------------------------------------------------------------ response times


def test_response_time_is_the_first_word_after_the_interview():
    t = make_tables(
        applications=[app("A1"), app("A2", "Bluefin Logistics")],
        interviews=[iv("I1", "A1", "2026-11-02", next_step_by="2026-11-06")],
        messages=[
            msg("M0", "A1", "2026-10-30"),  # before the interview: not an answer
            msg("M1", "A1", "2026-11-10"),  # Tuesday after their Friday
            msg("M2", "A1", "2026-11-12"),  # later word: not the first
            msg("M3", "A2", "2026-11-03"),  # another application
            msg("M4", "A1", "2026-11-04", "sent", "thank_you_note"),  # ours, not theirs
        ],
    )
    rt = analysis.response_times(t, AS_OF).set_index("interview_id")
    r = rt.loc["I1"]
    assert r["answered"]
    assert r["answered_on"] == pd.Timestamp("2026-11-10")
    assert r["days_to_answer"] == 8
    assert r["late_by_days"] == 4
    # Friday 6 -> Tuesday 10 is two business days late (Fri, Mon), the unit of the grace period.
    assert r["late_by_business_days"] == 2
    assert r["company"] == "Northwind Analytics" and r["coachee_id"] == "C1"


def test_early_answer_is_negative_lateness():
    t = make_tables(
        applications=[app("A1")],
        interviews=[iv("I1", "A1", "2026-11-02", next_step_by="2026-11-13")],
        messages=[msg("M1", "A1", "2026-11-06")],
    )
    r = analysis.response_times(t, AS_OF).iloc[0]
    assert r["late_by_days"] == -7
    assert r["late_by_business_days"] == -5


def test_next_round_is_not_the_day_the_invitation_came_and_final_round_is_labelled():
    t = make_tables(
        applications=[app("A1"), app("A2", "Bluefin Logistics"), app("A3", "Granite", status="withdrawn")],
        interviews=[
            iv("I1", "A1", "2026-11-02", "2026-11-06"),
            iv("I2", "A1", "2026-11-09", "2026-11-13", round="2", final="true"),
            iv("J1", "A2", "2026-10-26"),
            iv("J2", "A2", "2026-11-09", round="2"),
            iv("W1", "A3", "2026-11-02"),
        ],
        messages=[msg("M1", "A2", "2026-10-30")],  # Bluefin's invitation, logged
    )
    rt = analysis.response_times(t, AS_OF).set_index("interview_id")
    # I1 was followed by a round with no invitation logged: when word came is not
    # known, so it is left out (the second round's day is not an answer); the
    # withdrawn application is left out too.
    assert set(rt.index) == {"I2", "J1", "J2"}
    assert rt.loc["J1", "answered_on"] == pd.Timestamp("2026-10-30") and rt.loc["J1", "days_to_answer"] == 4
    assert rt.loc["J1", "round_label"] == "round 1"
    assert rt.loc["I2", "round_label"] == "final round"
    assert not rt.loc["I2", "answered"]
    assert rt.loc["I2", "waited_days"] == 7
    assert pd.isna(rt.loc["J1", "waited_days"])


def test_response_times_as_of_ignores_the_future():
    t = make_tables(
        applications=[app("A1"), app("A2", "Bluefin Logistics")],
        interviews=[iv("I1", "A1", "2026-11-02", "2026-11-06"), iv("I2", "A2", "2026-11-20")],  # not held yet
        messages=[msg("M1", "A1", "2026-11-18")],
    )  # not received yet
    rt = analysis.response_times(t, AS_OF)
    assert list(rt["interview_id"]) == ["I1"]
    assert not rt["answered"].iloc[0]
    everything = analysis.response_times(t)
    assert set(everything["interview_id"]) == {"I1", "I2"}
    assert everything.set_index("interview_id").loc["I1", "answered"]


def test_response_times_of_nothing():
    rt = analysis.response_times(make_tables(), AS_OF)
    assert rt.empty
    assert {"answered", "days_to_answer", "late_by_business_days", "round_label"} <= set(rt.columns)


# ------------------------------------------------------------------ follow-up outcomes


def test_followup_outcomes_replied_and_not():
    t = make_tables(
        applications=[app("A1"), app("A2", "Bluefin Logistics")],
        messages=[
            msg("M1", "A1", "2026-11-02"),  # before the inquiry
            msg("Q1", "A1", "2026-11-09", "sent", "status_inquiry"),
            msg("M2", "A1", "2026-11-11"),  # the reply, 2 days on
            msg("K1", "A2", "2026-11-10", "sent", "offer_checkin"),  # never answered
            msg("T1", "A2", "2026-11-03", "sent", "thank_you_note"),  # not a follow-up
        ],
    )
    out = analysis.followup_outcomes(t).set_index("message_id")
    assert set(out.index) == {"Q1", "K1"}
    assert out.loc["Q1", "replied"] and out.loc["Q1", "days_to_reply"] == 2
    assert out.loc["Q1", "replied_on"] == pd.Timestamp("2026-11-11")
    assert not out.loc["K1", "replied"] and pd.isna(out.loc["K1", "days_to_reply"])
    assert out.loc["K1", "kind"] == "offer_checkin"


def test_followup_outcomes_of_nothing():
    assert analysis.followup_outcomes(make_tables()).empty


# ------------------------------------------------------------------ pipeline


def test_pipeline_stage_is_the_furthest_reached():
    t = make_tables(
        applications=[
            app("A1"),
            app("A2"),
            app("A3"),
            app("A4", status="offer"),
            app("A5", status="accepted"),
            app("A6", status="hired"),
            app("A7", status="rejected"),
            app("A8"),
        ],
        interviews=[
            iv("I2", "A2", "2026-11-02"),
            iv("I3", "A3", "2026-11-02", final="true"),
            iv("I7", "A7", "2026-11-02"),
            iv("I8", "A8", "2026-11-02"),
        ],
        offers=[dict(application_id="A8", verbal_on="2026-11-10")],
    )
    stages = analysis.pipeline_stages(t).set_index("application_id")
    assert stages["stage"].astype(str).to_dict() == {
        "A1": "applied",
        "A2": "interviewing",
        "A3": "final round",
        "A4": "offer",
        "A5": "accepted",
        "A6": "hired",
        "A7": "interviewing",
        "A8": "offer",
    }
    assert stages.loc["A7", "open"] == False and stages.loc["A6", "open"] == False  # noqa: E712
    assert stages.loc["A5", "open"] == True  # noqa: E712


def test_pipeline_counts_cover_every_stage_in_order():
    t = make_tables(
        applications=[app("A1"), app("A2", status="rejected"), app("A3")], interviews=[iv("I2", "A2", "2026-11-02")]
    )
    counts = analysis.pipeline_counts(t)
    assert list(counts["stage"].astype(str).unique()) == analysis.PIPELINE_STAGES
    c = counts.set_index(["stage", "state"])["applications"]
    assert c[("applied", "open")] == 2
    assert c[("interviewing", "closed")] == 1
    assert counts["applications"].sum() == 3


# ------------------------------------------------------------------ waiting on


def test_waiting_on_says_what_each_open_application_waits_for():
    t = make_tables(
        applications=[
            app("A1", "Ahead"),
            app("A2", "Passed"),
            app("A3", "Unthanked"),
            app("A4", "Final"),
            app("A5", "Offered", status="offer"),
            app("A6", "Closed", status="rejected"),
            app("A7", "No date"),
            app("A8", "Not yet interviewed"),
            app("A9", "Heard"),
            app("A10", "Final heard"),
        ],
        interviews=[
            iv("I1", "A1", "2026-11-09", "2026-11-20"),
            iv("I2a", "A2", "2026-10-19", "2026-10-23"),
            iv("I2b", "A2", "2026-10-26", "2026-11-06", round="2"),  # the latest one counts
            iv("I3", "A3", "2026-11-13", "2026-11-30", thanked=None),
            iv("I4", "A4", "2026-11-05", final="true"),
            iv("I5", "A5", "2026-11-02", "2026-11-09", final="true"),
            iv("I6", "A6", "2026-11-02"),
            iv("I7", "A7", "2026-11-10"),
            iv("I8", "A8", "2026-11-20"),  # after as_of: not yet held
            iv("I9", "A9", "2026-11-02", "2026-11-06"),
            iv("I10", "A10", "2026-11-02", "2026-11-06", final="true"),
        ],
        messages=[
            msg("M2", "A2", "2026-10-20"),  # word after the first round only
            msg("M9", "A9", "2026-11-09"),
            msg("M10", "A10", "2026-11-09"),
            msg("M1", "A1", "2026-11-20"),
        ],
    )  # after as_of: not yet heard
    w = analysis.waiting_on(t, AS_OF)
    got = dict(zip(w["company"], w["waiting_on"]))
    assert got == {
        "Ahead": "employer's date ahead",
        "Passed": "employer's date passed",
        "Unthanked": "thank-you not sent",
        "Final": "decision after final round",
        "Offered": "offer stage",
        "No date": "no date given",
        "Heard": "heard back since",
        "Final heard": "decision after final round",
    }
    # Longest wait first; days counted from the latest interview held.
    assert list(w["days_since"]) == sorted(w["days_since"], reverse=True)
    passed = w.set_index("company").loc["Passed"]
    assert passed["days_since"] == 21 and passed["promised_after_days"] == 11
    assert pd.isna(w.set_index("company").loc["Final", "promised_after_days"])
    assert w.set_index("company").loc["Ahead", "label"] == "Ahead · Analyst"
    assert set(w["waiting_on"]) <= set(WAITING_COLOURS)  # every category has its colour in the chart


def test_waiting_on_nothing():
    assert analysis.waiting_on(make_tables(), AS_OF).empty


@pytest.mark.parametrize("as_of", ["2026-11-16", pd.Timestamp("2026-11-16 15:30")])
def test_waiting_on_counts_whole_days(as_of):
    t = make_tables(applications=[app("A1")], interviews=[iv("I1", "A1", "2026-11-09", "2026-11-13")])
    assert analysis.waiting_on(t, as_of)["days_since"].tolist() == [7]


@pytest.mark.parametrize("machine", ["auto_reply", "bounce", "Auto reply"])
def test_an_automatic_reply_or_a_bounce_is_not_word_from_the_employer(machine):
    """Contract v3: in the response-time analysis and the weekly report's waits, an
    out-of-office reply or a bounce is not the employer's answer; an update is."""
    from followup_lib.logic import weekly

    from contract_builders import interview, message, typed_tables

    def tables(kind):
        return typed_tables(
            interviews=[interview(held_on="2026-11-02", next_step_by="2026-11-06")],
            messages=[message("M1", "2026-11-04", "received", kind)],
        )

    assert analysis.employer_words(tables(machine), "2026-11-16").query("how == 'message'").empty
    assert len(analysis.employer_words(tables("update"), "2026-11-16").query("how == 'message'")) == 1
    end = pd.Timestamp("2026-11-16")
    r = weekly.weekly_report(tables(machine), "C1", end)
    (silence,) = r.silences.to_dict("records")
    assert silence["word"] == "the interview" and silence["silent_days"] == 14
    events = weekly._events(tables(machine), end - pd.Timedelta(days=20), end)
    assert not events["what"].str.startswith("Heard from the employer").any()
