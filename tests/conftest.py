"""Shared fixtures: a real SQLite file in a temp folder, loaded with the demo practice,
the same on a real PostgreSQL server (``store_url`` and friends, parametrised over
both engines), and the ``followup`` command run in this process or in one of its own.

Helpers (row builders, typed tables, readers of the store's file) are in builders.py.
"""

from __future__ import annotations

import itertools
import os
import secrets
import shutil

import pytest
from hypothesis import settings as _hypothesis_settings

from followup_lib import paths
from followup_lib.data.demo import load_demo
from followup_lib.data.store import open_store

from builders import (  # noqa: F401 (the others are still imported from here by some test modules)
    AS_OF,
    ROOT,
    chromium_path,
    require_chromium,
    run_cli,
    run_main,
    write_csvs,
)

# At the end of the run, no process started by a test may still be running.
pytest_plugins = ["process_check"]

# In CI, Hypothesis explores the same examples every run: a red build can be
# reproduced, never a coin toss. Locally it keeps searching afresh.
_hypothesis_settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI") == "true":
    _hypothesis_settings.load_profile("ci")


@pytest.fixture(autouse=True)
def no_coach_files(tmp_path, monkeypatch):
    """A coach's own data/settings.toml, data/templates or FOLLOWUP_DB must not change
    what a test sees (in this process, in ``main`` run here, or in the ``followup``
    commands and report kernels it starts)."""
    monkeypatch.setenv("FOLLOWUP_SETTINGS", str(tmp_path / "no-settings.toml"))
    monkeypatch.setenv("FOLLOWUP_TEMPLATES", str(tmp_path / "no-templates"))
    monkeypatch.setenv("FOLLOWUP_DB", f"sqlite:///{tmp_path / 'default-store.db'}")
    monkeypatch.delenv("FOLLOWUP_COACH", raising=False)  # a coach's own scope must not narrow a test


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'followup.db'}"


@pytest.fixture
def empty_store(db_url):
    store = open_store(db_url)
    yield store
    store.engine.dispose()


@pytest.fixture(scope="session")
def demo_once(tmp_path_factory):
    """``load_demo(store, shift=False)`` run once into an empty store: what it wrote
    (each ``Store.upsert`` call's frames, in order) and the tables it left."""
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('demo-once') / 'followup.db'}")
    writes = []
    upsert = store.upsert

    def recording(frames, conn=None):
        writes.append({name: df.copy(deep=True) for name, df in frames.items()})
        return upsert(frames, conn)

    store.upsert = recording
    try:
        load_demo(store, shift=False)
        assert writes, "load_demo wrote nothing through Store.upsert"
        return writes, store.load()
    finally:
        store.engine.dispose()


@pytest.fixture
def demo_store(empty_store, demo_once):
    """The demo practice (unshifted) in a store of its own: what ``load_demo`` writes
    into an empty store, written again without reading and validating the CSVs each
    time (test_demo.py checks it is the same store)."""
    writes, _ = demo_once
    for frames in writes:
        empty_store.upsert({name: df.copy(deep=True) for name, df in frames.items()})
    return empty_store


@pytest.fixture
def demo_tables(demo_once):
    """The demo practice (unshifted) as ``Store.load`` returns it: a copy of its one
    load per run, free to change."""
    return {name: df.copy(deep=True) for name, df in demo_once[1].items()}


@pytest.fixture
def demo_csv_dir(tmp_path):
    """A copy of the committed demo, safe to edit in a test."""
    dest = tmp_path / "demo_csv"
    shutil.copytree(paths.demo_dir(), dest)
    return dest


@pytest.fixture
def followup(capsys, monkeypatch):
    """``followup(*args, db=..., env=..., check=...)``: the command run in this
    process (``cli.main``); the result has returncode, stdout and stderr."""

    def run(*args: str, db: str | None = None, env: dict | None = None, check: bool = False):
        return run_main(capsys, monkeypatch, *args, db=db, env=env, check=check)

    return run


@pytest.fixture
def cli():
    """The installed ``followup`` command in a process of its own (``run_cli``)."""
    return run_cli


# ------------------------------------------------------------------ both engines
# PostgreSQL tests run against a real server: FOLLOWUP_TEST_PG is the URL of a
# database there to connect to as a superuser (default: the local Debian
# cluster over its socket, as root). Each test gets a throwaway database of its
# own, dropped after it. No server: skipped with the reason outside CI, a
# failure in CI (CI=true), which must test both engines.

PG_SERVER = os.environ.get("FOLLOWUP_TEST_PG", "postgresql+psycopg:///postgres?host=/var/run/postgresql")
ENGINES = ["sqlite", "postgresql"]
_pg_names = itertools.count(1)


class PgServer:
    """The test server: makes and drops throwaway databases (plain psycopg, autocommit)."""

    def __init__(self, url: str):
        import sqlalchemy as sa

        self.url = sa.engine.make_url(url)
        self.conninfo = self._conninfo(self.url)

    @staticmethod
    def _conninfo(url) -> dict:
        info = {"dbname": url.database or "postgres", "connect_timeout": 5}
        for key, value in (("user", url.username), ("password", url.password), ("host", url.host), ("port", url.port)):
            if value is not None:
                info[key] = value
        info.update({k: v for k, v in url.query.items() if isinstance(v, str)})
        return info

    def connect(self, dbname: str | None = None):
        import psycopg

        info = dict(self.conninfo)
        if dbname:
            info["dbname"] = dbname
        return psycopg.connect(autocommit=True, **info)

    def create(self, template: str | None = None) -> str:
        """A new empty database (or a copy of ``template``); returns its SQLAlchemy URL."""
        name = f"followup_test_{os.getpid()}_{next(_pg_names)}_{secrets.token_hex(3)}"
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url_of(name)

    def url_of(self, name: str) -> str:
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        import sqlalchemy as sa

        name = sa.engine.make_url(url).database
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_pg_server: list = []


def pg_server_or_skip() -> PgServer:
    """The test server, checked once per run: skip (or in CI fail) when none answers."""
    if not _pg_server:
        try:
            import psycopg  # noqa: F401

            server = PgServer(PG_SERVER)
            with server.connect() as conn:
                conn.execute("SELECT 1")
            _pg_server.append(server)
        except Exception as exc:  # noqa: BLE001 — any reason the server cannot be used
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            _pg_server.append(f"no PostgreSQL server: {PG_SERVER} ({reason}); set FOLLOWUP_TEST_PG")
    if isinstance(_pg_server[0], str):
        if os.environ.get("CI") == "true":
            pytest.fail(_pg_server[0] + " — CI must test both engines")
        pytest.skip(_pg_server[0])
    return _pg_server[0]


@pytest.fixture
def pg_server() -> PgServer:
    return pg_server_or_skip()


@pytest.fixture
def pg_url(pg_server):
    """The URL of a new, empty PostgreSQL database, dropped after the test."""
    url = pg_server.create()
    yield url
    pg_server.drop(url)


@pytest.fixture(params=ENGINES)
def store_url(request, tmp_path) -> str:
    """A store URL on each engine: a SQLite file, or a throwaway PostgreSQL database."""
    if request.param == "sqlite":  # not db_url's file: a test may use both
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def any_store(store_url):
    """An empty store on each engine."""
    store = open_store(store_url)
    yield store
    store.engine.dispose()


@pytest.fixture
def any_demo_store(any_store, demo_once):
    """The demo practice (unshifted) in a store of its own, on each engine."""
    writes, _ = demo_once
    for frames in writes:
        any_store.upsert({name: df.copy(deep=True) for name, df in frames.items()})
    return any_store


def store_contents(url_or_store, names=None) -> dict[str, list[tuple]]:
    """Every row of every table (or the ones named), header first then sorted,
    read with the plain driver (sqlite3 or psycopg), never with the code under test."""
    url = str(getattr(url_or_store, "url", url_or_store))
    if url.startswith("sqlite:///"):
        from builders import table_contents

        return table_contents(url, names)
    import sqlalchemy as sa

    server = pg_server_or_skip()
    with server.connect(sa.engine.make_url(url).database) as conn:
        if names is None:
            names = [
                r[0]
                for r in conn.execute(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = current_schema() ORDER BY table_name"
                )
            ]
        out = {}
        for name in names:
            cur = conn.execute(f'SELECT * FROM "{name}"')
            out[name] = [tuple(d.name for d in cur.description)] + sorted(cur.fetchall(), key=repr)
    return out


def store_data(url_or_store) -> dict[str, list[tuple]]:
    """``store_contents`` of the data tables only (not the migration log)."""
    from followup_lib.schema import TABLE_ORDER

    return store_contents(url_or_store, TABLE_ORDER)


def same_tables(a, b) -> None:
    """Two stores (stores, URLs or SQLite files, on either engine) hold the same
    rows, row_version included, compared as typed tables (each engine stores dates
    and booleans its own way)."""
    import pandas as pd

    from followup_lib.schema import TABLE_ORDER

    stores = [x if hasattr(x, "load") else open_store(str(x)) for x in (a, b)]
    try:
        left, right = (st.load() for st in stores)
        for name in TABLE_ORDER:
            pd.testing.assert_frame_equal(left[name], right[name], obj=name)
    finally:
        for st, given in zip(stores, (a, b)):
            if st is not given:
                st.engine.dispose()


@pytest.fixture
def contents():
    """``contents(store_or_url)``: every table, read with the plain driver of its engine."""
    return store_contents
