"""The app's and JupyterLab's time to actions, in Debian's Chromium driven by
Playwright, over the demo store: from the browser's ``goto`` (or the reload, or
JupyterLab's Run All) to today's action list (``.fw-actions select option``) on
the page. Goals (issue 21), each the median of ``--repeat`` (5):

- the app's first page in a fresh browser profile (a new Playwright context: an
  empty HTTP cache), with the kept kernel warm (``followup app``'s preheated
  kernel, the default): at most 4 s;
- a reload of that page (the same context: the static files from the browser's
  cache, a warm kernel again): at most 2 s;
- JupyterLab: the working session notebook opened (its kernel started and idle),
  then Run → Run All Cells, until the actions show: at most 6 s.

``--per-page-kernel`` also measures the app with no kept kernel (one started per
page), the figure of issue 13. Between two app pages the kept kernel is given
time to be started again and to open the session (``--refill`` seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _common import BIN

AS_OF = "2026-11-16"
APP_LINE = re.compile(r"Follow-up Workbook app: (http://127\.0\.0\.1:(\d+)/\S*)")
SERVE = (
    "import sys; from followup_lib.faces.app import serve_app; "
    "sys.exit(serve_app(sys.argv[1], 'C001', port=0, open_browser=False, as_of=sys.argv[2], preheat=int(sys.argv[3])))"
)
ACTIONS_SHOWN = (
    "() => { const o = document.querySelector('.fw-actions select option');"
    " return o && o.closest('select').offsetParent !== null; }"
)


def start(db: str, preheat: int, log: Path) -> tuple[subprocess.Popen, str]:
    out = open(log, "w")  # noqa: SIM115 — closed with the process
    proc = subprocess.Popen(
        [sys.executable, "-u", "-c", SERVE, db, AS_OF, str(preheat)],
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        m = APP_LINE.search(log.read_text())
        if m:
            url = m.group(1)
            try:
                urllib.request.urlopen(url.split("?")[0] + "voila/static/voila.js", timeout=2).read()
                return proc, url
            except OSError:
                pass
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    stop(proc)
    raise SystemExit(f"the app did not start:\n{log.read_text()}")


def stop(proc: subprocess.Popen) -> None:
    from followup_lib.faces.app import stop_process_group

    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)  # serve_app stops Voilà and its kernels
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            stop_process_group(proc)


class NoActions(Exception):
    """The page did not show today's actions in time: what it showed instead."""


def wait_for_actions(page, started: float, timeout_s: float = 90) -> float:
    """Seconds from ``started`` until the page shows today's actions."""
    try:
        page.wait_for_function(ACTIONS_SHOWN, timeout=timeout_s * 1000, polling=50)
    except Exception as exc:  # noqa: BLE001 — said with what the page shows
        raise NoActions(
            f"no actions after {timeout_s:.0f} s; the page shows:\n{page.inner_text('body')[:2000]}"
        ) from exc
    return time.perf_counter() - started


def first_page_and_reload(browser, url: str, refill: float) -> tuple[float, float]:
    """A fresh browser profile opens the app; once the kept kernel is warm again,
    the same page is reloaded. Both times to actions."""
    context = browser.new_context(viewport={"width": 1366, "height": 1600})
    page = context.new_page()
    try:
        started = time.perf_counter()
        page.goto(url, wait_until="commit")
        first = wait_for_actions(page, started)
        time.sleep(refill)  # the kept kernel is started again and opens the session
        started = time.perf_counter()
        page.reload(wait_until="commit")
        return first, wait_for_actions(page, started)
    finally:
        page.close(run_before_unload=True)  # its kernel is let go, as when a person leaves
        context.close()


def measure_app(browser, db: str, preheat: int, repeat: int, tmp: Path, refill: float) -> tuple[float, float]:
    """Medians of the first page (fresh profile) and of its reload."""
    log = tmp / f"app-{preheat}.log"
    proc, url = start(db, preheat, log)
    try:
        time.sleep(refill if preheat else 0)  # the kept kernel opens the session before the first page
        first_page_and_reload(browser, url, refill if preheat else 0)  # warms the disk cache
        firsts, reloads = [], []
        for _ in range(repeat):
            time.sleep(refill if preheat else 0)
            first, again = first_page_and_reload(browser, url, refill if preheat else 0)
            firsts.append(first)
            reloads.append(again)
            print(f"  preheat={preheat}: first page {first:.2f} s, reload {again:.2f} s", flush=True)
        return statistics.median(firsts), statistics.median(reloads)
    except NoActions as exc:
        raise SystemExit(f"{exc}\n---- the app's log, last lines:\n{log.read_text()[-4000:]}") from None
    finally:
        stop(proc)


# ------------------------------------------------------------------ JupyterLab


def start_lab(db: str, tmp: Path) -> tuple[subprocess.Popen, str]:
    """JupyterLab on a copy of the working session notebook (its autosave never
    touches the project's), with its own settings and workspaces."""
    folder = tmp / "lab"
    folder.mkdir()
    shutil.copy(Path(__file__).resolve().parents[1] / "notebooks" / "working_session.ipynb", folder)
    token = secrets.token_urlsafe(16)
    port = _free_port()
    env = {
        **os.environ,
        "FOLLOWUP_DB": db,
        "FOLLOWUP_COACHEE": "C001",
        "FOLLOWUP_AS_OF": AS_OF,
        "JUPYTERLAB_SETTINGS_DIR": str(tmp / "lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "lab-workspaces"),
        "JUPYTER_RUNTIME_DIR": str(tmp / "lab-runtime"),
    }
    log = open(tmp / "lab.log", "w")  # noqa: SIM115 — closed with the process
    proc = subprocess.Popen(
        [
            str(BIN / "jupyter"),
            "lab",
            "--no-browser",
            f"--port={port}",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={folder}",
            "--allow-root",  # as CI runs it
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2).read()
            return proc, f"{base}/lab/tree/working_session.ipynb?token={token}&reset"
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.5)
    stop_lab(proc)
    raise SystemExit(f"JupyterLab did not start:\n{(tmp / 'lab.log').read_text()[-4000:]}")


def _free_port() -> int:
    from followup_lib.faces.app import free_port

    return free_port()


def stop_lab(proc: subprocess.Popen) -> None:
    from followup_lib.faces.app import stop_process_group

    stop_process_group(proc, timeout=20)


def _shut_down_kernels(url: str) -> None:
    base, token = url.split("/lab/")[0], re.search(r"token=([^&]+)", url).group(1)
    with urllib.request.urlopen(f"{base}/api/sessions?token={token}", timeout=10) as r:
        sessions = json.load(r)
    for session in sessions:
        req = urllib.request.Request(f"{base}/api/sessions/{session['id']}?token={token}", method="DELETE")
        urllib.request.urlopen(req, timeout=30).read()


def run_all_in_lab(browser, url: str) -> float:
    """The notebook opened afresh (a new kernel, idle), then Run → Run All Cells:
    seconds until the actions show."""
    _shut_down_kernels(url)
    context = browser.new_context(viewport={"width": 1366, "height": 1600})
    page = context.new_page()
    try:
        page.goto(url, wait_until="domcontentloaded", timeout=120_000)
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
        # The kernel started and idle, as the status bar says it.
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)
        page.locator(".jp-Notebook").first.click()
        page.get_by_role("menuitem", name="Run", exact=True).click()
        run_all = page.get_by_role("menuitem", name="Run All Cells", exact=True)
        run_all.wait_for()
        started = time.perf_counter()
        run_all.click()
        return wait_for_actions(page, started)
    finally:
        context.close()


def measure_lab(browser, db: str, repeat: int, tmp: Path) -> float:
    proc, url = start_lab(db, tmp)
    try:
        run_all_in_lab(browser, url)  # warms the disk cache
        times = []
        for _ in range(repeat):
            times.append(run_all_in_lab(browser, url))
            print(f"  JupyterLab Run All: {times[-1]:.2f} s", flush=True)
        return statistics.median(times)
    except NoActions as exc:
        raise SystemExit(f"{exc}\n---- JupyterLab's log:\n{(tmp / 'lab.log').read_text()[-4000:]}") from None
    finally:
        _shut_down_kernels(url)
        stop_lab(proc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--refill", type=float, default=20, help="seconds for the kept kernel to be ready again")
    ap.add_argument("--per-page-kernel", action="store_true", help="also the app with a kernel started per page")
    ap.add_argument("--skip-lab", action="store_true")
    ap.add_argument("--lab-only", action="store_true")
    args = ap.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise SystemExit("needs Debian's chromium on PATH")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        # Default settings, and the session's day recorded here, not in the project's data/.
        os.environ["FOLLOWUP_SETTINGS"] = str(tmp / "settings.toml")
        db = f"sqlite:///{tmp / 'demo.db'}"
        subprocess.run([str(BIN / "followup"), "--db", db, "demo", "--no-shift"], check=True, stdout=subprocess.DEVNULL)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
            try:
                if not args.lab_only:
                    first, again = measure_app(browser, db, 1, args.repeat, tmp, args.refill)
                    print(f"app, first page in a fresh browser profile, kept kernel warm: {first:.2f} s (goal <= 4 s)")
                    print(f"app, reload of that page: {again:.2f} s (goal <= 2 s)")
                if args.per_page_kernel and not args.lab_only:
                    first, _ = measure_app(browser, db, 0, args.repeat, tmp, args.refill)
                    print(f"app, first page with a kernel started per page: {first:.2f} s")
                if not args.skip_lab:
                    lab = measure_lab(browser, db, args.repeat, tmp)
                    print(f"JupyterLab, Run All to actions (a fresh kernel): {lab:.2f} s (goal <= 6 s)")
            finally:
                browser.close()


if __name__ == "__main__":
    main()
