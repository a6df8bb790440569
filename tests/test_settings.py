"""Every setting changes its rule; per-coach overrides; a bad settings file."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest

from followup_lib.settings import Settings, SettingsError, load_settings

from builders import (
    APP,
    AS_OF,
    COACHEE,
    FINAL,
    LETTER,
    OFFER_APP,
    day,
    due,
    interview,
    message,
    of_kind,
    offer,
    one,
    ref_use,
    reference,
    run_cli,
    world,
)

# Each setting below has a test named test_setting_<name>; the last test checks
# that no setting is left without one.


def test_defaults_are_the_coaching_guidance():
    s = Settings()
    assert (
        s.thank_you_within_days,
        s.grace_business_days,
        s.no_date_followup_business_days,
        s.checkin_every_days,
        s.max_checkins,
        s.pester_gap_business_days,
        s.reference_checkin_every_days,
        s.max_reference_checkins,
    ) == (1, 2, 7, 7, 3, 5, 7, 3)
    assert s.country == ""  # no country: weekends only


def test_setting_thank_you_within_days():
    t = world(interviews=[interview(thank_you_sent_on="")])
    assert one(due(t, "2026-11-03"), "thank_you_note")["due_on"] == day("2026-11-03")
    a = one(due(t, "2026-11-03", Settings(thank_you_within_days=3)), "thank_you_note")
    assert a["due_on"] == day("2026-11-05") and a["status"] == "upcoming" and "within 3 business days" in a["why"]


def test_setting_grace_business_days():
    t = world(interviews=[interview(next_step_by="2026-11-06")])  # a Friday
    assert one(due(t, "2026-11-09"), "status_inquiry")["due_on"] == day("2026-11-10")
    assert one(due(t, "2026-11-09", Settings(grace_business_days=0)), "status_inquiry")["due_on"] == day("2026-11-06")
    assert one(due(t, "2026-11-09", Settings(grace_business_days=4)), "status_inquiry")["due_on"] == day("2026-11-12")


def test_setting_status_inquiry_repeat_days():
    t = world(
        interviews=[interview(next_step_by="2026-11-06")],
        messages=[message("Q1", "2026-11-10", "sent", "status_inquiry")],
    )
    assert one(due(t, "2026-11-12"), "status_inquiry")["due_on"] == day("2026-11-17")
    s = Settings(status_inquiry_repeat_days=10, pester_gap_business_days=0)
    assert one(due(t, "2026-11-13", s), "status_inquiry")["due_on"] == day("2026-11-20")


def test_setting_max_status_inquiries():
    t = world(
        interviews=[interview(next_step_by="2026-11-06")],
        messages=[message("Q1", "2026-11-10", "sent", "status_inquiry")],
    )
    assert len(of_kind(due(t, "2026-11-17"), "status_inquiry")) == 1
    assert of_kind(due(t, "2026-11-17", Settings(max_status_inquiries=1)), "status_inquiry").empty


def test_setting_no_date_followup_business_days():
    # No date given after a non-final round: Mon 2 Nov + 7 business days = Wed 11 Nov.
    t = world(interviews=[interview(next_step_by="")])
    assert one(due(t, "2026-11-10"), "status_inquiry")["due_on"] == day("2026-11-11")
    s = Settings(no_date_followup_business_days=3)
    a = one(due(t, "2026-11-10", s), "status_inquiry")
    assert a["due_on"] == day("2026-11-05") and a["status"] == "overdue"
    later = one(due(t, "2026-11-10", Settings(no_date_followup_business_days=10)), "status_inquiry")
    assert later["due_on"] == day("2026-11-16") and later["status"] == "upcoming"
    # A date the employer gave is followed up after the grace period, whatever this says.
    dated = world(interviews=[interview(next_step_by="2026-11-06")])
    assert one(due(dated, "2026-11-09", s), "status_inquiry")["due_on"] == day("2026-11-10")


def test_setting_checkin_every_days():
    t = world(interviews=[interview(**FINAL)])
    assert one(due(t, "2026-11-09"), "offer_checkin")["due_on"] == day("2026-11-09")
    assert one(due(t, "2026-11-09", Settings(checkin_every_days=10)), "offer_checkin")["due_on"] == day("2026-11-12")


def test_setting_max_checkins():
    t = world(interviews=[interview(**FINAL)], messages=[message("K1", "2026-11-09", "sent", "offer_checkin")])
    assert len(of_kind(due(t, "2026-11-16"), "offer_checkin")) == 1
    assert of_kind(due(t, "2026-11-16", Settings(max_checkins=1)), "offer_checkin").empty
    assert of_kind(
        due(world(interviews=[interview(**FINAL)]), "2026-11-16", Settings(max_checkins=0)),
        "offer_checkin",
    ).empty


def test_setting_pester_gap_business_days():
    t = world(interviews=[interview(**FINAL)], messages=[message("K1", "2026-11-09", "sent", "offer_checkin")])
    s = Settings(checkin_every_days=2)
    assert one(due(t, "2026-11-11", s), "offer_checkin")["due_on"] == day("2026-11-16")
    gap0 = Settings(checkin_every_days=2, pester_gap_business_days=0)
    assert one(due(t, "2026-11-11", gap0), "offer_checkin")["due_on"] == day("2026-11-11")
    gap2 = Settings(checkin_every_days=2, pester_gap_business_days=2)
    assert one(due(t, "2026-11-11", gap2), "offer_checkin")["due_on"] == day("2026-11-11")
    gap8 = Settings(checkin_every_days=2, pester_gap_business_days=8)
    assert one(due(t, "2026-11-12", gap8), "offer_checkin")["due_on"] == day("2026-11-19")


def test_setting_reference_checkin_every_days():
    t = world(
        interviews=[interview(**FINAL)],
        references=[reference()],
        reference_uses=[ref_use(briefed_on="2026-11-03")],
    )
    assert one(due(t, "2026-11-10"), "reference_checkin")["due_on"] == day("2026-11-10")
    a = one(due(t, "2026-11-10", Settings(reference_checkin_every_days=3)), "reference_checkin")
    assert a["due_on"] == day("2026-11-06") and a["status"] == "overdue"


def test_setting_max_reference_checkins():
    # Two check-ins already sent to Tom about Northwind (10 and 17 Nov).
    sent = [
        {**message(f"RC{i}", on, "sent", "reference_checkin"), "reference_id": "R1"}
        for i, on in enumerate(["2026-11-10", "2026-11-17"], 1)
    ]
    t = world(
        interviews=[interview(**FINAL)],
        references=[reference()],
        reference_uses=[ref_use(briefed_on="2026-11-03", last_checkin_on="2026-11-17")],
        messages=sent,
    )
    a = one(due(t, "2026-11-24"), "reference_checkin")
    assert a["due_on"] == day("2026-11-24") and (a["attempt"], a["attempts_max"]) == (3, 3)
    assert of_kind(due(t, "2026-11-24", Settings(max_reference_checkins=2)), "reference_checkin").empty
    assert len(of_kind(due(t, "2026-11-24", Settings(max_reference_checkins=4)), "reference_checkin")) == 1
    never = world(
        interviews=[interview(**FINAL)], references=[reference()], reference_uses=[ref_use(briefed_on="2026-11-03")]
    )
    assert len(of_kind(due(never, "2026-11-10"), "reference_checkin")) == 1
    assert of_kind(due(never, "2026-11-10", Settings(max_reference_checkins=0)), "reference_checkin").empty


def test_setting_written_offer_followup_business_days():
    t = world(
        applications=[OFFER_APP],
        interviews=[interview()],
        offers=[offer(verbal_on="2026-11-12", written_requested_on="2026-11-13")],
    )
    assert one(due(t, "2026-11-16"), "request_written_offer")["due_on"] == day("2026-11-18")
    s = Settings(written_offer_followup_business_days=1)
    assert one(due(t, "2026-11-16", s), "request_written_offer")["due_on"] == day("2026-11-16")


def test_setting_deadline_warning_days():
    t = world(
        applications=[OFFER_APP],
        interviews=[interview()],
        offers=[offer(**LETTER, response_deadline="2026-11-18")],
    )
    assert one(due(t, "2026-11-13"), "review_offer_letter")["priority"] == 3  # 5 days out
    assert one(due(t, "2026-11-13", Settings(deadline_warning_days=5)), "review_offer_letter")["priority"] == 1
    assert one(due(t, "2026-11-16", Settings(deadline_warning_days=0)), "review_offer_letter")["priority"] == 3


def test_setting_upcoming_days():
    t = world(
        interviews=[interview()],
        promises=[dict(promise_id="P1", application_id="A1", what="a list", due_on="2026-11-20")],
    )
    assert of_kind(due(t, "2026-11-10"), "keep_promise").empty  # 10 days out
    assert len(of_kind(due(t, "2026-11-10", Settings(upcoming_days=10)), "keep_promise")) == 1
    none_ahead = due(t, "2026-11-19", Settings(upcoming_days=0))
    assert of_kind(none_ahead, "keep_promise").empty and "upcoming" not in set(none_ahead["status"])


def test_setting_country():
    # Tue 24 Nov + 2 business days: Thanksgiving (Thu 26 Nov) is a US public holiday.
    iv = [interview(held_on="2026-11-20", next_step_by="2026-11-24", thank_you_sent_on="2026-11-20")]
    t = world(interviews=iv)
    assert one(due(t, "2026-11-25"), "status_inquiry")["due_on"] == day("2026-11-26")  # weekends only
    assert one(due(t, "2026-11-25", Settings(country="US")), "status_inquiry")["due_on"] == day("2026-11-27")
    assert one(due(t, "2026-11-25", Settings(country="GB")), "status_inquiry")["due_on"] == day("2026-11-26")
    # It is only the default: a coachee's own country wins.
    in_gb = world(coachees=[{**COACHEE, "country": "GB"}], interviews=iv)
    assert one(due(in_gb, "2026-11-25", Settings(country="US")), "status_inquiry")["due_on"] == day("2026-11-26")


def test_country_setting_in_the_file_is_checked_and_upper_cased(tmp_path):
    f = tmp_path / "settings.toml"
    f.write_text('[defaults]\ncountry = "us"\n\n[coach."Dana Reyes"]\ncountry = ""\n')
    base, per_coach = load_settings(f)
    assert base.country == "US" and per_coach["Dana Reyes"].country == ""


def test_every_setting_has_a_test_here():
    tested = {name.removeprefix("test_setting_") for name in globals() if name.startswith("test_setting_")}
    assert {f.name for f in fields(Settings)} == tested


# ------------------------------------------------------------------ per coach


def test_per_coach_settings_apply_to_that_coachs_coachees():
    coachees = [COACHEE, {**COACHEE, "coachee_id": "C2", "name": "Jordan Okafor", "coach": "Lee Chen"}]
    apps = [APP, {**APP, "application_id": "A2", "coachee_id": "C2", "company": "Lumen Software"}]
    ivs = [
        interview(next_step_by="2026-11-06"),
        interview(interview_id="I2", application_id="A2", next_step_by="2026-11-06"),
    ]
    t = world(coachees=coachees, applications=apps, interviews=ivs)
    a = due(t, "2026-11-09", Settings(), coach_settings={"Lee Chen": Settings(grace_business_days=4)})
    inquiries = of_kind(a, "status_inquiry").set_index("coachee_id")["due_on"]
    assert inquiries["C1"] == day("2026-11-10") and inquiries["C2"] == day("2026-11-12")
    # The sort order still holds across the groups.
    assert a["priority"].is_monotonic_increasing


def test_one_coach_override_for_everyone_still_applies():
    t = world(interviews=[interview(next_step_by="2026-11-06")])
    a = due(t, "2026-11-09", Settings(), coach_settings={"Dana Reyes": Settings(grace_business_days=4)})
    assert one(a, "status_inquiry")["due_on"] == day("2026-11-12")


def test_settings_file_defaults_and_coach_overrides(tmp_path):
    f = tmp_path / "settings.toml"
    f.write_text('[defaults]\ngrace_business_days = 3\n\n[coach."Dana Reyes"]\ncheckin_every_days = 10\n')
    base, per_coach = load_settings(f)
    assert base == Settings(grace_business_days=3)
    assert per_coach == {"Dana Reyes": Settings(grace_business_days=3, checkin_every_days=10)}


def test_no_settings_file_means_every_default(tmp_path):
    assert load_settings(tmp_path / "absent.toml") == (Settings(), {})


def test_settings_file_named_by_the_environment(tmp_path, monkeypatch):
    f = tmp_path / "coach.toml"
    f.write_text("[defaults]\nmax_checkins = 1\n")
    monkeypatch.setenv("FOLLOWUP_SETTINGS", str(f))
    assert load_settings()[0].max_checkins == 1


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[defaults]\ngrace_days = 3\n", "unknown setting 'grace_days'"),
        ("[defaults]\ngrace_business_days = -1\n", "grace_business_days must be a whole number"),
        ("[defaults]\ngrace_business_days = 2.5\n", "grace_business_days must be a whole number"),
        ('[defaults]\ngrace_business_days = "2"\n', "grace_business_days must be a whole number"),
        ("[defaults]\nmax_checkins = true\n", "max_checkins must be a whole number"),
        ("[defaults]\nmax_reference_checkins = -1\n", "max_reference_checkins must be a whole number"),
        ('[defaults]\nno_date_followup_business_days = "7"\n', "no_date_followup_business_days must be a whole number"),
        ('[defaults]\ncountry = "ZZ"\n', "country 'ZZ' is not a country code"),
        ("[defaults]\ncountry = 1\n", "country must be text"),
        ('[coach."Dana Reyes"]\npester_gap = 3\n', "[coach.\"Dana Reyes\"]: unknown setting 'pester_gap'"),
        ("[default]\ngrace_business_days = 3\n", "unknown section 'default'"),
        ("defaults = 3\n", "[defaults] must be a table"),
        ("coach = 3\n", "coach must be tables"),
        ("[defaults\ngrace_business_days = 3\n", "not valid TOML"),
    ],
)
def test_bad_settings_file_is_a_clear_error(tmp_path, text, expected):
    f = tmp_path / "settings.toml"
    f.write_text(text)
    with pytest.raises(SettingsError) as err:
        load_settings(f)
    assert expected in str(err.value) and str(f) in str(err.value)


# ------------------------------------------------------------------ through the CLI


def _northwind_inquiry(proc) -> dict:
    actions = json.loads(proc.stdout)
    return next(a for a in actions if a["kind"] == "status_inquiry" and a["application_id"] == "A001")


def test_cli_uses_the_coachs_settings_file(followup, demo_store, tmp_path):
    # Northwind moved its date to Wednesday 11 Nov, Veterans Day (Maya is in the US):
    # + 2 business days is Friday 13 Nov, + 5 is Wednesday 18 Nov. With the default,
    # the inquiry meets the overdue promise to Priya today (same employer): the
    # promise goes today, and the inquiry waits the 5-business-day gap (Mon 23 Nov).
    args = ("due", "--coachee", "C001", "--as-of", AS_OF.isoformat(), "--format", "json")
    assert _northwind_inquiry(followup(*args, db=demo_store.url, check=True))["due_on"] == "2026-11-23"
    f = tmp_path / "settings.toml"
    f.write_text('[coach."Dana Reyes"]\ngrace_business_days = 5\n')
    proc = followup(*args, db=demo_store.url, env={"FOLLOWUP_SETTINGS": str(f)}, check=True)
    assert _northwind_inquiry(proc)["due_on"] == "2026-11-18"
    shown = followup("settings", env={"FOLLOWUP_SETTINGS": str(f)}, check=True).stdout
    assert '[coach."Dana Reyes"]' in shown and "grace_business_days = 5" in shown


def test_cli_bad_settings_file_exits_with_a_message(demo_store, tmp_path):
    # A real process, on purpose: the exit code, stderr and empty stdout exactly as a
    # user's shell sees them (every other command test runs ``main`` in this process).
    f = tmp_path / "settings.toml"
    f.write_text("[defaults]\ncheckin_every = 5\n")
    proc = run_cli("due", "--all", "--as-of", AS_OF.isoformat(), db=demo_store.url, env={"FOLLOWUP_SETTINGS": str(f)})
    assert proc.returncode == 2
    assert "unknown setting 'checkin_every'" in proc.stderr and str(f) in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


@pytest.mark.parametrize(
    "values",
    [{"thank_you_within_days": 1_000_000}, {"grace_business_days": -1}, {"max_checkins": True}, {"country": "XX"}],
)
def test_settings_made_in_code_are_checked_as_the_file_is(values):
    """A notebook or a test making Settings(...) gets the file's ranges, not a crash later."""
    with pytest.raises(SettingsError):
        Settings(**values)
    assert Settings(country="de").country == "DE"
