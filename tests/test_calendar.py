"""The calendar: one entry per action, parsed back with icalendar; stable UIDs."""

from __future__ import annotations

import datetime as dt

import pytest
from icalendar import Calendar

from followup_lib.logic.drafts import render_drafts
from followup_lib.logic.ics import build_calendar, write_calendar
from followup_lib.logic.rules import action_uid, due_actions

from builders import AS_OF


def events(data: bytes) -> list:
    return Calendar.from_ical(data).walk("VEVENT")


@pytest.fixture
def demo_calendar(demo_tables, tmp_path):
    actions = due_actions(demo_tables, AS_OF)
    drafts = {d.action_id: d for d in render_drafts(actions, demo_tables).drafts}
    path = write_calendar(build_calendar(actions, AS_OF, drafts), tmp_path / "followups.ics")
    return actions, drafts, path.read_bytes()


def test_one_vevent_per_action_on_its_day(demo_calendar):
    actions, _, data = demo_calendar
    evs = events(data)
    assert len(evs) == len(actions) > 0
    cal = Calendar.from_ical(data)
    assert str(cal["VERSION"]) == "2.0" and "Follow-up Workbook" in str(cal["PRODID"])
    for ev, a in zip(evs, actions.itertuples()):
        start = ev.decoded("DTSTART")
        assert isinstance(start, dt.date) and not isinstance(start, dt.datetime)  # all-day
        assert start == a.due_on.date() and ev.decoded("DTEND") == start + dt.timedelta(days=1)
        assert str(ev["UID"]) == action_uid(a.action_id)
        assert a.company in str(ev["SUMMARY"])
        assert int(ev["PRIORITY"]) == min(9, a.priority)


def test_uids_differ_between_actions(demo_calendar):
    actions, _, data = demo_calendar
    uids = [str(ev["UID"]) for ev in events(data)]
    assert len(set(uids)) == len(uids) == len(actions)


def test_descriptions_carry_the_why_and_the_drafts_first_lines(demo_calendar):
    actions, drafts, data = demo_calendar
    by_uid = {str(ev["UID"]): str(ev["DESCRIPTION"]) for ev in events(data)}
    for a in actions.itertuples():
        text = by_uid[action_uid(a.action_id)]
        assert text.startswith(a.why)
        if a.kind == "await_approval":
            assert "Draft:" not in text
        else:
            first = drafts[a.action_id].first_lines()
            assert first and "Draft:\n" + first in text
    northwind = by_uid[action_uid("status_inquiry:A001:I001:1")]
    assert "Northwind Analytics said you would hear by 6 Nov" in northwind
    assert "Dear Priya," in northwind


def test_the_same_action_keeps_its_uid_on_another_day(demo_tables):
    monday = due_actions(demo_tables, AS_OF)
    tuesday = due_actions(demo_tables, AS_OF + dt.timedelta(days=1))
    uids = lambda actions: {str(ev["UID"]) for ev in events(build_calendar(actions, AS_OF).to_ical())}  # noqa: E731
    shared = set(monday["action_id"]) & set(tuesday["action_id"])
    assert len(shared) >= 10
    assert {action_uid(a) for a in shared} <= uids(monday) & uids(tuesday)


def test_cli_calendar_is_identical_across_two_exports(followup, demo_store, tmp_path):
    paths = [tmp_path / "one.ics", tmp_path / "two.ics"]
    for p in paths:
        proc = followup(
            "calendar",
            "--coachee",
            "C002",
            "--as-of",
            AS_OF.isoformat(),
            "--out",
            str(p),
            db=demo_store.url,
            check=True,
        )
        assert str(p) in proc.stdout
    first, second = (p.read_bytes() for p in paths)
    assert first == second
    evs = events(first)
    assert len(evs) == 5 and f"wrote {len(evs)} entries" in proc.stdout
    assert {str(e["UID"]) for e in evs} == {str(e["UID"]) for e in events(second)}
    summaries = " | ".join(str(e["SUMMARY"]) for e in evs)
    assert "Lumen Software" in summaries and "Quarry Labs" in summaries
