"""The app's last open doors (issue 22) and its manners (issue 21), on the real
``followup app``: the kernel-query channel needs the token, the token is on no
command line, the kernels' connection files are the user's alone, a cap on pages
with a clear page past it, the kernel shutdown on leaving a page accepted (xsrf),
the notebook trusted, --port checked, and the client's app refusing, in the
browser, what a client may not do.
"""

from __future__ import annotations

import http.client
import stat
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from followup_lib.data.demo import load_demo
from followup_lib.data.store import open_store
from followup_lib.errors import UserError
from followup_lib.faces.app import port_number
from followup_lib.faces.voila_guard import token_shown

from builders import require_chromium, start_app

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-sync"]


def test_a_port_is_one_to_65535_or_zero():
    for ok in (0, 1, 8866, 65535):
        assert port_number(ok) == ok
    for bad in (65536, 70000, -1):
        with pytest.raises(UserError, match="is not a port"):
            port_number(bad)


def test_the_idle_cull_passes_over_a_kernel_shut_down_while_it_ran(monkeypatch):
    """jupyter_server's cull loop lists the kernels, then awaits each in turn; a page
    left meanwhile shuts its kernel down, and looking it up raised KeyError into the
    app's log (seen in CI after a burst of reloads). The guard passes over it."""
    import asyncio

    from jupyter_server.services.kernels.kernelmanager import MappingKernelManager

    from followup_lib.faces import voila_guard

    original = MappingKernelManager.cull_kernel_if_idle
    monkeypatch.setattr(MappingKernelManager, "cull_kernel_if_idle", original)  # restored afterwards
    manager = MappingKernelManager()
    with pytest.raises(KeyError):
        asyncio.run(manager.cull_kernel_if_idle("a-kernel-already-gone"))
    voila_guard._cull_only_live_kernels()
    assert asyncio.run(manager.cull_kernel_if_idle("a-kernel-already-gone")) is None


def test_a_kernel_handed_to_a_page_counts_as_active_from_that_moment():
    """Seen in CI: a pre-heated kernel, taken by a page, was culled as idle at once
    (its last activity as old as its warm-up) while Voilà still rendered on it."""
    import asyncio
    import datetime as dt
    import types

    from jupyter_server.services.kernels.kernelmanager import MappingKernelManager
    from voila.voila_kernel_manager import voila_kernel_manager_factory

    from followup_lib.faces.voila_guard import fresh_on_hand_out

    class Pool:
        _kernels = {"k1": types.SimpleNamespace(last_activity=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))}

        async def get_rendered_notebook(self, notebook_name, **kwargs):
            return None, [], "k1"

    pool = fresh_on_hand_out(Pool)()
    assert asyncio.run(pool.get_rendered_notebook("working_session.ipynb"))[2] == "k1"
    age = dt.datetime.now(dt.UTC) - pool._kernels["k1"].last_activity
    assert age < dt.timedelta(seconds=5)
    # Voilà's own pre-heating manager is the class this wraps.
    real = voila_kernel_manager_factory(MappingKernelManager, True, 1)
    assert fresh_on_hand_out(real).get_rendered_notebook.__qualname__.startswith("fresh_on_hand_out")


def test_a_cell_whose_execute_reply_never_arrives_ends_with_its_outputs(monkeypatch):
    """Seen under load in CI (the app's debug log): the kernel ran a page's cell, its
    outputs and its "idle" reached Voilà's executor, its shell reply never did, and
    the page waited until the kernel was culled. On a real kernel, the reply of two
    cells is dropped on its way in: each still ends, with its outputs, an error as an
    error; without the guard's wait, the same drop breaks the cell."""
    import asyncio
    from queue import Empty

    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    from followup_lib.faces import voila_guard

    monkeypatch.setattr(NotebookClient, "_async_poll_for_reply", NotebookClient._async_poll_for_reply)
    monkeypatch.setattr(NotebookClient, "_followup_reads_late_replies", False, raising=False)
    monkeypatch.setattr(voila_guard, "REPLY_GRACE_SECONDS", 1.0)

    def drop_replies(client):
        get = client.kc.shell_channel.get_msg

        async def get_msg(*args, **kwargs):
            msg = await get(*args, **kwargs)
            if msg["msg_type"] == "execute_reply" and "drop" in client.nb.cells[client.executing]["metadata"]:
                raise Empty  # the reply lost on its way
            return msg

        client.kc.shell_channel.get_msg = get_msg

    def notebook():
        return nbformat.v4.new_notebook(
            cells=[
                nbformat.v4.new_code_cell("x = 41"),
                nbformat.v4.new_code_cell("print(x + 1)", metadata={"drop": True}),
                nbformat.v4.new_code_cell("1 / 0", metadata={"drop": True}),
            ]
        )

    async def run(nb) -> list:
        client = NotebookClient(nb, kernel_name="python3", timeout=None)
        outcomes = []
        async with client.async_setup_kernel():
            drop_replies(client)
            for index, cell in enumerate(nb.cells):
                client.executing = index
                try:
                    await asyncio.wait_for(client.async_execute_cell(cell, index), 60)
                    outcomes.append("ok")
                except CellExecutionError as exc:
                    outcomes.append(type(exc).__name__)
                except Exception as exc:  # noqa: BLE001 — what the drop does without the guard
                    outcomes.append(type(exc).__name__)
        return outcomes

    unguarded = notebook()
    assert asyncio.run(run(unguarded))[1] != "ok"

    voila_guard.read_late_execute_replies()
    nb = notebook()
    assert asyncio.run(run(nb)) == ["ok", "ok", "CellExecutionError"]
    assert nb.cells[1].outputs[0]["text"] == "42\n"
    assert nb.cells[2].outputs[0]["ename"] == "ZeroDivisionError"


def test_followup_app_refuses_port_70000_before_serving(tmp_path):
    exe = Path(sys.executable).with_name("followup")
    r = subprocess.run(
        [str(exe), "--db", f"sqlite:///{tmp_path / 'x.db'}", "app", "--no-browser", "--port", "70000"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode != 0 and "70000" in r.stderr and "Follow-up Workbook app:" not in r.stdout


def test_the_token_is_shown_by_header_or_query_only():
    assert token_shown({"Authorization": "token s3cret"}, "", "s3cret")
    assert token_shown({}, "token=s3cret", "s3cret")
    assert not token_shown({}, "", "s3cret")
    assert not token_shown({"Authorization": "token wrong"}, "token=s3cret", "s3cret")
    assert token_shown({}, "", "")  # --no-token: open, as it warns


# ------------------------------------------------------------------ the real app


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("appguard")
    db = f"sqlite:///{folder / 'followup.db'}"
    store = open_store(db)
    load_demo(store, shift=False)
    store.engine.dispose()
    settings = folder / "settings.toml"
    settings.write_text("[defaults]\napp_max_kernels = 1\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FOLLOWUP_SETTINGS", str(settings))
        running = start_app(folder, db, "--coachee", "C001", "--client")
    yield running
    running.stop()


def get(port: int, path: str, headers: dict | None = None) -> tuple[int, str]:
    con = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        con.request("GET", path, headers=headers or {})
        r = con.getresponse()
        return r.status, r.read(20_000).decode("utf-8", "replace")
    finally:
        con.close()


def processes(app) -> list[psutil.Process]:
    out = []
    for p in psutil.Process(app["proc"].pid).children(recursive=True):
        try:
            if p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            pass
    return out


def kernels(app) -> list[psutil.Process]:
    return [p for p in processes(app) if "ipykernel" in " ".join(p.cmdline())]


def wait_for(condition, timeout: float = 90, step: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    return condition()


def test_the_kernel_query_channel_needs_the_token(served):
    ks = wait_for(lambda: kernels(served))
    cmd = " ".join(ks[0].cmdline())
    kernel_id = cmd.split("kernel-", 1)[1].split(".json", 1)[0]
    ws = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "x3JJHMbDL1EzLkh9GBhXDw==",
    }
    status, _ = get(served["port"], f"/voila/query/{kernel_id}", ws)
    assert status == 403
    status, _ = get(served["port"], f"/voila/query/{kernel_id}?token=wrong", ws)
    assert status == 403
    # With the token the channel answers (the kernel's own wait_for_page shows it).
    status, _ = get(served["port"], f"/voila/query/{kernel_id}", {**ws, "Authorization": "token " + served["token"]})
    assert status != 403


def test_the_token_is_on_no_command_line(served):
    for p in [psutil.Process(served["proc"].pid), *processes(served)]:
        assert served["token"] not in " ".join(p.cmdline()), p.cmdline()


def test_kernel_connection_files_are_private(served):
    ks = wait_for(lambda: kernels(served))
    cmd = ks[0].cmdline()
    connection = Path(cmd[cmd.index("-f") + 1])
    assert stat.S_IMODE(connection.stat().st_mode) == 0o600
    # In Voilà's folder, inside the app's own: neither is open to anyone else.
    assert connection.parent.parent.name.startswith("followup-app-")
    for folder in (connection.parent, connection.parent.parent):
        assert stat.S_IMODE(folder.stat().st_mode) & 0o077 == 0, oct(folder.stat().st_mode)
    assert stat.S_IMODE(connection.parent.parent.stat().st_mode) == 0o700


@pytest.fixture(scope="module")
def browser(served):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=require_chromium(), args=CHROMIUM_ARGS)
        yield b
        b.close()


def open_page(browser, app):
    context = browser.new_context(viewport={"width": 1280, "height": 2000})
    context.route(
        "**/*", lambda route: route.continue_() if route.request.url.startswith(app["base"]) else route.abort()
    )
    page = context.new_page()
    response = page.goto(app["url"], wait_until="commit", timeout=120_000)
    return context, page, response


def test_a_cap_on_pages_a_clear_page_past_it_and_a_left_page_lets_its_kernel_go(served, browser):
    first, page, _ = open_page(browser, served)
    try:
        page.wait_for_selector(".fw-actions select option", timeout=120_000)
        # The client's page offers no Coachee form and no Mail tab.
        titles = page.locator(".fw-session .lm-TabBar-tab, .fw-session .p-TabBar-tab").all_inner_texts()
        assert titles and not {"Coachee", "Mail"} & {t.strip() for t in titles}
        # The cap (app_max_kernels = 1): a second page is told, in words.
        second, other, response = open_page(browser, served)
        try:
            assert response.status == 503
            assert "pages open already" in other.locator("body").inner_text()
        finally:
            second.close()
        before = len(kernels(served))
        page.close(run_before_unload=True)  # Voilà's page asks to shut its kernel down
        assert wait_for(lambda: len(kernels(served)) < before, timeout=20), "the page's kernel was not let go"
    finally:
        first.close()
    # Room again: a new page opens.
    third, page, response = open_page(browser, served)
    try:
        page.wait_for_selector(".fw-actions select option", timeout=120_000)
    finally:
        third.close()
    log = served["log"].read_text()
    assert "_xsrf" not in log and "not trusted" not in log, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
