"""The store: SQLAlchemy over SQLite, with migrations, WAL and atomic writes.

Tables come out as pandas DataFrames typed from ``schema`` (dates as datetime64,
``final_round`` as nullable boolean) and go in the same way. Every write is one
transaction opened with ``BEGIN IMMEDIATE``: it waits its turn (busy timeout) rather
than failing with "database is locked", and a crash mid-write leaves the old state.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import event

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
            conn.exec_driver_sql(f'ALTER TABLE "{name}" ADD COLUMN {ROW_VERSION} INTEGER NOT NULL DEFAULT 1')


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
                    sql_type = _sql_type(c.kind).compile(dialect=conn.dialect)
                    conn.exec_driver_sql(f'ALTER TABLE "{name}" ADD COLUMN "{c.name}" {sql_type}')

    return step


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
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


def _migrate(engine: sa.Engine, upto: int = SCHEMA_VERSION) -> None:
    with engine.connect().execution_options(write=True) as conn, conn.begin():
        conn.exec_driver_sql(
            "CREATE TABLE IF NOT EXISTS followup_schema "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        done = {row[0] for row in conn.exec_driver_sql("SELECT version FROM followup_schema")}
        if done and max(done) > SCHEMA_VERSION:
            raise StoreError(
                f"this store is at schema version {max(done)}, newer than this code "
                f"({SCHEMA_VERSION}); update the workbook before opening it"
            )
        for version, name, step in MIGRATIONS:
            if version in done or version > upto:
                continue
            step(conn)
            conn.exec_driver_sql(
                "INSERT INTO followup_schema VALUES (?, ?, ?)",
                (version, name, dt.datetime.now(dt.UTC).isoformat(timespec="seconds")),
            )


# --------------------------------------------------------------------- engine


def make_engine(url: str) -> sa.Engine:
    if _sqlite_path(url) is not None:
        Path(url.removeprefix("sqlite:///")).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
    if engine.dialect.name == "sqlite":

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

    return engine


@dataclass
class Store:
    engine: sa.Engine
    url: str

    # ------------------------------------------------------------ reading
    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            return conn.exec_driver_sql("SELECT MAX(version) FROM followup_schema").scalar() or 0

    def is_empty(self) -> bool:
        with self.engine.connect() as conn:
            return not any(conn.exec_driver_sql(f'SELECT 1 FROM "{name}" LIMIT 1').first() for name in TABLE_ORDER)

    def coachee_ids(self) -> list[str]:
        with self.engine.connect() as conn:
            return [r[0] for r in conn.exec_driver_sql("SELECT coachee_id FROM coachees ORDER BY coachee_id")]

    def stored_keys(self) -> tuple[dict[str, set], dict[str, dict]]:
        """Ids already stored (links may point there) and what each belongs to.

        Returns ``({table: ids}, links)``: ``links["applications"]`` and
        ``links["references"]`` map an id to its coachee; ``links["interviews"]``
        and ``links["contacts"]`` map an id to its application;
        ``links["points_of_contact"]`` maps each contact marked point of contact
        to its application.
        """
        with self.engine.connect() as conn:
            raw = conn.connection.driver_connection

            def pairs(sql: str) -> dict:
                return dict(raw.execute(sql).fetchall())

            links = {
                "applications": pairs("SELECT application_id, coachee_id FROM applications"),
                "references": pairs('SELECT reference_id, coachee_id FROM "references"'),
                "interviews": pairs("SELECT interview_id, application_id FROM interviews"),
                "contacts": pairs("SELECT contact_id, application_id FROM contacts"),
                "points_of_contact": pairs(
                    "SELECT contact_id, application_id FROM contacts WHERE point_of_contact = 1"
                ),
            }
            ids = {
                "coachees": {r[0] for r in raw.execute("SELECT coachee_id FROM coachees")},
                **{name: set(links[name]) for name in ("applications", "references", "interviews", "contacts")},
            }
        return ids, links

    def message_for_action(self, conn: sa.Connection, action_id: str) -> tuple[str, str] | None:
        """(message_id, on) of the message already logged for ``action_id``, or None;
        read inside the caller's write transaction."""
        row = conn.exec_driver_sql('SELECT message_id, "on" FROM messages WHERE action_id = ?', (action_id,)).first()
        return None if row is None else (row[0], row[1])

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
        with self.engine.connect() as conn, conn.begin():
            for name in names:
                out[name] = _typed(TABLES[name], _read(conn, name, ids))
        return out

    def row(self, table: str, key: dict) -> dict | None:
        """One stored row as a dict (with its row_version), or None."""
        t = TABLES[table]
        where = " AND ".join(f'"{k}" = ?' for k in t.key)
        with self.engine.connect() as conn:
            df = pd.read_sql_query(
                f'SELECT * FROM "{table}" WHERE {where}',
                conn.connection.driver_connection,
                params=tuple(key[k] for k in t.key),
            )
        if df.empty:
            return None
        return _typed(t, df).iloc[0].to_dict()

    # ------------------------------------------------------------ writing
    @contextmanager
    def writing(self):
        """One write transaction (BEGIN IMMEDIATE); rolled back whole on any error."""
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
        t = TABLES[table]
        frame = pd.DataFrame([{c: values.get(c) for c in t.column_names}])
        key = {k: values[k] for k in t.key}
        where = " AND ".join(f'"{k}" = ?' for k in t.key)
        params = tuple(key.values())
        with self.writing() as conn:
            current = conn.exec_driver_sql(f'SELECT {ROW_VERSION} FROM "{table}" WHERE {where}', params).scalar()
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
            return conn.exec_driver_sql(f'SELECT {ROW_VERSION} FROM "{table}" WHERE {where}', params).scalar()

    # ------------------------------------------------------------ safety
    def integrity_ok(self) -> bool:
        with self.engine.connect() as conn:
            return conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"

    def backup(self, dest: str | Path) -> Path:
        """A consistent copy of a SQLite store, safe while others use it (online backup)."""
        dest = Path(dest)
        if dest.is_dir():
            dest = dest / f"followup-{dt.datetime.now():%Y%m%d-%H%M%S}.db"
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".partial")
        tmp.unlink(missing_ok=True)
        raw = self.engine.raw_connection()
        try:
            target = sqlite3.connect(tmp)
            with target:
                raw.driver_connection.backup(target)
            target.close()
        finally:
            raw.close()
        tmp.replace(dest)  # never leave a half-written backup under the real name
        return dest

    def restore(self, source: str | Path) -> None:
        """Replace the whole store with a backup, in one transaction."""
        source = Path(source)
        if not source.is_file():
            raise StoreError(f"{source} does not exist (or is not a file); nothing was restored")
        check = sqlite3.connect(source.resolve().as_uri() + "?mode=ro", uri=True)
        try:
            if check.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise StoreError(f"{source} is damaged (integrity check failed); nothing was restored")
            if not check.execute("SELECT name FROM sqlite_master WHERE name='followup_schema'").fetchone():
                raise StoreError(f"{source} is not a Follow-up Workbook store; nothing was restored")
            version = check.execute("SELECT MAX(version) FROM followup_schema").fetchone()[0] or 0
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{source} was made by a newer workbook (schema version {version}, this code knows "
                    f"{SCHEMA_VERSION}); update the workbook first; nothing was restored"
                )
            # A crafted backup (a trigger that deletes rows on the next import, a
            # table missing, a version that does not exist) is refused, naming it.
            problems = schema_problems(check)
            if problems:
                raise StoreError(
                    f"{source} is not a store this workbook wrote ({'; '.join(problems)}); nothing was restored"
                )
        except sqlite3.DatabaseError as exc:
            check.close()
            raise StoreError(f"{source} is not a SQLite store ({exc}); nothing was restored") from exc
        except StoreError:
            check.close()
            raise
        raw = self.engine.raw_connection()
        try:
            check.backup(raw.driver_connection)
        finally:
            raw.close()
            check.close()
        self.engine.dispose()
        _migrate(self.engine)


def open_store(url: str | None = None, upto: int = SCHEMA_VERSION, create: bool = True) -> Store:
    """Open (creating and upgrading as needed) the store at ``url``.

    ``url`` is a SQLAlchemy URL or a plain file path; None means ``FOLLOWUP_DB`` or
    the default SQLite file under ``data/``. With ``create=False`` a SQLite file
    that does not exist is refused, naming it (a mistyped --db must not answer
    "Nothing due." from a new empty store). A SQLite file that is not this
    workbook's (another application's, or one whose schema was tampered with) is
    refused and never altered.
    """
    url = paths.store_url(url)
    sqlite_path = _sqlite_path(url)
    if sqlite_path is not None:
        _check_sqlite_file(sqlite_path, create)
    try:
        engine = make_engine(url)
        _migrate(engine, upto)
        if engine.dialect.name == "sqlite":
            raw = engine.raw_connection()
            try:
                problems = schema_problems(raw.driver_connection)
            finally:
                raw.close()
            if problems:
                engine.dispose()
                raise StoreError(f"the store at {sqlite_path} has been altered: {'; '.join(problems)}")
    except sa.exc.DatabaseError as exc:
        raise StoreError(f"cannot open the store at {url}: {exc.orig}") from exc
    except sa.exc.NoSuchModuleError as exc:
        raise StoreError(f"cannot open the store at {url}: no database driver for it ({exc})") from exc
    except ModuleNotFoundError as exc:
        raise StoreError(
            f"cannot open the store at {url}: its database driver is not installed ({exc.name}); "
            "for PostgreSQL: pip install -e '.[postgres]'"
        ) from exc
    return Store(engine, url)


def _sqlite_path(url: str) -> Path | None:
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url.removeprefix("sqlite:///")).expanduser()
    return None


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


def schema_problems(con: sqlite3.Connection) -> list[str]:
    """How a SQLite store's schema differs from what this workbook writes at its
    recorded version: missing or unknown tables and columns, triggers, views, a
    version that does not exist. Empty when it is exactly ours."""
    try:
        versions = [r[0] for r in con.execute("SELECT version FROM followup_schema")]
    except sqlite3.DatabaseError:
        return ["no followup_schema table"]
    known = {v for v, _, _ in MIGRATIONS}
    if not versions or any(v not in known for v in versions):
        return [f"schema versions {sorted(versions)} are not this workbook's (1–{SCHEMA_VERSION})"]
    version = max(versions)
    if sorted(versions) != sorted(v for v in known if v <= version):
        return [f"schema versions {sorted(versions)} skip a step"]
    problems = []
    objects = con.execute("SELECT type, name, tbl_name FROM sqlite_master").fetchall()
    for kind, name, _table in objects:
        if kind in ("trigger", "view"):
            problems.append(f"a {kind} {name!r} that this workbook never makes")
    tables = {name for kind, name, _ in objects if kind == "table"}
    expected = {t for t in TABLE_ORDER if TABLES[t].added_in <= version} | {"followup_schema"}
    for t in sorted(tables - expected - {"sqlite_sequence", "sqlite_stat1"}):
        problems.append(f"an unknown table {t!r}")
    for t in sorted(expected - tables):
        problems.append(f"the table {t!r} is missing")
    for t in sorted((expected & tables) - {"followup_schema"}):
        have = {r[1] for r in con.execute(f'PRAGMA table_info("{t}")')}
        want = {c.name for c in TABLES[t].columns if c.added_in <= version}
        if version >= 2:
            want.add(ROW_VERSION)
        for c in sorted(want - have):
            problems.append(f"{t}.{c} is missing")
        for c in sorted(have - want):
            problems.append(f"{t}.{c} is not a column of this workbook")
    return problems


# ---------------------------------------------------------------- internals


def _read(conn: sa.Connection, name: str, coachee_ids: list[str] | None) -> pd.DataFrame:
    t = TABLES[name]
    sql = f'SELECT * FROM "{name}"'
    params: tuple = ()
    if coachee_ids is not None:
        marks = ", ".join("?" * len(coachee_ids)) or "NULL"
        apps = f"SELECT application_id FROM applications WHERE coachee_id IN ({marks})"
        if name == "coachees" or "coachee_id" in t.column_names:
            sql += f" WHERE coachee_id IN ({marks})"
        elif "application_id" in t.column_names:
            sql += f" WHERE application_id IN ({apps})"
        else:  # reached through its interview (interview_contacts)
            sql += f" WHERE interview_id IN (SELECT interview_id FROM interviews WHERE application_id IN ({apps}))"
        params = tuple(coachee_ids)
    sql += " ORDER BY " + ", ".join(f'"{k}"' for k in t.key)
    cur = conn.connection.driver_connection.execute(sql, params)
    cols = [d[0] for d in cur.description]
    return pd.DataFrame.from_records(cur.fetchall(), columns=cols)


def _typed(t: Table, df: pd.DataFrame) -> pd.DataFrame:
    """Stored values to the in-memory types every other module expects."""
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
    """One in-memory value to what the driver stores."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if kind == DATE:
        return pd.Timestamp(value).strftime("%Y-%m-%d")
    if kind == BOOL:
        return int(bool(value))
    return str(value)


def _upsert_table(conn: sa.Connection, t: Table, frame: pd.DataFrame) -> dict[str, int]:
    cols = [c for c in t.column_names if c in frame.columns]
    kinds = [t.column(c).kind for c in cols]
    rows = [tuple(_stored(k, v) for k, v in zip(kinds, rec)) for rec in frame[cols].itertuples(index=False)]
    if not rows:
        return {"added": 0, "changed": 0}
    q = lambda c: f'"{c}"'  # noqa: E731
    non_key = [c for c in cols if c not in t.key]
    # A column with a default that the frame leaves out: a new row gets the
    # default, a stored row keeps its value (it is not in the update below).
    defaults = [c for c in t.columns if c.default is not None and c.name not in cols]
    if defaults:
        rows = [row + tuple(c.default for c in defaults) for row in rows]
        cols = cols + [c.name for c in defaults]
    raw = conn.connection.driver_connection
    before = raw.total_changes
    n_before = raw.execute(f'SELECT COUNT(*) FROM "{t.name}"').fetchone()[0]
    if non_key:
        update = (
            " DO UPDATE SET "
            + ", ".join(f"{q(c)} = excluded.{q(c)}" for c in non_key)
            + f", {ROW_VERSION} = {ROW_VERSION} + 1 WHERE "
            + " OR ".join(f'"{t.name}".{q(c)} IS NOT excluded.{q(c)}' for c in non_key)
        )
    else:
        update = " DO NOTHING"
    sql = (
        f'INSERT INTO "{t.name}" ({", ".join(map(q, cols))}) VALUES ({", ".join("?" * len(cols))}) '
        f"ON CONFLICT ({', '.join(map(q, t.key))}){update}"
    )
    raw.executemany(sql, rows)
    touched = raw.total_changes - before
    added = raw.execute(f'SELECT COUNT(*) FROM "{t.name}"').fetchone()[0] - n_before
    return {"added": added, "changed": touched - added}
