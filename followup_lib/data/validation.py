"""Checking rows as the user typed them, for import and for the forms alike.

Input is text as it came from a CSV cell, a spreadsheet or a form field. The checks
are pandera schemas built from ``schema``; every failure becomes a ``Problem``
naming the table, the row as the user sees it (the spreadsheet row number) and the
column. All problems of a file are collected in one go.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa

from ..errors import ValidationError  # noqa: F401 (re-exported)
from ..schema import BOOL, CHOICE, DATE, TABLE_ORDER, TABLES, Column, Table

TRUE_WORDS = {"true", "yes", "y", "1", "t"}
FALSE_WORDS = {"false", "no", "n", "0", "f"}
# A date, optionally followed by a time (a datetime is accepted where a date is).
# The time, if any, must be a real one too (no 25:00); digits are ASCII only.
_DATE_RE = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[T ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]+)?)?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):?[0-5][0-9])?)?$"
)
# Cells that a spreadsheet would run as a formula; export guards them with a quote.
_GUARDED = re.compile(r"^'+[=+\-@]")
_NEEDS_GUARD = re.compile(r"^'*[=+\-@]")
_DECISION_CHECK = "decision_after_interview"
# Characters an .xlsx cannot hold (XML 1.0), apart from tab and line feed.
# Invisible control characters, non-characters and lone surrogates (which no
# encoding can store) are dropped from text.
_INVISIBLE = re.compile("[\ufeff\u200b\u200c\u200d\u2060\u00ad]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


@dataclass(frozen=True)
class Problem:
    table: str
    row: int | None  # the spreadsheet row (header = 1); None for the whole table
    column: str | None
    message: str
    source: str = ""  # file or sheet the row came from

    def __str__(self) -> str:
        where = self.source or self.table
        parts = [where]
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column {self.column}")
        return ", ".join(parts) + ": " + self.message


# ------------------------------------------------------------- cell helpers


def guard_formula(value: str) -> str:
    """Export side: a cell a spreadsheet would evaluate gets one leading quote."""
    return "'" + value if _NEEDS_GUARD.match(value) else value


def unguard_formula(value: str) -> str:
    """Import side: undo ``guard_formula`` (exactly one quote is removed)."""
    return value[1:] if _GUARDED.match(value) else value


def _clean_cell(value):
    if not isinstance(value, str):
        if value is None or pd.isna(value):
            return None
        value = str(value)
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    if _CONTROL.search(value):
        value = _CONTROL.sub("", value)
    value = value.strip()
    if not value:
        return None
    return value[1:] if _GUARDED.match(value) else value


def _clean_text(s: pd.Series) -> pd.Series:
    """Strip cells, make blanks missing, undo the export's formula guard.

    Line breaks become "\\n" and invisible control characters are dropped: they
    never mean anything in a coach's data, and a spreadsheet cannot hold them (an
    .xlsx export would fail), so the store never keeps them.
    """
    return pd.Series([_clean_cell(v) for v in s.tolist()], index=s.index, dtype=object, name=s.name)


# Years the workbook takes: a job search lives well inside them, and a typo such as
# 3026 or 202 is refused by name instead of breaking the rules (pandas' nanosecond
# dates end in 2262) or being stored unreadably.
FIRST_YEAR, LAST_YEAR = 1900, 2200


def parse_dates(s: pd.Series) -> pd.Series:
    """ISO dates (or datetimes, truncated to their date) between FIRST_YEAR and
    LAST_YEAR -> datetime64; anything else -> NaT."""
    d = _parse_any_dates(s)
    if d.isna().all():
        return d
    years = d.dt.year
    return d.where((years >= FIRST_YEAR) & (years <= LAST_YEAR))


def _parse_any_dates(s: pd.Series) -> pd.Series:
    """ISO dates (or datetimes, truncated to their date) -> datetime64; bad -> NaT."""
    text = s.astype(object).where(s.notna(), None)
    if not text.notna().any():  # an empty or blank column: nothing to parse
        return pd.Series(pd.NaT, index=s.index, dtype="datetime64[us]")
    ok = text.notna() & text.astype(str).str.match(_DATE_RE)
    day = text.where(ok, None).astype(str).str.slice(0, 10).where(ok, None)
    # Year 0 parses, but no calendar (nor Python's date) has it.
    day = day.where(~day.astype(str).str.startswith("0000"), None)
    return pd.to_datetime(day, format="%Y-%m-%d", errors="coerce")


# ------------------------------------------------------------- the schemas


def is_email_column(c: Column) -> bool:
    return c.name == "email" or c.name.endswith("_email")


def valid_email(value) -> bool:
    """One plain address (name@domain.tld), checked by email-validator: no display
    name, no second address, no line break — what a draft's To may carry."""
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(str(value), check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def _column_checks(c: Column) -> list[pa.Check]:
    if is_email_column(c):
        return [
            pa.Check(
                lambda s: s.map(valid_email).astype(bool),
                ignore_na=True,
                error="is not one email address (expected name@example.com, with nothing else)",
            )
        ]
    if c.kind == DATE:
        return [
            pa.Check(
                lambda s: _parse_any_dates(s).notna(), ignore_na=True, error="is not a real date (expected YYYY-MM-DD)"
            ),
            pa.Check(
                lambda s: _parse_any_dates(s).isna() | parse_dates(s).notna(),
                ignore_na=True,
                error=f"is outside the years {FIRST_YEAR}–{LAST_YEAR} (a typo in the year?)",
            ),
        ]
    if c.kind == CHOICE:
        return [
            pa.Check(
                lambda s, ch=c.choices: s.astype(str).str.lower().isin(ch),
                ignore_na=True,
                error="is not one of: " + ", ".join(c.choices),
            )
        ]
    if c.kind == BOOL:
        return [
            pa.Check(
                lambda s: s.astype(str).str.lower().isin(TRUE_WORDS | FALSE_WORDS),
                ignore_na=True,
                error="is not true or false",
            )
        ]
    return []


def _schema(t: Table, present: list[str]) -> pa.DataFrameSchema:
    columns = {
        c.name: pa.Column(
            object,
            nullable=not c.required,
            unique=(t.key == (c.name,)),
            checks=_column_checks(c),
            required=False,
        )
        for c in t.columns
        if c.name in present
    }
    checks = []
    if t.name == "interviews" and {"held_on", "next_step_by"} <= set(present):
        # A row-wise check: pandera reports it once per column of a failing row,
        # under its ``error`` text; _problems_from turns that into one problem.
        checks.append(
            pa.Check(
                lambda df: ~(parse_dates(df["next_step_by"]) < parse_dates(df["held_on"])),
                error=_DECISION_CHECK,
                name="decision_after_interview",
            )
        )
    multi_key = list(t.key) if len(t.key) > 1 and set(t.key) <= set(present) else None
    return pa.DataFrameSchema(columns, checks=checks, unique=multi_key, strict=False, coerce=False)


def _problems_from(
    t: Table, frame: pd.DataFrame, err: pa.errors.SchemaErrors, source: str, first_row: int
) -> list[Problem]:
    out: list[Problem] = []
    seen_dupes: set = set()
    seen_rows: set = set()
    fc = err.failure_cases
    for rec in fc.itertuples(index=False):
        idx = rec.index
        row = int(idx) + first_row if idx is not None and not pd.isna(idx) else None
        col = rec.column if isinstance(rec.column, str) and rec.column in t.column_names else None
        check = str(rec.check)
        value = rec.failure_case
        if check == "not_nullable":
            msg = "is empty but required"
        elif check == "column_in_dataframe":
            continue  # handled before validation, with the file's own wording
        elif check in ("field_uniqueness", "multiple_fields_uniqueness"):
            key_cols = list(t.key)
            key_val = tuple(frame.loc[idx, key_cols]) if idx in frame.index else (value,)
            rows = [int(i) + first_row for i in frame.index[(frame[key_cols] == list(key_val)).all(axis=1)]]
            if key_val in seen_dupes:
                continue
            seen_dupes.add(key_val)
            col = key_cols[0] if len(key_cols) == 1 else ", ".join(key_cols)
            shown = "/".join(map(str, key_val))
            out.append(
                Problem(
                    t.name,
                    rows[1] if len(rows) > 1 else row,
                    col,
                    f"id {shown!r} appears more than once in this file (rows {', '.join(map(str, rows))})",
                    source,
                )
            )
            continue
        elif check == _DECISION_CHECK:
            # Reported for every column of the row; one problem is enough.
            if (check, idx) in seen_rows:
                continue
            seen_rows.add((check, idx))
            col = "next_step_by"
            msg = "is before held_on: the date they said you would hear by cannot come before the interview"
            value = frame.loc[idx, "next_step_by"] if idx in frame.index else None
        else:
            msg = check
        shown = f"{value!r} " if value is not None and not pd.isna(value) else ""
        out.append(Problem(t.name, row, col, f"{shown}{msg}".strip(), source))
    return out


# ------------------------------------------------------------- public


@dataclass
class RawTable:
    """One table as read from a file: every cell text (or missing)."""

    frame: pd.DataFrame
    source: str  # "applications.csv" or "practice.xlsx, sheet applications"
    first_row: int = 2  # spreadsheet row of the frame's first data row


def _header(columns) -> list[str]:
    """Column names as the user meant them (spaces and a stray BOM removed)."""
    return [str(c).strip().lstrip("\ufeff").strip() for c in columns]


def sort_problems(problems: list[Problem]) -> list[Problem]:
    """Problems in the order a user fixes them: parents first, then by row and column."""
    order = {name: i for i, name in enumerate(TABLE_ORDER)}
    return sorted(problems, key=lambda p: (order.get(p.table, -1), p.row or 0, p.column or ""))


def validate_tables(
    raw: dict[str, RawTable],
    stored_ids: dict[str, set] | None = None,
    stored_links: dict[str, dict] | None = None,
    unreadable: set[str] | frozenset[str] = frozenset(),
) -> dict[str, pd.DataFrame]:
    """Check and type every table of one import (or one form).

    ``stored_ids`` maps a table to the ids already in the store (links may point
    there); ``stored_links`` maps "applications"/"references" to {id: coachee_id}
    for the stored rows, so a reference is only given to its own coachee's
    applications. ``unreadable`` names tables whose file could not be read at all
    (reported elsewhere): links into them are not checked. Returns typed frames
    ready for ``Store.upsert``; raises ValidationError listing every problem otherwise.
    """
    stored_ids = stored_ids or {}
    stored_links = stored_links or {}
    problems: list[Problem] = []
    cleaned: dict[str, pd.DataFrame] = {}
    for name in TABLE_ORDER:
        if name not in raw:
            continue
        t, r = TABLES[name], raw[name]
        frame = r.frame.copy()
        frame.columns = _header(frame.columns)
        missing = [c for c in t.required if c not in frame.columns]
        for c in missing:
            problems.append(Problem(name, 1, c, "required column is missing from the header row", r.source))
        dupes = [c for c in set(frame.columns) if list(frame.columns).count(c) > 1]
        for c in dupes:
            problems.append(Problem(name, 1, c, "column appears twice in the header row", r.source))
        if missing or dupes:
            continue
        present = [c for c in t.column_names if c in frame.columns]
        frame = frame[present]
        for c in present:
            frame[c] = _clean_text(frame[c])
            if c.endswith("_id"):
                # An id is compared character by character: a byte-order mark or a
                # zero-width space would make a look-alike second "C001".
                frame[c] = pd.Series(
                    [(_INVISIBLE.sub("", v) or None) if isinstance(v, str) else v for v in frame[c].tolist()],
                    index=frame.index,
                    dtype=object,
                    name=c,
                )
        try:
            _schema(t, present).validate(frame, lazy=True)
        except pa.errors.SchemaErrors as err:
            problems.extend(_problems_from(t, frame, err, r.source, r.first_row))
        cleaned[name] = frame

    problems.extend(_link_problems(cleaned, raw, stored_ids, stored_links, unreadable))
    problems.extend(_same_application_problems(cleaned, raw, stored_links))
    problems.extend(_point_of_contact_problems(cleaned, raw, stored_links))
    problems.extend(_place_problems(cleaned, raw))
    if problems:
        raise ValidationError(sort_problems(problems))
    return {name: _to_types(TABLES[name], frame) for name, frame in cleaned.items()}


def _link_problems(cleaned, raw, stored_ids, stored_links, unreadable=frozenset()) -> list[Problem]:
    problems = []
    for name, frame in cleaned.items():
        t, r = TABLES[name], raw[name]
        for c in t.columns:
            if not c.links_to or c.name not in frame:
                continue
            parent, parent_col = c.links_to
            if parent in unreadable:
                continue
            known = set(stored_ids.get(parent, set()))
            if parent in cleaned and parent_col in cleaned[parent]:
                known |= set(cleaned[parent][parent_col].dropna())
            elif parent in raw:
                # The parent's file was rejected at its header row (reported
                # already): take its ids as they stand rather than blaming
                # every row that points into it.
                header = _header(raw[parent].frame.columns)
                if parent_col not in header:
                    continue
                ids = raw[parent].frame.iloc[:, header.index(parent_col)]
                known |= set(_clean_text(ids).dropna())
            bad = frame[c.name].notna() & ~frame[c.name].isin(known)
            for i in frame.index[bad]:
                problems.append(
                    Problem(
                        name,
                        int(i) + r.first_row,
                        c.name,
                        f"{frame.at[i, c.name]!r} points to no {TABLES[parent].noun} "
                        f"(not in this import's {parent} nor in the store)",
                        r.source,
                    )
                )
    # A reference is given only to an application of the same coachee.
    if "reference_uses" in cleaned:
        owner = {}
        for parent in ("applications", "references"):
            m = dict(stored_links.get(parent, {}))
            if parent in cleaned and "coachee_id" in cleaned[parent]:
                key = TABLES[parent].key[0]
                m.update(zip(cleaned[parent][key], cleaned[parent]["coachee_id"]))
            owner[parent] = m
        ru, r = cleaned["reference_uses"], raw["reference_uses"]
        for i, ref, app in zip(ru.index, ru.get("reference_id", []), ru.get("application_id", [])):
            a, b = owner["references"].get(ref), owner["applications"].get(app)
            if a and b and a != b:
                problems.append(
                    Problem(
                        "reference_uses",
                        int(i) + r.first_row,
                        "application_id",
                        f"reference {ref!r} belongs to coachee {a!r} but application {app!r} to coachee {b!r}",
                        r.source,
                    )
                )
    return problems


def _owners(cleaned, stored_links, table: str, owner_col: str) -> dict:
    """{id: owner} for ``table`` (its key to ``owner_col``): the store's, updated by this import's rows."""
    m = dict(stored_links.get(table, {}))
    if table in cleaned and owner_col in cleaned[table]:
        key = TABLES[table].key[0]
        m.update(zip(cleaned[table][key], cleaned[table][owner_col]))
    return m


def _same_application_problems(cleaned, raw, stored_links) -> list[Problem]:
    """A person or reference named on a row must belong to that row's application
    (or, for a reference, to the same coachee)."""
    problems = []
    contact_app = _owners(cleaned, stored_links, "contacts", "application_id")
    interview_app = _owners(cleaned, stored_links, "interviews", "application_id")
    app_coachee = _owners(cleaned, stored_links, "applications", "coachee_id")
    ref_coachee = _owners(cleaned, stored_links, "references", "coachee_id")

    def check(table: str, column: str, row_app, owner_app, what: str) -> None:
        if table not in cleaned or column not in cleaned[table]:
            return
        frame, r = cleaned[table], raw[table]
        for i in frame.index:
            value = frame.at[i, column]
            if value is None or pd.isna(value):
                continue
            mine, theirs = row_app(frame, i), owner_app.get(value)
            if mine and theirs and mine != theirs:
                problems.append(
                    Problem(
                        table,
                        int(i) + r.first_row,
                        column,
                        what.format(value=value, mine=mine, theirs=theirs),
                        r.source,
                    )
                )

    def app_of(column):
        return lambda frame, i: frame.at[i, column] if column in frame else None

    check(
        "interview_contacts",
        "contact_id",
        lambda f, i: interview_app.get(f.at[i, "interview_id"]) if "interview_id" in f else None,
        contact_app,
        "contact {value!r} is a contact of application {theirs!r}, but the interview is of application {mine!r}",
    )
    for table in ("promises", "messages"):
        check(
            table,
            "contact_id",
            app_of("application_id"),
            contact_app,
            "contact {value!r} is a contact of application {theirs!r}, not of {mine!r}",
        )
    check(
        "promises",
        "made_at_interview_id",
        app_of("application_id"),
        interview_app,
        "interview {value!r} is an interview of application {theirs!r}, not of {mine!r}: "
        "a promise is made at an interview of its own application",
    )
    check(
        "messages",
        "reference_id",
        lambda f, i: app_coachee.get(f.at[i, "application_id"]) if "application_id" in f else None,
        ref_coachee,
        "reference {value!r} belongs to coachee {theirs!r}, but the application to coachee {mine!r}",
    )
    return problems


def _point_of_contact_problems(cleaned, raw, stored_links) -> list[Problem]:
    """At most one point of contact per application, counting the store's contacts
    as this import leaves them."""
    if "contacts" not in cleaned or "point_of_contact" not in cleaned["contacts"]:
        return []
    frame, r = cleaned["contacts"], raw["contacts"]
    poc = dict(stored_links.get("points_of_contact", {}))
    flags = frame["point_of_contact"].astype("string").str.lower()
    for i in frame.index:
        cid = frame.at[i, "contact_id"]
        poc.pop(cid, None)
        if flags.at[i] in TRUE_WORDS:
            poc[cid] = frame.at[i, "application_id"] if "application_id" in frame else None
    by_app: dict = {}
    for cid, app in poc.items():
        by_app.setdefault(app, []).append(cid)
    problems = []
    for i in frame.index:
        cid = frame.at[i, "contact_id"]
        app = poc.get(cid)
        if app is not None and len(by_app.get(app, [])) > 1:
            others = sorted(c for c in by_app[app] if c != cid)
            problems.append(
                Problem(
                    "contacts",
                    int(i) + r.first_row,
                    "point_of_contact",
                    f"application {app!r} already has {', '.join(map(repr, others))} as its point of contact: "
                    "mark only one person",
                    r.source,
                )
            )
    return problems


def _place_problems(cleaned, raw) -> list[Problem]:
    """A country the holidays library knows (ISO 3166-1 alpha-2), and a subdivision of it."""
    if "coachees" not in cleaned or not ({"country", "subdivision"} & set(cleaned["coachees"])):
        return []
    import holidays  # only when a country is given: it takes a moment to load

    frame, r = cleaned["coachees"], raw["coachees"]
    problems = []
    for i in frame.index:
        country = frame.at[i, "country"] if "country" in frame else None
        subdiv = frame.at[i, "subdivision"] if "subdivision" in frame else None
        row = int(i) + r.first_row
        if country is None and subdiv is None:
            continue
        if country is None:
            problems.append(Problem("coachees", row, "subdivision", f"{subdiv!r} is given without a country", r.source))
            continue
        try:
            known = holidays.country_holidays(country.upper())
        except NotImplementedError:
            problems.append(
                Problem(
                    "coachees",
                    row,
                    "country",
                    f"{country!r} is not a country code the holidays calendar knows (ISO 3166-1 alpha-2: US, GB, DE…)",
                    r.source,
                )
            )
            continue
        subdivisions = [str(x).upper() for x in known.subdivisions]
        if subdiv is not None and subdiv.upper() not in subdivisions:
            problems.append(
                Problem(
                    "coachees",
                    row,
                    "subdivision",
                    f"{subdiv!r} is not a subdivision of {country.upper()} (known: {', '.join(subdivisions[:12])}"
                    + ("…" if len(subdivisions) > 12 else "")
                    + ")",
                    r.source,
                )
            )
    return problems


# Contract v3: free text that drafts place in front of several people is written
# as noun phrases ("the pricing model"), in no one's voice.
VOICE_COLUMNS = {"interviews": ("topics",), "interview_contacts": ("topics",), "reference_uses": ("talking_points",)}
_PRONOUN = re.compile(
    r"\b(?:[Yy]ou|[Yy]our|[Yy]ours|[Yy]ourself|[Mm]y|[Mm]ine|[Ww]e|[Oo]ur|[Oo]urs)\b"
    r"|(?<![\w/.-])I(?:'m|'ve|'d|'ll)?(?![\w/.-])"  # "I" as a word, not "I/O" or "I-9"
)


def pronoun_in(text) -> str | None:
    """The first personal pronoun in ``text`` ("you", "my", "we"…), or None."""
    if not isinstance(text, str):
        return None
    m = _PRONOUN.search(text)
    return m.group(0) if m else None


def voice_warnings(raw: dict[str, RawTable], frames: dict[str, pd.DataFrame]) -> list[str]:
    """A warning (not a refusal) for each topic or talking point written in
    someone's voice: it may reach the interviewer, the client and the reference
    alike, so it should read as a noun phrase. Names the table, row and column."""
    out = []
    for table, columns in VOICE_COLUMNS.items():
        if table not in frames:
            continue
        frame, first = frames[table], raw[table].first_row if table in raw else 2
        for column in columns:
            if column not in frame:
                continue
            for i, value in zip(frame.index, frame[column], strict=True):
                word = pronoun_in(value)
                if word:
                    out.append(
                        f"{table} row {int(i) + first}, {column}: {value!r} says {word!r}; drafts send it to "
                        'several people, so write it as a noun phrase ("the pricing model", not "the model '
                        'you built")'
                    )
    return out


def _to_types(t: Table, frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for c in t.columns:
        if c.name not in out:
            continue
        s = out[c.name]
        if c.kind == DATE:
            out[c.name] = parse_dates(s)
        elif c.kind == BOOL:
            lowered = s.astype("string").str.lower()
            out[c.name] = lowered.isin(TRUE_WORDS).astype("boolean").mask(lowered.isna())
        elif c.name in ("country", "subdivision"):  # ISO codes are written in capitals
            out[c.name] = s.where(s.isna(), s.astype(str).str.upper()).astype(object)
        elif c.kind == CHOICE:
            low = s.where(s.isna(), s.astype(str).str.lower())
            if c.default is not None:
                low = low.where(low.notna(), c.default)
            out[c.name] = low.astype(object).where(low.notna(), None)
    # A column left out of the file entirely stays out: the store keeps the value
    # of a row it already holds and gives a new row the column's default.
    return out


def validate_row(
    table: str, values: dict, stored_ids: dict[str, set] | None = None, stored_links: dict[str, dict] | None = None
) -> pd.DataFrame:
    """A form's values (text, dates or None) checked exactly like an import row."""
    t = TABLES[table]
    cells = {}
    for c in t.columns:
        v = values.get(c.name)
        if v is None or (not isinstance(v, str) and pd.api.types.is_scalar(v) and pd.isna(v)):
            cells[c.name] = None  # None, NaN, NaT and pd.NA alike: a blank
        elif c.kind == BOOL and isinstance(v, bool):
            cells[c.name] = "true" if v else "false"
        elif hasattr(v, "isoformat"):
            cells[c.name] = v.isoformat()[:10]
        else:
            cells[c.name] = str(v)
    frame = pd.DataFrame([cells], columns=t.column_names, dtype=object)
    return validate_tables({table: RawTable(frame, f"the {t.noun} form", first_row=1)}, stored_ids, stored_links)[table]
