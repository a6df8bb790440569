"""The calendar: one entry per action, parsed back with icalendar; stable UIDs; an
overdue entry on today's date; a completed action cancelled under its UID."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from icalendar import Calendar

from followup_lib.logic.drafts import render_drafts
from followup_lib.logic.ics import build_calendar, completed_actions, write_calendar
from followup_lib.logic.rules import action_uid, due_actions
from followup_lib.logic.wording import long_date

from builders import AS_OF


def events(data: bytes) -> list:
    return Calendar.from_ical(data).walk("VEVENT")


def by_uid(data: bytes) -> dict:
    return {str(ev["UID"]): ev for ev in events(data)}


@pytest.fixture
def demo_calendar(demo_tables, tmp_path):
    actions = due_actions(demo_tables, AS_OF)
    drafts = render_drafts(actions, demo_tables, as_of=AS_OF).by_action()
    path = write_calendar(build_calendar(actions, AS_OF, drafts), tmp_path / "followups.ics")
    return actions, drafts, path.read_bytes()


def test_one_vevent_per_action_overdue_ones_on_the_as_of_day(demo_calendar):
    actions, _, data = demo_calendar
    evs = events(data)
    assert len(evs) == len(actions) > 0
    cal = Calendar.from_ical(data)
    assert str(cal["VERSION"]) == "2.0" and "Follow-up Workbook" in str(cal["PRODID"])
    overdue = 0
    for ev, a in zip(evs, actions.itertuples()):
        start = ev.decoded("DTSTART")
        assert isinstance(start, dt.date) and not isinstance(start, dt.datetime)  # all-day
        # Overdue: today, not lost on a past day; otherwise on the day it is due.
        assert start == max(a.due_on.date(), AS_OF) and ev.decoded("DTEND") == start + dt.timedelta(days=1)
        overdue += a.due_on.date() < AS_OF
        assert str(ev["UID"]) == action_uid(a.action_id)
        assert a.company in str(ev["SUMMARY"])
        assert int(ev["PRIORITY"]) == min(9, a.priority)
        assert str(ev["STATUS"]) == "CONFIRMED"
    assert overdue >= 5


def test_uids_differ_between_actions(demo_calendar):
    actions, _, data = demo_calendar
    uids = [str(ev["UID"]) for ev in events(data)]
    assert len(set(uids)) == len(uids) == len(actions)


def test_descriptions_carry_the_why_and_the_drafts_first_lines(demo_calendar):
    actions, drafts, data = demo_calendar
    texts = {uid: str(ev["DESCRIPTION"]) for uid, ev in by_uid(data).items()}
    for a in actions.itertuples():
        text = texts[action_uid(a.action_id)]
        if a.due_on.date() < AS_OF:
            # The original date is in the text.
            head = f"Overdue: it was due on {long_date(a.due_on, AS_OF)}.\n\n"
            assert text.startswith(head + a.why), text
        else:
            assert text.startswith(a.why)
        if a.kind == "await_approval":
            assert "Draft:" not in text
        else:
            # A bundled action shows the one message that carries it out.
            first = drafts[a.action_id].first_lines()
            assert first and "Draft:\n" + first in text
    # Chloe's inquiry waits for the day after Priya's late summary (one employer, one message a day).
    chloe = texts[action_uid("status_inquiry:A001:I001:2026-11-11:1")]
    assert chloe.startswith("Northwind Analytics moved the date") and "It waits until 23 Nov" in chloe
    assert "Dear Chloe," in chloe
    priya = texts[action_uid("keep_promise:A001:P006")]
    assert priya.startswith("Overdue: it was due on Friday 6 November.\n\nYou promised Priya Natarajan")


def test_the_same_action_keeps_its_uid_on_another_day(demo_tables):
    monday = due_actions(demo_tables, AS_OF)
    tuesday = due_actions(demo_tables, AS_OF + dt.timedelta(days=1))
    uids = lambda actions: {str(ev["UID"]) for ev in events(build_calendar(actions, AS_OF).to_ical())}  # noqa: E731
    shared = set(monday["action_id"]) & set(tuesday["action_id"])
    assert len(shared) >= 10
    assert {action_uid(a) for a in shared} <= uids(monday) & uids(tuesday)


def test_a_completed_action_comes_back_cancelled_under_its_uid(demo_tables):
    """Marked sent since the last export: the next export cancels it (same UID), so a
    subscribed calendar drops it instead of keeping it for ever."""
    actions = due_actions(demo_tables, AS_OF)
    done_id = "status_inquiry:A001:I001:2026-11-11:1"
    m = demo_tables["messages"]
    sent = {c: None for c in m.columns} | dict(
        message_id="M900",
        application_id="A001",
        on=pd.Timestamp(AS_OF),
        direction="sent",
        channel="email",
        kind="status_inquiry",
        action_id=done_id,
        contact_id="K003",
        row_version=1,
    )
    demo_tables["messages"] = pd.concat([m, pd.DataFrame([sent]).astype(m.dtypes.to_dict())], ignore_index=True)
    later = due_actions(demo_tables, AS_OF)
    assert done_id in set(actions["action_id"]) and done_id not in set(later["action_id"])
    done = completed_actions(demo_tables, AS_OF)
    assert list(done["action_id"]) == [done_id]
    data = build_calendar(later, AS_OF, done=done).to_ical()
    ev = by_uid(data)[action_uid(done_id)]
    assert str(ev["STATUS"]) == "CANCELLED"
    assert str(ev["SUMMARY"]) == "Done: Status inquiry — Northwind Analytics"
    assert ev.decoded("DTSTART") == AS_OF
    # Everything still to do stays confirmed; nothing else is cancelled.
    statuses = [str(e["STATUS"]) for e in events(data)]
    assert statuses.count("CANCELLED") == 1 and statuses.count("CONFIRMED") == len(later)
    # The one-pager Jordan sent Sam came back: not done (it is due again).
    assert "keep_promise:A007:P002" not in set(completed_actions(demo_tables, AS_OF)["action_id"])
    # Long ago (beyond the window) it is no longer carried.
    assert completed_actions(demo_tables, AS_OF + dt.timedelta(days=90)).empty


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
    # Jordan: six due or overdue (the one-pager that bounced, to send again, among
    # them; the bounced one is not "done"), two upcoming (Dev Patel's call, Atlas
    # Freight's inquiry).
    assert len(evs) == 8 and f"wrote {len(evs)} entries" in proc.stdout
    assert not any(str(e["STATUS"]) == "CANCELLED" for e in evs)
    assert {str(e["UID"]) for e in evs} == {str(e["UID"]) for e in events(second)}
    summaries = " | ".join(str(e["SUMMARY"]) for e in evs)
    assert "Lumen Software" in summaries and "Quarry Labs" in summaries
    assert "Jordan Okafor" not in summaries  # one coachee's calendar: no name needed


def test_cli_calendar_all_names_the_coachee_and_cancels_what_was_sent(followup, demo_store, tmp_path):
    day = AS_OF.isoformat()
    before = tmp_path / "before.ics"
    followup("calendar", "--all", "--as-of", day, "--out", str(before), db=demo_store.url, check=True)
    names = {"C001": "Maya Lindqvist", "C002": "Jordan Okafor", "C003": "Sofia Marchetti"}
    evs = events(before.read_bytes())
    assert evs and all(str(e["SUMMARY"]).startswith(tuple(f"{n}: " for n in names.values())) for e in evs)
    # Each of Maya's entries names her.
    maya = [str(e["SUMMARY"]) for e in evs if "Harbor Health" in str(e["SUMMARY"])]
    assert maya and all(s.startswith("Maya Lindqvist: ") for s in maya)
    # Priya's late summary is sent from a mail client and marked sent.
    drafts = tmp_path / "drafts"
    followup("drafts", "--coachee", "C001", "--as-of", day, "--out", str(drafts), db=demo_store.url, check=True)
    (eml,) = drafts.glob("*keep_promise-northwind-analytics-priya-natarajan.eml")
    followup("sent", str(eml), "--on", day, db=demo_store.url, check=True)
    after = tmp_path / "after.ics"
    followup("calendar", "--all", "--as-of", day, "--out", str(after), db=demo_store.url, check=True)
    uid = action_uid("keep_promise:A001:P006")
    old, new = by_uid(before.read_bytes())[uid], by_uid(after.read_bytes())[uid]
    assert str(old["STATUS"]) == "CONFIRMED" and str(new["STATUS"]) == "CANCELLED"
    assert str(new["SUMMARY"]) == "Maya Lindqvist: Done: Keep promise — Northwind Analytics"
    # Every entry exported before is in the new export.
    assert set(by_uid(before.read_bytes())) <= set(by_uid(after.read_bytes()))
    # The same inputs, the same bytes.
    again = tmp_path / "again.ics"
    followup("calendar", "--all", "--as-of", day, "--out", str(again), db=demo_store.url, check=True)
    assert again.read_bytes() == after.read_bytes()
