"""Moving a practice: every table of one store copied into another, SQLite to
PostgreSQL and back (``followup copy-store --to URL``, and a PostgreSQL store's
backups and restores).

The rows' journey itself (``store._copy_rows``) lives with the store, whose
backup and restore use it too: this module is the command over it, and the store
never imports it.

Rows travel in chunks (memory does not grow with the practice), read in one
snapshot of the source and written in one transaction on the target: the target
ends up with all of them or none. Every column travels, row_version included, so
an edit opened before the move is still told apart from a stale one after it.
"""

from __future__ import annotations

from ..errors import UserError
from .store import (
    CHUNK_ROWS,
    Store,
    _copy_rows,
    _first_table_with_rows,
    analyze_after_bulk_load,
    open_store,
    replace_contents,  # noqa: F401 (re-exported: a restore is a copy over a store's rows)
    shown_url,
)


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
