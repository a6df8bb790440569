"""Loading the practice for the coach's exploratory notebook, and one coach's caseload.

A coach named by ``--coach`` or ``FOLLOWUP_COACH`` sees only the coachees whose
``coach`` column is their name: ``coach_coachee_ids`` is that list, and every
practice-wide command works through it in ``chunks``.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Iterator, Mapping

import pandas as pd
import sqlalchemy as sa

from ..schema import TABLE_ORDER, TABLES
from ..settings import Settings, coach_from_environment, load_settings
from .store import ROW_VERSION, _key_order_sql, _snapshot, _typed, coach_coachees, open_store


def load_practice(
    db_url: str | None = None, as_of=None, coach: str | None = None, tables: Iterable[str] | None = None
) -> tuple[dict[str, pd.DataFrame], pd.Timestamp, Settings]:
    """Every coachee's tables (only ``coach``'s coachees when a coach is named, by
    argument or ``FOLLOWUP_COACH``; only the ``tables`` named, when named), the day
    to judge from, and the default settings.

    ``as_of`` may be text (papermill passes it so); None means ``FOLLOWUP_AS_OF``
    if set (as ``followup app`` and the tests set it), else today.
    """
    coach = coach or coach_from_environment()
    store = open_store(db_url or None)
    try:
        ids = None if coach is None else coach_coachee_ids(store, coach)
        tables = store.load(tables, coachee_id=ids)
    finally:
        store.engine.dispose()
    as_of = as_of or os.environ.get("FOLLOWUP_AS_OF") or dt.date.today()
    day = pd.Timestamp(str(as_of)[:10])
    return tables, day, load_settings()[0]


def load_coachee(db_url: str | None, coachee_id: str) -> tuple[dict[str, pd.DataFrame], Settings, dict[str, Settings]]:
    """One coachee's tables (and no one else's rows), the default settings and the
    per-coach ones: what the weekly report is made from."""
    from ..errors import UserError

    store = open_store(db_url or None)
    try:
        if coachee_id not in store.coachee_ids():
            raise UserError(f"no coachee {coachee_id!r} in the store")
        tables = store.load(coachee_id=coachee_id)
    finally:
        store.engine.dispose()
    base, per_coach = load_settings()
    return tables, base, per_coach


def practice_summary(tables: Mapping[str, pd.DataFrame], as_of) -> str:
    """One sentence: what the analysis is looking at, and from which day."""

    def n(count: int, noun: str) -> str:
        return f"{count} {noun}{'' if count == 1 else 's'}"

    return (
        f"{n(len(tables['coachees']), 'coachee')}, {n(len(tables['applications']), 'application')} and "
        f"{n(len(tables['interviews']), 'interview')}, as of {pd.Timestamp(as_of):%A %d %B %Y}."
    )


# ------------------------------------------------------------------ one coach's caseload


def coach_coachee_ids(store, coach: str | None) -> list[str]:
    """The ids of ``coach``'s coachees (those whose ``coach`` column is exactly
    ``coach``), sorted; every coachee's when ``coach`` is None.

    Sorted here rather than by the database, so the order (and the chunks a
    practice-wide command works in) is the same on every engine.
    """
    if coach is None:
        return sorted(store.coachee_ids())
    with store.engine.connect() as conn:
        return sorted(conn.execute(coach_coachees(coach)).scalars())


def chunks(ids: list[str], size: int) -> Iterator[list[str]]:
    """``ids`` in consecutive lists of at most ``size`` (at least one id each)."""
    size = max(1, size)
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


# ------------------------------------------------------------------ what the rules read

# Applications of the coachees being read (:ids): those that had ended by the day
# judged from (closed_on on or before :day) and the others, still live.
_APPS = "SELECT application_id FROM applications WHERE coachee_id IN :ids"
_ENDED = _APPS + " AND closed_on IS NOT NULL AND closed_on <= :day"
_LIVE = _APPS + " AND (closed_on IS NULL OR closed_on > :day)"


# What can still concern an ended application: a reference not yet thanked
# (close_the_loop), an offer (an approval ends the coachee's other applications),
# a message that carried out an action (the calendar lists it as done). Each is
# looked up by the application's own id (indexed), never by scanning a table.
def _unthanked(app: str) -> str:
    return f"EXISTS (SELECT 1 FROM reference_uses u WHERE u.application_id = {app} AND u.thanked_on IS NULL)"


def _still_read(app: str) -> str:
    return (
        f"{_unthanked(app)} OR EXISTS (SELECT 1 FROM offers o WHERE o.application_id = {app}) "
        f"OR EXISTS (SELECT 1 FROM messages m WHERE m.application_id = {app} AND m.action_id IS NOT NULL)"
    )


def _rules_query(name: str, columns: str, order: str) -> str:
    """The SQL reading the rows of ``name`` that ``load_for_rules`` keeps."""
    if name in ("coachees", "references"):
        where = "coachee_id IN :ids"
    elif name == "applications":
        live = "closed_on IS NULL OR closed_on > :day"
        where = f"coachee_id IN :ids AND ({live} OR {_still_read('applications.application_id')})"
    elif name == "offers":
        where = f"application_id IN ({_APPS})"
    elif name == "reference_uses":
        # Every use of the coachee's references: when you last spoke with a
        # reference counts whichever application it was about.
        where = f"application_id IN ({_APPS})"
    elif name == "messages":
        # Of an ended application: the messages that carried out an action, and
        # those with a reference (when you last spoke with them).
        where = (
            f"application_id IN ({_LIVE}) OR (application_id IN ({_ENDED}) "
            "AND (action_id IS NOT NULL OR reference_id IS NOT NULL))"
        )
    elif name == "interviews":
        # Of an ended application with a reference to thank, its latest interview:
        # the facts of the close_the_loop draft name it.
        latest = (
            f"SELECT {columns} FROM (SELECT {columns}, ROW_NUMBER() OVER (PARTITION BY application_id "
            f"ORDER BY held_on DESC, {order.replace(',', ' DESC,')} DESC) AS newest FROM interviews "
            f"WHERE application_id IN ({_ENDED}) AND {_unthanked('interviews.application_id')}) AS ended "
            "WHERE newest = 1"
        )
        return (
            f"SELECT {columns} FROM (SELECT {columns} FROM interviews WHERE application_id IN ({_LIVE}) "
            f"UNION ALL {latest}) AS kept ORDER BY {order}"
        )
    elif name in ("contacts", "promises"):
        where = f"application_id IN ({_LIVE})"
    else:  # interview_contacts: the people met at the interviews of live applications
        where = f"interview_id IN (SELECT interview_id FROM interviews WHERE application_id IN ({_LIVE}))"
    return f'SELECT {columns} FROM "{name}" WHERE {where} ORDER BY {order}'


def load_for_rules(store, coachee_ids: list[str], as_of) -> dict[str, pd.DataFrame]:
    """The tables of ``coachee_ids`` as ``Store.load`` returns them, without the rows
    that the rules, the drafts and the calendar of ``as_of`` never read.

    An application that had ended by ``as_of`` (its ``closed_on`` on or before
    it) gets only close_the_loop, so it needs only what closing it requires: the
    uses of its references (a reference not yet thanked gets close_the_loop, and
    its latest interview, which the draft's facts name; every use says when you
    last spoke with the reference), its offer (an approval closes the coachee's
    other applications), the messages that carried out an action (the calendar
    lists them as done) and those with a reference — and itself only when one of
    those exists. Everything else of
    it stays in the store: on a practice of many past applications, most rows.
    Any other application, open or closed without a date, is read whole.
    """
    params = {"ids": list(coachee_ids), "day": pd.Timestamp(as_of).date()}
    out = {}
    # One snapshot for every table.
    with _snapshot(store.engine.connect()) as conn, conn.begin():
        for name in TABLE_ORDER:
            t = TABLES[name]
            columns = ", ".join(f'"{c}"' for c in [*t.column_names, ROW_VERSION])
            # Key order as Store.load reads it: by characters on every engine.
            order = _key_order_sql(conn, t.key)
            sql = _rules_query(name, columns, order)
            dated = ":day" in sql
            query = sa.text(sql).bindparams(
                sa.bindparam("ids", expanding=True), *([sa.bindparam("day", type_=sa.Date())] if dated else [])
            )
            result = conn.execute(query, params if dated else {"ids": params["ids"]})
            frame = pd.DataFrame.from_records(result.fetchall(), columns=list(result.keys()))
            out[name] = _typed(t, frame)
    return out
