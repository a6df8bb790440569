"""Reading a client's mailbox for one coachee, and logging the proposals chosen:
shared by `followup mail` and the working session's Mail tab."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ..data.imap import is_mail_url, open_imap
from ..data.mailbox import apply_mail, open_mailbox
from ..data.store import Store
from ..logic.mail_match import MailProposals, Matcher, Proposal, propose, summary_of
from .sending import complete_draft


def read_mail(
    store: Store, coachee_id: str, path: str | Path, settings=None, since: dt.date | None = None
) -> tuple[MailProposals, str]:
    """The proposals for ``coachee_id`` in the mailbox at ``path`` — a file or folder,
    or an IMAP folder named ``imap://USER@HOST[:PORT]/FOLDER``, read-only — (nothing
    is written), and a one-line summary of what was read. ``since``: only the
    messages of that day or later."""
    # Refused before anything is read if it is no mailbox (or the server says no).
    box = open_imap(path, since=since) if is_mail_url(path) else open_mailbox(path, since=since)
    # Only this coachee's rows are read, and only their matches are ever kept.
    matcher = Matcher(store.load(coachee_id=coachee_id), coachee_id)
    result = propose(box.records(keep=matcher.concerns), matcher, settings)
    return result, _summary(box.stats, result, coachee_id)


def _summary(stats, result: MailProposals, coachee_id: str) -> str:
    counts = result.counts()
    text = (
        f"{stats.summary()}; {len(result.proposals)} concern {coachee_id} "
        f"({', '.join(f'{n} {status}' for status, n in counts.items()) or 'none'}), "
        f"{result.ignored + stats.let_go} ignored"
    )
    return "\n".join([text, *stats.skipped_lines()])


def log_mail(store: Store, chosen: list[Proposal], settings=None) -> tuple[int, list[str]]:
    """Log the chosen proposals in one transaction: messages rows, and drafts
    marked sent (their actions completed). Returns (rows added, lines reported)."""
    rows = [p.row for p in chosen if p.draft is None and p.row is not None]
    drafts = [p for p in chosen if p.draft is not None]

    def complete(in_transaction) -> list[str]:
        return [line for p in drafts for line in complete_draft(in_transaction, p.draft, p.on, settings)]

    refs = {a: p.ref for p in drafts if p.ref for a in p.draft.action_ids}
    added, lines = apply_mail(store, rows, complete if drafts else None, refs)
    return added + len(drafts), lines


# ------------------------------------------------------------------ the Mail tab


def proposal_label(p: Proposal) -> str:
    """One line of the Mail tab: day, direction, sender, subject, application, reason."""
    where = p.company or "?"
    if p.application_id and p.application_id not in where:
        where += f" ({p.application_id})"
    kind = f" [{p.kind}]" if p.kind else ""
    return f"{p.on:%d %b} {p.what}{kind} · {p.sender} · “{summary_of(p.subject)[:70]}” → {where} — {p.why}"


class MailTab:
    """The working session's Mail tab: name a mailbox, Read, then one checkbox per
    message the workbook could log — new ones ticked; out-of-office replies,
    bounces, newsletters and possible duplicates unticked, each with its reason;
    an ambiguous one with a picker of its applications — and one button to log
    the ticked ones. A view over ``SessionState.read_mail``/``log_mail``."""

    def __init__(self, state, run, on_logged=None):
        import ipywidgets as w

        self._w, self.state, self._run, self.on_logged = w, state, run, on_logged
        self.path = w.Text(
            description="Mailbox",
            placeholder="an mbox file, a Maildir or a folder of .eml",
            layout=w.Layout(width="40em"),
        )
        self.read = w.Button(description="Read", icon="envelope")
        self.list = w.VBox()
        self.log = w.Button(description="Log the checked ones", icon="check", button_style="primary")
        self.status = w.HTML()
        self.rows: list[tuple] = []  # (checkbox, picker or None)
        self.read.on_click(
            lambda _: run(
                self.status, state.read_mail, self.path.value, then=self.show, ok=lambda _: state.mail_summary
            )
        )
        self.log.on_click(lambda _: run(self.status, self.log_checked, then=self.logged, ok=lambda text: text))
        self.box = w.VBox(
            [
                w.HTML(
                    "<p style='margin:2px 0 6px'>Replies from the client's own mail, read from a mailbox they "
                    "exported. Nothing is logged until you tick it and press the button; what is unticked "
                    "says why.</p>"
                ),
                w.HBox([self.path, self.read]),
                self.list,
                self.log,
                self.status,
            ]
        )
        self.box.add_class("fw-mail")

    def show(self, options: list[tuple[str, int]]) -> None:
        w = self._w
        self.rows, children = [], []
        for label, i in options:
            p = self.state.mail_proposals[i]
            box = w.Checkbox(description=label, value=p.writes, indent=False, layout=w.Layout(width="auto"))
            picker = None
            if p.status == "ambiguous" and p.candidates:
                picker = w.Dropdown(
                    description="Application",
                    options=[("pick one", None)] + [(f"{self.state_company(a)} ({a})", a) for a in p.candidates],
                    value=None,
                )
                children.append(w.VBox([box, picker]))
            else:
                children.append(box)
            self.rows.append((box, picker))
        self.list.children = children

    def state_company(self, application_id: str) -> str:
        apps = self.state.tables["applications"]
        hit = apps.loc[apps["application_id"] == application_id, "company"]
        return str(hit.iloc[0]) if len(hit) else application_id

    def checked(self) -> list[int]:
        return [i for i, (box, _) in enumerate(self.rows) if box.value]

    def picks(self) -> dict[int, str]:
        return {i: picker.value for i, (_, picker) in enumerate(self.rows) if picker is not None and picker.value}

    def log_checked(self) -> str:
        return self.state.log_mail(self.checked(), self.picks())

    def logged(self, _text: str) -> None:
        self.list.children, self.rows = (), []
        if self.on_logged is not None:
            self.on_logged()
