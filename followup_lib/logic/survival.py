"""How long employers really take: Kaplan–Meier curves of the time to the
employer's first word, and the grace period the practice's own late answers call for.

A wait still open on the as-of day is not left out (that would make the typical
time read too short): it counts as "at least this long", a censored time, which is
what ``lifelines.KaplanMeierFitter`` is for. Waits are counted in calendar days, as
the client feels them; lateness against the employer's own date is counted in
business days, the unit of the ``grace_business_days`` setting.

Pure functions of the typed tables and a day (see ``analysis.first_words``); the
sentences are Markdown (store text escaped), each ending in what it means for the
coach. lifelines is imported only when a curve is fitted: it costs most of a second.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..settings import RANGES, Settings
from .analysis import (
    MIN_TAIL,
    ROUND_GROUPS,
    cadence_phrase,
    employer_words,
    ended_by,
    first_words,
    latest_dates,
    md_escape,
    round_times,
    waiting_sentences_from,
)
from .business_days import calendars_of, holiday_dates
from .charts import chart_layout
from .wording import count_noun, typical_amount

#: The confidence of the intervals around the median and the 80% time.
CONFIDENCE = 0.95
#: The share of late answers the suggested grace period covers…
GRACE_COVERS = 0.75
#: … and the fewest late answers it rests on.
MIN_GRACE_CASES = 20

ROUND_COLOURS = {"first round": "#1f77b4", "later round": "#ff7f0e", "final round": "#2ca02c"}
_PLURAL = {"first round": "first rounds", "later round": "later rounds", "final round": "final rounds"}


# ----------------------------------------------------------- Kaplan–Meier by round


def fit_rounds(fw: pd.DataFrame) -> dict:
    """One fitted ``KaplanMeierFitter`` per round group that has interviews whose
    wait is known (``first_words`` rows heard or still waiting)."""
    from lifelines import KaplanMeierFitter

    known = fw[fw["state"].isin(["heard", "waiting"])]
    fits = {}
    for group in ROUND_GROUPS:
        g = known[known["round_group"].eq(group)]
        if g.empty:
            continue
        kmf = KaplanMeierFitter(alpha=1 - CONFIDENCE, label=group)
        fits[group] = kmf.fit(g["days"].astype(float), g["event"].astype(bool))
    return fits


def _time_at(q: float, curve: pd.Series) -> float:
    """The first time ``curve`` (share still waiting, indexed by day) is at most
    ``q``; inf if it never gets there.

    lifelines' own ``qth_survival_time`` does the same with no tolerance, and misses
    an exact level by float rounding: 3 of 6 still waiting computes as
    0.5000000000000001, which would move the median to the next answer.
    """
    hit = np.nonzero(curve.to_numpy(dtype=float) <= q + 1e-9)[0]
    return float(curve.index[hit[0]]) if hit.size else math.inf


def round_summary(fw: pd.DataFrame) -> pd.DataFrame:
    """One row per round group with interviews: how many, how many answered and
    still waiting, the median and the 80% time (days by which 80% heard back) with
    their confidence intervals, and the longest wait followed so far.

    A time the curve has not come down to is inf (a bound "more than ``longest``
    days"); the low end of an interval comes from the curve's lower band, the high
    end from its upper band.
    """
    rows = []
    known = fw[fw["state"].isin(["heard", "waiting"])]
    for group, kmf in fit_rounds(fw).items():
        g = known[known["round_group"].eq(group)]
        sf = kmf.survival_function_.iloc[:, 0]
        ci = kmf.confidence_interval_
        low, high = ci.iloc[:, 0], ci.iloc[:, 1]
        rows.append(
            dict(
                round_group=group,
                interviews=len(g),
                answered=int(g["event"].sum()),
                waiting=int((~g["event"]).sum()),
                median=_time_at(0.5, sf),
                median_low=_time_at(0.5, low),
                median_high=_time_at(0.5, high),
                p80=_time_at(0.2, sf),
                p80_low=_time_at(0.2, low),
                p80_high=_time_at(0.2, high),
                longest=float(g["days"].max()),
            )
        )
        p80 = rows[-1]["p80"]
        rows[-1]["p80_cases"] = int((g["event"] & (g["days"] >= p80)).sum()) if math.isfinite(p80) else 0
    cols = ["round_group", "interviews", "answered", "waiting", "median", "median_low", "median_high"]
    cols += ["p80", "p80_low", "p80_high", "longest", "p80_cases"]
    return pd.DataFrame(rows, columns=cols)


def _interval(low: float, high: float, longest: float) -> str:
    pct = f"{CONFIDENCE:.0%}"
    if math.isinf(low):
        return f"{pct} interval: not yet known"
    if math.isinf(high):
        return f"{pct} interval: from {count_noun(low, 'day')} to more than {int(longest)}"
    if low == high:
        return f"{pct} interval: {count_noun(low, 'day')}"
    return f"{pct} interval: {int(low)} to {count_noun(high, 'day')}"


def method_sentence(fw: pd.DataFrame, as_of) -> str:
    """What the curves count and leave out, and why (Markdown)."""
    day = pd.Timestamp(as_of)
    n = fw["state"].value_counts()
    waiting, unknown, withdrawn = (int(n.get(s, 0)) for s in ("waiting", "unknown", "withdrawn"))
    text = (
        f"Each interview counts in calendar days (the wait as the client feels it) from its day to the "
        f"employer's first word — a message, an offer or a rejection. "
        f"{count_noun(int(n.get('heard', 0)), 'interview')} had that word by {day:%A %d %B %Y}; "
        f"the {count_noun(waiting, 'interview')} still waiting count as waiting up to that day, not as left out."
    )
    if withdrawn:
        text += (
            f" {count_noun(withdrawn, 'interview')} of withdrawn applications {'is' if withdrawn == 1 else 'are'} "
            "left out: the candidate ended the wait."
        )
    if unknown:
        text += (
            f" For {count_noun(unknown, 'interview')}, word came on a day the store does not hold (another round "
            "followed with no invitation logged, or an outcome has no date), so they are left out too — "
            "log the invitation as a received message to count them."
        )
    return text


def round_sentences(summary: pd.DataFrame, settings: Settings | None = None) -> list[str]:
    """One Markdown sentence per round group of ``round_summary``: its median and
    80% time with their intervals, and what a silence of that length means.

    A typical time only from ``settings.min_answers_for_times`` answers on (below
    it, the sentence says there are too few, and gives none); "unusual" only past
    the 80% time, beside the workbook's own follow-up pace (``cadence_phrase``)."""
    s = settings or Settings()
    out = []
    for r in summary.itertuples():
        plural = _PLURAL[r.round_group]
        counts = (
            f"**{plural.capitalize()}** ({count_noun(r.interviews, 'interview')}, {r.answered} answered, "
            f"{r.waiting} still waiting)"
        )
        pace = f"the workbook's own pace ({cadence_phrase(r.round_group, s)})"
        if r.answered == 0:
            out.append(
                counts + ": no answer yet, so nothing to compare a silence with — rely on the employer's own date."
            )
            continue
        if r.answered < s.min_answers_for_times:
            out.append(
                counts + f": too few answers to give a typical time (at least {s.min_answers_for_times} are needed: "
                f"the min_answers_for_times setting) — go by the employer's own date and {pace}."
            )
            continue
        if math.isinf(r.median):
            median = f"fewer than half have heard back, some after {count_noun(r.longest, 'day')} of waiting"
        else:
            median = (
                f"half hear back within {count_noun(r.median, 'day')} "
                f"({_interval(r.median_low, r.median_high, r.longest)})"
            )
        if math.isinf(r.p80):
            p80 = f"when 80% have heard back is not known yet (some still wait after {count_noun(r.longest, 'day')})"
            close = f" Long waits are ordinary here: keep to {pace}."
        elif r.p80_cases < MIN_TAIL:
            p80 = (
                f"when 80% have heard back rests on {count_noun(r.p80_cases, 'answer')} so far (day {int(r.p80)}), "
                "too few to call any wait unusual"
            )
            close = f" Keep to {pace}."
        else:
            p80 = f"80% within {count_noun(r.p80, 'day')} ({_interval(r.p80_low, r.p80_high, r.longest)})"
            close = (
                f" Past day {int(r.p80)} a silence is unusual here; until then it is not, and {pace} "
                "is the one to keep."
            )
        out.append(f"{counts}: {median}; {p80}.{close}")
    return out


def waiting_now_markdown(tables: Mapping[str, pd.DataFrame], as_of, settings: Settings | None = None) -> str:
    """Every coachee's applications still waiting for a first word (the weekly
    report's ``waiting_sentences``), as one Markdown list per coachee."""
    parts = []
    day = pd.Timestamp(as_of).normalize()
    fw = first_words(tables, day)  # the practice's, once for every coachee
    times = round_times(fw)
    leaving = ended_by(tables, day)
    their_dates = latest_dates(tables, day)["their_date"]
    for r in tables["coachees"].sort_values("name", kind="stable").itertuples():
        lines = waiting_sentences_from(
            fw, tables["offers"], day, r.coachee_id, times, settings, leaving=leaving, their_dates=their_dates
        )
        if lines:
            parts.append(f"**{md_escape(r.name)}**\n\n" + "\n".join(f"- {line}" for line in lines))
    if not parts:
        return "No open application is waiting for the employer's first word after its latest interview."
    return "\n\n".join(parts)


#: The levels marked on the still-waiting curves, and their labels (set in the
#: right margin, beside the plot, where no curve can cross them).
LEVELS = ((50, "half heard back", "dash"), (20, "80% heard back", "dot"))
BAND_OPACITY = 0.18


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def still_waiting_figure(fw: pd.DataFrame) -> go.Figure:
    """ "Share still waiting by day N": one panel per round group (so no band hides
    another), each a Kaplan–Meier step line with its confidence band lightly
    shaded, the 50% and 20% levels marked, their labels in the margin clear of
    every line; a round with no answer yet says so in its panel."""
    from plotly.subplots import make_subplots

    title = "Share of interviews still waiting for the employer's first word"
    fits = fit_rounds(fw)
    if not fits:
        fig = go.Figure()
        fig.add_annotation(text="No interview held yet", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        return chart_layout(fig, title, "", "", 220)
    known = fw[fw["state"].isin(["heard", "waiting"])]
    groups = list(fits)
    names = []
    for group in groups:
        g = known[known["round_group"].eq(group)]
        names.append(f"{group.capitalize()}: {count_noun(len(g), 'interview')}, {int(g['event'].sum())} answered")
    fig = make_subplots(rows=len(groups), cols=1, shared_xaxes=True, vertical_spacing=0.12, subplot_titles=names)
    for row, group in enumerate(groups, start=1):
        kmf = fits[group]
        colour = ROUND_COLOURS[group]
        t = kmf.survival_function_.index.to_numpy()
        ci = kmf.confidence_interval_
        fig.add_scatter(
            x=np.concatenate([t, t[::-1]]),
            y=np.concatenate([ci.iloc[:, 1].to_numpy(), ci.iloc[::-1, 0].to_numpy()]) * 100,
            fill="toself",
            mode="lines",
            fillcolor=_rgba(colour, BAND_OPACITY),
            line=dict(width=0, shape="hv"),
            hoverinfo="skip",
            name=f"{CONFIDENCE:.0%} interval",
            legendgroup="interval",
            showlegend=row == 1,
            row=row,
            col=1,
        )
        fig.add_scatter(
            x=t,
            y=kmf.survival_function_.iloc[:, 0].to_numpy() * 100,
            mode="lines",
            line=dict(color=colour, width=2.5, shape="hv"),
            name=group,
            hovertemplate="day %{x}: %{y:.0f}% still waiting<extra>" + group + "</extra>",
            row=row,
            col=1,
        )
        axis = "" if row == 1 else str(row)
        for level, label, dash in LEVELS:
            fig.add_hline(y=level, line=dict(color="#555", dash=dash, width=1.5), row=row, col=1)
            fig.add_annotation(
                text=label,
                x=1.0,
                xref=f"x{axis} domain",
                xanchor="left",
                xshift=6,
                y=level,
                yref=f"y{axis}",
                showarrow=False,
                font=dict(size=11, color="#555"),
            )
        if int(known.loc[known["round_group"].eq(group), "event"].sum()) == 0:
            fig.add_annotation(
                text="no answer yet: every one still waiting",
                x=0.5,
                xref=f"x{axis} domain",
                y=60,
                yref=f"y{axis}",
                showarrow=False,
                font=dict(size=12, color=colour),
            )
    fig.update_yaxes(range=[0, 105], ticksuffix="%")
    fig.update_xaxes(rangemode="tozero")
    fig = chart_layout(fig, title, "", "Still waiting", 120 + 210 * len(groups))
    fig.update_xaxes(title_text="Days since the interview (calendar days)", row=len(groups), col=1)
    # The legend at the foot, below the axis title, clear of the panels' titles.
    fig.update_layout(margin=dict(r=120, t=90, b=100), legend=dict(y=0.01, yanchor="bottom", yref="container"))
    return fig


# ----------------------------------------------------------- lateness and the grace period


def _business_days_late(their_date: pd.Series, answered_on: pd.Series, calendars: pd.Series, around) -> pd.Series:
    """Business days from the employer's date to the answer, counted as the rules
    count the grace period: an answer on ``add_business_days(date, g)`` is g late
    (a date on a weekend or holiday counts from the business day before it)."""
    out = pd.Series(np.nan, index=their_date.index)
    ok = their_date.notna() & answered_on.notna()
    if not ok.any():
        return out
    year = pd.Timestamp(around).year
    codes, uniques = pd.factorize(pd.Series(calendars[ok].to_numpy(), dtype=object))
    start = their_date[ok].to_numpy().astype("datetime64[D]")
    end = answered_on[ok].to_numpy().astype("datetime64[D]")
    late = np.zeros(len(start))
    for i, cal in enumerate(uniques):
        rows = codes == i
        hol = holiday_dates(tuple(cal), year - 3, year + 2)
        rolled = np.busday_offset(start[rows], 0, roll="backward", holidays=hol)
        late[rows] = np.busday_count(rolled, end[rows], holidays=hol)
    out[ok] = np.where(end > start, late, np.minimum(late, 0))
    return out


def late_answers(tables: Mapping[str, pd.DataFrame], settings: Settings, as_of) -> pd.DataFrame:
    """One row per date an employer gave (at an interview, or in a message that
    moved it), with what became of it by ``as_of``.

    ``state`` is "kept" (first word on or before the date), "late" (after it:
    ``late_business_days`` counted in the coachee's business days, their country's
    holidays skipped, as the grace period is), "passed" (the date has passed with no
    word yet), "ahead" (not yet reached) or "unknown" (word came on a day the store
    does not hold). Interviews of withdrawn applications are left out.
    """
    day = pd.Timestamp(as_of).normalize()
    fw = first_words(tables, day)
    fw = fw[fw["state"].ne("withdrawn") & fw["next_step_by"].notna()]
    at_interview = pd.DataFrame(
        {
            "application_id": fw["application_id"],
            "coachee_id": fw["coachee_id"],
            "company": fw["company"],
            "given_on": fw["held_on"],
            "their_date": fw["next_step_by"],
            # Another round held by their date means word came by it, on some day.
            "answered_on": fw["heard_on"].where(
                ~(fw["state"].eq("unknown") & (fw["next_round_on"] <= fw["next_step_by"])), fw["next_round_on"]
            ),
            "unknown": fw["state"].eq("unknown") & ~(fw["next_round_on"] <= fw["next_step_by"]),
        }
    )
    # A date moved in a message: the first word after that message answers it.
    msgs = tables["messages"]
    no_column = pd.Series(None, index=msgs.index, dtype=object)
    moved = msgs[
        msgs["direction"].eq("received")
        & msgs.get("next_step_by", no_column).notna()
        & (msgs["on"] <= day)
        & msgs.get("reference_id", no_column).isna()
    ]
    apps = tables["applications"]
    live = apps[apps["status"].ne("withdrawn")][["application_id", "coachee_id", "company"]]
    moved = moved[["message_id", "application_id", "on", "next_step_by"]].merge(live, on="application_id")
    words = employer_words(tables, day)
    pairs = moved.merge(words.rename(columns={"on": "word_on"}), on="application_id")
    first = pairs[pairs["word_on"] > pairs["on"]].groupby("message_id")["word_on"].min()
    at_message = pd.DataFrame(
        {
            "application_id": moved["application_id"],
            "coachee_id": moved["coachee_id"],
            "company": moved["company"],
            "given_on": moved["on"],
            "their_date": moved["next_step_by"],
            "answered_on": first.reindex(moved["message_id"]).to_numpy(),
            "unknown": False,
        }
    )
    out = pd.concat([at_interview, at_message], ignore_index=True)
    out["their_date"] = pd.to_datetime(out["their_date"]).dt.normalize()
    out["answered_on"] = pd.to_datetime(out["answered_on"])
    out["unknown"] = out["unknown"].astype(bool)
    calendars = calendars_of(tables["coachees"], settings.country)
    cal = calendars.reindex(out["coachee_id"].to_numpy()).set_axis(out.index)
    cal = cal.where(cal.notna(), pd.Series([("", "")] * len(cal), index=cal.index, dtype=object))
    out["late_business_days"] = _business_days_late(out["their_date"], out["answered_on"], cal, day)
    answered = out["answered_on"].notna()
    out["state"] = np.select(
        [
            out["unknown"],
            answered & (out["answered_on"] <= out["their_date"]),
            answered,
            out["their_date"] < day,
        ],
        ["unknown", "kept", "late", "passed"],
        default="ahead",
    )
    out = out.drop(columns="unknown").sort_values(["given_on", "company"], kind="stable")
    return out.reset_index(drop=True)


@dataclass(frozen=True)
class GraceSuggestion:
    """The grace period the practice's late answers call for, next to the setting."""

    #: Business days covering GRACE_COVERS of the late answers; None below MIN_GRACE_CASES.
    suggested: int | None
    #: The setting's name and its value now.
    setting: str
    current: int
    #: How many late answers the suggestion rests on.
    cases: int
    #: A paragraph ready to print (plain text, also valid Markdown).
    text: str


def suggest_grace(tables: Mapping[str, pd.DataFrame], settings: Settings, as_of) -> GraceSuggestion:
    """The grace period (business days after the employer's own date before a
    status inquiry is due) that covers 75% of the late answers in this practice;
    refuses (``suggested`` None, the text says why) below 20 late answers."""
    name, current = "grace_business_days", settings.grace_business_days
    la = late_answers(tables, settings, as_of)
    late = np.sort(la.loc[la["state"].eq("late"), "late_business_days"].to_numpy(dtype=float))
    cases = len(late)
    passed = int(la["state"].eq("passed").sum())
    pending = (
        f" {count_noun(passed, 'date has', 'dates have')} passed with no word yet; they are not counted, as how late "
        "they will be is not known."
        if passed
        else ""
    )
    if cases < MIN_GRACE_CASES:
        seen = (
            f"{typical_amount(late, 'business day', settings.min_answers_for_times)} late"
            if cases
            else "none has answered late yet"
        )
        text = (
            f"Only {count_noun(cases, 'employer')} in this practice answered after the date they gave ({seen}); "
            f"at least {MIN_GRACE_CASES} such answers are needed before suggesting a grace period, so the "
            f"current setting stays: {name} = {current}.{pending}"
        )
        return GraceSuggestion(None, name, current, cases, text)
    # The smallest whole number of days with at least 75% of late answers at or under it.
    suggested = int(late[math.ceil(GRACE_COVERS * cases) - 1])
    low, high = RANGES[name]
    capped = min(max(suggested, low), high)
    within_now = int((late <= current).sum())
    text = (
        f"In this practice, {cases} employers answered after the date they gave: half within "
        f"{count_noun(round(float(np.median(late))), 'business day')} of it, 75% within {count_noun(suggested, 'business day')} "
        f"(the latest {count_noun(late[-1], 'business day')} late). "
    )
    if capped != suggested:
        text += f"The setting allows at most {high}. "
    text += (
        f"The current setting, {name} = {current}, covers {within_now} of the {cases} "
        f"({within_now / cases:.0%}): with it, a status inquiry goes out before "
        f"{count_noun(cases - within_now, 'late answer')} would have come anyway. "
    )
    if capped == current:
        text += "It already matches the practice: keep it."
    else:
        text += (
            f"Suggested: {name} = {capped}, so the workbook asks only once most late employers would have "
            "written on their own."
        )
    return GraceSuggestion(capped, name, current, cases, text + pending)


def lateness_sentence(la: pd.DataFrame, settings: Settings | None = None) -> str:
    """What became of the dates employers gave (Markdown), ending in what it means."""
    s = settings or Settings()
    given = la[la["state"].ne("ahead")]
    if given.empty:
        return "No employer's date has come yet, so there is nothing to say about whether they keep it."
    n = given["state"].value_counts()
    kept, late, passed = (int(n.get(s, 0)) for s in ("kept", "late", "passed"))
    text = f"Employers gave {count_noun(len(la), 'date')}; of the {len(given)} that can be judged now, {kept} "
    text += f"{'was' if kept == 1 else 'were'} kept, {late} answered late"
    if late:
        amounts = la.loc[la["state"].eq("late"), "late_business_days"]
        text += f" ({typical_amount(amounts, 'business day', s.min_answers_for_times)} after the date)"
    text += f" and {passed} passed with no word yet"
    unknown = int(n.get("unknown", 0))
    if unknown:
        text += f"; for {unknown}, word came on a day the store does not hold"
    text += ". "
    if late + passed > kept:
        text += "Employers here miss their own date more often than not: the date is a hope, not a promise."
    else:
        text += "Employers here mostly keep their date: a missed one is worth a polite question."
    return text


def _marker(fig: go.Figure, x: float, text: str, colour: str, dash: str, label_y: float) -> None:
    """A vertical marker line above the bars, labelled above the plot area."""
    fig.add_vline(x=x, line=dict(color=colour, dash=dash, width=3), layer="above", opacity=1)
    fig.add_annotation(
        text=text,
        x=x,
        xref="x",
        y=label_y,
        yref="paper",
        yanchor="bottom",
        showarrow=False,
        font=dict(size=12, color=colour),
    )


def lateness_figure(la: pd.DataFrame, grace: int, suggested: int | None = None) -> go.Figure:
    """The distribution of how many business days late the late answers came, with
    the current grace period and the suggested one marked."""
    title = "How late the late answers came (business days after the employer's date)"
    late = la.loc[la["state"].eq("late"), "late_business_days"]
    fig = go.Figure()
    if late.empty:
        fig.add_annotation(text="No late answer yet", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        return chart_layout(fig, title, "", "", 220)
    fig.add_histogram(
        x=late,
        xbins=dict(start=0.5, size=1),
        marker_color="#1f77b4",
        hovertemplate="%{x} business days late: %{y} answers<extra></extra>",
        name="late answers",
    )
    # The grace period: a solid dark line drawn over the bars, its label above the
    # plot area (never on a bar); the suggestion dashed, its label higher still.
    _marker(fig, grace + 0.5, f"grace now: {count_noun(grace, 'business day')}", "#b00020", "solid", 1.02)
    if suggested is not None and suggested != grace:
        _marker(fig, suggested + 0.5, f"suggested: {suggested}", "#1b7f1b", "dash", 1.12)
    counts = late.value_counts().max()
    fig.update_yaxes(tick0=0, dtick=max(1, math.ceil(counts / 6)), rangemode="tozero")
    fig.update_layout(showlegend=False, bargap=0.1)
    fig = chart_layout(fig, title, "Business days late", "Answers", 360)
    fig.update_layout(margin=dict(t=110))
    return fig


# ----------------------------------------------------------- the day judged from


#: Where the response-times notebook's day comes from, and what it tells the coach.
DAY_NOTES = {
    "parameter": "Judged from the day given as the notebook's `as_of`.",
    "session": 'Judged from the working session\'s day (the day its "Today is" shows, or `followup app --as-of`).',
    "clock": (
        "Judged from today's date: no working session on this store has shown a day today; to judge from "
        "another day, set `as_of` in the notebook's first cell."
    ),
}


def day_source(as_of_parameter, session_day) -> str:
    """Which day the analysis judges from: the notebook's ``as_of`` parameter if
    given, else the session's day (``settings.session_day`` or ``FOLLOWUP_AS_OF``,
    passed in), else the clock.
    A key of ``DAY_NOTES``."""
    if as_of_parameter:
        return "parameter"
    return "session" if session_day else "clock"


def day_note(source: str) -> str:
    """One sentence (Markdown, no store text in it) saying where the day judged from came from."""
    return DAY_NOTES[source]
