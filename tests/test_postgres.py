"""One store, two engines: what PostgreSQL adds to the store's tests (which run on
both engines in test_store.py): the driver missing, migration 5's indexes on both
engines, a database that is not ours, a tampered schema, the write lock.

Each PostgreSQL test has a throwaway database on a real server (conftest.py);
what it holds is read with plain psycopg, never with the code under test.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import pandas as pd
import pytest
import sqlalchemy as sa

from followup_lib.data.ids import coachee_ids
from followup_lib.data.store import (
    M5_INDEXES,
    M6_INDEXES,
    SCHEMA_VERSION,
    StoreError,
    UserError,
    index_name,
    open_store,
)
from followup_lib.schema import TABLES

from builders import FIXTURES, ROOT
from conftest import pg_server_or_skip, store_contents, store_data

STORE_V3 = FIXTURES / "store_v3.db"


def indexes_of(url: str) -> set[tuple[str, str]]:
    """(table, index name) of every index the store has, read with the plain driver."""
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            return set(conn.execute("SELECT tbl_name, name FROM sqlite_master WHERE type = 'index'"))
        finally:
            conn.close()
    with pg_server_or_skip().connect(sa.engine.make_url(url).database) as conn:
        return set(conn.execute("SELECT tablename, indexname FROM pg_indexes WHERE schemaname = current_schema()"))


# ------------------------------------------------------------------ no driver


def test_a_postgresql_url_without_psycopg_says_what_to_install(tmp_path):
    """A real process in which psycopg cannot be imported (as on an install without
    the ``postgres`` extra): one line naming the extra, no traceback."""
    script = textwrap.dedent(
        """
        import sys
        sys.modules["psycopg"] = None  # ``import psycopg`` now fails, as when it is not installed
        from followup_lib.faces.cli import main
        sys.exit(main(["--db", "postgresql+psycopg://someone@db.example/practice", "due", "--all"]))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120, check=False
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "pip install -e '.[postgres]'" in lines[0] and "db.example/practice" in lines[0]


def test_a_password_in_the_url_is_never_shown(pg_url):
    url = sa.engine.make_url(pg_url).set(username="nobody_here", password="s3cret-pw").render_as_string(False)
    with pytest.raises(StoreError) as caught:
        open_store(url)
    assert "s3cret-pw" not in str(caught.value) and "***" in str(caught.value)


# ------------------------------------------------------------------ migration 5


def test_every_link_and_lookup_column_is_indexed_on_both_engines(any_store):
    have = indexes_of(any_store.url)
    for table, column in M5_INDEXES + M6_INDEXES:
        assert (table, index_name(table, column)) in have, (table, column)
    # Every column that links to another table is served by an index: its own,
    # or the key's (whose first column it is).
    indexed = set(M5_INDEXES + M6_INDEXES)
    for t in TABLES.values():
        for c in t.columns:
            if c.links_to is not None and c.name != t.key[0]:
                assert (t.name, c.name) in indexed, f"{t.name}.{c.name} has no index"


def test_a_version_4_store_upgrades_to_5_and_keeps_its_data(store_url, demo_once):
    old = open_store(store_url, upto=4)
    assert old.schema_version() == 4
    later = {c.name for t in TABLES.values() for c in t.columns if c.added_in > 4}  # contract v3's columns
    for frames in demo_once[0]:
        old.upsert({n: df.drop(columns=[c for c in df if c in later]) for n, df in frames.items()})
    before = store_data(store_url)
    old.engine.dispose()
    assert not any(name.startswith("ix_") for _, name in indexes_of(store_url))

    store = open_store(store_url)
    try:
        assert store.schema_version() == SCHEMA_VERSION
        after = store_data(store_url)
        # The same rows, the columns added since (all blank) left aside.
        for name, rows in after.items():
            keep = [i for i, c in enumerate(rows[0]) if c in before[name][0]]
            assert [tuple(r[i] for i in keep) for r in rows] == before[name], name
            new = [i for i, c in enumerate(rows[0]) if c not in before[name][0]]
            assert all(r[i] is None for r in rows[1:] for i in new), name
        assert {index_name(t, c) for t, c in M5_INDEXES} <= {name for _, name in indexes_of(store_url)}
        assert store.integrity_ok()
    finally:
        store.engine.dispose()


def test_the_committed_version_3_store_upgrades_to_5(tmp_path):
    db = tmp_path / "v3.db"
    shutil.copy(STORE_V3, db)
    store = open_store(str(db))
    try:
        assert store.schema_version() == SCHEMA_VERSION
        assert {index_name(t, c) for t, c in M5_INDEXES} <= {name for _, name in indexes_of(f"sqlite:///{db}")}
        assert store.coachee_ids() == ["C1"]
    finally:
        store.engine.dispose()


# ------------------------------------------------------------------ not ours, tampered


def test_a_database_of_another_application_is_refused_and_left_alone(pg_server, pg_url):
    name = sa.engine.make_url(pg_url).database
    with pg_server.connect(name) as conn:
        conn.execute("CREATE TABLE invoices (id int primary key, total numeric)")
    with pytest.raises(StoreError, match="not a Follow-up Workbook store.*invoices"):
        open_store(pg_url)
    assert set(store_contents(pg_url)) == {"invoices"}


def test_an_empty_database_is_not_a_store_when_one_must_exist(pg_url):
    with pytest.raises(UserError, match="no store in"):
        open_store(pg_url, create=False)
    assert store_contents(pg_url) == {}


@pytest.mark.parametrize(
    "tamper, named",
    [
        (
            "CREATE FUNCTION wipe() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN DELETE FROM coachees; "
            "RETURN NEW; END $$; CREATE TRIGGER wipe AFTER INSERT ON messages FOR EACH ROW EXECUTE FUNCTION wipe()",
            "trigger 'wipe'",
        ),
        ("CREATE VIEW everyone AS SELECT * FROM coachees", "view 'everyone'"),
        ("CREATE RULE keep AS ON DELETE TO messages DO INSTEAD NOTHING", "rule 'keep'"),
        ("ALTER TABLE coachees ADD COLUMN secret text", "coachees.secret is not a column"),
        ("DROP TABLE offers", "the table 'offers' is missing"),
    ],
)
def test_a_tampered_postgresql_store_is_refused_naming_what_changed(pg_server, pg_url, tamper, named):
    open_store(pg_url).engine.dispose()
    with pg_server.connect(sa.engine.make_url(pg_url).database) as conn:
        conn.execute(tamper)
    with pytest.raises(StoreError, match="has been altered") as caught:
        open_store(pg_url)
    assert named in str(caught.value)


# ------------------------------------------------------------------ the write lock


def test_a_writer_waits_for_the_one_writing_and_then_sees_its_commit(any_store):
    """The PostgreSQL advisory lock gives what SQLite's BEGIN IMMEDIATE gives: a
    second writer waits, and its read after the wait sees the first one's row."""
    other = open_store(any_store.url)
    seen, done = [], threading.Event()

    def second_writer():
        with other.writing() as conn:
            seen.append(other.existing(conn, "coachees", ["W1"]))
        done.set()

    try:
        with any_store.writing() as conn:
            any_store.upsert({"coachees": pd.DataFrame([{"coachee_id": "W1", "name": "First"}])}, conn)
            thread = threading.Thread(target=second_writer)
            thread.start()
            time.sleep(0.5)  # not a timing assertion: give the second writer time to try
            assert not done.is_set(), "the second writer did not wait for the first"
        thread.join(timeout=60)
        assert seen == [{"W1"}]
    finally:
        other.engine.dispose()


# ------------------------------------------------------------------ ids for the report command


def test_coachee_ids_for_the_report_command_on_both_engines(any_demo_store):
    assert coachee_ids(any_demo_store.url) == any_demo_store.coachee_ids() == sorted(any_demo_store.coachee_ids())
    assert len(coachee_ids(any_demo_store.url)) >= 3


@pytest.mark.parametrize(
    "url, message",
    [
        ("postgresql+psycopg://someone@127.0.0.1:1/practice", "cannot open the store at"),
        ("mysql://someone@db.example/practice", "only SQLite"),
        ("postgresql+nosuchdriver://someone@db.example/practice", "no database driver"),
    ],
)
def test_a_store_that_cannot_be_reached_is_one_line_through_the_cli(url, message, followup):
    proc = followup("due", "--all", db=url)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], proc.stderr
