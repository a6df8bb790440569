"""Running the weekly report: papermill executes the notebook, nbconvert turns it
into one self-contained HTML page (in this process), no code, no network.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from .. import paths
from ..errors import ReportError  # noqa: F401 (re-exported)

KERNEL = "python3"  # the environment's own kernel: jupyter_client runs it with this Python
TEMPLATE_DIR = Path(__file__).resolve().parent / "report_template"
# Markup that would make the browser fetch something from elsewhere. (Links
# written inside plotly.js's own code are text, not requests: scripts' bodies are
# left out of the check, their src attributes are not.)
_SCRIPT_BODY = re.compile(r"(<script\b[^>]*>).*?(</script>)", re.IGNORECASE | re.DOTALL)
_EXTERNAL = re.compile(
    r"""<(?:script|link|img|iframe|source|embed|object)\b[^>]*?\b(?:src|href|data)\s*=\s*["']?\s*(?:https?:)?//"""
    r"""|@import\s+(?:url\()?\s*["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//""",
    re.IGNORECASE,
)


def external_references(page: str) -> list[str]:
    """Every piece of markup in ``page`` that would load something over the network."""
    return _EXTERNAL.findall(_SCRIPT_BODY.sub(r"\1\2", page))


@dataclass
class ReportResult:
    coachee_id: str
    html: Path | None = None
    notebook: Path | None = None
    error: str | None = None


def report_notebook() -> Path:
    return paths.notebooks_dir() / "weekly_report.ipynb"


def notebook_to_html(nb) -> str:
    """The executed notebook (a path or a NotebookNode) as one HTML page: outputs
    only, nothing fetched."""
    import nbformat
    from nbconvert import HTMLExporter

    if not isinstance(nb, nbformat.NotebookNode):
        nb = nbformat.read(nb, as_version=4)
    exporter = HTMLExporter(
        template_file=str(TEMPLATE_DIR / "index.html.j2"),
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    exporter.template_paths = [str(TEMPLATE_DIR)] + exporter.template_paths
    title = nb.metadata.get("title") or "Weekly progress report"
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    external = external_references(body)
    if external:
        raise ReportError(f"the report would load {len(external)} external resource(s): {external[:3]}")
    return body


# A Unix socket's path holds at most 107 bytes; a report kernel's are
# "<temporary folder>/followup-XXXXXXXX/k-<n>", 22 bytes more than the folder's.
_SOCKET_PATH_MAX = 107


@contextmanager
def kernel_over_ipc() -> Iterator:
    """The kernel manager's configuration for one report: the kernel talks over
    local (Unix) sockets, as the app's do, not over TCP ports (no "running over TCP
    without encryption" warning, nothing listening on the network, no port races
    between reports started together). The sockets and the connection file go in a
    fresh temporary folder, removed on leaving, whatever happened.
    """
    from traitlets.config import Config

    base = tempfile.gettempdir()
    if len(base.encode()) + 24 > _SOCKET_PATH_MAX and Path("/tmp").is_dir():
        base = "/tmp"  # a long $TMPDIR would make the socket paths too long to bind
    with tempfile.TemporaryDirectory(prefix="followup-", dir=base) as folder:
        config = Config()
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = str(Path(folder) / "k")
        config.KernelManager.connection_file = str(Path(folder) / "kernel.json")
        yield config


def report_kernel_manager() -> type:
    """The kernel manager class for report kernels: jupyter_client's own, except that
    it does not interrupt (SIGINT) the kernel before asking it to shut down.

    jupyter_client interrupts first in case the kernel is busy. A report's kernel
    is idle by then (every cell has run), but the signal can land while it is
    still finishing its last reply, and it then prints "KeyboardInterrupt caught
    in kernel" on the coach's terminal. The shutdown request alone is enough; a
    kernel that ignored it would still be killed after ``shutdown_wait_time``.
    An interrupt asked for explicitly (``interrupt_kernel``) is still sent.
    """
    from jupyter_client.manager import AsyncKernelManager

    class ReportKernelManager(AsyncKernelManager):
        async def _async_interrupt_kernel(self) -> None:
            if self.shutting_down:
                return
            await super()._async_interrupt_kernel()

    return ReportKernelManager


def render_report(
    db_url: str, coachee_id: str, week_ending: dt.date | str, out_dir: str | Path | None = None
) -> ReportResult:
    """Execute the report notebook for one coachee and write ``.ipynb`` and ``.html`` side by side."""
    import papermill as pm

    week = str(week_ending)[:10]
    out = Path(out_dir) if out_dir else paths.reports_dir()
    out.mkdir(parents=True, exist_ok=True)
    # One name per coachee id, whatever it holds ("a/b", "a\\b", "С001"): never shared, never a path.
    nb_out = paths.inside(out, paths.safe_name(coachee_id, f"-weekly-{week}.ipynb"))
    html_out = nb_out.with_suffix(".html")
    # A page left from an earlier run must not pass for this week's if this run fails.
    html_out.unlink(missing_ok=True)
    try:
        # Saved once at the end: the charts make the notebook megabytes, and
        # papermill would otherwise rewrite it after every cell.
        with kernel_over_ipc() as kernel_config:
            executed = pm.execute_notebook(
                str(report_notebook()),
                str(nb_out),
                kernel_name=KERNEL,
                progress_bar=False,
                log_output=False,
                request_save_on_cell_execute=False,
                parameters={"coachee_id": coachee_id, "week_ending": week, "db_url": db_url},
                # Passed by papermill to nbclient's NotebookClient, and by it to the kernel manager.
                config=kernel_config,
                kernel_manager_class=report_kernel_manager(),
            )
    except Exception as exc:  # papermill wraps the kernel's error; keep its last line
        return ReportResult(
            coachee_id,
            notebook=nb_out,
            error=f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else exc}",
        )
    try:
        tmp = html_out.with_suffix(".html.partial")
        tmp.write_text(notebook_to_html(executed), encoding="utf-8")
        tmp.replace(html_out)
    except Exception as exc:  # noqa: BLE001 — reported per coachee
        return ReportResult(coachee_id, notebook=nb_out, error=f"{type(exc).__name__}: {exc}")
    return ReportResult(coachee_id, html=html_out, notebook=nb_out)


def run_reports(db_url: str, coachee_ids: list[str], week_ending, out_dir=None, jobs: int = 1) -> int:
    """Render each coachee's report (in parallel with ``jobs`` > 1), with a progress
    bar; one failure is reported and the others still run. Returns an exit code."""
    results: list[ReportResult] = []
    many = len(coachee_ids) > 1
    if many:
        from tqdm import tqdm

        bar = tqdm(total=len(coachee_ids), desc="weekly reports", unit="report", file=sys.stderr)
    if jobs <= 1 or not many:
        for cid in coachee_ids:
            try:
                results.append(render_report(db_url, cid, week_ending, out_dir))
            except Exception as exc:  # noqa: BLE001 — as in parallel: one failed report, the others still run
                results.append(ReportResult(cid, error=f"{type(exc).__name__}: {exc}"))
            if many:
                bar.update()
    else:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
            futures = {pool.submit(render_report, db_url, cid, week_ending, out_dir): cid for cid in coachee_ids}
            for fut in as_completed(futures):
                try:
                    results.append(fut.result())
                except Exception as exc:  # noqa: BLE001 — a crashed worker is one failed report
                    results.append(ReportResult(futures[fut], error=f"{type(exc).__name__}: {exc}"))
                bar.update()
    if many:
        bar.close()
    failed = [r for r in results if r.error]
    done = [r for r in results if not r.error]
    for r in sorted(done, key=lambda r: r.coachee_id):
        print(f"{r.coachee_id}: {r.html}")
    for r in failed:
        print(
            f"{r.coachee_id}: FAILED — {r.error}"
            + (f" (see {r.notebook})" if r.notebook and r.notebook.exists() else ""),
            file=sys.stderr,
        )
    if done:
        print(f"{len(done)} report(s) written to {Path(done[0].html).parent.resolve()}")
    return 1 if failed else 0
