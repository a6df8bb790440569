"""The store on both engines (a real SQLite file, a real PostgreSQL database):
migrations, upserts, row versions, two writers, backups and restores, and a store
made by the first schema version.

What a store holds is read with the plain driver of its engine (``sqlite3`` through
``builders.table_contents`` and friends, psycopg through ``conftest.store_contents``),
never with the code under test. Tests of the SQLite file itself (its bytes, WAL,
the committed fixtures, which are SQLite files) stay SQLite-only.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from followup_lib.data.store import ROW_VERSION, SCHEMA_VERSION, ConflictError, StoreError, open_store
from followup_lib.schema import TABLE_ORDER, TABLES

from builders import FIXTURES, db_path, file_bytes, table_contents
from conftest import same_tables, store_contents, store_data

STORE_V1 = FIXTURES / "store_v1.db"
# The first release's demo practice (data/demo as it was then), from which
# store_v1.db was made: the demo has grown since, the fixture has not.
DEMO_V1 = FIXTURES / "demo_v1"


# ------------------------------------------------------------------ helpers


def python_script(tmp_path: Path, name: str, body: str) -> Path:
    """A small Python program for a second process (run with this interpreter)."""
    p = tmp_path / name
    p.write_text(textwrap.dedent(body))
    return p


def spawn(script: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(script), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(proc: subprocess.Popen, timeout: float = 120) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"writer failed ({proc.returncode}):\n{err}"
    assert "locked" not in err.lower(), err
    return out


def coachee(cid: str, **values) -> dict:
    return {
        "coachee_id": cid,
        "name": values.pop("name", f"Coachee {cid}"),
        "email": None,
        "coach": None,
        "notes": None,
        **values,
    }


# ------------------------------------------------------------------ migrations


def test_new_store_is_at_current_schema_with_every_step_recorded(any_store):
    assert any_store.schema_version() == SCHEMA_VERSION
    tables = store_contents(any_store)
    log = tables["followup_schema"][1:]
    assert sorted(r[0] for r in log) == list(range(1, SCHEMA_VERSION + 1))
    for name in TABLE_ORDER:
        cols = list(tables[name][0])
        # Columns added by later migrations come after row_version: compare as sets.
        assert sorted(cols) == sorted(TABLES[name].column_names + ["row_version"]), name
        assert len(cols) == len(set(cols)), name


def test_a_new_sqlite_store_is_in_wal_mode(empty_store):
    # SQLite only: WAL is how a SQLite store's readers never wait for its writer.
    conn = sqlite3.connect(db_path(empty_store))
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_reopening_a_store_changes_nothing(any_demo_store):
    before = store_contents(any_demo_store)
    any_demo_store.engine.dispose()
    open_store(any_demo_store.url).engine.dispose()
    assert store_contents(any_demo_store) == before


def test_reopening_a_sqlite_store_changes_not_a_byte(demo_store):
    before = file_bytes(demo_store)
    demo_store.engine.dispose()
    open_store(demo_store.url).engine.dispose()
    assert file_bytes(demo_store) == before


def test_a_store_newer_than_the_code_is_refused(any_store):
    with any_store.writing() as conn:
        conn.exec_driver_sql("INSERT INTO followup_schema VALUES (99, 'from the future', 'x')")
    any_store.engine.dispose()
    with pytest.raises(StoreError, match="newer than this code"):
        open_store(any_store.url)


def test_store_made_at_version_1_upgrades_and_keeps_its_data(store_url):
    old = open_store(store_url, upto=1)
    assert old.schema_version() == 1
    with old.writing() as conn:
        conn.exec_driver_sql("INSERT INTO coachees (coachee_id, name) VALUES ('C1', 'Ada Old')")
    old.engine.dispose()
    assert "row_version" not in store_contents(store_url, ["coachees"])["coachees"][0]

    store = open_store(store_url)
    assert store.schema_version() == SCHEMA_VERSION
    row = store.row("coachees", {"coachee_id": "C1"})
    assert row["name"] == "Ada Old" and row["row_version"] == 1
    # and it works as a current store: an edit from a stale version is refused
    store.save_row("coachees", coachee("C1", name="Ada New"), expected_version=1)
    with pytest.raises(ConflictError):
        store.save_row("coachees", coachee("C1", name="Ada Stale"), expected_version=1)
    store.engine.dispose()


def test_committed_version_1_store_opens_with_current_code(tmp_path, empty_store, followup):
    """tests/fixtures/store_v1.db was made by schema version 1 and holds the first
    release's demo practice (tests/fixtures/demo_v1)."""
    old = tmp_path / "old.db"
    shutil.copy(STORE_V1, old)
    before = table_contents(old)
    assert before["followup_schema"][1:][-1][0] == 1
    assert len(before["applications"]) - 1 == 12  # the practice, not an empty store

    store = open_store(str(old))
    assert store.schema_version() == SCHEMA_VERSION
    assert store.integrity_ok()
    # Read with plain sqlite3: every row it held, every value as it was; what later
    # versions added is blank (row_version 1), and the tables they added are empty.
    after = table_contents(old)
    for name in TABLE_ORDER:
        if name not in before:
            assert after[name][1:] == [], name
            continue
        old_cols, new_cols = before[name][0], after[name][0]
        added = [c for c in new_cols if c not in old_cols]
        assert set(old_cols) < set(new_cols) and ROW_VERSION in added, name
        at = [new_cols.index(c) for c in old_cols]
        kept = sorted((tuple(r[i] for i in at) for r in after[name][1:]), key=repr)
        assert kept == before[name][1:], name
        for r in after[name][1:]:
            assert {c: r[new_cols.index(c)] for c in added} == {c: (1 if c == ROW_VERSION else None) for c in added}
    # The current code reads it exactly as it reads the same first-release files imported today.
    followup("import", str(DEMO_V1), db=empty_store.url, check=True)
    upgraded, current = store.load(), empty_store.load()
    for name in TABLE_ORDER:
        pd.testing.assert_frame_equal(upgraded[name], current[name], check_dtype=True, obj=name)
    store.engine.dispose()
    # The command line sees the same practice in both.
    a = followup("export", str(tmp_path / "from_old"), db=str(old), check=True)
    b = followup("export", str(tmp_path / "from_new"), db=empty_store.url, check=True)
    assert a.returncode == b.returncode == 0
    exported = sorted(p.name for p in (tmp_path / "from_new").iterdir())
    assert exported == sorted(p.name for p in (tmp_path / "from_old").iterdir()) and len(exported) == len(TABLE_ORDER)
    for name in exported:
        assert (tmp_path / "from_old" / name).read_bytes() == (tmp_path / "from_new" / name).read_bytes(), name


# ------------------------------------------------------------------ upsert and row versions


def test_upsert_replaces_by_key_adds_new_and_keeps_the_rest(any_demo_store):
    before = any_demo_store.load()["coachees"].set_index("coachee_id")
    frame = pd.DataFrame([coachee("C001", name="Maya L.", notes="renamed"), coachee("C900", name="New Person")])
    counts = any_demo_store.upsert({"coachees": frame})
    assert counts == {"coachees": {"added": 1, "changed": 1}}
    after = any_demo_store.load()["coachees"].set_index("coachee_id")
    assert after.loc["C001", "name"] == "Maya L." and after.loc["C001", "row_version"] == 2
    assert after.loc["C900", "row_version"] == 1
    pd.testing.assert_frame_equal(after.loc[["C002", "C003"]], before.loc[["C002", "C003"]])


def test_upsert_of_identical_rows_moves_no_row_version(any_demo_store):
    tables = any_demo_store.load()
    before = store_data(any_demo_store)
    counts = any_demo_store.upsert({n: df.drop(columns="row_version") for n, df in tables.items()})
    assert all(c == {"added": 0, "changed": 0} for c in counts.values()), counts
    assert store_data(any_demo_store) == before


def test_upsert_with_some_columns_keeps_the_others(any_demo_store):
    any_demo_store.upsert({"coachees": pd.DataFrame([{"coachee_id": "C001", "notes": "only notes"}])})
    row = any_demo_store.row("coachees", {"coachee_id": "C001"})
    assert row["notes"] == "only notes" and row["name"] == "Maya Lindqvist"


def test_upsert_is_all_or_nothing(any_demo_store):
    before = store_data(any_demo_store)
    good = pd.DataFrame([coachee("C777")])
    bad = pd.DataFrame([{"application_id": None, "coachee_id": "C001", "company": "X", "role": "Y"}])
    with pytest.raises(Exception):  # noqa: B017 — whatever the driver raises, nothing may be written
        any_demo_store.upsert({"coachees": good, "applications": bad})
    assert store_data(any_demo_store) == before


def test_save_row_new_then_edit_then_stale_edit(any_store):
    v = any_store.save_row("coachees", coachee("C1", name="Ada"))
    assert v == 1
    with pytest.raises(ConflictError, match="already exists"):
        any_store.save_row("coachees", coachee("C1", name="Someone else"))
    assert any_store.save_row("coachees", coachee("C1", name="Ada B"), expected_version=1) == 2
    before = store_data(any_store)
    with pytest.raises(ConflictError, match="changed elsewhere"):
        any_store.save_row("coachees", coachee("C1", name="Ada from an old form"), expected_version=1)
    assert store_data(any_store) == before
    assert any_store.row("coachees", {"coachee_id": "C1"})["name"] == "Ada B"


def test_two_forms_open_on_one_record_second_save_is_told(store_url):
    """Two connections (a notebook and the app): both open version 1, both save."""
    first, second = open_store(store_url), open_store(store_url)
    first.save_row("coachees", coachee("C1", name="Ada"))
    seen_by_first = first.row("coachees", {"coachee_id": "C1"})["row_version"]
    seen_by_second = second.row("coachees", {"coachee_id": "C1"})["row_version"]
    first.save_row("coachees", coachee("C1", name="Ada (first)"), expected_version=seen_by_first)
    with pytest.raises(ConflictError):
        second.save_row("coachees", coachee("C1", name="Ada (second)"), expected_version=seen_by_second)
    assert second.row("coachees", {"coachee_id": "C1"})["name"] == "Ada (first)"
    first.engine.dispose()
    second.engine.dispose()


def test_load_for_one_coachee_holds_only_their_rows(any_demo_store):
    tables = any_demo_store.load(coachee_id="C002")
    assert set(tables["coachees"]["coachee_id"]) == {"C002"}
    apps = set(tables["applications"]["application_id"])
    assert apps and set(any_demo_store.load()["applications"].query("coachee_id == 'C002'")["application_id"]) == apps
    for name in ("interviews", "promises", "messages", "offers", "reference_uses"):
        assert set(tables[name]["application_id"]) <= apps, name


# ------------------------------------------------------------------ two writers at once

WRITER = """
    import json, sys, time
    import pandas as pd
    from followup_lib.data.store import ConflictError, open_store

    url, me, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    store = open_store(url)
    mine, increments, conflicts, batches = {}, 0, 0, 0
    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline or i < 20:
        i += 1
        # a new record, saved from a form
        cid = f"{me}-{i}"
        store.save_row("coachees", {"coachee_id": cid, "name": f"{me} person {i}"})
        mine[cid] = f"{me} person {i}"
        # an edit of my own earlier record, from its current version
        if i > 1:
            old = f"{me}-{i - 1}"
            v = store.row("coachees", {"coachee_id": old})["row_version"]
            store.save_row("coachees", {"coachee_id": old, "name": f"{me} edited {i - 1}"}, expected_version=v)
            mine[old] = f"{me} edited {i - 1}"
        # a batch of messages in one transaction (an import)
        if i % 5 == 0:
            batches += 1
            rows = [{"message_id": f"{me}-M{batches}-{k}", "application_id": "A001", "on": "2026-11-01",
                     "direction": "received", "summary": me} for k in range(50)]
            store.upsert({"messages": pd.DataFrame(rows)})
        # the shared record both processes edit: read, add one, save from what was read
        while True:
            row = store.row("coachees", {"coachee_id": "SHARED"})
            try:
                store.save_row("coachees", {"coachee_id": "SHARED", "name": "Shared",
                                            "notes": str(int(row["notes"]) + 1)},
                               expected_version=row["row_version"])
                increments += 1
                break
            except ConflictError:
                conflicts += 1
    print(json.dumps({"mine": mine, "increments": increments, "conflicts": conflicts, "batches": batches}))
"""


@pytest.mark.slow
def test_two_writer_processes_lose_nothing(any_demo_store, tmp_path):
    any_demo_store.save_row("coachees", coachee("SHARED", name="Shared", notes="0"))
    script = python_script(tmp_path, "writer.py", WRITER)
    procs = [spawn(script, any_demo_store.url, name, 3) for name in ("session", "app")]
    # A third party reads all along (the weekly report): never blocked, never an error.
    reads = 0
    while any(p.poll() is None for p in procs):
        tables = any_demo_store.load()
        assert len(tables["coachees"]) >= 4
        reads += 1
    results = [json.loads(finish(p)) for p in procs]
    assert reads > 0

    stored = any_demo_store.load()
    names = stored["coachees"].set_index("coachee_id")["name"]
    for r in results:
        assert r["mine"], "a writer saved nothing"
        for cid, name in r["mine"].items():
            assert names.get(cid) == name, f"{cid}: {names.get(cid)!r} != {name!r}"
    msgs = set(stored["messages"]["message_id"])
    for r, who in zip(results, ("session", "app")):
        assert {f"{who}-M{b}-{k}" for b in range(1, r["batches"] + 1) for k in range(50)} <= msgs
    # Every increment of the shared record survived: none was silently overwritten.
    total = sum(r["increments"] for r in results)
    assert int(stored["coachees"].set_index("coachee_id").loc["SHARED", "notes"]) == total
    assert any_demo_store.integrity_ok()


RACER = """
    import json, os, sys, time
    from pathlib import Path
    from followup_lib.data.store import ConflictError, open_store

    url, me, folder = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    store = open_store(url)
    seen = store.row("coachees", {"coachee_id": "C001"})["row_version"]
    (folder / f"ready-{me}").touch()
    while not (folder / "go").exists():
        time.sleep(0.005)
    try:
        v = store.save_row("coachees", {"coachee_id": "C001", "name": f"saved by {me}"}, expected_version=seen)
        print(json.dumps({"saved": v}))
    except ConflictError as exc:
        print(json.dumps({"conflict": str(exc)}))
"""


def test_same_record_saved_by_two_processes_at_once_one_is_told(any_demo_store, tmp_path):
    script = python_script(tmp_path, "racer.py", RACER)
    procs = [spawn(script, any_demo_store.url, me, tmp_path) for me in ("session", "app")]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready-{me}").exists() for me in ("session", "app")):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), "writers did not start"
        time.sleep(0.01)
    (tmp_path / "go").touch()
    results = [json.loads(finish(p)) for p in procs]
    saved = [r for r in results if "saved" in r]
    told = [r for r in results if "conflict" in r]
    assert len(saved) == 1 and len(told) == 1, results
    assert "changed elsewhere" in told[0]["conflict"]
    winner = ("session", "app")[results.index(saved[0])]
    row = any_demo_store.row("coachees", {"coachee_id": "C001"})
    assert row["name"] == f"saved by {winner}" and row["row_version"] == saved[0]["saved"] == 2


# ------------------------------------------------------------------ backup and restore

BATCHER = """
    import sys, time
    from pathlib import Path
    import pandas as pd
    from followup_lib.data.store import open_store

    url, stop = sys.argv[1], Path(sys.argv[2])
    store = open_store(url)
    deadline = time.monotonic() + 120  # a safety net; the test says when to stop
    batch = 0
    while not stop.exists() and time.monotonic() < deadline:
        batch += 1
        rows = [{"message_id": f"B{batch:05d}-{k:03d}", "application_id": "A001", "on": "2026-11-01",
                 "direction": "sent", "summary": "x" * 200} for k in range(200)]
        # the batch and the counter that says it is complete, in one transaction
        store.upsert({"messages": pd.DataFrame(rows),
                      "coachees": pd.DataFrame([{"coachee_id": "COUNTER", "name": "c", "notes": str(batch)}])})
    print(batch)
"""


def _batch_counts(url: str) -> tuple[dict, tuple | None]:
    """(rows per batch, the COUNTER row) read in one snapshot with the plain driver."""
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(db_path(url), isolation_level=None)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            conn.execute("BEGIN")  # one snapshot for both reads, while the writer goes on
            counts = dict(conn.execute(BATCH_SQL))
            row = conn.execute(COUNTER_SQL).fetchone()
        finally:
            conn.close()
        return counts, row
    from conftest import pg_server_or_skip

    with pg_server_or_skip().connect(sa.engine.make_url(url).database) as conn:
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            counts = dict(conn.execute(BATCH_SQL).fetchall())
            row = conn.execute(COUNTER_SQL).fetchone()
    return counts, row


BATCH_SQL = "SELECT substr(message_id, 1, 6), COUNT(*) FROM messages WHERE message_id LIKE 'B%' GROUP BY 1"
COUNTER_SQL = "SELECT notes FROM coachees WHERE coachee_id = 'COUNTER'"


def _complete_batches(db) -> int:
    """How many whole batches a store (a URL, a store, or a SQLite file) holds;
    fails if any batch is partly there."""
    url = str(getattr(db, "url", db))
    counts, row = _batch_counts(url if "://" in url else f"sqlite:///{url}")
    counter = int(row[0]) if row else 0
    assert all(n == 200 for n in counts.values()), "a batch is half there"
    assert len(counts) == counter, (len(counts), counter)
    return counter


@pytest.mark.slow
def test_backup_while_another_process_writes_is_consistent_and_restores(any_demo_store, tmp_path, followup):
    demo_store = any_demo_store
    stop = tmp_path / "stop"
    writer = spawn(python_script(tmp_path, "batcher.py", BATCHER), demo_store.url, stop)
    backups = []
    deadline = time.monotonic() + 60
    while _complete_batches(demo_store) < 3:  # let the writer get going
        assert writer.poll() is None and time.monotonic() < deadline, "the writer did not start"
        time.sleep(0.05)
    for i in range(3):
        proc = followup("backup", str(tmp_path / f"copy{i}.db"), db=demo_store.url)
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr
        backups.append(tmp_path / f"copy{i}.db")
        assert not list(tmp_path.glob("*.partial"))
    stop.touch()
    total = int(finish(writer))
    assert _complete_batches(demo_store) == total
    caught = [_complete_batches(b) for b in backups]
    assert caught == sorted(caught) and caught[-1] > 0, caught

    # A backup to a folder gets a dated name.
    folder = tmp_path / "backups"
    folder.mkdir()
    assert followup("backup", str(folder), db=demo_store.url).returncode == 0
    assert len(list(folder.glob("followup-*.db"))) == 1

    # Restore brings the chosen copy back, whole.
    chosen = backups[0]
    demo_store.engine.dispose()
    proc = followup("restore", str(chosen), "--force", db=demo_store.url)
    assert proc.returncode == 0, proc.stderr
    assert _complete_batches(demo_store) == caught[0] < total
    same_tables(demo_store, chosen)
    if demo_store.engine_name == "sqlite":  # the very same file contents
        assert table_contents(demo_store) == table_contents(chosen)


def test_restore_refuses_a_file_that_is_not_a_store(any_demo_store, tmp_path, followup):
    before = store_contents(any_demo_store)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database at all" * 100)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    any_demo_store.engine.dispose()
    for source in (junk, other):
        proc = followup("restore", str(source), "--force", db=any_demo_store.url)
        assert proc.returncode != 0
        assert "nothing was restored" in proc.stderr and "Traceback" not in proc.stderr
    assert store_contents(any_demo_store) == before


def test_restore_refuses_a_missing_file_and_a_backup_from_newer_code(any_demo_store, tmp_path, followup):
    newer = tmp_path / "newer.db"
    shutil.copy(STORE_V1, newer)
    conn = sqlite3.connect(newer)
    with conn:
        conn.execute("INSERT INTO followup_schema VALUES (99, 'from the future', 'x')")
    conn.close()
    before = store_contents(any_demo_store)
    any_demo_store.engine.dispose()
    for source, message in ((tmp_path / "missing.db", "does not exist"), (newer, "newer workbook")):
        proc = followup("restore", str(source), "--force", db=any_demo_store.url)
        assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
        assert message in proc.stderr and "nothing was restored" in proc.stderr
    assert store_contents(any_demo_store) == before


def test_restore_of_a_version_1_backup_upgrades_it(any_store, tmp_path):
    upgraded = tmp_path / "upgraded.db"  # the same file, upgraded in place by opening it
    shutil.copy(STORE_V1, upgraded)
    open_store(str(upgraded)).engine.dispose()
    before = STORE_V1.read_bytes()
    any_store.restore(STORE_V1)
    assert STORE_V1.read_bytes() == before  # the backup itself is never changed
    assert any_store.schema_version() == SCHEMA_VERSION
    same_tables(any_store, upgraded)
    assert len(table_contents(upgraded)["applications"]) > 1  # the demo practice, not two empty stores


def test_backup_then_restore_round_trip_in_process(any_demo_store, tmp_path):
    copy = any_demo_store.backup(tmp_path / "b.db")
    before = store_contents(any_demo_store)
    any_demo_store.save_row("coachees", coachee("C500"))
    assert store_contents(any_demo_store) != before
    any_demo_store.restore(copy)
    assert store_contents(any_demo_store) == before
    assert any_demo_store.integrity_ok()
