"""A report kernel's start.

Run as a module, it is the kernel's launcher: ipykernel's own, except that the
debugger's library (debugpy, a tenth of a second of imports) is never loaded —
nobody steps through a report's cells, and ipykernel runs without its debugger
when debugpy cannot be imported.

``warm`` runs inside the kernel as it starts (ipykernel's ``exec_lines``): it
imports the modules the report notebook imports, so that the imports overlap the
parent's own work (reading and parameterising the notebook, importing nbconvert)
instead of following it. The notebook's namespace is untouched: only
``sys.modules`` is filled, as the notebook's own first cell would fill it.

Deliberately tiny and free of this package's other modules: it must never fail,
and never print (a failed import is left for the notebook's own cell to report,
in its place, with its traceback).
"""

from __future__ import annotations

import sys


def warm(*modules: str) -> None:
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001, S112 — the notebook's own import says what went wrong
            continue


def launch(argv: list[str] | None = None) -> None:
    """Start an IPython kernel without its debugger, with ``argv`` as its command line."""
    sys.modules.setdefault("debugpy", None)  # type: ignore[arg-type]  # "import debugpy" raises ImportError
    from ipykernel import kernelapp

    kernelapp.launch_new_instance(argv=argv)


if __name__ == "__main__":
    launch()
