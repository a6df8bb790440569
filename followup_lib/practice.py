"""Loading the whole practice for the coach's exploratory notebook."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from .settings import Settings, load_settings
from .store import open_store


def load_practice(db_url: str | None = None, as_of=None) -> tuple[dict[str, pd.DataFrame], pd.Timestamp, Settings]:
    """Every coachee's tables, the day to judge from (text accepted), and the default settings."""
    store = open_store(db_url or None)
    try:
        tables = store.load()
    finally:
        store.engine.dispose()
    day = pd.Timestamp(str(as_of)[:10]) if as_of else pd.Timestamp(dt.date.today())
    return tables, day, load_settings()[0]
