"""Contract v2, the store parts (issue 9): a panel member's thank-you marked sent,
the migration of a version-3 store (the committed tests/fixtures/store_v3.db), the
round trips of a first-release file and of a v2 file, and every new bad input —
refused by table, row and column, with the store left exactly as it was.

Every test here uses a real SQLite file in its own temp folder; the store's
contents are read back with plain ``sqlite3``, never with the code under test.
"""

from __future__ import annotations

import csv
import datetime as dt
import filecmp
import shutil
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from followup_lib import paths
from followup_lib.data.logbook import mark_sent
from followup_lib.data.store import ROW_VERSION, SCHEMA_VERSION, open_store
from followup_lib.data.transfer import export_store, import_path
from followup_lib.errors import ValidationError
from followup_lib.logic.rules import due_actions
from followup_lib.schema import TABLE_ORDER, TABLES, TABLES_V1
from followup_lib.settings import Settings

FIXTURES = Path(__file__).resolve().parent / "fixtures"
STORE_V3 = FIXTURES / "store_v3.db"
V2_TABLES = [name for name in TABLE_ORDER if TABLES[name].added_in > 1]


# ------------------------------------------------------------------ small local helpers


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


@pytest.fixture
def store(db_url):
    s = open_store(db_url)
    yield s
    s.engine.dispose()


def fresh_store(tmp_path: Path, name: str):
    return open_store(f"sqlite:///{tmp_path / name}")


# ------------------------------------------------------------------ 1. a panel: Mark sent fills the right person's date

PANEL_ROWS = {
    "coachees": [dict(coachee_id="C1", name="Maya Lindqvist", email="maya@example.com")],
    "applications": [dict(application_id="A1", coachee_id="C1", company="Globex", role="Data Analyst")],
    "interviews": [
        dict(
            interview_id="I1",
            application_id="A1",
            held_on="2026-11-09",
            format="panel",
            interviewer_name="Priya Natarajan",
            interviewer_email="priya@globex.example",
            preferred_channel="email",
            final_round="false",
        )
    ],
    "contacts": [
        dict(contact_id="K1", application_id="A1", name="Samir Okoye", email="samir@globex.example"),
        dict(contact_id="K2", application_id="A1", name="Julia Brandt", email="julia@globex.example"),
    ],
    "interview_contacts": [dict(interview_id="I1", contact_id="K1"), dict(interview_id="I1", contact_id="K2")],
}


def thank_yous(store, as_of: str) -> pd.DataFrame:
    actions = due_actions(store.load(), as_of, Settings())
    return actions[actions["kind"].eq("thank_you_note")].reset_index(drop=True)


def test_marking_one_panel_members_thank_you_sent_records_it_for_that_person_only(store, tmp_path):
    import_path(store, write_folder(tmp_path / "panel", PANEL_ROWS))
    notes = thank_yous(store, "2026-11-10")
    assert sorted(notes["recipient"]) == ["Julia Brandt", "Priya Natarajan", "Samir Okoye"]
    samir = notes[notes["recipient"].eq("Samir Okoye")].iloc[0].to_dict()
    assert samir["contact_id"] == "K1"

    msg_id = mark_sent(store, samir, dt.date(2026, 11, 10))

    assert [(r["contact_id"], r["thank_you_sent_on"]) for r in sql_rows(store, "interview_contacts")] == [
        ("K1", "2026-11-10"),
        ("K2", None),
    ]
    assert sql_rows(store, "interviews")[0]["thank_you_sent_on"] is None  # Priya's is still to send
    [logged] = sql_rows(store, "messages")
    assert (logged["message_id"], logged["kind"], logged["direction"], logged["on"]) == (
        msg_id,
        "thank_you_note",
        "sent",
        "2026-11-10",
    )
    assert (logged["contact_id"], logged["action_id"], logged["reference_id"]) == ("K1", samir["action_id"], None)
    assert sorted(thank_yous(store, "2026-11-10")["recipient"]) == ["Julia Brandt", "Priya Natarajan"]

    # The interviewer's own note is recorded on the interview, and leaves Julia's.
    priya = thank_yous(store, "2026-11-10").set_index("recipient").loc["Priya Natarajan"].to_dict()
    mark_sent(store, {**priya, "recipient": "Priya Natarajan"}, dt.date(2026, 11, 11))
    assert sql_rows(store, "interviews")[0]["thank_you_sent_on"] == "2026-11-11"
    assert [r["thank_you_sent_on"] for r in sql_rows(store, "interview_contacts")] == ["2026-11-10", None]
    assert thank_yous(store, "2026-11-11")["recipient"].tolist() == ["Julia Brandt"]


# ------------------------------------------------------------------ 13. migration from a version-3 store


def test_the_committed_fixture_is_a_version_3_store():
    assert max(r["version"] for r in sql_rows(STORE_V3, "followup_schema")) == 3
    assert not {"contacts", "interview_contacts"} & sql_tables(STORE_V3)
    assert "action_id" in sql_columns(STORE_V3, "messages")
    assert "next_step_by" not in sql_columns(STORE_V3, "messages")
    assert "country" not in sql_columns(STORE_V3, "coachees")
    assert all(sql_rows(STORE_V3, name) for name in TABLES_V1), "every first-release table holds a row"


def test_a_version_3_store_upgrades_to_version_4_and_keeps_every_row(tmp_path):
    old = tmp_path / "v3.db"
    shutil.copy(STORE_V3, old)  # never the committed file itself: opening it migrates it
    before = {name: sql_rows(old, name) for name in TABLES_V1}
    old_columns = {name: sql_columns(old, name) for name in TABLES_V1}

    store = open_store(str(old))
    try:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.integrity_ok()
        assert {"contacts", "interview_contacts"} <= sql_tables(old)
        for name in TABLE_ORDER:
            assert set(sql_columns(old, name)) == set(TABLES[name].column_names) | {ROW_VERSION}, name
        for name in TABLES_V1:
            after = sql_rows(old, name)
            assert [{c: r[c] for c in old_columns[name]} for r in after] == before[name], name
            added = [c for c in TABLES[name].column_names if c not in old_columns[name]]
            assert all(r[c] is None for r in after for c in added), (name, added)
        for name in ("contacts", "interview_contacts"):
            assert sql_rows(old, name) == []
        assert sql_rows(old, "messages")[0]["action_id"] == "thank_you_note:A1:I1"

        # It loads, and the rules read it as they did (Globex's date of Fri 6 + 2 business days).
        tables = store.load()
        assert {name: len(df) for name, df in tables.items()} == {
            name: len(before.get(name, [])) for name in TABLE_ORDER
        }
        actions = due_actions(tables, "2026-11-10", Settings())
        inquiry = actions[actions["kind"].eq("status_inquiry")].iloc[0]
        assert (inquiry["application_id"], inquiry["due_on"], inquiry["recipient"]) == (
            "A1",
            pd.Timestamp("2026-11-10"),
            "Priya Natarajan",
        )
        loops = actions[actions["kind"].eq("close_the_loop")]
        assert list(zip(loops["application_id"], loops["reference_id"])) == [("A2", "R1")]
        assert actions.loc[actions["kind"].eq("request_written_offer"), "application_id"].tolist() == ["A3"]
    finally:
        store.engine.dispose()
    # Opening it again changes nothing.
    migrated = dump(old)
    open_store(str(old)).engine.dispose()
    assert dump(old) == migrated


# ------------------------------------------------------------------ 14. round trips

# A first-release file: the eight original tables with their original columns only,
# written as export writes them (sorted by key, ISO dates, true/false).
V1_COLUMNS = {name: [c.name for c in TABLES[name].columns if c.added_in == 1] for name in TABLES_V1}
V1_ROWS = {
    "coachees": [dict(coachee_id="C1", name="Maya Lindqvist", email="maya@example.com", coach="Dana Reyes")],
    "applications": [
        dict(application_id="A1", coachee_id="C1", company="Globex", role="Analyst, Data", status="active"),
        dict(application_id="A2", coachee_id="C1", company="Initech", role="BI Analyst", status="rejected"),
    ],
    "interviews": [
        dict(
            interview_id="I1",
            application_id="A1",
            held_on="2026-11-02",
            round="1",
            format="video",
            interviewer_name="Priya Natarajan",
            interviewer_email="priya@globex.example",
            preferred_channel="email",
            next_step_by="2026-11-06",
            final_round="false",
            thank_you_sent_on="2026-11-03",
            topics="the churn model; SQL performance",
            notes='She said "soon"',
        ),
        dict(interview_id="I2", application_id="A2", held_on="2026-10-01", final_round="true"),
    ],
    "references": [dict(reference_id="R1", coachee_id="C1", name="Tom Becker", email="tom@example.org")],
    "reference_uses": [
        dict(reference_id="R1", application_id="A1", given_on="2026-10-30", briefed_on="2026-11-03"),
        dict(reference_id="R1", application_id="A2", given_on="2026-09-28"),
    ],
    "promises": [dict(promise_id="P1", application_id="A1", what="a writing sample", due_on="2026-11-12")],
    "messages": [
        dict(message_id="M1", application_id="A1", on="2026-11-03", direction="sent", channel="email", kind="thanks"),
        dict(message_id="M2", application_id="A2", on="2026-10-08", direction="received", kind="rejection"),
    ],
    "offers": [dict(application_id="A2", verbal_on="2026-10-05", salary="$90,000")],
}


def test_a_first_release_file_imports_unchanged_and_exports_the_same_values(store, tmp_path):
    v1 = write_folder(tmp_path / "v1", V1_ROWS, V1_COLUMNS)
    import_path(store, v1)
    stored = dump(store)
    import_path(store, v1)  # keyed by id: twice changes nothing
    assert dump(store) == stored

    out = tmp_path / "export"
    export_store(store, out)
    assert sorted(p.stem for p in out.glob("*.csv")) == sorted(TABLE_ORDER)
    for name in TABLES_V1:
        header, rows = read_csv_rows(out / f"{name}.csv")
        assert header == TABLES[name].column_names, name
        _, original = read_csv_rows(v1 / f"{name}.csv")
        assert [{c: r[c] for c in V1_COLUMNS[name]} for r in rows] == original, name
        assert all(r[c] == "" for r in rows for c in header if c not in V1_COLUMNS[name]), name
    for name in ("contacts", "interview_contacts"):
        header, rows = read_csv_rows(out / f"{name}.csv")
        assert (header, rows) == (TABLES[name].column_names, []), name

    # And it round-trips exactly: into an empty store, out again, the same files.
    again = fresh_store(tmp_path, "again.db")
    import_path(again, out)
    export_store(again, tmp_path / "export2")
    again.engine.dispose()
    for name in TABLE_ORDER:
        assert (out / f"{name}.csv").read_bytes() == (tmp_path / "export2" / f"{name}.csv").read_bytes(), name


def test_a_first_release_file_means_what_it_meant(store, tmp_path):
    import_path(store, write_folder(tmp_path / "v1", V1_ROWS, V1_COLUMNS))
    actions = due_actions(store.load(), "2026-11-10", Settings())
    got = sorted(zip(actions["kind"], actions["application_id"], actions["due_on"], actions["recipient"]))
    assert got == [
        ("close_the_loop", "A2", pd.Timestamp("2026-10-08"), "Tom Becker"),  # its last word: the rejection
        ("keep_promise", "A1", pd.Timestamp("2026-11-12"), "Priya Natarajan"),
        ("status_inquiry", "A1", pd.Timestamp("2026-11-10"), "Priya Natarajan"),
    ]


def test_the_demo_a_v2_file_round_trips_exactly(store, tmp_path):
    import_path(store, paths.demo_dir())
    first = tmp_path / "first"
    export_store(store, first)
    again = fresh_store(tmp_path, "again.db")
    try:
        import_path(again, first)
        second = tmp_path / "second"
        export_store(again, second)
        names = sorted(p.name for p in first.iterdir())
        assert names == sorted(f"{t}.csv" for t in TABLE_ORDER)
        match, mismatch, errors = filecmp.cmpfiles(first, second, names, shallow=False)
        assert (mismatch, errors) == ([], [])
        # Every v2 table and column is in it, with the demo's rows.
        for name in V2_TABLES:
            assert read_csv_rows(first / f"{name}.csv")[1], f"the demo's {name} is empty"
        a, b = store.load(), again.load()
        for name in TABLE_ORDER:
            pd.testing.assert_frame_equal(a[name].drop(columns=ROW_VERSION), b[name].drop(columns=ROW_VERSION))
        # The workbook format too: the same tables through one .xlsx.
        book = tmp_path / "demo.xlsx"
        export_store(store, book)
        third = fresh_store(tmp_path, "third.db")
        try:
            import_path(third, book)
            export_store(third, tmp_path / "third")
        finally:
            third.engine.dispose()
        match, mismatch, errors = filecmp.cmpfiles(first, tmp_path / "third", names, shallow=False)
        assert (mismatch, errors) == ([], [])
    finally:
        again.engine.dispose()


# ------------------------------------------------------------------ 15. bad input, refused by name, store unchanged

BASE_ROWS = {
    "coachees": [dict(coachee_id="C1", name="Maya Lindqvist")],
    "applications": [
        dict(application_id="A1", coachee_id="C1", company="Globex", role="Data Analyst"),
        dict(application_id="A2", coachee_id="C1", company="Initech", role="BI Analyst"),
    ],
    "interviews": [
        dict(interview_id="I1", application_id="A1", held_on="2026-11-02", interviewer_name="Priya Natarajan"),
        dict(interview_id="I2", application_id="A2", held_on="2026-11-03", interviewer_name="Ben Ito"),
    ],
    "contacts": [
        dict(contact_id="K1", application_id="A1", name="Samir Okoye", point_of_contact="false"),
        dict(contact_id="K2", application_id="A2", name="Hana Kim", point_of_contact="true"),
    ],
}
# A good new row in every bad file: it must not be written either.
NEW_APP = dict(application_id="A3", coachee_id="C1", company="Umbrella", role="Analyst")


def promise(contact_id: str) -> dict:
    return dict(
        promise_id="P1", application_id="A1", what="a writing sample", due_on="2026-11-12", contact_id=contact_id
    )


def msg(contact_id: str) -> dict:
    return dict(message_id="M1", application_id="A1", on="2026-11-04", direction="sent", contact_id=contact_id)


def coachee(**place) -> dict:
    return dict(coachee_id="C2", name="Jordan Okafor", **place)


def poc(cid: str, app: str, flag: str) -> dict:
    return dict(contact_id=cid, application_id=app, name=f"Person {cid}", point_of_contact=flag)


IC = dict  # an interview_contacts row

# (id, bad tables, (table, rows, column, words in the message), the same file put right)
BAD_INPUTS = [
    (
        "panel-member-of-another-application",
        {"interview_contacts": [IC(interview_id="I2", contact_id="K2"), IC(interview_id="I1", contact_id="K2")]},
        ("interview_contacts", {3}, "contact_id", "'K2'"),
        {"interview_contacts": [IC(interview_id="I2", contact_id="K2"), IC(interview_id="I1", contact_id="K1")]},
    ),
    (
        "promise-to-a-contact-of-another-application",
        {"promises": [promise("K2")]},
        ("promises", {2}, "contact_id", "'K2'"),
        {"promises": [promise("K1")]},
    ),
    (
        "message-to-a-contact-of-another-application",
        {"messages": [msg("K2")]},
        ("messages", {2}, "contact_id", "'K2'"),
        {"messages": [msg("K1")]},
    ),
    (
        "person-met-at-no-interview",
        {"interview_contacts": [IC(interview_id="I1", contact_id="K1"), IC(interview_id="I9", contact_id="K1")]},
        ("interview_contacts", {3}, "interview_id", "'I9'"),
        {"interview_contacts": [IC(interview_id="I1", contact_id="K1")]},
    ),
    (
        "person-met-who-is-no-contact",
        {"interview_contacts": [IC(interview_id="I1", contact_id="K1"), IC(interview_id="I1", contact_id="K9")]},
        ("interview_contacts", {3}, "contact_id", "'K9'"),
        {"interview_contacts": [IC(interview_id="I1", contact_id="K1")]},
    ),
    (
        "unknown-country",
        {"coachees": [coachee(country="XX")]},
        ("coachees", {2}, "country", "'XX'"),
        {"coachees": [coachee(country="US")]},
    ),
    (
        "unknown-subdivision",
        {"coachees": [coachee(country="US", subdivision="ZZ")]},
        ("coachees", {2}, "subdivision", "'ZZ'"),
        {"coachees": [coachee(country="US", subdivision="NY")]},
    ),
    (
        "subdivision-without-country",
        {"coachees": [coachee(subdivision="NY")]},
        ("coachees", {2}, "subdivision", "'NY'"),
        {"coachees": [coachee(country="US", subdivision="NY")]},
    ),
    (
        "two-points-of-contact-in-one-file",
        {"contacts": [poc("K3", "A1", "true"), poc("K4", "A1", "true")]},
        ("contacts", {2, 3}, "point_of_contact", "'A1'"),
        {"contacts": [poc("K3", "A1", "true"), poc("K4", "A1", "false")]},
    ),
    (
        "a-second-point-of-contact-beside-the-stored-one",
        {"contacts": [poc("K5", "A2", "true")]},
        ("contacts", {2}, "point_of_contact", "'K2'"),
        # Moving the role: the stored one let go in the same file.
        {"contacts": [dict(BASE_ROWS["contacts"][1], point_of_contact="false"), poc("K5", "A2", "true")]},
    ),
]


@pytest.mark.parametrize("bad,expected,fixed", [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS])
def test_bad_v2_input_is_refused_by_name_and_the_store_is_left_as_it_was(store, tmp_path, bad, expected, fixed):
    import_path(store, write_folder(tmp_path / "base", BASE_ROWS))
    before = dump(store)
    table, rows, column, words = expected

    with pytest.raises(ValidationError) as caught:
        import_path(store, write_folder(tmp_path / "bad", {"applications": [NEW_APP], **bad}))

    problems = caught.value.problems
    assert problems, "a refusal names at least one problem"
    assert {(p.table, p.column) for p in problems} == {(table, column)}, [str(p) for p in problems]
    assert {p.row for p in problems} <= rows and {p.row for p in problems}, [str(p) for p in problems]
    assert all(words in p.message for p in problems), [p.message for p in problems]
    assert dump(store) == before

    # The same file put right is taken, the new application with it.
    import_path(store, write_folder(tmp_path / "fixed", {"applications": [NEW_APP], **fixed}))
    assert "A3" in [r["application_id"] for r in sql_rows(store, "applications")]
    assert dump(store) != before


def test_two_points_of_contact_in_one_file_name_both_rows(store, tmp_path):
    import_path(store, write_folder(tmp_path / "base", BASE_ROWS))
    before = dump(store)
    with pytest.raises(ValidationError) as caught:
        import_path(
            store, write_folder(tmp_path / "bad", {"contacts": [poc("K3", "A1", "true"), poc("K4", "A1", "yes")]})
        )
    assert sorted((p.table, p.row, p.column) for p in caught.value.problems) == [
        ("contacts", 2, "point_of_contact"),
        ("contacts", 3, "point_of_contact"),
    ]
    assert dump(store) == before


# ------------------------------------------------------------------ the contract's columns

# PRODUCT.md, "Import and export": every table and column of contract v2 (required ones marked *).
CONTRACT = {
    "coachees": "coachee_id*, name*, email, coach, notes, country, subdivision",
    "applications": "application_id*, coachee_id*, company*, role*, status, applied_on, source, notes, closed_on",
    "contacts": "contact_id*, application_id*, name*, title, email, phone, preferred_channel, point_of_contact",
    "interviews": "interview_id*, application_id*, held_on*, round, format, interviewer_name, interviewer_email, "
    "interviewer_phone, preferred_channel, next_step_by, final_round, thank_you_sent_on, topics, how_it_went, notes",
    "interview_contacts": "interview_id*, contact_id*, thank_you_sent_on",
    "references": "reference_id*, coachee_id*, name*, relationship, email, phone",
    "reference_uses": "reference_id*, application_id*, given_on, briefed_on, last_checkin_on, contacted_on, thanked_on",
    "promises": "promise_id*, application_id*, what*, due_on*, done_on, contact_id, kind",
    "messages": "message_id*, application_id*, on*, direction*, channel, kind, summary, action_id, body, contact_id, "
    "reference_id, next_step_by",
    "offers": "application_id*, verbal_on, written_requested_on, written_received_on, salary, benefits, "
    "expense_reimbursement, conditions, requirements, response_deadline, accepted_on, approved_on, rescinded_on",
}


@pytest.mark.parametrize("name", list(CONTRACT))
def test_every_table_holds_the_contract_columns(name):
    words = [w.strip() for w in CONTRACT[name].split(",")]
    assert set(TABLES[name].column_names) >= {w.rstrip("*") for w in words}
    assert set(TABLES[name].required) == {w.rstrip("*") for w in words if w.endswith("*")}
