"""Import and export through the ``followup`` command (its ``main``, run in this
process by the ``followup`` fixture), against a real SQLite file and a real
PostgreSQL database (each test that touches a store runs on both engines).

The contract (PRODUCT.md): keyed by id, all or nothing, idempotent, a lossless
round trip, and every rejection names the table, the spreadsheet row (header = 1)
and the column, exits non-zero without a traceback, and leaves the store byte for
byte as it was.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from followup_lib.data.store import open_store
from followup_lib.data.transfer import export_store, import_path
from followup_lib.data.validation import ValidationError
from followup_lib.schema import TABLE_ORDER

from builders import file_bytes
from conftest import same_tables, store_contents, store_data

# ------------------------------------------------------------------ helpers


def edit_cell(folder: Path, table: str, key: str, column: str, value: str) -> int:
    """Set one cell of a CSV (the row whose first cell is ``key``); returns its spreadsheet row."""
    path = folder / f"{table}.csv"
    rows = list(csv.reader(path.open(newline="", encoding="utf-8")))
    col = rows[0].index(column)
    for i, row in enumerate(rows):
        if i and row[0] == key:
            row[col] = value
            break
    else:
        raise AssertionError(f"{key} not in {table}")
    write_rows(path, rows)
    return i + 1


def drop_column(folder: Path, table: str, column: str) -> None:
    path = folder / f"{table}.csv"
    rows = list(csv.reader(path.open(newline="", encoding="utf-8")))
    col = rows[0].index(column)
    write_rows(path, [r[:col] + r[col + 1 :] for r in rows])


def write_rows(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


def csv_folder_to_xlsx(folder: Path, dest: Path) -> Path:
    """The same tables as one workbook, a sheet a table, every cell text."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name in TABLE_ORDER:
        ws = wb.create_sheet(name)
        for row in csv.reader((folder / f"{name}.csv").open(newline="", encoding="utf-8")):
            ws.append([cell if cell != "" else None for cell in row])
    wb.save(dest)
    return dest


def assert_rejected(proc, *expected: str) -> None:
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "nothing was imported" in proc.stderr
    for text in expected:
        assert text in proc.stderr, f"{text!r} not in:\n{proc.stderr}"


def assert_same_files(a: Path, b: Path) -> None:
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


# ------------------------------------------------------------------ keyed by id, idempotent


def test_import_replaces_by_id_adds_new_and_deletes_nothing(any_demo_store, tmp_path, followup):
    folder = tmp_path / "update"
    folder.mkdir()
    write_rows(
        folder / "coachees.csv",
        [
            ["coachee_id", "name", "email", "coach", "notes"],
            ["C001", "Maya Lindqvist-Berg", "maya@example.com", "Dana Reyes", "married in November"],
            ["C010", "Noor Haddad", "", "", ""],
        ],
    )
    write_rows(
        folder / "applications.csv",
        [
            ["application_id", "coachee_id", "company", "role"],  # status left out: keeps its stored value
            ["A004", "C001", "Cedar Bank", "Senior Business Analyst"],
            ["A100", "C010", "Quarry Labs", "Analyst"],
        ],
    )
    before = any_demo_store.load()
    proc = followup("import", str(folder), db=any_demo_store.url)
    assert proc.returncode == 0, proc.stderr
    assert "coachees: 1 added, 1 changed" in proc.stdout
    assert "applications: 1 added, 1 changed" in proc.stdout

    after = any_demo_store.load()
    c = after["coachees"].set_index("coachee_id")
    assert c.loc["C001", "name"] == "Maya Lindqvist-Berg" and c.loc["C001", "row_version"] == 2
    assert c.loc["C010", "name"] == "Noor Haddad" and c.loc["C010", "row_version"] == 1
    a = after["applications"].set_index("application_id")
    assert a.loc["A004", "role"] == "Senior Business Analyst" and a.loc["A004", "status"] == "rejected"
    assert a.loc["A100", "status"] == "active"  # the default
    for name in TABLE_ORDER:  # nothing was deleted
        key = after[name].columns[0]
        assert set(before[name][key]) <= set(after[name][key]), name
    untouched = ["interviews", "references", "reference_uses", "promises", "messages", "offers"]
    for name in untouched:
        pd.testing.assert_frame_equal(before[name], after[name], obj=name)


def test_importing_the_same_folder_twice_changes_nothing(any_store, followup):
    any_store.engine.dispose()
    from followup_lib import paths

    first = followup("import", str(paths.demo_dir()), db=any_store.url)
    assert first.returncode == 0, first.stderr
    contents, raw = store_data(any_store), store_contents(any_store)
    raw_bytes = file_bytes(any_store) if any_store.engine_name == "sqlite" else None
    versions = [r[contents[name][0].index("row_version")] for name in TABLE_ORDER for r in contents[name][1:]]
    assert versions and all(v == 1 for v in versions)
    second = followup("import", str(paths.demo_dir()), db=any_store.url)
    assert second.returncode == 0, second.stderr
    assert all(line.endswith(": 0 added, 0 changed") for line in second.stdout.strip().splitlines())
    assert store_data(any_store) == contents
    assert store_contents(any_store) == raw
    if any_store.engine_name == "sqlite":  # not a byte of the file moved
        assert file_bytes(any_store) == raw_bytes


def test_importing_the_same_workbook_twice_changes_nothing(any_demo_store, tmp_path):
    book = tmp_path / "practice.xlsx"
    export_store(any_demo_store, book)
    edit = open_store(f"sqlite:///{tmp_path / 'other.db'}")
    import_path(edit, book)
    once = store_data(edit)
    counts = import_path(edit, book).counts
    assert all(c == {"added": 0, "changed": 0} for c in counts.values())
    assert store_data(edit) == once


# ------------------------------------------------------------------ lossless round trip


def test_round_trip_through_a_csv_folder_is_byte_identical(store_url, tmp_path, followup):
    from followup_lib import paths

    first, second = store_url, f"sqlite:///{tmp_path / 'second.db'}"
    followup("import", str(paths.demo_dir()), db=first, check=True)
    followup("export", str(tmp_path / "out1"), db=first, check=True)
    followup("import", str(tmp_path / "out1"), db=second, check=True)
    followup("export", str(tmp_path / "out2"), db=second, check=True)
    assert_same_files(tmp_path / "out1", tmp_path / "out2")
    same_tables(first, second)
    # The export is the import format: every table, the contract's columns in order.
    for name in TABLE_ORDER:
        header = next(csv.reader((tmp_path / "out1" / f"{name}.csv").open(encoding="utf-8")))
        demo_header = next(csv.reader((paths.demo_dir() / f"{name}.csv").open(encoding="utf-8")))
        assert header == demo_header, name


def test_round_trip_through_an_xlsx_is_byte_identical(store_url, tmp_path, followup):
    from followup_lib import paths

    first, second = store_url, f"sqlite:///{tmp_path / 'second.db'}"
    followup("import", str(paths.demo_dir()), db=first, check=True)
    followup("export", str(tmp_path / "one.xlsx"), db=first, check=True)
    followup("import", str(tmp_path / "one.xlsx"), db=second, check=True)
    followup("export", str(tmp_path / "two.xlsx"), db=second, check=True)
    assert (tmp_path / "one.xlsx").read_bytes() == (tmp_path / "two.xlsx").read_bytes()
    same_tables(first, second)
    assert sorted(openpyxl.load_workbook(tmp_path / "one.xlsx").sheetnames) == sorted(TABLE_ORDER)
    assert not list(tmp_path.glob("*.partial*"))


def test_csv_and_xlsx_exports_hold_the_same_data(any_demo_store, tmp_path):
    export_store(any_demo_store, tmp_path / "csv")
    export_store(any_demo_store, tmp_path / "book.xlsx")
    via_csv, via_xlsx = (open_store(f"sqlite:///{tmp_path / n}") for n in ("a.db", "b.db"))
    import_path(via_csv, tmp_path / "csv")
    import_path(via_xlsx, tmp_path / "book.xlsx")
    assert store_data(via_csv) == store_data(via_xlsx)
    same_tables(via_csv, any_demo_store)


def test_a_hand_made_workbook_with_real_dates_and_booleans_imports(demo_csv_dir, tmp_path, any_store):
    """Excel stores dates, datetimes, numbers and TRUE/FALSE as typed cells, not text."""
    book = csv_folder_to_xlsx(demo_csv_dir, tmp_path / "typed.xlsx")
    wb = openpyxl.load_workbook(book)
    ws = wb["interviews"]
    header = [c.value for c in ws[1]]
    held, final, rnd = header.index("held_on") + 1, header.index("final_round") + 1, header.index("round") + 1
    ws.cell(2, held).value = dt.datetime(2026, 11, 2, 14, 30)
    ws.cell(3, held).value = dt.date(2026, 10, 22)
    ws.cell(2, final).value = False
    ws.cell(4, final).value = True
    ws.cell(2, rnd).value = 1
    wb.save(book)
    import_path(any_store, book)
    iv = any_store.load()["interviews"].set_index("interview_id")
    assert iv.loc["I001", "held_on"] == pd.Timestamp("2026-11-02")
    assert iv.loc["I002", "held_on"] == pd.Timestamp("2026-10-22")
    assert [iv.loc[i, "final_round"] for i in ("I001", "I003")] == [False, True]
    assert iv.loc["I001", "round"] == "1"


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-02T09:30:00",
        "2026-11-02 09:30",
        "2026-11-02T23:59:59+02:00",
        "2026-11-02T09:30:00Z",
        "2026-11-02T09:30:00.123456",
    ],
)
def test_a_datetime_is_accepted_where_a_date_is(demo_csv_dir, any_store, value):
    edit_cell(demo_csv_dir, "interviews", "I001", "held_on", value)
    import_path(any_store, demo_csv_dir)
    iv = any_store.load()["interviews"].set_index("interview_id")
    assert iv.loc["I001", "held_on"] == pd.Timestamp("2026-11-02")


# ------------------------------------------------------------------ bad input: every class


def _missing_column(folder):
    drop_column(folder, "interviews", "held_on")
    return "interviews.csv, row 1, column held_on", "missing"


def _date_that_does_not_exist(folder):
    row = edit_cell(folder, "interviews", "I004", "held_on", "2026-02-30")
    return f"interviews.csv, row {row}, column held_on", "2026-02-30"


def _unknown_choice(folder):
    row = edit_cell(folder, "applications", "A002", "status", "pending")
    return f"applications.csv, row {row}, column status", "'pending' is not one of: active, offer"


def _id_that_points_nowhere(folder):
    row = edit_cell(folder, "promises", "P002", "application_id", "A999")
    return f"promises.csv, row {row}, column application_id", "'A999' points to no application"


def _same_id_twice(folder):
    row = edit_cell(folder, "messages", "M003", "message_id", "M001")
    return f"messages.csv, row {row}, column message_id", "'M001' appears more than once in this file (rows 2, 4)"


def _decision_before_interview(folder):
    row = edit_cell(folder, "interviews", "I002", "next_step_by", "2026-10-21")
    return f"interviews.csv, row {row}, column next_step_by", "before held_on"


def _empty_required_cell(folder):
    row = edit_cell(folder, "applications", "A003", "company", "  ")
    return f"applications.csv, row {row}, column company", "empty but required"


def _not_a_boolean(folder):
    row = edit_cell(folder, "interviews", "I003", "final_round", "maybe")
    return f"interviews.csv, row {row}, column final_round", "not true or false"


def _reference_of_another_coachee(folder):
    row = edit_cell(folder, "reference_uses", "R003", "application_id", "A001")
    return f"reference_uses.csv, row {row}, column application_id", "belongs to coachee"


BAD_INPUT = [
    _missing_column,
    _date_that_does_not_exist,
    _unknown_choice,
    _id_that_points_nowhere,
    _same_id_twice,
    _decision_before_interview,
    _empty_required_cell,
    _not_a_boolean,
    _reference_of_another_coachee,
]


def _store_for_rejection(any_demo_store, folder):
    """A loaded store, and a folder whose good rows would change it if anything were written."""
    edit_cell(folder, "coachees", "C001", "name", "Changed Name")
    edit_cell(folder, "applications", "A001", "notes", "changed notes")
    with (folder / "coachees.csv").open("a", encoding="utf-8") as f:
        f.write("C099,A New Coachee,,,\n")
    any_demo_store.engine.dispose()
    return snapshot(any_demo_store), store_data(any_demo_store)


def snapshot(store) -> tuple:
    """Every table read with the plain driver, and for SQLite the file's bytes too."""
    return store_contents(store), (file_bytes(store) if store.engine_name == "sqlite" else None)


@pytest.mark.parametrize("bad", BAD_INPUT, ids=lambda f: f.__name__.strip("_"))
def test_bad_csv_stops_the_whole_import(bad, any_demo_store, demo_csv_dir, followup):
    before_state, before = _store_for_rejection(any_demo_store, demo_csv_dir)
    where, what = bad(demo_csv_dir)
    proc = followup("import", str(demo_csv_dir), db=any_demo_store.url)
    assert_rejected(proc, f"{where}: ", what)
    assert store_data(any_demo_store) == before
    assert snapshot(any_demo_store) == before_state


@pytest.mark.parametrize(
    "bad",
    [_missing_column, _date_that_does_not_exist, _same_id_twice, _decision_before_interview],
    ids=lambda f: f.__name__.strip("_"),
)
def test_bad_workbook_names_the_sheet_row_and_column(bad, any_demo_store, demo_csv_dir, tmp_path, followup):
    before_state, before = _store_for_rejection(any_demo_store, demo_csv_dir)
    where, what = bad(demo_csv_dir)
    book = csv_folder_to_xlsx(demo_csv_dir, tmp_path / "practice.xlsx")
    table, rest = where.split(".csv", 1)
    proc = followup("import", str(book), db=any_demo_store.url)
    assert_rejected(proc, f"practice.xlsx, sheet {table}{rest}: ", what)
    assert snapshot(any_demo_store) == before_state and store_data(any_demo_store) == before


def test_every_problem_of_an_import_is_reported_at_once(any_demo_store, demo_csv_dir, followup):
    before_state, _ = _store_for_rejection(any_demo_store, demo_csv_dir)
    expected = [bad(demo_csv_dir) for bad in BAD_INPUT if bad is not _missing_column]
    proc = followup("import", str(demo_csv_dir), db=any_demo_store.url)
    assert_rejected(proc, f"{len(expected)} problems to fix", *[f"{w}: " for w, _ in expected])
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("  ")]
    assert len(lines) == len(expected), proc.stderr
    assert snapshot(any_demo_store) == before_state


def test_problems_in_several_rows_of_one_file_each_named(any_demo_store, demo_csv_dir, followup):
    _store_for_rejection(any_demo_store, demo_csv_dir)
    rows = [edit_cell(demo_csv_dir, "promises", pid, "due_on", "2026-13-01") for pid in ("P001", "P003", "P004")]
    proc = followup("import", str(demo_csv_dir), db=any_demo_store.url)
    assert_rejected(proc, *[f"promises.csv, row {r}, column due_on: '2026-13-01'" for r in rows])


def test_row_numbers_count_blank_lines_as_a_spreadsheet_does(any_demo_store, demo_csv_dir, followup):
    path = demo_csv_dir / "promises.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    # header, P001, blank, blank, P002, P003, P004 -> P004 is on spreadsheet row 7
    lines = lines[:2] + ["", ",,,,"] + lines[2:]
    lines[6] = lines[6].replace("A011", "A404")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = followup("import", str(demo_csv_dir), db=any_demo_store.url)
    assert_rejected(proc, "promises.csv, row 7, column application_id: 'A404'")


def test_a_row_with_more_cells_than_the_header_is_refused_not_shifted(any_demo_store, demo_csv_dir, followup):
    """An unquoted comma in a cell must not slide the rest of the row into the next columns."""
    before = store_data(any_demo_store)
    path = demo_csv_dir / "coachees.csv"
    text = path.read_text(encoding="utf-8").replace("Dana Reyes,Data analyst", "Dana Reyes,Data analyst, retail", 1)
    path.write_text(text, encoding="utf-8")
    proc = followup("import", str(demo_csv_dir), db=any_demo_store.url)
    assert_rejected(proc, "coachees.csv, row 2: ", "quoted")
    assert store_data(any_demo_store) == before


def test_a_quote_that_is_never_closed_is_refused(any_demo_store, demo_csv_dir, followup):
    path = demo_csv_dir / "messages.csv"
    path.write_text(
        path.read_text(encoding="utf-8").replace("Thank-you to Priya", '"Thank-you to Priya', 1), encoding="utf-8"
    )
    proc = followup("import", str(demo_csv_dir), db=any_demo_store.url)
    assert_rejected(proc, "messages.csv, row 2: ", "quote")


def test_problems_across_files_that_cannot_be_read_and_files_that_can(any_demo_store, demo_csv_dir, followup):
    (demo_csv_dir / "offers.csv").write_text("", encoding="utf-8")
    edit_cell(demo_csv_dir, "applications", "A002", "status", "pending")
    proc = followup("import", str(demo_csv_dir), db=any_demo_store.url)
    assert_rejected(proc, "offers.csv: the file is empty", "applications.csv, row 3, column status")
    # links into the unreadable file are not blamed on every row that points there
    assert proc.stderr.count("offers") == 1


def test_a_missing_parent_column_is_not_blamed_on_every_child(any_demo_store, demo_csv_dir, followup):
    drop_column(demo_csv_dir, "references", "name")
    proc = followup("import", str(demo_csv_dir), db=any_demo_store.url)
    assert_rejected(proc, "1 problem to fix", "references.csv, row 1, column name")


def test_import_of_something_that_is_not_there_or_not_a_table(tmp_path, any_store, followup):
    proc = followup("import", str(tmp_path / "nowhere"), db=any_store.url)
    assert_rejected(proc, "does not exist")
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    proc = followup("import", str(tmp_path / "broken.xlsx"), db=any_store.url)
    assert_rejected(proc, "broken.xlsx cannot be read as a workbook")
    (tmp_path / "empty").mkdir()
    proc = followup("import", str(tmp_path / "empty"), db=any_store.url)
    assert_rejected(proc, "holds no .csv files")
    assert any_store.is_empty()


def test_unknown_files_and_columns_are_named_but_do_not_stop_the_import(demo_csv_dir, any_store, followup):
    # contacts.csv was such a file before contract v2; now it is a table.
    (demo_csv_dir / "contact_log.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    path = demo_csv_dir / "coachees.csv"
    rows = list(csv.reader(path.open(encoding="utf-8")))
    write_rows(path, [r + ["extra"] for r in rows])
    proc = followup("import", str(demo_csv_dir), db=any_store.url)
    assert proc.returncode == 0, proc.stderr
    assert "contact_log.csv: not a table" in proc.stdout and "contacts.csv: not a table" not in proc.stdout
    assert "columns extra are not part of coachees" in proc.stdout
    stored = any_store.load(["coachees", "contacts"])
    assert len(stored["coachees"]) == 3 and len(stored["contacts"]) == 4


def test_validation_error_lists_problems_in_the_api_too(demo_csv_dir, any_store):
    edit_cell(demo_csv_dir, "interviews", "I001", "held_on", "2026-02-30")
    with pytest.raises(ValidationError) as info:
        import_path(any_store, demo_csv_dir)
    [p] = info.value.problems
    assert (p.table, p.row, p.column) == ("interviews", 2, "held_on")
    assert any_store.is_empty()


def test_export_of_one_coachee_holds_only_their_rows(any_demo_store, tmp_path, followup):
    followup("export", str(tmp_path / "c2"), "--coachee", "C002", db=any_demo_store.url, check=True)
    coachees = list(csv.DictReader((tmp_path / "c2" / "coachees.csv").open(encoding="utf-8")))
    assert [c["coachee_id"] for c in coachees] == ["C002"]
    text = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "c2").iterdir())
    for other in ("Maya Lindqvist", "Sofia Marchetti", "Northwind", "C001", "C003"):
        assert other not in text


def test_an_export_overwrites_an_older_one_in_place(any_demo_store, tmp_path):
    out = tmp_path / "out"
    export_store(any_demo_store, out)
    any_demo_store.save_row("coachees", {"coachee_id": "C004", "name": "Late Arrival"})
    export_store(any_demo_store, out)
    assert "Late Arrival" in (out / "coachees.csv").read_text(encoding="utf-8")
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{n}.csv" for n in TABLE_ORDER)
