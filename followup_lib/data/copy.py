"""Moving a practice: every table of one store copied into another, SQLite to
PostgreSQL and back (``followup copy-store --to URL``, and a PostgreSQL store's
backups and restores).

Rows travel in chunks (memory does not grow with the practice), read in one
snapshot of the source and written in one transaction on the target: the target
ends up with all of them or none. Every column travels, row_version included, so
an edit opened before the move is still told apart from a stale one after it.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from ..errors import StoreError, UserError
from ..schema import BOOL, DATE, TABLE_ORDER, TABLES
from .store import (
    CURRENT,
    ROW_VERSION,
    Store,
    _first_table_with_rows,
    _key_order,
    _snapshot,
    analyze_after_bulk_load,
    open_store,
    shown_url,
)

CHUNK_ROWS = 5_000


def copy_store(source: Store, target_url: str, chunk_rows: int = CHUNK_ROWS) -> dict[str, int]:
    """Copy every table of ``source`` into the store at ``target_url``, which is
    created (or brought to this schema version) and must hold no rows.

    Returns the number of rows copied per table. Raises UserError, naming the
    target and a table that has rows, when the target is not empty; nothing is
    written then.
    """
    target = open_store(target_url)
    try:
        with target.writing() as conn:
            # Checked inside the write transaction: no one can fill it meanwhile.
            full = _first_table_with_rows(conn)
            if full is not None:
                raise UserError(
                    f"the store at {shown_url(target.url)} is not empty (its {full} table has rows); "
                    "nothing was copied — copy into a new, empty database"
                )
            counts = _copy_rows(source, conn, chunk_rows)
        analyze_after_bulk_load(target.engine)
        return counts
    finally:
        target.engine.dispose()


def replace_contents(source: Store, target: Store, chunk_rows: int = CHUNK_ROWS) -> dict[str, int]:
    """Replace every row of ``target`` by ``source``'s, in one transaction (a restore)."""
    with target.writing() as conn:
        for name in reversed(TABLE_ORDER):  # children before their parents
            conn.execute(sa.delete(CURRENT[name]))
        counts = _copy_rows(source, conn, chunk_rows)
    analyze_after_bulk_load(target.engine)
    return counts


def _copy_rows(source: Store, target: sa.Connection, chunk_rows: int) -> dict[str, int]:
    counts = {}
    with _snapshot(source.engine.connect()) as src, src.begin():
        for name in TABLE_ORDER:
            tbl = CURRENT[name]
            cols = [c.name for c in tbl.columns]
            # Untyped: each value comes as the source engine holds it and is checked below.
            stmt = (
                sa.select(*(sa.type_coerce(tbl.c[c], sa.types.NullType()).label(c) for c in cols))
                .select_from(tbl)
                .order_by(*(_key_order(src, tbl.c[k]) for k in TABLES[name].key))
            )
            n = 0
            result = src.execution_options(yield_per=chunk_rows).execute(stmt)
            # The size given again: SQLite (no server-side cursor) otherwise yields one row at a time.
            for chunk in result.partitions(chunk_rows):
                rows = [_portable(name, cols, row) for row in chunk]
                target.execute(sa.insert(tbl), rows)
                n += len(rows)
            counts[name] = n
    return counts


def _portable(table: str, cols: list[str], row) -> dict:
    """One stored row as Python values both engines take (dates as ``date``,
    booleans as ``bool``, text as ``str``); a value that cannot be one is refused,
    naming the table, the row and the column."""
    t = TABLES[table]
    out = {}
    for col, value in zip(cols, row):
        if value is not None and col != ROW_VERSION:
            kind = t.column(col).kind
            try:
                if kind == DATE and not isinstance(value, dt.date):
                    value = dt.date.fromisoformat(str(value))
                elif kind == BOOL:
                    value = bool(int(value)) if not isinstance(value, bool) else value
                elif kind not in (DATE, BOOL):
                    value = value if isinstance(value, str) else str(value)
                    if "\x00" in value:  # PostgreSQL's text cannot hold it
                        raise ValueError("a NUL character")
            except (TypeError, ValueError) as exc:
                key = ", ".join(str(v) for c, v in zip(cols, row) if c in t.key)
                raise StoreError(
                    f"{table}, row {key}, {col}: {value!r} cannot be copied ({exc}); nothing was copied"
                ) from exc
        out[col] = value
    return out
