"""The "Bring a spreadsheet" tab of the working session (coach mode only): pick the
client's tracker, see how each column is read (a dropdown per column), the rows as
they will be stored and the problems, then Import.

Widgets only: what the tab holds and does is ``data.sheet.SheetSession``; every
handler goes through the session's ``_run``, which shows an error next to the
button that caused it.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import ipywidgets as w

from ..data.sheet import FIELDS, SheetPlan, SheetSession
from .feedback import _message, _run
from .session_state import SessionState

NOT_USED = "(not used)"


class SheetTab:
    """``.widget`` is the tab; ``.sheet`` (a SheetSession) holds its state."""

    def __init__(self, state: SessionState, on_imported: Callable[[object], None] | None = None):
        self._message, self._run = _message, _run
        self.state = state
        self.sheet = SheetSession(state.store, coach=state.coach)
        self.on_imported = on_imported
        self._showing = False
        self.upload = w.FileUpload(accept=".csv,.xlsx,.ods", multiple=False, description="Pick the sheet")
        self.upload.observe(self._picked, names="value")
        self.columns = w.VBox()
        self.preview = w.HTML()
        self.update = w.Checkbox(
            value=False, description="Replace rows that differ from the store", indent=False, layout={"width": "30em"}
        )
        self.import_button = w.Button(description="Import", icon="upload", button_style="primary", disabled=True)
        self.import_button.on_click(lambda _: self._run(self.status, self._import, ok=lambda text: text))
        self.status = w.HTML()
        self.widget = w.VBox(
            [
                w.HTML(
                    "<p style='margin:2px 0 6px'>A new client's own job tracker (.csv, .xlsx or .ods, one row per "
                    "application), read into this coachee's applications. Nothing is written until you press "
                    "Import; importing the same sheet again adds only new rows.</p>"
                ),
                self.upload,
                self.columns,
                self.preview,
                w.HBox([self.import_button, self.update]),
                self.status,
            ]
        )
        self.widget.add_class("fw-sheet")

    # ------------------------------------------------------------ handlers
    def _picked(self, change) -> None:
        files = change["new"]
        if not files:
            return
        f = files[0]
        self.status.value = ""
        self._run(self.status, self.sheet.read, self.state.coachee_id, f["name"], bytes(f["content"]), then=self.show)

    def _chosen(self, header: str, change) -> None:
        if self._showing:
            return
        value = None if change["new"] == NOT_USED else change["new"]
        self._run(self.status, self.sheet.choose, header, value, then=self.show)

    def _import(self) -> str:
        text = self.sheet.import_sheet(self.state.coachee_id, update=self.update.value)
        self.show(self.sheet.plan)
        self.state.reload()
        if self.on_imported is not None:
            self.on_imported(None)
        return text

    # ------------------------------------------------------------ the view
    def show(self, plan: SheetPlan | None) -> None:
        """A dropdown per column (its field), the dry run, and Import when it can be done."""
        self._showing = True
        try:
            if plan is None:
                self.columns.children, self.preview.value = (), ""
                self.import_button.disabled = True
                return
            options = [(NOT_USED, NOT_USED)] + [(f"{name}: {f.what}", name) for name, f in FIELDS.items()]
            rows = []
            for c in plan.columns:
                pick = w.Dropdown(options=options, value=c.field or NOT_USED, layout=w.Layout(width="34em"))
                pick.observe(lambda ch, h=c.header: self._chosen(h, ch), names="value")
                rows.append(w.HBox([w.HTML(f"<b>{html.escape(c.header)}</b>", layout=w.Layout(width="16em")), pick]))
            self.columns.children = tuple(rows)
            self.preview.value = (
                "<pre class='fw-sheet-preview' style='white-space:pre-wrap;font-size:12px'>"
                + html.escape(plan.describe(update=self.update.value))
                + "</pre>"
            )
            self.import_button.disabled = bool(plan.problems)
            if plan.problems:
                self.status.value = self._message("error", f"{len(plan.problems)} problem(s) to fix before importing.")
        finally:
            self._showing = False
