"""One report run: papermill executes the notebook on a warm kernel (our engine,
``reporting.engine``), the page is written beside the executed notebook, and the
next report's kernel starts while this one runs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
from pathlib import Path

from .. import paths
from ..errors import ReportError
from .kernels import KERNEL, ReportKernel, _light_imports, _notebook_imports
from .page import fill_plotly_js, notebook_to_html, warm_exporter
from .pdf import PdfPrinter, paper_sizes, print_result
from .results import ReportResult, one_line_error


def report_notebook() -> Path:
    return paths.notebooks_dir() / "weekly_report.ipynb"


FORMATS = ("html", "pdf", "both")


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ReportError(f"unknown report format {fmt!r}: one of {', '.join(FORMATS)}")


def _notebook_modules() -> list[str]:
    """The modules the report notebook imports (for the warm-up)."""
    path = report_notebook()
    try:
        return _notebook_imports(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise ReportError(f"cannot read the report notebook {path}: {exc}") from None


def _targets(coachee_id: str, week: str, out_dir) -> tuple[Path, Path]:
    out = Path(out_dir) if out_dir else paths.reports_dir()
    out.mkdir(parents=True, exist_ok=True)
    # One name per coachee id, whatever it holds ("a/b", "a\\b", "С001"): never shared, never a path.
    nb_out = paths.inside(out, paths.safe_name(coachee_id, f"-weekly-{week}.ipynb"))
    return nb_out, nb_out.with_suffix(".html")


async def _render_with(
    kernel: ReportKernel, db_url: str, coachee_id: str, week: str, out_dir, practice_times: str = ""
):
    """Run the notebook on ``kernel`` (already started) and write the .ipynb and
    .html; the kernel is stopped before returning, whatever happened. It shuts
    down while the notebook is written and converted (its exit takes a few
    tenths of a second that the conversion need not wait for)."""
    stopping = None
    try:
        nb_out, html_out = _targets(coachee_id, week, out_dir)
        # A page left from an earlier run must not pass for this week's if this run fails.
        html_out.unlink(missing_ok=True)
        with _light_imports():
            import nbformat
            import papermill
            from papermill.exceptions import PapermillExecutionError

        from ..reporting.engine import ENGINE_NAME

        parameters = {
            "coachee_id": coachee_id,
            "week_ending": week,
            "db_url": db_url,
            "plotly_js": "placeholder",
            "practice_times": practice_times,
        }
        error = None
        loop = asyncio.get_running_loop()
        # The templates load in a thread while the kernel runs the cells (2 cores: both busy).
        warming = loop.run_in_executor(None, warm_exporter)

        def execute():
            # papermill injects and records the parameters and runs the cells with
            # our engine, on this kernel (started and warming up already).
            return papermill.execute_notebook(
                str(report_notebook()),
                str(nb_out),
                parameters=parameters,
                engine_name=ENGINE_NAME,
                kernel_name=KERNEL,
                kernel_manager=kernel.km,
                progress_bar=False,
                request_save_on_cell_execute=False,
                start_timeout=120,
            )

        nb = None
        try:
            nb = await loop.run_in_executor(None, execute)
        except PapermillExecutionError as exc:  # a failed cell is this coachee's failure, reported
            error = one_line_error(exc)
            # papermill saved the notebook, the error marked, before raising.
            nb = await loop.run_in_executor(None, functools.partial(nbformat.read, nb_out, as_version=4))
        finally:
            stopping = asyncio.ensure_future(kernel.stop())
        try:
            await warming
        except Exception:  # noqa: BLE001, S110 — the conversion below loads them itself, and says what failed
            pass
        # Saved again (papermill wrote it), failed or not: kept for inspection, charts drawn.
        fill_plotly_js(nb)
        text = await loop.run_in_executor(None, nbformat.writes, nb)
        paths.write_atomic(nb_out, text.encode("utf-8"))
        if error:
            return ReportResult(coachee_id, notebook=nb_out, error=error)
        try:
            page = await loop.run_in_executor(None, notebook_to_html, nb)
            paths.write_atomic(html_out, page.encode("utf-8"))
        except Exception as exc:  # noqa: BLE001 — reported per coachee
            return ReportResult(coachee_id, notebook=nb_out, error=f"{type(exc).__name__}: {exc}")
        return ReportResult(coachee_id, html=html_out, notebook=nb_out)
    finally:
        await (stopping if stopping is not None else kernel.stop())


async def _render_sequence(
    db_url: str, coachee_ids: list[str], week: str, out_dir, on_result, practice_times: str = ""
) -> None:
    """Render one report after another, each in a fresh kernel; the next kernel is
    started (and imports) while the current report runs."""
    modules = _notebook_modules()
    upcoming = None
    try:
        upcoming = await ReportKernel(modules).start()
        for i, cid in enumerate(coachee_ids):
            kernel, upcoming = upcoming, None
            if i + 1 < len(coachee_ids):
                upcoming = await ReportKernel(modules).start()
            try:
                result = await _render_with(kernel, db_url, cid, week, out_dir, practice_times)
            except Exception as exc:  # noqa: BLE001 — one failed report, the others still run
                result = ReportResult(cid, error=f"{type(exc).__name__}: {exc}")
            await on_result(result)
    finally:
        if upcoming is not None:
            await upcoming.stop()


def practice_times_json(db_url: str, week: str) -> str:
    """The practice's times to a first word by round on ``week`` (the weekly
    report's "is this silence unusual?"), as a report parameter: a batch works
    them out once and passes them to each report, instead of each report reading
    the whole practice (at 5,000 coachees, seconds per report). Empty if they
    cannot be worked out here: each report then tries, and says what failed."""
    try:
        from ..data.practice import load_practice
        from ..logic import analysis

        practice, _, _ = load_practice(db_url, week, tables=analysis.FIRST_WORD_TABLES)
        return analysis.round_times_json(analysis.practice_round_times(practice, week))
    except Exception:  # noqa: BLE001 — the notebook's own cell reports it, per coachee
        return ""


def _week(week_ending) -> str:
    return str(week_ending)[:10]


def render_report(
    db_url: str,
    coachee_id: str,
    week_ending: dt.date | str,
    out_dir: str | Path | None = None,
    fmt: str = "html",
    practice_times: str = "",
) -> ReportResult:
    """Execute the report notebook for one coachee and write ``.ipynb`` and
    ``.html`` side by side (and ``.pdf`` with ``fmt`` "pdf" or "both"; "pdf" keeps
    no .html). ``practice_times``: ``practice_times_json`` for this week, when a
    batch has it (empty: the notebook works them out)."""
    _check_format(fmt)
    results: list[ReportResult] = []

    async def keep(result: ReportResult) -> None:
        results.append(result)

    asyncio.run(_render_sequence(db_url, [coachee_id], _week(week_ending), out_dir, keep, practice_times))
    result = results[0]
    if fmt != "html" and not result.error:
        with PdfPrinter() as printer:
            print_result(printer, result, fmt, paper_sizes(db_url, [coachee_id]))
    return result
