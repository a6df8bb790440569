"""Issue 20's weekly-report findings, each a case: the report speaks to the client
and says only what is true. On the committed demo (loaded unmoved, judged on
Mon 16 Nov 2026: Maya C001, Jordan C002, Sofia C003) and on small built cases.

The week is Tue 10 to Mon 16 Nov 2026.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest

from followup_lib.data.demo import load_demo
from followup_lib.data.store import open_store
from followup_lib.logic import analysis, charts, weekly
from followup_lib.logic.offers import MISSING, offers_table

from builders import AS_OF, app, iv, make_tables, msg

WEEK = AS_OF.isoformat()


# ------------------------------------------------------------------ the demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """Each demo coachee's own tables (as the report notebook loads them) and the
    practice's first-word tables, from a real SQLite store."""
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('truth') / 'followup.db'}")
    try:
        load_demo(store, shift=False)
        own = {cid: store.load(coachee_id=cid) for cid in ("C001", "C002", "C003")}
        practice = store.load(analysis.FIRST_WORD_TABLES)
    finally:
        store.engine.dispose()
    reports = {cid: weekly.weekly_report(t, cid, WEEK) for cid, t in own.items()}
    times = analysis.practice_round_times(practice, AS_OF)
    return own, reports, times


def page(r: weekly.WeeklyReport) -> str:
    """Every sentence of the report's page, as the notebook shows them."""
    return "\n".join(
        [
            weekly.headline_html(r),
            weekly.lead_markdown(r),
            *(weekly.actions_markdown(r, w) for w in ("overdue", "today", "next_week")),
            weekly.waiting_on_you_markdown(r),
            weekly.waiting_on_them_markdown(r),
            r.sentences["days_since"],
            weekly.wins_markdown(r),
            weekly.happened_markdown(r),
            weekly.pipeline_markdown(r),
        ]
    )


def test_jordan_a_verbal_offer_said_yes_to_is_not_a_job(demo):
    _, reports, _ = demo
    r = reports["C002"]
    text = page(r)
    # Lumen Software: verbal offer on 13 Nov, Jordan said yes on the phone; nothing in writing.
    assert "Congratulations" not in text
    assert "it is final" not in text
    assert "no new applications are needed" not in text
    assert r.first_thing.startswith("**You said yes to Lumen Software's verbal offer** for Product Manager")
    assert "A verbal offer is not yet a job" in r.first_thing
    you = weekly.waiting_on_you_markdown(r)
    assert "**Lumen Software**: you said yes to their verbal offer on Fri 13 Nov" in you
    assert "you accepted the offer" not in you


def test_sofia_applications_being_left_are_not_waiting(demo):
    own, reports, times = demo
    r = reports["C003"]
    # Pinecrest's offer was approved on 12 Nov: Riverbend and Orchid are being left.
    assert r.silences.empty
    lines = analysis.waiting_sentences(own["C003"], AS_OF, "C003", times)
    assert lines == []
    assert not any("Riverbend" in line or "longer than most" in line for line in lines)
    # The chart says what is true: there are open applications with an interview.
    spec = r.figures["days_since"]
    message = spec["layout"]["annotations"][0]["text"]
    assert message == "No application is waiting on an employer after an interview"
    assert "No open applications with an interview yet" not in page(r)
    assert r.sentences["days_since"] == "No application is waiting on an employer after an interview."


def test_sofia_a_hire_is_not_framed_as_decline_and_her_wins_include_the_approval(demo):
    _, reports, _ = demo
    r = reports["C003"]
    head = weekly.headline_html(r)
    assert "▼" not in head
    assert ": down" not in weekly.wins_markdown(r)
    assert "1 offer approved (Pinecrest Studio)" in r.wins
    assert r.sentences["pipeline"].endswith("With an offer approved, no new applications are needed.")


def test_maya_overdue_thank_yous_are_still_to_send_never_nothing_to_send(demo):
    _, reports, _ = demo
    them = weekly.waiting_on_them_markdown(reports["C001"])
    harbor = next(line for line in them.splitlines() if line.startswith("- **Harbor Health**"))
    assert "nothing to send" not in harbor
    assert harbor.endswith("— still to send: 3 thank-you notes (in the lists above).")
    northwind = next(line for line in them.splitlines() if line.startswith("- **Northwind Analytics**"))
    assert "still to send: what you promised (in the lists above)" in northwind


def test_maya_the_chart_marks_the_latest_date_the_employer_gave(demo):
    _, reports, _ = demo
    spec = reports["C001"].figures["days_since"]
    marks = next(d for d in spec["data"] if d["type"] == "scatter")
    dates = dict(zip((y.split(" · ")[0] for y in marks["y"]), marks["x"]))
    # Northwind: interview Mon 2 Nov, "by 6 Nov" at the interview, moved to 11 Nov by Chloe's message.
    assert dates["Northwind Analytics"] == 9
    assert dates["Harbor Health"] == 11
    assert marks["name"] == "their latest date"


def test_maya_one_follow_up_and_a_rejection_is_not_up(demo):
    _, reports, _ = demo
    r = reports["C001"]
    head = weekly.headline_html(r)
    assert "<b>1</b>follow-up done this week" in head
    assert "1 follow-ups" not in page(r).replace("<b>1</b>", "1 ")
    # The only employer answer this week was Cedar Bank's rejection: not good news, not "up".
    assert r.trend.loc["good news from employers", "this week"] == 0
    assert "good news from employers: **0**" in weekly.wins_markdown(r)
    assert not re.search(r"answers from employers[^\n]*up", page(r))


def test_maya_nothing_on_the_page_is_addressed_to_the_coach(demo):
    _, reports, _ = demo
    for cid, r in reports.items():
        text = page(r)
        assert "with the client" not in text, cid
        assert "the client" not in text, cid
        assert "plan new applications" not in text, cid


def test_the_coachs_note_is_its_own_section(demo):
    own, reports, _ = demo
    note = weekly.coach_note_markdown(reports["C001"])
    assert note == "## A note from your coach\n\nData analyst moving from retail to health tech"
    assert "health tech" not in page(reports["C001"])  # only in its own section
    # No note recorded: no section at all.
    t = {**own["C001"], "coachees": own["C001"]["coachees"].assign(notes=None)}
    assert weekly.coach_note_markdown(weekly.weekly_report(t, "C001", WEEK)) == ""


# ------------------------------------------------------------------ built cases


def applied(aid: str, on: str, company: str = "Northwind Analytics", status: str = "active") -> dict:
    return {**app(aid, company, status=status), "applied_on": on}


def report(**rows) -> weekly.WeeklyReport:
    return weekly.weekly_report(make_tables(**rows), "C1", WEEK)


def test_offers_are_celebrated_only_once_they_are_a_job():
    apps = [applied("A1", "2026-10-01", status="offer"), applied("A2", "2026-10-01", "Bluefin")]
    ivs = [iv("I1", "A1", "2026-10-20"), iv("I2", "A2", "2026-11-09")]
    verbal = dict(application_id="A1", verbal_on="2026-11-12", accepted_on="2026-11-12")
    r = report(applications=apps, interviews=ivs, offers=[verbal])
    assert not r.first_thing.startswith("**Congratulations")
    assert "no new applications are needed" not in r.sentences["pipeline"]
    written = {**verbal, "written_received_on": "2026-11-13", "accepted_on": "2026-11-13"}
    r = report(applications=apps, interviews=ivs, offers=[written])
    assert r.first_thing.startswith("**Congratulations, Maya!** You accepted Northwind Analytics's written offer")
    assert "It is yours once they approve it" in r.first_thing
    assert "no new applications are needed" not in r.sentences["pipeline"]  # accepted is not approved
    approved = {**written, "approved_on": "2026-11-14"}
    r = report(applications=apps, interviews=ivs, offers=[approved])
    assert "approved the offer for Analyst this week: the job is yours" in r.first_thing
    assert r.sentences["pipeline"].endswith("With an offer approved, no new applications are needed.")
    rescinded = {**approved, "rescinded_on": "2026-11-15"}
    r = report(applications=apps, interviews=ivs, offers=[rescinded])
    assert "Congratulations" not in r.first_thing
    # Nothing left to ask of an offer withdrawn: its unstated terms are not "missing: ask".
    row = offers_table(make_tables(applications=apps, interviews=ivs, offers=[rescinded]), "C1").iloc[0]
    assert row["salary"] == "—" and "withdrawn by the employer" in row["status"], row.to_dict()
    row = offers_table(make_tables(applications=apps, interviews=ivs, offers=[approved]), "C1").iloc[0]
    assert row["salary"] == MISSING


@pytest.mark.parametrize(
    "ending",
    [
        msg("R1", "A2", "2026-11-12", "received", "rejection"),
        msg("W1", "A2", "2026-11-12", "sent", "withdrawal"),
    ],
    ids=["rejection received", "withdrawal sent"],
)
def test_an_application_ended_by_a_message_is_not_waiting(ending):
    # Status still "active": the message alone ends the wait (contract v3).
    t = make_tables(
        applications=[applied("A1", "2026-10-01"), applied("A2", "2026-10-01", "Bluefin Logistics")],
        interviews=[iv("I1", "A1", "2026-11-09", "2026-11-20"), iv("I2", "A2", "2026-10-20", "2026-10-27")],
        messages=[ending],
    )
    r = weekly.weekly_report(t, "C1", WEEK)
    assert list(r.silences["company"]) == ["Northwind Analytics"]
    assert all("Bluefin" not in s for s in analysis.waiting_sentences(t, AS_OF, "C1"))
    w = analysis.waiting_on(t, AS_OF).set_index("company")
    # Ended, not "being left": the employer's no (or the client's withdrawal) ended it.
    assert w.loc["Bluefin Logistics", "waiting_on"] == "ended"
    sentence = charts.days_since_sentence(analysis.waiting_on(t, AS_OF))
    assert "Bluefin" not in sentence
    assert sentence.startswith("2 applications with an interview (1 ended)"), sentence


def test_an_approved_offer_elsewhere_ends_the_other_waits():
    t = make_tables(
        applications=[
            applied("A1", "2026-10-01", "Pinecrest Studio", status="accepted"),
            applied("A2", "2026-10-01", "Riverbend Media"),
        ],
        interviews=[
            iv("I1", "A1", "2026-10-14", final="true"),
            iv("I2", "A2", "2026-10-20", "2026-10-30", "3", "true"),
        ],
        offers=[
            dict(
                application_id="A1",
                verbal_on="2026-10-28",
                written_received_on="2026-10-30",
                accepted_on="2026-11-05",
                approved_on="2026-11-12",
            )
        ],
    )
    assert analysis.waiting_sentences(t, AS_OF, "C1") == []
    assert analysis.waiting_on(t, AS_OF).set_index("company").loc["Riverbend Media", "waiting_on"] == "being left"
    r = weekly.weekly_report(t, "C1", WEEK)
    assert r.silences.empty
    assert r.figures["days_since"]["layout"]["annotations"][0]["text"] != charts.NO_INTERVIEW_YET


def test_wins_include_offers_and_approvals():
    r = report(
        applications=[applied("A1", "2026-10-01", status="accepted"), applied("A2", "2026-10-01", "Bluefin")],
        interviews=[iv("I1", "A1", "2026-10-20"), iv("I2", "A2", "2026-10-20")],
        offers=[
            dict(
                application_id="A1", verbal_on="2026-11-10", written_received_on="2026-11-11", approved_on="2026-11-13"
            ),
            dict(application_id="A2", verbal_on="2026-11-12"),
        ],
    )
    assert "2 offers made to you (Bluefin, Northwind Analytics)" in r.wins
    assert "1 offer received in writing (Northwind Analytics)" in r.wins
    assert "1 offer approved (Northwind Analytics)" in r.wins


def test_only_good_news_from_employers_counts_as_up():
    rows = dict(
        applications=[applied("A1", "2026-10-01"), applied("A2", "2026-10-01", "Bluefin")],
        interviews=[iv("I1", "A1", "2026-10-20"), iv("I2", "A2", "2026-10-20")],
    )
    r = report(**rows, messages=[msg("M1", "A1", "2026-11-12", "received", "rejection")])
    assert r.trend.loc["good news from employers", "this week"] == 0
    assert "▲" not in weekly.headline_html(r)
    assert ": up" not in weekly.wins_markdown(r)
    r = report(**rows, messages=[msg("M1", "A2", "2026-11-12", "received", "invitation")])
    assert r.trend.loc["good news from employers", "this week"] == 1
    assert "good news from employers: **1** this week against a weekly average of 0.0 before" in weekly.wins_markdown(r)
    assert "<b>1</b>good news from employers<small>▲" in weekly.headline_html(r)


def test_the_chart_date_is_the_latest_the_employer_gave():
    moved = {**msg("M1", "A1", "2026-11-05"), "next_step_by": "2026-11-19"}
    later = msg("M2", "A1", "2026-11-09")  # a word with no new date does not undo the move
    t = make_tables(
        applications=[applied("A1", "2026-10-01")],
        interviews=[iv("I1", "A1", "2026-11-02", "2026-11-06")],
        messages=[moved, later],
    )
    w = analysis.waiting_on(t, AS_OF).iloc[0]
    assert w["their_date"] == pd.Timestamp("2026-11-19") and w["promised_after_days"] == 17
    assert w["waiting_on"] == "employer's date ahead"
    r = weekly.weekly_report(t, "C1", WEEK)
    assert "they said you would hear by Thu 19 Nov" in weekly.waiting_on_them_markdown(r)
    marks = next(d for d in r.figures["days_since"]["data"] if d["type"] == "scatter")
    assert marks["x"] == [17]


def test_overdue_work_is_still_to_send_and_one_is_singular():
    r = report(
        applications=[applied("A1", "2026-10-01")],
        interviews=[iv("I1", "A1", "2026-11-12", "2026-11-24", thanked=None)],
        messages=[msg("Q1", "A1", "2026-11-13", "sent", "status_inquiry")],
    )
    line = weekly.waiting_on_them_markdown(r).splitlines()[-1]
    assert line.endswith("— still to send: a thank-you note (in the lists above).")
    assert "<b>1</b>follow-up done this week" in weekly.headline_html(r)


def test_a_hire_shows_no_down_arrows():
    r = report(
        applications=[applied("A1", "2026-09-01", status="accepted")],
        interviews=[iv("I1", "A1", "2026-10-20"), iv("I2", "A1", "2026-10-27"), iv("I3", "A1", "2026-11-03")],
        offers=[
            dict(
                application_id="A1", verbal_on="2026-11-04", written_received_on="2026-11-05", approved_on="2026-11-11"
            )
        ],
    )
    assert r.hired
    assert "▼" not in weekly.headline_html(r)
    assert "interviews: **0** this week against a weekly average of 0.8 before (0, 1, 1, 1)\n" in (
        weekly.wins_markdown(r) + "\n"
    )
    not_hired = report(
        applications=[applied("A1", "2026-09-01")],
        interviews=[iv("I1", "A1", "2026-10-20"), iv("I2", "A1", "2026-10-27"), iv("I3", "A1", "2026-11-03")],
    )
    assert "▼" in weekly.headline_html(not_hired)  # the arrow itself is still there for a search going on


def test_the_longest_wait_counts_only_applications_still_waiting():
    # Bluefin answered with a verbal offer today (status not yet changed): not the longest wait.
    t = make_tables(
        applications=[applied("A1", "2026-10-01"), applied("A2", "2026-10-01", "Bluefin Logistics")],
        interviews=[iv("I1", "A1", "2026-11-09"), iv("I2", "A2", "2026-11-05", final="true")],
        offers=[dict(application_id="A2", verbal_on=WEEK)],
    )
    sentence = charts.days_since_sentence(analysis.waiting_on(t, AS_OF))
    assert sentence == (
        "2 open applications with an interview (1 with an offer); "
        "the longest wait for the employer is Northwind Analytics at 7 days."
    )


def test_an_interview_today_draws_a_visible_bar():
    t = make_tables(applications=[applied("A1", "2026-10-01")], interviews=[iv("I1", "A1", WEEK, thanked=None)])
    spec = charts.days_since_interview_spec(analysis.waiting_on(t, AS_OF))
    bar = next(d for d in spec["data"] if d["type"] == "bar")
    assert bar["name"] == "thank-you not sent"
    assert bar["x"][0] >= charts.MIN_BAR_DAYS > 0  # drawn, so the red legend matches a bar
    assert bar["customdata"] == [0]  # the hover still says 0 days


def test_a_hire_is_not_told_to_add_applications():
    r = report(
        applications=[applied("A1", "2026-09-01", status="accepted")],
        interviews=[iv("I1", "A1", "2026-10-20")],
        offers=[
            dict(
                application_id="A1",
                verbal_on="2026-10-21",
                written_received_on="2026-10-22",
                accepted_on="2026-10-23",
                approved_on="2026-10-26",
            )
        ],
        references=[dict(reference_id="R1", coachee_id="C1", name="Tom Becker", email="tom@example.org")],
        reference_uses=[dict(reference_id="R1", application_id="A1", thanked_on="2026-10-27")],
    )
    assert "add new applications" not in r.first_thing


def test_a_yes_to_a_verbal_offer_is_logged_as_such_and_is_no_accepted_offer_win(demo):
    _, reports, _ = demo
    r = reports["C002"]
    assert "Said yes to the verbal offer" in list(r.happened["what"])
    assert "Offer accepted" not in list(r.happened["what"])
    assert not any(w.startswith("1 offer accepted") for w in r.wins)


def test_a_word_from_a_reference_is_not_heard_from_the_employer():
    r = report(
        applications=[applied("A1", "2026-10-01")],
        interviews=[iv("I1", "A1", "2026-11-02")],
        references=[dict(reference_id="R1", coachee_id="C1", name="Tom Becker", email="tom@example.org")],
        reference_uses=[dict(reference_id="R1", application_id="A1", briefed_on="2026-11-03")],
        messages=[{**msg("M1", "A1", "2026-11-12"), "reference_id": "R1", "summary": "Tom: they called me"}],
    )
    assert "Heard from a reference: Tom: they called me" in list(r.happened["what"])
    assert not any(w.startswith("Heard from the employer") for w in r.happened["what"])


def test_an_offer_whose_client_asked_for_more_time_is_not_told_to_ask_again():
    """Seen on the demo (Jordan, Quarry Labs): the overdue list said "You asked for
    more time on 27 Nov; waiting for their answer" while "Waiting on you" said
    "call them today, or ask for more time". Both now say what was done; an answer
    from the employer since ends the wait, and the deadline speaks again."""
    apps = [app("A1", "Quarry Labs", status="offer")]
    offer = dict(
        application_id="A1",
        verbal_on="2026-11-05",
        written_received_on="2026-11-06",
        response_deadline="2026-11-10",
        salary="£98,000",
    )
    asked = msg("E1", "A1", "2026-11-10", "sent", "extension_request")
    t = make_tables(applications=apps, offers=[offer], messages=[asked])
    r = weekly.weekly_report(t, "C1", WEEK)
    (line,) = [weekly.offer_to_decide_sentence(o, r.week_ending) for o in r.open_offers.to_dict("records")]
    assert "you asked for more time on Tue 10 Nov and are waiting for their answer" in line, line
    assert "or ask for more time" not in line and "the answer was due Tue 10 Nov" in line
    answered = msg("E2", "A1", "2026-11-12", "received", "update")
    t = make_tables(applications=apps, offers=[offer], messages=[asked, answered])
    r = weekly.weekly_report(t, "C1", WEEK)
    (line,) = [weekly.offer_to_decide_sentence(o, r.week_ending) for o in r.open_offers.to_dict("records")]
    assert "call them today, or ask for more time" in line and "waiting for their answer" not in line, line
