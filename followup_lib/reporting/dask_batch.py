"""``report --all --scheduler tcp://HOST:8786``: one weekly report per coachee,
submitted to a Dask distributed cluster (the optional ``[dask]`` extra).

Each task is ``render_report`` for one coachee, run on whichever worker is free:
a fresh kernel there, the ``.ipynb`` and ``.html`` written to the output folder,
which (like the store) every worker must reach under the same path. Results come
back here as they finish, to the same progress bar and failure list as a local
run (and to the one browser that prints PDFs, in this process).
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from .. import paths
from ..errors import ReportError
from .execution import render_report
from .results import ReportResult

CONNECT_TIMEOUT = "15s"  # to reach the scheduler; a wrong address fails after this long
REFUSED_CHECK_SECONDS = 5.0


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def connect(scheduler: str):
    """A ``distributed.Client`` on ``scheduler``, or a one-line ReportError."""
    try:
        from distributed import Client
    except ImportError:
        raise ReportError(
            "--scheduler needs Dask distributed: pip install -e '.[dask]' (on this machine and every worker)"
        ) from None
    refused = _refused(scheduler)
    if refused:
        raise ReportError(f"cannot reach the Dask scheduler at {scheduler}: {refused}")
    try:
        return Client(scheduler, timeout=CONNECT_TIMEOUT)
    except Exception as exc:  # noqa: BLE001 — a bad address, nothing listening, a timeout: all one message
        raise ReportError(f"cannot reach the Dask scheduler at {scheduler}: {_first_line(exc)}") from None


def _refused(scheduler: str) -> str:
    """For a ``tcp://HOST:PORT`` address where nothing listens (the connection
    refused at once): why, so the coach hears it now rather than after Dask's
    retries for ``CONNECT_TIMEOUT``. Anything else (another scheme, a host that
    does not answer, a port that accepts): "", and Dask's own connect decides."""
    parts = urlsplit(scheduler)
    try:
        port = parts.port
    except ValueError:
        return ""
    if parts.scheme != "tcp" or not parts.hostname or port is None:
        return ""
    try:
        with socket.create_connection((parts.hostname, port), timeout=REFUSED_CHECK_SECONDS):
            return ""
    except ConnectionRefusedError:
        return f"nothing listens on port {port} of {parts.hostname} (connection refused)"
    except OSError:
        return ""


def run_on_cluster(
    scheduler: str, db_url: str, coachee_ids: list[str], week: str, out_dir, done: Callable, practice_times: str = ""
) -> int | None:
    """Render every coachee's report on the cluster, handing each ``ReportResult``
    to ``done`` as it arrives (a task that raised, or whose worker died, becomes a
    failed result). Returns None: the caller sums the results up."""

    # The workers' working folders are not ours: every path they get is absolute.
    out = Path(out_dir).resolve() if out_dir else paths.reports_dir().resolve()
    client = connect(scheduler)
    from distributed import as_completed

    batch = uuid.uuid4().hex[:8]
    futures = {}
    try:
        for cid in coachee_ids:
            # Keys name the coachee (for the dashboard) and the batch (never reused).
            fut = client.submit(
                render_report,
                db_url,
                cid,
                week,
                out,
                "html",
                practice_times,
                key=f"followup-report-{batch}-{cid}",
                pure=False,
            )
            futures[fut] = cid
        for fut in as_completed(list(futures)):
            try:
                result = fut.result()
            except Exception as exc:  # noqa: BLE001 — a task that raised or a lost worker: one failed report
                result = ReportResult(futures[fut], error=f"{type(exc).__name__}: {_first_line(exc)}")
            done(result)
    except BaseException:
        client.cancel(list(futures))  # Ctrl+C here stops the batch on the cluster too
        raise
    finally:
        client.close()
    return None
