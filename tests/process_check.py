"""A pytest plugin: the test run leaves no process running.

Loaded by ``pytest_plugins = ["process_check"]`` in ``tests/conftest.py``. At the
end of the session (after every fixture's teardown) it lists the processes
descended from pytest, gives them a few seconds to finish, and if any is still
running it names each one (pid and command line), kills it so CI does not hang,
and fails the run.

Orphans count too: on Linux pytest becomes a "child subreaper", so a process whose
parent exited without stopping it (a Voilà server left by a killed ``followup
app``, a kernel left by a killed Voilà) is re-parented to pytest instead of to
init, and is still found here.

Under pytest-xdist (``make test`` runs two workers) each worker is a subreaper too,
and the check is the controller's alone: a worker leaves what its tests left
running, exits, and those processes are re-parented to the controller, which
checks after it has stopped every worker (its own session-finish runs first).
"""

from __future__ import annotations

import ctypes
import sys
import time

import psutil
import pytest

GRACE_SECONDS = 5.0  # for processes already on their way out
KILL_SECONDS = 3.0
_PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h

# Helpers the pytest process itself starts for multiprocessing (``spawn`` pools):
# each exits when pytest does, so they are not ours to judge. Matched exactly:
# a direct child of pytest, running this Python, with this -c program.
_OWN_HELPERS = (
    "from multiprocessing.resource_tracker import main",
    "from multiprocessing.forkserver import main",
)


def _become_subreaper() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux's libc: orphans go to init, as before
        pass


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return []


def _running(proc: psutil.Process) -> bool:
    """Alive and not a zombie (an exited child nobody has reaped runs nothing)."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:
        return True


def _own_helper(proc: psutil.Process, me: psutil.Process) -> bool:
    try:
        if proc.ppid() != me.pid:
            return False
    except psutil.Error:
        return False
    cmd = _cmdline(proc)
    return (
        len(cmd) >= 3
        and cmd[0] == sys.executable
        and "-c" in cmd
        and any(cmd[-1].startswith(program) for program in _OWN_HELPERS)
    )


def left_running(me: psutil.Process | None = None) -> list[psutil.Process]:
    """The running descendants of this process, except its own multiprocessing helpers."""
    me = me or psutil.Process()
    try:
        descendants = me.children(recursive=True)
    except psutil.Error:
        return []
    return [p for p in descendants if _running(p) and not _own_helper(p, me)]


def _wait_gone(procs: list[psutil.Process], seconds: float) -> list[psutil.Process]:
    """Poll (never reap: a test's Popen may still want the exit status) until
    every process is gone or the time is up; return the ones still running."""
    deadline = time.monotonic() + seconds
    alive = [p for p in procs if _running(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [p for p in alive if _running(p)]
    return alive


def _signal_all(procs: list[psutil.Process], kill: bool) -> None:
    for p in procs:
        try:
            p.kill() if kill else p.terminate()
        except psutil.Error:
            pass


def pytest_configure(config: pytest.Config) -> None:
    _become_subreaper()


@pytest.hookimpl(trylast=True)  # after the runner's own sessionfinish has torn down session fixtures
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):  # an xdist worker: the controller checks
        return
    me = psutil.Process()
    _wait_gone(left_running(me), GRACE_SECONDS)
    alive = left_running(me)  # listed again: one may have started another while we waited
    if not alive:
        return
    lines = [f"pid {p.pid}: {' '.join(_cmdline(p)) or '(command line unreadable)'}" for p in alive]
    _signal_all(alive, kill=False)
    _signal_all(_wait_gone(alive, KILL_SECONDS), kill=True)
    _wait_gone(alive, KILL_SECONDS)

    fail_the_run(session, f"{len(lines)} process(es) left running by the test run (now killed)", lines)


def fail_the_run(session: pytest.Session, title: str, lines: list[str]) -> None:
    """Say ``title`` and ``lines`` at the end of the run, and fail it if it passed."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_sep("=", title, red=True, bold=True)
        for line in lines:
            reporter.write_line(line)
    else:
        print(title, *lines, sep="\n", file=sys.stderr)
    if session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
