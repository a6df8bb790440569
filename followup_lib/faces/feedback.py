"""How the working session's widgets speak: a message in a status line, a problem
in plain words, and running a button's work so that an error is shown, never
swallowed (ipywidgets drops exceptions raised in callbacks). Shared by the
session, the Mail tab and the spreadsheet tab."""

from __future__ import annotations

import html
from collections.abc import Callable

import ipywidgets as w

from ..errors import FollowupError, ValidationError
from ..schema import TABLES


def _message(kind: str, text: str) -> str:
    colour = {"error": "#b00020", "ok": "#1b5e20", "info": "#444"}[kind]
    icon = {"error": "⚠ ", "ok": "✓ ", "info": ""}[kind]
    body = html.escape(text).replace("\n", "<br>")
    return f'<div class="fw-msg fw-{kind}" style="color:{colour};margin:4px 0">{icon}{body}</div>'


def error_text(exc: BaseException) -> str:
    """Plain words for a problem, as shown next to a form or a button: a
    ``FollowupError`` says what to fix; anything else (a bug) shows its type too."""
    if isinstance(exc, ValidationError):
        return "Nothing was saved. " + " ".join(_in_words(p) for p in exc.problems)
    if isinstance(exc, FollowupError):
        return exc.user_message()
    return f"{type(exc).__name__}: {exc}"


def _in_words(problem) -> str:
    """A problem as a coach reads it: the field's label, not the column's name."""
    table = TABLES.get(problem.table)
    column = problem.column
    if table is not None and column in table.column_names:
        column = table.column(column).title
    message = str(problem.message).replace("is empty but required", "is required")
    return f"{column}: {message}".strip(": ") + "." if column else message + "."


def _run(
    status: w.HTML,
    func: Callable,
    *args,
    ok: str | Callable | None = None,
    then: Callable[[object], None] | None = None,
    cleared: tuple[w.HTML, ...] = (),
    failed: Callable[[], None] | None = None,
) -> object:
    """Calls ``func(*args)``, then ``then(result)`` (the view redrawing what changed);
    shows an error (or ``ok``) in ``status``. Never raises. After a good action an
    error left in ``status`` or in any of ``cleared`` is gone; after a failed one,
    ``failed()`` redraws what the failure changed (before the error is shown)."""
    try:
        result = func(*args)
        if then is not None:
            then(result)
    except Exception as exc:  # noqa: BLE001 — shown to the user, never swallowed silently
        if failed is not None:
            try:
                failed()
            except Exception:  # noqa: BLE001, S110 — the first error is the one to show
                pass
        status.value = _message("error", error_text(exc))
        return None
    for st in (status, *cleared):
        if "fw-error" in st.value:
            st.value = ""
    if ok:
        status.value = _message("ok", ok(result) if callable(ok) else ok)
    return result
