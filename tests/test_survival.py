"""Survival analysis of the employer's first word, and grace calibration: pure
functions of small typed tables (``builders.make_tables``).

November 2026 runs Mon 2, Fri 6, Mon 9, Fri 13, Mon 16; AS_OF is Monday 16.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from lifelines import KaplanMeierFitter

from followup_lib.logic import analysis, charts, survival
from followup_lib.settings import Settings

from builders import AS_OF, app, iv, make_tables, msg


def _day(offset: int) -> str:
    return (AS_OF + pd.Timedelta(days=offset)).strftime("%Y-%m-%d")


def _first_rounds(waits: list[tuple[int, bool]]) -> dict[str, pd.DataFrame]:
    """One application per (days, answered) pair, its first round held ``days``
    before AS_OF when still waiting, or answered ``days`` after it."""
    apps, ivs, msgs = [], [], []
    for i, (days, answered) in enumerate(waits):
        a = f"A{i}"
        apps.append(app(a, f"Employer {i}"))
        held = -30 if answered else -days
        ivs.append(iv(f"I{i}", a, _day(held)))
        if answered:
            msgs.append(msg(f"M{i}", a, _day(held + days)))
    return make_tables(applications=apps, interviews=ivs, messages=msgs)


# ------------------------------------------------------------------ Kaplan–Meier, by hand


def test_kaplan_meier_median_matches_a_hand_worked_case_with_censoring():
    # Six first rounds: answered after 2, 4, 7 and 9 days; still waiting after 5 and 12.
    #   day 2: 6 at risk, 1 answers -> S = 5/6
    #   day 4: 5 at risk, 1 answers -> S = 5/6 * 4/5 = 2/3
    #   day 5: one still waiting leaves the risk set (censored), S stays 2/3
    #   day 7: 3 at risk, 1 answers -> S = 2/3 * 2/3 = 4/9 (0.44): first time <= 0.5, the median
    #   day 9: 2 at risk, 1 answers -> S = 4/9 * 1/2 = 2/9 (0.22): never <= 0.2, so no 80% time
    #   day 12: the other still waiting, censored.
    # (Leaving the two waiting out would give a median of (4 + 7) / 2 = 5.5 days: too short.)
    t = _first_rounds([(2, True), (4, True), (5, False), (7, True), (9, True), (12, False)])
    fw = analysis.first_words(t, AS_OF)
    assert sorted(zip(fw["days"], fw["event"])) == [(2, True), (4, True), (5, False), (7, True), (9, True), (12, False)]
    row = survival.round_summary(fw).set_index("round_group").loc["first round"]
    assert row["median"] == 7
    assert math.isinf(row["p80"])
    assert (row["interviews"], row["answered"], row["waiting"], row["longest"]) == (6, 4, 2, 12)
    assert row["median_low"] <= 7 <= row["median_high"]
    assert analysis.km_times(fw["days"], fw["event"]) == [7, math.inf]
    # Four answers are below the min_answers_for_times setting (5): no typical time, and it says why.
    sentence = survival.round_sentences(survival.round_summary(fw))[0]
    assert "too few answers to give a typical time (at least 5 are needed" in sentence
    assert "within" not in sentence and "unusual" not in sentence
    sentence = survival.round_sentences(survival.round_summary(fw), Settings(min_answers_for_times=4))[0]
    assert "half hear back within 7 days" in sentence
    assert "when 80% have heard back is not known yet (some still wait after 12 days)" in sentence
    assert "within more than" not in sentence


def test_an_exact_half_is_the_median_whatever_the_float_rounding():
    # Final rounds answered after 4, 6, 10, 14, 42 days, one still waiting at 27:
    # S(10) = 5/6 * 4/5 * 3/4 = 1/2 exactly, so the median is 10 (lifelines' own
    # qth_survival_time computes 0.5000000000000001 and would say 14).
    waits = [(4, True), (6, True), (10, True), (14, True), (42, True), (27, False)]
    d, e = zip(*waits, strict=True)
    assert analysis.km_times(d, e) == [10, 42]
    kmf = KaplanMeierFitter().fit(list(d), list(e))
    assert survival._time_at(0.5, kmf.survival_function_.iloc[:, 0]) == 10


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.booleans()), min_size=1, max_size=25))
def test_numpy_estimate_is_lifelines_estimate(waits):
    d, e = zip(*waits, strict=True)
    kmf = KaplanMeierFitter().fit(np.array(d, dtype=float), np.array(e, dtype=bool))
    curve = kmf.survival_function_.iloc[:, 0]
    assert analysis.km_times(d, e) == [survival._time_at(0.5, curve), survival._time_at(0.2, curve)]


# ------------------------------------------------------------------ what counts as the first word


def test_censoring_rule_waiting_withdrawn_offer_next_round_and_rejection():
    t = make_tables(
        applications=[
            app("A1", "Waiting"),
            app("A2", "Withdrawn", status="withdrawn"),
            app("A3", "Offered", status="offer"),
            app("A4", "Two rounds"),
            app("A5", "Invited"),
            {**app("A6", "Rejected", status="rejected"), "closed_on": "2026-11-12"},
            app("A7", "Rejected, no date", status="rejected"),
        ],
        interviews=[
            iv("I1", "A1", "2026-11-02", "2026-11-06"),
            iv("I2", "A2", "2026-11-02"),
            iv("I3", "A3", "2026-11-02", final="true"),
            iv("I4a", "A4", "2026-10-19"),
            iv("I4b", "A4", "2026-11-02", round="2"),
            iv("I5a", "A5", "2026-10-19"),
            iv("I5b", "A5", "2026-11-02", round="2"),
            iv("I6", "A6", "2026-11-02"),
            iv("I7", "A7", "2026-11-02"),
        ],
        messages=[
            msg("M1", "A1", "2026-11-03", "sent", "thank_you_note"),  # ours, not a word from them
            msg("M5", "A5", "2026-10-23"),  # the invitation, logged
        ],
        offers=[dict(application_id="A3", verbal_on="2026-11-09")],
    )
    fw = analysis.first_words(t, AS_OF).set_index("interview_id")
    # Still waiting: censored at as-of, 14 days.
    assert fw.loc["I1", "state"] == "waiting" and fw.loc["I1", "days"] == 14 and not fw.loc["I1", "event"]
    # Withdrawn: left out of the curve.
    assert fw.loc["I2", "state"] == "withdrawn" and pd.isna(fw.loc["I2", "days"])
    # An offer is a first word.
    assert fw.loc["I3", "state"] == "heard" and fw.loc["I3", "days"] == 7 and fw.loc["I3", "heard_how"] == "offer"
    # The next round's own day is not the day the invitation came: unknown, left out.
    assert fw.loc["I4a", "state"] == "unknown" and pd.isna(fw.loc["I4a", "days"])
    assert fw.loc["I4b", "state"] == "waiting"
    # A logged invitation is.
    assert fw.loc["I5a", "state"] == "heard" and fw.loc["I5a", "days"] == 4
    # A rejection on its closing day; without a date it is unknown, not waiting.
    assert fw.loc["I6", "days"] == 10 and fw.loc["I6", "heard_how"] == "closed"
    assert fw.loc["I7", "state"] == "unknown"
    assert fw.loc["I4b", "round_group"] == "later round" and fw.loc["I3", "round_group"] == "final round"
    text = survival.method_sentence(analysis.first_words(t, AS_OF), AS_OF)
    assert "1 interview of withdrawn applications is left out" in text
    assert "the 3 interviews still waiting count as waiting up to that day" in text
    # Nothing the store holds after as-of counts.
    early = analysis.first_words(t, "2026-11-05").set_index("interview_id")
    assert early.loc["I3", "state"] == "waiting" and early.loc["I6", "state"] == "waiting"


def test_round_groups_follow_the_round_number_else_the_order():
    t = make_tables(
        applications=[app("A1"), app("A2")],
        interviews=[
            iv("I1", "A1", "2026-10-01", round=None),
            iv("I2", "A1", "2026-10-08", round=None),
            iv("I3", "A2", "2026-10-01", round="2"),  # the first round was not logged
        ],
    )
    groups = analysis.first_words(t, AS_OF).set_index("interview_id")["round_group"].to_dict()
    assert groups == {"I1": "first round", "I2": "later round", "I3": "later round"}


def test_first_words_of_nothing():
    fw = analysis.first_words(make_tables(), AS_OF)
    assert fw.empty and {"days", "event", "state", "round_group"} <= set(fw.columns)
    assert survival.round_summary(fw).empty
    assert survival.still_waiting_figure(fw).layout.title.text
    assert analysis.waiting_sentences(make_tables(), AS_OF, "C1") == []


# ------------------------------------------------------------------ waiting sentences


def _practice_with_final_rounds() -> dict[str, pd.DataFrame]:
    """Six answered final rounds of another coachee (after 2, 3, 4, 5, 6 and 6 days)
    and the coachee C1's own applications, two of them final rounds still waiting
    (3 and 10 days). The final rounds' curve, 8 at risk:
    day 2: 7/8; day 3: 7/8 * 6/7 = 0.75 (then one waiting leaves); day 4: 0.75 * 4/5 = 0.6;
    day 5: * 3/4 = 0.45, the median; day 6: * 1/3 = 0.15, the 80% point, on two answers."""
    answered_after = [2, 3, 4, 5, 6, 6]
    others = [
        dict(application_id=f"P{i}", coachee_id="C2", company=f"Past {i}", role="Analyst")
        for i in range(len(answered_after))
    ]
    past_iv = [iv(f"PI{i}", f"P{i}", "2026-10-01", final="true") for i in range(len(answered_after))]
    past_msg = [msg(f"PM{i}", f"P{i}", f"2026-10-{1 + d:02d}") for i, d in enumerate(answered_after)]
    return make_tables(
        coachees=[dict(coachee_id="C1", name="Maya Lindqvist"), dict(coachee_id="C2", name="Jordan Okafor")],
        applications=[
            *others,
            app("W1", "<b>Northwind</b>"),
            app("W2", "Bluefin Logistics"),
            app("W3", "Harbor Health"),
            app("O1", "Quarry Labs", status="offer"),
            app("X1", "Granite Systems", status="withdrawn"),
            app("H1", "Cedar Bank"),
        ],
        interviews=[
            *past_iv,
            iv("IW1", "W1", "2026-11-06", final="true"),  # day 10: past the 80% point
            iv("IW2", "W2", "2026-11-09"),  # first round: one first round answered in the practice
            iv("IW3", "W3", "2026-11-13", "2026-11-20", final="true"),  # day 3: still early
            iv("IO1", "O1", "2026-11-02", final="true"),
            iv("IX1", "X1", "2026-11-02"),
            iv("IH1", "H1", "2026-11-02"),
        ],
        messages=[*past_msg, msg("MH1", "H1", "2026-11-10")],
    )


def test_waiting_sentences_compare_each_wait_with_the_practice():
    lines = analysis.waiting_sentences(_practice_with_final_rounds(), AS_OF, "C1")
    assert lines == [
        "&lt;b&gt;Northwind&lt;/b&gt; (final round), day 10: past the day by which 80% of final rounds in "
        "this practice hear back (day 6), so a silence this long is unusual here — keep to the workbook's pace "
        "(a brief check-in every 7 days, at most 3), and keep other applications moving.",
        "Bluefin Logistics (first round), day 7: only 1 first round in this practice has had an answer so far, too few "
        "to say whether this wait is unusual — for now, go by the employer's own date and the workbook's "
        "follow-up reminders.",
        "Harbor Health (final round), day 3: still early — half of final rounds in this practice hear back "
        "within 5 days; keep to the workbook's pace (a brief check-in every 7 days, at most 3).",
    ]
    # The other coachee has nothing waiting; an unknown coachee gets nothing.
    assert analysis.waiting_sentences(_practice_with_final_rounds(), AS_OF, "C2") == []
    assert analysis.waiting_sentences(_practice_with_final_rounds(), AS_OF, "nobody") == []


def test_waiting_sentence_waits_for_a_date_still_ahead():
    rt = analysis.RoundTimes("first round", 10, 8, 6.0, 9.0, 30.0, p80_cases=3)
    text = analysis.wait_sentence("Northwind", "first round", 12, rt, pd.Timestamp("2026-11-20"), AS_OF)
    assert text.endswith("but they said you would hear by 20 Nov: wait for that date, then ask.")
    text = analysis.wait_sentence("Northwind", "first round", 7, rt)
    # Past the median, short of the 80% day: common, never "longer than most … still common".
    assert "half of first rounds in this practice hear back within 6 days and 80% by day 9, so a wait this" in text
    assert "longer than most" not in text


def test_a_wait_is_unusual_only_past_the_80_percent_day_resting_on_more_than_one_answer():
    # Issue 20: "past 42 days it is unusual" rested on one answer; the 80% day of 42
    # here rests on 1 answer: no wait is called unusual, and the workbook's pace is named.
    one_slow = analysis.RoundTimes("final round", 6, 5, 10.0, 42.0, 42.0, p80_cases=1)
    text = analysis.wait_sentence("Riverbend Media", "final round", 45, one_slow)
    assert "unusual here" not in text and "too few slower answers" in text
    assert "a brief check-in every 7 days, at most 3" in text
    # The cadence follows the settings.
    text = analysis.wait_sentence(
        "Riverbend Media", "final round", 45, one_slow, settings=Settings(checkin_every_days=10)
    )
    assert "every 10 days" in text
    two_slow = analysis.RoundTimes("final round", 6, 5, 10.0, 42.0, 42.0, p80_cases=2)
    assert "unusual here" in analysis.wait_sentence("Riverbend Media", "final round", 45, two_slow)
    assert "unusual" not in analysis.wait_sentence("Riverbend Media", "final round", 41, two_slow).replace(
        "whether this wait is unusual", ""
    )


def test_a_typical_wait_needs_the_settings_number_of_answers():
    rt = analysis.RoundTimes("first round", 8, 4, 6.0, 9.0, 30.0, p80_cases=2)
    text = analysis.wait_sentence("Northwind", "first round", 7, rt)
    assert "only 4 first rounds in this practice have had an answer so far, too few" in text
    assert "within" not in text
    text = analysis.wait_sentence("Northwind", "first round", 7, rt, settings=Settings(min_answers_for_times=4))
    assert "half of first rounds in this practice hear back within 6 days" in text


def test_markdown_sentences_escape_store_text():
    assert analysis.md_escape("*Acme* [x](y) <script>") == r"\*Acme\* \[x\]\(y\) &lt;script&gt;"


# ------------------------------------------------------------------ grace calibration


def _late_practice(lateness: list[int]) -> dict[str, pd.DataFrame]:
    """One interview per number: the employer's date Friday 2 Oct 2026, their
    answer that many business days later (weekends only: no country)."""
    answer = {1: "2026-10-05", 2: "2026-10-06", 3: "2026-10-07", 4: "2026-10-08", 5: "2026-10-09"}
    return make_tables(
        applications=[app(f"A{i}", f"Employer {i}") for i in range(len(lateness))],
        interviews=[iv(f"I{i}", f"A{i}", "2026-09-28", "2026-10-02") for i in range(len(lateness))],
        messages=[msg(f"M{i}", f"A{i}", answer[k]) for i, k in enumerate(lateness)],
    )


def test_suggest_grace_picks_the_point_covering_75_percent():
    lateness = [1] * 5 + [2] * 5 + [3] * 5 + [5] * 5
    g = survival.suggest_grace(_late_practice(lateness), Settings(grace_business_days=2), AS_OF)
    # 15 of the 20 (75%) came within 3 business days; the current 2 covers 10.
    assert (g.suggested, g.setting, g.current, g.cases) == (3, "grace_business_days", 2, 20)
    assert "grace_business_days = 3" in g.text and "covers 10 of the 20 (50%)" in g.text
    la = survival.late_answers(_late_practice(lateness), Settings(), AS_OF)
    assert sorted(la["late_business_days"]) == sorted(lateness)


def test_suggest_grace_refuses_below_20_cases():
    g = survival.suggest_grace(_late_practice([1] * 10 + [4] * 9), Settings(grace_business_days=2), AS_OF)
    assert g.suggested is None and g.cases == 19 and g.current == 2
    assert "at least 20" in g.text and "grace_business_days = 2" in g.text
    none = survival.suggest_grace(make_tables(), Settings(), AS_OF)
    assert none.suggested is None and none.cases == 0


def test_lateness_counts_the_coachees_holidays_and_a_moved_date():
    # Thanksgiving (Thu 26 Nov 2026) is not a business day in the US: their date
    # Wed 25 Nov, an answer Fri 27 Nov is 1 business day late there, 2 elsewhere.
    rows = dict(
        applications=[app("A1"), {**app("A2"), "coachee_id": "C2"}],
        interviews=[iv("I1", "A1", "2026-11-18", "2026-11-25"), iv("I2", "A2", "2026-11-18", "2026-11-25")],
        messages=[msg("M1", "A1", "2026-11-27"), msg("M2", "A2", "2026-11-27")],
    )
    t = make_tables(
        coachees=[dict(coachee_id="C1", name="Maya", country="US"), dict(coachee_id="C2", name="Jo", country="GB")],
        **rows,
    )
    la = survival.late_answers(t, Settings(), "2026-11-30").set_index("application_id")
    assert la.loc["A1", "late_business_days"] == 1 and la.loc["A2", "late_business_days"] == 2
    # A date moved in a message is judged by the first word after that message.
    moved = {**msg("M0", "A1", "2026-11-20"), "next_step_by": "2026-12-02"}
    t = make_tables(
        coachees=[dict(coachee_id="C1", name="Maya")],
        applications=[app("A1")],
        interviews=[iv("I1", "A1", "2026-11-18", "2026-11-19")],
        messages=[moved, msg("M1", "A1", "2026-12-01")],
    )
    la = survival.late_answers(t, Settings(), "2026-12-07")
    assert list(la["state"]) == ["late", "kept"]


def test_figures_mark_their_reference_lines_visibly():
    t = _late_practice([1] * 5 + [2] * 5 + [3] * 5 + [5] * 5)
    la = survival.late_answers(t, Settings(), AS_OF)
    fig = survival.lateness_figure(la, 2, 3)
    assert len(fig.layout.shapes) == 2 and all(s.line.width > 0 for s in fig.layout.shapes)
    sw = survival.still_waiting_figure(analysis.first_words(t, AS_OF))
    assert [d.name for d in sw.data if d.name and d.showlegend is not False] == ["95% interval", "first round"]
    assert all(s.line.width > 0 for s in sw.layout.shapes)


# ------------------------------------------------------------------ issue 20/21: sentences that hold together


def test_demo_response_time_sentences_never_contradict_themselves(demo_tables):
    fw = analysis.first_words(demo_tables, AS_OF)
    text = "\n".join(
        [
            *survival.round_sentences(survival.round_summary(fw)),
            survival.waiting_now_markdown(demo_tables, AS_OF),
            survival.lateness_sentence(survival.late_answers(demo_tables, Settings(), AS_OF)),
            survival.suggest_grace(demo_tables, Settings(), AS_OF).text,
            charts.followup_sentence(analysis.followup_outcomes(demo_tables)),
        ]
    )
    assert "within more than" not in text
    assert "a median of 1 day" not in text
    assert "longer than most" not in text
    # The final rounds' 80% day (42) rests on one answer: no wait is called unusual on it.
    final = next(s for s in survival.round_sentences(survival.round_summary(fw)) if s.startswith("**Final rounds**"))
    assert "rests on 1 answer so far (day 42)" in final and "is unusual here" not in final
    assert "a brief check-in every 7 days, at most 3" in final
    # Two first rounds answered: too few for a median, and it says so.
    first = next(s for s in survival.round_sentences(survival.round_summary(fw)) if s.startswith("**First rounds**"))
    assert "too few answers to give a typical time" in first and "half hear back" not in first
    # Sofia's Riverbend Media is being left (Pinecrest approved): not "day 27: longer than most".
    assert "Riverbend" not in text
    assert charts.followup_sentence(analysis.followup_outcomes(demo_tables)) == (
        "1 of 3 follow-ups got an answer, after 1 day."
    )


def test_a_median_never_reached_is_not_within_more_than():
    # Five answered after 2 to 6 days, eight still waiting at 20 days: the curve stays above 50%.
    t = _first_rounds([(d, True) for d in (2, 3, 4, 5, 6)] + [(20, False)] * 8)
    summary = survival.round_summary(analysis.first_words(t, AS_OF))
    assert math.isinf(summary["median"].iloc[0])
    sentence = survival.round_sentences(summary)[0]
    assert "within more than" not in sentence
    assert "fewer than half have heard back, some after 20 days of waiting" in sentence
    assert "unusual" not in sentence


def test_still_waiting_has_one_panel_per_round_with_labels_clear_of_every_line():
    t = make_tables(
        applications=[app(f"A{i}", f"Employer {i}") for i in range(4)],
        interviews=[
            iv("I0", "A0", "2026-11-02"),
            iv("I1", "A1", "2026-11-02"),
            iv("I2", "A2", "2026-11-02", round="2"),
            iv("I3", "A3", "2026-11-02", final="true"),
        ],
        messages=[msg("M0", "A0", "2026-11-05"), msg("M3", "A3", "2026-11-09")],
    )
    fig = survival.still_waiting_figure(analysis.first_words(t, AS_OF))
    lines = [d for d in fig.data if d.mode == "lines" and d.fill is None]
    bands = [d for d in fig.data if d.fill == "toself"]
    # Each round its own panel (its own y axis), so no band hides another.
    assert [d.name for d in lines] == ["first round", "later round", "final round"]
    assert len({d.yaxis for d in lines}) == 3
    assert [b.yaxis for b in bands] == [d.yaxis for d in lines]
    # Light fills, told apart by the legend: the band has a legend entry of its own.
    assert all(float(b.fillcolor.rsplit(",", 1)[1].rstrip(")")) <= 0.2 for b in bands)
    assert [b.showlegend for b in bands] == [True, False, False] and bands[0].name == "95% interval"
    # The level labels sit beyond the right edge of each panel: no curve can cross them.
    labels = [a for a in fig.layout.annotations if a.text in ("half heard back", "80% heard back")]
    assert len(labels) == 6
    assert all(a.xref.endswith("domain") and a.x >= 1 and a.xanchor == "left" for a in labels)
    assert fig.layout.margin.r >= 100
    # The later round has no answer yet: its panel says so instead of a line hiding along 100%.
    assert any(a.text.startswith("no answer yet") and a.yref == "y2" for a in fig.layout.annotations)


def test_the_grace_marker_is_drawn_solid_above_the_bars_with_its_label_off_the_bars():
    la = survival.late_answers(_late_practice([1] * 5 + [2] * 5 + [3] * 5 + [5] * 5), Settings(), AS_OF)
    fig = survival.lateness_figure(la, 2, 3)
    grace = next(s for s in fig.layout.shapes if s.x0 == 2.5)
    assert grace.line.width >= 3 and grace.line.dash == "solid" and grace.layer == "above"
    assert grace.opacity == 1
    label = next(a for a in fig.layout.annotations if a.text.startswith("grace now"))
    assert label.text == "grace now: 2 business days"
    assert label.yref == "paper" and label.y > 1  # above the plot area, never on a bar
    suggested = next(a for a in fig.layout.annotations if a.text.startswith("suggested"))
    assert suggested.y > label.y  # the two labels do not overlap


def test_the_response_times_notebook_says_which_day_it_judges_from():
    # Issue 21: the session's day, never the clock without saying so.
    assert survival.day_source("2026-11-16", "2026-11-20") == "parameter"
    assert survival.day_source(None, "2026-11-20") == "session"
    assert survival.day_source(None, None) == "clock"
    assert "working session's day" in survival.day_note("session")
    assert "set `as_of`" in survival.day_note("clock")
