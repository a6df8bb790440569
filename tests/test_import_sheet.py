"""followup import-sheet: a client's own tracker read into the store.

Six committed sheets shaped like the ones clients bring (tests/fixtures/sheets,
made by make_sheets.py) are each imported through the command, judged against the
tables expected (read back with plain sqlite3), and imported again with nothing
changing. Every refusal names the row, the column and the value, and leaves the
store exactly as it was.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
from pathlib import Path

import pytest

from followup_lib import paths
from followup_lib.data import sheet
from followup_lib.data.store import open_store
from followup_lib.data.transfer import import_path

from builders import data_contents, db_path, write_csvs

SHEETS = Path(__file__).parent / "fixtures" / "sheets"
COACHEES = [
    {"coachee_id": "C-US", "name": "Alex Kim", "country": "US"},
    {"coachee_id": "C-DE", "name": "Jonas Weber", "country": "DE"},
    {"coachee_id": "C-FR", "name": "Claire Dubois", "country": "FR"},
    {"coachee_id": "C-GB", "name": "Sam Green", "country": "GB"},
    {"coachee_id": "C-CA", "name": "Robin Tremblay", "country": "CA"},
    {"coachee_id": "C-XX", "name": "Noa Nowhere", "country": ""},
]


@pytest.fixture
def db(tmp_path, db_url) -> str:
    """A store holding the coachees (and nothing else yet)."""
    store = open_store(db_url)
    try:
        import_path(store, write_csvs(tmp_path / "coachees", {"coachees": COACHEES}))
    finally:
        store.engine.dispose()
    return db_url


def query(db: str, sql: str) -> list[tuple]:
    conn = sqlite3.connect(db_path(db))
    try:
        return [tuple("" if v is None else v for v in row) for row in conn.execute(sql)]
    finally:
        conn.close()


def applications(db: str) -> list[tuple]:
    return query(
        db,
        "SELECT company, role, status, COALESCE(applied_on, ''), COALESCE(closed_on, ''), notes "
        "FROM applications ORDER BY company",
    )


def interviews(db: str) -> list[tuple]:
    return query(
        db,
        "SELECT a.company, i.held_on, i.round, i.final_round, i.interviewer_name FROM interviews i "
        "JOIN applications a USING (application_id) ORDER BY a.company, i.held_on",
    )


def contacts(db: str) -> list[tuple]:
    return query(
        db,
        "SELECT a.company, c.name, c.email, COALESCE(c.point_of_contact, 0) FROM contacts c "
        "JOIN applications a USING (application_id) ORDER BY a.company, c.name",
    )


def offers(db: str) -> list[tuple]:
    return query(
        db,
        "SELECT a.company, COALESCE(o.verbal_on, '') FROM offers o JOIN applications a USING (application_id) "
        "ORDER BY a.company",
    )


def serial(n: int) -> str:
    """An Excel serial number's day, worked out by openpyxl (not by the code under test)."""
    from openpyxl.utils.datetime import from_excel

    return from_excel(n).date().isoformat()


# What each sheet becomes: (file, coachee, applications, interviews, contacts, offers).
EXPECTED = {
    "plain_template_en.csv": (
        "C-GB",  # the sheet's own values say month first, whatever the country
        [
            ("Bluefin Labs", "Analytics Engineer", "rejected", "2026-10-05", "", "Turned down after the screen"),
            ("Cedar Bank", "Data Scientist", "active", "2026-11-01", "", ""),
            ("Harbor Health", "BI Developer", "active", "2026-10-23", "", "Location: Remote"),
            ("Maple & Co", "Reporting Analyst", "active", "2026-10-01", "", "Status in the sheet: Ghosted"),
            (
                "Northwind Analytics",
                "Data Analyst",
                "active",
                "2026-10-20",
                "",
                "Location: Boston, MA\nLink: https://jobs.example/nw/123\nSalary range: $70k-$80k\n"
                "Follow-up date in the sheet: 2026-11-19\nGreat team",
            ),
            ("Orbit Retail", "Senior Analyst", "offer", "2026-09-28", "", "Location: New York\nSalary range: $95k"),
        ],
        [
            ("Harbor Health", "2026-11-02", "1", "", ""),
            ("Harbor Health", "2026-11-13", "2", 1, ""),
            ("Maple & Co", "2026-10-08", "", "", ""),
            ("Northwind Analytics", "2026-11-12", "", "", ""),
            ("Orbit Retail", "2026-10-15", "", "", ""),
        ],
        [
            ("Harbor Health", "Tom Reed", "", 1),
            ("Northwind Analytics", "Priya Shah", "priya.shah@northwind.example", 1),
            ("Orbit Retail", "jane.ho@orbit.example", "jane.ho@orbit.example", 1),
        ],
        [("Orbit Retail", "")],
    ),
    "bewerbungen_de.csv": (
        "C-DE",
        [
            ("Bäckerei Sonnenschein", "Controller", "rejected", "2026-09-15", "", "Location: Köln"),
            ("Fahrrad Kühn", "Analyst", "withdrawn", "2026-09-01", "", "Location: Leipzig\nUmzug nicht möglich"),
            ("Grünwerk AG", "Data Engineer", "active", "2026-10-28", "", "Location: Berlin"),
            (
                "Müller Logistik GmbH",
                "Datenanalyst (m/w/d)",
                "active",
                "2026-10-02",
                "",
                "Location: München\nZweites Gespräch möglich",
            ),
            ("Stadtwerke Nord", "BI-Entwickler", "offer", "2026-10-05", "", "Location: Hamburg"),
            (
                "Weiß & Partner",
                "Reporting-Spezialist",
                "active",
                "2026-10-12",
                "",
                "Status in the sheet: Keine Rückmeldung\nLocation: Stuttgart",
            ),
        ],
        [
            ("Bäckerei Sonnenschein", "2026-10-01", "", "", ""),
            ("Müller Logistik GmbH", "2026-11-11", "", "", ""),
            ("Stadtwerke Nord", "2026-10-20", "", "", ""),
        ],
        [
            ("Müller Logistik GmbH", "Frau Jäger", "j.jaeger@mueller-logistik.example", 1),
            ("Stadtwerke Nord", "Herr Özdemir", "", 1),
        ],
        [("Stadtwerke Nord", "")],
    ),
    "excel_export.xlsx": (
        "C-US",
        [
            ("Crescent Media", "Analyst", "accepted", "2026-10-02", "", ""),
            ("Helix Bio", "Data Scientist", "active", "2026-09-30", "", ""),
            ("Summit Freight", "Ops Analyst", "active", "2026-10-20", "", ""),
            ("Vantage Partners", "Financial Analyst", "active", "2026-10-12", "", ""),
        ],
        [
            ("Crescent Media", serial(46305), "1", "", ""),
            ("Crescent Media", serial(46315), "2", "", ""),
            ("Helix Bio", serial(46310), "1", "", ""),
            ("Helix Bio", serial(46329), "2", "", ""),
            ("Vantage Partners", serial(46333), "1", "", ""),  # "Phone Screen": the first round
        ],
        [
            ("Crescent Media", "Lee Park", "", 1),
            ("Helix Bio", "talent@helix.example", "talent@helix.example", 1),
            ("Vantage Partners", "Ana Ruiz", "ana.ruiz@vantage.example", 1),
        ],
        [("Crescent Media", "")],
    ),
    "teal_export.csv": (
        "C-XX",  # dates written out: no country needed
        [
            (
                "Kestrel Air",
                "Data Analyst II",
                "active",
                "2026-09-24",
                "",
                "Status in the sheet: No Response\nLocation: Denver, CO\nLink: https://kestrel.example/careers/22",
            ),
            (
                "Lumen Software",
                "Product Analyst",
                "active",
                "2026-10-06",
                "",
                "Location: Remote\nLink: https://lumen.example/jobs/7\nFollow-up date in the sheet: 2026-11-20\n"
                "Panel on Nov 10",
            ),
            (
                "Pioneer Foods",
                "Analytics Lead",
                "active",
                "",
                "",
                "Status in the sheet: Bookmarked\nLocation: Austin, TX\nLink: https://pioneer.example/j/9",
            ),
            ("Quarry Media", "Insights Manager", "offer", "2026-09-03", "", "Location: Remote\nVerbal offer on Nov 9"),
            ("Sparrow Health", "Data Analyst", "withdrawn", "2026-09-01", "", "Location: Remote\nTook too long"),
            ("Tern Bank", "Junior Analyst", "rejected", "2026-09-12", "", "Location: Chicago, IL"),
        ],
        [],
        [],
        [("Quarry Media", "")],
    ),
    "email_contacts.ods": (
        "C-FR",
        [
            ("Atelier Nova", "Chargé d'études", "active", "2026-10-20", "", "Location: Paris"),
            ("Boulangerie Paul", "Contrôleur de gestion", "rejected", "2026-10-01", "", "Location: Lille"),
            ("Lumière SA", "Analyste de données", "active", "2026-10-14", "", "Location: Lyon"),
            (
                "Société Générale Tech",
                "Data analyst",
                "active",
                "2026-09-25",
                "",
                "Status in the sheet: Sans réponse\nLocation: Paris",
            ),
        ],
        [("Lumière SA", "2026-11-12", "", "", ""), ("Société Générale Tech", "2026-10-05", "", "", "")],
        [
            ("Atelier Nova", "c.martin@nova.example", "c.martin@nova.example", 0),
            ("Atelier Nova", "jobs@nova.example", "jobs@nova.example", 1),
            ("Boulangerie Paul", "recrutement@paul.example", "recrutement@paul.example", 1),
            ("Lumière SA", "rh@lumiere.example", "rh@lumiere.example", 1),
        ],
        [],
    ),
    "messy.csv": (
        "C-GB",  # the interview column cannot tell: the coachee's country (GB) says day first
        [
            ("Acme Corp", "Data analyst", "active", "2026-11-03", "", ""),
            ("Initech", "Report writer", "active", "2026-10-14", "", ""),
            ("Zephyr Ltd", "Analyst", "active", "2026-10-28", "", ""),
            ("globex", "BI analyst", "rejected", "2026-10-01", "", "no feedback"),
        ],
        [("Acme Corp", "2026-11-10", "", "", ""), ("Initech", "2026-11-05", "", 1, "")],
        [
            ("Acme Corp", "Sam Lee", "sam@acme.example", 1),
            ("Initech", "Bill Lumbergh", "bill@initech.example", 1),
            ("Initech", "HR", "hr@initech.example", 0),
        ],
        [],
    ),
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_each_sheet_is_imported_as_expected_and_again_changes_nothing(followup, db, name):
    coachee, apps, ivs, cts, ofs = EXPECTED[name]
    path = str(SHEETS / name)
    before = data_contents(db)
    dry = followup("import-sheet", path, "--coachee", coachee, db=db, check=True)
    assert "nothing was written: --apply imports it" in dry.stdout
    assert data_contents(db) == before  # a dry run writes nothing

    ran = followup("import-sheet", path, "--coachee", coachee, "--apply", db=db, check=True)
    assert f"applications: {len(apps)} added, 0 changed" in ran.stdout
    assert applications(db) == apps
    assert interviews(db) == ivs
    assert contacts(db) == cts
    assert offers(db) == ofs
    assert {r[0] for r in query(db, "SELECT DISTINCT coachee_id FROM applications")} == {coachee}

    once = data_contents(db)
    again = followup("import-sheet", path, "--coachee", coachee, "--apply", db=db, check=True)
    assert "applications: 0 added, 0 changed" in again.stdout
    assert data_contents(db) == once  # row versions included: nothing was touched


def test_the_dry_run_shows_the_mapping_the_columns_left_out_the_statuses_and_the_rows(followup, db):
    out = followup("import-sheet", str(SHEETS / "teal_export.csv"), "--coachee", "C-US", db=db, check=True).stdout
    assert "Read teal_export.csv (UTF-8, comma-separated); header on row 1; 6 application row(s)." in out
    assert "Job Position  → role (synonym)" in out
    assert "Date Applied  → applied_on (synonym; dates written out (3 Nov 2026))" in out
    not_used = out.split("Not used:")[1].split("Statuses:")[0]
    for header in ("Min. Salary", "Max. Salary", "Date Saved", "Excitement"):
        assert header in not_used
    assert 'No Response   → active, with "Status in the sheet: No Response" in the notes' in out
    assert "Negotiating   → offer (and an offer row)" in out
    assert "I Withdrew    → withdrawn" in out
    assert "Lumen Software  Product Analyst   active 2026-10-06" in out
    assert "applications: 6 new, 0 already there" in out
    assert "the client's references: none in the store" in out


def test_encodings_and_delimiters_are_detected_and_named(followup, db):
    de = followup("import-sheet", str(SHEETS / "bewerbungen_de.csv"), "--coachee", "C-DE", db=db, check=True)
    assert "(Windows-1252, semicolon-separated)" in de.stdout
    assert "Gesprächstermin  → interview_on (synonym; dates dd.mm.yyyy (day first))" in de.stdout
    messy = followup("import-sheet", str(SHEETS / "messy.csv"), "--coachee", "C-GB", db=db, check=True)
    assert "(UTF-8 with a byte-order mark, comma-separated); header on row 3" in messy.stdout
    assert "row 11: a total row (Total, 4)" in messy.stdout
    xlsx = followup("import-sheet", str(SHEETS / "excel_export.xlsx"), "--coachee", "C-US", db=db, check=True)
    # The group cells merged over the headers name the columns under them.
    assert "Interview Date 1  → interview_on (synonym; dates Excel serial numbers)" in xlsx.stdout
    assert "Contact Name      → contact_name (synonym)" in xlsx.stdout
    assert "header on row 3" in xlsx.stdout


def _sheet(tmp_path: Path, text: str, name: str = "sheet.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


AMBIGUOUS = "Company,Role,Date Applied,Status\nAcme,Analyst,03/11/2026,Applied\nGlobex,Engineer,05/10/2026,Applied\n"


@pytest.mark.parametrize(
    ("coachee", "extra", "applied"),
    [
        ("C-GB", [], ["2026-11-03", "2026-10-05"]),  # the country writes day first
        ("C-US", [], ["2026-03-11", "2026-05-10"]),  # the country writes month first
        ("C-XX", ["--dates", "mdy"], ["2026-03-11", "2026-05-10"]),  # no country: the coach says
    ],
)
def test_day_and_month_order_comes_from_the_country_when_the_values_cannot_tell(
    followup, db, tmp_path, coachee, extra, applied
):
    path = _sheet(tmp_path, AMBIGUOUS)
    ran = followup("import-sheet", path, "--coachee", coachee, "--apply", *extra, db=db, check=True)
    assert "Date Applied  → applied_on (synonym; dates " in ran.stdout
    assert [r[0] for r in query(db, "SELECT applied_on FROM applications ORDER BY company")] == applied


def refused(followup, db, path: str, coachee: str, *extra: str) -> str:
    before = data_contents(db)
    ran = followup("import-sheet", path, "--coachee", coachee, "--apply", *extra, db=db)
    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert data_contents(db) == before  # the store exactly as it was
    return ran.stdout + ran.stderr


@pytest.mark.parametrize(
    ("coachee", "text", "said"),
    [
        ("C-XX", AMBIGUOUS, "sheet.csv, column Date Applied: row 2: 03/11/2026 could be day or month first"),
        ("C-CA", AMBIGUOUS, "the coachee's country CA writes both orders"),
        (
            "C-GB",
            "Company,Role,Date Applied\nAcme,Analyst,23/10/2026\nGlobex,Engineer,10/23/2026\n",
            "column Date Applied: mixes day-first (row 2: 23/10/2026) and month-first (row 3: 10/23/2026) dates",
        ),
        (
            "C-GB",
            "Company,Role,Date Applied\nAcme,Analyst,last Tuesday\n",
            "sheet.csv, row 2, column Date Applied: 'last Tuesday' is not a date the import reads",
        ),
        ("C-GB", "Company,Role,Date Applied\nAcme,Analyst,31.02.2026\n", "'31.02.2026' is not a date the import reads"),
        ("C-GB", "Company,Role,Status\nAcme,Analyst,Sleeping\n", "row 2, column Status: 'Sleeping' is not a status"),
        ("C-GB", "Company,Role,Status\nAcme,Analyst,Declined\n", "row 2, column Status: 'Declined' could mean"),
        ("C-GB", "Company,Role,Status\nAcme,,Applied\n", "row 2, column Role: the role is blank"),
        (
            "C-GB",
            "Company,Role\nAcme,Analyst\nACME,analyst\n",
            "row 3, column Company: is the same application as row 2",
        ),
        ("C-GB", "Company,Status,Location\nAcme,Applied,Paris\n", 'no column is read as the role: --map "HEADER=role"'),
        ("C-GB", "Favourite colour,Lucky number\nblue,7\n", "no header row in the first 10 rows"),
        (
            "C-GB",
            "Company,Role,Contact Email\nAcme,Analyst,jo.park@\n",
            "row 2, column Contact Email (contacts.email): 'jo.park@' is not one email address",
        ),
    ],
)
def test_every_refusal_names_the_row_the_column_and_the_value(followup, db, tmp_path, coachee, text, said):
    out = refused(followup, db, _sheet(tmp_path, text), coachee)
    assert said in out


def test_a_refusal_in_the_messy_sheet_names_its_own_row(followup, db, tmp_path):
    text = (SHEETS / "messy.csv").read_text(encoding="utf-8-sig").replace("3rd November 2026", "early Nov")
    out = refused(followup, db, _sheet(tmp_path, text, "messy.csv"), "C-GB")
    assert "messy.csv, row 4, column applied?: 'early Nov' is not a date the import reads" in out


def test_map_overrides_a_choice_and_a_bad_map_is_refused_by_name(followup, db):
    path = str(SHEETS / "teal_export.csv")
    ran = followup(
        "import-sheet", path, "--coachee", "C-US", "--map", "Min. Salary=salary", "--map", "URL=-", "--apply", db=db
    )
    assert ran.returncode == 0, ran.stderr
    assert "Min. Salary   → salary (--map)" in ran.stdout
    notes = dict(query(db, "SELECT company, notes FROM applications"))
    assert notes["Lumen Software"] == (
        "Location: Remote\nSalary range: 90000\nFollow-up date in the sheet: 2026-11-20\nPanel on Nov 10"
    )
    bad_field = followup("import-sheet", path, "--coachee", "C-US", "--map", "URL=website", db=db)
    assert bad_field.returncode == 2 and "'website' is not a field; the fields are company, role" in bad_field.stderr
    bad_header = followup("import-sheet", path, "--coachee", "C-US", "--map", "Salary Max=salary", db=db)
    assert bad_header.returncode == 2 and "'salary max', not a column of this sheet" in bad_header.stderr
    twice = followup("import-sheet", path, "--coachee", "C-US", "--map", "Company=role", db=db)
    assert twice.returncode == 2 and "are both mapped to role" not in twice.stderr  # the --map wins
    assert "also reads as role, but 'Company' is used" in twice.stdout


def test_a_mapping_is_saved_by_name_in_the_data_folder_and_used_again(followup, db, tmp_path, monkeypatch):
    monkeypatch.setenv("FOLLOWUP_HOME", str(tmp_path / "home"))
    path = str(SHEETS / "teal_export.csv")
    saved = followup(
        "import-sheet", path, "--coachee", "C-US", "--map", "Min. Salary=salary", "--save-mapping", "../teal", db=db
    )
    assert saved.returncode == 0, saved.stderr
    files = list((tmp_path / "home" / "data" / "sheet-mappings").iterdir())
    assert [f.name for f in files] == [paths.safe_name("../teal", ".json")]  # inside the folder, whatever the name
    again = followup("import-sheet", path, "--coachee", "C-US", "--mapping", "../teal", db=db, check=True)
    assert "Min. Salary   → salary (mapping ../teal)" in again.stdout
    missing = followup("import-sheet", path, "--coachee", "C-US", "--mapping", "huntr", db=db)
    assert missing.returncode == 2 and "no saved mapping 'huntr' (saved: ../teal" in missing.stderr


def test_a_row_edited_in_the_workbook_is_kept_unless_update_and_a_later_copy_adds_only_new_rows(followup, db, tmp_path):
    path = SHEETS / "plain_template_en.csv"
    followup("import-sheet", str(path), "--coachee", "C-GB", "--apply", db=db, check=True)
    # The coach records in the workbook that Cedar Bank is now an offer.
    (aid,) = query(db, "SELECT application_id FROM applications WHERE company = 'Cedar Bank'")[0]
    edit = write_csvs(
        tmp_path / "edit",
        {"applications": [{"application_id": aid, "coachee_id": "C-GB", "company": "Cedar Bank",
                           "role": "Data Scientist", "status": "offer"}]},
    )  # fmt: skip
    followup("import", str(edit), db=db, check=True)
    # The client's sheet, a week later: one more row, Cedar Bank still "Applied".
    later = tmp_path / "later.csv"
    later.write_text(path.read_text() + "Dune Energy,Data Analyst,11/9/2026,Applied,,,,,,,\n", encoding="utf-8")
    ran = followup("import-sheet", str(later), "--coachee", "C-GB", "--apply", db=db, check=True)
    assert "applications: 1 added, 0 changed" in ran.stdout
    assert "row 5 (Cedar Bank — Data Scientist): status is 'offer' in the store, 'active' in the sheet" in ran.stdout
    assert (
        "kept as the store has them: 1 applications that differ from the sheet (--update replaces them)" in ran.stdout
    )
    assert query(db, "SELECT status FROM applications WHERE company = 'Cedar Bank'") == [("offer",)]
    assert len(query(db, "SELECT * FROM applications")) == 7
    updated = followup("import-sheet", str(later), "--coachee", "C-GB", "--apply", "--update", db=db, check=True)
    assert "applications: 0 added, 1 changed" in updated.stdout
    assert query(db, "SELECT status FROM applications WHERE company = 'Cedar Bank'") == [("active",)]


def test_after_import_due_shows_what_is_due_and_the_summary_says_what_to_ask(followup, db):
    ran = followup(
        "import-sheet", str(SHEETS / "plain_template_en.csv"), "--coachee", "C-GB", "--apply", db=db, check=True
    )
    summary = ran.stdout.split("What the sheet could not tell")[1]
    assert "who the client met at 5 interviews: the sheet names no interviewer, so nobody is thanked" in summary
    assert "the client's references: none in the store" in summary
    assert "the name of 1 contact known only by an address" in summary
    assert "when 1 ended application ended (no date in the sheet)" in summary
    assert "followup due --coachee C-GB shows what is due now." in ran.stdout
    due = followup("due", "--coachee", "C-GB", "--as-of", "2026-11-16", "--format", "json", db=db, check=True)
    import json

    actions = {(a["company"], a["kind"]) for a in json.loads(due.stdout)}
    # Ghosted stays active: its silence since the interview of 8 Oct gets a status inquiry.
    assert ("Maple & Co", "status_inquiry") in actions
    # The final round of 13 Nov: a decision check-in to the point of contact, Tom Reed.
    assert ("Harbor Health", "offer_checkin") in actions
    # An offer: no inquiry about the process any more.
    assert ("Orbit Retail", "status_inquiry") not in actions


def test_a_coach_imports_only_into_their_own_caseload(followup, db, tmp_path):
    ran = followup(
        "--coach", "Dana Reyes", "import-sheet", str(SHEETS / "messy.csv"), "--coachee", "C-GB", "--apply", db=db
    )
    assert ran.returncode == 2 and "no coachees for coach 'Dana Reyes'" in ran.stderr
    assert query(db, "SELECT COUNT(*) FROM applications") == [(0,)]


def test_the_synonym_table_covers_four_languages_and_near_misses():
    for name in ("company", "role", "status", "applied_on", "interview_on", "contact"):
        assert set(sheet.SYNONYMS[name]) == {"en", "de", "fr", "es"}, name
    assert sheet.field_of("Firma") == ("company", "synonym")
    assert sheet.field_of("POSTE") == ("role", "synonym")
    assert sheet.field_of("Fecha de solicitud") == ("applied_on", "synonym")
    assert sheet.field_of("Position Title") == ("role", "synonym")
    field, how = sheet.field_of("Date Aplied")
    assert field == "applied_on" and how.startswith("similar to 'date applied'")
    assert sheet.field_of("Excitement") == (None, "")


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2026-11-03", dt.date(2026, 11, 3)),
        ("2026-11-03 00:00:00", dt.date(2026, 11, 3)),
        ("3.11.2026", dt.date(2026, 11, 3)),
        ("23/10/2026", dt.date(2026, 10, 23)),
        ("10/23/2026", dt.date(2026, 10, 23)),
        ("3 Nov 2026", dt.date(2026, 11, 3)),
        ("November 3rd, 2026", dt.date(2026, 11, 3)),
        ("3. November 2026", dt.date(2026, 11, 3)),
        ("3 de noviembre de 2026", dt.date(2026, 11, 3)),
        ("mardi 3 novembre 2026", dt.date(2026, 11, 3)),
        ("46330", dt.date.fromisoformat(serial(46330))),
        ("03/11/2026", sheet.DayMonth(3, 11, 2026)),
        ("last week", None),
        ("3 Nov", None),
        ("31.02.2026", None),
        ("7", None),
    ],
)
def test_a_date_cell_is_read_or_refused(text, day):
    assert sheet.read_date_cell(text) == day


def test_the_fixtures_are_what_make_sheets_writes(tmp_path):
    """The committed sheets are the generator's output (so a reader can trust its comments)."""
    import importlib.util

    copy = tmp_path / "sheets"
    shutil.copytree(SHEETS, copy)
    spec = importlib.util.spec_from_file_location("make_sheets", copy / "make_sheets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write_text_files()
    for name in ("plain_template_en.csv", "bewerbungen_de.csv", "teal_export.csv", "messy.csv"):
        assert (copy / name).read_bytes() == (SHEETS / name).read_bytes(), name


# ------------------------------------------------------------------ the session's tab


def _upload(tab, path: Path) -> None:
    """What the browser sends when a file is picked."""
    content = path.read_bytes()
    tab.upload.value = (
        {
            "name": path.name,
            "type": "",
            "size": len(content),
            "content": memoryview(content),
            "last_modified": dt.datetime(2026, 11, 16, tzinfo=dt.UTC),
        },
    )


def test_the_spreadsheet_tab_previews_lets_the_coach_choose_and_imports(db, tmp_path):
    from followup_lib.faces.session import WorkingSession

    s = WorkingSession(db, "C-US", dt.date(2026, 11, 16), drafts_dir=tmp_path / "drafts")
    try:
        titles = [s.form_tabs.get_title(i) for i in range(len(s.form_tabs.children))]
        assert titles[-1] == "Bring a spreadsheet"
        tab = s.sheet_tab
        before = data_contents(db)
        _upload(tab, SHEETS / "teal_export.csv")
        assert "Read teal_export.csv (UTF-8, comma-separated)" in tab.preview.value
        assert data_contents(db) == before  # a preview writes nothing
        # A dropdown per column; the coach reads Min. Salary as the salary.
        rows = {row.children[0].value: row.children[1] for row in tab.columns.children}
        assert rows["<b>Job Position</b>"].value == "role"
        assert rows["<b>Min. Salary</b>"].value == "(not used)"
        rows["<b>Min. Salary</b>"].value = "salary"
        assert "Min. Salary   → salary (--map)" in tab.preview.value
        assert not tab.import_button.disabled
        tab.import_button.click()
        assert "applications: 6 added, 0 changed" in tab.status.value, tab.status.value
        notes = dict(query(db, "SELECT company, notes FROM applications"))
        assert "Salary range: 90000" in notes["Lumen Software"]
        # The session shows the new applications' actions at once.
        assert set(s.state.tables["applications"]["company"]) >= {"Lumen Software", "Quarry Media"}
    finally:
        s.state.close()


def test_the_spreadsheet_tab_shows_problems_and_cannot_import_them(db, tmp_path):
    from followup_lib.faces.session import WorkingSession

    bad = tmp_path / "bad.csv"
    bad.write_text("Company,Role,Status\nAcme,Analyst,Declined\n", encoding="utf-8")
    s = WorkingSession(db, "C-US", dt.date(2026, 11, 16), drafts_dir=tmp_path / "drafts")
    try:
        before = data_contents(db)
        _upload(s.sheet_tab, bad)
        assert "bad.csv, row 2, column Status: &#x27;Declined&#x27; could mean" in s.sheet_tab.preview.value
        assert s.sheet_tab.import_button.disabled
        assert data_contents(db) == before
    finally:
        s.state.close()


def test_the_clients_own_app_has_no_spreadsheet_tab(db, tmp_path):
    from followup_lib.faces.session import WorkingSession

    s = WorkingSession(db, "C-US", dt.date(2026, 11, 16), drafts_dir=tmp_path / "drafts", client=True)
    try:
        titles = [s.form_tabs.get_title(i) for i in range(len(s.form_tabs.children))]
        assert "Bring a spreadsheet" not in titles and not hasattr(s, "sheet_tab")
    finally:
        s.state.close()


# ------------------------------------------------------------------ the README


def _readme_section() -> str:
    text = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    return text.split("## Bring your own spreadsheet")[1].split("\n## ")[0]


def test_the_readme_shows_a_real_dry_run(followup, tmp_path):
    section = _readme_section()
    shown = section.split("```console\n")[1].split("```")[0]
    command, expected = shown.split("\n", 1)
    assert command == '$ followup import-sheet teal_export.csv --coachee C007 --map "Min. Salary=salary"'
    db = f"sqlite:///{tmp_path / 'readme.db'}"
    followup(
        "import",
        str(
            write_csvs(tmp_path / "c", {"coachees": [{"coachee_id": "C007", "name": "Jordan Avery", "country": "US"}]})
        ),
        db=db,
        check=True,
    )
    shutil.copy(SHEETS / "teal_export.csv", tmp_path / "teal_export.csv")
    ran = followup(
        "import-sheet", str(tmp_path / "teal_export.csv"), "--coachee", "C007", "--map", "Min. Salary=salary", db=db
    )
    assert ran.stdout == expected


def test_the_readme_lists_every_synonym():
    section = _readme_section()
    for name, by_language in sheet.SYNONYMS.items():
        row = next(line for line in section.splitlines() if line.startswith(f"| `{name}` |"))
        for words in by_language.values():
            for word in words:
                assert word in row, (name, word)


def test_a_point_of_contact_named_in_the_workbook_stays_the_one(followup, db, tmp_path):
    path = str(SHEETS / "plain_template_en.csv")
    followup("import-sheet", path, "--coachee", "C-GB", "--apply", db=db, check=True)
    (aid, tom) = query(
        db, "SELECT a.application_id, c.contact_id FROM contacts c JOIN applications a USING (application_id) "
        "WHERE c.name = 'Tom Reed'",
    )[0]  # fmt: skip
    # In the workbook, the coach makes the recruiter the point of contact instead of Tom Reed.
    edit = write_csvs(
        tmp_path / "edit",
        {"contacts": [
            {"contact_id": tom, "application_id": aid, "name": "Tom Reed", "point_of_contact": "false"},
            {"contact_id": "K1", "application_id": aid, "name": "Lena Fox", "point_of_contact": "true"},
        ]},
    )  # fmt: skip
    followup("import", str(edit), db=db, check=True)
    once = data_contents(db)
    again = followup("import-sheet", path, "--coachee", "C-GB", "--apply", db=db, check=True)
    assert "contacts: 0 new, 3 already there" in again.stdout
    assert data_contents(db) == once


def test_a_header_merged_over_two_columns_reads_both(followup, db, tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Company", "Role", "Interview dates", None])
    ws.merge_cells("C1:D1")
    ws.append(["Acme", "Analyst", "2026-11-02", "2026-11-09"])
    wb.save(tmp_path / "merged.xlsx")
    ran = followup("import-sheet", str(tmp_path / "merged.xlsx"), "--coachee", "C-GB", "--apply", db=db, check=True)
    assert "Interview dates (2)" in ran.stdout
    assert interviews(db) == [("Acme", "2026-11-02", "1", "", ""), ("Acme", "2026-11-09", "2", "", "")]


def test_an_interviewer_column_names_the_person_met_at_the_latest_interview(followup, db, tmp_path):
    path = _sheet(
        tmp_path,
        "Company,Role,Status,Interview 1,Interview 2,Interviewer\n"
        "Acme,Analyst,Second interview,2026-11-02,2026-11-12,Dana Lee <dana.lee@acme.example>\n"
        "Globex,Engineer,Interview,2026-11-10,,hiring@globex.example\n",
    )
    ran = followup("import-sheet", path, "--coachee", "C-GB", "--apply", db=db, check=True)
    assert interviews(db) == [
        ("Acme", "2026-11-02", "1", "", ""),
        ("Acme", "2026-11-12", "2", "", "Dana Lee"),
        ("Globex", "2026-11-10", "", "", "hiring@globex.example"),
    ]
    assert "who the client met at 1 interview:" in ran.stdout
    due = followup("due", "--coachee", "C-GB", "--as-of", "2026-11-13", "--format", "json", db=db, check=True)
    import json

    thanks = {(a["company"], a["recipient"]) for a in json.loads(due.stdout) if a["kind"] == "thank_you_note"}
    assert ("Acme", "Dana Lee") in thanks


def test_the_readme_lists_every_status_word():
    section = _readme_section()
    table = section.split("| the sheet says | stored as |")[1]
    for status, words in sheet._STATUS_WORDS:
        row = next(line for line in table.splitlines() if line.startswith(f"| {words[0]},"))
        assert f"`{status.status}`" in row
        for word in words:
            assert word in row, word
    for word in sheet.AMBIGUOUS_STATUSES:
        assert word in table
