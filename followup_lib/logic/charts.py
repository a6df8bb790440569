"""Charts: pure functions from DataFrames (see ``analysis``) to plotly figures,
each with a one-sentence reading of the data in front of it.

The report's two charts are also built as plain figure dicts ("specs": plotly's
own JSON, ``{"data": [...], "layout": {...}}``): a report only turns them into
HTML, and a dict is that at once, where building a ``go.Figure`` first costs a
fresh kernel a quarter of a second of plotly's imports, schema and template
copies. ``*_figure`` wraps the same dict in a ``go.Figure`` (validated) for
notebooks and the app.

``OfflineFigures`` turns figures into HTML that works offline: plotly.js is inlined
the first time, never fetched from a CDN (plotly's own "notebook" renderer also
adds a MathJax script from a CDN, which a report that opens anywhere cannot have).
"""

from __future__ import annotations

import html
import json
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..settings import Settings
from .analysis import NOT_WAITING
from .page_markers import PLOTLY_JS_PLACEHOLDER
from .wording import count_noun as _n
from .wording import typical_amount

#: The fewest cases a median is given from (the ``min_answers_for_times`` setting's default).
MIN_CASES = Settings().min_answers_for_times

WAITING_COLOURS = {
    "thank-you not sent": "#d62728",
    "employer's date passed": "#ff7f0e",
    "employer's date ahead": "#2ca02c",
    "decision after final round": "#1f77b4",
    "heard back since": "#17becf",
    "no date given": "#7f7f7f",
    "offer stage": "#9467bd",
    "being left": "#bdbdbd",
    "ended": "#8c564b",
}
#: The shortest bar drawn (in days): a wait of 0 days (an interview today) still
#: shows its colour, so the legend matches a bar; the hover and the axis keep the true days.
MIN_BAR_DAYS = 0.35
FONT = dict(family="Inter, Segoe UI, Helvetica, Arial, sans-serif", size=13)


TEMPLATE = "simple_white"


def layout_spec(title: str, x: str, y: str, height: int | None = None) -> dict:
    """The house look of every chart (title left, plain axes, legend on top), as a layout dict."""
    return {
        "title": {"text": html.escape(title), "x": 0, "xanchor": "left"},
        "xaxis": {"title": {"text": x}},
        "yaxis": {"title": {"text": y}},
        "template": TEMPLATE,
        "font": dict(FONT),
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "left", "x": 0, "title": None},
        "margin": {"l": 10, "r": 10, "t": 70, "b": 40},
        "height": height,
    }


def chart_layout(fig: go.Figure, title: str, x: str, y: str, height: int | None = None) -> go.Figure:
    """The house look of every chart, applied to ``fig``."""
    fig.update_layout(layout_spec(title, x, y, height))
    return fig


def empty_spec(title: str, message: str) -> dict:
    """A chart with nothing to draw: the message in its middle."""
    layout = layout_spec(title, "", "", height=220)
    layout["annotations"] = [
        {
            "text": html.escape(message),
            "showarrow": False,
            "x": 0.5,
            "y": 0.5,
            "xref": "paper",
            "yref": "paper",
            "font": {"size": 15, "color": "#555"},
        }
    ]
    layout["xaxis"]["visible"] = False
    layout["yaxis"]["visible"] = False
    return {"data": [], "layout": layout}


def _empty(title: str, message: str) -> go.Figure:
    return go.Figure(empty_spec(title, message))


@lru_cache(maxsize=8)
def _template_json(name: str) -> str:
    try:  # the template's file in plotly's package: read as it is, no validation
        return resources.files("plotly").joinpath("package_data", "templates", f"{name}.json").read_text("utf-8")
    except (OSError, ValueError):
        import plotly.io as pio

        return json.dumps(pio.templates[name].to_plotly_json())


def resolved(spec: dict) -> dict:
    """``spec`` as plotly.js takes it: a template named in its layout replaced by
    the template itself (plotly.js knows no template names; ``go.Figure`` looks
    them up the same way)."""
    name = spec.get("layout", {}).get("template")
    if not isinstance(name, str):
        return spec
    return {**spec, "layout": {**spec["layout"], "template": json.loads(_template_json(name))}}


def _whole_numbers(axis, largest) -> None:
    """A count axis: ticks on whole numbers only (no "1.5 applications")."""
    largest = int(largest) if pd.notna(largest) else 0
    axis.update(tick0=0, dtick=max(1, int(np.ceil(largest / 6))), rangemode="tozero")


def _safe(text: pd.Series) -> list[str]:
    # plotly renders a subset of HTML in labels: store text is shown as text.
    return [html.escape(str(t)) for t in text]


# ----------------------------------------------------------- days since interview


NO_INTERVIEW_YET = "No open applications with an interview yet"


def days_since_interview_spec(waiting: pd.DataFrame, empty_message: str = NO_INTERVIEW_YET) -> dict:
    """One bar per open application: days since its latest interview, coloured by
    what it waits on, with the latest date the employer gave marked (a figure dict).
    ``empty_message``: what the chart says when ``waiting`` is empty (a caller that
    filtered it says what it filtered for)."""
    title = "Days since the latest interview"
    if waiting.empty:
        return empty_spec(title, empty_message)
    data = []
    labels = np.array(_safe(waiting["label"]), dtype=object)
    for category, colour in WAITING_COLOURS.items():
        rows = waiting["waiting_on"].eq(category).to_numpy()
        if not rows.any():
            continue
        days = waiting.loc[rows, "days_since"].astype(int)
        data.append(
            {
                "type": "bar",
                # A wait of 0 days gets a short bar, not none; the hover tells the true days.
                "x": [max(float(d), MIN_BAR_DAYS) for d in days],
                "customdata": days.tolist(),
                "y": labels[rows].tolist(),
                "orientation": "h",
                "name": category,
                "marker": {"color": colour},
                "hovertemplate": "%{y}: %{customdata} days<extra>" + html.escape(category) + "</extra>",
            }
        )
    date_col = "their_date" if "their_date" in waiting else "next_step_by"
    promised = waiting["promised_after_days"].notna().to_numpy()
    if promised.any():
        dates = pd.to_datetime(waiting.loc[promised, date_col])
        data.append(
            {
                "type": "scatter",
                "x": waiting.loc[promised, "promised_after_days"].tolist(),
                "y": labels[promised].tolist(),
                "customdata": dates.dt.strftime("%a %d %b").tolist(),
                "mode": "markers",
                "name": "their latest date",
                "marker": {"symbol": "line-ns-open", "size": 22, "color": "black", "line": {"width": 3}},
                "hovertemplate": "%{y}: they said %{customdata} (day %{x})<extra></extra>",
            }
        )
    layout = layout_spec(title, "Days since the interview", "", height=max(260, 60 + 34 * len(waiting)))
    layout["yaxis"].update(categoryorder="array", categoryarray=labels[::-1].tolist())
    layout["xaxis"].update(rangemode="tozero")
    return {"data": data, "layout": layout}


def days_since_interview_figure(waiting: pd.DataFrame, empty_message: str = NO_INTERVIEW_YET) -> go.Figure:
    return go.Figure(days_since_interview_spec(waiting, empty_message))


def days_since_sentence(waiting: pd.DataFrame) -> str:
    """How many open applications had an interview, and the longest wait for the
    employer among those still waiting: one at the offer stage waits on the
    client, one ended (a rejection, a withdrawal, an offer withdrawn) or being
    left (an offer approved elsewhere) waits on no one, and one that has heard
    back since (with no new date) is not waiting in silence. An application
    ended by a message is no longer called open, whatever its status says."""
    if waiting.empty:
        return "No open application has had an interview yet."
    offers = waiting["waiting_on"].eq("offer stage")
    leaving = waiting["waiting_on"].eq("being left")
    over = waiting["waiting_on"].eq("ended")
    silent = waiting[~waiting["waiting_on"].isin(NOT_WAITING)]
    text = f"{_n(len(waiting), 'application' if over.any() else 'open application')} with an interview"
    asides = []
    if offers.any():
        asides.append(f"{int(offers.sum())} with an offer")
    if over.any():
        asides.append(f"{int(over.sum())} ended")
    if leaving.any():
        asides.append(f"{int(leaving.sum())} being left")
    if asides:
        text += f" ({', '.join(asides)})"
    if silent.empty:
        return text + "; none is waiting on the employer."
    longest = silent.iloc[0]  # waiting_on sorts the longest wait first
    text += f"; the longest wait for the employer is {longest['company']} at {_n(longest['days_since'], 'day')}"
    late = silent[silent["waiting_on"].eq("employer's date passed")]
    if len(late):
        text += f", and {_n(len(late), 'employer has', 'employers have')} let their own date pass with no word"
    return text + "."


# ----------------------------------------------------------- pipeline


def pipeline_spec(counts: pd.DataFrame) -> dict:
    """Applications by the furthest stage reached, open and closed stacked (a figure dict)."""
    title = "Where applications stand"
    if counts["applications"].sum() == 0:
        return empty_spec(title, "No applications yet")
    data = []
    for state, colour in (("open", "#1f77b4"), ("closed", "#c7c7c7")):
        part = counts[counts["state"].eq(state)]
        data.append(
            {
                "type": "bar",
                "x": part["stage"].astype(str).tolist(),
                "y": part["applications"].tolist(),
                "name": state,
                "marker": {"color": colour},
                "hovertemplate": "%{x}: %{y} " + state + "<extra></extra>",
            }
        )
    layout = layout_spec(title, "Furthest stage reached", "Applications", height=340)
    layout["barmode"] = "stack"
    _whole_numbers(layout["yaxis"], counts.groupby("stage", observed=False)["applications"].sum().max())
    return {"data": data, "layout": layout}


def pipeline_figure(counts: pd.DataFrame) -> go.Figure:
    return go.Figure(pipeline_spec(counts))


def pipeline_sentence(counts: pd.DataFrame) -> str:
    total = int(counts["applications"].sum())
    if total == 0:
        return "There are no applications yet."
    by_stage = counts.groupby("stage", observed=False)["applications"].sum()
    interviewed = int(by_stage.drop("applied", errors="ignore").sum())
    open_applied = counts[(counts["stage"] == "applied") & (counts["state"] == "open")]["applications"].sum()
    return (
        f"Of {_n(total, 'application')}, {interviewed} reached an interview; "
        f"{int(open_applied)} open application{'s are' if open_applied != 1 else ' is'} still waiting for a first interview."
    )


# ----------------------------------------------------------- response times


def response_time_figure(rt: pd.DataFrame) -> go.Figure:
    """Days from each interview to the employer's first word, by round."""
    title = "How long employers take to answer, by round"
    answered = rt[rt["answered"]]
    if answered.empty:
        return _empty(title, "No employer has answered after an interview yet")
    fig = go.Figure()
    order = sorted(answered["round_label"].unique(), key=lambda r: (r == "final round", r))
    for label in order:
        d = answered[answered["round_label"].eq(label)]
        fig.add_box(
            x=d["days_to_answer"],
            name=html.escape(label),
            boxpoints="all",
            jitter=0.4,
            pointpos=0,
            orientation="h",
            marker_size=6,
            line_width=1.5,
            hovertemplate="%{x} days<extra></extra>",
        )
    fig.update_layout(showlegend=False)
    return chart_layout(fig, title, "Days from interview to the first word", "", height=140 + 60 * len(order))


def response_time_sentence(rt: pd.DataFrame, min_cases: int = MIN_CASES) -> str:
    """The answered interviews' median (with ``min_cases`` answers or more; below,
    the days themselves), and the longest wait counting the unanswered ones
    (``waited_days``, when ``rt`` was computed with an ``as_of``)."""
    answered = rt[rt["answered"]]
    if answered.empty:
        return "No employer has answered after an interview yet."
    silent = rt[~rt["answered"]]
    typical = typical_amount(answered["days_to_answer"], "day", min_cases)
    text = f"Employers answered {len(answered)} of {_n(len(rt), 'interview')}, after {typical}"
    if len(answered) >= min_cases:
        text += f" among those answered (longest {_n(answered['days_to_answer'].max(), 'day')})"
    if silent.empty:
        return text + "."
    text += f"; {len(silent)} {'is' if len(silent) == 1 else 'are'} still without an answer"
    if "waited_days" in silent and silent["waited_days"].notna().any():
        text += f", the longest for {_n(silent['waited_days'].max(), 'day')} so far"
    return text + ", so the typical wait is longer than the answered ones alone suggest."


def lateness_figure(rt: pd.DataFrame, grace_business_days: int = 2) -> go.Figure:
    """How many business days after (or before) their own date employers answered,
    against the grace period (business days too, as the rules count it)."""
    title = "Did employers keep the date they gave?"
    d = rt[rt["answered"] & rt["next_step_by"].notna()]
    if d.empty:
        return _empty(title, "No answered interview with a promised date yet")
    fig = go.Figure()
    fig.add_histogram(
        x=d["late_by_business_days"],
        xbins=dict(size=1),
        marker_color="#1f77b4",
        hovertemplate="%{x} business days: %{y} answers<extra></extra>",
        name="answers",
    )
    # Explicit line widths: the simple_white template draws shapes with width 0,
    # so the reference lines would be invisible in JupyterLab.
    fig.add_vline(
        x=0,
        line=dict(width=2, color="black", dash="dash"),
        annotation_text="their date",
        annotation_position="top left",
    )
    fig.add_vline(
        x=grace_business_days,
        line=dict(width=2, color="#ff7f0e", dash="dot"),
        annotation_text="end of the grace period",
        annotation_position="top right",
    )
    fig.update_layout(showlegend=False, bargap=0.1)
    _whole_numbers(fig.layout.yaxis, d["late_by_business_days"].value_counts().max())
    return chart_layout(fig, title, "Business days late (negative: early)", "Answers", height=340)


def lateness_sentence(rt: pd.DataFrame, grace_business_days: int = 2, min_cases: int = MIN_CASES) -> str:
    """How many answers kept the employer's date, and of the late ones how many came
    within the grace period (an on-time answer is not "within the grace period")."""
    d = rt[rt["answered"] & rt["next_step_by"].notna()]
    if d.empty:
        return "No employer with a promised date has answered yet."
    late = d[d["late_by_business_days"] > 0]
    text = f"{len(d) - len(late)} of {_n(len(d), 'answer')} came by the promised date"
    if late.empty:
        return text + ": employers here keep their dates, so a follow-up right after the date is fair."
    within = int((late["late_by_business_days"] <= grace_business_days).sum())
    text += (
        f"; the {_n(len(late), 'late one')} came "
        f"{typical_amount(late['late_by_business_days'], 'business day', min_cases)} late, "
        f"{within} of them within the {grace_business_days}-business-day grace period"
    )
    if within * 4 >= len(late) * 3:
        return text + ": the grace period covers most late answers, so a follow-up after it is rarely premature."
    return text + ": most late answers come after the grace period, so a follow-up right after it is often early."


def followup_figure(outcomes: pd.DataFrame) -> go.Figure:
    """Share of status inquiries and check-ins that got an answer, and how fast."""
    title = "Did a status inquiry or check-in get an answer?"
    if outcomes.empty:
        return _empty(title, "No status inquiry or check-in sent yet")
    summary = (
        outcomes.groupby("kind")
        .agg(sent=("replied", "size"), replied=("replied", "sum"), median_days=("days_to_reply", "median"))
        .reset_index()
    )
    fig = go.Figure()
    fig.add_bar(
        x=summary["kind"].str.replace("_", " "),
        y=summary["replied"],
        name="answered",
        marker_color="#2ca02c",
        text=[_n(round(m), "day") if pd.notna(m) else "" for m in summary["median_days"]],
        textposition="inside",
    )
    fig.add_bar(
        x=summary["kind"].str.replace("_", " "),
        y=summary["sent"] - summary["replied"],
        name="no answer",
        marker_color="#c7c7c7",
    )
    fig.update_layout(barmode="stack")
    _whole_numbers(fig.layout.yaxis, summary["sent"].max())
    return chart_layout(fig, title, "", "Messages sent", height=320)


def followup_sentence(outcomes: pd.DataFrame, min_cases: int = MIN_CASES) -> str:
    """How many status inquiries and check-ins got an answer, and after how long
    (a median only from ``min_cases`` answers on: one answer is not a median)."""
    if outcomes.empty:
        return "No status inquiry or check-in has been sent yet."
    replied = outcomes[outcomes["replied"]]
    text = f"{len(replied)} of {_n(len(outcomes), 'follow-up')} got an answer"
    if len(replied):
        text += f", after {typical_amount(replied['days_to_reply'], 'day', min_cases)}"
    return text + "."


# ----------------------------------------------------------- offline HTML


_PLOTLY_CONFIG = "<script type=\"text/javascript\">window.PlotlyConfig = {MathJaxConfig: 'local'};</script>"


class OfflineFigures:
    """Renders figures (a ``go.Figure`` or a figure dict) as HTML for a report:
    plotly.js inlined once, no CDN. ``plotly_js``: "inline" (plotly's own bundle,
    in the first chart's HTML) or "placeholder" (``PLOTLY_JS_PLACEHOLDER``
    instead, for the report runner to fill)."""

    CONFIG = {"displaylogo": False, "responsive": True}

    def __init__(self, plotly_js: str = "inline") -> None:
        if plotly_js not in ("inline", "placeholder"):
            raise ValueError(f"plotly_js is 'inline' or 'placeholder', not {plotly_js!r}")
        self._included = False
        self._placeholder = plotly_js == "placeholder"

    def html(self, fig: go.Figure | dict) -> str:
        first = not self._included
        options = dict(
            full_html=False,
            include_plotlyjs=first and not self._placeholder,
            include_mathjax=False,
            config=dict(self.CONFIG),
            default_width="100%",
        )
        if isinstance(fig, dict):
            import plotly.io as pio

            out = pio.to_html(resolved(fig), validate=False, **options)
        else:
            out = fig.to_html(**options)
        self._included = True
        if first and self._placeholder:
            out = _PLOTLY_CONFIG + "\n" + PLOTLY_JS_PLACEHOLDER + "\n" + out
        return out
