"""Many reports: one after another here (the next kernel starting while a report
runs), in a pool of processes (``jobs``), or on a Dask cluster (``dask_batch``);
a progress bar, one failure reported while the others still run, and the one
browser that prints every PDF, in this process.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import ExitStack
from multiprocessing import get_context
from pathlib import Path

from .dask_batch import run_on_cluster
from .execution import _check_format, _render_sequence, _week, practice_times_json, render_report
from .pdf import PdfPrinter, paper_sizes, print_result
from .results import ReportResult


def run_reports(
    db_url: str,
    coachee_ids: list[str],
    week_ending,
    out_dir=None,
    jobs: int = 1,
    fmt: str = "html",
    scheduler: str | None = None,
) -> int:
    """Render each coachee's report (in parallel with ``jobs`` > 1, on a Dask
    cluster with ``scheduler``), with a progress bar; one failure is reported and
    the others still run. ``fmt``: "html", "pdf" or "both" (one browser prints
    every PDF, here). Returns an exit code."""
    _check_format(fmt)
    week = _week(week_ending)

    results: list[ReportResult] = []
    many = len(coachee_ids) > 1
    # One report alone works them out itself (its kernel is starting meanwhile).
    times = practice_times_json(db_url, week) if many else ""
    bar = None
    with ExitStack() as stack:
        printer = stack.enter_context(PdfPrinter()) if fmt != "html" and coachee_ids else None
        papers = paper_sizes(db_url, coachee_ids) if printer else {}
        if many:
            from tqdm import tqdm

            bar = stack.enter_context(
                tqdm(total=len(coachee_ids), desc="weekly reports", unit="report", file=sys.stderr)
            )

        def done(result: ReportResult) -> None:
            if printer is not None and not result.error:
                print_result(printer, result, fmt, papers)
            results.append(result)
            if bar is not None:
                bar.update()

        if scheduler:
            code = run_on_cluster(scheduler, db_url, coachee_ids, week, out_dir, done, times)
            if code is not None:
                return code
        elif jobs <= 1 or not many:

            async def each(result: ReportResult) -> None:
                done(result)

            if printer is None:
                asyncio.run(_render_sequence(db_url, coachee_ids, week, out_dir, each, times))
            else:
                # Playwright's synchronous API refuses to run inside an event loop:
                # the reports are rendered in a thread of their own, printed here.
                _render_in_thread(db_url, coachee_ids, week, out_dir, done, times)
        else:
            with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
                futures = {
                    pool.submit(render_report, db_url, cid, week, out_dir, "html", times): cid for cid in coachee_ids
                }
                for fut in as_completed(futures):
                    try:
                        result = fut.result()
                    except Exception as exc:  # noqa: BLE001 — a crashed worker is one failed report
                        result = ReportResult(futures[fut], error=f"{type(exc).__name__}: {exc}")
                    done(result)
    return report_summary(results)


def _render_in_thread(db_url: str, coachee_ids: list[str], week: str, out_dir, done, practice_times: str = "") -> None:
    """``_render_sequence`` in a thread with its own event loop, each result handed
    to ``done`` in the calling thread as soon as it is ready."""
    import queue

    ready: queue.Queue = queue.Queue()
    finished = object()

    async def put(result: ReportResult) -> None:
        ready.put(result)

    def work() -> None:
        try:
            asyncio.run(_render_sequence(db_url, coachee_ids, week, out_dir, put, practice_times))
        except BaseException as exc:  # noqa: BLE001 — handed over, raised in the caller
            ready.put(exc)
        finally:
            ready.put(finished)

    thread = threading.Thread(target=work, name="followup-reports", daemon=False)
    thread.start()
    try:
        while (item := ready.get()) is not finished:
            if isinstance(item, BaseException):
                raise item
            done(item)
    finally:
        thread.join()


def report_summary(results: list[ReportResult]) -> int:
    """Print where each report went and what failed; the exit code."""
    failed = [r for r in results if r.error]
    written = [r for r in results if not r.error]
    for r in sorted(written, key=lambda r: r.coachee_id):
        print(f"{r.coachee_id}: " + ", ".join(str(p) for p in (r.html, r.pdf) if p))
    for r in failed:
        print(
            f"{r.coachee_id}: FAILED — {r.error}"
            + (f" (see {r.notebook})" if r.notebook and r.notebook.exists() else ""),
            file=sys.stderr,
        )
    if written:
        first = written[0].html or written[0].pdf
        print(f"{len(written)} report(s) written to {Path(first).parent.resolve()}")
    return 1 if failed else 0
