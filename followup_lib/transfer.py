"""Import and export: a folder of CSVs (one a table) or one .xlsx (a sheet a table).

``import_path`` is all or nothing and keyed by id: it reads every table, checks
them all (collecting every problem), and writes them in one transaction.
``export_store`` writes the same format back, sorted by key, so an import of an
export exports to the same files.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .schema import BOOL, DATE, TABLE_ORDER, TABLES, TEXT
from .store import Store
from .validation import Problem, RawTable, ValidationError, guard_formula, validate_tables


@dataclass
class ImportResult:
    counts: dict[str, dict[str, int]]
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"{name}: {c['added']} added, {c['changed']} changed" for name, c in self.counts.items()]
        return "\n".join(self.warnings + lines)


# ---------------------------------------------------------------- reading

def decode(data: bytes) -> str:
    """Text of a CSV file: UTF-8 (with or without BOM), else Windows-1252, else Latin-1."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _sniff_separator(text: str) -> str:
    header = text.split("\n", 1)[0]
    # Excel in many locales saves "CSV" with semicolons; tabs come from copy-paste.
    counts = {sep: header.count(sep) for sep in (",", ";", "\t")}
    return max(counts, key=lambda s: (counts[s], s == ","))


def read_csv_text(text: str, table: str, source: str) -> RawTable:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise ValidationError([Problem(table, None, None, "the file is empty; expected a header row", source)])
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False,
                            sep=_sniff_separator(text), skip_blank_lines=True, quoting=csv.QUOTE_MINIMAL)
    except (pd.errors.ParserError, csv.Error, ValueError) as exc:
        raise ValidationError([Problem(table, None, None, f"cannot be read as CSV: {exc}", source)]) from exc
    frame = frame.loc[:, [not str(c).startswith("Unnamed: ") or frame[c].astype(str).str.strip().ne("").any()
                          for c in frame.columns]]
    # Rows where every cell is blank are spreadsheet leftovers, not records.
    blank = frame.apply(lambda s: s.astype(str).str.strip().eq("")).all(axis=1) if len(frame.columns) else None
    if blank is not None and blank.any():
        frame = frame[~blank]
    return RawTable(frame, source)


def read_source(path: str | Path) -> tuple[dict[str, RawTable], list[str]]:
    """Every table found at ``path`` (a folder of CSVs or an .xlsx), and warnings."""
    path = Path(path)
    warnings: list[str] = []
    raw: dict[str, RawTable] = {}
    problems: list[Problem] = []
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".csv")
        for p in files:
            name = p.stem.strip().lower()
            if name not in TABLES:
                warnings.append(f"{p.name}: not a table of the workbook ({', '.join(TABLE_ORDER)}); skipped")
                continue
            try:
                raw[name] = read_csv_text(decode(p.read_bytes()), name, p.name)
            except ValidationError as err:
                problems.extend(err.problems)
        if not files:
            problems.append(Problem("(import)", None, None, f"{path} holds no .csv files named after a table"))
    elif path.suffix.lower() in (".xlsx", ".xlsm"):
        try:
            sheets = pd.read_excel(path, sheet_name=None, dtype=str, keep_default_na=False, na_filter=False)
        except Exception as exc:  # openpyxl raises many kinds for a damaged file
            raise ValidationError([Problem("(import)", None, None, f"{path.name} cannot be read as a workbook: {exc}")]) from exc
        for sheet, frame in sheets.items():
            name = str(sheet).strip().lower()
            if name not in TABLES:
                warnings.append(f"{path.name}, sheet {sheet}: not a table of the workbook; skipped")
                continue
            frame = frame.loc[:, [not str(c).startswith("Unnamed: ") for c in frame.columns]]
            blank = frame.apply(lambda s: s.astype(str).str.strip().eq("")).all(axis=1) if len(frame.columns) else None
            if blank is not None and blank.any():
                frame = frame[~blank]
            raw[name] = RawTable(frame, f"{path.name}, sheet {sheet}")
    elif path.suffix.lower() == ".csv" and path.stem.lower() in TABLES:
        raw[path.stem.lower()] = read_csv_text(decode(path.read_bytes()), path.stem.lower(), path.name)
    elif not path.exists():
        problems.append(Problem("(import)", None, None, f"{path} does not exist"))
    else:
        problems.append(Problem("(import)", None, None,
                                f"{path} is neither a folder of CSVs, a table's .csv, nor an .xlsx workbook"))
    if problems:
        raise ValidationError(problems)
    for name, r in raw.items():
        unknown = [str(c) for c in r.frame.columns if str(c).strip().lstrip("\ufeff").strip() not in TABLES[name].column_names]
        if unknown:
            warnings.append(f"{r.source}: columns {', '.join(unknown)} are not part of {name}; ignored")
    return raw, warnings


def stored_keys(store: Store) -> tuple[dict[str, set], dict[str, dict]]:
    """Ids already stored (links may point there) and who owns each application/reference."""
    with store.engine.connect() as conn:
        raw = conn.connection.driver_connection
        ids = {
            "coachees": {r[0] for r in raw.execute("SELECT coachee_id FROM coachees")},
            "applications": {},
            "references": {},
        }
        links = {
            "applications": dict(raw.execute("SELECT application_id, coachee_id FROM applications").fetchall()),
            "references": dict(raw.execute('SELECT reference_id, coachee_id FROM "references"').fetchall()),
        }
    ids["applications"] = set(links["applications"])
    ids["references"] = set(links["references"])
    return ids, links


def import_path(store: Store, path: str | Path) -> ImportResult:
    """Check every table at ``path``, then add or replace its rows in one transaction.

    Raises ValidationError (listing every problem) and writes nothing if anything
    is wrong.
    """
    raw, warnings = read_source(path)
    ids, links = stored_keys(store)
    frames = validate_tables(raw, ids, links)
    counts = store.upsert(frames)
    return ImportResult(counts, warnings)


# ---------------------------------------------------------------- writing

def export_frames(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Typed tables as the text the import format holds (sorted, dates ISO, guarded)."""
    out = {}
    for name in TABLE_ORDER:
        t = TABLES[name]
        df = tables[name].reindex(columns=t.column_names).sort_values(list(t.key), kind="stable")
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
        out[name] = text.reset_index(drop=True)
    return out


def export_store(store: Store, dest: str | Path, coachee_id: str | None = None) -> list[Path]:
    """Write every table to ``dest``: a folder of CSVs, or one workbook if it ends in .xlsx."""
    dest = Path(dest)
    frames = export_frames(store.load(coachee_id=coachee_id))
    if dest.suffix.lower() == ".xlsx":
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".partial.xlsx")
        with pd.ExcelWriter(tmp, engine="openpyxl") as xl:
            for name, df in frames.items():
                df.to_excel(xl, sheet_name=name, index=False)
        tmp.replace(dest)
        return [dest]
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for name, df in frames.items():
        p = dest / f"{name}.csv"
        df.to_csv(p, index=False, lineterminator="\n", encoding="utf-8")
        written.append(p)
    return written
