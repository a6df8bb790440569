"""Run inside a report kernel as it starts (ipykernel's ``exec_lines``): import the
modules the report notebook imports, so that the imports overlap the parent's own
work (reading and parameterising the notebook, importing nbconvert) instead of
following it. The notebook's namespace is untouched: only ``sys.modules`` is
filled, as the notebook's own first cell would fill it.

Deliberately tiny and free of this package's other modules: it must never fail,
and never print (a failed import is left for the notebook's own cell to report,
in its place, with its traceback).
"""

from __future__ import annotations


def warm(*modules: str) -> None:
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001, S112 — the notebook's own import says what went wrong
            continue
