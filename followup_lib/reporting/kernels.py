"""Report kernels: each one fresh (isolation), started before anything else and
told to import what the notebook imports while this process prepares the run and
loads papermill and nbconvert, so the two start-ups overlap instead of adding up.
They talk over local (Unix) sockets in a folder of their own.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

KERNEL = "python3"  # the environment's own kernel: jupyter_client runs it with this Python
LAUNCHER = "followup_lib.reporting.kernel_warmup"  # ipykernel's launcher, without the debugger


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
        def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
            # This environment's own ipykernel is started through kernel_warmup's
            # launcher (no debugger); any other kernel command is left as it is.
            cmd = super().format_kernel_cmd(extra_arguments)
            for i in range(len(cmd) - 1):
                if cmd[i] == "-m" and cmd[i + 1] == "ipykernel_launcher":
                    cmd[i + 1] = LAUNCHER
                    break
            return cmd

        async def _async_interrupt_kernel(self) -> None:
            if self.shutting_down:
                return
            await super()._async_interrupt_kernel()

    return ReportKernelManager


def _notebook_imports(source: dict) -> list[str]:
    """The modules the notebook's code cells import at their top level, in order."""
    import ast

    found: list[str] = []
    for cell in source.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        text = cell.get("source", "")
        text = "".join(text) if isinstance(text, list) else str(text)
        text = "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith(("%", "!")))
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                found += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                # "from package import module" imports the module too; a name that is
                # not a module is simply not found (quickly) by the warm-up.
                found.append(node.module)
                found += [f"{node.module}.{alias.name}" for alias in node.names if alias.name != "*"]
    return list(dict.fromkeys(found))


def _warmup_argument(modules: list[str]) -> str:
    call = f"__import__('followup_lib.reporting.kernel_warmup', fromlist=['warm']).warm(*{modules!r})"
    return f"--IPKernelApp.exec_lines={json.dumps([call])}"


def _kernel_arguments(modules: list[str]) -> list[str]:
    """A report kernel's command line: the warm-up, and no IPython history (a
    report's cells, its parameters among them, are not written to the user's
    ~/.ipython history database, and the kernel has nothing to save on exit)."""
    return ["--HistoryManager.enabled=False"] + ([_warmup_argument(modules)] if modules else [])


class ReportKernel:
    """One report's kernel: started (and warming up) at once, stopped by ``stop``.
    Its sockets live in a temporary folder of its own, removed with it."""

    def __init__(self, modules: list[str]):
        self._ipc = kernel_over_ipc()
        config = self._ipc.__enter__()
        try:
            self.km = report_kernel_manager()(kernel_name=KERNEL, config=config)
        except BaseException:
            self._ipc.__exit__(None, None, None)
            raise
        self._modules = modules

    async def start(self) -> ReportKernel:
        try:
            await self.km.start_kernel(extra_arguments=_kernel_arguments(self._modules))
        except BaseException:
            await self.stop()
            raise
        return self

    async def stop(self) -> None:
        try:
            if self.km.has_kernel:
                # Killed, not asked: by now every cell's reply and output is in,
                # and the kernel holds nothing to save (no history). A polite
                # shutdown costs ipykernel 0.5 s or more of winding down, on every
                # report. Its process group goes, and its connection file and sockets.
                await self.km.shutdown_kernel(now=True)
        finally:
            self._ipc.__exit__(None, None, None)


@contextmanager
def _light_imports() -> Iterator[None]:
    """nbformat imports jsonschema, which builds a grammar for the "iri" string
    format (rfc3987_syntax, ~0.9 s) when that package is installed; notebook schemas
    use no such format, so it is left out while the notebook tools are imported."""
    blocked = "rfc3987_syntax" not in sys.modules
    if blocked:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # "import" raises ImportError
    try:
        import nbclient  # noqa: F401
        import nbconvert  # noqa: F401
        import nbformat  # noqa: F401
    finally:
        if blocked and sys.modules.get("rfc3987_syntax", 0) is None:
            del sys.modules["rfc3987_syntax"]
    yield
