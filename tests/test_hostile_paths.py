"""Nothing lost, nothing leaked (part 2): hostile ids, crafted files, careless paths.

Each test is one finding of the issue, against real files and the real command
(in-process ``main`` with capsys, as a user would type it): a message and an exit
code, never a traceback, and nothing written where it must not be.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import shutil
import sqlite3
import subprocess
import zipfile
from pathlib import Path

import openpyxl
import pytest

from followup_lib import paths
from followup_lib.data.store import open_store
from followup_lib.errors import StoreError, UserError, ValidationError
from followup_lib.faces.cli import main
from followup_lib.paths import safe_name

from conftest import AS_OF

DAY = AS_OF.isoformat()


def run(capsys, *args: str) -> tuple[int, str, str]:
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse's own refusals
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def dump(db: Path) -> list[str]:
    con = sqlite3.connect(db)
    try:
        return list(con.iterdump())
    finally:
        con.close()


# ------------------------------------------------------------------ ids become names


HOSTILE_IDS = ["../escape", "/tmp/abs-id", "..", ".", "C001/", "a/b", "a\\b", "a_b", "С001", "Ж001", "x" * 300]


def test_safe_name_never_leaves_its_folder_and_never_collides(tmp_path):
    names = [safe_name(i) for i in HOSTILE_IDS + ["C001"]]
    assert len(set(names)) == len(names), names  # no two ids share a name
    for n in names:
        assert "/" not in n and "\\" not in n and n not in (".", "..") and len(n) <= 60
        assert paths.inside(tmp_path, n).parent == tmp_path.resolve()
    with pytest.raises(ValueError, match="outside"):
        paths.inside(tmp_path, "../x")


def write_practice(folder: Path, ids: list[str]) -> Path:
    """A practice where each hostile id is a coachee with a thank-you due on DAY."""
    folder.mkdir(parents=True, exist_ok=True)
    tables = {
        "coachees": [["coachee_id", "name", "email"]]
        + [[i, f"Person {n}", f"p{n}@example.com"] for n, i in enumerate(ids)],
        "applications": [["application_id", "coachee_id", "company", "role"]]
        + [[f"A{n}", i, f"Co {n}", "Analyst"] for n, i in enumerate(ids)],
        "interviews": [["interview_id", "application_id", "held_on", "interviewer_name", "interviewer_email"]]
        + [[f"I{n}", f"A{n}", "2026-11-13", f"Iv {n}", f"iv{n}@employer.example"] for n in range(len(ids))],
    }
    for name, rows in tables.items():
        with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(rows)
    return folder


def test_drafts_all_with_hostile_ids_stay_inside_out_and_never_overwrite_each_other(tmp_path, capsys):
    db = tmp_path / "s.db"
    ids = HOSTILE_IDS + ["C001"]
    assert run(capsys, "--db", str(db), "import", str(write_practice(tmp_path / "csv", ids)))[0] == 0
    out = tmp_path / "work" / "out"
    out.mkdir(parents=True)
    code, stdout, err = run(capsys, "--db", str(db), "drafts", "--all", "--as-of", DAY, "--out", str(out))
    assert code == 0, err
    assert "Traceback" not in err
    # Every coachee's draft is inside --out, in a folder of its own: one each.
    folders = [p for p in out.iterdir()]
    assert len(folders) == len(ids) and all(p.is_dir() for p in folders)
    assert sorted(p.name for p in folders) == sorted(safe_name(i) for i in ids)
    assert all(len(list(p.iterdir())) == 1 for p in folders)
    # Nothing was written beside or above --out.
    assert tree(tmp_path / "work") == {"out"} | {f"out/{p.name}" for p in folders} | {
        f"out/{p.name}/{f.name}" for p in folders for f in p.iterdir()
    }
    assert not Path("/tmp/abs-id").exists()


def test_report_names_cannot_collide():
    ids = ["a/b", "a\\b", "x/y", "x_y", "С001", "Ж001"]
    names = {safe_name(i, "-weekly-2026-11-16.html") for i in ids}
    assert len(names) == len(ids)


# ------------------------------------------------------------------ careless paths


def test_calendar_onto_the_store_is_refused_and_the_store_is_intact(demo_store, capsys):
    db = Path(demo_store.url.removeprefix("sqlite:///"))
    before = dump(db)
    code, _, err = run(capsys, "--db", str(db), "calendar", "--all", "--as-of", DAY, "--out", str(db))
    assert code == 2 and "is the store itself" in err
    assert dump(db) == before


def test_outputs_never_replace_an_existing_file_without_force(demo_store, tmp_path, capsys):
    db = demo_store.url
    precious = tmp_path / "precious.ics"
    precious.write_text("mine")
    code, _, err = run(capsys, "--db", db, "calendar", "--all", "--as-of", DAY, "--out", str(precious))
    assert code == 2 and "already exists" in err and precious.read_text() == "mine"
    code, _, _ = run(capsys, "--db", db, "calendar", "--all", "--as-of", DAY, "--out", str(precious), "--force")
    assert code == 0 and precious.read_text().startswith("BEGIN:VCALENDAR")
    backup = tmp_path / "backup.db"
    backup.write_text("not to be lost")
    code, _, err = run(capsys, "--db", db, "backup", str(backup))
    assert code == 2 and backup.read_text() == "not to be lost"
    book = tmp_path / "book.xlsx"
    book.write_text("mine")
    code, _, err = run(capsys, "--db", db, "export", str(book))
    assert code == 2 and book.read_text() == "mine"
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]


def test_export_to_a_folder_named_xlsx_or_onto_a_file_says_so(demo_store, tmp_path, capsys):
    (tmp_path / "x.xlsx").mkdir()
    code, _, err = run(capsys, "--db", demo_store.url, "export", str(tmp_path / "x.xlsx"))
    assert code == 2 and "is a folder" in err and "Traceback" not in err
    (tmp_path / "a-file").write_text("x")
    code, _, err = run(capsys, "--db", demo_store.url, "export", str(tmp_path / "a-file"))
    assert code == 2 and "not a folder" in err
    assert not [p for p in tmp_path.rglob("*partial*")]


def test_a_mistyped_db_is_refused_and_creates_nothing(tmp_path, capsys):
    missing = tmp_path / "typo" / "folowup.db"
    for args in (["due", "--all"], ["drafts", "--all", "--out", str(tmp_path / "d")], ["export", str(tmp_path / "e")]):
        code, out, err = run(capsys, "--db", str(missing), *args)
        assert code == 2 and "no store at" in err and str(missing) in err, args
        assert "Nothing due" not in out
    assert not missing.exists() and not missing.parent.exists()
    # import and demo do create one.
    assert run(capsys, "--db", str(missing), "demo", "--no-shift")[0] == 0 and missing.exists()


def test_another_applications_sqlite_file_is_refused_and_never_altered(tmp_path, capsys):
    other = tmp_path / "crm.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE coachees (id INTEGER PRIMARY KEY, label TEXT)")
    con.execute("INSERT INTO coachees VALUES (1, 'theirs')")
    con.commit()
    con.close()
    before = other.read_bytes()
    for args in (["import", str(paths.demo_dir())], ["demo"], ["due", "--all"]):
        code, _, err = run(capsys, "--db", str(other), *args)
        assert code == 1 and "not a Follow-up Workbook store" in err, args
    assert other.read_bytes() == before


# ------------------------------------------------------------------ crafted backups


def crafted_backup(tmp_path: Path, demo_store, how: str) -> Path:
    src = Path(demo_store.url.removeprefix("sqlite:///"))
    demo_store.engine.dispose()
    dest = tmp_path / f"{how}.db"
    con = sqlite3.connect(src)
    out = sqlite3.connect(dest)
    con.backup(out)
    con.close()
    if how == "trigger":
        out.execute("CREATE TRIGGER wipe AFTER INSERT ON coachees BEGIN DELETE FROM applications; END")
    elif how == "schema-only":
        out.close()
        dest.unlink()
        out = sqlite3.connect(dest)
        out.execute("CREATE TABLE followup_schema (version INTEGER PRIMARY KEY, name TEXT, applied_at TEXT)")
        out.execute("INSERT INTO followup_schema VALUES (4, 'x', 'y')")
    elif how == "version-minus-5":
        out.execute("DELETE FROM followup_schema")
        out.execute("INSERT INTO followup_schema VALUES (-5, 'x', 'y')")
    elif how == "view":
        out.execute("CREATE VIEW everyone AS SELECT * FROM coachees")
    out.commit()
    out.close()
    return dest


@pytest.mark.parametrize("how", ["trigger", "schema-only", "version-minus-5", "view"])
def test_restore_refuses_a_crafted_backup_and_keeps_the_store(demo_store, tmp_path, capsys, how):
    backup = crafted_backup(tmp_path, demo_store, how)
    db = Path(demo_store.url.removeprefix("sqlite:///"))
    before = dump(db)
    code, _, err = run(capsys, "--db", str(db), "restore", str(backup), "--force")
    assert code == 1 and "nothing was restored" in err and "Traceback" not in err
    assert dump(db) == before
    # The store still opens, and an ordinary import deletes nothing.
    code, _, _ = run(capsys, "--db", str(db), "import", str(paths.demo_dir()))
    assert code == 0 and dump(db) == before


def test_a_store_with_a_trigger_added_is_refused_when_opened(demo_store):
    db = Path(demo_store.url.removeprefix("sqlite:///"))
    demo_store.engine.dispose()
    con = sqlite3.connect(db)
    con.execute("CREATE TRIGGER wipe AFTER INSERT ON coachees BEGIN DELETE FROM applications; END")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="trigger"):
        open_store(f"sqlite:///{db}")


# ------------------------------------------------------------------ crafted input files


def workbook_claiming(tmp_path: Path, claim: str) -> Path:
    path = tmp_path / "claim.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "coachees"
    ws.append(["coachee_id", "name"])
    ws.append(["C1", "Ana"])
    wb.save(path)
    # Rewrite the sheet's dimension to claim the whole grid (as a crafted 2 KB file does).
    buf = io.BytesIO()
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b'<dimension ref="A1:B2"/>', f'<dimension ref="{claim}"/>'.encode())
            zout.writestr(info, data)
    path.write_bytes(buf.getvalue())
    return path


def test_an_xlsx_claiming_the_whole_grid_is_read_for_what_it_holds(tmp_path, empty_store):
    from followup_lib.data.transfer import import_path

    path = workbook_claiming(tmp_path, "A1:XFD1048576")
    result = import_path(empty_store, path)
    assert result.counts["coachees"]["added"] == 1


def test_an_xlsx_that_unpacks_too_far_is_refused_before_reading(tmp_path, empty_store, monkeypatch):
    from followup_lib.data import transfer

    monkeypatch.setattr(transfer, "MAX_FILE_BYTES", 20_000)  # the real limit, scaled down for a small test
    path = tmp_path / "big.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "coachees"
    ws.append(["coachee_id", "name"])
    ws.append(["C1", "x" * 30_000])  # compresses to almost nothing
    wb.save(path)
    assert path.stat().st_size < 20_000
    with pytest.raises(ValidationError, match="unpacks to"):
        transfer.import_path(empty_store, path)
    assert empty_store.is_empty()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_or_a_device_is_refused_not_read(tmp_path, empty_store):
    from followup_lib.data.transfer import import_path

    folder = tmp_path / "in"
    folder.mkdir()
    os.mkfifo(folder / "coachees.csv")
    with pytest.raises(ValidationError, match="not a regular file"):
        import_path(empty_store, folder)
    (folder / "coachees.csv").unlink()
    os.symlink("/dev/zero", folder / "coachees.csv")
    with pytest.raises(ValidationError, match="not a regular file"):
        import_path(empty_store, folder)
    assert empty_store.is_empty()


def test_a_file_mixing_utf8_and_windows_1252_is_refused_naming_the_row(tmp_path, empty_store):
    from followup_lib.data.transfer import import_path

    folder = tmp_path / "in"
    folder.mkdir()
    data = "coachee_id,name\nC1,José\n".encode() + "C2,Renée\n".encode("cp1252")
    (folder / "coachees.csv").write_bytes(data)
    with pytest.raises(ValidationError) as err:
        import_path(empty_store, folder)
    (p,) = err.value.problems
    assert p.table == "coachees" and p.row == 3 and "mixes encodings" in p.message
    assert empty_store.is_empty()
    # A file all in Windows-1252 is still read as such.
    (folder / "coachees.csv").write_bytes("coachee_id,name\nC2,Renée\n".encode("cp1252"))
    import_path(empty_store, folder)
    assert empty_store.load()["coachees"]["name"].tolist() == ["Renée"]


def test_two_files_for_one_table_in_different_case_are_refused(tmp_path, empty_store):
    from followup_lib.data.transfer import import_path

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "coachees.csv").write_text("coachee_id,name\nC1,Ana\n")
    (folder / "COACHEES.csv").write_text("coachee_id,name\nC2,Bo\n")
    if len(list(folder.iterdir())) < 2:
        pytest.skip("this file system does not tell the two names apart")
    with pytest.raises(ValidationError, match="same table"):
        import_path(empty_store, folder)
    assert empty_store.is_empty()


def test_invisible_characters_are_stripped_from_ids(tmp_path, empty_store):
    from followup_lib.data.transfer import import_path

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "coachees.csv").write_text("coachee_id,name\nC001,Ana\n\ufeffC001\u200b,Ana again\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="more than once"):
        import_path(empty_store, folder)


def test_a_long_numeric_id_from_a_spreadsheet_is_refused_not_rounded(tmp_path, empty_store):
    from followup_lib.data.transfer import import_path

    path = tmp_path / "ids.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "coachees"
    ws.append(["coachee_id", "name"])
    ws.append([12345678901234567890, "Ana"])
    wb.save(path)
    with pytest.raises(ValidationError, match="lost digits"):
        import_path(empty_store, path)
    assert empty_store.is_empty()


@pytest.mark.parametrize(
    "address",
    [
        '"spy@evil.example" <trent@corp.example>',
        "trent@corp.example\nBcc: spy@evil.example",
        "two@a.example, b@c.example",
    ],
)
def test_email_columns_take_one_plain_address(tmp_path, empty_store, address):
    from followup_lib.data.transfer import import_path

    folder = tmp_path / "in"
    folder.mkdir()
    with open(folder / "coachees.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["coachee_id", "name", "email"], ["C1", "Ana", address]])
    with pytest.raises(ValidationError) as err:
        import_path(empty_store, folder)
    assert err.value.problems[0].column == "email" and err.value.problems[0].row == 2
    assert empty_store.is_empty()


# ------------------------------------------------------------------ settings and dates


def test_settings_out_of_range_are_refused_by_name(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "settings.toml"
    bad.write_text("[defaults]\nthank_you_within_days = 1000000\n")
    monkeypatch.setenv("FOLLOWUP_SETTINGS", str(bad))
    code, _, err = run(capsys, "settings")
    assert code == 2 and "thank_you_within_days" in err and "from 0 to 30" in err


def test_settings_print_as_valid_toml_whatever_the_coachs_name(tmp_path, monkeypatch, capsys):
    import tomllib

    good = tmp_path / "settings.toml"
    good.write_text('[coach."Dana \\"DJ\\" Reyes"]\ncheckin_every_days = 10\n')
    monkeypatch.setenv("FOLLOWUP_SETTINGS", str(good))
    code, out, _ = run(capsys, "settings")
    assert code == 0
    parsed = tomllib.loads(out)
    assert parsed["coach"]['Dana "DJ" Reyes'] == {"checkin_every_days": 10}


@pytest.mark.parametrize("bad", ["2026-11-16T99:99", "2026-02-30", "16/11/2026", "tomorrow"])
def test_as_of_is_parsed_strictly(demo_store, capsys, bad):
    code, _, err = run(capsys, "--db", demo_store.url, "due", "--all", "--as-of", bad)
    assert code == 2 and "is not a date" in err


@pytest.mark.parametrize("args", [["demo", "--coachees", "-5"], ["report", "--all", "--jobs", "0"]])
def test_numbers_out_of_range_are_refused_by_argparse(tmp_path, capsys, args):
    code, _, err = run(capsys, "--db", str(tmp_path / "s.db"), *args)
    assert code == 2 and "Traceback" not in err


def test_a_postgresql_url_without_its_driver_is_one_line(capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "psycopg", None)  # ``import psycopg`` fails, as where it is not installed
    code, _, err = run(capsys, "--db", "postgresql+psycopg://nobody@127.0.0.1:1/none", "due", "--all")
    assert code == 1 and "pip install" in err and "Traceback" not in err


@contextlib.contextmanager
def read_only(*targets: Path):
    """Make files and folders read-only for whoever runs the tests: permissions
    for a user, the immutable attribute for root (root ignores permissions). The
    test is skipped, saying why, only where neither can be set."""
    if os.geteuid() != 0:
        modes = {t: t.stat().st_mode for t in targets}
        for t in targets:
            t.chmod(0o555 if t.is_dir() else 0o444)
        try:
            yield
        finally:
            for t, mode in modes.items():
                t.chmod(mode)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(targets[0])], capture_output=True).returncode != 0:
        pytest.skip("running as root where chattr +i is not allowed: nothing can be made read-only for root")
    try:
        for t in targets[1:]:
            subprocess.run([chattr, "+i", str(t)], check=True, capture_output=True)
        yield
    finally:
        for t in targets:
            subprocess.run([chattr, "-i", str(t)], capture_output=True)


def test_a_read_only_store_is_a_message_and_stays_as_it_was(demo_store, tmp_path, capsys):
    db = Path(demo_store.url.removeprefix("sqlite:///"))
    demo_store.engine.dispose()
    folder = tmp_path / "ro"
    folder.mkdir()
    # A store at rest (no WAL files beside it), as a backup copy or a shared drive holds it.
    src = sqlite3.connect(db)
    dst = sqlite3.connect(folder / "ro.db")
    src.backup(dst)
    src.close()
    dst.execute("PRAGMA journal_mode=DELETE")
    dst.close()
    before = (folder / "ro.db").read_bytes()
    with read_only(folder / "ro.db", folder):
        code, _, err = run(capsys, "--db", str(folder / "ro.db"), "import", str(paths.demo_dir()))
        assert code in (1, 2), (code, err)
        assert "Traceback" not in err, err
        assert "read-only" in err.lower() or "readonly" in err.lower() or "read only" in err.lower(), err
        assert str(folder / "ro.db") in err or "ro.db" in err, err
    assert (folder / "ro.db").read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["ro.db"]


def test_a_read_only_output_folder_is_a_message(demo_store, tmp_path, capsys):
    out = tmp_path / "locked"
    out.mkdir()
    with read_only(out):
        code, _, err = run(
            capsys,
            "--db",
            demo_store.url,
            "drafts",
            "--coachee",
            "C001",
            "--as-of",
            AS_OF.isoformat(),
            "--out",
            str(out / "c001"),
        )
        assert code in (1, 2) and "Traceback" not in err, (code, err)
        assert "locked" in err, err
    assert list(out.iterdir()) == []


def test_a_user_error_is_exit_2():
    assert UserError("x").exit_code == 2
