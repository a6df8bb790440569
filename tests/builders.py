"""What the tests build and read: rows, typed tables, CSV folders, the store's file,
and the ``followup`` command. Fixtures live in conftest.py.

Test modules import their helpers from here, never from one another
(``tests/test_project.py`` checks that).

Dates in the small worlds are fixed; November 2026 runs Mon 2, Fri 6, Mon 9,
Fri 13, Mon 16, Fri 20.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from followup_lib.data.demo import DEMO_AS_OF

# The store's own conversions: the in-memory tables below are typed by the very
# code that types what ``Store.load`` reads, so they cannot drift apart from it
# (and test_rules.py checks the two against each other on a real SQLite file).
from followup_lib.data.store import ROW_VERSION, _stored, _typed
from followup_lib.data.validation import RawTable
from followup_lib.logic.rules import due_actions
from followup_lib.schema import BOOL, TABLE_ORDER, TABLES
from followup_lib.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
AS_OF = DEMO_AS_OF  # the committed demo's today: a Monday


# ------------------------------------------------------------------ typed tables, in memory

_BOOLEANS = {"true": True, "false": False, True: True, False: False}


def _blank(v) -> bool:
    return v is None or (isinstance(v, str) and v == "") or (isinstance(v, float) and v != v)


def written_frames(rows: dict[str, list[dict]]) -> dict[str, pd.DataFrame]:
    """Rows of text (as in a CSV) as an import writes them: every table of the
    schema, blank cells missing, ``true``/``false`` as booleans, a column's
    default (an application's status) where its cell is blank."""
    unknown = set(rows) - set(TABLES)
    assert not unknown, f"no such tables: {unknown}"
    frames = {}
    for name in TABLE_ORDER:
        t = TABLES[name]
        records = []
        for given in rows.get(name) or []:
            extra = set(given) - set(t.column_names)
            assert not extra, f"{name} has no columns {extra}"
            row = {}
            for c in t.columns:
                v = given.get(c.name)
                if _blank(v):
                    v = c.default
                elif c.kind == BOOL:
                    assert v in _BOOLEANS, f"{name}.{c.name}: {v!r} is not true or false"
                    v = _BOOLEANS[v]
                row[c.name] = v
            records.append(row)
        frames[name] = pd.DataFrame(records, columns=t.column_names, dtype=object)
    return frames


def tables(**rows: list[dict]) -> dict[str, pd.DataFrame]:
    """Typed tables exactly as ``Store.load`` returns them for these rows, with no
    store: each value converted as the store writes it, rows in key order as the
    store reads them, ``row_version`` 1 as for a new row, typed by the store's own
    ``_typed``. Tables not named are empty."""
    out = {}
    for name, frame in written_frames(rows).items():
        t = TABLES[name]
        kinds = [t.column(c).kind for c in t.column_names]
        records = [
            tuple(_stored(k, v) for k, v in zip(kinds, rec)) + (1,) for rec in frame.itertuples(index=False, name=None)
        ]
        key_at = [t.column_names.index(k) for k in t.key]
        keys = [tuple(r[i] for i in key_at) for r in records]
        assert len(set(keys)) == len(keys), f"{name}: the same key twice in {keys}"
        records.sort(key=lambda r: tuple(r[i] for i in key_at))
        out[name] = _typed(t, pd.DataFrame.from_records(records, columns=[*t.column_names, ROW_VERSION]))
    return out


def store_rows(store, **rows: list[dict]) -> dict[str, pd.DataFrame]:
    """Makes ``store`` hold exactly these rows (as ``written_frames`` writes them,
    without the pandera pass); returns ``store.load()``."""
    frames = written_frames(rows)
    with store.writing() as conn:
        for name in reversed(TABLE_ORDER):
            conn.exec_driver_sql(f'DELETE FROM "{name}"')
        store.upsert(frames, conn)
    return store.load()


def raw_tables(**rows: list[dict]) -> dict[str, RawTable]:
    """The same rows as text tables, as an import reads them (for ``validate_tables``)."""
    return {
        name: RawTable(
            pd.DataFrame(list(rows.get(name) or []), columns=TABLES[name].column_names, dtype=object).fillna(""), name
        )
        for name in TABLE_ORDER
    }


# ------------------------------------------------------------------ a tiny world (the rule tests)

COACHEE = dict(coachee_id="C1", name="Maya Lindqvist", email="maya@example.com", coach="Dana Reyes")
APP = dict(
    application_id="A1", coachee_id="C1", company="Northwind Analytics", role="Senior Data Analyst", status="active"
)
OFFER_APP = {**APP, "status": "offer"}
LETTER = dict(
    verbal_on="2026-11-10", written_received_on="2026-11-12", salary="$142,000", conditions="Background check"
)
FINAL = dict(final_round="true", next_step_by="")


def world_rows(**rows: list[dict]) -> dict[str, list[dict]]:
    """Maya's search: her and the Northwind application unless others are given."""
    return {**rows, "coachees": rows.get("coachees") or [COACHEE], "applications": rows.get("applications") or [APP]}


def world(**rows: list[dict]) -> dict[str, pd.DataFrame]:
    """Maya's search with these rows, typed in memory as ``Store.load`` returns them."""
    return tables(**world_rows(**rows))


def raw_world(**rows: list[dict]) -> dict[str, RawTable]:
    """Maya's search with these rows, as text tables an import reads."""
    return raw_tables(**world_rows(**rows))


def interview(**over) -> dict:
    """The first interview: Monday 2 Nov with Priya, thanked the next day."""
    row = dict(
        interview_id="I1",
        application_id="A1",
        held_on="2026-11-02",
        round="1",
        format="video",
        interviewer_name="Priya Natarajan",
        interviewer_email="priya@northwind.example",
        interviewer_phone="+1 555 0100",
        preferred_channel="email",
        final_round="false",
        thank_you_sent_on="2026-11-03",
        topics="the churn dashboard",
    )
    row.update(over)
    return row


def reference(**over) -> dict:
    row = dict(
        reference_id="R1",
        coachee_id="C1",
        name="Tom Becker",
        relationship="Former manager",
        email="tom@example.org",
        phone="+1 555 0101",
    )
    row.update(over)
    return row


def ref_use(**over) -> dict:
    row = dict(reference_id="R1", application_id="A1", given_on="2026-10-30")
    row.update(over)
    return row


def message(mid: str, on: str, direction: str, kind: str = "update", app: str = "A1") -> dict:
    return dict(message_id=mid, application_id=app, on=on, direction=direction, channel="email", kind=kind, summary="")


def offer(**over) -> dict:
    row = dict(application_id="A1")
    row.update(over)
    return row


def due(t, as_of, settings: Settings | None = None, **kw) -> pd.DataFrame:
    return due_actions(t, as_of, settings, **kw)


def of_kind(actions: pd.DataFrame, kind: str) -> pd.DataFrame:
    return actions[actions["kind"] == kind].reset_index(drop=True)


def one(actions: pd.DataFrame, kind: str) -> dict:
    rows = of_kind(actions, kind)
    assert len(rows) == 1, f"expected one {kind}, got {len(rows)}:\n{actions[['action_id', 'due_on']]}"
    return rows.iloc[0].to_dict()


def day(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


# ------------------------------------------------------------------ short rows (the analysis tests)


def make_tables(**rows: list[dict]) -> dict[str, pd.DataFrame]:
    """Typed tables as ``Store.load`` returns them, with one coachee (C1) unless others are given."""
    rows.setdefault("coachees", [dict(coachee_id="C1", name="Maya Lindqvist")])
    return tables(**rows)


def app(aid: str, company: str = "Northwind Analytics", status: str = "active", role: str = "Analyst") -> dict:
    return dict(application_id=aid, coachee_id="C1", company=company, role=role, status=status)


def iv(iid: str, aid: str, held_on: str, next_step_by=None, round="1", final="false", thanked="auto") -> dict:
    return dict(
        interview_id=iid,
        application_id=aid,
        held_on=held_on,
        next_step_by=next_step_by,
        round=round,
        final_round=final,
        thank_you_sent_on=held_on if thanked == "auto" else thanked,
        interviewer_name="Priya Natarajan",
    )


def msg(mid: str, aid: str, on: str, direction: str = "received", kind: str = "update") -> dict:
    return dict(message_id=mid, application_id=aid, on=on, direction=direction, channel="email", kind=kind)


# ------------------------------------------------------------------ CSV folders


def write_csvs(folder: Path, rows: dict[str, list[dict]]) -> Path:
    """A folder in the import format: one CSV per table, from lists of row dicts."""
    folder.mkdir(parents=True, exist_ok=True)
    for table, records in rows.items():
        with open(folder / f"{table}.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(records[0]))
            writer.writeheader()
            writer.writerows(records)
    return folder


# ------------------------------------------------------------------ the store's file, read with plain sqlite3
# Never with the code under test.


def db_path(url_or_store) -> Path:
    url = getattr(url_or_store, "url", url_or_store)
    return Path(str(url).removeprefix("sqlite:///"))


def table_contents(db, names=None) -> dict[str, list[tuple]]:
    """Every row of every table (or the ones named), sorted, read with plain sqlite3."""
    conn = sqlite3.connect(db_path(db))
    try:
        names = names or [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        out = {}
        for name in names:
            cur = conn.execute(f'SELECT * FROM "{name}"')
            cols = [d[0] for d in cur.description]
            rows = cur.fetchall()
            out[name] = [tuple(cols)] + sorted(rows, key=repr)
        return out
    finally:
        conn.close()


def data_contents(db) -> dict[str, list[tuple]]:
    """The tables of the workbook (with row_version), not the migration log."""
    return table_contents(db, TABLE_ORDER)


def checkpoint(db) -> None:
    """Fold a SQLite store's write-ahead log into its file, so the file alone is the store."""
    conn = sqlite3.connect(db_path(db))
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def file_bytes(db) -> bytes:
    """The store file's bytes once its write-ahead log is folded in."""
    checkpoint(db)
    return db_path(db).read_bytes()


def copy_sqlite(source: Path, dest: Path) -> None:
    """A store of its own with the contents of ``source``, a store's file that
    nothing has open and whose log is folded in (``checkpoint``): its file, copied."""
    shutil.copyfile(source, dest)


# ------------------------------------------------------------------ the followup command


@dataclass
class Ran:
    """One run of the ``followup`` command: what a user would see of it."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str


def run_cli(
    *args: str, db: str | None = None, env: dict | None = None, check: bool = False, cwd: str | Path | None = None
) -> subprocess.CompletedProcess:
    """Runs the installed ``followup`` command in a process of its own, as a user would.

    Slow (a Python start and its imports each time): kept for what only a real
    process shows. Everything else uses ``run_main`` (the ``followup`` fixture)."""
    exe = Path(sys.executable).with_name("followup")
    cmd = [str(exe)] + (["--db", db] if db else []) + list(args)
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=full_env, cwd=cwd or ROOT, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def run_main(
    capsys, monkeypatch, *args: str, db: str | None = None, env: dict | None = None, check: bool = False
) -> Ran:
    """``followup [--db DB] ARGS`` run in this process: ``followup_lib.faces.cli.main``
    with its own error handling, its output read with ``capsys``, ``env`` set for the
    run only. An exception ``main`` lets through fails the test (a user would see a
    traceback); argparse's exits (``--help``, a bad argument) give their code."""
    from followup_lib.faces.cli import main

    argv = (["--db", db] if db else []) + list(args)
    capsys.readouterr()  # what came before is not this command's
    message = ""
    with monkeypatch.context() as m:
        for k, v in (env or {}).items():
            m.setenv(k, v)
        try:
            code = main(argv)
        except SystemExit as exc:
            if exc.code is None or isinstance(exc.code, int):
                code = exc.code or 0
            else:  # sys.exit("text"): Python prints it and exits 1
                code, message = 1, f"{exc.code}\n"
    out, err = capsys.readouterr()
    ran = Ran(["followup", *argv], code, out, err + message)
    if check and code != 0:
        raise AssertionError(f"{ran.args} failed ({code}):\n{ran.stdout}\n{ran.stderr}")
    return ran


# ------------------------------------------------------------------ a browser


def chromium_path() -> str | None:
    """Debian's Chromium, or None (browser tests then skip, except under CI)."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def require_chromium() -> str:
    path = chromium_path()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but no chromium on PATH: .ci/run must install it")
        pytest.skip("Chromium is not installed (apt-get install -y chromium); browser test skipped")
    return path


# ------------------------------------------------------------------ the app


APP_LINE = re.compile(r"Follow-up Workbook app: (http://127\.0\.0\.1:(\d+)/(?:\?token=(\S+))?)")


class RunningApp(dict):
    """``followup app`` started for a test: ``url`` (with its token), ``base``,
    ``token``, ``port``, ``proc``, ``log``. Stop it with ``stop()``."""

    def stop(self) -> None:
        from followup_lib.faces.app import stop_process_group

        stop_process_group(self["proc"], timeout=20)
        self["log_file"].close()


def _settings_env(folder: Path, settings: str | None) -> dict[str, str]:
    """The app's settings file: ``settings`` written in the test's folder; else the
    one the caller set in FOLLOWUP_SETTINGS; else one in the test's folder (none
    there) — never the checkout's data/settings.toml, nor anything written beside it
    (the session's day)."""
    path = folder / "app-settings.toml"
    if settings is not None:
        path.write_text(settings)
    elif os.environ.get("FOLLOWUP_SETTINGS"):
        return {}
    return {"FOLLOWUP_SETTINGS": str(path)}


def start_app(folder: Path, db: str, *extra: str, timeout: float = 90, settings: str | None = None) -> RunningApp:
    """``followup app --port 0`` in a process group of its own: waits for the
    address it prints (the real port, and the token) and for Voilà to answer.
    ``settings``: the text of a settings file the app reads (FOLLOWUP_SETTINGS)."""
    import subprocess
    import sys
    import time
    import urllib.request
    from functools import partial

    from followup_lib.faces.app import _stop_with_parent

    exe = Path(sys.executable).with_name("followup")
    log_path = folder / f"app-{time.monotonic_ns()}.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [str(exe), "--db", db, "app", "--no-browser", "--port", "0", "--as-of", AS_OF.isoformat(), *extra],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "FOLLOWUP_TEMPLATES": str(folder / "none"), **_settings_env(folder, settings)},
        start_new_session=True,  # a process group of its own, stopped as a whole
        # If pytest itself is killed, the app is told to stop (and stops Voilà).
        preexec_fn=partial(_stop_with_parent, os.getpid()),
    )
    app = RunningApp(proc=proc, log=log_path, log_file=log)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"the app exited with {proc.returncode}: {log_path.read_text()}")
            m = APP_LINE.search(log_path.read_text())
            if m and "url" not in app:
                app.update(url=m.group(1), port=int(m.group(2)), token=m.group(3) or "")
                app["base"] = f"http://127.0.0.1:{app['port']}/"
            if "url" in app:
                try:
                    # A static file: asking for the page would start (and abandon) a kernel.
                    with urllib.request.urlopen(app["base"] + "voila/static/voila.js", timeout=2) as r:
                        if r.status == 200:
                            return app
                except OSError:
                    pass
            time.sleep(0.3)
        raise AssertionError(f"the app did not answer within {timeout}s: {log_path.read_text()}")
    except BaseException:
        app.stop()
        raise
