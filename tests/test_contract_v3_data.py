"""Contract v3's data (PRODUCT.md, "Contract v3"): the new columns through the one
schema — the migration of a version-5 store (the committed tests/fixtures/store_v5.db),
the round trip of a v3 file on both engines, the bad inputs refused by name with the
store unchanged, and the pronoun warning that names its row."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from test_contract_v2_data import read_csv_rows, sql_columns, sql_rows, write_folder

from followup_lib.data.store import ROW_VERSION, SCHEMA_VERSION, index_name, open_store
from followup_lib.data.transfer import export_store, import_path
from followup_lib.errors import ValidationError
from followup_lib.logic.rules import due_actions
from followup_lib.schema import TABLE_ORDER, TABLES, V3
from followup_lib.settings import Settings

from conftest import store_contents, store_data

FIXTURES = Path(__file__).resolve().parent / "fixtures"
STORE_V5 = FIXTURES / "store_v5.db"
V3_COLUMNS = {name: [c.name for c in TABLES[name].columns if c.added_in == V3] for name in TABLE_ORDER}


def test_every_v3_column_is_in_the_schema():
    assert SCHEMA_VERSION == V3
    assert {k: v for k, v in V3_COLUMNS.items() if v} == {
        "coachees": ["other_emails"],
        "applications": ["closed_reason"],
        "contacts": ["role"],
        "interview_contacts": ["topics"],
        "reference_uses": ["talking_points"],
        "promises": ["made_on", "made_at_interview_id"],
        "messages": ["message_ref"],
    }


def test_a_version_5_store_upgrades_and_keeps_every_row(tmp_path):
    assert max(r["version"] for r in sql_rows(STORE_V5, "followup_schema")) == 5
    assert "role" not in sql_columns(STORE_V5, "contacts")
    old = tmp_path / "v5.db"
    shutil.copy(STORE_V5, old)  # opening migrates: never the committed file
    before = {name: sql_rows(old, name) for name in TABLE_ORDER}
    store = open_store(f"sqlite:///{old}")
    try:
        assert store.schema_version() == SCHEMA_VERSION and store.integrity_ok()
        for name in TABLE_ORDER:
            after = sql_rows(old, name)
            assert set(sql_columns(old, name)) == set(TABLES[name].column_names) | {ROW_VERSION}, name
            assert [{c: r[c] for c in b} for r, b in zip(after, before[name], strict=True)] == before[name], name
            assert all(r[c] is None for r in after for c in V3_COLUMNS[name]), name
        conn = sqlite3.connect(old)
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        conn.close()
        assert index_name("messages", "message_ref") in indexes
        # It means what it meant: the moved date, the panel, the promise to Sam.
        actions = due_actions(store.load(), "2026-11-10", Settings())
        promise = actions[actions["kind"].eq("keep_promise")].iloc[0]
        assert promise["recipient"] == "Sam Ortiz" and promise["status"] == "overdue"
        loops = actions[actions["kind"].eq("close_the_loop")]
        assert loops["application_id"].tolist() == ["A2"] and "(you withdrew)" in loops.iloc[0]["why"]
    finally:
        store.engine.dispose()


V3_ROWS = {
    "coachees": [
        dict(
            coachee_id="C1", name="Maya Lindqvist", email="maya@example.com", other_emails="m@home.example; m@x.example"
        )
    ],
    "applications": [
        dict(application_id="A1", coachee_id="C1", company="Harbor Health", role="Analyst", status="active"),
        dict(
            application_id="A2",
            coachee_id="C1",
            company="Initech",
            role="BI Analyst",
            status="withdrawn",
            closed_on="2026-11-01",
            closed_reason="relocation",
        ),
    ],
    "contacts": [
        dict(contact_id="K1", application_id="A1", name="Julia Brandt", role="hr", point_of_contact="true"),
        dict(contact_id="K2", application_id="A1", name="Samir Okoye", role="interviewer"),
    ],
    "interviews": [
        dict(
            interview_id="I1",
            application_id="A1",
            held_on="2026-11-13",
            interviewer_name="Elena Voss",
            final_round="false",
            topics="the wait-times report",
        )
    ],
    "interview_contacts": [
        dict(interview_id="I1", contact_id="K1", topics="the start date"),
        dict(interview_id="I1", contact_id="K2", topics="the data pipeline; privacy reviews"),
    ],
    "references": [dict(reference_id="R1", coachee_id="C1", name="Tom Becker")],
    "reference_uses": [
        dict(reference_id="R1", application_id="A1", given_on="2026-11-10", talking_points="the wait-times report"),
        dict(reference_id="R1", application_id="A2", given_on="2026-10-10"),
    ],
    "promises": [
        dict(
            promise_id="P1",
            application_id="A1",
            what="a writing sample",
            due_on="2026-11-17",
            contact_id="K2",
            made_on="2026-11-13",
            made_at_interview_id="I1",
        )
    ],
    "messages": [
        dict(
            message_id="M1",
            application_id="A2",
            on="2026-10-20",
            direction="received",
            kind="rejection",
            message_ref="<abc.123@mail.initech.example>",
        )
    ],
}


def test_a_v3_file_round_trips_exactly_on_each_engine(any_store, tmp_path):
    v3 = write_folder(tmp_path / "v3", V3_ROWS)
    import_path(any_store, v3)
    stored = store_data(any_store)
    import_path(any_store, v3)  # keyed by id: twice changes nothing
    assert store_data(any_store) == stored
    first = tmp_path / "first"
    export_store(any_store, first)
    for name, records in V3_ROWS.items():
        _, rows = read_csv_rows(first / f"{name}.csv")
        for column in V3_COLUMNS[name]:
            assert [r[column] for r in rows] == [rec.get(column, "") or "" for rec in records], (name, column)
    again = open_store(f"sqlite:///{tmp_path / 'again.db'}")
    try:
        import_path(again, first)
        export_store(again, tmp_path / "second")
    finally:
        again.engine.dispose()
    for name in TABLE_ORDER:
        assert (first / f"{name}.csv").read_bytes() == (tmp_path / "second" / f"{name}.csv").read_bytes(), name


BAD = [
    (
        "a-promise-made-at-another-applications-interview",
        {
            "interviews": [dict(interview_id="I2", application_id="A2", held_on="2026-10-01")],
            "promises": [
                dict(promise_id="P9", application_id="A1", what="x", due_on="2026-11-20", made_at_interview_id="I2")
            ],
        },
        ("promises", "made_at_interview_id", "'I2'"),
    ),
    (
        "an-unknown-closed-reason",
        {"applications": [dict(application_id="A3", coachee_id="C1", company="Z", role="R", closed_reason="bored")]},
        ("applications", "closed_reason", "'bored'"),
    ),
    (
        "an-unknown-role",
        {"contacts": [dict(contact_id="K9", application_id="A1", name="Z", role="ceo")]},
        ("contacts", "role", "'ceo'"),
    ),
    (
        "a-made-on-that-is-no-date",
        {"promises": [dict(promise_id="P9", application_id="A1", what="x", due_on="2026-11-20", made_on="2026-02-30")]},
        ("promises", "made_on", "'2026-02-30'"),
    ),
]


@pytest.mark.parametrize("bad, expected", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_v3_input_is_refused_by_name_and_the_store_is_left_as_it_was(any_store, tmp_path, bad, expected):
    import_path(any_store, write_folder(tmp_path / "base", V3_ROWS))
    before = store_contents(any_store)
    with pytest.raises(ValidationError) as caught:
        import_path(any_store, write_folder(tmp_path / "bad", bad))
    table, column, words = expected
    problems = caught.value.problems
    assert {(p.table, p.column) for p in problems} == {(table, column)}, [str(p) for p in problems]
    assert all(words in p.message for p in problems) and all(p.row == 2 for p in problems)
    assert store_contents(any_store) == before


def test_a_pronoun_in_topics_is_a_warning_that_names_the_row_not_a_refusal(any_store, tmp_path):
    import_path(any_store, write_folder(tmp_path / "base", V3_ROWS))
    rows = {
        "interview_contacts": [
            dict(interview_id="I1", contact_id="K1", topics="the start date"),
            dict(interview_id="I1", contact_id="K2", topics="the pricing model you built with Tom"),
        ],
        "reference_uses": [dict(reference_id="R1", application_id="A1", talking_points="our launch")],
    }
    result = import_path(any_store, write_folder(tmp_path / "voice", rows))
    assert len(result.warnings) == 2, result.warnings
    assert result.warnings[0].startswith("interview_contacts row 3, topics:") and "'you'" in result.warnings[0]
    assert result.warnings[1].startswith("reference_uses row 2, talking_points:") and "'our'" in result.warnings[1]
    stored = any_store.load()["interview_contacts"]
    assert "the pricing model you built with Tom" in stored["topics"].tolist()  # written all the same
    # Noun phrases warn about nothing ("US" and "I/O" are no pronouns).
    rows["interview_contacts"][1]["topics"] = "the pricing model; US payroll; I/O tuning"
    rows["reference_uses"][0]["talking_points"] = "the launch"
    assert import_path(any_store, write_folder(tmp_path / "clean", rows)).warnings == []


def test_the_demo_shows_every_v3_fact(demo_tables):
    t = demo_tables
    assert t["contacts"]["role"].notna().all()
    assert t["interview_contacts"]["topics"].notna().all()
    assert t["reference_uses"]["talking_points"].notna().any()
    assert t["applications"]["closed_reason"].notna().any()
    assert t["promises"]["made_at_interview_id"].notna().any() and t["promises"]["made_on"].notna().any()
    assert t["messages"]["message_ref"].notna().any() and t["coachees"]["other_emails"].notna().any()
    kinds = set(t["messages"]["kind"])
    assert {"offer", "offer_letter", "invitation", "date_moved", "rejection"} <= kinds
    for table, columns in (
        ("interviews", "topics"),
        ("interview_contacts", "topics"),
        ("reference_uses", "talking_points"),
    ):
        text = " ".join(t[table][columns].dropna())
        assert not pd.Series(text.split()).str.lower().isin(["you", "your", "my", "our", "we"]).any(), table
