"""``followup app``: the working session as a code-free page, served by Voilà on
127.0.0.1 only. The kernel inherits the store, coachee and day through the
environment (FOLLOWUP_DB, FOLLOWUP_COACHEE, FOLLOWUP_AS_OF), which the
notebook's ``session.start`` reads.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .. import paths

HOST = "127.0.0.1"


def session_notebook() -> Path:
    return paths.notebooks_dir() / "working_session.ipynb"


def voila_command(port: int, open_browser: bool = False) -> list[str]:
    return [
        sys.executable,
        "-m",
        "voila",
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
        # A tab closed without goodbye leaves its kernel behind: stop it after two idle hours.
        "--MappingKernelManager.cull_idle_timeout=7200",
        "--MappingKernelManager.cull_interval=300",
    ]


def app_environment(db_url: str | None, coachee_id: str | None, as_of=None) -> dict:
    env = dict(os.environ)
    from ..data.store import open_store

    store = open_store(db_url)  # creates and upgrades it before any kernel opens it
    env["FOLLOWUP_DB"] = store.url
    store.engine.dispose()
    if coachee_id:
        env["FOLLOWUP_COACHEE"] = coachee_id
    if as_of:
        env["FOLLOWUP_AS_OF"] = str(as_of)[:10]
    env["FOLLOWUP_HOME"] = str(paths.project_dir())
    return env


def serve_app(
    db_url: str | None, coachee_id: str | None = None, port: int = 8866, open_browser: bool = True, as_of=None
) -> int:
    """Serve until interrupted. Prints the address to open."""
    env = app_environment(db_url, coachee_id, as_of)
    print(f"Follow-up Workbook app: http://{HOST}:{port}/  (store: {env['FOLLOWUP_DB']}; Ctrl+C to stop)", flush=True)
    proc = subprocess.Popen(voila_command(port, open_browser), env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait(timeout=10)
        return 0
