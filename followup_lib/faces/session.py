"""The working session: one ipywidgets app for JupyterLab and the Voilà app.

Layout, top to bottom: the coachee and the day; today's actions (most urgent
first, each with its why); the draft being edited; forms to log what happened;
the chart of days since each interview.

ipywidgets swallows exceptions raised in callbacks, so every handler is one line
that goes through ``_run``: it calls a tested function of ``followup_lib`` and
shows any error next to the control that caused it.
"""

from __future__ import annotations

import datetime as dt
import html
import os
from collections.abc import Callable
from pathlib import Path

import ipywidgets as w
import pandas as pd
from IPython.display import display

from .. import paths
from ..data.logbook import mark_sent, new_id, save_record
from ..data.store import ConflictError, open_store
from ..data.validation import ValidationError
from ..kinds import ACTION_LABELS, MESSAGE_KINDS
from ..logic import analysis, charts
from ..logic.drafts import Draft, DraftError, facts_for, present, render_draft, template_environment, write_draft
from ..logic.rules import due_actions
from ..schema import BOOL, CHOICE, DATE, TABLES
from ..settings import load_settings

# The forms, in the order a session uses them: (table, tab title, what it is for).
FORMS = [
    (
        "interviews",
        "Interview",
        "An interview held: who, when, how they like to be contacted, "
        "the date they said you would hear by, what they cared about.",
    ),
    ("messages", "Message", "A word from the employer (direction: received), or anything you sent."),
    ("promises", "Promise", "Something you told an interviewer you would send or do, and by when."),
    (
        "reference_uses",
        "Reference given",
        "A reference given to an application; when you briefed them, "
        "checked in, and when they said the employer called.",
    ),
    ("offers", "Offer", "An offer: the verbal call, the written letter and its terms, accepted, approved."),
    ("applications", "Application", "A new job application, or a change of status."),
    ("references", "Reference", "Someone who will vouch for you."),
    ("coachees", "Coachee", "A person you coach."),
]
LONG_TEXT = {"notes", "topics", "summary", "what", "benefits", "conditions"}
STATUS_BADGE = {"overdue": "#b00020", "due": "#b26a00", "upcoming": "#2e7d32"}


def session_defaults() -> dict:
    """What the app was started with (``followup app`` passes it in the environment)."""
    as_of = os.environ.get("FOLLOWUP_AS_OF")
    return {
        "db_url": os.environ.get("FOLLOWUP_DB") or None,
        "coachee_id": os.environ.get("FOLLOWUP_COACHEE") or None,
        "as_of": dt.date.fromisoformat(as_of) if as_of else None,
    }


def _message(kind: str, text: str) -> str:
    colour = {"error": "#b00020", "ok": "#1b5e20", "info": "#444"}[kind]
    icon = {"error": "⚠ ", "ok": "✓ ", "info": ""}[kind]
    body = html.escape(text).replace("\n", "<br>")
    return f'<div class="fw-msg fw-{kind}" style="color:{colour};margin:4px 0">{icon}{body}</div>'


def error_text(exc: BaseException) -> str:
    """Plain words for a problem, as shown next to a form or a button."""
    if isinstance(exc, ValidationError):
        return "Nothing was saved. " + " ".join(
            f"{p.column or ''}: {p.message}".strip(": ") + "." for p in exc.problems
        )
    if isinstance(exc, ConflictError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if not isinstance(exc, (DraftError, ValueError)) else str(exc)


def _run(status: w.HTML, func: Callable, *args, ok: str | None = None) -> object:
    """Calls ``func``; shows an error (or ``ok``) in ``status``. Never raises."""
    try:
        result = func(*args)
    except Exception as exc:  # noqa: BLE001 — shown to the user, never swallowed silently
        status.value = _message("error", error_text(exc))
        return None
    if ok:
        status.value = _message("ok", ok(result) if callable(ok) else ok)
    return result


def _set_options(widget: w.Dropdown, options: list[tuple]) -> None:
    """New options for a dropdown, keeping its value if it is still one of them."""
    current = widget.value
    if list(widget.options) == options:
        return
    widget.options = options
    if current in [value for _, value in options]:
        widget.value = current


class RecordForm:
    """A form for one table, built from its schema (the same one import uses)."""

    def __init__(self, session: WorkingSession, table: str, title: str, purpose: str):
        self.session, self.table, self.t = session, table, TABLES[table]
        self.version: int | None = None
        self.fields: dict[str, w.Widget] = {}
        self.record = w.Dropdown(description="Record", layout=w.Layout(width="32em"))
        self._refreshing = False  # new options are being set: not the user picking a record
        self.record.observe(
            lambda ch: None if self._refreshing else _run(self.status, self.load_record, ch["new"]), names="value"
        )
        for c in self.t.columns:
            if c.name == "coachee_id" and table != "coachees":
                continue
            label = c.name.replace("_", " ") + (" *" if c.required else "")
            style = {"description_width": "11em"}
            layout = w.Layout(width="32em")
            if c.links_to:
                widget = w.Dropdown(description=label, options=[], style=style, layout=layout)
            elif c.kind == DATE:
                widget = w.DatePicker(description=label, style=style, layout=layout)
            elif c.kind == CHOICE:
                widget = w.Dropdown(
                    description=label,
                    options=[("", None)] + [(x, x) for x in c.choices],
                    value=c.default,
                    style=style,
                    layout=layout,
                )
            elif c.kind == BOOL:
                widget = w.Checkbox(description=label, indent=False, layout=w.Layout(width="32em"))
            elif c.name in LONG_TEXT:
                widget = w.Textarea(description=label, style=style, layout=w.Layout(width="32em", height="4.5em"))
            else:
                widget = w.Text(description=label, style=style, layout=layout)
            widget.tooltip = c.help or None
            self.fields[c.name] = widget
        if table == "messages":
            self.fields["direction"].value = "received"
        self.save = w.Button(description="Save", button_style="primary", icon="check")
        self.save.on_click(lambda _: _run(self.status, self.submit))
        self.clear = w.Button(description="New", icon="plus")
        self.clear.on_click(lambda _: _run(self.status, self.reset))
        self.status = w.HTML()
        need = ", ".join(c.replace("_", " ") for c in self.t.required if c != "coachee_id" or table == "coachees")
        intro = w.HTML(
            f"<p style='margin:2px 0 6px'>{html.escape(purpose)} <i>Needs: {html.escape(need)} (marked *).</i></p>"
        )
        self.widget = w.VBox([intro, self.record, *self.fields.values(), w.HBox([self.save, self.clear]), self.status])
        self.widget.add_class(f"fw-form-{table}")

    # -- options that depend on the coachee
    def refresh_options(self, app_opts: list, ref_opts: list, companies: dict) -> None:
        """New choices after a change: the coachee's applications and references
        (worked out once by the session for every form) and this table's records."""
        s = self.session
        rows = s.tables[self.table] if s.tables else pd.DataFrame()
        opts = [("(new record)", None)]
        for r in rows.to_dict(orient="records"):
            key = tuple(r[k] for k in self.t.key)
            opts.append((self._describe(r, companies), key))
        # Setting a dropdown's options resets its value (ipywidgets 8): what the
        # user had picked or typed in the form is kept. A record being edited is
        # not reloaded; if it changed meanwhile, saving it says so (ConflictError).
        self._refreshing = True
        try:
            for name, widget in self.fields.items():
                col = self.t.column(name)
                if col.links_to and col.links_to[0] in ("applications", "references"):
                    _set_options(widget, app_opts if col.links_to[0] == "applications" else ref_opts)
            _set_options(self.record, opts)
        finally:
            self._refreshing = False
        if self.record.value is None:
            self.version = None

    def _describe(self, r: dict, companies: dict) -> str:
        company = companies.get(r.get("application_id"), "") if "application_id" in r else ""
        key = " / ".join(str(r[k]) for k in self.t.key)
        extra = next(
            (str(r[c]) for c in ("name", "what", "interviewer_name", "summary", "company") if c in r and present(r[c])),
            "",
        )
        when = next(
            (r[c] for c in ("held_on", "on", "due_on", "verbal_on", "given_on") if c in r and present(r[c])), None
        )
        bits = [key, company, extra, f"{pd.Timestamp(when):%d %b}" if when is not None else ""]
        return " · ".join(b for b in bits if b)

    def reset(self) -> None:
        self.version = None
        self.record.value = None
        for name, widget in self.fields.items():
            col = self.t.column(name)
            if isinstance(widget, w.Checkbox):
                widget.value = False
            elif isinstance(widget, w.Dropdown):
                widget.value = col.default if col.kind == CHOICE else None
            elif isinstance(widget, w.DatePicker):
                widget.value = None
            else:
                widget.value = ""
        if self.table == "messages":
            self.fields["direction"].value = "received"
            self.fields["on"].value = self.session.as_of
        key = self.t.key[0]
        if len(self.t.key) == 1 and not self.t.column(key).links_to:
            self.fields[key].value = new_id(self.table, self.session.as_of)
        self.status.value = ""

    def load_record(self, key) -> None:
        if key is None:
            return
        rows = self.session.tables[self.table]
        mask = pd.Series(True, index=rows.index)
        for k, v in zip(self.t.key, key):
            mask &= rows[k].eq(v)
        row = rows[mask].iloc[0].to_dict()
        for name, widget in self.fields.items():
            v = row.get(name)
            if isinstance(widget, w.Checkbox):
                widget.value = bool(v) if present(v) else False
            elif isinstance(widget, w.DatePicker):
                widget.value = None if not present(v) else pd.Timestamp(v).date()
            elif isinstance(widget, w.Dropdown):
                widget.value = None if not present(v) else v
            else:
                widget.value = "" if not present(v) else str(v)
        self.version = int(row.get("row_version", 1))
        self.loaded_key = tuple(key)
        self.status.value = _message("info", "Editing this record: change what you need and press Save.")

    def values(self) -> dict:
        vals = {}
        for name, widget in self.fields.items():
            v = widget.value
            vals[name] = None if isinstance(v, str) and not v.strip() else v
        if "coachee_id" in self.t.column_names and self.table != "coachees":
            vals["coachee_id"] = self.session.coachee_id
        return vals

    def submit(self) -> None:
        values = self.values()
        version = self.version
        # An opened record whose id was changed is saved as a new record: the
        # version read belongs to the old id, never to whatever the new id names.
        if version is not None and tuple(values.get(k) for k in self.t.key) != getattr(self, "loaded_key", None):
            version = None
        saved = save_record(self.session.store, self.table, values, version)
        key = " / ".join(str(saved[k]) for k in self.t.key)
        self.session.after_change()
        if self.table == "coachees":
            self.session.refresh_coachees()
        self.reset()
        self.status.value = _message("ok", f"Saved {self.t.noun} {key}.")


class WorkingSession:
    """Everything a coach and a coachee need in one session. ``.widget`` shows it."""

    def __init__(
        self, db_url: str | None = None, coachee_id: str | None = None, as_of=None, drafts_dir: str | Path | None = None
    ):
        self.store = open_store(db_url)
        self.settings, self.coach_settings = load_settings()
        self.as_of = pd.Timestamp(as_of or dt.date.today()).date()
        self.drafts_dir = Path(drafts_dir) if drafts_dir else paths.reports_dir() / "drafts"
        self.env = template_environment()
        self.tables: dict | None = None
        self.actions = pd.DataFrame()
        self.draft: Draft | None = None
        self.draft_action: dict | None = None
        self.figure = None

        # -- who and when
        self.picker = w.Dropdown(description="Coachee", layout=w.Layout(width="28em"))
        self.day = w.DatePicker(description="Today is", value=self.as_of)
        self.top_status = w.HTML()
        # Someone else (the coach in JupyterLab, the client in the app) may have
        # changed the store: read it again.
        self.refresh_button = w.Button(
            description="Refresh", icon="refresh", tooltip="Read the store again, with everyone's latest changes"
        )
        self.refresh_button.on_click(lambda _: _run(self.top_status, self.refresh, ok="Up to date."))
        self.picker.observe(lambda ch: _run(self.top_status, self.select_coachee, ch["new"]), names="value")
        self.day.observe(lambda ch: _run(self.top_status, self.set_day, ch["new"]), names="value")

        # -- actions
        # Layout has no font: the labels line up in monospace through the CSS below.
        self.action_list = w.Select(options=[], rows=9, layout=w.Layout(width="100%"))
        self.action_list.add_class("fw-actions")
        self.action_list.observe(lambda ch: _run(self.action_status, self.show_why, ch["new"]), names="value")
        self.why = w.HTML()
        self.open_button = w.Button(description="Open draft", icon="envelope-open", button_style="info")
        self.open_button.on_click(lambda _: _run(self.action_status, self.open_draft))
        self.action_status = w.HTML()
        self.summary = w.HTML()

        # -- draft
        self.draft_to = w.Text(description="To", layout=w.Layout(width="100%"), disabled=True)
        self.draft_subject = w.Text(description="Subject", layout=w.Layout(width="100%"))
        self.draft_body = w.Textarea(layout=w.Layout(width="100%", height="16em"))
        self.save_button = w.Button(description="Save draft file", icon="save")
        self.save_button.on_click(lambda _: _run(self.draft_status, self.save_draft, ok=lambda p: f"Saved {p}"))
        self.sent_button = w.Button(description="Mark sent", icon="paper-plane", button_style="success")
        self.sent_button.on_click(lambda _: _run(self.draft_status, self.mark_draft_sent))
        self.draft_status = w.HTML()
        self.draft_box = w.VBox(
            [
                w.HTML("<h3>Draft</h3>"),
                self.draft_to,
                self.draft_subject,
                self.draft_body,
                w.HBox([self.save_button, self.sent_button]),
                self.draft_status,
            ]
        )
        self.draft_box.layout.display = "none"

        # -- forms and chart
        self.forms = {table: RecordForm(self, table, title, purpose) for table, title, purpose in FORMS}
        self.form_tabs = w.Tab(children=[f.widget for f in self.forms.values()])
        for i, (_, title, _) in enumerate(FORMS):
            self.form_tabs.set_title(i, title)
        self.chart = w.Output()
        self.chart_sentence = w.HTML()

        self.widget = w.VBox(
            [
                # The notebook's own heading names the page; no second title here.
                w.HTML("<style>.fw-actions select {font-family: monospace;}</style>"),
                w.HBox([self.picker, self.day, self.refresh_button]),
                self.top_status,
                w.HTML("<h3>Today's actions</h3>"),
                self.summary,
                self.action_list,
                self.why,
                w.HBox([self.open_button]),
                self.action_status,
                self.draft_box,
                w.HTML("<h3>Log what happened</h3>"),
                self.form_tabs,
                w.HTML("<h3>Days since each interview</h3>"),
                self.chart_sentence,
                self.chart,
            ],
            layout=w.Layout(max_width="1100px", width="100%"),
        )
        self.widget.add_class("fw-session")

        self.refresh_coachees(coachee_id)

    # ------------------------------------------------------------ state
    @property
    def coachee_id(self) -> str | None:
        return self.picker.value

    def refresh_coachees(self, select: str | None = None) -> None:
        coachees = self.store.coachees()
        self.picker.options = [(f"{r.name} ({r.coachee_id})", r.coachee_id) for r in coachees.itertuples()]
        ids = list(coachees["coachee_id"])
        wanted = select or self.picker.value or (ids[0] if ids else None)
        if wanted is not None and wanted not in ids:
            self.top_status.value = _message("error", f"No coachee {wanted!r} in the store; showing the first one.")
            wanted = ids[0] if ids else None
        if self.picker.value == wanted:
            self.after_change()
        else:
            self.picker.value = wanted  # fires select_coachee

    def refresh(self) -> None:
        """Re-read coachees and this coachee's rows (changes made elsewhere show up)."""
        self.refresh_coachees(self.coachee_id)
        self.after_change()

    def select_coachee(self, coachee_id) -> None:
        self.close_draft()
        self.action_status.value = ""  # "Logged as sent … to <someone>" belongs to the last coachee
        self.after_change()
        for form in self.forms.values():
            form.reset()

    def set_day(self, day) -> None:
        if day is None:
            return
        self.as_of = pd.Timestamp(day).date()
        self.after_change()

    def after_change(self) -> None:
        """Re-read this coachee's rows, recompute the actions and redraw the chart."""
        cid = self.coachee_id
        if cid is None:
            self.tables = None
            self.actions = pd.DataFrame()
            self.action_list.options = []
            self.summary.value = _message(
                "info", "No coachees yet: add one in the Coachee form, or run `followup demo`."
            )
            for form in self.forms.values():
                form.reset()  # a fresh id in each form, ready for the first coachee
            return
        self.tables = self.store.load(coachee_id=cid)
        self.actions = due_actions(self.tables, self.as_of, self.settings, self.coach_settings)
        self.action_list.options = [(self.action_label(a), a["action_id"]) for a in self.actions.to_dict("records")]
        counts = self.actions["status"].value_counts()
        self.summary.value = _message(
            "info",
            ", ".join(f"{counts.get(s, 0)} {s}" for s in ("overdue", "due", "upcoming"))
            if len(self.actions)
            else "Nothing due.",
        )
        if len(self.actions):
            self.action_list.value = self.actions["action_id"].iloc[0]
        else:
            self.why.value = ""
        apps, refs = self.tables["applications"], self.tables["references"]
        app_opts = [("", None)] + [(f"{r.company} — {r.role}", r.application_id) for r in apps.itertuples()]
        ref_opts = [("", None)] + [(f"{r.name}", r.reference_id) for r in refs.itertuples()]
        companies = dict(zip(apps["application_id"], apps["company"]))
        for form in self.forms.values():
            form.refresh_options(app_opts, ref_opts, companies)
        self.draw_chart()

    @staticmethod
    def action_label(a: dict) -> str:
        return (
            f"{a['status'].upper():<8} {pd.Timestamp(a['due_on']):%a %d %b}  "
            f"{ACTION_LABELS.get(a['kind'], a['kind'])} → {a['recipient']} ({a['company']}, {a['channel']})"
        )

    def action(self, action_id: str | None = None) -> dict | None:
        action_id = action_id or self.action_list.value
        rows = self.actions[self.actions["action_id"].eq(action_id)] if len(self.actions) else self.actions
        return rows.iloc[0].to_dict() if len(rows) else None

    def show_why(self, action_id) -> None:
        a = self.action(action_id)
        if a is None:
            self.why.value = ""
            return
        colour = STATUS_BADGE.get(a["status"], "#444")
        self.why.value = (
            f"<div class='fw-why' style='border-left:4px solid {colour};padding:4px 10px;margin:4px 0'>"
            f"<b style='color:{colour}'>{html.escape(a['status'])}</b> · due "
            f"{pd.Timestamp(a['due_on']):%A %d %B} · priority {int(a['priority'])}<br>"
            f"{html.escape(a['why'])}</div>"
        )
        self.open_button.disabled = a["kind"] not in MESSAGE_KINDS
        self.action_status.value = ""

    # ------------------------------------------------------------ drafts
    def open_draft(self) -> Draft:
        a = self.action()
        if a is None:
            raise ValueError("Pick an action first.")
        if a["kind"] not in MESSAGE_KINDS:
            raise ValueError("This action needs no message: " + a["why"])
        clean = {k: (None if not present(v) else v) for k, v in a.items()}
        draft = render_draft(clean, facts_for(clean, self.tables), self.env)
        draft.filename = f"{pd.Timestamp(a['due_on']):%Y-%m-%d}-{a['kind']}-{a['application_id']}{draft.suffix}"
        self.draft, self.draft_action = draft, a
        self.draft_to.value = (
            f"{draft.to_name} <{draft.to_address}>"
            if draft.channel == "email"
            else f"Call {draft.to_name} on {draft.to_address}"
        )
        self.draft_subject.value = draft.subject
        self.draft_subject.layout.display = None if draft.channel == "email" else "none"
        self.draft_body.value = draft.body
        self.draft_box.layout.display = None
        self.draft_status.value = _message(
            "info",
            f"Edit the {'email' if draft.channel == 'email' else 'phone script'}, "
            "then save it as a file or mark it sent.",
        )
        return draft

    def close_draft(self) -> None:
        self.draft = self.draft_action = None
        self.draft_box.layout.display = "none"
        self.draft_status.value = ""
        # Hidden is not gone: clear the text, so nothing of one coachee stays behind.
        self.draft_to.value = self.draft_subject.value = self.draft_body.value = ""

    def edited_draft(self) -> Draft:
        if self.draft is None:
            raise ValueError("Open a draft first.")
        d = self.draft
        return Draft(**{**d.__dict__, "subject": self.draft_subject.value, "body": self.draft_body.value})

    def save_draft(self) -> Path:
        return write_draft(self.edited_draft(), self.drafts_dir / str(self.coachee_id))

    def mark_draft_sent(self) -> str:
        d = self.edited_draft()
        msg_id = mark_sent(
            self.store, self.draft_action, self.as_of, summary=d.subject or d.first_lines(1), channel=d.channel
        )
        done = f"Logged as sent ({msg_id}): {ACTION_LABELS.get(d.kind, d.kind)} to {d.to_name}."
        self.close_draft()
        self.after_change()
        self.action_status.value = _message("ok", done)
        return msg_id

    # ------------------------------------------------------------ chart
    def draw_chart(self) -> None:
        waiting = analysis.waiting_on(self.tables, self.as_of)
        self.figure = charts.days_since_interview_figure(waiting)
        self.chart_sentence.value = f"<p>{html.escape(charts.days_since_sentence(waiting))}</p>"
        with self.chart:
            self.chart.clear_output(wait=True)
            display(self.figure)


def start(db_url: str | None = None, coachee_id: str | None = None, as_of=None) -> WorkingSession:
    """The session for a notebook cell: arguments win over what ``followup app`` set."""
    defaults = session_defaults()
    return WorkingSession(
        db_url or defaults["db_url"], coachee_id or defaults["coachee_id"], as_of or defaults["as_of"]
    )
