"""Shared fixtures: a real SQLite file in a temp folder, loaded with the demo practice."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from followup_lib import paths
from followup_lib.data.demo import DEMO_AS_OF, load_demo
from followup_lib.data.store import open_store

ROOT = Path(__file__).resolve().parent.parent

# In CI, Hypothesis explores the same examples every run: a red build can be
# reproduced, never a coin toss. Locally it keeps searching afresh.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI") == "true":
    _hypothesis_settings.load_profile("ci")
AS_OF = DEMO_AS_OF  # the committed demo's today: a Monday


@pytest.fixture(autouse=True)
def no_coach_files(tmp_path, monkeypatch):
    """A coach's own data/settings.toml, data/templates or FOLLOWUP_DB must not change
    what a test sees (in this process or in the ``followup`` commands it runs)."""
    monkeypatch.setenv("FOLLOWUP_SETTINGS", str(tmp_path / "no-settings.toml"))
    monkeypatch.setenv("FOLLOWUP_TEMPLATES", str(tmp_path / "no-templates"))
    monkeypatch.setenv("FOLLOWUP_DB", f"sqlite:///{tmp_path / 'default-store.db'}")


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'followup.db'}"


@pytest.fixture
def empty_store(db_url):
    store = open_store(db_url)
    yield store
    store.engine.dispose()


@pytest.fixture
def demo_store(empty_store):
    load_demo(empty_store, shift=False)
    return empty_store


@pytest.fixture
def demo_tables(demo_store):
    return demo_store.load()


@pytest.fixture
def demo_csv_dir(tmp_path) -> Path:
    """A copy of the committed demo, safe to edit in a test."""
    dest = tmp_path / "demo_csv"
    shutil.copytree(paths.demo_dir(), dest)
    return dest


def write_csvs(folder: Path, rows: dict[str, list[dict]]) -> Path:
    """A folder in the import format: one CSV per table, from lists of row dicts."""
    import csv

    folder.mkdir(parents=True, exist_ok=True)
    for table, records in rows.items():
        with open(folder / f"{table}.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(records[0]))
            writer.writeheader()
            writer.writerows(records)
    return folder


def run_cli(
    *args: str, db: str | None = None, env: dict | None = None, check: bool = False, cwd: str | Path | None = None
) -> subprocess.CompletedProcess:
    """Runs the installed ``followup`` command as a user would."""
    exe = Path(sys.executable).with_name("followup")
    cmd = [str(exe)] + (["--db", db] if db else []) + list(args)
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=full_env, cwd=cwd or ROOT, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def cli():
    return run_cli


def chromium_path() -> str | None:
    """Debian's Chromium, or None (browser tests then skip, except under CI)."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def require_chromium() -> str:
    path = chromium_path()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but no chromium on PATH: .ci/run must install it")
        pytest.skip("Chromium is not installed (apt-get install -y chromium); browser test skipped")
    return path
