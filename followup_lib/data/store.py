"""The store: SQLAlchemy Core over SQLite (the default) or PostgreSQL, with
migrations and atomic writes.

Tables come out as pandas DataFrames typed from ``schema`` (dates as datetime64,
``final_round`` as nullable boolean) and go in the same way. Every query is a
SQLAlchemy Core statement with bound parameters, the same on both engines; what
differs between them is in one section below ("What differs between the engines").

Every write is one transaction that first takes the store's write lock (SQLite:
``BEGIN IMMEDIATE``; PostgreSQL: a transaction-scoped advisory lock): writers wait
their turn rather than failing half-way, a check made inside the transaction (the
row_version of ``save_row``) cannot be overtaken by another writer, and a crash
mid-write leaves the old state. Readers are never blocked and read one snapshot.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.pool import NullPool

from .. import paths
from ..errors import ConflictError, StoreError, UserError  # noqa: F401 (re-exported)
from ..schema import BOOL, DATE, TABLE_ORDER, TABLES, Table

ROW_VERSION = "row_version"
BUSY_TIMEOUT_MS = 60_000


def _sql_type(kind: str):
    return {DATE: sa.Date(), BOOL: sa.Boolean(create_constraint=False)}.get(kind, sa.Text())


def _table_at(t: Table, version: int, metadata: sa.MetaData) -> sa.Table:
    cols = [
        sa.Column(c.name, _sql_type(c.kind), primary_key=c.name in t.key, nullable=c.name not in t.key)
        for c in t.columns
        if c.added_in <= version
    ]
    return sa.Table(t.name, metadata, *cols)


# ---------------------------------------------------------------- migrations
# An ordered list of small named steps, each applied once and recorded in
# followup_schema. Never edit a released step: add a new one.

_LOG_MD = sa.MetaData()
SCHEMA_LOG = sa.Table(
    "followup_schema",
    _LOG_MD,
    sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("name", sa.Text(), nullable=False),
    sa.Column("applied_at", sa.Text(), nullable=False),
)


def _add_column(conn: sa.Connection, table: str, column: str, sql_type: str) -> None:
    """``ALTER TABLE … ADD COLUMN`` (standard SQL; SQLAlchemy Core has no construct for it)."""
    q = conn.dialect.identifier_preparer.quote
    conn.execute(sa.text(f"ALTER TABLE {q(table)} ADD COLUMN {q(column)} {sql_type}"))


def _m1_create_tables(conn: sa.Connection) -> None:
    md = sa.MetaData()
    for name in TABLE_ORDER:
        if TABLES[name].added_in <= 1:
            _table_at(TABLES[name], 1, md)
    md.create_all(conn)


def _m2_row_versions(conn: sa.Connection) -> None:
    # A counter per row, so an edit made from a stale copy is detected (ConflictError).
    for name in TABLE_ORDER:
        if TABLES[name].added_in <= 2:  # later tables are created with it
            _add_column(conn, name, ROW_VERSION, "INTEGER NOT NULL DEFAULT 1")


def _added_columns(version: int) -> Callable[[sa.Connection], None]:
    """A step creating every table and adding every column (all optional) that the
    schema introduced in ``version``."""

    def step(conn: sa.Connection) -> None:
        md = sa.MetaData()
        new = [name for name in TABLE_ORDER if TABLES[name].added_in == version]
        for name in new:
            _table_at(TABLES[name], version, md).append_column(
                sa.Column(ROW_VERSION, sa.Integer(), nullable=False, server_default=sa.text("1"))
            )
        md.create_all(conn)
        for name in TABLE_ORDER:
            if name in new:
                continue
            for c in TABLES[name].columns:
                if c.added_in == version:
                    _add_column(conn, name, c.name, _sql_type(c.kind).compile(dialect=conn.dialect))

    return step


# Migration 5: an index on every column that links to another table (unless it
# leads the table's key, whose index already serves it) and on the columns rows
# are looked up or filtered by: the coachee an application or reference belongs
# to (Store.load for one coachee), the action a message carried out
# (message_for_action), an application's status (open or closed) and a coachee's
# coach (one coach's caseload). Written out, not derived from the schema: a
# released step must not change when the schema grows.
M5_INDEXES: tuple[tuple[str, str], ...] = (
    ("coachees", "coach"),
    ("applications", "coachee_id"),
    ("applications", "status"),
    ("contacts", "application_id"),
    ("interviews", "application_id"),
    ("interview_contacts", "contact_id"),
    ("references", "coachee_id"),
    ("reference_uses", "application_id"),
    ("promises", "application_id"),
    ("promises", "contact_id"),
    ("messages", "application_id"),
    ("messages", "contact_id"),
    ("messages", "reference_id"),
    ("messages", "action_id"),
)


def index_name(table: str, column: str) -> str:
    return f"ix_{table}_{column}"


def _m5_indexes(conn: sa.Connection) -> None:
    md = sa.MetaData()
    for table, column in M5_INDEXES:
        t = md.tables[table] if table in md.tables else sa.Table(table, md)
        if column not in t.c:
            t.append_column(sa.Column(column, sa.Text()))
        sa.Index(index_name(table, column), t.c[column]).create(conn)


# Migration 6's indexes, written out like migration 5's.
M6_INDEXES: tuple[tuple[str, str], ...] = (("messages", "message_ref"), ("promises", "made_at_interview_id"))


def _m6_contract_v3(conn: sa.Connection) -> None:
    _added_columns(6)(conn)
    # Mail is matched to what is stored by its Message-ID (threads, duplicates), and
    # the new link (a promise's interview) is indexed like every other.
    md = sa.MetaData()
    for table, column in M6_INDEXES:
        t = sa.Table(table, md, sa.Column(column, sa.Text()))
        sa.Index(index_name(table, column), t.c[column]).create(conn)


MIGRATIONS: list[tuple[int, str, Callable[[sa.Connection], None]]] = [
    (1, "create the eight tables", _m1_create_tables),
    (2, "add row_version to every table", _m2_row_versions),
    (3, "messages.action_id: which action a sent message carried out", _added_columns(3)),
    (
        4,
        "contract v2: contacts, interview_contacts, and the columns for panels, moved dates, holidays "
        "and closing the loop",
        _added_columns(4),
    ),
    (5, "indexes on every link between tables and on the columns rows are looked up by", _m5_indexes),
    (
        6,
        "contract v3: roles, per-person topics, talking points, closed reasons, when promises were made, "
        "Message-IDs and further coachee addresses",
        _m6_contract_v3,
    ),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


def _migrate(engine: sa.Engine, upto: int = SCHEMA_VERSION) -> None:
    # A write transaction: two processes opening a new store at once take turns.
    with engine.connect().execution_options(write=True) as conn, conn.begin():
        SCHEMA_LOG.create(conn, checkfirst=True)
        done = set(conn.execute(sa.select(SCHEMA_LOG.c.version)).scalars())
        if done and max(done) > SCHEMA_VERSION:
            raise StoreError(
                f"this store is at schema version {max(done)}, newer than this code "
                f"({SCHEMA_VERSION}); update the workbook before opening it"
            )
        for version, name, step in MIGRATIONS:
            if version in done or version > upto:
                continue
            step(conn)
            conn.execute(
                sa.insert(SCHEMA_LOG).values(
                    version=version, name=name, applied_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
                )
            )


# Every table at the current version, with its row_version: what rows are written
# through (SQLAlchemy's types turn dates and booleans into each engine's own).
_CURRENT_MD = sa.MetaData()
CURRENT: dict[str, sa.Table] = {}
for _name in TABLE_ORDER:
    CURRENT[_name] = _table_at(TABLES[_name], SCHEMA_VERSION, _CURRENT_MD)
    CURRENT[_name].append_column(sa.Column(ROW_VERSION, sa.Integer(), nullable=False, server_default=sa.text("1")))


# ====================================================================
# What differs between the engines: everything SQLite- or PostgreSQL-specific
# in the store is in this section (outside it, only ids.py reads a SQLite
# file's coachee ids with the standard library, to start reports quickly).
#
# SQLite: WAL (readers never wait for the writer), a busy timeout, BEGIN
# IMMEDIATE for writers, the online backup API, and the checks that a file is
# one of ours before anything writes to it.
#
# PostgreSQL: a writer takes ``pg_advisory_xact_lock`` (one lock per database,
# released at commit or rollback) as its transaction begins, under READ
# COMMITTED. That is BEGIN IMMEDIATE's guarantee: one writer at a time, waiting
# its turn (lock_timeout as the busy timeout), and each statement after the lock
# sees every earlier writer's commit — so save_row's row_version check and the
# write after it cannot be overtaken. SERIALIZABLE would also be correct but
# fails the later of two writers with a serialization error that every caller
# would have to retry; writes here are small and short, so waiting is simpler.
# Readers use REPEATABLE READ: one snapshot for a whole load, never blocked.
# Backups are a SQLite file written by copy.py (no pg_dump), restored through
# the same copy.
# ====================================================================

POSTGRES_INSTALL = "pip install -e '.[postgres]'"
# The store's write lock on PostgreSQL: an advisory lock key ("Followup" in ASCII).
_PG_WRITE_LOCK = 0x466F6C6C6F777570


def _driver_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` without a driver mean psycopg 3 (the
    ``postgres`` extra), not SQLAlchemy's default psycopg2."""
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url.removeprefix(plain)
    return url


def shown_url(url: str) -> str:
    """The URL for a message: any password replaced by ***."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url


def make_engine(url: str) -> sa.Engine:
    url = _driver_url(url)
    if _sqlite_path(url) is not None:
        Path(url.removeprefix("sqlite:///")).expanduser().parent.mkdir(parents=True, exist_ok=True)
    backend = sa.engine.make_url(url).get_backend_name()
    if backend == "sqlite":
        engine = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):
            # Let SQLAlchemy, not the driver, decide when transactions begin.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            # Writers take the write lock up front: waiting is then handled by the
            # busy timeout instead of failing half-way with SQLITE_BUSY.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")

    elif backend == "postgresql":
        engine = sa.create_engine(url, connect_args={"connect_timeout": 10})

        @event.listens_for(engine, "begin")
        def _on_pg_begin(conn):
            if conn.get_execution_options().get("write"):
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{BUSY_TIMEOUT_MS}ms'")
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_WRITE_LOCK})")

    else:
        raise StoreError(
            f"cannot open the store at {shown_url(url)}: only SQLite (sqlite:///PATH) and PostgreSQL "
            "(postgresql+psycopg://USER@HOST/DB) stores are supported"
        )
    return engine


def _snapshot(conn: sa.Connection) -> sa.Connection:
    """``conn`` set to read one consistent snapshot in its next transaction.
    (SQLite's deferred BEGIN already does under WAL.)"""
    if conn.dialect.name == "postgresql":
        return conn.execution_options(isolation_level="REPEATABLE READ")
    return conn


def _key_order(conn: sa.Connection, column: sa.ColumnElement) -> sa.ColumnElement:
    """Text keys sort by code point on both engines (a PostgreSQL database's own
    collation may sort "a" before "B"), so both list rows in the same order."""
    return column.collate("C") if conn.dialect.name == "postgresql" else column


def _key_order_sql(conn: sa.Connection, keys) -> str:
    """``_key_order`` for hand-written SQL: an ORDER BY list of ``keys``."""
    collate = ' COLLATE "C"' if conn.dialect.name == "postgresql" else ""
    return ", ".join(f'"{k}"{collate}' for k in keys)


def _upsert_insert(conn: sa.Connection, table: sa.Table):
    """An INSERT with ``on_conflict_do_update``/``_nothing`` for this engine."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def analyze_after_bulk_load(engine: sa.Engine) -> None:
    """Give PostgreSQL's planner the statistics of tables just filled in bulk
    (autovacuum would only get to it later): without them it may scan whole
    tables where an index finds one coachee's rows. SQLite plans well without."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn, conn.begin():
            conn.exec_driver_sql("ANALYZE")


def _integrity_ok(conn: sa.Connection) -> bool:
    if conn.dialect.name == "sqlite":
        return conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    return True  # the server keeps its files whole; schema_problems checks the rest


def _foreign_objects(conn: sa.Connection) -> list[str]:
    """Triggers, views and rewrite rules in the store, none of which this workbook makes."""
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql("SELECT type, name FROM sqlite_master WHERE type IN ('trigger', 'view')")
        return [f"a {kind} {name!r} that this workbook never makes" for kind, name in rows]
    found = [f"a view {v!r} that this workbook never makes" for v in sa.inspect(conn).get_view_names()]
    found += [
        f"a trigger {name!r} that this workbook never makes"
        for (name,) in conn.exec_driver_sql(
            "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace"
        )
    ]
    found += [
        f"a rule {name!r} that this workbook never makes"
        for (name,) in conn.exec_driver_sql(
            "SELECT rulename FROM pg_rules WHERE schemaname = current_schema() AND rulename <> '_RETURN'"
        )
    ]
    return found


def _check_sqlite_file(path: Path, create: bool) -> None:
    """Refuse what must not be opened as a store: a missing file (unless creating),
    something that is not a regular file, or another application's SQLite file."""
    if not path.exists():
        if not create:
            raise UserError(
                f"no store at {path}: check --db (or FOLLOWUP_DB); `followup import` or `followup demo` creates one"
            )
        return
    if not path.is_file():
        raise StoreError(f"{path} is not a store file (a folder or a device)")
    try:
        con = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, timeout=60)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the store at {path}: {exc}") from exc
    try:
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path} is not a Follow-up Workbook store ({exc}); it was left as it is") from exc
    finally:
        con.close()
    if names and "followup_schema" not in names:
        raise StoreError(
            f"{path} is not a Follow-up Workbook store (it holds other tables: "
            f"{', '.join(sorted(names)[:5])}); it was left as it is"
        )


def _check_backup(copy: Path, source: Path) -> None:
    """Refuse, naming why, a backup (``copy``, a scratch copy of ``source``) that
    must not be restored: not SQLite, damaged, not this workbook's, newer than
    this code, or with any table, index, trigger or view not as a new store's."""
    try:
        con = sqlite3.connect(copy)
        try:
            # A backup written in WAL mode reads without its -wal file once it is a
            # rollback-journal database (the copy is ours to change).
            con.execute("PRAGMA journal_mode=DELETE")
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{source} is not a SQLite store ({exc}); nothing was restored") from exc
    check = _read_only_sqlite(copy)
    try:
        with check.connect() as conn:
            if not _integrity_ok(conn):
                raise StoreError(f"{source} is damaged (integrity check failed); nothing was restored")
            if not sa.inspect(conn).has_table("followup_schema"):
                raise StoreError(f"{source} is not a Follow-up Workbook store; nothing was restored")
            version = conn.execute(sa.select(sa.func.max(SCHEMA_LOG.c.version))).scalar() or 0
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{source} was made by a newer workbook (schema version {version}, this code knows "
                    f"{SCHEMA_VERSION}); update the workbook first; nothing was restored"
                )
            # A crafted backup (a trigger that deletes rows on the next import, a
            # table missing, a CHECK that refuses every received message, an extra
            # unique index, a version that does not exist) is refused, naming it.
            problems = schema_problems(conn) or sqlite_schema_differences(conn, version)
            if problems:
                raise StoreError(
                    f"{source} is not a store this workbook wrote ({'; '.join(problems)}); nothing was restored"
                )
    except sa.exc.DatabaseError as exc:
        raise StoreError(f"{source} is not a SQLite store ({exc.orig}); nothing was restored") from exc
    finally:
        check.dispose()


def _read_only_sqlite(path: Path) -> sa.Engine:
    """An engine that can only read the SQLite file at ``path`` (a backup to check)."""
    uri = path.resolve().as_uri() + "?mode=ro"
    return sa.create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True), poolclass=NullPool)


def _sqlite_backup(engine: sa.Engine, dest: Path) -> None:
    """SQLite's online backup API: a consistent copy while others write."""
    raw = engine.raw_connection()
    try:
        target = sqlite3.connect(dest)
        with target:
            raw.driver_connection.backup(target)
        target.close()
    finally:
        raw.close()


def _sqlite_restore(source: Path, engine: sa.Engine) -> None:
    """Replace a SQLite store's whole file with ``source`` (a scratch copy of the
    backup, already checked), through the backup API: one transaction on the
    target, all of it or nothing. The copy is first given the target's page size
    and a rollback journal: SQLite cannot back up into a WAL database from one
    whose pages differ in size ("attempt to write a readonly database")."""
    raw = engine.raw_connection()
    try:
        page_size = raw.driver_connection.execute("PRAGMA page_size").fetchone()[0]
        copy = sqlite3.connect(source)
        try:
            copy.execute("PRAGMA journal_mode=DELETE")
            if copy.execute("PRAGMA page_size").fetchone()[0] != page_size:
                copy.execute(f"PRAGMA page_size={int(page_size)}")
                copy.execute("VACUUM")  # rewrites every page at the new size
            copy.backup(raw.driver_connection)
        finally:
            copy.close()
    finally:
        raw.close()


def _normalised_sql(sql: str | None) -> str:
    """A CREATE statement as SQLite records it, with what does not change its
    meaning taken out: case, quotes around names, and spacing."""
    text = " ".join((sql or "").replace('"', "").replace("`", "").lower().split())
    return re.sub(r"\s*([(),])\s*", r"\1", text)


def _sqlite_objects(conn: sa.Connection) -> dict[tuple[str, str], str]:
    """{(type, name): normalised SQL} of every table, index, trigger and view a
    SQLite file holds (SQLite's own internal objects aside), from ``sqlite_master``."""
    sql = "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
    rows = conn.exec_driver_sql(sql)
    return {(kind, name): _normalised_sql(text) for kind, name, text in rows}


_FRESH_SCHEMAS: dict[int, dict[tuple[str, str], str]] = {}


def _fresh_schema(version: int) -> dict[tuple[str, str], str]:
    """``_sqlite_objects`` of a new SQLite store made by this code at ``version``
    (once per version and process)."""
    if version not in _FRESH_SCHEMAS:
        with tempfile.TemporaryDirectory(prefix="followup-schema-") as scratch:
            fresh = open_store(f"sqlite:///{Path(scratch) / 'fresh.db'}", upto=version)
            try:
                with fresh.engine.connect() as conn:
                    _FRESH_SCHEMAS[version] = _sqlite_objects(conn)
            finally:
                fresh.engine.dispose()
    return _FRESH_SCHEMAS[version]


# The same objects as earlier releases wrote them, with the same meaning (the
# first releases' SQLAlchemy wrote the migration log's key inline): accepted too.
_EARLIER_SQL: dict[tuple[str, str], set[str]] = {
    ("table", "followup_schema"): {
        "create table followup_schema(version integer primary key,name text not null,applied_at text not null)"
    },
}


def sqlite_schema_differences(conn: sa.Connection, version: int) -> list[str]:
    """How a SQLite file's whole schema (every table, index, trigger and view, as
    ``sqlite_master`` records it) differs from a new store's at ``version``: a
    CHECK, a UNIQUE index or a changed column type that the table and column
    names alone do not show. Empty when it is exactly ours."""
    have, want = _sqlite_objects(conn), _fresh_schema(version)
    problems = []
    for kind, name in sorted(set(have) - set(want)):
        problems.append(f"{'an' if kind == 'index' else 'a'} {kind} {name!r} that this workbook never makes")
    for kind, name in sorted(set(want) - set(have)):
        problems.append(f"the {kind} {name!r} is missing")
    for kind, name in sorted(set(have) & set(want)):
        if have[kind, name] != want[kind, name] and have[kind, name] not in _EARLIER_SQL.get((kind, name), ()):
            problems.append(f"the {kind} {name!r} is not defined as this workbook defines it")
    return problems


# ====================================================================


@dataclass
class Store:
    engine: sa.Engine
    url: str

    @property
    def engine_name(self) -> str:
        """ "sqlite" or "postgresql"."""
        return self.engine.dialect.name

    # ------------------------------------------------------------ reading
    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.max(SCHEMA_LOG.c.version))).scalar() or 0

    def is_empty(self) -> bool:
        with self.engine.connect() as conn:
            return _first_table_with_rows(conn) is None

    def coachee_ids(self) -> list[str]:
        c = CURRENT["coachees"].c.coachee_id
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(c).order_by(_key_order(conn, c))).scalars())

    def stored_keys(self, conn: sa.Connection | None = None) -> tuple[dict[str, set], dict[str, dict]]:
        """Ids already stored (links may point there) and what each belongs to,
        read in one snapshot, or in ``conn`` (an import's write transaction: what it
        checks against is then what it writes over, whoever else imports at once).

        Returns ``({table: ids}, links)``: ``links["applications"]`` and
        ``links["references"]`` map an id to its coachee; ``links["interviews"]``
        and ``links["contacts"]`` map an id to its application;
        ``links["points_of_contact"]`` maps each contact marked point of contact
        to its application.
        """
        if conn is None:
            with _snapshot(self.engine.connect()) as c, c.begin():
                return self.stored_keys(c)
        apps, refs, ivs, contacts = (CURRENT[n] for n in ("applications", "references", "interviews", "contacts"))

        def pairs(stmt) -> dict:
            return dict(conn.execute(stmt).all())

        links = {
            "applications": pairs(sa.select(apps.c.application_id, apps.c.coachee_id)),
            "references": pairs(sa.select(refs.c.reference_id, refs.c.coachee_id)),
            "interviews": pairs(sa.select(ivs.c.interview_id, ivs.c.application_id)),
            "contacts": pairs(sa.select(contacts.c.contact_id, contacts.c.application_id)),
            "points_of_contact": pairs(
                sa.select(contacts.c.contact_id, contacts.c.application_id).where(contacts.c.point_of_contact.is_(True))
            ),
        }
        ids = {
            "coachees": set(conn.execute(sa.select(CURRENT["coachees"].c.coachee_id)).scalars()),
            **{name: set(links[name]) for name in ("applications", "references", "interviews", "contacts")},
            # No link points to these: read so that an id differing from a stored
            # one only in capitals or accents is refused by name.
            **{
                name: set(conn.execute(sa.select(CURRENT[name].c[TABLES[name].key[0]])).scalars())
                for name in ("promises", "messages")
            },
        }
        return ids, links

    def message_for_action(self, conn: sa.Connection, action_id: str) -> tuple[str, str] | None:
        """(message_id, on) of the message already logged for ``action_id``, or None;
        read inside the caller's write transaction. ``on`` is an ISO date."""
        m = CURRENT["messages"]
        # Read as the engine gives it (ISO text or a date), never parsed on the way.
        on = sa.type_coerce(m.c.on, sa.Text())
        row = conn.execute(sa.select(m.c.message_id, on).where(m.c.action_id == action_id)).first()
        if row is None:
            return None
        return row[0], row[1].isoformat() if isinstance(row[1], dt.date) else str(row[1])

    def existing(self, conn: sa.Connection, table: str, ids: Iterable[str]) -> set[str]:
        """Which of ``ids`` are stored in ``table`` (a one-column key), read in ``conn``."""
        key = CURRENT[table].c[TABLES[table].key[0]]
        ids = list(ids)
        found: set[str] = set()
        for start in range(0, len(ids), 1000):  # well under either engine's limit of bound values
            found |= set(conn.execute(sa.select(key).where(key.in_(ids[start : start + 1000]))).scalars())
        return found

    def coachees(self) -> pd.DataFrame:
        return self.load(["coachees"])["coachees"]

    def load(
        self, tables: Iterable[str] | None = None, coachee_id: str | list[str] | None = None
    ) -> dict[str, pd.DataFrame]:
        """Every table (or the ones named) as typed DataFrames, read in one snapshot.

        With ``coachee_id`` (one id or a list), only the rows that belong to those
        coachees are read — the rest of the practice never leaves the store.
        """
        names = list(tables) if tables else TABLE_ORDER
        ids = [coachee_id] if isinstance(coachee_id, str) else coachee_id
        out = {}
        with _snapshot(self.engine.connect()) as conn, conn.begin():
            for name in names:
                out[name] = _typed(TABLES[name], _read(conn, name, ids))
        return out

    def row(self, table: str, key: dict) -> dict | None:
        """One stored row as a dict (with its row_version), or None."""
        t, tbl = TABLES[table], CURRENT[table]
        stmt = sa.select(sa.literal_column("*")).select_from(tbl).where(*(tbl.c[k] == key[k] for k in t.key))
        with self.engine.connect() as conn:
            result = conn.execute(stmt)
            df = pd.DataFrame([tuple(r) for r in result], columns=list(result.keys()))
        if df.empty:
            return None
        return _typed(t, df).iloc[0].to_dict()

    # ------------------------------------------------------------ writing
    @contextmanager
    def writing(self):
        """One write transaction, holding the store's write lock (see the top of
        this module); rolled back whole on any error."""
        with self.engine.connect().execution_options(write=True) as conn, conn.begin():
            yield conn

    def upsert(self, frames: dict[str, pd.DataFrame], conn: sa.Connection | None = None) -> dict[str, dict[str, int]]:
        """Add or replace rows by key, all tables in one transaction.

        Only the columns present in each frame are written: a column missing from
        an import keeps its stored value (a new row gets the column's default). A row identical to the stored one is left
        untouched (its row_version does not move), so re-importing changes nothing.
        Returns, per table, how many rows were added and how many changed.
        """
        if conn is None:
            with self.writing() as c:
                return self.upsert(frames, c)
        counts = {}
        for name in TABLE_ORDER:
            if name not in frames:
                continue
            counts[name] = _upsert_table(conn, TABLES[name], frames[name])
        return counts

    def save_row(self, table: str, values: dict, expected_version: int | None = None) -> int:
        """Write one validated row (a form's). Returns its new row_version.

        ``expected_version`` is the row_version the form was opened with: if the
        stored row has moved on since, ConflictError is raised and nothing is
        written. None means "a new record": it must not exist yet unless identical.
        """
        t, tbl = TABLES[table], CURRENT[table]
        frame = pd.DataFrame([{c: values.get(c) for c in t.column_names}])
        params = tuple(values[k] for k in t.key)
        version_now = sa.select(tbl.c[ROW_VERSION]).where(*(tbl.c[k] == values[k] for k in t.key))
        with self.writing() as conn:
            current = conn.execute(version_now).scalar()
            if current is not None and expected_version is not None and current != expected_version:
                raise ConflictError(
                    f"this {t.noun} ({', '.join(map(str, params))}) was changed elsewhere after you opened it; "
                    "nothing was saved — reload it and make your change again"
                )
            if current is not None and expected_version is None:
                raise ConflictError(
                    f"a {t.noun} with id {', '.join(map(str, params))} already exists; "
                    "choose another id, or open that one to edit it"
                )
            _upsert_table(conn, t, frame)
            return conn.execute(version_now).scalar()

    # ------------------------------------------------------------ safety
    def integrity_ok(self) -> bool:
        """The store's files are whole (SQLite's integrity check) and its schema is this workbook's."""
        with self.engine.connect() as conn:
            return _integrity_ok(conn) and not schema_problems(conn)

    def backup(self, dest: str | Path) -> Path:
        """A consistent copy of the store as a SQLite file, safe while others use it:
        SQLite's online backup, or for PostgreSQL every table copied in one snapshot
        (``_copy_rows``). Either restores into either engine."""
        dest = Path(dest)
        if dest.is_dir():
            dest = dest / f"followup-{dt.datetime.now():%Y%m%d-%H%M%S}.db"
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".partial")
        tmp.unlink(missing_ok=True)
        try:
            if self.engine_name == "sqlite":
                _sqlite_backup(self.engine, tmp)
            else:
                target = open_store(f"sqlite:///{tmp.resolve()}")
                try:
                    with target.writing() as conn:
                        _copy_rows(self, conn)
                    analyze_after_bulk_load(target.engine)
                finally:
                    target.engine.dispose()
            tmp.replace(dest)  # never leave a half-written backup under the real name
        finally:
            tmp.unlink(missing_ok=True)
        return dest

    def restore(self, source: str | Path) -> None:
        """Replace the whole store with a backup (a SQLite file), in one transaction.

        The backup is checked in a scratch copy (it is never changed itself): whole,
        this workbook's, no newer than this code, and its whole schema as SQLite
        records it the same as a new store's of its version. Anything else is
        refused, naming what differs, and the store is left as it was."""
        source = Path(source)
        if not source.is_file():
            raise StoreError(f"{source} does not exist (or is not a file); nothing was restored")
        with tempfile.TemporaryDirectory(prefix="followup-restore-") as scratch:
            copy = Path(scratch) / "restore.db"
            shutil.copyfile(source, copy)
            _check_backup(copy, source)
            if self.engine_name == "sqlite":
                _sqlite_restore(copy, self.engine)
                self.engine.dispose()
                _migrate(self.engine)
                return
            # Another engine: bring the copy to this schema version, then replace
            # every row in one transaction.
            upgraded = open_store(str(copy))
            try:
                replace_contents(upgraded, self)
            finally:
                upgraded.engine.dispose()

    def schema_problems(self) -> list[str]:
        with self.engine.connect() as conn:
            return schema_problems(conn)


def open_store(url: str | None = None, upto: int = SCHEMA_VERSION, create: bool = True) -> Store:
    """Open (creating and upgrading as needed) the store at ``url``.

    ``url`` is a SQLAlchemy URL (``sqlite:///PATH``, ``postgresql+psycopg://…``)
    or a plain file path; None means ``FOLLOWUP_DB`` or the default SQLite file
    under ``data/``. With ``create=False`` a store that does not exist is refused,
    naming it (a mistyped --db must not answer "Nothing due." from a new empty
    store). A database that is not this workbook's (another application's, or one
    whose schema was tampered with) is refused and never altered.
    """
    url = paths.store_url(url)
    sqlite_path = _sqlite_path(url)
    if sqlite_path is not None:
        _check_sqlite_file(sqlite_path, create)
    where = sqlite_path if sqlite_path is not None else shown_url(url)
    engine = None
    try:
        engine = make_engine(url)
        with engine.connect() as conn:
            names = set(sa.inspect(conn).get_table_names())
        if "followup_schema" not in names:
            if names:
                raise StoreError(
                    f"{where} is not a Follow-up Workbook store (it holds other tables: "
                    f"{', '.join(sorted(names)[:5])}); it was left as it is"
                )
            if not create and sqlite_path is None:
                raise UserError(
                    f"no store in {where}: check --db (or FOLLOWUP_DB); `followup import` or `followup demo` creates one"
                )
        _migrate(engine, upto)
        with engine.connect() as conn:
            problems = schema_problems(conn)
        if problems:
            raise StoreError(f"the store at {where} has been altered: {'; '.join(problems)}")
    except sa.exc.DatabaseError as exc:
        _dispose(engine)
        first_line = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc.orig).__name__
        raise StoreError(f"cannot open the store at {where}: {first_line}") from exc
    except sa.exc.NoSuchModuleError as exc:
        raise StoreError(f"cannot open the store at {where}: no database driver for it ({exc})") from exc
    except sa.exc.ArgumentError as exc:  # after NoSuchModuleError, one of its kind
        raise StoreError(
            f"{where} is not a database URL ({exc}); use sqlite:///PATH or postgresql+psycopg://…"
        ) from exc
    except ModuleNotFoundError as exc:
        raise StoreError(
            f"cannot open the store at {where}: its database driver is not installed ({exc.name}); "
            f"for PostgreSQL: {POSTGRES_INSTALL}"
        ) from exc
    except Exception:
        _dispose(engine)
        raise
    return Store(engine, url)


def _dispose(engine: sa.Engine | None) -> None:
    if engine is not None:
        engine.dispose()


def _sqlite_path(url: str) -> Path | None:
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url.removeprefix("sqlite:///")).expanduser()
    return None


def schema_problems(conn: sa.Connection) -> list[str]:
    """How a store's schema differs from what this workbook writes at its recorded
    version, on either engine: missing or unknown tables and columns, triggers,
    views and rules, a version that does not exist. Empty when it is exactly ours."""
    insp = sa.inspect(conn)
    if not insp.has_table("followup_schema"):
        return ["no followup_schema table"]
    versions = list(conn.execute(sa.select(SCHEMA_LOG.c.version)).scalars())
    known = {v for v, _, _ in MIGRATIONS}
    if not versions or any(v not in known for v in versions):
        return [f"schema versions {sorted(versions)} are not this workbook's (1–{SCHEMA_VERSION})"]
    version = max(versions)
    if sorted(versions) != sorted(v for v in known if v <= version):
        return [f"schema versions {sorted(versions)} skip a step"]
    problems = _foreign_objects(conn)
    tables = set(insp.get_table_names())
    expected = {t for t in TABLE_ORDER if TABLES[t].added_in <= version} | {"followup_schema"}
    for t in sorted(tables - expected - {"sqlite_sequence", "sqlite_stat1"}):
        problems.append(f"an unknown table {t!r}")
    for t in sorted(expected - tables):
        problems.append(f"the table {t!r} is missing")
    # Every table's columns in one query (one per table would cost PostgreSQL a round trip each).
    columns = {key[1]: cols for key, cols in insp.get_multi_columns().items()}
    for t in sorted((expected & tables) - {"followup_schema"}):
        have = {c["name"] for c in columns.get(t, [])}
        want = {c.name for c in TABLES[t].columns if c.added_in <= version}
        if version >= 2:
            want.add(ROW_VERSION)
        for c in sorted(want - have):
            problems.append(f"{t}.{c} is missing")
        for c in sorted(have - want):
            problems.append(f"{t}.{c} is not a column of this workbook")
    return problems


# ---------------------------------------------------------------- internals


def _first_table_with_rows(conn: sa.Connection) -> str | None:
    for name in TABLE_ORDER:
        if conn.execute(sa.select(sa.literal(1)).select_from(CURRENT[name]).limit(1)).first() is not None:
            return name
    return None


# ---------------------------------------------------------------- whose rows
# A set of coachees is a list of ids or a SELECT of them (one coach's caseload):
# either fills "coachee_id IN ...", so the rows of a caseload are picked in the
# database, never by reading every coachee's ids first.


def coach_coachees(coach: str) -> sa.Select:
    """The ids of ``coach``'s coachees: those whose ``coach`` is exactly ``coach``."""
    c = CURRENT["coachees"].c
    return sa.select(c.coachee_id).where(c.coach == coach)


def other_coachees(coach: str) -> sa.Select:
    """The ids of every coachee who is not ``coach``'s (one with no coach counts as
    someone else's)."""
    c = CURRENT["coachees"].c
    return sa.select(c.coachee_id).where(sa.or_(c.coach.is_(None), c.coach != coach))


def _belonging_to(name: str, coachees: list[str] | sa.Select) -> sa.ColumnElement:
    """The WHERE clause picking the rows of ``name`` that belong to these coachees
    (reached through the row's application, and interview, where it has no coachee_id)."""
    tbl = CURRENT[name]
    apps = sa.select(CURRENT["applications"].c.application_id).where(CURRENT["applications"].c.coachee_id.in_(coachees))
    if "coachee_id" in tbl.c:
        return tbl.c.coachee_id.in_(coachees)
    if "application_id" in tbl.c:
        return tbl.c.application_id.in_(apps)
    # reached through its interview (interview_contacts)
    ivs = CURRENT["interviews"]
    return tbl.c.interview_id.in_(sa.select(ivs.c.interview_id).where(ivs.c.application_id.in_(apps)))


def _rows_of(conn: sa.Connection, name: str, *scopes: list[str] | sa.Select) -> sa.Select:
    """SELECT every stored column (a store opened at an older version, upto=, has
    fewer) of the rows of ``name`` belonging to each of ``scopes`` (none: every
    row), in key order."""
    tbl = CURRENT[name]
    stmt = sa.select(sa.literal_column("*")).select_from(tbl).where(*(_belonging_to(name, s) for s in scopes))
    return stmt.order_by(*(_key_order(conn, tbl.c[k]) for k in TABLES[name].key))


def _read(conn: sa.Connection, name: str, coachee_ids: list[str] | None) -> pd.DataFrame:
    """The stored rows of ``name`` (every column the store has), in key order."""
    result = conn.execute(_rows_of(conn, name, *([] if coachee_ids is None else [coachee_ids])))
    cols = list(result.keys())
    return pd.DataFrame.from_records([tuple(r) for r in result.fetchall()], columns=cols)


def _typed(t: Table, df: pd.DataFrame) -> pd.DataFrame:
    """Stored values to the in-memory types every other module expects. Dates
    arrive as ISO text (SQLite) or date objects (PostgreSQL), booleans as 0/1 or
    True/False: the result is the same."""
    df = df.copy()
    for c in t.columns:
        if c.name not in df:
            df[c.name] = None
        if c.kind == DATE:
            df[c.name] = pd.to_datetime(df[c.name], format="%Y-%m-%d", errors="coerce")
        elif c.kind == BOOL:
            df[c.name] = df[c.name].astype("boolean")
        else:
            df[c.name] = df[c.name].astype(object).where(df[c.name].notna(), None)
    extra = [ROW_VERSION] if ROW_VERSION in df else []
    return df[t.column_names + extra].reset_index(drop=True)


def _stored(kind: str, value):
    """One value, in memory or as either engine holds it, to what is bound for its
    column (SQLAlchemy's types then store it in each engine's own way): a date as
    ``date`` (from a date, a timestamp or ISO text), a boolean as ``bool`` (from a
    bool or 0/1), anything else as text. Raises ValueError or TypeError for a value
    that cannot be one (text in a date or boolean column)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if kind == DATE:
        if isinstance(value, str):
            return dt.date.fromisoformat(value)
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        return pd.Timestamp(value).date()
    if kind == BOOL:
        return bool(value) if isinstance(value, bool) else bool(int(value))
    return value if isinstance(value, str) else str(value)


def _upsert_table(conn: sa.Connection, t: Table, frame: pd.DataFrame) -> dict[str, int]:
    cols = [c for c in t.column_names if c in frame.columns]
    if set(t.key) <= set(cols):
        # One row per key, the last one winning (as if written one after the other):
        # PostgreSQL refuses to update a row twice in one statement.
        frame = frame.drop_duplicates(subset=list(t.key), keep="last")
    kinds = [t.column(c).kind for c in cols]
    rows = [[_stored(k, v) for k, v in zip(kinds, rec)] for rec in frame[cols].itertuples(index=False)]
    if not rows:
        return {"added": 0, "changed": 0}
    non_key = [c for c in cols if c not in t.key]
    # A column with a default that the frame leaves out: a new row gets the
    # default, a stored row keeps its value (it is not in the update below).
    defaults = [c for c in t.columns if c.default is not None and c.name not in cols]
    if defaults:
        rows = [row + [c.default for c in defaults] for row in rows]
        cols = cols + [c.name for c in defaults]
    tbl = CURRENT[t.name]
    stmt = _upsert_insert(conn, tbl)
    key = [tbl.c[k] for k in t.key]
    if non_key:
        stmt = stmt.on_conflict_do_update(
            index_elements=key,
            set_={**{c: stmt.excluded[c] for c in non_key}, ROW_VERSION: tbl.c[ROW_VERSION] + 1},
            # An identical row is left alone: its row_version does not move.
            where=sa.or_(*(tbl.c[c].is_distinct_from(stmt.excluded[c]) for c in non_key)),
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=key)
    # Each row written comes back with its row_version: 1 for a new row (the
    # column's default), more for a changed one; untouched rows do not come back.
    versions = conn.execute(stmt.returning(tbl.c[ROW_VERSION]), [dict(zip(cols, row)) for row in rows]).scalars()
    written = list(versions)
    added = sum(1 for v in written if v == 1)
    return {"added": added, "changed": len(written) - added}


# ------------------------------------------------------------------ rows between engines
# Used by backup and restore here and by ``copy.copy_store`` (which imports this
# module; this module never imports it).

CHUNK_ROWS = 5_000


def replace_contents(source: Store, target: Store, chunk_rows: int = CHUNK_ROWS) -> dict[str, int]:
    """Replace every row of ``target`` by ``source``'s, in one transaction (a restore)."""
    with target.writing() as conn:
        for name in reversed(TABLE_ORDER):  # children before their parents
            conn.execute(sa.delete(CURRENT[name]))
        counts = _copy_rows(source, conn, chunk_rows)
    analyze_after_bulk_load(target.engine)
    return counts


def _copy_rows(source: Store, target: sa.Connection, chunk_rows: int = CHUNK_ROWS) -> dict[str, int]:
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
    """One stored row as Python values both engines take (``_stored``'s); a value
    that cannot be one is refused, naming the table, the row and the column."""
    t = TABLES[table]
    out = {}
    for col, value in zip(cols, row):
        if col != ROW_VERSION:
            try:
                value = _stored(t.column(col).kind, value)
                if isinstance(value, str) and "\x00" in value:  # PostgreSQL's text cannot hold it
                    raise ValueError("a NUL character")
            except (TypeError, ValueError) as exc:
                key = ", ".join(str(v) for c, v in zip(cols, row) if c in t.key)
                raise StoreError(
                    f"{table}, row {key}, {col}: {value!r} cannot be copied ({exc}); nothing was copied"
                ) from exc
        out[col] = value
    return out
