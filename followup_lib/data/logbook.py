"""Logging what happened: the store operations behind the working session's
buttons and forms. Each checks its rows with the same schema as import, and
writes in one transaction (or not at all).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping

import pandas as pd

from ..errors import UserError
from ..kinds import KINDS, REFERENCE_KINDS
from ..schema import TABLES
from ..schema import present as _present
from .store import ConflictError, Store
from .validation import validate_row

ID_PREFIX = {
    "coachees": "C",
    "applications": "A",
    "interviews": "I",
    "references": "R",
    "promises": "P",
    "messages": "M",
}


def new_id(table: str, today: dt.date | None = None) -> str:
    """A fresh id for a record made in a form: readable, and unique without asking the store."""
    day = (today or dt.date.today()).strftime("%y%m%d")
    return f"{ID_PREFIX.get(table, 'X')}{day}-{secrets.token_hex(2)}"


def save_record(store: Store, table: str, values: Mapping, expected_version: int | None = None) -> dict:
    """Check a form's values exactly like an import row, then save them.

    ``expected_version`` is the row_version the record had when the form opened
    it (None for a new record). Raises ValidationError or ConflictError with
    nothing written; returns the saved row (typed) with its new row_version.
    """
    ids, links = store.stored_keys()
    # A row read back from the store holds NaT/NaN for blanks: those are blanks here too.
    values = {k: (None if not _present(v) else v) for k, v in values.items()}
    row = validate_row(table, values, ids, links).iloc[0].to_dict()
    version = store.save_row(table, row, expected_version=expected_version)
    return {**row, "row_version": version}


def mark_sent(
    store: Store,
    action: Mapping,
    on: dt.date,
    summary: str | None = None,
    channel: str | None = None,
    body: str | None = None,
) -> str:
    """Record that an action's message went out on ``on``: a ``messages`` row of
    the action's kind, and the date the rules read (thank-you sent, reference
    briefed or checked in, promise done, written offer requested), in one
    transaction. Returns the new message id."""
    return mark_sent_many(store, [action], on, summary=summary, channel=channel, body=body)[0]


def mark_sent_many(
    store: Store,
    actions: list[Mapping],
    on: dt.date,
    summary: str | None = None,
    channel: str | None = None,
    body: str | None = None,
) -> list[str]:
    """Mark several actions sent by one message (a bundled draft): one ``messages``
    row per action, each holding the text sent, and each action's own record, all
    in one transaction — or nothing, if any of them cannot be logged. Returns the
    new message ids, in the order of ``actions``."""
    ids, links = store.stored_keys()
    frames: dict[str, list[pd.DataFrame]] = {}
    msg_ids = []
    for n, action in enumerate(actions):
        kind = action["kind"]
        msg_id = new_id("messages", on) + (f"-{n + 1}" if len(actions) > 1 else "")
        msg_ids.append(msg_id)
        message = {
            "message_id": msg_id,
            "application_id": action["application_id"],
            "on": on,
            "direction": "sent",
            "channel": channel or action.get("channel") or "email",
            "kind": kind,
            "summary": summary or f"{kind.replace('_', ' ')} to {action.get('recipient') or ''}".strip(),
            "action_id": action.get("action_id"),
            # Who it went to: a reference's message is no employer contact for the rules.
            "contact_id": action.get("contact_id") if _present(action.get("contact_id")) else None,
            "reference_id": action.get("reference_id") if kind in REFERENCE_KINDS else None,
            "body": body,
        }
        frames.setdefault("messages", []).append(validate_row("messages", message, ids, links))
        described = KINDS.get(kind)
        if described is not None and described.sent_records:
            record = described.sent_record_for(action)
            if record is None:
                table = described.sent_records[-1].table
                raise UserError(f"the {kind} action does not say which {TABLES[table].noun} it is about")
            table, column = record.table, record.column
            key = {k: action.get(k) for k in record.key}
            if store.row(table, key) is None:  # an upsert would create a half-empty record
                raise UserError(
                    f"there is no {TABLES[table].noun} {', '.join(map(str, key.values()))} in the store; "
                    "nothing was logged"
                )
            frames.setdefault(table, []).append(
                pd.DataFrame([{**key, column: pd.Timestamp(on), **dict(record.values)}])
            )
    with store.writing() as conn:
        # The same action marked sent in two places (the coach's session and the
        # client's app, or a mail client) is logged once; the second is told.
        for action in actions:
            if _present(action.get("action_id")):
                done = store.message_for_action(conn, action["action_id"])
                if done is not None:
                    kind = action["kind"]
                    raise ConflictError(
                        f"this {kind.replace('_', ' ')} was already marked sent on {done[1]} "
                        f"(message {done[0]}), perhaps in another window; nothing was logged twice"
                    )
        # One upsert per record: frames of one table may set different columns
        # (briefed_on for one action, last_checkin_on for another), and a column
        # a frame leaves out must keep its stored value.
        for table, frames_of_table in frames.items():
            for frame in frames_of_table:
                store.upsert({table: frame}, conn)
    return msg_ids


def log_received(
    store: Store,
    application_id: str,
    on: dt.date,
    summary: str | None = None,
    channel: str = "email",
    kind: str | None = "update",
) -> str:
    """A word from the employer (it stops status inquiries and resets check-ins)."""
    msg_id = new_id("messages", on)
    save_record(
        store,
        "messages",
        {
            "message_id": msg_id,
            "application_id": application_id,
            "on": on,
            "direction": "received",
            "channel": channel,
            "kind": kind,
            "summary": summary,
        },
    )
    return msg_id
