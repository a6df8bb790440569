"""Reading a client's mailbox for one coachee, and logging the proposals chosen:
shared by `followup mail` and the working session's Mail tab."""

from __future__ import annotations

from pathlib import Path

from ..data.mailbox import apply_mail, open_mailbox
from ..data.store import Store
from ..logic.mail_match import MailProposals, Matcher, Proposal, propose
from .sending import complete_draft


def read_mail(store: Store, coachee_id: str, path: str | Path, settings=None) -> tuple[MailProposals, str]:
    """The proposals for ``coachee_id`` in the mailbox at ``path`` (nothing is
    written), and a one-line summary of what was read."""
    box = open_mailbox(path)  # refused before anything is read if it is no mailbox
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
