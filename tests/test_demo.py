"""The demo practice: the committed one covers every action, loads once, shifts by whole weeks;
the generated one is valid and deterministic."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from followup_lib.data.demo import DEMO_AS_OF, generate_practice, load_demo, load_generated, week_shift
from followup_lib.data.store import open_store
from followup_lib.data.validation import RawTable, validate_tables
from followup_lib.kinds import ACTION_KINDS
from followup_lib.logic.rules import due_actions
from followup_lib.schema import DATE, TABLE_ORDER, TABLES

from builders import data_contents, store_rows, world_rows


def test_the_committed_demo_shows_every_kind_of_action(demo_tables):
    actions = due_actions(demo_tables, DEMO_AS_OF)
    counts = actions["kind"].value_counts()
    assert set(counts.index) == set(ACTION_KINDS), f"missing: {set(ACTION_KINDS) - set(counts.index)}"
    assert set(actions["status"]) == {"overdue", "due", "upcoming"}
    assert set(actions["coachee_id"]) == {"C001", "C002", "C003"}


def test_the_committed_demo_shows_each_contract_v3_outcome(demo_tables):
    """Issue 19: the demo shows each new fact and outcome, and what the rules make of it
    on its today: a rescinded offer (closed; its reference hears why), a request for
    more time (the deadline reminder waits), a bounce (its action due again), an
    automatic reply (not word from the employer), a rejection and an invitation
    received, a closed_reason, per-person topics and talking points."""
    t = demo_tables
    kinds = set(t["messages"]["kind"])
    assert {"rejection", "offer", "offer_letter", "invitation", "auto_reply", "bounce", "extension_request"} <= kinds
    assert t["offers"]["rescinded_on"].notna().any() and t["applications"]["closed_reason"].notna().any()
    assert t["interview_contacts"]["topics"].notna().sum() >= 2 and t["reference_uses"]["talking_points"].notna().any()
    assert t["promises"]["made_at_interview_id"].notna().any() and t["contacts"]["role"].notna().all()

    actions = due_actions(t, DEMO_AS_OF)
    why = dict(zip(actions["action_id"], actions["why"], strict=True))
    rescinded = t["offers"].loc[t["offers"]["rescinded_on"].notna(), "application_id"].iloc[0]
    mine = actions[actions["application_id"].eq(rescinded)]
    assert set(mine["kind"]) == {"close_the_loop"}, mine[["kind", "why"]]
    assert all("they withdrew their offer" in w for w in mine["why"])
    again = [a for a in why if a.endswith(":again")]
    assert again and all("did not arrive" in why[a] for a in again)
    asked = t["messages"].loc[t["messages"]["kind"].eq("extension_request"), "application_id"].iloc[0]
    letter = actions[actions["application_id"].eq(asked) & actions["kind"].eq("review_offer_letter")]
    assert len(letter) == 1 and "You asked for more time on" in letter["why"].iloc[0]
    assert "passed unanswered" not in letter["why"].iloc[0]


def test_the_demo_store_fixture_is_what_load_demo_writes(demo_store, tmp_path):
    # The fixture replays load_demo's writes rather than running it each time.
    fresh = open_store(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        load_demo(fresh, shift=False)
        assert data_contents(demo_store) == data_contents(fresh)
        assert len(data_contents(fresh)["applications"]) > 10
    finally:
        fresh.engine.dispose()


def test_the_demo_today_is_a_monday():
    assert DEMO_AS_OF.weekday() == 0


# ------------------------------------------------------------------ loading


def test_cli_demo_loads_only_into_an_empty_store(followup, db_url, empty_store):
    first = followup("demo", "--no-shift", db=db_url, check=True)
    assert "loaded the demo practice" in first.stdout and "its today is 2026-11-16" in first.stdout
    before = empty_store.load()
    assert len(before["coachees"]) == 3 and len(before["applications"]) == 14
    second = followup("demo", "--as-of", "2027-03-10", db=db_url, check=True)
    assert "already holds data; the demo was not loaded" in second.stdout
    after = empty_store.load()
    for name in TABLE_ORDER:  # not even shifted copies were added
        pd.testing.assert_frame_equal(before[name], after[name])


def test_cli_demo_leaves_a_coachs_own_data_alone(followup, db_url, empty_store):
    store_rows(empty_store, **world_rows())  # one coachee, one application
    proc = followup("demo", db=db_url, check=True)
    assert "was not loaded" in proc.stdout
    assert empty_store.coachee_ids() == ["C1"]


def test_cli_demo_lands_on_the_monday_on_or_before_the_day(followup, db_url, empty_store):
    proc = followup("demo", "--as-of", "2027-03-10", db=db_url, check=True)  # a Wednesday
    assert "its today is 2027-03-08" in proc.stdout and "moved 112 days" in proc.stdout
    t = empty_store.load()
    assert t["interviews"]["held_on"].max() <= pd.Timestamp("2027-03-08")


@pytest.mark.parametrize(
    "today",
    [
        DEMO_AS_OF,
        DEMO_AS_OF + dt.timedelta(days=1),
        DEMO_AS_OF + dt.timedelta(days=6),
        DEMO_AS_OF + dt.timedelta(days=7),
        DEMO_AS_OF - dt.timedelta(days=1),
        dt.date(2029, 2, 28),
        dt.date(2025, 1, 4),
    ],
)
def test_week_shift_keeps_weekdays_and_lands_within_the_week(today):
    days = week_shift(today)
    assert days % 7 == 0
    demo_today = DEMO_AS_OF + dt.timedelta(days=days)
    assert demo_today.weekday() == DEMO_AS_OF.weekday()
    assert 0 <= (today - demo_today).days < 7


def _weekends_only(t: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The same tables with no coachee's country: business days skip weekends only."""
    coachees = t["coachees"].assign(country=None, subdivision=None)
    return {**t, "coachees": coachees}


def _undated(ids: pd.Series) -> list[str]:
    return ids.str.replace(r"\d{4}-\d{2}-\d{2}", "DATE", regex=True).tolist()


def test_a_shifted_demo_says_the_same_things_on_its_own_today(empty_store, demo_tables):
    days, today = load_demo(empty_store, today=dt.date(2027, 6, 3))
    assert days == week_shift(dt.date(2027, 6, 3)) and days > 0 and today.weekday() == 0
    shifted = empty_store.load()
    for name in TABLE_ORDER:
        for col in TABLES[name].columns_of(DATE):
            before, after = demo_tables[name][col], shifted[name][col]
            assert (before.isna() == after.isna()).all()
            assert ((after - before).dropna() == pd.Timedelta(days=days)).all(), (name, col)
            assert (after.dt.day_of_week.dropna() == before.dt.day_of_week.dropna()).all()
    cols = ["kind", "status", "priority", "recipient", "channel"]
    # Whole weeks keep every weekend where it was: on weekends alone, the rules say
    # exactly the same things, every date moved by the shift.
    original = due_actions(_weekends_only(demo_tables), DEMO_AS_OF)
    moved = due_actions(_weekends_only(shifted), today)
    assert _undated(moved["action_id"]) == _undated(original["action_id"])
    assert moved[cols].equals(original[cols])
    assert ((moved["due_on"] - original["due_on"]) == pd.Timedelta(days=days)).all()
    # Public holidays do not move with the weeks (contract v2): the same actions, but
    # the shifted today is Memorial Day (Mon 31 May 2027) in New York, no business
    # day: Friday's interview's thank-yous (and the briefings that follow them) are
    # due on Tuesday, and the Bluefin check-in is held back a day by the pester gap.
    original = due_actions(demo_tables, DEMO_AS_OF)
    moved = due_actions(shifted, today)
    assert sorted(_undated(moved["action_id"])) == sorted(_undated(original["action_id"]))
    by_id = lambda df: df.assign(_id=_undated(df["action_id"])).set_index("_id").sort_index()  # noqa: E731
    o, m = by_id(original), by_id(moved)
    assert (m["recipient"] == o["recipient"]).all() and (m["kind"] == o["kind"]).all()
    late = m.index[m["due_on"] - o["due_on"] != pd.Timedelta(days=days)]
    assert sorted({i.split(":")[0] for i in late}) == ["brief_references", "offer_checkin", "thank_you_note"]
    assert ((m.loc[late, "due_on"] - o.loc[late, "due_on"]) == pd.Timedelta(days=days + 1)).all()


# ------------------------------------------------------------------ the generated practice


def _validated(text: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return validate_tables({name: RawTable(df, f"generated {name}") for name, df in text.items()})


def test_generated_practice_passes_import_validation():
    typed = _validated(generate_practice(6, seed=3))
    assert len(typed["coachees"]) == 6 and len(typed["applications"]) == 6 * 40
    assert typed["applications"]["coachee_id"].value_counts().eq(40).all()
    assert len(typed["interviews"]) > 100 and len(typed["offers"]) > 0 and len(typed["messages"]) > 0


def test_generated_practice_is_deterministic_for_a_seed():
    a, b, c = generate_practice(4, seed=7), generate_practice(4, seed=7), generate_practice(4, seed=8)
    for name in TABLE_ORDER:
        pd.testing.assert_frame_equal(a[name], b[name])
    assert not all(a[name].equals(c[name]) for name in TABLE_ORDER)


def test_generated_history_never_runs_ahead_of_its_today():
    as_of = pd.Timestamp(DEMO_AS_OF)
    typed = _validated(generate_practice(10, seed=1))
    promised = {("interviews", "next_step_by"), ("offers", "response_deadline")}  # dates said, not events
    for name in TABLE_ORDER:
        for col in TABLES[name].columns_of(DATE):
            if (name, col) not in promised:
                assert (typed[name][col].dropna() <= as_of).all(), f"{name}.{col} has a date after {DEMO_AS_OF}"
    # A status inquiry is only ever sent once a date the employer gave has passed (at
    # an interview, or moved in a message they sent).
    messages = typed["messages"]
    inquiries = messages.loc[messages["kind"] == "status_inquiry", ["message_id", "application_id", "on"]]
    assert len(inquiries) > 0
    given = pd.concat(
        [
            typed["interviews"][["application_id", "next_step_by"]],
            messages.loc[messages["direction"] == "received", ["application_id", "next_step_by"]],
        ]
    ).dropna()
    dates = inquiries.merge(given, on="application_id", how="left")
    asked_after = dates.groupby("message_id").apply(lambda g: (g["on"] > g["next_step_by"]).any(), include_groups=False)
    assert len(asked_after) == len(inquiries) and asked_after.all()


def test_generated_practice_loads_and_yields_actions(empty_store):
    counts = load_generated(empty_store, 5, seed=2)
    assert counts["applications"]["added"] == 200
    actions = due_actions(empty_store.load(), DEMO_AS_OF)
    assert len(actions) > 20 and len(set(actions["kind"])) >= 6


def test_cli_demo_generates_a_practice(followup, db_url, empty_store):
    proc = followup("demo", "--coachees", "2", "--seed", "5", db=db_url, check=True)
    assert "generated 2 coachees" in proc.stdout
    assert len(empty_store.load(["applications"])["applications"]) == 80
