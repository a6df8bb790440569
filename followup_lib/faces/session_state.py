"""The working session without its widgets: what a coach and a coachee are looking
at, and what the session's buttons and forms do.

A ``SessionState`` holds the coachee, the day ("Today is"), today's actions, the
action picked and the draft open, and does each thing the session offers: pick a
coachee or a day, pick an action, open its draft, save it or mark it sent, save a
form, read the store again. Each method returns its result or raises a
``FollowupError`` (``UserError``, ``ValidationError``, ``ConflictError``,
``DraftError``…) with nothing half done; it never imports ipywidgets, so a
notebook, a script or a test drives it directly. ``session.py`` is the widget
view over it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
from pathlib import Path

import pandas as pd

from .. import paths
from ..data import logbook
from ..data.store import open_store
from ..errors import ConflictError, UserError
from ..kinds import ACTION_LABELS, MESSAGE_KINDS, status_to_record
from ..logic import analysis, charts
from ..logic.drafts import Draft, facts_for, render_draft, render_drafts, template_environment, write_draft
from ..logic.rules import due_actions
from ..schema import TABLES, present
from ..settings import coach_from_environment, load_settings

NO_COACHEES = "No coachees yet: add one in the Coachee form, or run `followup demo`."
# The tables a form's dropdown can link to (the coachee is the session's, never picked).
LINK_TARGETS = sorted(
    {c.links_to for t in TABLES.values() for c in t.columns if c.links_to} - {("coachees", "coachee_id")}
)
LINK_LABELS = {
    "applications": lambda r: f"{r['company']} — {r['role']}",
    "references": lambda r: f"{r['name']}",
}
# New ids in the demo's style: a letter per table and a number (K004 after K003).
ID_LETTERS = {
    "coachees": "C",
    "applications": "A",
    "contacts": "K",
    "interviews": "I",
    "references": "R",
    "promises": "P",
    "messages": "M",
}
# Contract v3's message kinds with consequences (PRODUCT.md), offered as choices in
# the Message form; any other text is still kept ("a message").
RECEIVED_MESSAGE_KINDS = (
    "rejection",
    "offer",
    "offer_letter",
    "invitation",
    "date_moved",
    "update",
    "question",
    "auto_reply",
    "bounce",
)
SENT_MESSAGE_KINDS = (*MESSAGE_KINDS, "extension_request", "acceptance", "decline", "withdrawal", "question")
MESSAGE_KIND_CHOICES = tuple(dict.fromkeys((*RECEIVED_MESSAGE_KINDS, *SENT_MESSAGE_KINDS)))
# The years a typed "Today is" may name: anything else is a date still being typed
# (11162026 passes through year 0020 on its way).
DAY_YEARS = (1900, 2200)


def typed_day(day) -> dt.date | None:
    """``day`` as a date, or None while it is no real day of a sensible year (a date
    being typed, an impossible one)."""
    if day is None:
        return None
    try:
        ts = pd.Timestamp(day)
    except (ValueError, TypeError, OverflowError, pd.errors.OutOfBoundsDatetime):
        return None
    if pd.isna(ts) or not DAY_YEARS[0] <= ts.year <= DAY_YEARS[1]:
        return None
    return ts.date()


def day_in_words(day) -> str:
    """'Monday 16 November 2026', as the session speaks to a person."""
    return f"{pd.Timestamp(day):%A %-d %B %Y}"


def action_label(a: dict) -> str:
    """One line per action, as the action list shows it (lined up in monospace)."""
    return (
        f"{a['status'].upper():<8} {pd.Timestamp(a['due_on']):%a %d %b}  "
        f"{ACTION_LABELS.get(a['kind'], a['kind'])} → {a['recipient']} ({a['company']}, {a['channel']})"
    )


@dataclasses.dataclass(frozen=True)
class Logged:
    """A message logged as sent by ``SessionState.mark_sent``."""

    message_id: str  # the ids, comma-separated, when one draft covered several actions
    what: str  # "Thank-you note to Elena Voss"
    message_ids: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"Logged as sent ({self.message_id}): {self.what}."


class SessionState:
    """One working session: a store, a coachee, a day, and what is open.

    A coach (``coach``, else ``FOLLOWUP_COACH``, which ``followup --coach NAME app``
    sets) sees only their own coachees: the picker lists no one else, and no
    other coachee's rows are read or written.

    Attributes a view reads: ``coachees`` (every coachee the session may show), ``coachee_id``,
    ``as_of``, ``tables`` (this coachee's rows, None without a coachee),
    ``actions`` (today's, most urgent first), ``action_id`` (the one picked),
    ``draft`` and ``draft_action`` (the draft open and its action), ``figure`` and
    ``chart_sentence`` (the days since each interview), and ``notice`` (what a
    person should know about how the session opened, or None).
    """

    def __init__(
        self,
        db_url: str | None = None,
        coachee_id: str | None = None,
        as_of: dt.date | str | None = None,
        drafts_dir: str | Path | None = None,
        client: bool = False,
        coach: str | None = None,
        create: bool = True,
    ):
        self.coach = (coach or "").strip() or coach_from_environment()
        # The client's own app (`followup app --client`): locked to one coachee, and
        # no other coachee's rows are ever read into this session.
        self.client = client
        if client and not coachee_id:
            raise UserError("A client session needs its coachee.")
        self._locked_to = coachee_id if client else None
        self.store = open_store(db_url, create=create)  # create=False: a missing store is refused
        self.settings, self.coach_settings = load_settings()
        self.as_of: dt.date = pd.Timestamp(as_of or dt.date.today()).date()
        self.drafts_dir = Path(drafts_dir) if drafts_dir else paths.reports_dir() / "drafts"
        self.env = template_environment()
        self.coachee_id: str | None = None
        self.tables: dict[str, pd.DataFrame] | None = None
        self.actions = pd.DataFrame()
        self.action_id: str | None = None
        self.draft: Draft | None = None
        self.draft_action: dict | None = None
        self.figure = None
        self.chart_sentence = ""
        self.notice: str | None = None
        self.mail_proposals: list = []
        self.mail_summary = ""
        self.coachees = self._visible_coachees()
        ids = self.coachee_ids()
        # The app opens on the coachee it was started with; a wrong id still opens
        # the session (on the first coachee), saying so.
        if coachee_id is not None and coachee_id not in ids:
            self.notice = f"No coachee {coachee_id!r} {self._where()}; showing the first one."
            coachee_id = None
        if not ids and self.coach:
            self.notice = f"No coachees of coach {self.coach} yet: add one in the Coachee form."
        self._switch_to(coachee_id or (ids[0] if ids else None))

    def close(self) -> None:
        """Let go of the store's connections (a script or a test done with the session)."""
        self.store.engine.dispose()

    # ------------------------------------------------------------ who and when
    def _visible_coachees(self) -> pd.DataFrame:
        if self._locked_to is not None:
            coachees = self.store.load(["coachees"], coachee_id=self._locked_to)["coachees"]
        else:
            coachees = self.store.coachees()
        if self.coach is not None:
            coachees = coachees[coachees["coach"].eq(self.coach)].reset_index(drop=True)
        return coachees

    def _where(self) -> str:
        return f"among coach {self.coach}'s coachees" if self.coach else "in the store"

    def coachee_ids(self) -> list[str]:
        return list(self.coachees["coachee_id"])

    def coachee_options(self) -> list[tuple[str, str]]:
        """(label, coachee id) for every coachee, as the coachee picker lists them."""
        return [(f"{r.name} ({r.coachee_id})", r.coachee_id) for r in self.coachees.itertuples()]

    def select_coachee(self, coachee_id: str | None) -> None:
        """Work on another coachee: the open draft is closed, their rows are read."""
        if coachee_id is not None and coachee_id not in self.coachee_ids():
            raise UserError(f"No coachee {coachee_id!r} {self._where()}.")
        if coachee_id != self.coachee_id:
            self._switch_to(coachee_id)

    def _switch_to(self, coachee_id: str | None) -> None:
        self.close_draft()  # nothing of one coachee stays open on the next one
        self.coachee_id = coachee_id
        self.reload()

    def set_day(self, day: dt.date | str | None) -> None:
        """Work as of another day ("Today is"). None, or what is no real day yet (a
        date being typed: year 0020 on the way to 2026), changes nothing. The open
        draft closes: it was written for the other day."""
        day = typed_day(day)
        if day is None or day == self.as_of:
            return
        self.as_of = day
        self.close_draft()
        self.reload()

    def refresh(self) -> None:
        """Read the coachees and this coachee's rows again: someone else (the coach in
        JupyterLab, the client in the app) may have changed the store."""
        self.coachees = self._visible_coachees()
        ids = self.coachee_ids()
        if self.coachee_id in ids:
            self.reload()
        else:  # none yet (the first was just added), or gone
            self._switch_to(ids[0] if ids else None)

    def reload(self) -> None:
        """Read this coachee's rows; recompute today's actions (the most urgent picked)
        and the chart."""
        cid = self.coachee_id
        if cid is None:
            self.tables, self.actions, self.action_id = None, pd.DataFrame(), None
            self.figure, self.chart_sentence = None, ""
            return
        self.tables = self.store.load(coachee_id=cid)
        self.actions = due_actions(self.tables, self.as_of, self.settings, self.coach_settings)
        self.action_id = self.actions["action_id"].iloc[0] if len(self.actions) else None
        if self.draft is not None:
            listed = set(self.actions["action_id"]) if len(self.actions) else set()
            if not set(self.draft.action_ids) <= listed:
                self.close_draft()  # what it would log is no longer to do
            else:
                self.action_id = self.draft_action["action_id"]  # the draft's action stays picked
        waiting = analysis.waiting_on(self.tables, self.as_of)
        self.figure = charts.days_since_interview_figure(waiting)
        self.chart_sentence = charts.days_since_sentence(waiting)

    def offers_html(self) -> str:
        """Every offer of this coachee side by side (salary, benefits, expenses,
        conditions, requirements, deadline, status), a missing term flagged; escaped."""
        from ..logic import offers, weekly

        if self.tables is None:
            return ""
        table = offers.offers_table(self.tables, self.coachee_id)
        return weekly.STYLE + weekly.table_html(table, "No offer yet.")

    # ------------------------------------------------------------ today's actions
    def summary(self) -> str:
        """How many actions are overdue, due and upcoming, in words."""
        if self.coachee_id is None:
            return NO_COACHEES
        if not len(self.actions):
            return "Nothing due."
        counts = self.actions["status"].value_counts()
        return ", ".join(f"{counts.get(s, 0)} {s}" for s in ("overdue", "due", "upcoming"))

    def action_options(self) -> list[tuple[str, str]]:
        """(label, action id) for today's actions, most urgent first."""
        return [(action_label(a), a["action_id"]) for a in self.actions.to_dict("records")]

    def action(self, action_id: str | None = None) -> dict | None:
        """The action ``action_id`` (by default the one picked), or None."""
        action_id = action_id or self.action_id
        if action_id is None or not len(self.actions):
            return None
        rows = self.actions[self.actions["action_id"].eq(action_id)]
        return rows.iloc[0].to_dict() if len(rows) else None

    def pick_action(self, action_id: str | None) -> dict | None:
        """Pick one of today's actions (None: none); returns it."""
        if action_id is not None and self.action(action_id) is None:
            raise UserError(f"No action {action_id!r} today for this coachee.")
        self.action_id = action_id
        if self.draft is not None and action_id not in self.draft.action_ids:
            self.close_draft()  # the draft open belongs to the action picked before
        return self.action()

    # ------------------------------------------------------------ drafts
    def open_draft(self, action_id: str | None = None) -> Draft:
        """Render the draft of an action (by default the one picked); it becomes the open draft."""
        a = self.action(action_id)
        if a is None:
            raise UserError("Pick an action first.")
        if a["kind"] not in MESSAGE_KINDS:
            raise UserError("This action needs no message: " + a["why"])
        # One message per person per day: the draft covers every action due to the
        # same person today (an upcoming action is drafted for its own day).
        result = render_drafts(self.actions, self.tables, as_of=self.as_of, upcoming=True)
        draft = result.by_action().get(a["action_id"])
        if draft is None:
            clean = {k: (None if not present(v) else v) for k, v in a.items()}
            render_draft(clean, facts_for(clean, self.tables, as_of=self.as_of), self.env)  # raises, naming the gap
            raise UserError("No draft could be written for this action.")
        self.draft, self.draft_action = draft, a
        return draft

    def close_draft(self) -> None:
        self.draft = self.draft_action = None

    def sent_label(self) -> str:
        """What Mark sent will log, for its button: "Mark sent: thank-you note to Elena Voss"."""
        d = self.draft
        if d is None:
            return "Mark sent"
        return f"Mark sent: {self._what(d)} to {d.to_name}"

    @staticmethod
    def _what(d: Draft) -> str:
        return " and ".join(dict.fromkeys(ACTION_LABELS.get(k, k).lower() for k in d.kinds))

    def edited_draft(self, subject: str | None = None, body: str | None = None) -> Draft:
        """The open draft with the subject and body as edited (None: as rendered)."""
        if self.draft is None:
            raise UserError("Open a draft first.")
        d = self.draft
        return dataclasses.replace(
            d, subject=d.subject if subject is None else subject, body=d.body if body is None else body
        )

    def save_draft(self, subject: str | None = None, body: str | None = None) -> Path:
        """Write the open draft, as edited, to the coachee's drafts folder; returns the
        file (an OSError if the folder cannot be written)."""
        return write_draft(
            self.edited_draft(subject, body), paths.inside(self.drafts_dir, paths.safe_name(self.coachee_id))
        )

    def mark_sent(self, subject: str | None = None, body: str | None = None) -> Logged:
        """Log the open draft as sent today (and what its kind records); the draft
        closes and the actions are recomputed. A ConflictError if it was already
        logged elsewhere (nothing is logged twice)."""
        d = self.edited_draft(subject, body)
        covered = [self.action(a) for a in d.action_ids]
        if any(a is None for a in covered):
            self.close_draft()
            raise UserError("This draft's action is no longer listed for this day; nothing was logged.")
        # A phone script's first line may open with the quote of what to say.
        summary = d.subject.strip() if d.channel == "email" and d.subject else ""
        summary = summary or d.first_lines(1).strip().strip("\"'“”‘’ ").strip()
        try:
            ids = logbook.mark_sent_many(
                self.store, covered, self.as_of, summary=summary or None, channel=d.channel, body=d.body
            )
        except ConflictError:
            # Sent already, from another window: show the list as it now stands,
            # and say so in words.
            self.close_draft()
            self.reload()
            raise ConflictError(self._already_sent(d)) from None
        self.close_draft()
        self.reload()
        what = self._what(d)
        return Logged(", ".join(ids), f"{what[:1].upper() + what[1:]} to {d.to_name}", tuple(ids))

    def _already_sent(self, d: Draft) -> str:
        what = self._what(d)
        sent = self.tables["messages"] if self.tables is not None else pd.DataFrame()
        sent = sent[sent["action_id"].isin(d.action_ids)] if len(sent) else sent
        when = f" on {day_in_words(sent['on'].iloc[0])}" if len(sent) and present(sent["on"].iloc[0]) else ""
        return (
            f"The {what} to {d.to_name} was already marked sent{when}, perhaps in another window; "
            "nothing was logged twice. The list now shows what is still to do."
        )

    # ------------------------------------------------------------ the mailbox
    def read_mail(self, path: str) -> list[tuple[str, int]]:
        """Read the client's exported mailbox for this coachee: (label, index) for
        each message the workbook would log; nothing is written yet."""
        from .mail import proposal_label, read_mail

        if self.client:
            raise UserError("The client's app reads no mailbox: the coach reads it in their own session.")
        if not path or not str(path).strip():
            raise UserError("Name the mailbox: an mbox file, a Maildir, or a folder of .eml files.")
        if self.coachee_id is None:
            raise UserError("Pick a coachee first.")
        box = self.mailbox_path(str(path).strip())
        result, self.mail_summary = read_mail(self.store, self.coachee_id, box, (self.settings, self.coach_settings))
        self.mail_proposals = [p for p in result.proposals if p.can_log]  # new ones, and what may be
        return [(proposal_label(p), i) for i, p in enumerate(self.mail_proposals)]

    def mail_folders(self) -> list[Path]:
        """The folders the Mail tab may read (the coach's ``mail_folders`` setting,
        else the defaults'), each resolved."""
        settings = self.coach_settings.get(self._coach_of_coachee() or "", self.settings)
        return [Path(f).expanduser().resolve() for f in settings.mail_folders.split(";") if f.strip()]

    def _coach_of_coachee(self) -> str | None:
        rows = self.coachees[self.coachees["coachee_id"].eq(self.coachee_id)]
        return rows["coach"].iloc[0] if len(rows) and present(rows["coach"].iloc[0]) else None

    def mailbox_path(self, typed: str) -> Path:
        """The mailbox ``typed`` names, resolved, if it lies inside one of the mail
        folders and nothing in it links outside them; else a UserError naming only
        what was typed (nothing is read)."""
        folders = self.mail_folders()
        if not folders:
            raise UserError(
                "No mail folder is set up: the coach names the folders the Mail tab may read "
                'in the settings file (mail_folders = "/path/to/exports").'
            )

        def inside(p: Path) -> bool:
            return any(p == f or p.is_relative_to(f) for f in folders)

        path = Path(typed).expanduser()
        if not path.is_absolute():
            path = folders[0] / path  # a name alone is looked for in the first folder
        real = path.resolve()
        if not inside(real):
            raise UserError(f"{typed} is not inside a mail folder ({'; '.join(map(str, folders))}); nothing was read.")
        if real.is_dir():
            for root, dirs, files in os.walk(real):  # os.walk follows no directory link
                for name in dirs + files:
                    entry = Path(root) / name
                    if entry.is_symlink() and not inside(entry.resolve()):
                        raise UserError(
                            f"{entry.relative_to(real)} in {typed} links outside the mail folders; nothing was read."
                        )
        return real

    def log_mail(self, chosen: list[int], picks: dict[int, str] | None = None) -> str:
        """Log the proposals ticked (by index), an ambiguous one on the application
        picked for it, in one transaction; the actions are recomputed."""
        from .mail import log_mail

        if self.client:
            raise UserError("The client's app reads no mailbox: the coach reads it in their own session.")
        picked = [self.mail_proposals[i] for i in chosen if 0 <= i < len(self.mail_proposals)]
        if not picked:
            raise UserError("Tick the messages to log first.")
        for i in chosen:
            p = self.mail_proposals[i] if 0 <= i < len(self.mail_proposals) else None
            if p is not None and p.status == "ambiguous":
                if not (picks or {}).get(i):
                    raise UserError(f"Pick the application of “{p.subject[:60]}” first ({' or '.join(p.candidates)}).")
                p.pick(picks[i])
        added, _ = log_mail(self.store, picked, (self.settings, self.coach_settings))
        self.mail_proposals = []
        self.reload()
        return f"Logged {added} message{'s' if added != 1 else ''} from the mailbox."

    # ------------------------------------------------------------ forms
    def new_record(self, table: str) -> dict:
        """What a blank form for ``table`` starts with: a fresh id in the demo's style
        (for a table whose key is its own id: K004 after K003), and for a message,
        one received today."""
        t = TABLES[table]
        values: dict = {}
        if table == "messages":
            values.update(direction="received", on=self.as_of)
        if table == "coachees" and self.coach:
            values["coach"] = self.coach  # a coach's new coachee is theirs
        key = t.key[0]
        if len(t.key) == 1 and not t.column(key).links_to:
            values[key] = self.next_id(table)
        return values

    def next_id(self, table: str) -> str:
        """The next free id of ``table`` in the demo's style: its letter and the number
        after the highest one stored (K001, K002… → K003), at least three digits."""
        import sqlalchemy as sa

        from ..data.store import CURRENT

        letter = ID_LETTERS.get(table)
        if letter is None:
            return logbook.new_id(table, self.as_of)
        column = CURRENT[table].c[TABLES[table].key[0]]
        with self.store.engine.connect() as conn:
            taken = conn.execute(sa.select(column).where(column.like(f"{letter}%"))).scalars().all()
        pattern = re.compile(rf"{letter}(\d+)")
        numbers = [int(m.group(1)) for i in taken if (m := pattern.fullmatch(str(i)))]
        return f"{letter}{max(numbers, default=0) + 1:03d}"

    def _rows(self, table: str) -> pd.DataFrame:
        return self.tables[table] if self.tables is not None else pd.DataFrame(columns=TABLES[table].column_names)

    def record(self, table: str, key: tuple) -> dict:
        """The stored row of ``table`` with this key (as read at the last reload)."""
        t, rows = TABLES[table], self._rows(table)
        mask = pd.Series(True, index=rows.index)
        for k, v in zip(t.key, key, strict=True):
            mask &= rows[k].eq(v)
        if not mask.any():
            raise UserError(f"No {t.noun} {' / '.join(map(str, key))} for this coachee.")
        return rows[mask].iloc[0].to_dict()

    def record_options(self, table: str) -> list[tuple[str, tuple | None]]:
        """(label, key) for this coachee's records of ``table``, after a "(new record)" choice."""
        t, rows = TABLES[table], self._rows(table)
        companies = self._companies()
        opts: list[tuple[str, tuple | None]] = [("(new record)", None)]
        for r in rows.to_dict(orient="records"):
            opts.append((self._describe(table, r, companies), tuple(r[k] for k in t.key)))
        return opts

    def link_options(self) -> dict[str, list[tuple[str, str | None]]]:
        """The choices for a form's links, by the table linked to: this coachee's own
        rows (an application as "company — role", a reference by name, others as
        their records are listed), after a blank one."""
        companies = self._companies()
        options = {}
        for table, column in LINK_TARGETS:
            rows = self._rows(table).to_dict(orient="records")
            label = LINK_LABELS.get(table) or (lambda r, table=table: self._describe(table, r, companies))
            options[table] = [("", None)] + [(label(r), r[column]) for r in rows]
        return options

    def _companies(self) -> dict:
        apps = self._rows("applications")
        return dict(zip(apps["application_id"], apps["company"], strict=True))

    def _names(self, table: str, key: str = "name") -> dict:
        rows = self._rows(table)
        id_column = TABLES[table].key[0]
        return dict(zip(rows[id_column], rows[key], strict=True)) if key in rows else {}

    def _describe(self, table: str, r: dict, companies: dict) -> str:
        """A record as a person reads it: names, dates and roles, never bare ids
        (an id only where nothing else tells two records apart)."""

        def day(v) -> str:
            return f"{pd.Timestamp(v):%d %b %Y}" if present(v) else ""

        def join(*bits) -> str:
            return " · ".join(str(b) for b in bits if present(b) and str(b))

        company = companies.get(r.get("application_id"), "") if "application_id" in r else ""
        if table == "interview_contacts":
            held = self._rows("interviews").set_index("interview_id")
            iv = held.loc[r["interview_id"]] if r["interview_id"] in held.index else None
            contact = self._names("contacts").get(r["contact_id"], "")
            where = companies.get(iv["application_id"], "") if iv is not None else ""
            return join(contact, where, f"interview of {day(iv['held_on'])}" if iv is not None else "")
        if table == "reference_uses":
            return join(self._names("references").get(r["reference_id"], ""), company, day(r.get("given_on")))
        if table == "offers":
            return join(company, "offer", day(r.get("verbal_on")) or day(r.get("written_received_on")))
        if table == "contacts":
            return join(r.get("name"), r.get("title"), company)
        if table == "interviews":
            return join(
                company,
                f"round {r['round']}" if present(r.get("round")) else "",
                r.get("interviewer_name"),
                day(r.get("held_on")),
            )
        if table == "applications":
            return join(r.get("company"), r.get("role"), r.get("status"))
        if table == "coachees":
            return join(r.get("name"), r.get("coachee_id"))
        extra = next(
            (str(r[c]) for c in ("name", "what", "summary", "kind") if c in r and present(r[c])),
            "",
        )
        when = next((r[c] for c in ("on", "due_on", "given_on") if c in r and present(r[c])), None)
        direction = r.get("direction") if table == "messages" else None
        return join(company, direction, extra[:60], day(when))

    def _check_coachee(self, values: dict) -> None:
        if self.client:
            # The client's app works on the client's own rows only: no new person
            # on the coach's caseload, no change to who coaches them.
            raise UserError("The client's app cannot add or change a coachee; nothing was saved.")
        if self.coach:
            # A coach saves only their own coachees: never one of another coach's
            # (whatever id is typed), never one handed over to someone else.
            if values.get("coach") != self.coach:
                raise UserError(f"A coachee saved here is coach {self.coach}'s: their coach must be {self.coach}.")
            cid = values.get("coachee_id")
            if cid not in self.coachee_ids() and cid in self.store.coachee_ids():
                raise ConflictError(
                    f"A coachee with id {cid} already exists (not one of coach {self.coach}'s); choose another id."
                )

    def _check_scope(self, table: str, values: dict) -> None:
        """Every id a form names must be one of this coachee's own rows, read afresh
        from the store: a link to another coachee's application, contact, interview
        or reference, or a new record whose id another coachee's row already has,
        is refused (the dropdowns offer only this coachee's, but a form's values can
        come from anywhere). The refusal names only what was typed."""
        t = TABLES[table]
        if self.coachee_id is None:
            raise UserError("Pick a coachee first.")
        mine = self.store.load(coachee_id=self.coachee_id)
        for c in t.columns:
            if not c.links_to or c.links_to[0] == "coachees":
                continue
            v = values.get(c.name)
            if present(v) and v not in set(mine[c.links_to[0]][c.links_to[1]]):
                raise UserError(
                    f"{t.noun.capitalize()}: {c.title.lower()} {v!r} is not one of this coachee's; nothing was saved."
                )
        key = t.key[0]
        if len(t.key) == 1 and not t.column(key).links_to:
            v = values.get(key)
            if present(v) and v not in set(mine[table][key]) and self.store.row(table, {key: v}) is not None:
                raise ConflictError(
                    f"{t.noun.capitalize()} id {v} is already taken by another record; choose another id. "
                    "Nothing was saved."
                )

    #: After a received rejection is logged: (application_id, status, closed_on, sentence)
    #: the session offers to record in the store (contract v3), else None.
    status_offer: tuple[str, str, dt.date, str] | None = None

    def _status_offer_after(self, table: str, saved: dict) -> tuple[str, str, dt.date, str] | None:
        if table != "messages":
            return None
        apps = self.tables["applications"] if self.tables is not None else None
        if apps is None:
            return None
        row = apps[apps["application_id"].eq(saved.get("application_id"))]
        if row.empty:
            return None
        status = status_to_record(saved.get("direction"), saved.get("kind"), row["status"].iloc[0])
        if status is None:
            return None
        on = pd.Timestamp(saved.get("on")).date()
        company = row["company"].iloc[0]
        return (
            saved["application_id"],
            status,
            on,
            f"{company} said no on {on:%A} {on.day} {on:%B}: the follow-ups to them have stopped. "
            f"Record the application as {status}, closed that day?",
        )

    def record_status_offer(self) -> str:
        """Record the offered status (a received rejection: rejected, closed that day)
        on the application, like its form would; the offer is then gone."""
        if self.status_offer is None:
            raise UserError("There is no status to record.")
        app_id, status, on, _ = self.status_offer
        record = self.record("applications", (app_id,))
        version = record.pop("row_version", None)
        values = dict(record, status=status)
        if not present(values.get("closed_on")):
            values["closed_on"] = on
        self.save_form("applications", values, (app_id,), version)
        self.status_offer = None
        return f"Recorded {values.get('company')} as {status}."

    def save_form(self, table: str, values: dict, opened_key: tuple | None = None, version: int | None = None) -> dict:
        """Save a form's values as a ``table`` record of this coachee, checked like an
        import row (``logbook.save_record``), then read the store again.

        ``opened_key`` and ``version`` say which stored record the form opened (None
        for a new one). Raises ValidationError or ConflictError with nothing written;
        returns the saved row with its new row_version.
        """
        t = TABLES[table]
        values = dict(values)
        if "coachee_id" in t.column_names and table != "coachees":
            values["coachee_id"] = self.coachee_id
        if table == "coachees":
            self._check_coachee(values)
        else:
            self._check_scope(table, values)
        # An opened record whose id was changed is saved as a new record: the
        # version read belongs to the old id, never to whatever the new id names.
        if version is not None and tuple(values.get(k) for k in t.key) != opened_key:
            version = None
        saved = logbook.save_record(self.store, table, values, version)
        self.status_offer = self._status_offer_after(table, saved)
        if table == "coachees":
            self.refresh()  # the picker lists the new coachee (the first is selected)
        else:
            self.reload()
        return saved
