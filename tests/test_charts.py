"""Charts: pure functions from the analysis frames to plotly figures and one sentence each."""

from __future__ import annotations

import re

import pandas as pd
import plotly.graph_objects as go
import pytest

from followup_lib.logic import analysis, charts
from followup_lib.reporting.page import external_references

from builders import AS_OF, app, iv, make_tables, msg

HOSTILE = "<b>Acme</b>"


@pytest.fixture
def practice():
    """Two answered interviews (one late, one early), one silent; one follow-up answered."""
    return make_tables(
        applications=[
            app("A1", HOSTILE, role="<i>Analyst</i>"),
            app("A2", "Bluefin Logistics"),
            app("A3", "Harbor Health"),
            app("A4", "Cedar Bank", status="rejected"),
        ],
        interviews=[
            iv("I1", "A1", "2026-11-02", "2026-11-06", round="<script>1</script>"),  # answered Tue 10: 2 bd late
            iv("I2", "A2", "2026-10-26", "2026-11-06", final="true"),  # answered Mon 2: early
            iv("I3", "A3", "2026-11-09", "2026-11-13", thanked=None),  # silent
            iv("I4", "A4", "2026-10-01"),
        ],
        messages=[
            msg("M1", "A1", "2026-11-10"),
            msg("M2", "A2", "2026-11-02"),
            msg("Q1", "A3", "2026-11-16", "sent", "status_inquiry"),
            msg("Q2", "A2", "2026-11-04", "sent", "status_inquiry"),
            msg("M3", "A2", "2026-11-05"),
        ],
    )


def all_figures(t, grace=2) -> dict[str, go.Figure]:
    rt = analysis.response_times(t, AS_OF)
    return {
        "days_since": charts.days_since_interview_figure(analysis.waiting_on(t, AS_OF)),
        "pipeline": charts.pipeline_figure(analysis.pipeline_counts(t)),
        "response": charts.response_time_figure(rt),
        "lateness": charts.lateness_figure(rt, grace),
        "followup": charts.followup_figure(analysis.followup_outcomes(t)),
    }


def all_sentences(t, grace=2) -> dict[str, str]:
    rt = analysis.response_times(t, AS_OF)
    return {
        "days_since": charts.days_since_sentence(analysis.waiting_on(t, AS_OF)),
        "pipeline": charts.pipeline_sentence(analysis.pipeline_counts(t)),
        "response": charts.response_time_sentence(rt),
        "lateness": charts.lateness_sentence(rt, grace),
        "followup": charts.followup_sentence(analysis.followup_outcomes(t)),
    }


def all_text(fig: go.Figure) -> str:
    """Every string in the figure (labels, names, titles, annotations, hover templates)."""
    out = []

    def walk(node):
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, (list, tuple)) or hasattr(node, "tolist"):
            for v in node.tolist() if hasattr(node, "tolist") else node:
                walk(v)

    spec = fig.to_plotly_json()
    walk(spec["data"])
    walk({k: v for k, v in spec["layout"].items() if k != "template"})
    return "\n".join(out)


# ------------------------------------------------------------------ shape


def test_every_figure_has_a_title_and_labelled_axes(practice):
    for name, fig in all_figures(practice).items():
        layout = fig.layout
        assert layout.title.text, name
        assert fig.data, f"{name} drew nothing"
        # The value axis is always named; a category axis may speak for itself.
        value_axis = layout.xaxis if name in ("days_since", "response", "lateness") else layout.yaxis
        assert value_axis.title.text, f"{name} has an unlabelled value axis"


def test_days_since_one_bar_per_open_application_coloured_by_what_it_waits_on(practice):
    fig = all_figures(practice)["days_since"]
    bars = [d for d in fig.data if d.type == "bar"]
    labels = [y for d in bars for y in d.y]
    assert len(labels) == 3  # A1, A2, A3 open; the rejected one is not shown
    by_name = {d.name: d for d in bars}
    assert set(by_name) == {"heard back since", "decision after final round", "thank-you not sent"}
    assert by_name["thank-you not sent"].marker.color == charts.WAITING_COLOURS["thank-you not sent"]
    assert list(by_name["thank-you not sent"].x) == [7]
    promised = next(d for d in fig.data if d.type == "scatter")
    assert sorted(promised.x) == [4.0, 4.0, 11.0]  # each employer's own date, in days after the interview


def test_lateness_is_counted_in_business_days_against_the_grace_period(practice):
    fig = all_figures(practice, grace=3)["lateness"]
    hist = fig.data[0]
    assert sorted(hist.x) == [-4, 2]
    grace_line = [s for s in fig.layout.shapes if s.x0 == 3]
    assert grace_line, "the grace period is not marked at the setting's value"
    assert "Business days" in fig.layout.xaxis.title.text


def test_sentences_read_the_data_in_front_of_them(practice):
    s = all_sentences(practice, grace=2)
    # I1 after 8 days, I2 after 7; the silent Harbor Health interview has waited 7 days.
    assert s["response"].startswith("Employers answered 2 of ")
    # Two answers are not a median (min_answers_for_times): the days themselves.
    assert "Employers answered 2 of 3 interviews, after 7 and 8 days;" in s["response"]
    assert "median" not in s["response"]
    # Acme answered 2 business days late, within the grace period; Bluefin early,
    # which is on time, not "within the grace period".
    assert s["lateness"] == (
        "1 of 2 answers came by the promised date; the 1 late one came 2 business days late, "
        "1 of them within the 2-business-day grace period: the grace period covers most late answers, "
        "so a follow-up after it is rarely premature."
    )
    # One answer is not "a median of 1 day".
    assert s["followup"] == "1 of 2 follow-ups got an answer, after 1 day."
    assert s["pipeline"] == (
        "Of 4 applications, 4 reached an interview; 0 open applications are still waiting for a first interview."
    )
    # Acme has heard back since (not a silent wait); Bluefin waits on a final decision.
    assert s["days_since"] == (
        "3 open applications with an interview; the longest wait for the employer is Bluefin Logistics at 21 days."
    )


def test_the_longest_wait_counts_the_unanswered():
    rt = pd.DataFrame(
        {
            "answered": [True, True, False, False],
            "days_to_answer": [3.0, 14.0, None, None],
            "waited_days": [None, None, 27.0, 5.0],
        }
    )
    assert charts.response_time_sentence(rt) == (
        "Employers answered 2 of 4 interviews, after 3 and 14 days; "
        "2 are still without an answer, the longest for 27 days so far, so the typical wait is longer than "
        "the answered ones alone suggest."
    )
    # With as many answers as the setting asks for, a median.
    assert charts.response_time_sentence(rt, min_cases=2).startswith(
        "Employers answered 2 of 4 interviews, after a median of 8 days among those answered (longest 14 days);"
    )


def test_an_on_time_answer_is_not_within_the_grace_period():
    t = make_tables(
        applications=[app("A1"), app("A2", "Bluefin Logistics")],
        interviews=[iv("I1", "A1", "2026-11-02", "2026-11-06"), iv("I2", "A2", "2026-11-02", "2026-11-06")],
        messages=[msg("M1", "A1", "2026-11-05"), msg("M2", "A2", "2026-11-06")],
    )
    sentence = charts.lateness_sentence(analysis.response_times(t, AS_OF), 2)
    assert sentence.startswith("2 of 2 answers came by the promised date:")
    assert "grace period" not in sentence.split(":")[0]


def test_an_application_with_an_offer_is_not_the_longest_wait():
    t = make_tables(
        applications=[app("A1", "Quarry Labs", status="offer"), app("A2", "Northwind Analytics")],
        interviews=[iv("I1", "A1", "2026-10-20"), iv("I2", "A2", "2026-11-09")],
        offers=[dict(application_id="A1", verbal_on="2026-11-10")],
    )
    sentence = charts.days_since_sentence(analysis.waiting_on(t, AS_OF))
    assert sentence == (
        "2 open applications with an interview (1 with an offer); "
        "the longest wait for the employer is Northwind Analytics at 7 days."
    )


def test_reference_lines_are_drawn_with_a_visible_width(practice):
    """simple_white gives shapes a zero line width: each line says its own."""
    fig = all_figures(practice)["lateness"]
    assert len(fig.layout.shapes) == 2
    for shape in fig.layout.shapes:
        assert shape.line.width and shape.line.width >= 1
        assert shape.line.color
    assert fig.layout.template.layout.shapedefaults.line.width == 0  # why it must be explicit


# ------------------------------------------------------------------ empty data


@pytest.mark.parametrize(
    "tables", [make_tables(), make_tables(applications=[app("A1")])], ids=["nothing", "no-interviews"]
)
def test_empty_data_gives_a_figure_with_a_message(tables):
    for name, fig in all_figures(tables).items():
        if name == "pipeline" and len(tables["applications"]):
            continue  # one application is something to draw
        assert isinstance(fig, go.Figure)
        texts = [a.text for a in fig.layout.annotations]
        assert texts and texts[0], f"{name}: an empty chart should say why it is empty"
        assert fig.layout.title.text
    for name, sentence in all_sentences(tables).items():
        assert sentence.endswith("."), name


# ------------------------------------------------------------------ escaping


def test_store_text_in_labels_is_escaped(practice):
    figs = all_figures(practice)
    for name, fig in figs.items():
        text = all_text(fig)
        for raw in ("<b>Acme", "<i>Analyst", "<script>"):
            assert raw not in text, f"{name} shows {raw!r} as markup"
    days = all_text(figs["days_since"])
    assert "&lt;b&gt;Acme&lt;/b&gt; · &lt;i&gt;Analyst&lt;/i&gt;" in days
    assert any(d.name == "round &lt;script&gt;1&lt;/script&gt;" for d in figs["response"].data)


# ------------------------------------------------------------------ offline HTML


def test_offline_figures_inline_plotly_once_and_fetch_nothing(practice):
    figs = list(all_figures(practice).values())
    offline = charts.OfflineFigures()
    parts = [offline.html(f) for f in figs]
    page = "".join(parts)
    assert parts[0].count("plotly.js v") == 1
    assert all("plotly.js v" not in p for p in parts[1:])
    assert page.count('class="plotly-graph-div"') == len(figs)
    assert not re.search(r"<script[^>]*\bsrc=", page)
    assert external_references(page) == []
