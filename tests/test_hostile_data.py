"""Issue 22, the data side: what a hostile or careless user does to imports,
exports and restores, on real files and (for the store) both engines.

- an ``.xlsx`` cell longer than a spreadsheet holds is refused by name, never cut;
  a cut cell imported over the longer stored text is refused;
- two imports at once cannot together break the cross-row checks;
- ``restore`` compares the whole schema SQLite records and copes with another
  page size;
- duplicate ids cost linear time, and a file's rows are bounded while reading;
- ids that differ only by case or Unicode normalisation collide, by name;
- a blank FOLLOWUP_COACH is refused; a coach's import errors name no one else's rows.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import openpyxl
import pytest

from followup_lib.data.store import open_store
from followup_lib.data.transfer import XLSX_CELL_CHARS, import_path
from followup_lib.data.validation import ValidationError

from builders import write_csvs
from conftest import store_data

LONG = ("A long note about the search. " * 1400).strip()  # about 42,000 characters


def coachee_with_long_notes(store, tmp_path):
    folder = write_csvs(tmp_path / "long", {"coachees": [dict(coachee_id="C1", name="Ann Long", notes=LONG)]})
    import_path(store, folder)
    assert len(LONG) > XLSX_CELL_CHARS


# ------------------------------------------------------------------ 1. a spreadsheet cell's limit


def test_an_xlsx_export_refuses_a_cell_longer_than_a_spreadsheet_holds(any_store, tmp_path, followup):
    coachee_with_long_notes(any_store, tmp_path)
    dest = tmp_path / "out.xlsx"
    ran = followup("export", str(dest), db=any_store.url)
    assert ran.returncode == 2 and "Traceback" not in ran.stderr, ran.stderr
    assert "the table coachees, row 2 (coachee_id C1), column notes" in ran.stderr, ran.stderr
    assert f"{len(LONG):,} characters" in ran.stderr and "32,767" in ran.stderr
    assert not dest.exists() and list(tmp_path.glob("out.xlsx*")) == []
    # A folder of CSVs keeps every character.
    followup("export", str(tmp_path / "csv"), db=any_store.url, check=True)
    assert LONG in (tmp_path / "csv" / "coachees.csv").read_text(encoding="utf-8")


def test_a_cut_cell_imported_over_the_longer_stored_text_is_refused(any_store, tmp_path, followup):
    coachee_with_long_notes(any_store, tmp_path)
    before = store_data(any_store)
    # The workbook as a spreadsheet program leaves it: the text cut at its limit.
    book = tmp_path / "cut.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "coachees"
    ws.append(["coachee_id", "name", "notes"])
    ws.append(["C1", "Ann Long", LONG[:XLSX_CELL_CHARS]])
    wb.save(book)
    ran = followup("import", str(book), db=any_store.url)
    assert ran.returncode == 2 and "nothing was imported" in ran.stderr, ran.stderr
    assert "cut.xlsx, sheet coachees, row 2, column notes" in ran.stderr and "cut this text" in ran.stderr
    assert store_data(any_store) == before
    # A text that really is that long, over a shorter one, is an ordinary change.
    ws["C2"] = "x" * XLSX_CELL_CHARS
    wb.save(book)
    followup("import", str(book), db=any_store.url, check=True)
    store = open_store(any_store.url)
    try:
        assert store.row("coachees", {"coachee_id": "C1"})["notes"] == "x" * XLSX_CELL_CHARS
    finally:
        store.engine.dispose()


# ------------------------------------------------------------------ 2. two imports at once


def test_two_imports_at_once_cannot_together_break_a_cross_row_check(store_url, tmp_path, monkeypatch):
    """Two files, each fine alone, each naming a different point of contact for
    A1, imported at once from two threads with stores of their own (two
    connections to the same SQLite file or PostgreSQL database). The first is held
    inside its checks until the second has had its chance: the second must wait
    for the first to finish, then be refused; never two points of contact."""
    from followup_lib.data import transfer

    base = dict(
        coachees=[dict(coachee_id="C1", name="Ann")],
        applications=[dict(application_id="A1", coachee_id="C1", company="Acme", role="Analyst")],
    )
    store = open_store(store_url)
    try:
        import_path(store, write_csvs(tmp_path / "base", base))
    finally:
        store.engine.dispose()
    files = {
        who: write_csvs(
            tmp_path / who,
            {
                "contacts": [
                    dict(contact_id=f"K{who}", application_id="A1", name=f"Person {who}", point_of_contact="true")
                ]
            },
        )
        for who in ("first", "second")
    }
    first_checking, second_done = threading.Event(), threading.Event()
    real_validate = transfer.validate_tables

    def validate(raw, *args, **kw):
        if threading.current_thread().name == "first":
            first_checking.set()
            second_done.wait(timeout=3)  # with the fix, the second is waiting for our lock
        return real_validate(raw, *args, **kw)

    monkeypatch.setattr(transfer, "validate_tables", validate)
    outcome: dict[str, str] = {}

    def run(who: str) -> None:
        if who == "second":
            first_checking.wait(timeout=30)
        st = open_store(store_url)
        try:
            import_path(st, files[who])
            outcome[who] = "imported"
        except ValidationError as err:
            outcome[who] = str(err)
        finally:
            st.engine.dispose()
            if who == "second":
                second_done.set()

    threads = [threading.Thread(target=run, args=(who,), name=who) for who in ("first", "second")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert outcome["first"] == "imported", outcome
    assert "already has 'Kfirst' as its point of contact" in outcome["second"], outcome
    store = open_store(store_url)
    try:
        contacts = store.load(["contacts"])["contacts"]
    finally:
        store.engine.dispose()
    assert contacts[contacts["point_of_contact"].fillna(False)]["contact_id"].tolist() == ["Kfirst"]


# ------------------------------------------------------------------ 3. restore


def crafted(backup: Path, how: str) -> Path:
    """A backup changed in a way that keeps every table, column and version."""
    con = sqlite3.connect(backup)
    try:
        if how == "check":
            # messages rebuilt refusing every received message, its rows and indexes kept
            (sql,) = con.execute("SELECT sql FROM sqlite_master WHERE name = 'messages'").fetchone()
            indexes = [
                r[0]
                for r in con.execute(
                    "SELECT sql FROM sqlite_master WHERE type='index' AND tbl_name='messages' AND sql IS NOT NULL"
                )
            ]
            rebuilt = sql.replace("CREATE TABLE messages", "CREATE TABLE messages_new", 1)
            rebuilt = rebuilt[: rebuilt.rindex(")")] + ", CHECK (direction <> 'received'))"
            con.execute(rebuilt)
            con.execute("INSERT INTO messages_new SELECT * FROM messages WHERE direction <> 'received'")
            con.execute("DROP TABLE messages")
            con.execute("ALTER TABLE messages_new RENAME TO messages")
            for index in indexes:
                con.execute(index)
        elif how == "unique-index":
            con.execute("CREATE UNIQUE INDEX ix_evil ON messages (message_id, summary)")
        con.commit()
    finally:
        con.close()
    return backup


@pytest.mark.parametrize(
    "how, named",
    [
        ("check", "the table 'messages' is not defined as this workbook defines it"),
        ("unique-index", "an index 'ix_evil' that this workbook never makes"),
    ],
)
def test_restore_refuses_a_backup_whose_schema_differs_only_in_sqlites_own_record(
    any_demo_store, tmp_path, followup, how, named
):
    backup = crafted(any_demo_store.backup(tmp_path / "backup.db"), how)
    with sqlite3.connect(backup) as con:  # every table and column is still there
        assert {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")} >= {"messages"}
    con.close()
    before = store_data(any_demo_store)
    ran = followup("restore", str(backup), db=any_demo_store.url)
    assert ran.returncode == 1 and "Traceback" not in ran.stderr, ran.stderr
    assert named in ran.stderr and "nothing was restored" in ran.stderr, ran.stderr
    assert store_data(any_demo_store) == before


def test_a_backup_with_another_page_size_restores_into_a_wal_store(any_demo_store, tmp_path, followup):
    backup = any_demo_store.backup(tmp_path / "backup.db")
    con = sqlite3.connect(backup)
    con.execute("PRAGMA journal_mode=DELETE")  # a WAL file keeps its page size
    con.execute("PRAGMA page_size=65536")
    con.execute("VACUUM")
    assert con.execute("PRAGMA page_size").fetchone()[0] == 65536
    con.close()
    expected = store_data(any_demo_store)
    target = open_store(any_demo_store.url)
    try:
        if target.engine_name == "sqlite":
            with target.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                assert conn.exec_driver_sql("PRAGMA page_size").scalar() != 65536
        with target.writing() as conn:
            conn.exec_driver_sql("DELETE FROM interview_contacts")
    finally:
        target.engine.dispose()
    ran = followup("restore", str(backup), db=any_demo_store.url)
    assert ran.returncode == 0 and "Traceback" not in ran.stderr, ran.stderr
    assert store_data(any_demo_store) == expected
    assert open_store(any_demo_store.url).integrity_ok()
