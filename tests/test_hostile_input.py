"""Hostile and broken input, generated: whatever a file holds, an import either
succeeds cleanly or stops with a ValidationError that says what is wrong, and a
stopped import writes nothing. What is imported comes back out of an export
exactly, with formula-looking cells guarded so a spreadsheet shows them as text.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import tempfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from followup_lib.data.store import open_store
from followup_lib.data.transfer import export_store, import_path
from followup_lib.data.validation import ValidationError, valid_email, validate_row
from followup_lib.schema import TABLES

from builders import data_contents, file_bytes

FAST = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
# For properties that also export and re-import every example (about 0.3 s each).
FEWER = settings(FAST, max_examples=15)
FORMULA_START = ("=", "+", "-", "@")

# ------------------------------------------------------------------ strategies

# Free text as people paste it: any printable character, and the awkward ones.
awkward = st.sampled_from(
    [
        "=1+1",
        '=HYPERLINK("http://x","click")',
        "+44 20 7946 0000",
        "-5",
        "@SUM(A1:A2)",
        "'=quoted",
        "''+twice",
        "'",
        '"',
        '""',
        ",",
        ";",
        "a,b;c",
        "line\nbreak",
        "tab\there",
        "Zoë Müller",
        "€ 95 000",
        "O’Brien – “quoted”",
        "日本語",
        "emoji 🎉",
        "<script>alert(1)</script>",
        "{{ 7*7 }}",
        "NULL",
        "nan",
        "None",
        "true",
        "0",
        "1e5",
        "  padded  ",
        "\ufeffbom inside",
        "_x0041_",
        "a_x000D_b",
    ]
)
free_text = st.one_of(awkward, st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=25))
valid_dates = st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(2200, 12, 31))
ids = st.text(st.sampled_from("ABCxyz019-_=+@' é"), min_size=1, max_size=6)


def expected_text(value: str) -> str | None:
    """What the store keeps of a text cell: trimmed, line breaks as \\n, no control
    characters, blank as missing, one formula-guard quote removed."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", "", value).strip()
    if not value:
        return None
    return value[1:] if re.match(r"^'+[=+\-@]", value) else value


def csv_bytes(rows: list[list[str]], encoding: str, sep: str, newline: str) -> bytes:
    buf = io.StringIO()
    # Python quotes a cell holding a carriage return only when "\r" ends its lines;
    # unquoted, a lone "\r" is a line break to every spreadsheet, so quote them all then.
    bare_cr = newline == "\n" and any("\r" in str(c) for row in rows for c in row)
    csv.writer(
        buf, delimiter=sep, lineterminator=newline, quoting=csv.QUOTE_ALL if bare_cr else csv.QUOTE_MINIMAL
    ).writerows(rows)
    return buf.getvalue().encode(encoding)


def fresh_store(tmp_path: Path):
    """A new store in a folder of its own (one per generated example)."""
    folder = Path(tempfile.mkdtemp(prefix="example-", dir=tmp_path))
    return open_store(f"sqlite:///{folder / 'followup.db'}"), folder


def outcome_of_import(store, source: Path) -> str:
    """Runs the import; checks the only two outcomes allowed, and returns which it was."""
    before = data_contents(store)
    try:
        import_path(store, source)
    except ValidationError as err:
        assert err.problems, "a ValidationError must list its problems"
        for p in err.problems:
            assert str(p).strip() and p.message.strip()
        assert data_contents(store) == before, "a rejected import wrote something"
        return "rejected"
    assert store.integrity_ok()
    # An accepted import, repeated, changes nothing.
    after = data_contents(store)
    import_path(store, source)
    assert data_contents(store) == after
    return "imported"


# ------------------------------------------------------------------ anything at all


@FAST
@given(
    content=st.one_of(
        st.binary(max_size=400),
        st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.lists(st.lists(free_text, max_size=7), max_size=6).map(
            lambda rows: csv_bytes([["coachee_id", "name", "email", "coach", "notes"]] + rows, "utf-8", ",", "\n")
        ),
    ),
    table=st.sampled_from(["coachees", "applications", "interviews"]),
)
def test_any_bytes_in_a_csv_import_cleanly_or_are_refused_with_a_message(tmp_path, content, table):
    store, folder = fresh_store(tmp_path)
    try:
        (folder / "in").mkdir()
        (folder / "in" / f"{table}.csv").write_bytes(content)
        outcome_of_import(store, folder / "in")
    finally:
        store.engine.dispose()


@FAST
@given(
    rows=st.lists(
        st.lists(
            st.one_of(
                free_text,
                st.integers(),
                st.floats(),
                st.booleans(),
                valid_dates,
                st.datetimes(min_value=dt.datetime(1900, 3, 1)),
                st.none(),
            ),
            max_size=8,
        ),
        max_size=6,
    ),
    header=st.lists(st.sampled_from(TABLES["interviews"].column_names + ["", "extra", "held_on"]), max_size=10),
)
def test_any_workbook_sheet_imports_cleanly_or_is_refused(tmp_path, rows, header):
    store, folder = fresh_store(tmp_path)
    try:
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "interviews"
        for row in [header] + rows:
            # Characters no .xlsx can hold cannot come from a real workbook.
            ws.append([ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in row])
        wb.save(folder / "in.xlsx")
        outcome_of_import(store, folder / "in.xlsx")
    finally:
        store.engine.dispose()


# ------------------------------------------------------------------ encodings and Excel's quirks


def _text_for(encoding: str):
    if encoding in ("cp1252", "latin-1"):
        # What those code pages hold: ASCII and the accented letters, no C1 controls.
        chars = st.one_of(
            st.characters(min_codepoint=32, max_codepoint=126), st.characters(min_codepoint=0xA0, max_codepoint=0xFF)
        )
        extra = "€’“”–" if encoding == "cp1252" else ""
        if extra:
            chars = st.one_of(chars, st.sampled_from(extra))
        return st.text(chars, max_size=20)
    return free_text


@st.composite
def coachee_files(draw):
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "latin-1"]))
    sep = draw(st.sampled_from([",", ";"]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = _text_for(encoding)
    n = draw(st.integers(1, 6))
    keys = draw(st.lists(ids, min_size=n, max_size=n, unique_by=lambda k: expected_text(k)))
    rows = [[k, draw(text), draw(text), draw(text), draw(text)] for k in keys]
    return encoding, sep, newline, rows


@pytest.mark.slow
@FEWER
@given(spec=coachee_files())
def test_encodings_separators_and_line_endings_import_exactly(tmp_path, spec):
    encoding, sep, newline, rows = spec
    header = ["coachee_id", "name", "email", "coach", "notes"]
    data = csv_bytes([header] + rows, encoding, sep, newline)
    if encoding in ("cp1252", "latin-1") and not data.isascii():
        try:  # the reader takes UTF-8 first; a file that happens to be valid UTF-8 is read as such
            data.decode("utf-8")
            assume(False)
        except UnicodeDecodeError:
            pass
    store, folder = fresh_store(tmp_path)
    try:
        (folder / "in").mkdir()
        (folder / "in" / "coachees.csv").write_bytes(data)
        keys = [expected_text(r[0]) for r in rows]
        names = [expected_text(r[1]) for r in rows]
        emails = [expected_text(r[2]) for r in rows]
        # An email address must be one plain address (email-validator); a blank is fine.
        should_import = all(keys) and all(names) and all(valid_email(e) for e in emails if e)
        assert outcome_of_import(store, folder / "in") == ("imported" if should_import else "rejected")
        if not should_import:
            return
        stored = store.load()["coachees"].set_index("coachee_id")
        for row in rows:
            got = stored.loc[expected_text(row[0])]
            for col, value in zip(header[1:], row[1:]):
                assert got[col] == expected_text(value), (col, value, got[col])
        assert_export_round_trips(store, folder)
    finally:
        store.engine.dispose()


def assert_export_round_trips(store, folder: Path) -> None:
    """Export guards every formula-looking cell, and importing the export loses nothing."""
    for kind in ("csv", "xlsx"):
        out = folder / ("out.xlsx" if kind == "xlsx" else "out")
        export_store(store, out)
        if kind == "csv":
            for p in out.iterdir():
                for row in list(csv.reader(p.open(encoding="utf-8", newline="")))[1:]:
                    assert not any(cell.startswith(FORMULA_START) for cell in row), row
        else:
            for ws in openpyxl.load_workbook(out).worksheets:
                for row in ws.iter_rows(min_row=2, values_only=True):
                    assert not any(isinstance(v, str) and v.startswith(FORMULA_START) for v in row), row
        again = open_store(f"sqlite:///{folder / f'again-{kind}.db'}")
        try:
            import_path(again, out)
            assert data_contents(again) == data_contents(store)
        finally:
            again.engine.dispose()


def test_excel_semicolon_cp1252_crlf_with_bom_words(empty_store, tmp_path):
    """What Excel on a European Windows saves as "CSV": semicolons, CRLF, Windows-1252."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "coachees.csv").write_bytes(
        "coachee_id;name;email;coach;notes\r\nC1;Zoë Müller;;Dana;Salary € 95 000, “negotiable”\r\n".encode("cp1252")
    )
    import_path(empty_store, tmp_path / "in")
    row = empty_store.row("coachees", {"coachee_id": "C1"})
    assert row["name"] == "Zoë Müller" and row["notes"] == "Salary € 95 000, “negotiable”"
    (tmp_path / "in" / "coachees.csv").write_bytes(
        "\ufeffcoachee_id,name,email,coach,notes\r\nC2,Åsa Ødegård,,,\r\n".encode("utf-8")
    )
    import_path(empty_store, tmp_path / "in")
    assert empty_store.row("coachees", {"coachee_id": "C2"})["name"] == "Åsa Ødegård"


def test_excel_sep_line_names_the_separator_and_is_not_a_row(empty_store, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "coachees.csv").write_bytes(b"sep=;\r\ncoachee_id;name;notes\r\nC1;Ann;a, b and c\r\nC2;;\r\n")
    with pytest.raises(ValidationError) as info:
        import_path(empty_store, tmp_path / "in")
    [p] = info.value.problems
    assert (p.row, p.column) == (3, "name")  # the sep= line is not counted, as in Excel
    (tmp_path / "in" / "coachees.csv").write_bytes(b"sep=;\ncoachee_id;name;notes\nC1;Ann;a, b and c\n")
    import_path(empty_store, tmp_path / "in")
    assert empty_store.row("coachees", {"coachee_id": "C1"})["notes"] == "a, b and c"


# ------------------------------------------------------------------ dates


@st.composite
def date_cells(draw):
    """(cell text, the date it means or None if it is not a date)."""
    kind = draw(st.sampled_from(["date", "datetime", "bad"]))
    if kind == "date":
        d = draw(valid_dates)
        return d.isoformat(), d
    if kind == "datetime":
        d = draw(st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 12, 31)))
        sep = draw(st.sampled_from(["T", " "]))
        spec = draw(st.sampled_from(["minutes", "seconds", "microseconds"]))
        tz = draw(st.sampled_from(["", "Z", "+02:00", "-0500"]))
        return d.isoformat(sep=sep, timespec=spec) + tz, d.date()
    bad = draw(
        st.one_of(
            st.sampled_from(
                [
                    "2026-02-30",
                    "2026-13-01",
                    "2026-00-10",
                    "2025-02-29",
                    "26-11-02",
                    "2026/11/02",
                    "02.11.2026",
                    "11/02/2026",
                    "2026-11-2",
                    "2026-11-02T25:00",
                    "tomorrow",
                    "0000-01-01",
                    "=TODAY()",
                    "2026-11-02x",
                ]
            ),
            st.text(max_size=12).filter(
                lambda t: expected_text(t) and not re.match(r"\d{4}-\d\d-\d\d", expected_text(t))
            ),
        )
    )
    return bad, None


@FAST
@given(cells=st.lists(date_cells(), min_size=1, max_size=5))
def test_dates_are_taken_when_real_and_refused_by_row_when_not(tmp_path, cells):
    store, folder = fresh_store(tmp_path)
    try:
        rows = [["promise_id", "application_id", "what", "due_on", "done_on"]]
        rows += [[f"P{i}", "A1", "a sample", text, ""] for i, (text, _) in enumerate(cells)]
        (folder / "in").mkdir()
        (folder / "in" / "coachees.csv").write_text("coachee_id,name\nC1,Ann\n", encoding="utf-8")
        (folder / "in" / "applications.csv").write_text(
            "application_id,coachee_id,company,role\nA1,C1,Co,Role\n", encoding="utf-8"
        )
        (folder / "in" / "promises.csv").write_bytes(csv_bytes(rows, "utf-8", ",", "\n"))
        bad_rows = {i + 2 for i, (_, d) in enumerate(cells) if d is None}
        try:
            import_path(store, folder / "in")
        except ValidationError as err:
            assert bad_rows, err
            assert {(p.table, p.column) for p in err.problems} == {("promises", "due_on")}
            assert {p.row for p in err.problems} == bad_rows
            assert store.is_empty()
            return
        assert not bad_rows
        stored = store.load()["promises"].set_index("promise_id")["due_on"]
        for i, (_, d) in enumerate(cells):
            assert stored[f"P{i}"] == pd.Timestamp(d)
    finally:
        store.engine.dispose()


# ------------------------------------------------------------------ formulas

formula_text = st.builds(
    lambda start, rest: start + rest,
    st.sampled_from(["=", "+", "-", "@", "'=", "'+", "''-", "'@", "=-", "'"]),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12),
)


@pytest.mark.slow
@FEWER
@given(cells=st.lists(formula_text, min_size=1, max_size=6))
def test_formula_looking_cells_are_guarded_on_export_and_come_back_exactly(tmp_path, cells):
    store, folder = fresh_store(tmp_path)
    try:
        frame = pd.DataFrame(
            {
                "coachee_id": [f"={i}" if i % 2 else f"C{i}" for i in range(len(cells))],
                "name": cells,
                "notes": [c[::-1] for c in cells],
            }
        )
        rows = [list(frame.columns)] + frame.astype(str).values.tolist()
        (folder / "in").mkdir()
        (folder / "in" / "coachees.csv").write_bytes(csv_bytes(rows, "utf-8", ",", "\n"))
        if outcome_of_import(store, folder / "in") == "rejected":
            assert not all(expected_text(c) for c in cells)
            return
        stored = store.load()["coachees"].set_index("coachee_id")
        for i, c in enumerate(cells):
            assert stored.loc[f"={i}" if i % 2 else f"C{i}", "name"] == expected_text(c)
        assert_export_round_trips(store, folder)
    finally:
        store.engine.dispose()


def test_a_guarded_export_reads_as_text_in_a_spreadsheet(empty_store, tmp_path):
    empty_store.save_row(
        "coachees",
        {
            "coachee_id": "C1",
            "name": '=HYPERLINK("http://evil","x")',
            "notes": "@cmd",
            "coach": "-1+1",
            "email": "+1@x",
        },
    )
    export_store(empty_store, tmp_path / "out")
    export_store(empty_store, tmp_path / "out.xlsx")
    row = list(csv.DictReader((tmp_path / "out" / "coachees.csv").open(encoding="utf-8")))[0]
    assert row["name"] == '\'=HYPERLINK("http://evil","x")'
    assert (row["notes"], row["coach"], row["email"]) == ("'@cmd", "'-1+1", "'+1@x")
    ws = openpyxl.load_workbook(tmp_path / "out.xlsx")["coachees"]
    assert ws["B2"].data_type == "s" and ws["B2"].value.startswith("'=")


# ------------------------------------------------------------------ empty and huge


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"   \n\n",
        b"\xef\xbb\xbf",
        b"coachee_id,name,email,coach,notes\n",
        b"coachee_id,name\n,\n,\n",
        b"\x00\x00\x00",
        b"name\nAnn\n",
    ],
)
def test_empty_and_header_only_files(empty_store, tmp_path, content):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "coachees.csv").write_bytes(content)
    assert outcome_of_import(empty_store, tmp_path / "in") in ("imported", "rejected")
    assert empty_store.is_empty()


def test_a_huge_file_with_one_bad_row_at_the_end_writes_nothing(demo_store, tmp_path):
    n = 30_000
    lines = ["message_id,application_id,on,direction,channel,kind,summary"]
    lines += [f"H{i},A001,2026-11-01,received,email,update,{'word ' * 10}" for i in range(n)]
    lines.append("H-last,A001,2026-11-31,received,email,update,the bad one")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "messages.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = file_bytes(demo_store)
    with pytest.raises(ValidationError) as info:
        import_path(demo_store, tmp_path / "in")
    [p] = info.value.problems
    assert (p.row, p.column) == (n + 2, "on")
    assert file_bytes(demo_store) == before


def test_a_huge_cell_survives_import_and_export(empty_store, tmp_path):
    big = ("A long note. " * 90_000).strip()  # over a megabyte, past the csv module's default limit
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "coachees.csv").write_text(f'coachee_id,name,notes\nC1,Ann,"{big}"\n', encoding="utf-8")
    assert outcome_of_import(empty_store, tmp_path / "in") == "imported"
    assert empty_store.row("coachees", {"coachee_id": "C1"})["notes"] == big
    export_store(empty_store, tmp_path / "out")
    again = open_store(f"sqlite:///{tmp_path / 'again.db'}")
    import_path(again, tmp_path / "out")
    assert data_contents(again) == data_contents(empty_store)
    again.engine.dispose()


# ------------------------------------------------------------------ forms


@FAST
@given(
    values=st.fixed_dictionaries(
        {
            c: st.one_of(st.none(), free_text, st.dates(), st.booleans(), st.integers())
            for c in TABLES["interviews"].column_names
        }
    )
)
def test_a_form_row_is_checked_like_an_import_row(values):
    try:
        frame = validate_row("interviews", values, {"applications": {"A1"}})
    except ValidationError as err:
        assert err.problems and all(str(p) for p in err.problems)
        return
    assert len(frame) == 1
