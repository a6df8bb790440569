"""Reading the coachee ids of a store, for ``followup report``.

The report command only needs the ids to start its notebooks: for a SQLite store
they are read with the standard library alone (loading pandas and SQLAlchemy for
that would cost a second before the first kernel starts); any other store
(PostgreSQL) is asked through the store itself.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..errors import UserError


def coachee_ids(url: str) -> list[str]:
    """The coachee ids of the store at ``url``, sorted (by code point, on every engine).

    Raises UserError when there is no store there, or it is not this workbook's.
    """
    if url.startswith("sqlite:///"):
        return sqlite_coachee_ids(url)
    from .store import open_store

    store = open_store(url, create=False)
    try:
        return store.coachee_ids()
    finally:
        store.engine.dispose()


def sqlite_coachee_ids(url: str) -> list[str]:
    """The coachee ids of the SQLite store at ``url`` (``sqlite:///PATH``), sorted.

    Raises UserError when there is no store there, or it is not this workbook's.
    """
    path = url.removeprefix("sqlite:///")
    if not Path(path).exists():
        raise UserError(f"no store at {path}: import data or run `followup demo` first")
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
    try:
        return [r[0] for r in con.execute("SELECT coachee_id FROM coachees ORDER BY coachee_id")]
    except sqlite3.DatabaseError as exc:
        raise UserError(f"{path} is not a Follow-up Workbook store ({exc})") from exc
    finally:
        con.close()
