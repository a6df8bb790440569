"""The weekly progress report's content: pure functions of one coachee's tables.

``weekly_report(tables, coachee_id, week_ending)`` gathers every section as
DataFrames and numbers; ``section_html`` renders one as escaped HTML for the
report notebook. Only the one coachee's rows are ever read (``Store.load`` with
``coachee_id``), so nothing about anyone else can reach the page.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from ..kinds import ACTION_LABELS, KINDS
from ..schema import CLOSED_STATUSES
from ..settings import Settings
from . import analysis, charts
from .rules import due_actions, missing_offer_terms


@dataclass
class WeeklyReport:
    coachee_id: str
    coachee_name: str
    week_start: pd.Timestamp
    week_ending: pd.Timestamp
    headline: dict[str, int]
    happened: pd.DataFrame
    next_week: pd.DataFrame
    promises: pd.DataFrame
    references: pd.DataFrame
    offers: pd.DataFrame
    waiting: pd.DataFrame
    pipeline: pd.DataFrame
    figures: dict = field(default_factory=dict)
    sentences: dict = field(default_factory=dict)


def _in_week(s: pd.Series, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    return s.notna() & (s >= start) & (s <= end)


def _events(tables, start, end) -> pd.DataFrame:
    apps = tables["applications"][["application_id", "company"]]
    rows = []

    def add(df, date_col, what, by_you=True):
        if df.empty:
            return
        d = df[_in_week(df[date_col], start, end)]
        if len(d):
            d = d.merge(apps, on="application_id", how="left") if "company" not in d else d
            rows.append(
                pd.DataFrame(
                    {
                        "date": d[date_col].values,
                        "company": d["company"].values,
                        "what": what(d) if callable(what) else what,
                        "done_by_you": by_you(d).values if callable(by_you) else by_you,
                    }
                )
            )

    iv = tables["interviews"]
    add(
        iv,
        "held_on",
        lambda d: "Interview" + (" with " + d["interviewer_name"].fillna("")).where(d["interviewer_name"].notna(), ""),
        by_you=False,
    )
    add(
        iv,
        "thank_you_sent_on",
        lambda d: (
            "Thank-you sent" + (" to " + d["interviewer_name"].fillna("")).where(d["interviewer_name"].notna(), "")
        ),
    )
    ru = tables["reference_uses"].merge(tables["references"][["reference_id", "name"]], on="reference_id", how="left")
    add(ru, "briefed_on", lambda d: "Briefed reference " + d["name"].fillna(""))
    add(ru, "last_checkin_on", lambda d: "Checked in with reference " + d["name"].fillna(""))
    add(
        ru,
        "contacted_on",
        lambda d: "Reference " + d["name"].fillna("") + " was contacted by the employer",
        by_you=False,
    )
    add(tables["promises"], "done_on", lambda d: "Promise kept: " + d["what"].fillna(""))
    msgs = tables["messages"]
    # Thank-yous, briefings, promises and requests for the written offer are
    # already counted by the dates marking them sent sets (kinds.SentRecord).
    own = [k for k, v in KINDS.items() if v.sent_records]
    msgs = msgs[~(msgs["direction"].eq("sent") & msgs["kind"].isin(own))]
    add(
        msgs,
        "on",
        lambda d: (
            d["direction"].map({"sent": "Sent", "received": "Heard from the employer"}).fillna("")
            + (": " + d["summary"].fillna("")).where(
                d["summary"].notna(), (" (" + d["kind"].fillna("") + ")").where(d["kind"].notna(), "")
            )
        ),
        by_you=lambda d: d["direction"].eq("sent"),
    )
    o = tables["offers"]
    for col, what, by_you in (
        ("verbal_on", "Verbal offer", False),
        ("written_requested_on", "Asked for the offer in writing", True),
        ("written_received_on", "Written offer received", False),
        ("accepted_on", "Offer accepted", True),
        ("approved_on", "Offer approved", False),
        ("rescinded_on", "Offer withdrawn by the employer", False),
    ):
        add(o, col, what, by_you)
    if not rows:
        return pd.DataFrame(columns=["date", "company", "what", "done_by_you"])
    ev = pd.concat(rows, ignore_index=True)
    ev["done_by_you"] = ev["done_by_you"].astype(bool)
    return ev.sort_values(["date", "company", "what"], kind="stable").reset_index(drop=True)


def _promise_states(tables, as_of) -> pd.DataFrame:
    p = tables["promises"].merge(tables["applications"][["application_id", "company"]], on="application_id", how="left")
    state = pd.Series("upcoming", index=p.index, dtype=object)
    state = state.where(~(p["done_on"].isna() & (p["due_on"] < as_of)), "overdue")
    state = state.where(~(p["done_on"].isna() & (p["due_on"] == as_of)), "due today")
    state = state.where(p["done_on"].isna(), "kept")
    state = state.where(~(p["done_on"].notna() & (p["done_on"] > p["due_on"])), "kept late")
    out = p[["company", "what", "due_on", "done_on"]].rename(columns={"due_on": "due", "done_on": "done"})
    out["state"] = state
    return out.sort_values(["due"], ascending=False).reset_index(drop=True)


def _reference_table(tables) -> pd.DataFrame:
    ru = tables["reference_uses"].merge(tables["references"][["reference_id", "name"]], on="reference_id", how="left")
    ru = ru.merge(tables["applications"][["application_id", "company"]], on="application_id", how="left")
    return (
        ru[["name", "company", "given_on", "briefed_on", "last_checkin_on", "contacted_on"]]
        .rename(
            columns={
                "name": "reference",
                "last_checkin_on": "last check-in",
                "contacted_on": "employer called them",
                "given_on": "given",
                "briefed_on": "briefed",
            }
        )
        .sort_values(["reference", "company"])
        .reset_index(drop=True)
    )


def _offer_table(tables) -> pd.DataFrame:
    o = tables["offers"].merge(
        tables["applications"][["application_id", "company", "role"]], on="application_id", how="left"
    )
    missing = missing_offer_terms(o)
    o["missing terms"] = missing.where(o["written_received_on"].notna(), "(no written offer yet)")
    o["missing terms"] = o["missing terms"].where(o["missing terms"].ne(""), "none")
    return o[
        [
            "company",
            "role",
            "verbal_on",
            "written_received_on",
            "response_deadline",
            "accepted_on",
            "approved_on",
            "rescinded_on",
            "missing terms",
        ]
    ].rename(columns=lambda c: c.replace("_on", "").replace("_", " "))


def weekly_report(
    tables: Mapping[str, pd.DataFrame],
    coachee_id: str,
    week_ending,
    settings: Settings | None = None,
    coach_settings: Mapping[str, Settings] | None = None,
) -> WeeklyReport:
    """Every section of one coachee's report for the week ending ``week_ending``."""
    end = pd.Timestamp(str(week_ending)[:10]).normalize()  # papermill passes text
    start = end - pd.Timedelta(days=6)
    settings = settings or Settings()
    coachee = tables["coachees"][tables["coachees"]["coachee_id"].eq(coachee_id)]
    name = str(coachee["name"].iloc[0]) if len(coachee) else coachee_id
    actions = due_actions(tables, end, settings, coach_settings)
    apps = tables["applications"]
    happened = _events(tables, start, end)
    next_week = actions[actions["due_on"] <= end + pd.Timedelta(days=7)]
    headline = {
        "active applications": int((~apps["status"].isin(CLOSED_STATUSES)).sum()),
        "interviews this week": int(_in_week(tables["interviews"]["held_on"], start, end).sum()),
        "follow-ups done this week": int(happened["done_by_you"].sum()) if len(happened) else 0,
        "overdue now": int(actions["status"].eq("overdue").sum()),
    }
    nw = next_week.assign(what=next_week["kind"].map(ACTION_LABELS))[
        ["due_on", "status", "what", "company", "recipient", "channel", "why"]
    ].rename(columns={"due_on": "due", "recipient": "to"})
    waiting = analysis.waiting_on(tables, end)
    pipeline = analysis.pipeline_counts(tables)
    report = WeeklyReport(
        coachee_id=coachee_id,
        coachee_name=name,
        week_start=start,
        week_ending=end,
        headline=headline,
        happened=happened.drop(columns="done_by_you"),
        next_week=nw.reset_index(drop=True),
        promises=_promise_states(tables, end),
        references=_reference_table(tables),
        offers=_offer_table(tables),
        waiting=waiting,
        pipeline=pipeline,
    )
    report.figures = {
        "days_since": charts.days_since_interview_figure(waiting),
        "pipeline": charts.pipeline_figure(pipeline),
    }
    report.sentences = {
        "days_since": charts.days_since_sentence(waiting),
        "pipeline": charts.pipeline_sentence(pipeline),
    }
    return report


# ---------------------------------------------------------------- HTML


def _fmt_dates(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = out[c].dt.strftime("%a %d %b").fillna("")
    return out.fillna("")


def table_html(df: pd.DataFrame, empty: str) -> str:
    """An escaped HTML table (store text always shows as text), or a sentence if empty."""
    if df.empty:
        return f'<p class="fw-empty">{html.escape(empty)}</p>'
    return _fmt_dates(df).to_html(index=False, escape=True, border=0, classes="fw-table")


STYLE = """<style>
.fw-table {border-collapse: collapse; font-size: 0.92em; margin: 0.4em 0 1em;}
/* Specific enough to win over JupyterLab's right-aligned notebook tables: sentences read left to right. */
.jp-RenderedHTMLCommon table.fw-table th, table.fw-table th {text-align: left; border-bottom: 2px solid #444; padding: 4px 10px;}
.jp-RenderedHTMLCommon table.fw-table td, table.fw-table td {border-bottom: 1px solid #ddd; padding: 4px 10px; vertical-align: top; max-width: 46em; text-align: left;}
.fw-headline {display: flex; gap: 1.2em; flex-wrap: wrap; margin: 0.6em 0 1.2em;}
.fw-headline div {border: 1px solid #ccc; border-radius: 8px; padding: 0.6em 1em; min-width: 9em;}
.fw-headline b {display: block; font-size: 1.8em;}
.fw-empty {color: #666; font-style: italic;}
</style>"""


def headline_html(r: WeeklyReport) -> str:
    cards = "".join(f"<div><b>{v}</b>{html.escape(k)}</div>" for k, v in r.headline.items())
    title = (
        f"<h1>Weekly progress: {html.escape(r.coachee_name)}</h1>"
        f"<p>Week of {r.week_start:%A %d %B} to {r.week_ending:%A %d %B %Y}</p>"
    )
    return STYLE + title + f'<div class="fw-headline">{cards}</div>'


def section_html(r: WeeklyReport, section: str) -> str:
    """One section of the report as HTML."""
    if section == "happened":
        return table_html(r.happened, "Nothing was logged this week.")
    if section == "next_week":
        return table_html(r.next_week, "Nothing is due next week.")
    if section == "promises":
        return table_html(r.promises, "No promises made to interviewers yet.")
    if section == "references":
        return table_html(r.references, "No references given to an application yet.")
    if section == "offers":
        return table_html(r.offers, "No offers yet.")
    raise KeyError(section)


def chart_html(r: WeeklyReport, name: str, figures: charts.OfflineFigures) -> str:
    return f"<p>{html.escape(r.sentences[name])}</p>" + figures.html(r.figures[name])
