"""papermill's engine for the weekly report: its own nbclient engine, run on a
kernel that is already started (and warming up) instead of starting one.

Registered under the name ``followup`` by the ``papermill.engine`` entry point
(pyproject.toml), so ``papermill.execute_notebook(..., engine_name="followup",
kernel_manager=km)`` runs the notebook on ``km``'s kernel; papermill still does
everything else: the parameters injected, ``metadata.papermill`` with its version
and timings, each cell's start, end and duration, the error marked where it was
raised. The kernel is the caller's to stop (it is not shut down here).

Kept free of this package's other modules: papermill loads it while papermill
itself is being imported.
"""

from __future__ import annotations

from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine
from papermill.log import logger
from papermill.utils import merge_kwargs, remove_args

ENGINE_NAME = "followup"


class WarmKernelEngine(NBClientEngine):
    """``NBClientEngine`` on a started kernel: ``kernel_manager`` (engine keyword,
    required) is the jupyter_client manager whose kernel runs the notebook."""

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man,
        kernel_name,
        log_output=False,
        stdout_file=None,
        stderr_file=None,
        start_timeout=60,
        execution_timeout=None,
        kernel_manager=None,
        **kwargs,
    ):
        if kernel_manager is None or not kernel_manager.has_kernel:
            raise ValueError("the followup engine runs a notebook on a started kernel: pass kernel_manager=")
        kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
        client = PapermillNotebookClient(
            nb_man,
            km=kernel_manager,
            **merge_kwargs(
                kwargs,
                timeout=execution_timeout,
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log=logger,
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
            ),
        )
        try:
            return client.execute()
        finally:
            # nbclient leaves the channels of a kernel it does not own open.
            if client.kc is not None:
                client.kc.stop_channels()
