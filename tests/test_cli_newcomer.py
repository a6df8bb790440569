"""A newcomer's first steps (issue 24): the version, what an empty store says, the
same exit codes everywhere (2: the input or call was wrong; 1: a failure), restore
asking before it replaces data, and the demo's help saying what it does."""

from __future__ import annotations

import importlib.metadata

import pytest

from builders import write_csvs
from conftest import store_contents


def test_version_is_the_installed_packages(followup):
    ran = followup("--version")
    assert ran.returncode == 0
    assert ran.stdout.strip() == f"followup {importlib.metadata.version('followup-workbook')}"


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["due", "--all"], "Nothing due as of 2026-11-16."),
        (["drafts", "--all", "--out", "{tmp}/drafts"], "No drafts written"),
        (["report", "--all", "--out", "{tmp}/weekly"], ""),
        (["calendar", "--all", "--out", "{tmp}/c.ics"], "wrote 0 entries"),
    ],
)
def test_every_command_says_so_when_the_store_is_empty(followup, empty_store, tmp_path, args, said):
    args = [a.format(tmp=tmp_path) for a in args]
    ran = followup(*args, "--as-of" if args[0] != "report" else "--week-ending", "2026-11-16", db=empty_store.url)
    assert ran.returncode == 0, ran.stderr
    assert "No coachees in the store" in ran.stderr and "followup demo" in ran.stderr
    assert said in ran.stdout
    assert not (tmp_path / "weekly").exists() or not list((tmp_path / "weekly").iterdir())


def test_due_json_on_an_empty_store_is_still_only_an_array(followup, empty_store):
    ran = followup("due", "--all", "--format", "json", db=empty_store.url)
    assert ran.returncode == 0 and ran.stdout.strip() == "[]"


def test_suggest_says_so_when_there_is_nothing_to_count(followup, empty_store, tmp_path):
    ran = followup("settings", "--suggest", db=empty_store.url)
    assert ran.returncode == 0 and "No coachees in the store" in ran.stdout
    one = {"coachees": [dict(coachee_id="N1", name="Noor Haddad", email="noor@example.com")]}
    followup("import", str(write_csvs(tmp_path / "one", one)), db=empty_store.url, check=True)
    ran = followup("settings", "--suggest", db=empty_store.url)
    assert ran.returncode == 0
    assert "Only 0" not in ran.stdout
    assert ran.stdout.startswith("No employer in this practice has answered after the date they gave yet")
    assert "grace_business_days = 2" in ran.stdout


def test_restore_of_a_missing_file_is_an_input_error(followup, demo_store, tmp_path):
    before = store_contents(demo_store)
    ran = followup("restore", str(tmp_path / "missing.db"), "--force", db=demo_store.url)
    assert ran.returncode == 2 and "does not exist" in ran.stderr and "nothing was restored" in ran.stderr
    assert store_contents(demo_store) == before


def _new_store(folder):
    from followup_lib.data.store import open_store

    store = open_store(f"sqlite:///{folder / 'new.db'}")
    store.engine.dispose()
    return store


def test_restore_over_a_store_holding_data_needs_force(followup, demo_store, tmp_path):
    empty_store = _new_store(tmp_path)
    backup = tmp_path / "empty-backup.db"
    followup("backup", str(backup), db=empty_store.url, check=True)
    before = store_contents(demo_store)
    ran = followup("restore", str(backup), db=demo_store.url)
    assert ran.returncode == 2 and "holds data" in ran.stderr and "--force" in ran.stderr
    assert store_contents(demo_store) == before
    ran = followup("restore", str(backup), "--force", db=demo_store.url)
    assert ran.returncode == 0, ran.stderr
    assert store_contents(demo_store) == store_contents(empty_store)


def test_restore_into_an_empty_store_needs_no_force(followup, demo_store, tmp_path):
    empty_store = _new_store(tmp_path)
    backup = tmp_path / "demo-backup.db"
    followup("backup", str(backup), db=demo_store.url, check=True)
    ran = followup("restore", str(backup), db=empty_store.url)
    assert ran.returncode == 0, ran.stderr
    assert store_contents(empty_store) == store_contents(demo_store)


def test_demo_help_offers_only_what_demo_does(followup):
    ran = followup("demo", "--help")
    assert ran.returncode == 0
    options = {word.strip("[],") for word in ran.stdout.split() if word.startswith(("--", "[--"))}
    assert "--coach" not in options, "demo refuses --coach: it must not offer it"
    assert "--no-shift" in options and "--force" in options
    assert "rows with the demo's ids" in " ".join(ran.stdout.split())
    for whole in ("backup", "restore", "copy-store"):
        assert "--coach NAME" not in followup(whole, "--help").stdout


def test_demo_force_says_what_it_does(followup, demo_store):
    ran = followup("demo", db=demo_store.url)
    assert ran.returncode == 0 and "the demo was not loaded" in ran.stdout
    assert "add it anyway" not in ran.stdout and "the others are kept" in ran.stdout
