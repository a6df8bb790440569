"""Import and export: a folder of CSVs (one a table) or one .xlsx (a sheet a table).

``import_path`` is all or nothing and keyed by id: it reads every table, checks
them all (collecting every problem), and writes them in one transaction.
``export_store`` writes the same format back, sorted by key, so an import of an
export exports to the same files; it streams each table in chunks of rows, so its
memory does not grow with the store.

With a coach named (``--coach``), both stay inside the coach's caseload: an import
touching another coach's coachee (or their applications, interviews, messages…) is
refused row by row, and an export holds the coach's coachees' rows only.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from .. import settings
from ..errors import UserError
from ..schema import BOOL, DATE, TABLE_ORDER, TABLES, TEXT, present
from .store import (
    CURRENT,
    Store,
    _belonging_to,
    _rows_of,
    _snapshot,
    _typed,
    coach_coachees,
    other_coachees,
)
from .validation import (
    Problem,
    RawTable,
    ValidationError,
    _clean_cell,
    guard_formula,
    id_key,
    sort_problems,
    stored_id,
    validate_tables,
    voice_warnings,
)


@dataclass
class ImportResult:
    counts: dict[str, dict[str, int]]
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"{name}: {c['added']} added, {c['changed']} changed" for name, c in self.counts.items()]
        return "\n".join(self.warnings + lines)


# ---------------------------------------------------------------- reading


# What one import may hold: past these a file is refused by name, never read
# until the memory runs out (a 2 KB .xlsx can claim a million rows). The rows a
# file may hold are settings.MAX_IMPORT_ROWS.
MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_COLUMNS = 200
MAX_CELL_CHARS = 100_000
MAX_CELLS = 20_000_000


def decode(data: bytes, table: str = "(import)", source: str = "") -> str:
    """Text of a CSV file: UTF-8 (with or without BOM), else Windows-1252, else
    Latin-1 — one encoding for the whole file. A file whose rows mix UTF-8 and
    another encoding is refused, naming the first row that is not UTF-8, rather
    than turning "José" into "JosÃ©" without a word."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    lines = data.split(b"\n")
    utf8_lines = bad = None
    for i, line in enumerate(lines):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            utf8_lines = utf8_lines or i + 1
        except UnicodeDecodeError:
            bad = bad or i + 1
    if utf8_lines and bad:
        raise ValidationError(
            [
                Problem(
                    table,
                    bad,
                    None,
                    f"is not UTF-8 while row {utf8_lines} is: the file mixes encodings; "
                    "save it again as UTF-8 (in Excel: CSV UTF-8)",
                    source,
                )
            ]
        )
    for encoding in ("cp1252",):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def read_file_bytes(path: Path, table: str = "(import)") -> bytes:
    """A regular file's bytes, refusing a pipe, a device (or a link to one) and a
    file past MAX_FILE_BYTES, by name: none of them may hang or exhaust the import."""
    try:
        st = path.stat()
    except OSError as exc:
        raise ValidationError([Problem(table, None, None, f"cannot be read: {exc.strerror}", path.name)]) from exc
    if not stat.S_ISREG(st.st_mode):
        raise ValidationError(
            [Problem(table, None, None, "is not a regular file (a pipe, a device or a folder); not read", path.name)]
        )
    if st.st_size > MAX_FILE_BYTES:
        raise ValidationError(
            [
                Problem(
                    table,
                    None,
                    None,
                    f"is {st.st_size / 2**20:.0f} MB, more than an import takes "
                    f"({MAX_FILE_BYTES / 2**20:.0f} MB); split it",
                    path.name,
                )
            ]
        )
    with open(path, "rb") as f:
        return f.read(MAX_FILE_BYTES + 1)


# A file in which this many rows repeat an earlier row's id is refused as soon as
# that is found, not read to its end: 600,000 copies of one id cost nothing.
REPEATS_BEFORE_STOP = 1_000


class _RowGuard:
    """Watches one file's rows as they are read: past settings.MAX_IMPORT_ROWS
    rows, or with more than REPEATS_BEFORE_STOP rows repeating an earlier row's
    id (compared as validation compares ids), it is refused by name at once.
    Fewer repeats are left to validation, which names them all."""

    def __init__(self, table: str, source: str):
        self.table, self.source = table, source
        self.limit = settings.MAX_IMPORT_ROWS
        self.rows = self.repeats = 0
        self.key_at: list[int] | None = None
        self.seen: dict[tuple, int] = {}
        self.first_repeat = ""

    def header(self, cells: list) -> None:
        names = [_cell_text(c).strip().lstrip("\ufeff").strip() for c in cells]
        t = TABLES.get(self.table)
        if t is not None and all(k in names for k in t.key):
            self.key_at = [names.index(k) for k in t.key]

    def row(self, cells: list, number: int) -> None:
        """One row read (``number``: its spreadsheet row, header = 1)."""
        self.rows += 1
        if self.rows > self.limit:
            raise ValidationError(
                [
                    Problem(
                        self.table,
                        None,
                        None,
                        f"has more than {self.limit:,} rows, more than one import takes; split it",
                        self.source,
                    )
                ]
            )
        if self.key_at is None:
            return
        raw = [_cell_text(cells[j]) if j < len(cells) else "" for j in self.key_at]
        key = tuple(id_key(v) for v in raw)
        if None in key:
            return
        earlier = self.seen.setdefault(key, number)
        if earlier == number:
            return
        self.repeats += 1
        if not self.first_repeat:
            self.first_repeat = (
                f"id {'/'.join(v.strip() for v in raw)!r} appears more than once (rows {earlier}, {number})"
            )
        if self.repeats > REPEATS_BEFORE_STOP:
            raise ValidationError(
                [
                    Problem(
                        self.table,
                        number,
                        ", ".join(TABLES[self.table].key),
                        f"{self.first_repeat}, and by this row more than {REPEATS_BEFORE_STOP:,} rows repeat an "
                        "earlier row's id; not read further",
                        self.source,
                    )
                ]
            )


def _sniff_separator(text: str) -> str:
    header = text.split("\n", 1)[0]
    # Excel in many locales saves "CSV" with semicolons; tabs come from copy-paste.
    counts = {sep: header.count(sep) for sep in (",", ";", "\t")}
    return max(counts, key=lambda s: (counts[s], s == ","))


def read_csv_text(text: str, table: str, source: str) -> RawTable:
    """One CSV file's text as a table of text cells.

    Read with the stdlib ``csv`` module rather than pandas so that every record
    keeps its spreadsheet row number (blank lines included), a row with more
    cells than the header is reported instead of silently shifting columns, and a
    quote that is never closed is an error instead of swallowing the rest of the file.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise ValidationError([Problem(table, None, None, "the file is empty; expected a header row", source)])
    # Excel may start a file with "sep=;" to name its separator; it does not show
    # that line, so the header is still row 1.
    declared = re.match(r"sep=(.)\n", text)
    if declared:
        text = text[declared.end() :]
    records: list[list[str]] = []
    # A long note is not an error: lift the csv module's default 128 KiB cell limit.
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))
    sep = declared.group(1) if declared else _sniff_separator(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True)
    guard = _RowGuard(table, source)
    try:
        for record in reader:
            if records:
                guard.row(record, len(records) + 1)
            else:
                guard.header(record)
            records.append(record)
    except csv.Error as exc:
        row = len(records) + 1  # the record being read when it failed
        raise ValidationError(
            [
                Problem(
                    table,
                    row,
                    None,
                    f"cannot be read as CSV ({exc}); check for a quote mark that is not closed or "
                    "is followed by more text in the same cell",
                    source,
                )
            ]
        ) from exc
    return table_from_records(records, table, source)


def _cell_text(value) -> str:
    """A spreadsheet cell as the text the import format holds."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat() if value.time() != dt.time() else value.date().isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def table_from_records(records: list[list], table: str, source: str) -> RawTable:
    """Rows of cells (the first is the header) as a RawTable of text.

    The frame's index is the record's position after the header, so a problem
    in it is reported at spreadsheet row ``index + 2`` even when blank rows were
    dropped. Raises ValidationError for a row with more cells than the header.
    """
    if not records:
        raise ValidationError([Problem(table, None, None, "is empty; expected a header row", source)])
    header = [_cell_text(h) for h in records[0]]
    while header and not header[-1].strip():
        header.pop()
    width = len(header)
    body = [[_cell_text(v) for v in record] for record in records[1:]]
    problems = []
    # A spreadsheet keeps a long number (a 20-digit id) as a float: its last digits
    # are already gone. Say so rather than store a rounded id.
    id_cols = [j for j, h in enumerate(header) if h.strip().lower().endswith("_id")]
    for i, record in enumerate(records[1:]):
        for j in id_cols:
            v = record[j] if j < len(record) else None
            if isinstance(v, int | float) and not isinstance(v, bool) and abs(v) >= 2**53:
                problems.append(
                    Problem(
                        table,
                        i + 2,
                        header[j],
                        f"{v!r} was stored by the spreadsheet as a number and has lost digits; "
                        "format the column as text and type the id again",
                        source,
                    )
                )
    for i, record in enumerate(body):
        if len(record) > width and any(cell.strip() for cell in record[width:]):
            problems.append(
                Problem(
                    table,
                    i + 2,
                    None,
                    f"has a value in column {len(record) - next(j for j, c in enumerate(reversed(record)) if c.strip())}"
                    f" but the header row names only {width} columns; "
                    "a cell holding the separator must be quoted",
                    source,
                )
            )
    if problems:
        raise ValidationError(problems)
    names = [h if h.strip() else f"(unnamed column {j + 1})" for j, h in enumerate(header)]
    cells = [(record + [""] * width)[:width] for record in body]
    frame = pd.DataFrame(cells, columns=names, dtype=object)
    # A column with neither a name nor a value is a spreadsheet leftover (",,,").
    keep = [bool(header[j].strip()) or frame.iloc[:, j].str.strip().ne("").any() for j in range(width)]
    frame = frame.iloc[:, keep]
    # So is a row where every cell is blank; the index stays the record number.
    if len(frame.columns) and len(frame):
        blank = frame.apply(lambda s: s.str.strip().eq("")).all(axis=1)
        frame = frame[~blank]
    return RawTable(frame, source)


def _check_workbook_size(path: Path) -> None:
    """Refuse a workbook whose parts unpack past MAX_FILE_BYTES (a 1 MB file can
    expand to a 1 GB string) before anything is unpacked."""
    read_file_bytes(path)  # a regular file, of a sane size
    try:
        with zipfile.ZipFile(path) as z:
            unpacked = sum(info.file_size for info in z.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValidationError(
            [Problem("(import)", None, None, f"{path.name} cannot be read as a workbook: {exc}")]
        ) from exc
    if unpacked > MAX_FILE_BYTES:
        raise ValidationError(
            [
                Problem(
                    "(import)",
                    None,
                    None,
                    f"{path.name} unpacks to {unpacked / 2**20:.0f} MB, more than an import takes "
                    f"({MAX_FILE_BYTES / 2**20:.0f} MB); not read",
                )
            ]
        )


def _sheet_rows(ws, source: str, table: str) -> list[list]:
    """A sheet's rows, streamed and bounded: a sheet that claims more rows or
    columns than it holds costs nothing; one that really holds too many is refused."""
    ws.reset_dimensions()  # never trust the dimension the file claims
    rows: list[list] = []
    cells = 0
    guard = _RowGuard(table, source)
    for r in ws.iter_rows(values_only=True):
        row = list(r)
        while row and row[-1] is None:
            row.pop()
        if len(row) > MAX_COLUMNS:
            raise ValidationError(
                [Problem(table, len(rows) + 1, None, f"has more than {MAX_COLUMNS} columns; not read", source)]
            )
        for value in row:
            if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
                raise ValidationError(
                    [
                        Problem(
                            table,
                            len(rows) + 1,
                            None,
                            f"has a cell of {len(value):,} characters (at most {MAX_CELL_CHARS:,}); not read",
                            source,
                        )
                    ]
                )
        if rows:
            guard.row(row, len(rows) + 1)
        else:
            guard.header(row)
        rows.append(row)
        cells += len(row)
        if cells > MAX_CELLS:
            raise ValidationError([Problem(table, None, None, f"has more than {MAX_CELLS:,} cells; split it", source)])
    # Trailing empty rows are spreadsheet leftovers.
    while rows and not any(v is not None and str(v).strip() for v in rows[-1]):
        rows.pop()
    return rows


def _open_workbook(path: Path):
    """``openpyxl.load_workbook(path, read_only=True, data_only=True)``, without
    looking for each sheet's size: a sheet that does not state it (Excel's always
    do) would otherwise be parsed to its end before the first row is read, so a
    row limit or a repeated id could not stop it early. The size is never
    trusted anyway (``reset_dimensions``)."""
    from openpyxl.reader.excel import ExcelReader
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    class UnsizedSheet(ReadOnlyWorksheet):
        def _get_size(self) -> None:
            pass

    class Reader(ExcelReader):
        def read_worksheets(self) -> None:
            for sheet, rel in self.parser.find_sheets():
                if rel.target not in self.valid_files or "chartsheet" in rel.Type:
                    continue
                ws = UnsizedSheet(self.wb, sheet.name, rel.target, self.shared_strings)
                ws.sheet_state = sheet.state
                self.wb._sheets.append(ws)

    reader = Reader(path, read_only=True, data_only=True)
    reader.read()
    return reader.wb


def read_workbook(path: Path) -> dict[str, list[list]]:
    """Every sheet of an .xlsx as rows of cell values (cached values, not formulas),
    read in streaming mode within the limits above."""
    _check_workbook_size(path)
    try:
        wb = _open_workbook(path)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise ValidationError(
            [Problem("(import)", None, None, f"{path.name} cannot be read as a workbook: {exc}")]
        ) from exc
    try:
        return {
            ws.title: _sheet_rows(ws, f"{path.name}, sheet {ws.title}", str(ws.title).strip().lower())
            for ws in wb.worksheets
        }
    except ValidationError:
        raise
    except Exception as exc:
        raise ValidationError(
            [Problem("(import)", None, None, f"{path.name} cannot be read as a workbook: {exc}")]
        ) from exc
    finally:
        wb.close()


def _read_tables(path: Path) -> tuple[dict[str, RawTable], list[str], list[Problem], set[str]]:
    """(tables read, warnings, problems, names of tables that could not be read)."""
    warnings: list[str] = []
    raw: dict[str, RawTable] = {}
    problems: list[Problem] = []
    unreadable: set[str] = set()

    def add(name: str, read) -> None:
        try:
            raw[name] = read()
        except ValidationError as err:
            problems.extend(err.problems)
            unreadable.add(name)

    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".csv")
        by_table: dict[str, list[Path]] = {}
        for p in files:
            by_table.setdefault(p.stem.strip().lower(), []).append(p)
        for name, same in by_table.items():
            if len(same) > 1 and name in TABLES:
                # coachees.csv beside COACHEES.csv: which one is meant cannot be guessed.
                problems.append(
                    Problem(
                        name,
                        None,
                        None,
                        f"{' and '.join(p.name for p in same)} are the same table; keep one file",
                        same[0].name,
                    )
                )
                unreadable.add(name)
        for p in files:
            name = p.stem.strip().lower()
            if name not in TABLES:
                warnings.append(f"{p.name}: not a table of the workbook ({', '.join(TABLE_ORDER)}); skipped")
                continue
            if len(by_table[name]) > 1:
                continue
            add(
                name, lambda p=p, name=name: read_csv_text(decode(read_file_bytes(p, name), name, p.name), name, p.name)
            )
        if not files:
            problems.append(Problem("(import)", None, None, f"{path} holds no .csv files named after a table"))
    elif path.suffix.lower() in (".xlsx", ".xlsm"):
        if not path.is_file():
            raise ValidationError([Problem("(import)", None, None, f"{path} does not exist")])
        for sheet, records in read_workbook(path).items():
            name = str(sheet).strip().lower()
            if name not in TABLES:
                warnings.append(f"{path.name}, sheet {sheet}: not a table of the workbook; skipped")
                continue
            add(
                name,
                lambda records=records, name=name, sheet=sheet: table_from_records(
                    records, name, f"{path.name}, sheet {sheet}"
                ),
            )
    elif path.suffix.lower() == ".csv" and path.stem.strip().lower() in TABLES and path.is_file():
        name = path.stem.strip().lower()
        add(name, lambda: read_csv_text(decode(read_file_bytes(path, name), name, path.name), name, path.name))
    elif not path.exists():
        problems.append(Problem("(import)", None, None, f"{path} does not exist"))
    else:
        problems.append(
            Problem(
                "(import)", None, None, f"{path} is neither a folder of CSVs, a table's .csv, nor an .xlsx workbook"
            )
        )
    for name, r in raw.items():
        unknown = [
            str(c) for c in r.frame.columns if str(c).strip().lstrip("\ufeff").strip() not in TABLES[name].column_names
        ]
        if unknown:
            warnings.append(f"{r.source}: columns {', '.join(unknown)} are not part of {name}; ignored")
    return raw, warnings, problems, unreadable


def read_source(path: str | Path) -> tuple[dict[str, RawTable], list[str]]:
    """Every table found at ``path`` (a folder of CSVs or an .xlsx), and warnings.

    Raises ValidationError if a file cannot be read at all.
    """
    raw, warnings, problems, _ = _read_tables(Path(path))
    if problems:
        raise ValidationError(problems)
    return raw, warnings


def import_path(store: Store, path: str | Path, coach: str | None = None) -> ImportResult:
    """Check every table at ``path``, then add or replace its rows in one transaction.

    With ``coach``, every row must be that coach's: a coachee imported without a
    coach becomes theirs, and a row of (or pointing into) another coach's coachee
    is a problem. Raises ValidationError (listing every problem) and writes
    nothing if anything is wrong.
    """
    raw, warnings, problems, unreadable = _read_tables(Path(path))
    sources = {name: r.source for name, r in raw.items()}
    # The checks and the write in one write transaction: another import cannot
    # slip in between (two points of contact on one application, each alone fine).
    with store.writing() as conn:
        ids, links = store.stored_keys(conn)
        outside: list[Problem] = []
        if coach is not None:
            # Checked on the ids as given, whether or not the rest is valid.
            outside = _outside_caseload(conn, _id_frames(raw, unreadable), links, coach, sources)
        try:
            frames = validate_tables(raw, ids, links, unreadable=unreadable)
            if coach is not None and "coachees" in frames:
                # A coachee imported without a coach is the importing coach's.
                df = frames["coachees"]
                df["coach"] = df["coach"].where(df["coach"].map(present), coach) if "coach" in df else coach
        except ValidationError as err:
            # A row outside the caseload is told only that: what else is wrong with
            # it would name another coach's rows (their coachee, their contact).
            flagged = {(p.table, p.row) for p in outside}
            problems = problems + [p for p in err.problems if (p.table, p.row) not in flagged]
        problems = problems + outside
        if not problems:
            problems = _cut_cell_problems(conn, raw, frames)
        if problems:
            # Every problem of every file, in one message; nothing is written.
            raise ValidationError(sort_problems(problems))
        counts = store.upsert(frames, conn)
    return ImportResult(counts, warnings + voice_warnings(raw, frames))


def _cut_cell_problems(conn: sa.Connection, raw: dict[str, RawTable], frames: dict[str, pd.DataFrame]) -> list[Problem]:
    """A cell exactly as long as a spreadsheet cell can be (XLSX_CELL_CHARS) whose
    stored value is longer and begins with it: the spreadsheet cut it. Importing it
    would replace the whole text with its first part, so it is refused by name."""
    problems = []
    for name, r in raw.items():
        if name not in frames:
            continue
        t, typed = TABLES[name], frames[name]
        header = [str(c).strip().lstrip("\ufeff").strip() for c in r.frame.columns]
        for j, column in enumerate(header):
            if column not in typed.columns or column in t.key or t.column(column).kind != TEXT:
                continue
            cells = r.frame.iloc[:, j]
            at = cells.index[cells.astype(object).str.len().eq(XLSX_CELL_CHARS).fillna(False).to_numpy(bool)]
            for i in at:
                where = " AND ".join(f'"{k}" = :{k}' for k in t.key)
                held = conn.execute(
                    sa.text(f'SELECT "{column}" FROM "{name}" WHERE {where}'), {k: typed.at[i, k] for k in t.key}
                ).scalar()
                given = typed.at[i, column]
                if (
                    isinstance(held, str)
                    and isinstance(given, str)
                    and len(held) > len(given)
                    and held.startswith(given)
                ):
                    problems.append(
                        Problem(
                            name,
                            int(i) + r.first_row,
                            column,
                            f"holds {XLSX_CELL_CHARS:,} characters, the most a spreadsheet cell holds, and the "
                            f"store's {len(held):,} begin with them: the spreadsheet cut this text; import it from "
                            "a CSV (`followup export DIR` writes one) or shorten it in the store first",
                            r.source,
                        )
                    )
    return problems


# ---------------------------------------------------------------- one coach's rows


# How many imported keys are asked about in one query (two bound values each at most).
_KEYS_PER_QUERY = 500


def _id_frames(raw: dict[str, RawTable], unreadable: set[str]) -> dict[str, pd.DataFrame]:
    """Each table's id columns (and coach) as they would be stored, whatever else
    is wrong with the file: what the caseload check reads."""
    frames = {}
    for name, r in raw.items():
        if name in unreadable or name not in TABLES:
            continue
        header = [str(c).strip().lstrip("\ufeff").strip() for c in r.frame.columns]
        wanted = [c for c in TABLES[name].column_names if c.endswith("_id") or c == "coach"]
        frame = pd.DataFrame(index=r.frame.index)
        for c in wanted:
            if header.count(c) == 1:
                values = [_clean_cell(v) for v in r.frame.iloc[:, header.index(c)].tolist()]
                frame[c] = pd.Series(
                    [stored_id(v) if c != "coach" else v for v in values], index=r.frame.index, dtype=object
                )
        if all(k in frame for k in TABLES[name].key):
            frames[name] = frame
    return frames


def _outside_caseload(
    conn: sa.Connection, frames: dict[str, pd.DataFrame], links: dict, coach: str, sources: dict[str, str]
) -> list[Problem]:
    """Every row of an import that would touch another coach's coachee: a row
    already stored as theirs (whatever the file now says), or one pointing to
    their coachee or application. A coachee row with no coach is made ``coach``'s
    (in ``frames``), so a coach's own import stays in their caseload."""
    problems: list[Problem] = []
    # Of the keys this import holds, those already stored as another coach's:
    # only they are asked about, never every other coach's rows.
    others = {name: _stored_as_others(conn, name, df, coach) for name, df in frames.items()}
    mine = set(conn.execute(coach_coachees(coach)).scalars())

    def refuse(name: str, index, column: str, message: str) -> None:
        problems.append(Problem(name, index + 2, column, message, sources.get(name, "")))

    not_mine = f"is not one of coach {coach}'s coachees; with --coach, an import holds only theirs"

    if "coachees" in frames:
        df = frames["coachees"]
        df["coach"] = df["coach"].where(df["coach"].map(present), coach) if "coach" in df else coach
        for i, cid, k in zip(df.index, df["coachee_id"], df["coach"], strict=True):
            if not present(cid):
                continue
            if (cid,) in others["coachees"]:
                refuse("coachees", i, "coachee_id", f"{cid!r} {not_mine}")
            elif k != coach:
                refuse("coachees", i, "coach", f"is {k!r}: with --coach {coach}, every coachee imported is {coach}'s")
            else:
                mine.add(cid)

    # Whose each row is, after this import: coachee of each application and
    # reference, application of each interview and contact.
    def owners(table: str, column: str) -> dict:
        m = dict(links.get(table, {}))
        if table in frames and column in frames[table]:
            m.update(zip(frames[table][TABLES[table].key[0]], frames[table][column]))
        return m

    app_coachee, ref_coachee = owners("applications", "coachee_id"), owners("references", "coachee_id")
    interview_app, contact_app = owners("interviews", "application_id"), owners("contacts", "application_id")
    coachee_of = {
        "coachees": lambda v: v,
        "applications": app_coachee.get,
        "references": ref_coachee.get,
        "interviews": lambda v: app_coachee.get(interview_app.get(v)),
        "contacts": lambda v: app_coachee.get(contact_app.get(v)),
    }
    # Never more than the file's own value: whose row it is, or whether it exists
    # at all, is another coach's business.
    not_yours = f"is not one of your coachees' rows (with --coach {coach}, an import reaches only theirs)"
    for name, df in frames.items():
        if name == "coachees":
            continue
        key = list(TABLES[name].key)
        linked = [c for c in TABLES[name].columns if c.links_to and c.links_to[0] in coachee_of and c.name in df]
        for i, row in zip(df.index, df.to_dict(orient="records"), strict=True):
            if tuple(row[k] for k in key) in others[name]:
                refuse(name, i, key[0], f"{' / '.join(str(row[k]) for k in key)!r} {not_yours}")
                continue
            for c in linked:
                value = row[c.name]
                if present(value) and coachee_of[c.links_to[0]](value) not in mine:
                    refuse(name, i, c.name, f"{value!r} {not_yours}")
                    break
    return problems


def _stored_as_others(conn: sa.Connection, name: str, frame: pd.DataFrame, coach: str) -> set[tuple]:
    """The keys of ``frame`` (rows of ``name`` about to be imported) that the store
    holds as another coach's coachee's rows, asked about _KEYS_PER_QUERY at a time."""
    tbl, key = CURRENT[name], list(TABLES[name].key)
    given = list(dict.fromkeys(k for k in frame[key].itertuples(index=False, name=None) if all(map(present, k))))
    columns = [tbl.c[k] for k in key]
    found: set[tuple] = set()
    for start in range(0, len(given), _KEYS_PER_QUERY):
        part = given[start : start + _KEYS_PER_QUERY]
        picked = columns[0].in_([k[0] for k in part]) if len(key) == 1 else sa.tuple_(*columns).in_(part)
        stmt = sa.select(*columns).where(picked, _belonging_to(name, other_coachees(coach)))
        found.update(tuple(r) for r in conn.execute(stmt))
    return found


# ---------------------------------------------------------------- writing


def export_frames(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Typed tables as the text the import format holds (sorted, dates ISO, guarded)."""
    return {name: export_frame(name, tables[name]) for name in TABLE_ORDER}


def export_frame(name: str, typed: pd.DataFrame) -> pd.DataFrame:
    """One typed table (or a run of its rows) as the text the import format holds."""
    t = TABLES[name]
    df = typed.reindex(columns=t.column_names).sort_values(list(t.key), kind="stable")
    text = pd.DataFrame(index=df.index)
    for c in t.columns:
        s = df[c.name]
        if c.kind == DATE:
            text[c.name] = pd.to_datetime(s).dt.strftime("%Y-%m-%d").fillna("")
        elif c.kind == BOOL:
            b = s.astype("boolean")
            text[c.name] = b.map({True: "true", False: "false"}).astype(object).where(b.notna(), "")
        else:
            v = s.astype(object).where(s.notna(), "").astype(str)
            text[c.name] = v.map(guard_formula) if c.kind == TEXT else v
    return text.reset_index(drop=True)


# Rows of a table read, typed and written at a time: an export's memory follows
# this, never the size of the store.
EXPORT_CHUNK_ROWS = 20_000


def _scope(coachee_id: str | None, coach: str | None) -> list[list[str] | sa.Select]:
    """The sets of coachees an export is limited to (a row must belong to each)."""
    scope: list[list[str] | sa.Select] = []
    if coachee_id is not None:
        scope.append([coachee_id])
    if coach is not None:
        scope.append(coach_coachees(coach))
    return scope


def _export_chunks(conn: sa.Connection, name: str, scope: list, rows: int):
    """The rows of ``name`` in scope, in key order, as typed frames of at most ``rows``."""
    # Ids sort by their characters on every engine (PostgreSQL's locale order would
    # not match the key order the rows are sorted in within each chunk).
    result = conn.execution_options(yield_per=rows).execute(_rows_of(conn, name, *scope))
    for part in result.partitions(rows):
        yield _typed(TABLES[name], pd.DataFrame.from_records(part, columns=list(result.keys())))


def _count(conn: sa.Connection, name: str, scope: list) -> int:
    where = [_belonging_to(name, s) for s in scope]
    return conn.execute(sa.select(sa.func.count()).select_from(CURRENT[name]).where(*where)).scalar()


# A fixed moment for the workbook's own timestamps, so the same data always
# exports to the same bytes (an .xlsx otherwise records when it was written).
_XLSX_EPOCH = (1980, 1, 1, 0, 0, 0)
_XLSX_STAMP = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")


# A sheet holds 1,048,576 rows, the header included.
XLSX_MAX_ROWS = 1_048_575
# A spreadsheet cell holds at most this many characters: Excel cuts anything
# longer, without a word, when the workbook is opened or written.
XLSX_CELL_CHARS = 32_767


def _refuse_cells_too_long(name: str, df: pd.DataFrame, first_row: int) -> None:
    """Raise UserError, naming the table, the sheet's row, the row's id and the
    column, when a cell of ``df`` (text rows of ``name`` starting at sheet row
    ``first_row``) is longer than a spreadsheet cell holds: never a silent cut."""
    key = TABLES[name].key
    for column in df.columns:
        lengths = df[column].str.len()
        if not len(lengths) or not lengths.max() > XLSX_CELL_CHARS:
            continue
        at = int(lengths.to_numpy().argmax())
        ident = " / ".join(str(df[k].iloc[at]) for k in key)
        raise UserError(
            f"the table {name}, row {first_row + at} ({' / '.join(key)} {ident}), column {column} holds "
            f"{int(lengths.iloc[at]):,} characters, more than a spreadsheet cell holds ({XLSX_CELL_CHARS:,}): "
            "nothing was written; export to a folder of CSVs instead (a DIR not ending in .xlsx), "
            "which keeps every character"
        )


def _write_xlsx(sheets, counts: dict[str, int], dest: Path) -> None:
    """One sheet a table, every cell text, byte-for-byte the same for the same data.

    ``sheets`` yields (table name, text frames of its rows in order); ``counts``
    says how many rows each table has, checked before anything is written.
    """
    for name, n in counts.items():
        if n > XLSX_MAX_ROWS:
            raise UserError(
                f"the table {name} has {n:,} rows, more than a spreadsheet sheet holds "
                f"({XLSX_MAX_ROWS:,}); export to a folder of CSVs instead (a DIR not ending in .xlsx)"
            )
    tmp = dest.with_name(dest.name + ".partial.xlsx")
    final = dest.with_name(dest.name + ".partial")
    try:
        _write_xlsx_files(sheets, dest, tmp, final)
    finally:  # nothing half-written is left behind, whatever happened
        tmp.unlink(missing_ok=True)
        final.unlink(missing_ok=True)


def _write_xlsx_files(sheets, dest: Path, tmp: Path, final: Path) -> None:
    # The workbook itself is held by openpyxl until it is saved (a sheet is at most
    # XLSX_MAX_ROWS rows); the rows come in chunks, each under the ones before.
    with pd.ExcelWriter(tmp, engine="openpyxl") as xl:
        try:
            for name, parts in sheets:
                row = 0  # the next row of the sheet to fill; 0 is the header's
                for df in parts:
                    _refuse_cells_too_long(name, df, row + 1 + (row == 0))
                    df.to_excel(xl, sheet_name=name, index=False, header=row == 0, startrow=row)
                    row += len(df) + (row == 0)
                if row == 0:  # a table with no rows: its header alone
                    pd.DataFrame(columns=TABLES[name].column_names).to_excel(xl, sheet_name=name, index=False)
        except BaseException:
            # Stopped half-way (the file is deleted): openpyxl cannot close a workbook
            # without a sheet, and its error would hide the real one.
            if not xl.book.worksheets:
                xl.book.create_sheet("unfinished")
            raise
    with zipfile.ZipFile(tmp) as src, zipfile.ZipFile(final, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = _XLSX_STAMP.sub(rb"\g<1>1980-01-01T00:00:00Z\g<2>", data)
            fixed = zipfile.ZipInfo(info.filename, date_time=_XLSX_EPOCH)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            out.writestr(fixed, data)
    final.replace(dest)  # never leave a half-written workbook under the real name


def export_store(
    store: Store,
    dest: str | Path,
    coachee_id: str | None = None,
    coach: str | None = None,
    chunk_rows: int | None = None,
) -> list[Path]:
    """Write every table to ``dest``: a folder of CSVs, or one workbook if it ends in .xlsx.

    ``coachee_id`` and ``coach`` limit it to that coachee's rows, or that coach's
    coachees'. The tables are read in one snapshot, so an export taken while
    someone else writes is consistent, and streamed ``chunk_rows`` rows at a time
    (default EXPORT_CHUNK_ROWS) in key order: the files are the same bytes
    whatever the chunk size. Each file is written under a temporary name and then
    renamed, so a crash never leaves a half-written file behind.
    """
    dest = Path(dest)
    if dest.suffix.lower() == ".xlsx" and dest.is_dir():
        raise UserError(f"{dest} is a folder: name a workbook file to write (or a folder not ending in .xlsx)")
    if dest.suffix.lower() != ".xlsx" and dest.exists() and not dest.is_dir():
        raise UserError(f"{dest} is a file, not a folder: name a folder for the CSVs (or a .xlsx workbook)")
    rows = max(1, chunk_rows or EXPORT_CHUNK_ROWS)
    scope = _scope(coachee_id, coach)

    def text_chunks(conn: sa.Connection, name: str):
        for typed in _export_chunks(conn, name, scope, rows):
            yield export_frame(name, typed)

    # One snapshot for every table.
    with _snapshot(store.engine.connect()) as conn, conn.begin():
        if dest.suffix.lower() == ".xlsx":
            counts = {name: _count(conn, name, scope) for name in TABLE_ORDER}
            dest.parent.mkdir(parents=True, exist_ok=True)
            _write_xlsx(((name, text_chunks(conn, name)) for name in TABLE_ORDER), counts, dest)
            return [dest]
        dest.mkdir(parents=True, exist_ok=True)
        written = []
        for name in TABLE_ORDER:
            p = dest / f"{name}.csv"
            tmp = dest / f".{name}.csv.partial"
            try:
                with open(tmp, "w", encoding="utf-8", newline="") as f:
                    # The header even for a table with no rows, then each chunk under it.
                    pd.DataFrame(columns=TABLES[name].column_names).to_csv(f, index=False, lineterminator="\n")
                    for df in text_chunks(conn, name):
                        df.to_csv(f, index=False, header=False, lineterminator="\n")
                tmp.replace(p)
            finally:
                tmp.unlink(missing_ok=True)
            written.append(p)
        return written
