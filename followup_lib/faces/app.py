"""``followup app``: the working session as a code-free page, served by Voilà on
127.0.0.1 only. The kernel inherits the store, coachee and day through the
environment (FOLLOWUP_DB, FOLLOWUP_COACHEE, FOLLOWUP_AS_OF), which the
notebook's ``session.start`` reads.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

from .. import paths
from ..errors import UserError

HOST = "127.0.0.1"


def session_notebook() -> Path:
    return paths.notebooks_dir() / "working_session.ipynb"


# A page left (or reloaded) leaves its kernel behind (Voilà's shutdown request
# fails its xsrf check): a kernel with no page connected and idle this long is stopped.
CULL_IDLE_SECONDS = 45
CULL_INTERVAL_SECONDS = 10


PREHEAT = 1


def voila_command(
    port: int, open_browser: bool = False, preheat: int = PREHEAT, runtime: Path | None = None
) -> list[str]:
    """Voilà's command line. ``preheat`` > 0 keeps that many kernels started ahead
    of the next page load (Voilà's preheated kernels), the working session's imports
    already done and the session opened once, unseen (``session.wait_for_page``):
    the notebook then waits (``voila.utils.wait_for_request``) and reads the store
    again when a page opens, so what it shows is never stale. A
    waiting kernel is busy, so the idle culling leaves it alone; 0 turns it off.
    See ``benchmarks/bench_app.py``. The token is not on this command line (``ps``
    shows it to every user): ``voila_guard`` reads it from FOLLOWUP_APP_TOKEN."""
    heat = ["--preheat_kernel=True", f"--pool_size={preheat}"] if preheat > 0 else []
    # The kernels' connection files (their keys) and sockets inside the app's private folder.
    private = [f"--Voila.connection_dir_root={runtime}"] if runtime else []
    return [
        sys.executable,
        "-m",
        "followup_lib.faces.voila_guard",  # Voilà, refusing other Hosts/Origins and CDN links
        str(session_notebook()),
        f"--port={port}",
        f"--Voila.ip={HOST}",
        "--Voila.port_retries=0",  # the printed address must be the real one: fail if the port is taken
        "--no-browser" if not open_browser else "--Voila.open_browser=True",
        "--strip_sources=True",  # no code cells, ever
        "--show_tracebacks=False",  # errors are shown by the widgets, in words
        "--theme=light",
        "--VoilaConfiguration.file_allowlist=.^",  # serve no files from the project
        # Kernels talk over local sockets, not TCP ports: no port races with other
        # kernels starting at the same moment, and nothing listening on the network.
        "--KernelManager.transport=ipc",
        f"--MappingKernelManager.cull_idle_timeout={CULL_IDLE_SECONDS}",
        f"--MappingKernelManager.cull_interval={CULL_INTERVAL_SECONDS}",
        "--MappingKernelManager.cull_connected=False",  # a page still open keeps its kernel
        *heat,
        *private,
    ]


def free_port() -> int:
    """A port nothing listens on now (for --port 0): the address printed is the real one."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def app_environment(db_url: str | None, coachee_id: str | None, as_of=None, client: bool = False) -> dict:
    env = dict(os.environ)
    env.pop("FOLLOWUP_CLIENT", None)
    if client:
        if not coachee_id:
            raise UserError("--client needs --coachee ID: the client sees their own work and no one else's")
        env["FOLLOWUP_CLIENT"] = "1"
    from ..data.store import open_store

    store = open_store(db_url, create=False)  # upgrades it before any kernel opens it; never makes one
    env["FOLLOWUP_DB"] = store.url
    known = store.coachee_ids()
    store.engine.dispose()
    if coachee_id and coachee_id not in known:
        raise UserError(f"no coachee {coachee_id!r} in the store")
    if coachee_id:
        env["FOLLOWUP_COACHEE"] = coachee_id
    if as_of:
        env["FOLLOWUP_AS_OF"] = str(as_of)[:10]
    env["FOLLOWUP_HOME"] = str(paths.project_dir())
    return env


def port_number(port: int) -> int:
    """A port to serve on: 0 (a free one, picked and printed) or 1–65535; anything
    else is refused (a port past 65535 would be taken modulo 65536 by the system)."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise UserError(f"--port {port!r} is not a port: give 1–65535, or 0 for a free one")
    return port


def private_runtime_dir() -> Path:
    """A fresh folder for the kernels' connection files and sockets, readable by
    this user alone (0700; jupyter_client writes each connection file 0600): no
    other user of the machine can read a kernel's keys or reach its sockets."""
    base = tempfile.gettempdir()
    if len(base.encode()) + 80 > 107 and Path("/tmp").is_dir():
        base = "/tmp"  # a Unix socket's path holds at most 107 bytes
    folder = Path(tempfile.mkdtemp(prefix="followup-app-", dir=base))
    folder.chmod(0o700)
    return folder


# The signals that stop `followup app`: Ctrl+C in its terminal, `kill`, and the
# terminal closing (or a supervisor's stop).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# Voilà stops its kernels when it gets SIGTERM (each gets a shutdown request, then
# is killed after jupyter_client's own few seconds); after this long it is killed.
STOP_TIMEOUT = 15.0


class _Stop(Exception):
    """Raised in the main thread by a stop signal, to leave ``proc.wait()``."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _raise_stop(signum, frame):
    raise _Stop(signum)


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _stop_with_parent(parent: int) -> None:
    """Run in Voilà's process just before it starts (Linux): SIGTERM to it when
    ``followup app`` dies, whatever killed it. SIGKILL (or a crash) cannot be
    relayed; without this Voilà would be orphaned and keep serving. If the
    parent is already gone, Voilà is stopped at once. Elsewhere: nothing."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the signal relay is all there is
        return
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)


def serve_app(
    db_url: str | None,
    coachee_id: str | None = None,
    port: int = 8866,
    open_browser: bool = True,
    as_of=None,
    token: bool = True,
    client: bool = False,
    preheat: int = PREHEAT,
) -> int:
    """Serve until interrupted (Ctrl+C, SIGTERM or SIGHUP), then stop Voilà and its
    kernels before returning. Prints the address to open.

    Voilà runs in a session (process group) of its own, so a signal to ``followup
    app`` reaches it only through here, once, and in order: Voilà first, which
    shuts its kernels down; whatever is left of its group is killed. If
    ``followup app`` is killed outright (SIGKILL), Voilà gets SIGTERM from the
    system (``_stop_with_parent``) and stops the same way.
    Returns Voilà's exit code if it stopped by itself, 0 after Ctrl+C, and
    128 + the signal's number after SIGTERM or SIGHUP.
    """
    from ..settings import load_settings

    port = port_number(port)
    env = app_environment(db_url, coachee_id, as_of, client=client)
    port = port or free_port()
    secret = secrets.token_urlsafe(24) if token else ""
    # voila_guard reads these: the token (never on a command line) and the cap on pages.
    env["FOLLOWUP_APP_TOKEN"] = secret
    env["FOLLOWUP_APP_MAX_KERNELS"] = str(load_settings()[0].app_max_kernels)
    runtime = private_runtime_dir()
    env["JUPYTER_RUNTIME_DIR"] = str(runtime)
    if not token:
        print(
            "WARNING: --no-token: anyone who can reach this machine's loopback address can open the app "
            "and read every coachee's data",
            file=sys.stderr,
            flush=True,
        )
    url = f"http://{HOST}:{port}/" + (f"?token={secret}" if secret else "")
    who = f"; only {coachee_id}'s work" if client else ""
    print(f"Follow-up Workbook app: {url}  (store: {env['FOLLOWUP_DB']}{who}; Ctrl+C to stop)", flush=True)
    previous = {sig: signal.signal(sig, _raise_stop) for sig in STOP_SIGNALS}
    proc = None
    try:
        proc = subprocess.Popen(
            voila_command(port, open_browser, preheat=preheat, runtime=runtime),
            env=env,
            start_new_session=True,
            preexec_fn=partial(_stop_with_parent, os.getpid()),  # noqa: PLW1509 — no threads here yet
        )
        code = proc.wait()
    except _Stop as stop:
        code = 0 if stop.signum == signal.SIGINT else 128 + stop.signum
    finally:
        # A second signal while stopping must not cut the stopping short.
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        try:
            if proc is not None:
                stop_process_group(proc)
        finally:
            shutil.rmtree(runtime, ignore_errors=True)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    return code


def stop_process_group(proc: subprocess.Popen, timeout: float = STOP_TIMEOUT) -> None:
    """Stop ``proc``, the leader of its own process group: SIGTERM to the group,
    up to ``timeout`` seconds for the leader to exit, then SIGKILL to whatever is
    left of the group; the leader is reaped last.

    The leader is waited for without being reaped (``WNOWAIT``): as long as it is
    an unreaped zombie its process group id cannot be reused, so the SIGKILL can
    only reach processes of ours.
    """
    _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while not _has_exited(proc) and time.monotonic() < deadline:
        time.sleep(0.1)
    _signal_group(proc, signal.SIGKILL)
    proc.wait()


def _has_exited(proc: subprocess.Popen) -> bool:
    if proc.returncode is not None:
        return True
    try:
        info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:  # reaped elsewhere
        return True
    return info is not None


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    if proc.returncode is not None:
        return  # reaped: its group id may belong to someone else by now
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
