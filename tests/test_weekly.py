"""The weekly report's content (issue 13): every misleading reading found on the
demo is a case here, on small constructed tables, as of Mon 16 Nov 2026 (the
week is Tue 10 to Mon 16 Nov)."""

from __future__ import annotations

import pandas as pd
import pytest

from followup_lib.logic import analysis, offers, weekly

from builders import AS_OF, app, iv, make_tables, msg

WEEK = AS_OF.isoformat()


def applied(aid: str, on: str, company: str = "Northwind Analytics", status: str = "active") -> dict:
    return {**app(aid, company, status=status), "applied_on": on}


def report(**rows) -> weekly.WeeklyReport:
    return weekly.weekly_report(make_tables(**rows), "C1", WEEK)


def promise(pid: str, aid: str, due: str, done=None, what: str = "the writing sample") -> dict:
    return dict(promise_id=pid, application_id=aid, what=what, due_on=due, done_on=done)


# ------------------------------------------------------------------ the lists


def test_overdue_today_and_next_week_are_separate_lists_each_by_date():
    # The rules' priorities would put the promises first: the lists go by date.
    r = report(
        applications=[applied("A1", "2026-11-02"), applied("A2", "2026-11-02", "Bluefin Logistics")],
        interviews=[iv("I1", "A1", "2026-11-12", thanked=None), iv("I2", "A2", "2026-10-26", "2026-11-03")],
        promises=[
            promise("P1", "A1", "2026-11-13"),
            promise("P2", "A2", "2026-11-16", what="the roadmap"),
            promise("P3", "A2", "2026-11-20", what="the list"),
            promise("P4", "A1", "2026-11-18", what="the deck"),
        ],
    )
    for rows in (r.overdue, r.today, r.next_week):
        assert list(rows["due"]) == sorted(rows["due"])
    assert set(r.overdue["status"]) == {"overdue"}
    assert list(r.today["why"].str.contains("the roadmap")) == [True]
    assert list(r.next_week["due"].dt.day[:2]) == [18, 20]
    assert r.next_week["due"].max() <= pd.Timestamp(AS_OF) + pd.Timedelta(days=7)
    text = weekly.actions_markdown(r, "overdue")
    # The rules rank the late promise first; the list reads by date: the inquiry due since 5 Nov leads.
    assert text.index("Thu 05 Nov") < text.index("Fri 13 Nov")
    assert r.first_thing.startswith("**Do first: keep promise")


def test_the_one_thing_to_do_first_is_the_most_urgent_action_due_now():
    r = report(
        applications=[applied("A1", "2026-11-02")],
        interviews=[iv("I1", "A1", "2026-11-12", thanked=None)],
        promises=[promise("P1", "A1", "2026-11-13")],
    )
    # A promise outranks a thank-you (guidance 3), whatever their dates.
    assert r.first_thing.startswith("**Do first: keep promise to Priya Natarajan at Northwind Analytics (overdue).**")


def test_the_approval_wait_is_explained_not_listed_as_a_message_to_the_client_herself():
    r = report(
        applications=[applied("A1", "2026-11-02", status="accepted"), applied("A2", "2026-11-09", "Bluefin")],
        interviews=[iv("I1", "A1", "2026-10-26")],
        offers=[
            dict(
                application_id="A1", verbal_on="2026-11-03", written_received_on="2026-11-05", accepted_on="2026-11-10"
            )
        ],
    )
    for rows in (r.overdue, r.today, r.next_week):
        assert "await_approval" not in set(rows["kind"])
    assert list(r.approvals["kind"]) == ["await_approval"]
    text = weekly.waiting_on_you_markdown(r)
    assert "you accepted the offer on Tue 10 Nov" in text
    assert "a wait, not a message to send: keep the 1 other application warm until it is approved." in text
    assert r.first_thing.startswith("**Congratulations, Maya!** You accepted Northwind Analytics's written offer")


def test_an_approved_offer_is_celebrated_and_the_others_are_not_waiting():
    r = report(
        applications=[applied("A1", "2026-11-02", status="accepted"), applied("A2", "2026-11-02", "Bluefin")],
        interviews=[iv("I1", "A1", "2026-10-26"), iv("I2", "A2", "2026-10-20", "2026-10-23")],
        offers=[
            dict(
                application_id="A1",
                verbal_on="2026-11-03",
                written_received_on="2026-11-05",
                accepted_on="2026-11-06",
                approved_on="2026-11-12",
            )
        ],
    )
    assert "approved the offer for Analyst this week: the job is yours" in r.first_thing
    assert r.silences.empty  # Bluefin is being withdrawn from, not waited on
    assert "no new applications are needed" in r.sentences["pipeline"]


# ------------------------------------------------------------------ waiting


def test_an_application_with_an_offer_waits_on_you_not_on_them():
    # Quarry Labs interviewed long ago and made an offer: the client owes the answer.
    r = report(
        applications=[
            applied("A1", "2026-10-01", "Quarry Labs", status="offer"),
            applied("A2", "2026-10-20"),
            applied("A3", "2026-10-01", "Pinecrest Studio", status="accepted"),
        ],
        interviews=[iv("I1", "A1", "2026-10-20"), iv("I2", "A2", "2026-11-09"), iv("I3", "A3", "2026-10-10")],
        offers=[
            dict(
                application_id="A1",
                verbal_on="2026-11-10",
                written_received_on="2026-11-12",
                response_deadline="2026-11-13",
            ),
            dict(application_id="A3", verbal_on="2026-11-01", accepted_on="2026-11-02"),
        ],
    )
    assert list(r.silences["company"]) == ["Northwind Analytics"]
    assert r.sentences["silences"] == (
        "1 application is waiting on the employer after an interview; the longest silence is "
        "Northwind Analytics at 7 days."
    )
    you = weekly.waiting_on_you_markdown(r)
    assert (
        "**Quarry Labs** (Analyst): written offer received on Thu 12 Nov; the answer was due Fri 13 Nov, "
        "3 days ago, and is still open — call them today, or ask for more time."
    ) in you
    assert "Pinecrest" not in weekly.waiting_on_them_markdown(r)


def test_the_silence_runs_from_the_last_word_and_a_check_in_sent_today_is_not_yet_unanswered():
    r = report(
        applications=[applied("A1", "2026-10-01"), applied("A2", "2026-10-01", "Bluefin Logistics")],
        interviews=[iv("I1", "A1", "2026-10-26", "2026-11-02"), iv("I2", "A2", "2026-10-26", "2026-11-02")],
        messages=[
            msg("M1", "A1", "2026-10-30"),  # word from Northwind after the interview
            msg("Q1", "A1", "2026-11-09", "sent", "status_inquiry"),
            msg("Q2", "A2", "2026-11-16", "sent", "status_inquiry"),
        ],
    )
    s = r.silences.set_index("company")
    assert s.loc["Northwind Analytics", "silent_days"] == 17  # since 30 Oct, not since the interview
    assert s.loc["Bluefin Logistics", "silent_days"] == 21
    assert list(r.silences["company"]) == ["Bluefin Logistics", "Northwind Analytics"]  # longest first
    text = weekly.waiting_on_them_markdown(r)
    assert "the follow-up of Mon 09 Nov is unanswered" in text
    bluefin = next(line for line in text.splitlines() if line.startswith("- **Bluefin"))
    assert "unanswered" not in bluefin
    assert bluefin.endswith("— you followed up today: give them time to answer.")


# ------------------------------------------------------------------ what happened, wins, trend


def test_each_event_is_told_once():
    r = report(
        applications=[applied("A1", "2026-10-01", status="offer")],
        interviews=[iv("I1", "A1", "2026-11-02")],
        messages=[
            {**msg("M1", "A1", "2026-11-12"), "summary": "Lina called with a verbal offer"},
            {**msg("M2", "A1", "2026-11-13"), "summary": "Asked about the start date"},
        ],
        offers=[dict(application_id="A1", verbal_on="2026-11-12")],
    )
    whats = list(r.happened["what"])
    assert whats.count("Verbal offer") == 1
    assert not any("verbal offer" in w for w in whats)
    assert "Heard from the employer: Asked about the start date" in whats  # another day: its own event


def test_plurals_are_right_and_wins_give_credit():
    r = report(
        applications=[applied("A1", "2026-10-01"), applied("A2", "2026-10-01", "Bluefin")],
        interviews=[iv("I1", "A1", "2026-11-10"), iv("I2", "A2", "2026-11-11"), iv("I3", "A2", "2026-10-01")],
        promises=[
            promise("P1", "A1", "2026-11-12", done="2026-11-12"),
            promise("P2", "A2", "2026-11-10", "2026-11-13"),
        ],
    )
    wins = r.wins
    assert "2 interviews held (Bluefin, Northwind Analytics)" in wins
    assert "2 thank-you notes sent (Bluefin, Northwind Analytics)" in wins
    assert "1 promise kept on time (Northwind Analytics)" in wins
    assert "1 promise kept, late but kept (Bluefin)" in wins
    one = report(applications=[applied("A1", "2026-10-01")], interviews=[iv("I1", "A1", "2026-11-10")])
    assert "1 interview held (Northwind Analytics)" in one.wins
    assert "1 interviews" not in weekly.wins_markdown(one)


def test_headline_numbers_are_set_against_the_four_weeks_before():
    r = report(
        applications=[applied("A1", "2026-10-20")],
        interviews=[
            iv("I1", "A1", "2026-11-10"),
            iv("I2", "A1", "2026-11-03"),
            iv("I3", "A1", "2026-10-27"),
            iv("I4", "A1", "2026-10-12"),  # five weeks back: not counted
        ],
    )
    row = r.trend.loc["interviews"]
    assert row["this week"] == 1
    assert row["weeks before"] == [1, 1, 0, 0]  # newest first: 3 Nov, 27 Oct, 20 Oct, 13 Oct weeks
    assert row["average before"] == 0.5
    assert r.headline["interviews this week"] == 1
    assert (
        "interviews: **1** this week against a weekly average of 0.5 before (0, 0, 1, 1): up" in weekly.wins_markdown(r)
    )


# ------------------------------------------------------------------ pipeline


def test_no_new_applications_for_weeks_is_a_warning_not_good_news():
    r = report(
        applications=[applied("A1", "2026-10-01"), applied("A2", "2026-10-05", "Bluefin", status="rejected")],
        interviews=[iv("I1", "A1", "2026-11-02"), iv("I2", "A2", "2026-10-20")],
    )
    assert r.sentences["pipeline"] == (
        "1 open application (1 interviewing); 1 application ended without a job, all after an interview. "
        "No new application for 6 weeks (the last on Mon 05 Oct): the pipeline is drying up — a few new "
        "applications keep your options open, whatever the interviews promise."
    )
    fresh = report(applications=[applied("A1", "2026-11-12")])
    assert fresh.sentences["pipeline"].endswith("New applications still come in (the last on Thu 12 Nov).")


def test_where_ended_applications_stopped_is_said_only_as_far_as_it_is_true():
    """'most after X' only when more than half stopped there; otherwise each is said."""
    stages = pd.DataFrame(
        {
            "stage": pd.Categorical(["offer", "final round", "interviewing"], categories=analysis.PIPELINE_STAGES),
            "status": ["offer", "rejected", "rejected"],
            "open": [False, False, True],
        }
    )
    apps = pd.DataFrame({"applied_on": pd.to_datetime(["2026-11-12"])})
    text = weekly.pipeline_reading(stages, apps, pd.Timestamp("2026-11-16"))
    assert "2 applications ended without a job: 1 after an offer and 1 after a final round." in text
    stages.loc[2, ["stage", "open"]] = ["final round", False]
    text = weekly.pipeline_reading(stages, apps, pd.Timestamp("2026-11-16"))
    assert "3 applications ended without a job, most after a final round." in text


# ------------------------------------------------------------------ offers side by side


def test_offers_side_by_side_flag_every_missing_term():
    t = make_tables(
        applications=[app("A1", "Quarry Labs", status="offer"), app("A2", "Lumen Software", status="offer")],
        offers=[
            dict(
                application_id="A1",
                verbal_on="2026-11-10",
                written_received_on="2026-11-12",
                salary="£98,000",
                conditions="Background check",
                response_deadline="2026-11-20",
            ),
            dict(application_id="A2", verbal_on="2026-11-13"),
        ],
    )
    table = offers.offers_table(t, "C1")
    assert list(table.columns) == [
        "company",
        "role",
        "salary",
        "benefits",
        "expense reimbursement",
        "conditions",
        "requirements",
        "response deadline",
        "status",
    ]
    quarry, lumen = (table.set_index("company").loc[c] for c in ("Quarry Labs", "Lumen Software"))
    assert quarry["salary"] == "£98,000"
    assert quarry["benefits"] == quarry["requirements"] == offers.MISSING
    assert quarry["response deadline"] == "Fri 20 Nov 2026"
    assert quarry["status"] == "in writing since Thu 12 Nov 2026: to decide"
    assert (
        lumen[["salary", "benefits", "expense reimbursement", "conditions", "requirements"]] == offers.MISSING
    ).all()
    assert lumen["response deadline"] == offers.NO_DEADLINE
    assert lumen["status"] == "verbal only (Fri 13 Nov 2026): ask for it in writing"
    assert list(table["company"]) == ["Quarry Labs", "Lumen Software"]  # by deadline, none last
    assert offers.offers_table(t, "C2").empty  # only the one coachee's offers


# ------------------------------------------------------------------ store text


@pytest.mark.parametrize("hostile", ["<b>Acme</b>", "*Acme* [x](http://e.com) $5 & #1", "Ac_me `x` | y"])
def test_store_text_in_the_markdown_is_literal(hostile):
    r = report(
        applications=[{**applied("A1", "2026-10-01", hostile), "role": hostile}],
        interviews=[iv("I1", "A1", "2026-11-02", thanked=None)],
    )
    text = "\n".join(
        [weekly.actions_markdown(r, "overdue"), weekly.waiting_on_them_markdown(r), weekly.happened_markdown(r)]
    )
    assert hostile not in text
    assert weekly.md(hostile) in text
    import markdown_it

    rendered = markdown_it.MarkdownIt().render(weekly.md(hostile))
    assert "<b>" not in rendered and "<a " not in rendered and "<em>" not in rendered and "<code>" not in rendered


def test_an_empty_week_reads_as_sentences():
    r = report(applications=[applied("A1", "2026-11-12")])
    assert weekly.actions_markdown(r, "overdue").startswith("Nothing is overdue")
    assert weekly.waiting_on_you_markdown(r) == "No offer is waiting for your answer."
    assert weekly.happened_markdown(r) == "Nothing was logged this week."
    assert r.first_thing.startswith("**Nothing is due")
    assert r.headline["overdue now"] == 0 and r.headline["new applications"] == 1


def test_a_yes_to_a_verbal_offer_is_not_shown_as_accepted_waiting_for_approval():
    """Issue 20: a verbal yes binds no one; the offers table says it is not in writing yet."""
    base = dict(application_id="A1", verbal_on="2026-11-13", accepted_on="2026-11-13")
    status = lambda **o: offers.offer_status({**base, **o})  # noqa: E731
    assert status() == "said yes to the verbal offer on Fri 13 Nov 2026; not in writing yet: ask for it"
    assert status(written_requested_on="2026-11-14").endswith("not in writing yet: asked for it on Sat 14 Nov 2026")
    assert status(written_received_on="2026-11-16") == "accepted on Fri 13 Nov 2026, waiting for their approval"
