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

import re
import sqlite3
import threading
import time
import unicodedata
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from followup_lib import settings
from followup_lib.data.practice import load_practice
from followup_lib.data.store import open_store
from followup_lib.data.transfer import XLSX_CELL_CHARS, import_path
from followup_lib.data.validation import RawTable, ValidationError, validate_tables
from followup_lib.errors import SettingsError

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
    ran = followup("restore", str(backup), "--force", db=any_demo_store.url)
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
    ran = followup("restore", str(backup), "--force", db=any_demo_store.url)
    assert ran.returncode == 0 and "Traceback" not in ran.stderr, ran.stderr
    assert store_data(any_demo_store) == expected
    assert open_store(any_demo_store.url).integrity_ok()


# ------------------------------------------------------------------ 4. linear in the rows


def xlsx_of_one_id(path: Path, rows: int) -> Path:
    """A real workbook (written as Excel's XML, quickly) whose coachees sheet holds
    ``rows`` rows, all with the id C1."""
    body = "".join(
        f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>C1</t></is></c>'
        f'<c r="B{r}" t="inlineStr"><is><t>Ann</t></is></c></row>'
        for r in range(2, rows + 2)
    )
    header = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>coachee_id</t></is></c>'
        '<c r="B1" t="inlineStr"><is><t>name</t></is></c></row>'
    )
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            "</Types>"
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{main}" xmlns:r="{rel}">'
            '<sheets><sheet name="coachees" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
        ),
        "xl/worksheets/sheet1.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{main}"><sheetData>{header}{body}</sheetData></worksheet>'
        ),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in parts.items():
            z.writestr(name, text)
    return path


def test_a_workbook_of_600000_copies_of_one_id_is_refused_at_once(any_store, tmp_path, followup):
    book = xlsx_of_one_id(tmp_path / "same.xlsx", 600_000)
    assert book.stat().st_size > 1_000_000
    before = store_data(any_store)
    started = time.process_time()  # this process's own work, whatever else the machine runs
    ran = followup("import", str(book), db=any_store.url)
    took = time.process_time() - started
    assert ran.returncode == 2 and "Traceback" not in ran.stderr, ran.stderr
    assert "id 'C1' appears more than once (rows 2, 3)" in ran.stderr and "not read further" in ran.stderr
    assert took < 20, f"{took:.1f} s"
    assert store_data(any_store) == before


def test_duplicate_ids_are_found_in_linear_time_and_the_first_is_named(tmp_path):
    """20,000 rows, each id twice (fewer repeats than stop the reading): the
    check is one pass, not a search of the file for each repeat."""
    n = 10_000
    rows = [dict(coachee_id=f"C{i}", name="Ann") for i in range(n)] * 2
    raw = {"coachees": RawTable(pd.DataFrame(rows, dtype=object), "coachees.csv")}
    started = time.process_time()
    with pytest.raises(ValidationError) as info:
        validate_tables(raw)
    took = time.process_time() - started
    *named, counted = sorted(info.value.problems, key=lambda p: p.row or 10**9)
    first = named[0]
    assert (
        str(first)
        == f"coachees.csv, row {n + 2}, column coachee_id: id 'C0' appears more than once in this file (rows 2, {n + 2})"
    )
    assert str(counted) == f"coachees.csv, column coachee_id: {n - 10:,} more ids appear more than once in this file"
    assert len(info.value.problems) == 11
    assert took < 10, f"{took:.1f} s"


def test_a_file_past_the_rows_setting_is_refused_while_reading(empty_store, tmp_path, monkeypatch):
    monkeypatch.setattr(settings, "MAX_IMPORT_ROWS", 100)
    folder = write_csvs(tmp_path / "many", {"coachees": [dict(coachee_id=f"C{i}", name="Ann") for i in range(150)]})
    with pytest.raises(ValidationError, match="coachees.csv: has more than 100 rows, more than one import takes"):
        import_path(empty_store, folder)
    assert empty_store.is_empty()
    monkeypatch.setattr(settings, "MAX_IMPORT_ROWS", 150)
    import_path(empty_store, folder)
    assert len(empty_store.coachee_ids()) == 150


# ------------------------------------------------------------------ 5. ids compared without case or Unicode form

CAFE_NFC, CAFE_NFD = unicodedata.normalize("NFC", "Café"), unicodedata.normalize("NFD", "Café")


@pytest.mark.parametrize("a, b", [("X1", "x1"), (CAFE_NFC, CAFE_NFD)])
def test_two_ids_differing_only_in_case_or_unicode_form_are_refused_in_one_file(empty_store, tmp_path, a, b):
    assert a != b
    folder = write_csvs(tmp_path / "two", {"coachees": [dict(coachee_id=a, name="Ann"), dict(coachee_id=b, name="Bo")]})
    with pytest.raises(ValidationError) as info:
        import_path(empty_store, folder)
    [p] = info.value.problems
    assert (p.row, p.column) == (3, "coachee_id") and f"id {unicodedata.normalize('NFC', b)!r}" in p.message
    if unicodedata.normalize("NFC", a) == unicodedata.normalize("NFC", b):  # stored alike: the same id twice
        assert "appears more than once in this file (rows 2, 3)" in p.message
    else:
        assert f"is the same id as {a!r} (row 2)" in p.message
    assert empty_store.is_empty()


@pytest.mark.parametrize("stored, given", [("X1", "x1"), (CAFE_NFC, "CAFÉ")])
def test_an_id_differing_from_a_stored_one_only_in_case_is_refused(any_store, tmp_path, stored, given):
    import_path(any_store, write_csvs(tmp_path / "one", {"coachees": [dict(coachee_id=stored, name="Ann")]}))
    before = store_data(any_store)
    folder = write_csvs(tmp_path / "other", {"coachees": [dict(coachee_id=given, name="Bo")]})
    with pytest.raises(ValidationError) as info:
        import_path(any_store, folder)
    [p] = info.value.problems
    assert (p.row, p.column) == (2, "coachee_id") and f"id {given!r} differs from an id already stored" in p.message
    assert store_data(any_store) == before


def test_an_id_is_stored_in_its_composed_unicode_form(any_store, tmp_path):
    import_path(any_store, write_csvs(tmp_path / "nfd", {"coachees": [dict(coachee_id=CAFE_NFD, name="Ann")]}))
    assert any_store.coachee_ids() == [CAFE_NFC]
    # Written the other way again, it is the same row.
    import_path(any_store, write_csvs(tmp_path / "nfd2", {"coachees": [dict(coachee_id=CAFE_NFD, name="Ann B")]}))
    assert any_store.coachee_ids() == [CAFE_NFC]


# ------------------------------------------------------------------ 6. one coach's scope


def test_a_followup_coach_of_only_spaces_is_refused(demo_store, followup, monkeypatch):
    ran = followup("due", "--all", "--as-of", "2026-11-16", db=demo_store.url, env={"FOLLOWUP_COACH": "   "})
    assert ran.returncode == 2 and "FOLLOWUP_COACH is only spaces" in ran.stderr, ran.stderr
    assert ran.stdout == ""
    monkeypatch.setenv("FOLLOWUP_COACH", " \t ")
    with pytest.raises(SettingsError, match="only spaces"):
        load_practice(demo_store.url)


def test_a_coachs_import_errors_name_none_of_another_coachs_rows(any_store, tmp_path, followup):
    import_path(
        any_store,
        write_csvs(
            tmp_path / "practice",
            {
                "coachees": [
                    dict(coachee_id="C1", name="Ann", coach="Dana"),
                    dict(coachee_id="G1", name="Gil", coach="Other"),
                ],
                "applications": [
                    dict(application_id="A1", coachee_id="C1", company="Acme", role="Analyst"),
                    dict(application_id="GA", coachee_id="G1", company="Globex", role="Engineer"),
                ],
                "contacts": [dict(contact_id="GK", application_id="GA", name="Gina Globex")],
                "references": [dict(reference_id="GR", coachee_id="G1", name="Greta Ref")],
            },
        ),
    )
    before = store_data(any_store)
    attempt = write_csvs(
        tmp_path / "attempt",
        {
            "reference_uses": [dict(reference_id="GR", application_id="A1")],
            "promises": [
                dict(promise_id="P1", application_id="A1", what="a sample", due_on="2026-11-20", contact_id="GK")
            ],
            "messages": [
                dict(message_id="M1", application_id="A1", on="2026-11-10", direction="sent", reference_id="GR")
            ],
        },
    )
    ran = followup("--coach", "Dana", "import", str(attempt), db=any_store.url)
    assert ran.returncode == 2 and "Traceback" not in ran.stderr, ran.stderr
    for where in (
        "reference_uses.csv, row 2, column reference_id: 'GR' is not one of your coachees' rows",
        "promises.csv, row 2, column contact_id: 'GK' is not one of your coachees' rows",
        "messages.csv, row 2, column reference_id: 'GR' is not one of your coachees' rows",
    ):
        assert where in ran.stderr, ran.stderr
    assert not re.search(r"\b(G1|GA|Other|Gil|Globex)\b", ran.stderr), ran.stderr
    assert store_data(any_store) == before
