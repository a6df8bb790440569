"""The draft linter (a coach's first skim, as code): it passes on every draft of the
demo and of a generated practice at as-of days spanning six weeks, and it fails on
deliberately bad drafts, one for each of its rules."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from followup_lib.data.demo import load_generated
from followup_lib.data.store import open_store
from followup_lib.logic.draft_lint import MAX_EMAIL_WORDS, lint_draft, lint_drafts
from followup_lib.logic.drafts import Draft, render_drafts
from followup_lib.logic.rules import due_actions

from builders import AS_OF

# Six weeks around the demo's today (Monday 16 November 2026), every third day:
# weekdays and weekends, before the interviews' dates and long after.
SIX_WEEKS = [d.date() for d in pd.date_range("2026-11-02", "2026-12-14", freq="3D")]

# 200 coachees, as `followup demo --coachees 200` writes them (8,000 applications):
# loaded once, a few seconds a day to draft and lint; six days over the six weeks.
GENERATED_COACHEES = 200
GENERATED_DAYS = [
    pd.Timestamp(d).date() for d in ("2026-11-02", "2026-11-11", "2026-11-20", "2026-11-27", "2026-12-04", "2026-12-14")
]


def drafts_on(tables, day, upcoming=False):
    """What ``followup drafts --all --as-of DAY`` writes."""
    return render_drafts(due_actions(tables, day), tables, as_of=day, upcoming=upcoming)


# ------------------------------------------------------------------ the demo


def test_the_linter_passes_every_demo_draft_today(demo_tables):
    result = drafts_on(demo_tables, AS_OF)
    assert not result.problems
    assert len(result.drafts) >= 12 and any(len(d.action_ids) > 1 for d in result.drafts)
    assert lint_drafts(result.drafts, AS_OF) == []


def test_the_linter_passes_every_demo_draft_over_six_weeks(demo_tables):
    counts, problems = {}, {}
    for day in SIX_WEEKS:
        # What is due that day, and then with the next days' drafts too (each for its own day).
        actions = due_actions(demo_tables, day)
        due = render_drafts(actions, demo_tables, as_of=day, upcoming=False)
        ahead = render_drafts(actions, demo_tables, as_of=day, upcoming=True)
        assert len(ahead.drafts) >= len(due.drafts)
        counts[day] = len(due.drafts)
        found = lint_drafts(due.drafts, day) + lint_drafts(ahead.drafts, day)
        if found:
            problems[day] = found
    assert problems == {}
    # Most of those days have drafts to judge (early on, the demo's interviews are ahead).
    assert sum(n > 5 for n in counts.values()) >= len(SIX_WEEKS) // 2, counts


# ------------------------------------------------------------------ a generated practice


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """A generated practice in a real SQLite store, as ``followup demo --coachees`` loads it."""
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('generated') / 'followup.db'}")
    try:
        load_generated(store, GENERATED_COACHEES, seed=0, as_of=AS_OF)
        yield store.load()
    finally:
        store.engine.dispose()


@pytest.mark.parametrize("day", GENERATED_DAYS, ids=str)
def test_the_linter_passes_every_draft_of_a_generated_practice(generated, day):
    result = drafts_on(generated, day)
    assert len(result.drafts) > 300, "too few drafts for the practice to test anything"
    assert any(len(d.action_ids) >= 2 for d in result.drafts)  # bundles are exercised
    problems = lint_drafts(result.drafts, day)
    assert problems == [], f"{len(problems)} drafts a coach would not send, e.g.:\n" + "\n".join(problems[:10])


# ------------------------------------------------------------------ deliberately bad drafts

DAY = "2026-11-26"  # a Thursday

GOOD = Draft(
    action_id="thank_you_note:A1:I1",
    kind="thank_you_note",
    channel="email",
    company="Northwind Analytics",
    to_name="Priya Natarajan",
    to_address="priya.natarajan@northwind.example",
    subject="Thank you for our conversation about the Senior Data Analyst role",
    body=(
        "Dear Priya,\n\n"
        "Thank you for taking the time to speak with me on Tuesday 24 November about the Senior Data Analyst "
        "role. I will send the churn model by Monday 30 November.\n\n"
        "I especially enjoyed our conversation about the churn model and SQL performance.\n\n"
        "With thanks,\nMaya Lindqvist\n"
    ),
    from_name="Maya Lindqvist",
    from_address="maya@example.com",
    coachee_id="C1",
    as_of=DAY,
)


def bad(body: str | None = None, **changes) -> Draft:
    """GOOD with one thing wrong."""
    if body is not None:
        changes["body"] = body
    return dataclasses.replace(GOOD, **changes)


def with_middle(sentence: str) -> str:
    return f"Dear Priya,\n\n{sentence}\n\nWith thanks,\nMaya Lindqvist\n"


def test_a_good_draft_passes():
    assert lint_draft(GOOD, DAY) == []
    assert lint_drafts([GOOD], DAY) == []


# One bad draft per rule: (the draft, a word of the one problem it must raise).
BAD = {
    "a placeholder left": (bad(with_middle("I especially enjoyed our talk about {{ topics }}.")), "placeholder"),
    "None for a missing fact": (bad(with_middle("Thank you for the None role.")), "placeholder"),
    "nan for a missing fact": (bad(with_middle("I interviewed on nan for the role.")), "placeholder"),
    "NaT for a missing date": (bad(with_middle("I understood I would hear by NaT.")), "placeholder"),
    "None in the subject": (bad(subject="None, as promised"), "placeholder"),
    "a long email": (bad(with_middle(" ".join(["word"] * MAX_EMAIL_WORDS))), "words long"),
    "a passed date written as ahead": (
        bad(with_middle("I will give you my answer by Wednesday 25 November.")),
        "past date",
    ),
    "a passed date with I'll": (bad(with_middle("I'll send the summary by 16 November.")), "past date"),
    "a raw ';' list": (
        bad(with_middle("I enjoyed our conversation about the patient-wait-times report; data privacy.")),
        "';'",
    ),
    "the recipient in the third person": (
        bad(with_middle("Here are the two extra references Priya asked for.")),
        "third person",
    ),
    "just checking in": (bad(with_middle("I am just checking in about the role.")), "stock phrase"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_each_rule_fails_its_bad_draft(name):
    draft, word = BAD[name]
    problems = lint_draft(draft, DAY)
    assert len(problems) == 1 and word in problems[0], problems
    # And lint_drafts names the file it is in.
    named = dataclasses.replace(draft, filename="2026-11-26-thank_you_note-northwind-priya.eml")
    assert lint_drafts([named], DAY) == [f"{named.filename}: {problems[0]}"]


def test_what_the_rules_let_through():
    """The same words where they are true, or not the recipient's name, are fine."""
    fine = [
        "I interviewed on Monday 2 November.",  # a passed date, not written as ahead
        "I will send it by Friday 27 November.",  # a date still ahead
        "I will call you today.",  # no date at all
        "I interviewed with Priya Natarajan's colleague, Ravi Patel.",  # her full name, e.g. in a panel note
        "The churn model, SQL performance and dbt.",  # an English list
        " ".join(["word"] * (MAX_EMAIL_WORDS - 6)),  # at the limit with greeting and sign-off
    ]
    for sentence in fine:
        assert lint_draft(bad(with_middle(sentence)), DAY) == [], sentence
    # A phone script is not held to the email's length.
    call = bad(with_middle(" ".join(["word"] * 200)), channel="phone", to_address="+1 555 0100")
    assert lint_draft(call, DAY) == []


def test_two_drafts_to_one_person_on_one_day_fail():
    second = dataclasses.replace(GOOD, action_id="keep_promise:A1:P1", kind="keep_promise")
    problems = lint_drafts([GOOD, second], DAY)
    assert problems == [f"2 drafts to {GOOD.to_address} on one day: one message per person per day"]
    # The address is one person whatever its case.
    shouting = dataclasses.replace(second, to_address=GOOD.to_address.upper())
    assert len(lint_drafts([GOOD, shouting], DAY)) == 1
    # Another day, another person, or another coachee writing to her: no problem.
    assert lint_drafts([GOOD, dataclasses.replace(second, as_of="2026-11-27")], DAY) == []
    assert lint_drafts([GOOD, dataclasses.replace(second, to_address="chloe.adams@northwind.example")], DAY) == []
    assert lint_drafts([GOOD, dataclasses.replace(second, coachee_id="C2")], DAY) == []


def test_two_calls_to_one_person_fail_but_a_shared_switchboard_does_not():
    call = dataclasses.replace(GOOD, channel="phone", to_address="+1 555 0100", body=with_middle("Hello."))
    same_person = dataclasses.replace(call, action_id="keep_promise:A1:P1", to_address="+1 (555) 0100")
    assert len(lint_drafts([call, same_person], DAY)) == 1
    colleague = dataclasses.replace(call, action_id="thank_you_note:A1:I1:K1", to_name="Omar Haddad")
    assert lint_drafts([call, colleague], DAY) == []
