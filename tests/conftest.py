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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import settings as _hypothesis_settings

from followup_lib import paths
from followup_lib.data.demo import load_demo
from followup_lib.data.store import open_store

from builders import (  # noqa: F401 (the others are still imported from here by some test modules)
    AS_OF,
    ROOT,
    checkpoint,
    chromium_path,
    copy_sqlite,
    require_chromium,
    run_cli,
    run_main,
    write_csvs,
)
from process_check import fail_the_run

# At the end of the run, no process started by a test may still be running.
pytest_plugins = ["process_check"]

# In CI, Hypothesis explores the same examples every run: a red build can be
# reproduced, never a coin toss. Locally it keeps searching afresh.
_hypothesis_settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI") == "true":
    _hypothesis_settings.load_profile("ci")


# ------------------------------------------------------------------ the checkout's data/
# A test writes in its own temp folder, never in the checkout's data/ (where a
# coach's own store, settings and the session's day live): a file that appears
# there during the run fails it, named.
_DATA_BEFORE: set[Path] = set()


def _data_files() -> set[Path]:
    return {p for p in (ROOT / "data").rglob("*") if p.is_file()}


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):  # the controller (or a run without workers)
        _DATA_BEFORE.update(_data_files())


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):
        return
    new = sorted(str(p.relative_to(ROOT)) for p in _data_files() - _DATA_BEFORE)
    if not new:
        return
    fail_the_run(session, f"{len(new)} file(s) written into the checkout's data/ by the test run", new)


# ------------------------------------------------------------------ two workers
# `make test` runs the suite on two pytest-xdist workers (-n 2 --dist loadfile): a
# module's tests on one worker, so its module-scoped fixtures (an app server, a
# browser, an executed notebook) are made once. The modules that serve the Voilà
# app go to one worker, one after another: two apps' kernels and browsers at once
# on two cores outpace the pages' timeouts.
APP_MODULES = frozenset(
    {"test_app_browser.py", "test_app_cache.py", "test_app_guard.py", "test_app_process.py", "test_app_security.py"}
)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class ModulesAndTheApp(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = super()._split_scope(nodeid)
            return "the Voilà app's modules" if module.rsplit("/", 1)[-1] in APP_MODULES else module

    return ModulesAndTheApp(config, log)


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
def db_url(tmp_path, request) -> str:
    path = tmp_path / "followup.db"
    if "demo_store" in request.fixturenames:
        # The demo store's file: a copy of the one load_demo wrote once this run.
        copy_sqlite(request.getfixturevalue("demo_once_file"), path)
    return f"sqlite:///{path}"


@pytest.fixture
def empty_store(db_url):
    store = open_store(db_url)
    yield store
    store.engine.dispose()


@pytest.fixture(scope="session")
def demo_once(tmp_path_factory):
    """``load_demo(store, shift=False)`` run once into an empty store: what it wrote
    (each ``Store.upsert`` call's frames, in order) and the tables it left."""
    return _demo_once(tmp_path_factory)[:2]


@pytest.fixture(scope="session")
def demo_once_file(tmp_path_factory) -> Path:
    """The SQLite file ``demo_once`` loaded the demo into (checkpointed: the file
    alone holds it). Never opened by a test: copied with ``copy_sqlite``."""
    return _demo_once(tmp_path_factory)[2]


_demo_made: list = []


def _demo_once(tmp_path_factory) -> tuple:
    if _demo_made:
        return _demo_made[0]
    path = tmp_path_factory.mktemp("demo-once") / "followup.db"
    store = open_store(f"sqlite:///{path}")
    writes = []
    upsert = store.upsert

    def recording(frames, conn=None):
        writes.append({name: df.copy(deep=True) for name, df in frames.items()})
        return upsert(frames, conn)

    store.upsert = recording
    try:
        load_demo(store, shift=False)
        assert writes, "load_demo wrote nothing through Store.upsert"
        tables = store.load()
    finally:
        store.engine.dispose()
    checkpoint(path)
    _demo_made.append((writes, tables, path))
    return _demo_made[0]


@pytest.fixture(scope="session")
def empty_store_file(tmp_path_factory) -> Path:
    """A SQLite store at this schema version holding no rows (checkpointed), to copy."""
    path = tmp_path_factory.mktemp("empty-once") / "store.db"
    open_store(f"sqlite:///{path}").engine.dispose()
    checkpoint(path)
    return path


@pytest.fixture
def demo_store(empty_store, demo_once):
    """The demo practice (unshifted) in a store of its own: a copy of the file
    ``load_demo`` wrote into an empty store once this run (test_demo.py checks it
    is the same store); written again from its recorded writes when the store was
    asked for some other way (``getfixturevalue``) and holds nothing yet."""
    if empty_store.is_empty():
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
        self._dropper: ThreadPoolExecutor | None = None
        self._drops: list = []
        self._templates: dict[str, str] = {}

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
        """A new empty database (or a copy of ``template``, a name or a URL); returns
        its SQLAlchemy URL."""
        import sqlalchemy as sa

        if template and "/" in template:
            template = sa.engine.make_url(template).database
        name = f"followup_test_{os.getpid()}_{next(_pg_names)}_{secrets.token_hex(3)}"
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url_of(name)

    def url_of(self, name: str) -> str:
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        """Drop the database, in the background: PostgreSQL makes each DROP DATABASE
        wait for a checkpoint, which the next tests need not wait for. Every drop
        is done (and any failure raised) by ``finish_drops``, at the end of the run."""
        import sqlalchemy as sa

        name = sa.engine.make_url(url).database
        if self._dropper is None:
            self._dropper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-drop")
        self._drops.append(self._dropper.submit(self._drop_now, name))

    def _drop_now(self, name: str) -> None:
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def finish_drops(self) -> None:
        if self._dropper is not None:
            self._dropper.shutdown(wait=True)
            self._dropper = None
        drops, self._drops = self._drops, []
        for done in drops:
            done.result()  # a drop that failed fails the run

    def template(self, kind: str) -> str:
        """The name of a database made once this run to be copied with ``create``:
        "store", a store at this schema version holding no rows; "demo", the demo
        practice (unshifted) in such a store. Dropped by ``finish_drops``' caller."""
        if kind not in self._templates:
            source = self.template("store") if kind == "demo" else None
            url = self.create(template=source)
            store = open_store(url)
            try:
                if kind == "demo":
                    for frames in _demo_once_writes():
                        store.upsert({name: df.copy(deep=True) for name, df in frames.items()})
            finally:
                store.engine.dispose()
            self._templates[kind] = url
        return self._templates[kind]

    def drop_templates(self) -> None:
        for url in self._templates.values():
            self.drop(url)
        self._templates.clear()


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


@pytest.fixture(scope="session", autouse=True)
def _pg_cleanup():
    """At the end of the run: the templates dropped, and every drop done."""
    yield
    if _pg_server and not isinstance(_pg_server[0], str):
        _pg_server[0].drop_templates()
        _pg_server[0].finish_drops()


def _demo_once_writes() -> list:
    if not _demo_made:
        raise AssertionError("the demo template is made after demo_once")
    return _demo_made[0][0]


@pytest.fixture(params=ENGINES)
def store_url(request, tmp_path) -> str:
    """A store URL on each engine: a SQLite file, or a throwaway PostgreSQL database.

    Empty, unless the test also asks for ``any_store`` (then it is that store: a
    copy of one made at this schema version once this run) or ``any_demo_store``
    (a copy of the demo loaded once this run)."""
    wants = (
        "demo" if "any_demo_store" in request.fixturenames else "store" if "any_store" in request.fixturenames else None
    )
    if wants == "demo":
        request.getfixturevalue("demo_once")
    if request.param == "sqlite":  # not db_url's file: a test may use both
        path = tmp_path / "store.db"
        if wants:
            copy_sqlite(request.getfixturevalue("demo_once_file" if wants == "demo" else "empty_store_file"), path)
        return f"sqlite:///{path}"
    if wants is None:
        return request.getfixturevalue("pg_url")
    server = pg_server_or_skip()
    url = server.create(template=server.template(wants))
    request.addfinalizer(lambda: server.drop(url))
    return url


@pytest.fixture
def any_store(store_url):
    """An empty store on each engine."""
    store = open_store(store_url)
    yield store
    store.engine.dispose()


@pytest.fixture
def any_demo_store(any_store, demo_once):
    """The demo practice (unshifted) in a store of its own, on each engine: a copy
    of it loaded once this run (its recorded writes written again when the store
    was asked for some other way and holds nothing yet)."""
    if any_store.is_empty():
        writes, _ = demo_once
        for frames in writes:
            any_store.upsert({name: df.copy(deep=True) for name, df in frames.items()})
    return any_store


class StoreCopies:
    """Stores of their own holding what a fill wrote once this run.

    ``copy(request, engine, name, fill)`` runs ``fill(store, folder)`` (a folder of
    its own to write files in) on an empty store of ``engine`` the first time
    ``name`` is asked for, then hands each caller a copy of it: a SQLite file
    copied into the test's tmp_path, or a PostgreSQL database made from it as a
    template and dropped after the test."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.made: dict[tuple[str, str], str] = {}

    def copy(self, request, engine: str, name: str, fill) -> str:
        if (engine, name) not in self.made:
            if engine == "sqlite":
                url = f"sqlite:///{self.folder / (name + '.db')}"
            else:
                server = pg_server_or_skip()
                url = server.create(template=server.template("store"))
            store = open_store(url)
            try:
                folder = self.folder / f"{name}-{engine}"
                folder.mkdir()
                fill(store, folder)
            finally:
                store.engine.dispose()
            if engine == "sqlite":
                checkpoint(url)
            self.made[(engine, name)] = url
        source = self.made[(engine, name)]
        if engine == "sqlite":
            dest = request.getfixturevalue("tmp_path") / f"{name}.db"
            copy_sqlite(source.removeprefix("sqlite:///"), dest)
            return f"sqlite:///{dest}"
        server = pg_server_or_skip()
        url = server.create(template=source)
        request.addfinalizer(lambda: server.drop(url))
        return url

    def drop(self) -> None:
        for (engine, _), url in self.made.items():
            if engine != "sqlite":
                pg_server_or_skip().drop(url)


@pytest.fixture(scope="session")
def store_copies(tmp_path_factory):
    copies = StoreCopies(tmp_path_factory.mktemp("store-copies"))
    yield copies
    copies.drop()


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
