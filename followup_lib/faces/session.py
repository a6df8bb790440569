"""The working session's widgets: one ipywidgets app for JupyterLab and the Voilà app.

Layout, top to bottom: the coachee and the day; today's actions (most urgent
first, each with its why); the draft being edited; forms to log what happened;
the chart of days since each interview.

What the session holds and does lives in ``SessionState`` (session_state.py, no
widgets); this module only shows it. ipywidgets swallows exceptions raised in
callbacks, so every handler is one line that goes through ``_run``: it calls a
method of the state and shows any error next to the control that caused it, then
redraws what changed (``WorkingSession.show``).
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import os
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path

import ipywidgets as w
import pandas as pd
from IPython.display import display

from ..kinds import MESSAGE_KINDS
from ..logic.drafts import review_note
from ..schema import BOOL, CHOICE, DATE, TABLES, present
from ..settings import record_session_day
from .feedback import _in_words, _message, _run, error_text  # noqa: F401 (error_text re-exported)
from .mail import MailTab
from .session_state import MESSAGE_KIND_CHOICES, SessionState

# The forms, in the order a session uses them: (table, tab title, what it is for).
FORMS = [
    (
        "interviews",
        "Interview",
        "An interview held: who, when, how they like to be contacted, "
        "the date they said you would hear by, what they cared about.",
    ),
    (
        "interview_contacts",
        "Person met",
        "Each further person met at an interview (a panel): add them as a contact first. "
        "Their own thank-you date goes here.",
    ),
    (
        "contacts",
        "Contact",
        "A person at the employer: the recruiter or HR person you agreed to follow up with "
        "(tick point of contact), or someone met at an interview.",
    ),
    (
        "messages",
        "Message",
        "A word from the employer (direction: received; a new date they gave goes in next step by), "
        "or anything you sent.",
    ),
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
# What the client's own app (`followup app --client`) leaves out: the client adds
# no one to the coach's caseload, and reads no mailbox on the coach's machine.
NOT_FOR_CLIENTS = {"coachees"}
LONG_TEXT = {"notes", "topics", "summary", "what", "benefits", "conditions", "requirements", "how_it_went", "body"}
# Columns the program fills in, never typed in a form.
HIDDEN = {("messages", "action_id")}
# Free text with suggestions: contract v3's message kinds, any other text kept.
SUGGESTED = {("messages", "kind"): MESSAGE_KIND_CHOICES}
# The page's own CSS: the actions line up in monospace; tab titles are never cut
# (the tab bar wraps instead); a dropdown's label has the room of the form.
STYLE = (
    "<style>.fw-actions select {font-family: monospace;}"
    ".fw-session .lm-TabBar-tab, .fw-session .p-TabBar-tab {flex: 0 0 auto !important; min-width: fit-content;"
    " max-width: none !important;}"
    ".fw-session .lm-TabBar-content, .fw-session .p-TabBar-content {flex-wrap: wrap;}"
    "</style>"
)
STATUS_BADGE = {"overdue": "#b00020", "due": "#b26a00", "upcoming": "#2e7d32"}


def session_defaults() -> dict:
    """What the app was started with (``followup app`` passes it in the environment)."""
    as_of = os.environ.get("FOLLOWUP_AS_OF")
    return {
        "db_url": os.environ.get("FOLLOWUP_DB") or None,
        "coachee_id": os.environ.get("FOLLOWUP_COACHEE") or None,
        "as_of": dt.date.fromisoformat(as_of) if as_of else None,
        "client": os.environ.get("FOLLOWUP_CLIENT") == "1",
        "coach": os.environ.get("FOLLOWUP_COACH") or None,
    }


def _set_options(widget: w.Dropdown | w.Select, options: list[tuple]) -> None:
    """New options for a dropdown, keeping its value if it is still one of them."""
    current = widget.value
    if list(widget.options) == options:
        return
    widget.options = options
    if current in [value for _, value in options]:
        widget.value = current


class RecordForm:
    """A form for one table, built from its schema (the same one import uses).

    It knows nothing of the session: ``blank()`` gives a new record's values,
    ``find(key)`` a stored record's, ``on_save(values, opened_key, version)``
    saves (raising what stops it) and ``on_saved(row)`` is told once it has.
    """

    def __init__(
        self,
        table: str,
        purpose: str,
        *,
        blank: Callable[[], dict],
        find: Callable[[tuple], dict],
        on_save: Callable[[dict, tuple | None, int | None], dict],
        on_saved: Callable[[dict], None],
    ):
        self.table, self.t = table, TABLES[table]
        self.blank, self.find, self.on_save, self.on_saved = blank, find, on_save, on_saved
        self.version: int | None = None  # the row_version of the record opened (None: a new one)
        self.loaded_key: tuple | None = None
        self.fields: dict[str, w.Widget] = {}
        self.record = w.Dropdown(description="Record", layout=w.Layout(width="40em"))
        self._blank_values: dict = {}  # what reset() left: a form still holding it is untouched
        self._refreshing = False  # new options are being set: not the user picking a record
        self.record.observe(
            lambda ch: None if self._refreshing else _run(self.status, self.load_record, ch["new"]),
            names="value",
        )
        for c in self.t.columns:
            if (c.name == "coachee_id" and table != "coachees") or (table, c.name) in HIDDEN:
                continue  # the session's coachee; what Mark sent fills in
            label = c.title.lower() + (" *" if c.required else "")
            style = {"description_width": "11em"}
            layout = w.Layout(width="40em")
            if (table, c.name) in SUGGESTED:
                widget = w.Combobox(
                    description=label,
                    options=list(SUGGESTED[table, c.name]),
                    ensure_option=False,
                    placeholder="pick one, or type your own",
                    style=style,
                    layout=layout,
                )
            elif c.links_to:
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
                widget = w.Checkbox(description=label, indent=False, layout=w.Layout(width="40em"))
            elif c.name in LONG_TEXT:
                widget = w.Textarea(description=label, style=style, layout=w.Layout(width="40em", height="4.5em"))
            else:
                widget = w.Text(description=label, style=style, layout=layout)
            widget.tooltip = c.help or None
            self.fields[c.name] = widget
        self.save = w.Button(description="Save", button_style="primary", icon="check")
        self.save.on_click(
            lambda _: _run(self.status, self.on_save, self.values(), self.loaded_key, self.version, then=self.saved)
        )
        self.clear = w.Button(description="New", icon="plus")
        self.clear.on_click(lambda _: _run(self.status, self.reset))
        self.status = w.HTML()
        need = ", ".join(c.replace("_", " ") for c in self.t.required if c != "coachee_id" or table == "coachees")
        intro = w.HTML(
            f"<p style='margin:2px 0 6px'>{html.escape(purpose)} <i>Needs: {html.escape(need)} (marked *).</i></p>"
        )
        self.widget = w.VBox([intro, self.record, *self.fields.values(), w.HBox([self.save, self.clear]), self.status])
        self.widget.add_class(f"fw-form-{table}")

    def refresh_options(self, records: list[tuple], links: dict[str, list[tuple]]) -> None:
        """New choices after a change: this table's records, and what its links can
        point to (``links``, by the table linked to)."""
        # Setting a dropdown's options resets its value (ipywidgets 8): what the
        # user had picked or typed in the form is kept. A record being edited is
        # not reloaded; if it changed meanwhile, saving it says so (ConflictError).
        self._refreshing = True
        try:
            for name, widget in self.fields.items():
                target = self.t.column(name).links_to
                if target and target[0] in links:
                    _set_options(widget, links[target[0]])
            _set_options(self.record, records)
        finally:
            self._refreshing = False
        if self.record.value is None:
            self.version = self.loaded_key = None

    def reset(self) -> None:
        """A blank form, ready for a new record."""
        self.version = self.loaded_key = None
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
        for name, value in self.blank().items():
            self.fields[name].value = value
        self._blank_values = self.values()
        self.status.value = ""

    def touched(self) -> bool:
        """Whether something was typed or picked since the form was made blank."""
        return self.loaded_key is None and self.values() != self._blank_values

    def load_record(self, key: tuple | None) -> None:
        """Fill the form with a stored record, to edit it (None: nothing picked)."""
        if key is None:
            return
        row = self.find(key)
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
        """What the form holds; blank text is missing."""
        values = {name: widget.value for name, widget in self.fields.items()}
        return {name: None if isinstance(v, str) and not v.strip() else v for name, v in values.items()}

    def saved(self, row: dict) -> None:
        """After a save: the session shows it, the form is blank again and says what it saved."""
        self.on_saved(row)
        self.reset()
        key = " / ".join(str(row[k]) for k in self.t.key)
        self.status.value = _message("ok", f"Saved {self.t.noun} {key}.")


class LazyForms(Mapping):
    """The session's forms by table, each built the first time it is asked for."""

    def __init__(self, make: Callable[[str], RecordForm], tables: list[str]):
        self._make, self._tables, self._built = make, tables, {}

    def __getitem__(self, table: str) -> RecordForm:
        if table not in self._tables:
            raise KeyError(table)
        if table not in self._built:
            self._built[table] = self._make(table)
        return self._built[table]

    def __iter__(self):
        return iter(self._tables)

    def __len__(self) -> int:
        return len(self._tables)

    def built(self) -> dict[str, RecordForm]:
        """The forms built so far (the others are made fresh when opened)."""
        return dict(self._built)


class WorkingSession:
    """Everything a coach and a coachee need in one session: ``.widget`` shows it,
    ``.state`` (a SessionState) holds it."""

    def __init__(
        self,
        db_url: str | None = None,
        coachee_id: str | None = None,
        as_of=None,
        drafts_dir: str | Path | None = None,
        client: bool = False,
        coach: str | None = None,
    ):
        self.state = s = SessionState(db_url, coachee_id, as_of, drafts_dir, client=client, coach=coach)
        self.top_status, self.action_status, self.draft_status, self.mail_status = (w.HTML() for _ in range(4))
        # Every handler of the session goes through here: a good action clears an
        # error left anywhere on the page (a typed date's, an earlier refusal's).
        statuses = (self.top_status, self.action_status, self.draft_status, self.mail_status)
        _do = partial(_run, cleared=statuses)
        # What the widgets show now; show() redraws only what changed since.
        self._showing = False  # show() is setting widgets: not the user
        self._shown_coachee: object = object()
        self._shown_action: object = object()
        self._shown_draft: object = object()
        self._shown_figure: object = object()

        # -- who and when
        self.picker = w.Dropdown(description="Coachee", layout=w.Layout(width="28em"))
        if client:  # the client's own app: no picker, only their work
            self.picker.layout.display = "none"
        self.day = w.DatePicker(description="Today is", value=s.as_of)
        # Someone else (the coach in JupyterLab, the client in the app) may have
        # changed the store: read it again.
        self.refresh_button = w.Button(
            description="Refresh", icon="refresh", tooltip="Read the store again, with everyone's latest changes"
        )
        self.refresh_button.on_click(lambda _: _do(self.top_status, s.refresh, then=self.show, ok="Up to date."))
        self.picker.observe(
            lambda ch: None if self._showing else _do(self.top_status, s.select_coachee, ch["new"], then=self.show),
            names="value",
        )
        self.day.observe(
            lambda ch: None if self._showing else _do(self.top_status, s.set_day, ch["new"], then=self.day_changed),
            names="value",
        )

        # -- actions
        # Layout has no font: the labels line up in monospace through the CSS below.
        self.action_list = w.Select(options=[], rows=9, layout=w.Layout(width="100%"))
        self.action_list.add_class("fw-actions")
        self.action_list.observe(
            lambda ch: None if self._showing else _do(self.action_status, s.pick_action, ch["new"], then=self.show),
            names="value",
        )
        self.why = w.HTML()
        self.open_button = w.Button(description="Open draft", icon="envelope-open", button_style="info")
        self.open_button.on_click(lambda _: _do(self.action_status, s.open_draft, then=self.show))
        self.summary = w.HTML()

        # -- draft
        self.draft_to = w.Text(description="To", layout=w.Layout(width="100%"), disabled=True)
        self.draft_subject = w.Text(description="Subject", layout=w.Layout(width="100%"))
        self.draft_body = w.Textarea(layout=w.Layout(width="100%", height="16em"))
        self.save_button = w.Button(description="Save draft file", icon="save")
        self.save_button.on_click(
            lambda _: _do(
                self.draft_status,
                s.save_draft,
                self.draft_subject.value,
                self.draft_body.value,
                ok=lambda p: f"Saved {p}",
            )
        )
        # The button names what it will log ("Mark sent: thank-you note to Elena Voss").
        self.sent_button = w.Button(
            description="Mark sent", icon="paper-plane", button_style="success", layout=w.Layout(width="auto")
        )
        # A refusal (sent already, in another window) closes the draft: the list is
        # redrawn as it now stands, and the refusal is said under it.
        self.sent_button.on_click(
            lambda _: _do(
                self.action_status,
                s.mark_sent,
                self.draft_subject.value,
                self.draft_body.value,
                then=self.show_sent,
                failed=self.show,
            )
        )
        # What the coach should add or check before it goes (the draft's X-Followup-Review).
        self.draft_review = w.HTML()
        self.draft_box = w.VBox(
            [
                w.HTML("<h3>Draft</h3>"),
                self.draft_review,
                self.draft_to,
                self.draft_subject,
                self.draft_body,
                w.HBox([self.save_button, self.sent_button]),
                self.draft_status,
            ]
        )
        self.draft_box.layout.display = "none"

        # -- forms and chart: each form is built when its tab is first opened (the
        # first page renders one form, not ten); ``self.forms[table]`` builds it.
        self._purposes = {table: purpose for table, _, purpose in FORMS if not (client and table in NOT_FOR_CLIENTS)}
        self._form_boxes = {table: w.VBox() for table in self._purposes}
        self.forms = LazyForms(self._make_form, list(self._purposes))
        # -- the mailbox: proposals from the client's exported mail, a checkbox each
        self.mail = MailTab(s, _run, on_logged=self.show)
        self.mail_path, self.mail_read, self.mail_list = self.mail.path, self.mail.read, self.mail.list
        self.mail_log, self.mail_status, self.mail_box = self.mail.log, self.mail.status, self.mail.box
        tabs = [(title, self._form_boxes[table], table) for table, title, _ in FORMS if table in self._purposes]
        if not client:
            tabs.append(("Mail", self.mail_box, None))
            # Coach mode only: a new client's own tracker, read in one step.
            from .sheet_tab import SheetTab

            self.sheet_tab = SheetTab(s, on_imported=self.show)
            tabs.append(("Bring a spreadsheet", self.sheet_tab.widget, None))
        self.form_tabs = w.Tab(children=[box for _, box, _ in tabs], titles=[title for title, _, _ in tabs])
        tab_tables = [table for _, _, table in tabs]
        self.form_tabs.observe(
            lambda ch: (
                tab_tables[ch["new"]] and self.forms[tab_tables[ch["new"]]]
                if isinstance(ch["new"], int) and 0 <= ch["new"] < len(tab_tables)
                else None
            ),
            names="selected_index",
        )
        # After a received rejection is logged: offer to record the status too.
        self.status_offer_text = w.HTML()
        self.status_offer_button = w.Button(description="Record it", icon="check")
        self.status_offer_button.on_click(
            lambda _: _run(self.action_status, s.record_status_offer, then=self.show, ok=lambda text: text)
        )
        self.status_offer = w.HBox([self.status_offer_text, self.status_offer_button])
        self.status_offer.layout.display = "none"
        self.chart = w.Output()
        self.chart_sentence = w.HTML()
        self.offers = w.HTML()
        self.offers.add_class("fw-offers")

        self.widget = w.VBox(
            [
                # The notebook's own heading names the page; no second title here.
                w.HTML(STYLE),
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
                self.status_offer,
                self.form_tabs,
                w.HTML("<h3>Days since each interview</h3>"),
                self.chart_sentence,
                self.chart,
                w.HTML("<h3>Offers side by side</h3>"),
                self.offers,
            ],
            layout=w.Layout(max_width="1100px", width="100%"),
        )
        self.widget.add_class("fw-session")
        self.show()
        self._record_day()
        if tab_tables and tab_tables[0]:
            self.forms[tab_tables[0]]  # noqa: B018 — the tab open at first is built
        if s.notice:
            self.top_status.value = _message("error", s.notice)

    # ------------------------------------------------------------ for notebooks (and tests)
    @property
    def store(self):
        return self.state.store

    @property
    def actions(self) -> pd.DataFrame:
        return self.state.actions

    @property
    def draft(self):
        return self.state.draft

    def action(self, action_id: str | None = None) -> dict | None:
        return self.state.action(action_id)

    def after_change(self) -> None:
        """Read this coachee's rows again (a change made elsewhere) and show them."""
        self.state.reload()
        self.show()

    def _record_day(self) -> None:
        """The response-times notebook judges from this session's day
        (``settings.session_day``); the client's own app records nothing."""
        if not self.state.client:
            record_session_day(self.state.store.url, self.state.as_of)

    # ------------------------------------------------------------ the view
    def day_changed(self, _result: object = None) -> None:
        """ "Today is" moved: a blank form starts again from the new day (its default
        date and its fresh id); a form with something typed in it, or editing a
        stored record, keeps what it holds, and says so."""
        self.show()
        self._record_day()
        for form in self.forms.built().values():
            if form.touched():
                form.status.value = _message(
                    "info", "The day changed; what you typed here is kept. Check its dates, then Save."
                )
            elif form.loaded_key is None:
                form.reset()

    def show(self, _result: object = None) -> None:
        """Make the widgets show the state (what changed since they last did)."""
        s = self.state
        self._showing = True
        try:
            _set_options(self.picker, s.coachee_options())
            self.picker.value = s.coachee_id
            if self.day.value is not None and self.day.value != s.as_of:
                self.day.value = s.as_of  # a cleared date (being typed) is left alone
            self.summary.value = _message("info", s.summary())
            _set_options(self.action_list, s.action_options())
            self.action_list.value = s.action_id
            self._show_action(s.action())
            new_coachee = s.coachee_id != self._shown_coachee
            self._shown_coachee = s.coachee_id
            if new_coachee:
                # "Logged as sent … to <someone>" belongs to the last coachee.
                self.action_status.value = ""
            built = self.forms.built()
            links = s.link_options() if built else {}
            for table, form in built.items():
                form.refresh_options(s.record_options(table), links)
                if new_coachee:
                    form.reset()  # a fresh id in each form, for this coachee
            self._show_draft(s.draft)
            offer = s.status_offer
            self.status_offer_text.value = _message("info", offer[3]) if offer else ""
            self.status_offer.layout.display = "flex" if offer else "none"
            self._show_chart(s.figure, s.chart_sentence)
            self.offers.value = s.offers_html()
        finally:
            self._showing = False

    def _make_form(self, table: str) -> RecordForm:
        """Build the form of ``table`` (its tab opened, or a caller asked for it),
        filled for this coachee, and put it in its tab."""
        s = self.state
        form = RecordForm(
            table,
            self._purposes[table],
            blank=partial(s.new_record, table),
            find=partial(s.record, table),
            on_save=partial(s.save_form, table),
            on_saved=self.form_saved,
        )
        form.refresh_options(s.record_options(table), s.link_options())
        form.reset()
        self._form_boxes[table].children = [form.widget]
        return form

    def form_saved(self, _row: dict) -> None:
        """A form saved: the page shows it, and an error left elsewhere is gone."""
        self.show()
        for status in (self.top_status, self.action_status, self.draft_status, self.mail_status):
            if "fw-error" in status.value:
                status.value = ""

    def show_sent(self, logged) -> None:
        self.show()
        self.action_status.value = _message("ok", str(logged))

    def _show_action(self, a: dict | None) -> None:
        action_id = None if a is None else a["action_id"]
        if action_id != self._shown_action:
            self._shown_action = action_id
            self.action_status.value = ""  # what was said there belongs to the action picked before
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

    def _show_draft(self, draft) -> None:
        if draft is self._shown_draft:
            return  # the text being edited stays as typed
        self._shown_draft = draft
        if draft is None:
            self.draft_box.layout.display = "none"
            self.draft_status.value = ""
            # Hidden is not gone: clear the text, so nothing of one coachee stays behind.
            self.draft_to.value = self.draft_subject.value = self.draft_body.value = ""
            self.draft_review.value = ""
            self.sent_button.description = self.sent_button.tooltip = "Mark sent"
            return
        note = review_note(draft)
        self.draft_review.value = (
            _message("info", f"Before it goes (for you, not the recipient): {note}") if note else ""
        )
        self.draft_to.value = (
            f"{draft.to_name} <{draft.to_address}>"
            if draft.channel == "email"
            else f"Call {draft.to_name} on {draft.to_address}"
        )
        self.sent_button.description = self.state.sent_label()
        self.sent_button.tooltip = self.state.sent_label()
        self.draft_subject.value = draft.subject
        self.draft_subject.layout.display = None if draft.channel == "email" else "none"
        self.draft_body.value = draft.body
        self.draft_box.layout.display = None
        self.draft_status.value = _message(
            "info",
            f"Edit the {'email' if draft.channel == 'email' else 'phone script'}, "
            "then save it as a file or mark it sent.",
        )

    def _show_chart(self, figure, sentence: str) -> None:
        if figure is self._shown_figure:
            return
        self._shown_figure = figure
        self.chart_sentence.value = f"<p>{html.escape(sentence)}</p>" if sentence else ""
        with self.chart:
            self.chart.clear_output(wait=True)
            if figure is not None:
                display(figure)


def _arguments(db_url: str | None, coachee_id: str | None, as_of, coach: str | None) -> dict:
    """A session's arguments: the caller's win over what ``followup app`` set,
    except the coach (a session started for one coach, FOLLOWUP_COACH, stays
    theirs) and the client's app (what `followup app --client` set cannot be
    overridden)."""
    defaults = session_defaults()
    if defaults["client"]:
        return dict(
            db_url=defaults["db_url"],
            coachee_id=defaults["coachee_id"],
            as_of=as_of or defaults["as_of"],
            client=True,
            coach=defaults["coach"],
        )
    return dict(
        db_url=db_url or defaults["db_url"],
        coachee_id=coachee_id or defaults["coachee_id"],
        as_of=as_of or defaults["as_of"],
        coach=defaults["coach"] or coach,
    )


def start(
    db_url: str | None = None, coachee_id: str | None = None, as_of=None, coach: str | None = None
) -> WorkingSession:
    """The session for a notebook cell (see ``_arguments`` for who wins)."""
    return WorkingSession(**_arguments(db_url, coachee_id, as_of, coach))


def wait_for_page(
    db_url: str | None = None, coachee_id: str | None = None, as_of=None, coach: str | None = None
) -> None:
    """In the app's preheated kernel (Voilà's ``VOILA_PREHEAT``): open the session
    once, without widgets, and throw it away, so that what is slow only the first
    time in a process (plotly's figures, the holiday calendars, the SQL and the
    templates compiled) is done while nobody waits; then wait until a page asks
    for this kernel (``wait_for_request``). The page's own session reads the
    store afresh, so nothing it shows is stale. Anywhere else: nothing.
    """
    from voila.utils import ENV_VARIABLE

    if os.environ.get(ENV_VARIABLE.VOILA_PREHEAT, "False") == "False":  # as wait_for_request reads it
        return
    _quiet_when_shut_down()
    try:
        # create=False: a store that does not exist yet is the page's to make, if at all.
        state = SessionState(**_arguments(db_url, coachee_id, as_of, coach), create=False)
        try:
            state.summary(), state.action_options(), state.offers_html(), state.link_options()
        finally:
            state.close()
    except Exception:  # noqa: BLE001, S110 — the page's own session says what is wrong, in its place
        pass
    wait_for_request()


class _ClosedSocketAtShutdown(logging.Filter):
    """Drops ipykernel's "Exception in message handler" for a reply that could not
    be sent because the app is stopping and Voilà closed the kernel's sockets
    first (zmq's ENOTSOCK): a stop, not an error, and no traceback for the coach."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (exc is not None and type(exc).__name__ == "ZMQError" and "non-socket" in str(exc))


def _quiet_when_shut_down() -> None:
    # traitlets names an application's logger after its class.
    logging.getLogger("IPKernelApp").addFilter(_ClosedSocketAtShutdown())


def wait_for_request() -> None:
    """Voilà's ``wait_for_request``, showing the app's token: the kernel-query
    channel answers no one else (``voila_guard``). The request it hands over (the
    page's query string, the token in it) is not kept: the session reads what it
    needs from the environment ``followup app`` set."""
    import asyncio
    import threading

    import websockets
    from voila.utils import ENV_VARIABLE

    env = os.environ.get
    base = env(ENV_VARIABLE.VOILA_WS_BASE_URL) or env(ENV_VARIABLE.VOILA_SERVER_URL, "/")
    url = (
        f"{env(ENV_VARIABLE.VOILA_WS_PROTOCOL, 'ws')}://{env(ENV_VARIABLE.VOILA_APP_IP, '127.0.0.1')}:"
        f"{env(ENV_VARIABLE.VOILA_APP_PORT, '8866')}{base}voila/query/{env(ENV_VARIABLE.VOILA_KERNEL_ID)}"
    )
    token = env("FOLLOWUP_APP_TOKEN", "")
    headers = {"Authorization": f"token {token}"} if token else {}

    async def receive() -> None:
        try:
            async with websockets.connect(url, open_timeout=5, additional_headers=headers) as ws:
                try:
                    await ws.recv()
                except websockets.exceptions.ConnectionClosed:
                    # Closed with no page sent: the app is stopping (or this kernel is
                    # being shut down). Leave quietly, before the cell's reply meets
                    # closed sockets (a ZMQError traceback in the app's log).
                    os._exit(0)
        except (OSError, TimeoutError, websockets.exceptions.WebSocketException):
            pass  # no page will come through here: the notebook goes on, as Voilà's does

    # The kernel's own event loop is running: wait on a loop of this thread's own.
    thread = threading.Thread(target=lambda: asyncio.run(receive()), daemon=True)
    thread.start()
    try:
        thread.join()
    except KeyboardInterrupt:
        # Interrupted while waiting for a page: jupyter_client interrupts a busy
        # kernel before shutting it down (the app stopping, or the pool let go).
        # Leave quietly rather than answer on sockets being closed.
        os._exit(0)
