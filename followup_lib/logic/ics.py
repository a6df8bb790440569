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
from ..schema import present
from .drafts import Draft
from .rules import action_uid
from .wording import long_date


def completed_actions(tables: Mapping[str, pd.DataFrame], as_of, days: int = 60) -> pd.DataFrame:
    """Actions marked sent in the ``days`` before ``as_of`` (their messages carry the
    action id): a calendar exported earlier may still hold them."""
    columns = ["action_id", "on", "kind", "application_id", "coachee_id", "company"]
    m = tables["messages"]
    if "action_id" not in m:
        return pd.DataFrame(columns=columns)
    day = pd.Timestamp(as_of).normalize()
    m = m[m["action_id"].notna() & m["on"].notna() & (m["on"] <= day) & (m["on"] > day - pd.Timedelta(days=days))]
    m = m.sort_values("on", kind="stable").drop_duplicates("action_id", keep="last")
    # Whose it was and with which company, to name them as the live entries do.
    apps = tables["applications"][["application_id", "coachee_id", "company"]]
    return m[["action_id", "on", "kind", "application_id"]].merge(apps, on="application_id", how="left")[columns]


def build_calendar(
    actions: pd.DataFrame,
    as_of,
    drafts: Mapping[str, Draft] | None = None,
    name: str = "Follow-ups",
    done: pd.DataFrame | None = None,
    coachee_names: Mapping[str, str] | None = None,
) -> Calendar:
    """A Calendar with one all-day VEVENT per action.

    ``drafts`` maps action_id to its Draft, whose first lines go in the entry. An
    overdue action is dated on the as-of day (with its original date in the text),
    so it is not lost on a past day. ``done`` (``completed_actions``) adds each
    action completed since as CANCELLED under its same UID, so a subscribed
    calendar drops it. ``coachee_names`` (for a practice-wide calendar) names the
    coachee in each entry. DTSTAMP is the as-of day, so the same inputs give the
    same file.
    """
    drafts = drafts or {}
    day0 = pd.Timestamp(as_of).normalize()
    stamp = dt.datetime.combine(day0.date(), dt.time(0, 0), tzinfo=dt.UTC)
    cal = Calendar()
    cal.add("prodid", "-//Follow-up Workbook//followup_lib//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name)
    listed = set()
    for a in actions.to_dict(orient="records"):
        listed.add(a["action_id"])
        due = pd.Timestamp(a["due_on"]).normalize()
        day = max(due, day0).date()
        ev = Event()
        ev.add("uid", action_uid(a["action_id"]))
        ev.add("dtstamp", stamp)
        ev.add("dtstart", day)
        ev.add("dtend", day + dt.timedelta(days=1))
        title = (KINDS[a["kind"]].calendar_title if a["kind"] in KINDS else a["kind"]).format(
            recipient=a.get("recipient") or "", company=a.get("company") or ""
        )
        who = f"{coachee_names.get(a['coachee_id'], a['coachee_id'])}: " if coachee_names else ""
        ev.add("summary", who + f"{title} — {a.get('company') or ''}".strip(" —"))
        description = str(a.get("why") or "")
        if due < day0:
            description = f"Overdue: it was due on {long_date(due, day0)}.\n\n" + description
        draft = drafts.get(a["action_id"])
        if draft is not None:
            description += "\n\nDraft:\n" + draft.first_lines()
        ev.add("description", description)
        ev.add("categories", [a["kind"]])
        ev.add("priority", min(9, int(a["priority"])))
        ev.add("status", "CONFIRMED")
        cal.add_component(ev)
    for d in (done if done is not None else pd.DataFrame()).to_dict(orient="records"):
        if d["action_id"] in listed:
            continue
        day = pd.Timestamp(d["on"]).date()
        ev = Event()
        ev.add("uid", action_uid(d["action_id"]))
        ev.add("dtstamp", stamp)
        ev.add("dtstart", day)
        ev.add("dtend", day + dt.timedelta(days=1))
        label = KINDS[d["kind"]].label if d["kind"] in KINDS else str(d["kind"])
        coachee = d.get("coachee_id")
        who = f"{coachee_names.get(coachee, coachee)}: " if coachee_names and present(coachee) else ""
        company = d.get("company") if present(d.get("company")) else ""
        ev.add("summary", who + f"Done: {label} — {company}".strip(" —"))
        ev.add("description", f"Marked sent on {long_date(day, day0)}.")
        ev.add("status", "CANCELLED")
        cal.add_component(ev)
    return cal


def write_calendar(cal: Calendar, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cal.to_ical())
    return path
