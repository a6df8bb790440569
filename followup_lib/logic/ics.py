"""An RFC 5545 calendar of the actions, one all-day entry each.

Each entry's UID is derived from the action id, so exporting again updates the
same entries in a calendar application instead of adding copies.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from icalendar import Calendar, Event

from ..kinds import KINDS
from .drafts import Draft
from .rules import action_uid


def build_calendar(
    actions: pd.DataFrame, as_of, drafts: Mapping[str, Draft] | None = None, name: str = "Follow-ups"
) -> Calendar:
    """A Calendar with one all-day VEVENT per action.

    ``drafts`` maps action_id to its Draft, whose first lines go in the entry.
    DTSTAMP is the as-of day, so the same inputs give the same file.
    """
    drafts = drafts or {}
    stamp = dt.datetime.combine(pd.Timestamp(as_of).date(), dt.time(0, 0), tzinfo=dt.UTC)
    cal = Calendar()
    cal.add("prodid", "-//Follow-up Workbook//followup_lib//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name)
    for a in actions.to_dict(orient="records"):
        day = pd.Timestamp(a["due_on"]).date()
        ev = Event()
        ev.add("uid", action_uid(a["action_id"]))
        ev.add("dtstamp", stamp)
        ev.add("dtstart", day)
        ev.add("dtend", day + dt.timedelta(days=1))
        title = (KINDS[a["kind"]].calendar_title if a["kind"] in KINDS else a["kind"]).format(
            recipient=a.get("recipient") or "", company=a.get("company") or ""
        )
        ev.add("summary", f"{title} — {a.get('company') or ''}".strip(" —"))
        description = str(a.get("why") or "")
        draft = drafts.get(a["action_id"])
        if draft is not None:
            description += "\n\nDraft:\n" + draft.first_lines()
        ev.add("description", description)
        ev.add("categories", [a["kind"]])
        ev.add("priority", min(9, int(a["priority"])))
        cal.add_component(ev)
    return cal


def write_calendar(cal: Calendar, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cal.to_ical())
    return path
