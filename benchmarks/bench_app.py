"""The app's time to actions: from the browser's ``goto`` to today's action list
(``.fw-actions select option``) on the page, in Debian's Chromium driven by
Playwright, against ``followup app`` over the demo store. Goal (issue 13): at most
3 s on an idle machine.

Two servers are measured in the same run, one after the other:
- as ``followup app`` starts it today (a kernel started and the working session
  run when the page asks for it);
- with Voilà's preheated kernels (``serve_app(preheat=1)``): a kernel has already
  run the session when the page opens.
Each figure is the median of ``--repeat`` page loads (a fresh page each time; with
preheating, the pool is given time to refill between loads).
"""

from __future__ import annotations

import argparse
import os
import re
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


def time_to_actions(browser, url: str, timeout_s: float = 90) -> float:
    context = browser.new_context(viewport={"width": 1366, "height": 1600})
    page = context.new_page()
    try:
        started = time.perf_counter()
        page.goto(url, wait_until="commit")
        try:
            page.wait_for_function(
                "() => { const o = document.querySelector('.fw-actions select option');"
                " return o && o.closest('select').offsetParent !== null; }",
                timeout=timeout_s * 1000,
                polling=50,
            )
        except Exception as exc:  # noqa: BLE001 — said with what the page shows
            raise NoActions(
                f"no actions after {timeout_s:.0f} s; the page shows:\n{page.inner_text('body')[:2000]}"
            ) from exc
        return time.perf_counter() - started
    finally:
        context.close()


def measure(browser, db: str, preheat: int, repeat: int, tmp: Path) -> float:
    log = tmp / f"app-{preheat}.log"
    proc, url = start(db, preheat, log)
    try:
        if preheat:
            time.sleep(20)  # the pool heats up (runs the session) before the first page
        time_to_actions(browser, url)  # the first load warms the disk cache
        times = []
        for _ in range(repeat):
            if preheat:
                time.sleep(15)  # the pool refills after each page takes its kernel
            times.append(time_to_actions(browser, url))
        return statistics.median(times)
    except NoActions as exc:
        raise SystemExit(f"{exc}\n---- the app's log, last lines:\n{log.read_text()[-4000:]}") from None
    finally:
        stop(proc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-preheat", action="store_true")
    ap.add_argument("--preheat-only", action="store_true", help="only the figure with a preheated kernel")
    args = ap.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise SystemExit("needs Debian's chromium on PATH")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        db = f"sqlite:///{tmp / 'demo.db'}"
        subprocess.run([str(BIN / "followup"), "--db", db, "demo", "--no-shift"], check=True, stdout=subprocess.DEVNULL)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
            try:
                if not args.preheat_only:
                    today = measure(browser, db, 0, args.repeat, tmp)
                    print(f"app, time to actions: {today:.2f} s, a kernel started per page (goal <= 3 s)")
                if not args.skip_preheat:
                    heated = measure(browser, db, 1, args.repeat, tmp)
                    print(f"app, time to actions: {heated:.2f} s with a preheated kernel (pool of 1)")
            finally:
                browser.close()


if __name__ == "__main__":
    main()
