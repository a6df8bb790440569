"""Bounded memory (issue 12): ``due --all``, ``drafts --all``, ``calendar --all`` and
``export`` work through the practice in chunks (of coachees, or of rows for the
export), and their output is the same bytes whatever the chunk size: one coachee
at a time, seven, or everyone at once.

The order of a practice-wide run is coachee by coachee (in id order), each
coachee's actions most urgent first: exactly each coachee's own ``--coachee``
output, one after the other. Runs on both engines.
"""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest

from followup_lib.data.demo import load_generated
from followup_lib.data.practice import load_for_rules
from followup_lib.data.store import open_store
from followup_lib.data.transfer import export_store, import_path
from followup_lib.faces import cli

from builders import AS_OF, write_csvs
from conftest import ENGINES

DAY = str(AS_OF)
SIZES = [1, 7, 100_000]  # one coachee a chunk, a few, everyone at once


@pytest.fixture(autouse=True)
def no_coach_in_environment(monkeypatch):
    monkeypatch.delenv("FOLLOWUP_COACH", raising=False)


@pytest.fixture(params=ENGINES)
def practice(request, store_copies):
    """A generated practice of 16 coachees, and one more whose ids sort apart from
    their coachee's (its application "A-LAST" is first among applications by id, its
    coachee "Z1" last among coachees): key order is not coachee order. A copy of
    the one made once this run."""
    return store_copies.copy(request, request.param, "chunks-practice", _fill)


def _fill(store, folder) -> None:
    load_generated(store, 16, seed=5, as_of=AS_OF)
    extra = write_csvs(
        folder / "extra",
        {
            "coachees": [dict(coachee_id="Z1", name="Zoe Last", coach="Coach 2")],
            "applications": [
                dict(application_id="A-LAST", coachee_id="Z1", company="Acme", role="Analyst", status="active")
            ],
            "interviews": [
                dict(
                    interview_id="0-IV",
                    application_id="A-LAST",
                    held_on="2026-11-12",
                    interviewer_name="Ada Park",
                    interviewer_email="ada@acme.example",
                )
            ],
        },
    )
    import_path(store, extra)


def files(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_due_is_the_same_whatever_the_chunk_size(practice, followup, monkeypatch):
    outputs = []
    for size in SIZES:
        monkeypatch.setattr(cli, "CHUNK_COACHEES", size)
        as_json = followup("due", "--all", "--as-of", DAY, "--format", "json", db=practice, check=True).stdout
        as_table = followup("due", "--all", "--as-of", DAY, db=practice, check=True).stdout
        outputs.append((as_json, as_table))
    assert outputs[0] == outputs[1] == outputs[2]
    actions = json.loads(outputs[0][0])
    assert len({a["coachee_id"] for a in actions}) > 7  # several chunks held actions


def test_a_practice_wide_run_is_each_coachees_own_actions_in_id_order(practice, followup):
    everyone = json.loads(followup("due", "--all", "--as-of", DAY, "--format", "json", db=practice, check=True).stdout)
    ids = sorted({a["coachee_id"] for a in everyone})
    one_by_one = []
    for cid in ids:
        ran = followup("due", "--coachee", cid, "--as-of", DAY, "--format", "json", db=practice, check=True)
        one_by_one += json.loads(ran.stdout)
    assert everyone == one_by_one
    assert "Z1" in ids


def test_drafts_are_the_same_whatever_the_chunk_size(practice, followup, monkeypatch, tmp_path):
    written = []
    for size in SIZES:
        monkeypatch.setattr(cli, "CHUNK_COACHEES", size)
        out = tmp_path / f"drafts-{size}"
        ran = followup("drafts", "--all", "--as-of", DAY, "--upcoming", "--out", str(out), db=practice, check=True)
        written.append((files(out), ran.stdout.replace(str(out), "OUT"), ran.stderr))
    assert written[0][0] and len(written[0][0]) > 10
    assert written[0] == written[1] == written[2]


def test_the_calendar_is_the_same_whatever_the_chunk_size(practice, followup, monkeypatch, tmp_path):
    calendars = []
    for size in SIZES:
        monkeypatch.setattr(cli, "CHUNK_COACHEES", size)
        path = tmp_path / f"practice-{size}.ics"
        followup("calendar", "--all", "--as-of", DAY, "--out", str(path), db=practice, check=True)
        calendars.append(path.read_bytes())
    assert calendars[0].count(b"BEGIN:VEVENT") > 20
    assert calendars[0] == calendars[1] == calendars[2]


def test_one_coachees_calendar_is_what_build_calendar_makes_at_once(practice, followup, tmp_path):
    # The streamed file (frame, live entries, completed entries) is byte for byte
    # the calendar built whole.
    from followup_lib.logic.drafts import render_drafts
    from followup_lib.logic.ics import build_calendar, completed_actions
    from followup_lib.logic.rules import due_actions

    path = tmp_path / "one.ics"
    followup("calendar", "--coachee", "G00003", "--as-of", DAY, "--out", str(path), db=practice, check=True)
    store = open_store(practice)
    try:
        tables = store.load(coachee_id="G00003")
    finally:
        store.engine.dispose()
    actions = due_actions(tables, DAY)
    whole = build_calendar(
        actions, DAY, render_drafts(actions, tables, as_of=DAY).by_action(), done=completed_actions(tables, DAY)
    )
    assert path.read_bytes() == whole.to_ical()


@pytest.mark.parametrize("suffix", ["", ".xlsx"])
def test_an_export_is_the_same_whatever_the_chunk_size(practice, tmp_path, suffix):
    store = open_store(practice)
    try:
        exports = []
        for rows in (13, 97, 1_000_000):  # runs of rows that split tables at odd places; everything
            dest = tmp_path / f"export-{rows}{suffix}"
            export_store(store, dest, chunk_rows=rows)
            exports.append(files(dest) if not suffix else dest.read_bytes())
        # And the same as the whole store read at once (the export format of Store.load).
        from followup_lib.data.transfer import export_frames

        whole = export_frames(store.load())
    finally:
        store.engine.dispose()
    assert exports[0] == exports[1] == exports[2]
    if not suffix:
        for name, df in whole.items():
            assert exports[0][f"{name}.csv"] == df.to_csv(index=False, lineterminator="\n").encode("utf-8"), name
        assert exports[0]["applications.csv"].split(b"\n")[1].startswith(b"A-LAST,Z1,")


# ------------------------------------------------------------------ what the rules read


def _judged(tables, day) -> tuple:
    """Everything a day's run makes of ``tables``: the actions, every draft (with
    --upcoming) and the calendar (with the entries completed since)."""
    from followup_lib.logic.drafts import render_drafts
    from followup_lib.logic.ics import build_calendar, completed_actions
    from followup_lib.logic.rules import due_actions

    actions = due_actions(tables, day)
    drafts = render_drafts(actions, tables, as_of=day, upcoming=True)
    calendar = build_calendar(
        actions, day, render_drafts(actions, tables, as_of=day).by_action(), done=completed_actions(tables, day)
    )
    return actions, [dataclasses.asdict(d) for d in drafts.drafts], drafts.problems, calendar.to_ical()


def _same_judgement(store, ids: list[str], day) -> int:
    whole = _judged(store.load(coachee_id=ids), day)
    trimmed_tables = load_for_rules(store, ids, day)
    trimmed = _judged(trimmed_tables, day)
    pd.testing.assert_frame_equal(trimmed[0], whole[0])
    assert trimmed[1:] == whole[1:]
    return sum(len(df) for df in trimmed_tables.values())


@pytest.mark.parametrize("shift_days", [-120, 0, 45])
def test_the_rules_read_less_and_judge_the_same(practice, shift_days):
    # Of an application ended by the day judged from, only what closing it needs
    # is read: the actions, drafts and calendar are those of the whole store.
    day = pd.Timestamp(DAY) + pd.Timedelta(days=shift_days)
    store = open_store(practice)
    try:
        ids = store.coachee_ids()
        read = _same_judgement(store, ids, day)
        everything = sum(len(df) for df in store.load().values())
    finally:
        store.engine.dispose()
    if shift_days >= 0:
        assert read < everything * 0.7, (read, everything)  # most past applications' rows stay in the store


@pytest.mark.parametrize("day", ["2026-09-01", DAY, "2026-12-20"])
def test_the_rules_read_less_and_judge_the_same_on_the_demo(demo_store, day):
    # The demo holds what a generated practice may not: applications closed with
    # and without a date, approvals, references thanked and not, actions marked sent.
    _same_judgement(demo_store, demo_store.coachee_ids(), pd.Timestamp(day))


def test_actions_marked_sent_on_ended_applications_are_still_read(demo_store):
    # Marking every action of the day sent (close_the_loop of ended applications
    # among them) logs messages carrying their action ids: days later the calendar
    # lists them as done, from rows of applications that have ended.
    from followup_lib.data.logbook import mark_sent_many
    from followup_lib.logic.ics import completed_actions
    from followup_lib.logic.rules import due_actions

    day = pd.Timestamp(DAY)
    actions = due_actions(demo_store.load(), day)
    due = actions[actions["status"].ne("upcoming") & actions["kind"].ne("await_approval")]
    assert "close_the_loop" in set(due["kind"])
    mark_sent_many(demo_store, due.to_dict(orient="records"), day.date())
    later = day + pd.Timedelta(days=3)
    tables = load_for_rules(demo_store, demo_store.coachee_ids(), later)
    done = completed_actions(tables, later)
    assert set(due["action_id"]) == set(done["action_id"])
    _same_judgement(demo_store, demo_store.coachee_ids(), later)


def test_each_action_of_due_json_is_the_json_modules_own_bytes():
    """``due --format json`` writes each action by json's C string encoder (its
    indenting encoder is pure Python, the slow part at 5,000 coachees): the bytes are
    exactly ``json.dumps`` with the contract's layout, one level in, for any text."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from followup_lib.faces.cli import _ACTION_JSON, _action_object

    flat = st.one_of(st.none(), st.text(), st.integers(), st.booleans(), st.floats(allow_nan=False))

    @settings(max_examples=300, deadline=None)
    @given(st.dictionaries(st.text(), flat))
    def same(record):
        assert _action_object(record) == json.dumps(record, **_ACTION_JSON).replace("\n", "\n  ")

    same()


def test_due_json_made_a_column_at_a_time_is_the_same_bytes(demo_tables):
    """What ``due`` writes (``action_objects``, a column at a time) is, action by
    action, ``_action_object`` of its record, which is json.dumps' own bytes (above)."""
    from followup_lib.faces.cli import _action_object, action_objects, actions_records
    from followup_lib.logic.rules import due_actions

    actions = due_actions(demo_tables, "2026-11-16")
    # Awkward text too: quotes, a line break, a character past Latin-1, a control byte.
    actions.loc[0, "why"] = 'He said "soon"\nthen \u2028 nothing\x01 — é'
    assert action_objects(actions) == [_action_object(r) for r in actions_records(actions)]
