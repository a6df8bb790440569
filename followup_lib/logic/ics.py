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
from icalendar.parser import Contentlines

from ..kinds import BOUNCE, KINDS, normal_kinds
from ..schema import present
from .drafts import Draft
from .rules import action_uid
from .wording import long_date


def completed_actions(tables: Mapping[str, pd.DataFrame], as_of, days: int = 60) -> pd.DataFrame:
    """Actions marked sent in the ``days`` before ``as_of`` (their messages carry the
    action id), and not come back as a bounce: a calendar exported earlier may still hold them."""
    columns = ["action_id", "on", "kind", "application_id", "coachee_id", "company"]
    m = tables["messages"]
    if "action_id" not in m:
        return pd.DataFrame(columns=columns)
    day = pd.Timestamp(as_of).normalize()
    m = m[m["action_id"].notna() & m["on"].notna() & (m["on"] <= day) & (m["on"] > day - pd.Timedelta(days=days))]
    # Done is sent and delivered: a bounce naming the action undoes it (it is due again, as ``…:again``).
    bounced = m.loc[m["direction"].eq("received") & normal_kinds(m["kind"]).eq(BOUNCE), "action_id"]
    m = m[m["direction"].eq("sent") & ~m["action_id"].isin(bounced)]
    m = m.sort_values("on", kind="stable").drop_duplicates("action_id", keep="last")
    # Whose it was and with which company, to name them as the live entries do.
    apps = tables["applications"][["application_id", "coachee_id", "company"]]
    done = m[["action_id", "on", "kind", "application_id"]].merge(apps, on="application_id", how="left")[columns]
    # Coachee by coachee (the order the calendar is written in chunks), then by day.
    return done.sort_values(["coachee_id", "on", "action_id"], kind="stable").reset_index(drop=True)


def _calendar(name: str) -> Calendar:
    cal = Calendar()
    cal.add("prodid", "-//Follow-up Workbook//followup_lib//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name)
    return cal


def calendar_envelope(name: str = "Follow-ups") -> tuple[bytes, bytes]:
    """The calendar's opening (BEGIN:VCALENDAR and its properties) and its closing
    line, as bytes: a practice-wide calendar is written as the opening, each
    event's ``to_ical()`` as it comes, then the closing — the bytes
    ``build_calendar`` gives for the same events at once."""
    lines = _calendar(name).content_lines()  # BEGIN, the properties, END, and a final ""
    end = lines.index("END:VCALENDAR")
    return Contentlines(lines[:end] + [""]).to_ical(), Contentlines(lines[end:]).to_ical()


def calendar_events(
    actions: pd.DataFrame,
    as_of,
    drafts: Mapping[str, Draft] | None = None,
    done: pd.DataFrame | None = None,
    coachee_names: Mapping[str, str] | None = None,
) -> tuple[list[Event], list[Event]]:
    """The calendar's entries as data: (one all-day VEVENT per action, one
    CANCELLED VEVENT per action completed since and no longer listed).

    ``drafts`` maps action_id to its Draft, whose first lines go in the entry. An
    overdue action is dated on the as-of day (with its original date in the text),
    so it is not lost on a past day. ``done`` (``completed_actions``) gives each
    action completed since, under its same UID, so a subscribed calendar drops it.
    ``coachee_names`` (for a practice-wide calendar) names the coachee in each
    entry. DTSTAMP is the as-of day, so the same inputs give the same events.
    """
    drafts = drafts or {}
    day0 = pd.Timestamp(as_of).normalize()
    stamp = dt.datetime.combine(day0.date(), dt.time(0, 0), tzinfo=dt.UTC)
    live: list[Event] = []
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
        live.append(ev)
    completed: list[Event] = []
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
        completed.append(ev)
    return live, completed


def build_calendar(
    actions: pd.DataFrame,
    as_of,
    drafts: Mapping[str, Draft] | None = None,
    name: str = "Follow-ups",
    done: pd.DataFrame | None = None,
    coachee_names: Mapping[str, str] | None = None,
) -> Calendar:
    """A Calendar with ``calendar_events``'s entries: every action's, then every
    completed one's (see there)."""
    cal = _calendar(name)
    live, completed = calendar_events(actions, as_of, drafts, done, coachee_names)
    for ev in live + completed:
        cal.add_component(ev)
    return cal


def write_calendar(cal: Calendar, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cal.to_ical())
    return path
