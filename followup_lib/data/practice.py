"""Loading the whole practice for the coach's exploratory notebook."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping

import pandas as pd

from ..settings import Settings, load_settings
from .store import open_store


def load_practice(db_url: str | None = None, as_of=None) -> tuple[dict[str, pd.DataFrame], pd.Timestamp, Settings]:
    """Every coachee's tables, the day to judge from, and the default settings.

    ``as_of`` may be text (papermill passes it so); None means ``FOLLOWUP_AS_OF``
    if set (as ``followup app`` and the tests set it), else today.
    """
    store = open_store(db_url or None)
    try:
        tables = store.load()
    finally:
        store.engine.dispose()
    as_of = as_of or os.environ.get("FOLLOWUP_AS_OF") or dt.date.today()
    day = pd.Timestamp(str(as_of)[:10])
    return tables, day, load_settings()[0]


def load_coachee(db_url: str | None, coachee_id: str) -> tuple[dict[str, pd.DataFrame], Settings, dict[str, Settings]]:
    """One coachee's tables (and no one else's rows), the default settings and the
    per-coach ones: what the weekly report is made from."""
    from ..errors import UserError

    store = open_store(db_url or None)
    try:
        if coachee_id not in store.coachee_ids():
            raise UserError(f"no coachee {coachee_id!r} in the store")
        tables = store.load(coachee_id=coachee_id)
    finally:
        store.engine.dispose()
    base, per_coach = load_settings()
    return tables, base, per_coach


def practice_summary(tables: Mapping[str, pd.DataFrame], as_of) -> str:
    """One sentence: what the analysis is looking at, and from which day."""

    def n(count: int, noun: str) -> str:
        return f"{count} {noun}{'' if count == 1 else 's'}"

    return (
        f"{n(len(tables['coachees']), 'coachee')}, {n(len(tables['applications']), 'application')} and "
        f"{n(len(tables['interviews']), 'interview')}, as of {pd.Timestamp(as_of):%A %d %B %Y}."
    )
