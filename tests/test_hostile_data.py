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

import openpyxl

from followup_lib.data.store import open_store
from followup_lib.data.transfer import XLSX_CELL_CHARS, import_path

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
