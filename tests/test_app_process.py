"""Processes: ``followup app`` stops Voilà and its kernels when it is told to stop,
report kernels talk over local sockets and leave nothing behind, and the suite's
own check (``process_check``) catches a process a test leaves running.

All of it with real processes: the installed ``followup`` command, Voilà, kernels.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from builders import AS_OF, ROOT, copy_sqlite

pytestmark = [pytest.mark.slow]
FOLLOWUP = Path(sys.executable).with_name("followup")
STOPPED_WITHIN = 20  # seconds, from the signal to the last descendant gone


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        assert r.status == 200, (url, r.status)
        return r.read()


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the app exited with {proc.returncode}:\n{log.read_text()}")
        try:
            _get(url, timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"the app did not answer at {url} within {timeout}s:\n{log.read_text()}")


@pytest.fixture
def demo_db(tmp_path, demo_once_file) -> str:
    """The demo (unshifted) in a store of its own: a copy of the one loaded once this run."""
    copy_sqlite(demo_once_file, tmp_path / "s.db")
    return f"sqlite:///{tmp_path / 's.db'}"


def _is_kernel(proc: psutil.Process) -> bool:
    try:
        return any("ipykernel" in part for part in proc.cmdline())
    except psutil.Error:
        return False


def _still_running(procs: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.Error:
            pass
    return out


@pytest.mark.parametrize(
    "sig, code",
    [
        (signal.SIGTERM, 128 + signal.SIGTERM),
        (signal.SIGHUP, 128 + signal.SIGHUP),
        (signal.SIGINT, 0),
        # Killed outright, followup app relays nothing: the system tells Voilà (PDEATHSIG).
        (signal.SIGKILL, -signal.SIGKILL),
    ],
    ids=["SIGTERM", "SIGHUP", "SIGINT", "SIGKILL"],
)
def test_app_stops_voila_and_its_kernels(demo_db, tmp_path, sig, code):
    port = _free_port()
    log_path = tmp_path / "app.log"
    url = f"http://127.0.0.1:{port}/"
    descendants: list[psutil.Process] = []
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            # --no-token: this test loads the page with a plain request (the token is tested elsewhere).
            [
                str(FOLLOWUP),
                "--db",
                demo_db,
                "app",
                "--no-browser",
                "--no-token",
                "--port",
                str(port),
                "--as-of",
                AS_OF.isoformat(),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_http(url + "voila/static/voila.js", proc, log_path)
        # A page load starts a kernel and runs the working session in it.
        assert b"<html" in _get(url, timeout=180).lower()
        descendants = psutil.Process(proc.pid).children(recursive=True)
        assert any(_is_kernel(p) for p in descendants), [p.cmdline() for p in descendants]

        proc.send_signal(sig)
        started = time.monotonic()
        try:
            returned = proc.wait(timeout=STOPPED_WITHIN)
        except subprocess.TimeoutExpired:
            returned = None
        remaining = max(0.1, STOPPED_WITHIN - (time.monotonic() - started))
        _, alive = psutil.wait_procs(_still_running(descendants), timeout=remaining)
        left = [(p.pid, " ".join(p.cmdline())) for p in _still_running(alive)]
        assert not left, f"still running {STOPPED_WITHIN}s after {sig.name} to followup app: {left}"
        assert returned == code, log_path.read_text()
        # Stopped quietly (issue 21): no KeyboardInterrupt or ZMQError traceback.
        if sig != signal.SIGKILL:
            # One race is ipykernel's, not ours: a kernel still starting when Voilà
            # closes its sockets logs a ZMQError for the reply it cannot send (the
            # warm kernel's own filter drops it once it waits for a page).
            text = _without_closed_socket_tracebacks(log_path.read_text())
            assert "Traceback" not in text, text[-4000:]
    finally:
        for p in _still_running([psutil.Process(proc.pid), *descendants] if proc.poll() is None else descendants):
            p.kill()
        proc.wait(timeout=10)


def _without_closed_socket_tracebacks(text: str) -> str:
    """The log without ipykernel's "Exception in message handler" tracebacks that
    end in zmq's "Socket operation on non-socket" (a reply after its socket closed)."""
    return re.sub(
        r"\[IPKernelApp\] ERROR \| Exception in message handler:\nTraceback \(most recent call last\):\n"
        r"(?:[ \t].*\n)*?zmq\.error\.ZMQError: Socket operation on non-socket\n?",
        "",
        text,
    )


# ------------------------------------------------------------------ report kernels


PROGRESS_BAR = re.compile(r"weekly reports:\s+\d+%\|[^|]*\|[^\]]*\]")  # tqdm's, redrawn after each report


def test_a_report_run_is_quiet_and_its_kernels_talk_over_local_sockets(demo_db, tmp_path):
    """`followup report --all` as `make demo` runs it: no "Kernel is running over TCP
    without encryption", no "KeyboardInterrupt caught in kernel", nothing but the
    progress bar on stderr; and the kernels' socket files are gone afterwards:
    nothing left in the temporary folder, the working directory or the project."""
    out, tmp, cwd = tmp_path / "out", tmp_path / "tmp", tmp_path / "cwd"
    tmp.mkdir()
    cwd.mkdir()
    project_before = {p.name for p in ROOT.iterdir()}
    proc = subprocess.run(
        [str(FOLLOWUP), "--db", demo_db, "report", "--all", "--week-ending", AS_OF.isoformat()]
        + ["--out", str(out), "--jobs", "2"],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "TMPDIR": str(tmp)},
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    said = [ln for ln in re.split(r"[\r\n]", PROGRESS_BAR.sub("", proc.stderr)) if ln.strip()]
    assert not [ln for ln in said if "tcp" in ln.lower() or "warn" in ln.lower()], proc.stderr
    assert said == [], proc.stderr
    assert len(list(out.glob("*-weekly-*.html"))) == 3
    assert list(tmp.iterdir()) == []
    assert list(cwd.iterdir()) == []
    assert not [n for n in {p.name for p in ROOT.iterdir()} - project_before if "ipc" in n or "kernel" in n]


def test_a_report_kernel_is_not_interrupted_to_be_shut_down():
    """jupyter_client sends SIGINT before a shutdown request; a report kernel, idle by
    then, only gets the request (else it may print "KeyboardInterrupt caught")."""
    import asyncio

    from followup_lib.reporting.kernels import report_kernel_manager

    km = report_kernel_manager()(kernel_name="python3")
    with pytest.raises(RuntimeError, match="No kernel is running"):
        asyncio.run(km._async_interrupt_kernel())  # asked for: still sent (here: nothing to interrupt)
    km.shutting_down = True
    asyncio.run(km._async_interrupt_kernel())  # while shutting down: not sent


def test_report_kernels_use_ipc_in_a_folder_removed_afterwards(monkeypatch, tmp_path):
    """The configuration handed to papermill (and so to the kernel manager)."""
    from followup_lib.reporting import kernels as report

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    with report.kernel_over_ipc() as config:
        folder = Path(config.KernelManager.ip).parent
        assert config.KernelManager.transport == "ipc"
        assert folder.is_dir() and folder.parent in (tmp_path, Path("/tmp"))  # /tmp if $TMPDIR is too long
        assert len(str(folder / "k-1").encode()) <= 107  # a Unix socket's path
        assert Path(config.KernelManager.connection_file).parent == folder
        (folder / "k-1").touch()  # as a kernel's socket would be
    assert not folder.exists()


# ------------------------------------------------------------------ the suite's own check

LEAVES_A_PROCESS = """
import subprocess, sys

def test_leaves_an_orphan(tmp_path_factory):
    pidfile = {pidfile!r}
    # The shell starts sleep in the background and exits: sleep is an orphan.
    subprocess.run(["sh", "-c", f"sleep 300 & echo $! > {{pidfile}}"], check=True)
"""

CLEAN = """
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
import subprocess

def _square(x):
    return x * x

def test_clean():
    # A spawn pool starts pytest's own resource tracker, which outlives the pool.
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        assert pool.submit(_square, 3).result() == 9
    subprocess.run(["true"], check=True)
"""


def _inner_pytest(folder: Path, test_source: str, *options: str) -> subprocess.CompletedProcess:
    folder.mkdir()
    (folder / "conftest.py").write_text('pytest_plugins = ["process_check"]\n')
    (folder / "test_inner.py").write_text(textwrap.dedent(test_source))
    (folder / "process_check.py").write_text((ROOT / "tests" / "process_check.py").read_text())
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            *options,
            "--rootdir",
            str(folder),
            str(folder),
        ],
        capture_output=True,
        text=True,
        cwd=folder,
        timeout=120,
    )


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one-process", "xdist-workers"])
def test_the_process_check_names_kills_and_fails_on_a_process_left_running(tmp_path, workers):
    # Under xdist (as `make test` runs) the process a worker's test left is found too.
    pidfile = tmp_path / "sleep.pid"
    run = _inner_pytest(tmp_path / "leaky", LEAVES_A_PROCESS.format(pidfile=str(pidfile)), *workers)
    pid = int(pidfile.read_text())
    assert run.returncode == pytest.ExitCode.TESTS_FAILED, run.stdout + run.stderr
    assert "1 passed" in run.stdout
    assert "left running by the test run" in run.stdout and f"pid {pid}: sleep 300" in run.stdout, run.stdout
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one-process", "xdist-workers"])
def test_the_process_check_passes_a_clean_run(tmp_path, workers):
    run = _inner_pytest(tmp_path / "clean", CLEAN, *workers)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "left running" not in run.stdout
