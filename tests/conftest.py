"""Shared fixtures: a real SQLite file in a temp folder, loaded with the demo practice,
and the ``followup`` command run in this process or in one of its own.

Helpers (row builders, typed tables, readers of the store's file) are in builders.py.
"""

from __future__ import annotations

import os
import shutil

import pytest
from hypothesis import settings as _hypothesis_settings

from followup_lib import paths
from followup_lib.data.demo import load_demo
from followup_lib.data.store import open_store

from builders import (  # noqa: F401 (the others are still imported from here by some test modules)
    AS_OF,
    ROOT,
    chromium_path,
    require_chromium,
    run_cli,
    run_main,
    write_csvs,
)

# At the end of the run, no process started by a test may still be running.
pytest_plugins = ["process_check"]

# In CI, Hypothesis explores the same examples every run: a red build can be
# reproduced, never a coin toss. Locally it keeps searching afresh.
_hypothesis_settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI") == "true":
    _hypothesis_settings.load_profile("ci")


@pytest.fixture(autouse=True)
def no_coach_files(tmp_path, monkeypatch):
    """A coach's own data/settings.toml, data/templates or FOLLOWUP_DB must not change
    what a test sees (in this process, in ``main`` run here, or in the ``followup``
    commands and report kernels it starts)."""
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


@pytest.fixture(scope="session")
def demo_once(tmp_path_factory):
    """``load_demo(store, shift=False)`` run once into an empty store: what it wrote
    (each ``Store.upsert`` call's frames, in order) and the tables it left."""
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('demo-once') / 'followup.db'}")
    writes = []
    upsert = store.upsert

    def recording(frames, conn=None):
        writes.append({name: df.copy(deep=True) for name, df in frames.items()})
        return upsert(frames, conn)

    store.upsert = recording
    try:
        load_demo(store, shift=False)
        assert writes, "load_demo wrote nothing through Store.upsert"
        return writes, store.load()
    finally:
        store.engine.dispose()


@pytest.fixture
def demo_store(empty_store, demo_once):
    """The demo practice (unshifted) in a store of its own: what ``load_demo`` writes
    into an empty store, written again without reading and validating the CSVs each
    time (test_demo.py checks it is the same store)."""
    writes, _ = demo_once
    for frames in writes:
        empty_store.upsert({name: df.copy(deep=True) for name, df in frames.items()})
    return empty_store


@pytest.fixture
def demo_tables(demo_once):
    """The demo practice (unshifted) as ``Store.load`` returns it: a copy of its one
    load per run, free to change."""
    return {name: df.copy(deep=True) for name, df in demo_once[1].items()}


@pytest.fixture
def demo_csv_dir(tmp_path):
    """A copy of the committed demo, safe to edit in a test."""
    dest = tmp_path / "demo_csv"
    shutil.copytree(paths.demo_dir(), dest)
    return dest


@pytest.fixture
def followup(capsys, monkeypatch):
    """``followup(*args, db=..., env=..., check=...)``: the command run in this
    process (``cli.main``); the result has returncode, stdout and stderr."""

    def run(*args: str, db: str | None = None, env: dict | None = None, check: bool = False):
        return run_main(capsys, monkeypatch, *args, db=db, env=env, check=check)

    return run


@pytest.fixture
def cli():
    """The installed ``followup`` command in a process of its own (``run_cli``)."""
    return run_cli
