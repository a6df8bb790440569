"""Builders shared by the contract tests (v2 and v3): rows in the import format,
typed tables as Store.load returns them, the pure rules on them, and plain-sqlite3
readers of a store file. (Shared helpers live outside the test modules: a test
module never imports another.)"""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import pandas as pd

from followup_lib.data.store import ROW_VERSION, _typed
from followup_lib.logic.rules import due_actions
from followup_lib.schema import TABLE_ORDER, TABLES
from followup_lib.settings import Settings

# ------------------------------------------------------------------ rows and the rules

COACHEE = dict(coachee_id="C1", name="Maya Lindqvist", email="maya@example.com", coach="Dana Reyes")


def application(aid: str = "A1", company: str = "Globex", status: str = "active", **over) -> dict:
    return dict(application_id=aid, coachee_id="C1", company=company, role="Data Analyst", status=status, **over)


def interview(iid: str = "I1", aid: str = "A1", held_on: str = "2026-11-02", **over) -> dict:
    """An interview with Priya, thanked on the day, with no date given and not the final round."""
    row = dict(
        interview_id=iid,
        application_id=aid,
        held_on=held_on,
        round="1",
        format="video",
        interviewer_name="Priya Natarajan",
        interviewer_email="priya@globex.example",
        interviewer_phone=None,
        preferred_channel="email",
        next_step_by=None,
        final_round=False,
        thank_you_sent_on=held_on,
    )
    row.update(over)
    return row


def contact(cid: str, aid: str = "A1", name: str = "Chloe Adams", **over) -> dict:
    row = dict(
        contact_id=cid,
        application_id=aid,
        name=name,
        title="Talent Partner",
        email=f"{cid.lower()}@globex.example",
        phone=None,
        preferred_channel="email",
        point_of_contact=False,
    )
    row.update(over)
    return row


def reference(rid: str = "R1", name: str = "Tom Becker", **over) -> dict:
    row = dict(reference_id=rid, coachee_id="C1", name=name, email=f"{rid.lower()}@example.org")
    row.update(over)
    return row


def ref_use(rid: str = "R1", aid: str = "A1", **over) -> dict:
    row = dict(reference_id=rid, application_id=aid, given_on="2026-10-01")
    row.update(over)
    return row


def message(mid: str, on: str, direction: str = "sent", kind: str = "update", aid: str = "A1", **over) -> dict:
    row = dict(message_id=mid, application_id=aid, on=on, direction=direction, channel="email", kind=kind)
    row.update(over)
    return row


def typed_tables(**rows: list[dict]) -> dict[str, pd.DataFrame]:
    """Every table of the schema, typed as ``Store.load`` returns it (the store's own
    ``_typed``, a row_version of 1); tables not named are empty. Maya and her Globex
    application unless coachees / applications are given."""
    rows.setdefault("coachees", [COACHEE])
    rows.setdefault("applications", [application()])
    unknown = set(rows) - set(TABLES)
    assert not unknown, unknown
    out = {}
    for name in TABLE_ORDER:
        t = TABLES[name]
        for r in rows.get(name, []):
            assert set(r) <= set(t.column_names), f"{name} has no column {set(r) - set(t.column_names)}"
        frame = pd.DataFrame(
            [{c: r.get(c) for c in t.column_names} for r in rows.get(name, [])], columns=t.column_names, dtype=object
        )
        frame[ROW_VERSION] = 1
        out[name] = _typed(t, frame)
    return out


def due(as_of: str, settings: Settings | None = None, **rows: list[dict]) -> pd.DataFrame:
    return due_actions(typed_tables(**rows), as_of, settings or Settings())


def of_kind(actions: pd.DataFrame, kind: str, app: str | None = None) -> pd.DataFrame:
    rows = actions[actions["kind"].eq(kind)]
    if app is not None:
        rows = rows[rows["application_id"].eq(app)]
    return rows.reset_index(drop=True)


def one(actions: pd.DataFrame, kind: str, app: str | None = None) -> dict:
    rows = of_kind(actions, kind, app)
    assert len(rows) == 1, f"expected one {kind}, got {len(rows)}:\n{actions[['action_id', 'status', 'due_on']]}"
    return rows.iloc[0].to_dict()


def none_of(actions: pd.DataFrame, kind: str, app: str | None = None) -> None:
    rows = of_kind(actions, kind, app)
    assert rows.empty, f"expected no {kind}, got:\n{rows[['action_id', 'status', 'due_on', 'why']]}"


def day(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


# ------------------------------------------------------------------ files and stores


def write_folder(folder: Path, rows: dict[str, list[dict]], columns: dict[str, list[str]] | None = None) -> Path:
    """A folder in the import format: one CSV per table named in ``rows``. The header
    is ``columns[table]`` if given, else every column the rows use, in schema order."""
    folder.mkdir(parents=True, exist_ok=True)
    for table, records in rows.items():
        used = {k for r in records for k in r}
        header = (columns or {}).get(table) or [c for c in TABLES[table].column_names if c in used]
        with open(folder / f"{table}.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(header)
            for r in records:
                writer.writerow(["" if r.get(c) is None else r.get(c) for c in header])
    return folder


def read_csv_rows(path: Path) -> tuple[list[str], list[dict]]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def db_file(store_or_url) -> Path:
    return Path(str(getattr(store_or_url, "url", store_or_url)).removeprefix("sqlite:///"))


def dump(store_or_url) -> str:
    """The whole store as SQL text (every table, row and schema entry), read with plain sqlite3."""
    conn = sqlite3.connect(db_file(store_or_url))
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def sql_rows(path, table: str) -> list[dict]:
    """Every row of ``table`` as dicts, in key order, read with plain sqlite3."""
    conn = sqlite3.connect(db_file(path))
    conn.row_factory = sqlite3.Row
    try:
        order = ", ".join(f'"{k}"' for k in TABLES[table].key) if table in TABLES else "rowid"
        return [dict(r) for r in conn.execute(f'SELECT * FROM "{table}" ORDER BY {order}')]
    finally:
        conn.close()


def sql_columns(path, table: str) -> list[str]:
    conn = sqlite3.connect(db_file(path))
    try:
        return [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
    finally:
        conn.close()


def sql_tables(path) -> set[str]:
    conn = sqlite3.connect(db_file(path))
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()
