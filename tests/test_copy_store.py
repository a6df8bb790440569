"""Moving a practice: ``copy_store`` from SQLite to PostgreSQL and back, verified by
comparing the exports of source and target byte for byte; a non-empty target is
refused and left as it was; a PostgreSQL store's backup and restore go the same way.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from followup_lib.data.copy import copy_store
from followup_lib.data.demo import generate_practice, write_practice
from followup_lib.data.store import UserError, open_store
from followup_lib.data.transfer import export_store, import_path
from followup_lib.schema import TABLE_ORDER

from conftest import store_data


def exported(store, dest: Path) -> dict[str, bytes]:
    export_store(store, dest)
    return {p.name: p.read_bytes() for p in sorted(dest.iterdir())}


def row_versions(store) -> dict[str, list]:
    return {name: df["row_version"].tolist() for name, df in store.load().items()}


def test_sqlite_to_postgresql_and_back_keeps_every_row(demo_store, pg_url, tmp_path):
    # A row edited twice: its row_version (3) must travel too.
    for notes in ("once", "twice"):
        demo_store.upsert({"coachees": demo_store.load(["coachees"])["coachees"].assign(notes=notes).iloc[:1]})
    source = exported(demo_store, tmp_path / "source")
    assert len(source) == len(TABLE_ORDER)

    counts = copy_store(demo_store, pg_url)
    assert counts == {name: len(df) for name, df in demo_store.load().items()}
    pg = open_store(pg_url)
    try:
        assert exported(pg, tmp_path / "on_postgres") == source
        assert row_versions(pg) == row_versions(demo_store) and 3 in row_versions(pg)["coachees"]
        assert pg.integrity_ok()

        back = f"sqlite:///{tmp_path / 'back.db'}"
        assert copy_store(pg, back) == counts
    finally:
        pg.engine.dispose()
    store = open_store(back)
    try:
        assert exported(store, tmp_path / "back") == source
        assert store_data(back) == store_data(demo_store)  # the very same values, read with sqlite3
    finally:
        store.engine.dispose()


def test_a_larger_practice_travels_in_chunks(tmp_path, pg_url):
    source = open_store(f"sqlite:///{tmp_path / 'big.db'}")
    try:
        write_practice(generate_practice(30, seed=3), tmp_path / "csv")
        import_path(source, tmp_path / "csv")
        counts = copy_store(source, pg_url, chunk_rows=7)  # many chunks per table
        assert sum(counts.values()) > 500
        target = open_store(pg_url)
        try:
            copied, original = target.load(), source.load()
            for name in TABLE_ORDER:
                pd.testing.assert_frame_equal(copied[name], original[name], obj=name)
        finally:
            target.engine.dispose()
    finally:
        source.engine.dispose()


def test_a_target_that_holds_data_is_refused_and_left_as_it_was(demo_store, any_store, tmp_path):
    any_store.upsert({"coachees": demo_store.load(["coachees"])["coachees"].iloc[:1].drop(columns="row_version")})
    before = store_data(any_store)
    with pytest.raises(UserError, match="not empty.*coachees"):
        copy_store(demo_store, any_store.url)
    assert store_data(any_store) == before


def test_a_backup_from_either_engine_restores_into_either_engine(any_demo_store, pg_url, tmp_path):
    """A backup is a SQLite file whatever the engine (no pg_dump); it restores
    into a PostgreSQL store and a SQLite one alike, replacing what was there."""
    source = exported(any_demo_store, tmp_path / "source")
    copy = any_demo_store.backup(tmp_path / "b.db")
    assert copy.read_bytes()[:16] == b"SQLite format 3\x00"

    target = open_store(pg_url)
    try:
        target.upsert({"coachees": any_demo_store.load(["coachees"])["coachees"].assign(name="overwritten")})
        target.restore(copy)
        assert exported(target, tmp_path / "restored_pg") == source
    finally:
        target.engine.dispose()
    sqlite_target = open_store(f"sqlite:///{tmp_path / 'restored.db'}")
    try:
        sqlite_target.restore(copy)
        assert exported(sqlite_target, tmp_path / "restored_sqlite") == source
    finally:
        sqlite_target.engine.dispose()
