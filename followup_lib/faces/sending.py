"""Marking a draft sent — from the session's button, the app's, or `followup sent`
for a draft sent from a mail client: every action the draft covers is completed,
with one messages row each holding the text sent."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ..data.logbook import mark_sent_many
from ..data.store import Store
from ..errors import ConflictError, UserError
from ..logic.drafts import SentDraft
from ..logic.rules import due_actions
from ..settings import Settings


def complete_draft(
    store: Store,
    draft: SentDraft,
    on: dt.date,
    settings: tuple[Settings, dict[str, Settings]] | None = None,
) -> list[str]:
    """Complete each action ``draft`` covers, as of the day it was drafted for.

    Returns one line per action logged. Raises ConflictError (nothing written) if
    any of them was already marked sent, and UserError if one is no longer due.
    """
    if not draft.action_ids:
        raise UserError("this draft names no actions (no X-Followup-Actions header): log it as a message instead")
    if not draft.coachee_id or draft.coachee_id not in store.coachee_ids():
        raise UserError(f"this draft's coachee {draft.coachee_id!r} is not in the store")
    base, per_coach = settings or (Settings(), {})
    tables = store.load(coachee_id=draft.coachee_id)
    try:
        as_of = pd.Timestamp(dt.date.fromisoformat(draft.as_of) if draft.as_of else on)
    except ValueError:
        raise UserError(f"this draft's day {draft.as_of!r} (X-Followup-As-Of) is not a date (YYYY-MM-DD)") from None
    actions = due_actions(tables, as_of, base, per_coach)
    by_id = {a["action_id"]: a for a in actions.to_dict(orient="records")}
    logged = tables["messages"][tables["messages"]["action_id"].isin(draft.action_ids)]
    if len(logged):
        # Named in the draft's own order: its first action already logged.
        order = {a: i for i, a in enumerate(draft.action_ids)}
        first = logged.iloc[logged["action_id"].map(order).argsort(kind="stable")].iloc[0]
        raise ConflictError(
            f"{first['action_id']} was already marked sent on {first['on']:%Y-%m-%d} (message {first['message_id']}); "
            "nothing was logged twice"
        )
    gone = [a for a in draft.action_ids if a not in by_id]
    if gone:
        raise UserError(f"no longer due as of {as_of:%Y-%m-%d}: {', '.join(gone)}; nothing was logged")
    chosen = [by_id[a] for a in draft.action_ids]
    ids = mark_sent_many(store, chosen, on, summary=draft.subject or None, channel=draft.channel, body=draft.body)
    return [f"logged {m}: {a['kind'].replace('_', ' ')} to {a['recipient']}" for m, a in zip(ids, chosen, strict=True)]
