"""Crash during a write: an import killed with SIGKILL leaves the old state or the new one.

Each kill point is a fresh copy of a loaded store and a child process importing a
large generated practice into it. Most children are forked from this process (so
they start in milliseconds) and say when their write transaction begins; they are
killed at delays spread over the write itself. A few are the real ``followup
import`` command, killed at delays spread over its whole run. Afterwards the store
must open, pass its integrity check (SQLite's ``PRAGMA integrity_check``) and hold
exactly the old or exactly the new contents of every table.

Both engines: a SQLite file (each kill point a copy of the file) and a PostgreSQL
database (each kill point a copy made with ``CREATE DATABASE … TEMPLATE``), where
the server must roll back the transaction of a client killed mid-write.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from followup_lib.data.demo import generate_practice, write_practice
from followup_lib.data.store import open_store
from followup_lib.data.transfer import import_path
from followup_lib.schema import TABLE_ORDER, TABLES

from conftest import ENGINES, pg_server_or_skip


def digests(db: str) -> dict[str, str]:
    """A fingerprint of each table's full contents (every column, row_version
    included), read with the plain driver of the store's engine."""
    if db.startswith("sqlite:///"):
        conn = sqlite3.connect(db.removeprefix("sqlite:///"))
        collate = ""
    else:
        conn = pg_server_or_skip().connect(sa.engine.make_url(db).database)
        collate = ' COLLATE "C"'
    try:
        out = {}
        for name in TABLE_ORDER:
            order = ", ".join(f'"{k}"{collate}' for k in TABLES[name].key)
            h = hashlib.sha256()
            for row in conn.execute(f'SELECT * FROM "{name}" ORDER BY {order}'):
                h.update(repr(tuple(row)).encode())
            out[name] = h.hexdigest()
        return out
    finally:
        conn.close()


class Copies:
    """Fresh copies of the old store, one per kill point, on the practice's engine."""

    def __init__(self, engine: str, old: str, folder: Path):
        self.engine, self.old, self.folder = engine, old, folder
        self.n = 0

    def make(self) -> str:
        self.n += 1
        if self.engine == "sqlite":
            db = self.folder / f"copy{self.n}.db"
            shutil.copy(self.old.removeprefix("sqlite:///"), db)
            return f"sqlite:///{db}"
        return pg_server_or_skip().create(template=sa.engine.make_url(self.old).database)

    def drop(self, url: str) -> None:
        if self.engine == "sqlite":
            Path(url.removeprefix("sqlite:///")).unlink()
        else:
            pg_server_or_skip().drop(url)


pytestmark = pytest.mark.skipif(
    not hasattr(signal, "SIGKILL") or sys.platform == "win32", reason="needs POSIX signals and fork"
)

OLD_COACHEES, NEW_COACHEES = 40, 60
KILLS = 20


@pytest.fixture(scope="module", params=ENGINES)
def practice(request, tmp_path_factory):
    """(copies of a store holding the old practice, a folder with the new one, old
    and new contents, how long the import's write transaction takes)."""
    base = tmp_path_factory.mktemp("crash")
    if request.param == "sqlite":
        old_db = f"sqlite:///{base / 'old.db'}"
    else:
        old_db = pg_server_or_skip().create()
    store = open_store(old_db)
    write_practice(generate_practice(OLD_COACHEES, seed=1), base / "old_csv")
    import_path(store, base / "old_csv")
    store.engine.dispose()
    # The new file replaces every old id with other values and adds as many again.
    new_csv = base / "new_csv"
    write_practice(generate_practice(NEW_COACHEES, seed=2), new_csv)

    copies = Copies(request.param, old_db, base)
    reference = copies.make()
    store = open_store(reference)
    began = []
    original = store.writing

    def timed_writing():
        began.append(time.perf_counter())
        return original()

    store.writing = timed_writing
    import_path(store, new_csv)
    duration = time.perf_counter() - began[0]  # the write transaction alone
    store.engine.dispose()
    old, new = digests(old_db), digests(reference)
    copies.drop(reference)
    for name in TABLE_ORDER:  # the import changes every table
        assert old[name] != new[name], name
    yield copies, new_csv, old, new, duration
    if request.param != "sqlite":
        pg_server_or_skip().drop(old_db)


def _import_and_say_when_writing(db: str, source: str, writing) -> None:
    """The child: a real import, with a signal at the moment its write transaction opens."""
    store = open_store(db)
    original = store.writing

    def writing_then_signal():
        writing.set()
        return original()

    store.writing = writing_then_signal
    import_path(store, source)


def _outcome(db: str, old: dict, new: dict) -> str:
    store = open_store(db)  # opening recovers from the crash (rolls the log back)
    try:
        assert store.integrity_ok(), f"{db}: integrity check failed"
    finally:
        store.engine.dispose()
    got = digests(db)
    if got == old:
        return "old"
    if got == new:
        return "new"
    state = {n: "old" if got[n] == old[n] else "new" if got[n] == new[n] else "neither" for n in got}
    raise AssertionError(f"{db}: a mix of old and new: {state}")


@pytest.mark.slow
def test_import_killed_during_its_write_leaves_old_or_new_never_a_mix(practice, tmp_path):
    copies, new_csv, old, new, duration = practice
    ctx = mp.get_context("fork")
    outcomes = []
    i = 0
    while sum(killed for _, killed, _ in outcomes) < KILLS:
        assert i < 3 * KILLS, f"could not kill {KILLS} imports in time: {outcomes}"
        # Spread evenly (golden-ratio steps) from the write's first statement to its commit.
        delay = duration * ((i * 0.618034) % 1.0)
        db = copies.make()
        writing = ctx.Event()
        child = ctx.Process(target=_import_and_say_when_writing, args=(db, str(new_csv), writing))
        child.start()
        while not writing.wait(0.05):
            assert child.is_alive(), f"the import failed before writing (exit code {child.exitcode})"
        time.sleep(delay)
        os.kill(child.pid, signal.SIGKILL)
        child.join(30)
        outcomes.append((round(delay, 3), child.exitcode == -signal.SIGKILL, _outcome(db, old, new)))
        copies.drop(db)
        i += 1
    # A kill before the commit leaves the old state: seen, so the kill points were inside the write.
    assert any(killed and got == "old" for _, killed, got in outcomes), outcomes
    assert len({d for d, killed, _ in outcomes if killed}) >= KILLS  # all at different points


@pytest.mark.slow
def test_followup_import_killed_at_any_moment_leaves_old_or_new(practice, tmp_path):
    copies, new_csv, old, new, _ = practice
    exe = Path(sys.executable).with_name("followup")
    # Time one whole run, then kill others spread across it (start-up, reading, writing).
    db = copies.make()
    started = time.perf_counter()
    subprocess.run([str(exe), "--db", db, "import", str(new_csv)], check=True, capture_output=True)
    whole = time.perf_counter() - started
    assert _outcome(db, old, new) == "new"
    copies.drop(db)
    seen = []
    for share in (0.6, 0.75, 0.85, 0.95):
        db = copies.make()
        proc = subprocess.Popen(
            [str(exe), "--db", db, "import", str(new_csv)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(whole * share)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        seen.append(_outcome(db, old, new))
        copies.drop(db)
    assert set(seen) <= {"old", "new"}
