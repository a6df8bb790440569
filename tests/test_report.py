"""The weekly report: papermill executes the notebook, nbconvert writes one
self-contained HTML page beside it (issue 3, part 2).

Renders are slow (a kernel each), so the demo practice is rendered once per
module through the real CLI (``report --all --jobs 2``) and every content test
reads those pages; two more renders exercise ``render_report`` and a failure.
"""

from __future__ import annotations

import datetime as dt
import re

import nbformat
import pytest

from followup_lib.data.demo import load_demo
from followup_lib.data.store import open_store
from followup_lib.data.transfer import import_path
from followup_lib.paths import safe_name
from followup_lib.reporting.batch import run_reports
from followup_lib.reporting.execution import render_report
from followup_lib.reporting.page import external_references

from builders import AS_OF, app, iv, make_tables, msg, require_chromium, run_cli, write_csvs

WEEK = AS_OF.isoformat()
COACHEES = ["C001", "C002", "C003"]
SECTIONS = [
    "Overdue — do first",
    "Today",
    "Next week",
    "Waiting on you",
    "Waiting on them",
    "Wins this week",
    "What happened this week",
    "Promises",
    "References",
    "The pipeline",
]
CHARTS_PER_REPORT = 2  # days since each interview, the pipeline

# Store text that would be markup if printed raw, all given to Jordan Okafor (C002).
HOSTILE_COMPANY = "<b>Acme</b>"
HOSTILE_INTERVIEWER = "<script>alert(1)</script>"
HOSTILE_TOPICS = "<img src=x onerror=alert(2)>"
HOSTILE_PROMISE = "<u>the growth deck</u>"
HOSTILE_ROWS = {
    "applications": [
        dict(
            application_id="A900",
            coachee_id="C002",
            company=HOSTILE_COMPANY,
            role="Growth PM",
            status="active",
            applied_on="2026-11-02",
        )
    ],
    "interviews": [
        dict(
            interview_id="I900",
            application_id="A900",
            held_on="2026-11-12",
            round="1",
            format="video",
            interviewer_name=HOSTILE_INTERVIEWER,
            interviewer_email="hiring@acme.example",
            preferred_channel="email",
            next_step_by="2026-11-20",
            final_round="false",
            topics=HOSTILE_TOPICS,
        )
    ],
    "promises": [dict(promise_id="P900", application_id="A900", what=HOSTILE_PROMISE, due_on="2026-11-18")],
}


@pytest.fixture(scope="module")
def practice(tmp_path_factory):
    """A store with the demo practice (unshifted) plus the hostile rows, imported from CSV."""
    root = tmp_path_factory.mktemp("report")
    url = f"sqlite:///{root / 'followup.db'}"
    store = open_store(url)
    try:
        load_demo(store, shift=False)
        import_path(store, write_csvs(root / "hostile", HOSTILE_ROWS))
        tables = {cid: store.load(coachee_id=cid) for cid in COACHEES}
    finally:
        store.engine.dispose()
    return url, root, tables


@pytest.fixture(scope="module")
def rendered(practice):
    """``followup report --all --jobs 2``, as a coach runs it: (process, out dir).

    A real process, on purpose: the report run is the command that starts kernels
    and a progress bar, and must end them all (other command tests run ``main``
    in this process)."""
    url, root, _ = practice
    out = root / "reports"
    proc = run_cli(
        "report",
        "--all",
        "--week-ending",
        WEEK,
        "--jobs",
        "2",
        "--out",
        str(out),
        db=url,
        env={"FOLLOWUP_SETTINGS": str(root / "no-settings.toml")},
    )
    return proc, out


def page_of(rendered, cid: str) -> str:
    proc, out = rendered
    path = out / safe_name(cid, f"-weekly-{WEEK}.html")
    assert path.exists(), f"no report for {cid}:\n{proc.stdout}\n{proc.stderr}"
    return path.read_text(encoding="utf-8")


def classes(page: str) -> set[str]:
    """Every class used on an element of the page (stylesheets left out)."""
    return {c for attr in re.findall(r'<[a-zA-Z][^>]*\bclass="([^"]*)"', page) for c in attr.split()}


def body(page: str) -> str:
    """The page's markup without its stylesheets and scripts: what is shown."""
    page = re.sub(r"<style\b.*?</style>", "", page, flags=re.DOTALL | re.IGNORECASE)
    return re.sub(r"<script\b.*?</script>", "", page, flags=re.DOTALL | re.IGNORECASE)


def identifying_text(tables) -> set[str]:
    """What would give a coachee away: their name and email, companies, references, interviewers."""
    t = tables
    found = set(t["coachees"]["name"]) | set(t["coachees"]["email"].dropna())
    found |= set(t["applications"]["company"]) | set(t["references"]["name"])
    found |= set(t["references"]["email"].dropna()) | set(t["interviews"]["interviewer_name"].dropna())
    found |= set(t["interviews"]["interviewer_email"].dropna())
    return {s for s in found if s}


# ------------------------------------------------------------------ the CLI run


def test_report_all_writes_every_coachee_with_a_progress_bar(rendered):
    proc, out = rendered
    assert proc.returncode == 0, proc.stderr
    for cid in COACHEES:
        html, nb = out / safe_name(cid, f"-weekly-{WEEK}.html"), out / safe_name(cid, f"-weekly-{WEEK}.ipynb")
        assert html.exists() and nb.exists(), f"{cid}: the page and the executed notebook sit side by side"
        assert f"{cid}: {html}" in proc.stdout
    assert "weekly reports" in proc.stderr and "3/3" in proc.stderr, "no progress bar"
    assert f"3 report(s) written to {out.resolve()}" in proc.stdout
    assert not list(out.glob("*.partial"))


def test_executed_notebook_got_the_parameters(rendered):
    _, out = rendered
    nb = nbformat.read(out / safe_name("C002", f"-weekly-{WEEK}.ipynb"), as_version=4)
    assert nb.metadata.papermill.parameters["coachee_id"] == "C002"
    assert nb.metadata.papermill.parameters["week_ending"] == WEEK
    assert nb.metadata.kernelspec.name == "python3"
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and 'coachee_id = "C002"' in injected[0].source
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []


def test_papermill_itself_executed_the_notebook(rendered):
    """papermill's own record, which only papermill writes: its version, the run's
    start, end and duration, each cell's timings; our engine by name."""
    import papermill

    _, out = rendered
    for cid in COACHEES:
        nb = nbformat.read(out / safe_name(cid, f"-weekly-{WEEK}.ipynb"), as_version=4)
        record = nb.metadata.papermill
        assert record.version == papermill.__version__
        assert record.start_time and record.end_time and record.duration > 0
        assert record.exception is None and record.input_path.endswith("weekly_report.ipynb")
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(c.metadata.papermill.status == "completed" and c.metadata.papermill.duration >= 0 for c in code)


def test_the_report_engine_is_papermills_by_entry_point():
    from papermill.engines import papermill_engines

    from followup_lib.reporting.engine import ENGINE_NAME, WarmKernelEngine

    assert papermill_engines.get_engine(ENGINE_NAME) is WarmKernelEngine


# ------------------------------------------------------------------ the page


@pytest.mark.parametrize("cid", COACHEES)
def test_page_shows_no_code_and_no_prompts(rendered, cid):
    page = page_of(rendered, cid)
    used = classes(page)
    for code_class in (
        "jp-InputArea",
        "jp-InputPrompt",
        "jp-OutputPrompt",
        "jp-CodeMirrorEditor",
        "jp-OutputArea-stderr",
        "jp-RenderedText",
    ):
        assert code_class not in used, f"{cid}: {code_class} on the page"
    for text in ("In [", "Out[", "In&nbsp;[", "Out&nbsp;["):
        assert text not in body(page), f"{cid}: a prompt {text!r} on the page"
    for text in ("from followup_lib", "load_coachee", "section_html", "Traceback", "papermill", "sqlite:"):
        assert text not in page, f"{cid}: {text!r} on the page"


@pytest.mark.parametrize("cid", COACHEES)
def test_page_is_self_contained(rendered, cid):
    page = page_of(rendered, cid)
    assert external_references(page) == []
    assert not re.search(r"<script\b[^>]*\bsrc\s*=", page, re.IGNORECASE)
    assert not re.search(r"<link\b[^>]*\bhref\s*=", page, re.IGNORECASE)
    assert "require.js" not in page and "require.min.js" not in page
    # plotly.js inlined exactly once, however many charts (the basic partial bundle:
    # the charts are bars and scatters).
    assert len(re.findall(r"\* plotly\.js\b[^\n]*\bv\d", page)) == 1
    assert "plotly.js (basic - minified)" in page
    assert page.count('class="plotly-graph-div"') == CHARTS_PER_REPORT


@pytest.mark.parametrize("cid", COACHEES)
def test_the_page_is_styled_by_our_template_alone(rendered, cid):
    """The look comes from report_template/report.css (a dozen rules), not from
    JupyterLab's stylesheet cut down: nothing of JupyterLab's theme is on the page."""
    from followup_lib.reporting.page import TEMPLATE_DIR

    page = page_of(rendered, cid)
    styles = re.findall(r"<style\b[^>]*>(.*?)</style>", page, re.DOTALL | re.IGNORECASE)
    ours = (TEMPLATE_DIR / "report.css").read_text(encoding="utf-8").strip()
    assert any(ours in s for s in styles)
    assert "--jp-" not in "".join(styles) and "jp-theme" not in page
    assert sum(len(s) for s in styles) < 8_000


MAX_PAGE_BYTES = 1_500_000  # a report is mailed: 1.5 MB at most (issue 13)


@pytest.mark.parametrize("cid", COACHEES)
def test_page_is_small_enough_to_mail(rendered, cid):
    _, out = rendered
    size = (out / safe_name(cid, f"-weekly-{WEEK}.html")).stat().st_size
    assert size <= MAX_PAGE_BYTES, f"{cid}: {size:,} bytes"


def test_external_references_sees_what_the_browser_would_fetch():
    # The check the report relies on must itself catch what it is meant to.
    assert external_references('<script src="https://cdn.plot.ly/plotly.min.js"></script>')
    assert external_references('<link rel="stylesheet" href="//fonts.example/x.css">')
    assert external_references('<div style="background: url(https://x.example/a.png)"></div>')
    assert external_references("<script>var u = 'https://plotly.com/';</script>") == []


@pytest.mark.parametrize("cid", COACHEES)
def test_page_has_every_section(rendered, practice, cid):
    page = page_of(rendered, cid)
    name = practice[2][cid]["coachees"]["name"].iloc[0]
    assert f"Weekly progress: {name}" in page
    assert "Week of Tuesday 10 November to Monday 16 November 2026" in page
    for heading in SECTIONS:
        assert re.search(rf"<h2[^>]*>{re.escape(heading)}", page), f"{cid}: no section {heading!r}"
    for card in ("active applications?", "interviews? this week", "follow-ups? done this week", "overdue now"):
        assert re.search(card, page), card  # "1 interview this week" (issue 20: no "1 follow-ups")


def test_page_content_is_this_coachees_week(rendered):
    page = page_of(rendered, "C001")
    # Maya interviewed at Harbor Health on Friday 13 and has not thanked Elena Voss yet.
    assert "Interview with Elena Voss" in page
    assert "You interviewed with Elena Voss at Harbor Health on 13 Nov" in page
    assert "a writing sample (the Q3 churn analysis)" in page
    # Her one offer, Sable Robotics', was withdrawn by the employer on 11 Nov: said so, and nothing claimed of it.
    assert "No offers yet." not in page and "withdrawn by the employer on" in page
    assert "Offer withdrawn by the employer" in page  # what happened, the day it did


@pytest.mark.parametrize("cid", COACHEES)
def test_page_says_nothing_about_any_other_coachee(rendered, practice, cid):
    page = page_of(rendered, cid)
    tables = practice[2]
    mine = identifying_text(tables[cid])
    assert mine and any(s in page for s in mine)  # the check below looks for the right kind of thing
    for other in COACHEES:
        if other == cid:
            continue
        for text in sorted(identifying_text(tables[other]) - mine):
            assert text not in page, f"{cid}'s report mentions {other}'s {text!r}"
            escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            assert escaped not in page, f"{cid}'s report mentions {other}'s {text!r}"
    if cid != "C002":
        assert "Acme" not in page


def test_page_escapes_store_text(rendered):
    page = page_of(rendered, "C002")
    for raw in (HOSTILE_COMPANY, HOSTILE_INTERVIEWER, HOSTILE_TOPICS, HOSTILE_PROMISE, "<script>alert", "<img src=x"):
        assert raw not in page, f"{raw!r} reached the page as markup"
    for shown in (
        "&lt;b&gt;Acme&lt;/b&gt;",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "&lt;u&gt;the growth deck&lt;/u&gt;",
    ):
        assert shown in page, f"{shown!r} should be shown as text"


# ------------------------------------------------------------------ in a browser, offline


@pytest.mark.browser
def test_pages_draw_every_chart_with_the_network_off(rendered):
    chromium = require_chromium()
    from playwright.sync_api import sync_playwright

    _, out = rendered
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            for cid in COACHEES:
                page = browser.new_page()
                attempted, problems, dialogs = [], [], []

                def route(r, attempted=attempted):
                    if r.request.url.startswith("file://"):
                        r.continue_()
                    else:
                        attempted.append(r.request.url)
                        r.abort()

                page.route("**/*", route)
                page.on("pageerror", lambda e, problems=problems: problems.append(str(e)))
                page.on("console", lambda m, problems=problems: problems.append(m.text) if m.type == "error" else None)
                page.on("dialog", lambda d, dialogs=dialogs: (dialogs.append(d.message), d.dismiss()))
                page.goto((out / safe_name(cid, f"-weekly-{WEEK}.html")).as_uri())
                page.wait_for_load_state("load")
                total = page.locator(".plotly-graph-div").count()
                assert total == CHARTS_PER_REPORT
                page.wait_for_function(
                    "n => Array.from(document.querySelectorAll('.js-plotly-plot'))"
                    ".filter(d => d.querySelector('.main-svg')).length >= n",
                    arg=total,
                    timeout=30_000,
                )
                # Drawn: plotly's SVG holds the bars or points (or an empty chart's message).
                drawn = page.evaluate(
                    "Array.from(document.querySelectorAll('.js-plotly-plot')).filter(d =>"
                    " d.querySelector('.main-svg .cartesianlayer .trace, .main-svg .annotation'))"
                    ".length"
                )
                assert drawn == total, f"{cid}: {drawn} of {total} charts drawn"
                titles = page.locator(".js-plotly-plot .gtitle").all_text_contents()
                assert titles == ["Days since the latest interview", "Where applications stand"]
                assert not page.locator("pre, code, .jp-InputArea").count()
                if cid == "C002":
                    # Store text is shown as the characters typed, in the tables and in the chart.
                    assert page.get_by_text(HOSTILE_COMPANY, exact=True).count() >= 1
                    # Inside a sentence now ("… Dana <script>… promised …"): shown as text.
                    assert page.get_by_text(HOSTILE_INTERVIEWER).count() >= 1
                    ticks = page.locator(".js-plotly-plot .ytick text").all_text_contents()
                    assert f"{HOSTILE_COMPANY} · Growth PM" in ticks
                    assert page.locator("main b", has_text="Acme").count() == 0
                assert attempted == [], f"{cid} tried to fetch {attempted}"
                assert dialogs == [], f"{cid} ran script from the store: {dialogs}"
                assert problems == [], f"{cid}: {problems}"
                page.close()
        finally:
            browser.close()


# ------------------------------------------------------------------ the functions


def test_render_report_writes_html_beside_the_notebook(practice, tmp_path):
    url, _, _ = practice
    result = render_report(url, "C003", dt.date(2026, 11, 16), tmp_path / "out")
    assert result.error is None
    assert result.html == tmp_path / "out" / safe_name("C003", f"-weekly-{WEEK}.html")
    assert result.notebook == result.html.with_suffix(".ipynb")
    assert result.html.exists() and result.notebook.exists()
    assert "Weekly progress: Sofia Marchetti" in result.html.read_text(encoding="utf-8")


def test_one_failed_report_does_not_stop_the_others(practice, tmp_path, capsys):
    url, _, _ = practice
    out = tmp_path / "out"
    code = run_reports(url, ["C404", "C001"], WEEK, out, jobs=2)
    captured = capsys.readouterr()
    assert code != 0
    assert (out / safe_name("C001", f"-weekly-{WEEK}.html")).exists()
    assert not (out / safe_name("C404", f"-weekly-{WEEK}.html")).exists()
    assert re.search(r"C404: FAILED .*no coachee 'C404'", captured.err), captured.err
    assert f"C001: {out / safe_name('C001', f'-weekly-{WEEK}.html')}" in captured.out
    assert "2/2" in captured.err  # the bar counts the failure as done


def test_report_for_an_unknown_coachee_is_a_plain_error(followup, practice, tmp_path):
    url, _, _ = practice
    proc = followup("report", "--coachee", "C404", "--week-ending", WEEK, "--out", str(tmp_path), db=url)
    assert proc.returncode == 2
    assert "no coachee 'C404'" in proc.stderr and "Traceback" not in proc.stderr
    assert not list(tmp_path.glob("*.html"))


# ------------------------------------------------------------------ the content, as pure functions


def test_weekly_content_counts_each_thing_done_once():
    from followup_lib.logic import offers
    from followup_lib.logic.weekly import weekly_report

    t = make_tables(
        applications=[app("A1", "Northwind Analytics", status="offer"), app("A2", "Bluefin Logistics")],
        interviews=[
            iv("I1", "A1", "2026-11-02", thanked="2026-11-03"),
            iv("I2", "A2", "2026-11-12", thanked="2026-11-13"),
        ],
        messages=[
            msg("M1", "A1", "2026-11-10", "received", "verbal_offer"),
            # What marking "ask for it in writing" sent records: the message and the offer's date.
            msg("M2", "A1", "2026-11-11", "sent", "request_written_offer"),
            msg("M3", "A2", "2026-11-13", "sent", "thank_you_note"),
        ],
        offers=[dict(application_id="A1", verbal_on="2026-11-10", written_requested_on="2026-11-11")],
        promises=[
            dict(promise_id="P1", application_id="A2", what="a sample", due_on="2026-11-13", done_on="2026-11-14"),
            dict(promise_id="P2", application_id="A2", what="a list", due_on="2026-11-16"),
            dict(promise_id="P3", application_id="A2", what="a deck", due_on="2026-11-12"),
            dict(promise_id="P4", application_id="A2", what="a plan", due_on="2026-11-19"),
            dict(promise_id="P5", application_id="A2", what="a memo", due_on="2026-11-12", done_on="2026-11-12"),
        ],
    )
    r = weekly_report(t, "C1", WEEK)
    done = list(r.happened["what"])
    assert done.count("Asked for the offer in writing") == 1
    assert not any(w.startswith("Sent") for w in done), done
    assert r.headline["follow-ups done this week"] == 4  # the thank-you, the request, two promises kept
    assert r.headline["interviews this week"] == 1
    states = dict(zip(r.promises["what"], r.promises["state"]))
    assert states == {
        "a sample": "kept late",
        "a list": "due today",
        "a deck": "overdue",
        "a plan": "upcoming",
        "a memo": "kept",
    }
    # Offers side by side: before the letter, every term is flagged missing.
    terms = ["salary", "benefits", "expense reimbursement", "conditions", "requirements"]
    assert (r.offers[terms] == offers.MISSING).all(axis=None)


def test_report_command_starts_kernels_without_loading_pandas(practice):
    url, _, _ = practice
    """The report command only lists coachee ids before its first kernel starts:
    pandas and SQLAlchemy (a third of a second) are the notebook's to import."""
    import subprocess
    import sys

    probe = (
        "import sys; from followup_lib.faces import cli\n"
        "args = cli.build_parser().parse_args(['--db', sys.argv[1], 'report', '--coachee', 'C002'])\n"
        "store = cli._IdsOnly(sys.argv[1])\n"
        "print(cli._coachee_ids(store, args), 'pandas' in sys.modules, 'sqlalchemy' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, url], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["['C002']", "False", "False"]


# ------------------------------------------------------------------ plotly.js, filled in by the runner


def test_saved_notebook_carries_the_basic_bundle_once(rendered):
    """The report kernel leaves plotly.js out; the runner puts the basic bundle in
    its place once, so the .ipynb kept beside the page draws its charts too, at a
    quarter of the size."""
    from followup_lib.logic.page_markers import PLOTLY_JS_PLACEHOLDER

    _, out = rendered
    path = out / safe_name("C002", f"-weekly-{WEEK}.ipynb")
    text = path.read_text(encoding="utf-8")
    assert PLOTLY_JS_PLACEHOLDER not in text
    assert len(re.findall(r"\* plotly\.js\b[^\n]*\bv\d", text)) == 1 and "plotly.js (basic - minified)" in text
    assert path.stat().st_size < MAX_PAGE_BYTES


def _notebook_with_charts(*figures):
    from followup_lib.logic.charts import OfflineFigures

    made = OfflineFigures("placeholder")
    outputs = [nbformat.v4.new_output("display_data", data={"text/html": made.html(f)}) for f in figures]
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("", outputs=outputs)])


@pytest.mark.parametrize(
    ("trace", "basic"),
    [({"type": "bar", "x": ["a"], "y": [1]}, True), ({"type": "histogram", "x": [1, 2, 2]}, False)],
)
def test_runner_fills_in_the_smallest_bundle_that_draws_every_chart(trace, basic):
    from followup_lib.logic.page_markers import PLOTLY_JS_PLACEHOLDER
    from followup_lib.reporting.page import fill_plotly_js

    line = {"data": [{"type": "scatter", "x": [1], "y": [2]}], "layout": {}}
    nb = _notebook_with_charts(line, {"data": [trace], "layout": {"template": "simple_white"}})
    fill_plotly_js(nb)
    html = "".join(o["data"]["text/html"] for o in nb.cells[0].outputs)
    assert PLOTLY_JS_PLACEHOLDER not in html
    assert len(re.findall(r"\* plotly\.js\b[^\n]*\bv\d", html)) == 1
    assert ("plotly.js (basic - minified)" in html) is basic
    assert html.index("plotly.js") < html.index("Plotly.newPlot")  # the bundle comes before the first chart


# ------------------------------------------------------------------ the practice's times, once per batch


def _sentences(nb) -> str:
    cell = next(c for c in nb.cells if c.cell_type == "code" and "waiting_sentences" in c.source)
    return "".join(o.get("data", {}).get("text/markdown", "") for o in cell.outputs)


def test_a_batch_works_out_the_practice_times_once_and_each_report_says_the_same(rendered, practice, tmp_path):
    """``--all`` reads the whole practice once for "is this silence unusual?" and
    passes the times to every report; a report made alone works them out itself.
    Both say the same."""
    import json

    from followup_lib.logic.analysis import ROUND_GROUPS

    url, root, _ = practice
    _, out = rendered
    said = []
    for cid in COACHEES:
        batch = nbformat.read(out / safe_name(cid, f"-weekly-{WEEK}.ipynb"), as_version=4)
        times = batch.metadata.papermill.parameters["practice_times"]
        assert tuple(json.loads(times)) == ROUND_GROUPS
        alone = render_report(url, cid, WEEK, tmp_path / cid)
        assert alone.error is None, alone.error
        own = nbformat.read(alone.notebook, as_version=4)
        assert own.metadata.papermill.parameters["practice_times"] == ""
        assert _sentences(batch) == _sentences(own)
        said.append(_sentences(own))
    assert any(said), "no coachee has a waiting application: the comparison says nothing"
