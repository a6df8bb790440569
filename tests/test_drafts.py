"""Drafts: every template with real facts, the .eml format, missing facts, overrides,
the sandbox; one message per person per day (bundles); wording true on the day."""

from __future__ import annotations

import email
import email.policy
import re
from email.utils import parseaddr

import pandas as pd
import pytest

from followup_lib.data.demo import load_demo
from followup_lib.data.store import open_store
from followup_lib.kinds import MESSAGE_KINDS
from followup_lib.logic.draft_lint import lint_draft, lint_drafts
from followup_lib.logic.drafts import (
    ACTIONS_HEADER,
    AS_OF_HEADER,
    COACHEE_HEADER,
    Draft,
    decode_action_ids,
    facts_for,
    render_draft,
    render_drafts,
    template_environment,
    write_drafts,
)
from followup_lib.logic.rules import due_actions

from builders import (
    APP,
    AS_OF,
    COACHEE,
    FINAL,
    LETTER,
    OFFER_APP,
    interview,
    offer,
    ref_use,
    reference,
    world,
)

BANNED = ("just checking in", "touching base", "circling back", "just following up")
LEFTOVERS = ("{{", "}}", "{%", "%}", "None", "nan", "NaT", "<NA>", "undefined")


def leftovers(text: str) -> list[str]:
    """Template syntax or a missing value printed as text ("unanswered" holds no "nan")."""
    return [bad for bad in LEFTOVERS if re.search(re.escape(bad) if not bad.isalpha() else rf"\b{bad}\b", text)]


@pytest.fixture(scope="module")
def reachable(tmp_path_factory):
    """The demo with a phone and an email for everyone, so each kind can be drafted in either channel."""
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('reachable') / 'followup.db'}")
    load_demo(store, shift=False)
    t = store.load()
    iv, refs = t["interviews"], t["references"]
    iv["interviewer_phone"] = iv["interviewer_phone"].fillna("+1 555 0199")
    refs["email"] = refs["email"].fillna("keisha.moore@example.org")
    refs["phone"] = refs["phone"].fillna("+1 555 0198")
    store.upsert({"interviews": iv, "references": refs})
    tables = store.load()
    yield tables, due_actions(tables, AS_OF)
    store.engine.dispose()


def today(tables, as_of=AS_OF, **kw):
    """What ``followup drafts`` writes on ``as_of``: drafts for what is due or overdue, bundled."""
    return render_drafts(due_actions(tables, as_of), tables, as_of=as_of, upcoming=False, **kw)


def check_clean(text: str) -> None:
    assert not leftovers(text), f"{leftovers(text)} left in:\n{text}"
    assert not re.search(r"\b(Dear|Hi|Hello)\s*,", text), text
    assert not re.search(r" [,.;:?]", text), f"a blank before punctuation:\n{text}"
    assert ";" not in text, f"a list pasted with ';':\n{text}"
    lowered = text.lower()
    for phrase in BANNED:
        assert phrase not in lowered, text
    assert "went well" not in lowered or "in short: went well" in lowered, f"an invented 'it went well':\n{text}"


def paragraphs(body: str) -> list[str]:
    return body.strip().split("\n\n")


# The real facts of the first demo action of each kind, drafted on 16 Nov 2026, in
# both channels; and what must not be said that day (a passed date as ahead, a raw
# list, a moved date's old value).
FACTS = {
    "keep_promise": ["the executive summary of the churn dashboard", "Monday 2 November", "I am sorry"],
    "review_offer_letter": ["Friday 13 November", "Senior Product Manager", "a few more days"],
    "request_written_offer": ["Product Manager", "delighted to accept", "in writing", "complete the formalities"],
    "thank_you_note": [
        "Friday 13 November",
        "Reporting Analyst",
        "the patient-wait-times report and data privacy",
    ],
    # Omar gave no date at Jordan's interview (Chloe's inquiry waits: one employer contact a day).
    "status_inquiry": ["Wednesday 4 November", "Product Manager", "Meridian Bank", "I hope you are well."],
    "brief_references": [
        "Friday 13 November",
        "Harbor Health",
        "Reporting Analyst",
        # What Tom should be ready to speak to: his talking points for Harbor Health.
        "speak to the patient-wait-times report.",
        "In short: strong on the wait-times report, but I hesitated on a data-privacy question.",
    ],
    # The 12 Nov call is the latest contact logged, not the 5 Nov interview.
    "offer_checkin": ["Thursday 12 November", "Data Analyst"],
    "reference_checkin": ["Bluefin Logistics", "reference-checking firm"],
    "withdraw_application": ["Product Designer", "Riverbend Media", "accepted another position", "stay in touch"],
    # The first reference to hear how an application ended: Ana, of the offer Sable Robotics withdrew.
    "close_the_loop": ["Sable Robotics", "Analytics Engineer", "they withdrew their offer"],
}
NOT_SAID = {
    "keep_promise": ["6 November"],  # its due day, passed: no "by Friday 6 November"
    "review_offer_letter": ["I will give you my answer by"],
    "request_written_offer": ["respond promptly"],  # she has already said yes
    "status_inquiry": ["This is Jordan"],  # a courtesy first, not a bare introduction
    "brief_references": ["went well", "They cared most", "data privacy,"],
    "thank_you_note": [],
    "offer_checkin": ["Thursday 5 November"],
    "reference_checkin": ["Thursday 6 November"],  # Tom was briefed again on the 9th
    "withdraw_application": [],
    "close_the_loop": ["chose another candidate"],  # no such reason is recorded
}


def test_facts_cover_every_message_kind():
    assert set(FACTS) == set(NOT_SAID) == set(MESSAGE_KINDS)


@pytest.mark.parametrize("channel", ["email", "phone"])
@pytest.mark.parametrize("kind", sorted(FACTS))
def test_every_template_renders_with_real_facts(reachable, kind, channel):
    tables, actions = reachable
    action = actions[actions["kind"] == kind].iloc[0].to_dict()
    action["channel"] = channel
    coachee = tables["coachees"].set_index("coachee_id").loc[action["coachee_id"], "name"]
    draft = render_draft(action, facts_for(action, tables, as_of=AS_OF))
    text = draft.subject + "\n" + draft.body
    check_clean(text)
    for fact in FACTS[kind]:
        assert fact in text, f"{fact!r} missing from the {kind} {channel} draft:\n{text}"
    for stale in NOT_SAID[kind]:
        assert stale not in text, f"{stale!r} in the {kind} {channel} draft:\n{text}"
    assert coachee in draft.body
    assert action["recipient"].split()[0] in draft.body  # addressed by first name
    assert lint_draft(draft, AS_OF) == []
    if channel == "email":
        assert draft.subject and draft.to_address == action["recipient_email"]
        assert len(draft.body.split()) <= 150
        assert draft.body.lstrip().startswith(("Dear ", "Hi "))
        # Paragraphs are separated by a blank line; only the sign-off spans two lines.
        assert len(paragraphs(draft.body)) >= 3 and all("\n" not in p for p in paragraphs(draft.body)[:-1])
    else:
        assert draft.to_address == action["recipient_phone"]
        script = draft.as_text()
        assert script.startswith(f"Call {action['recipient']} ({action['company']}) on {action['recipient_phone']}")
        assert "Why: " + draft.why in script and "brief note" not in draft.why
        assert f"{ACTIONS_HEADER}: {action['action_id']}" in script
        assert not leftovers(script), script


# The other side of each template's conditions, from tiny worlds typed in memory.
VARIANTS = {
    "thank-you without topics": (
        dict(interviews=[interview(thank_you_sent_on="", topics="")]),
        "2026-11-03",
        "thank_you_note",
        [],
        ["especially enjoyed", "about ,", "sorry"],
    ),
    "written offer asked again": (
        dict(
            applications=[OFFER_APP],
            interviews=[interview()],
            offers=[offer(verbal_on="2026-11-12", written_requested_on="2026-11-13")],
        ),
        "2026-11-18",
        "request_written_offer",
        ["I asked on Friday 13 November"],
        ["delighted"],
    ),
    "offer letter complete, deadline ahead": (
        dict(
            applications=[OFFER_APP],
            interviews=[interview()],
            offers=[
                offer(
                    **LETTER,
                    benefits="Health",
                    expense_reimbursement="Home office",
                    requirements="SQL",
                    response_deadline="2026-11-20",
                )
            ],
        ),
        "2026-11-18",
        "review_offer_letter",
        ["Friday 20 November"],
        ["does not state", "sorry", "few more days"],
    ),
    "promise with no interview on record": (
        dict(promises=[dict(promise_id="P1", application_id="A1", what="a list", due_on="2026-11-04")], interviews=[]),
        "2026-11-04",
        "keep_promise",
        [],
        [],
    ),
}


@pytest.mark.parametrize("channel", ["email", "phone"])
@pytest.mark.parametrize("name", list(VARIANTS))
def test_template_branches(name, channel):
    rows, as_of, kind, present, absent = VARIANTS[name]
    tables = world(**rows)
    actions = due_actions(tables, as_of)
    action = actions[actions["kind"] == kind].iloc[0].to_dict()
    action["channel"] = channel
    if name == "promise with no interview on record":
        # No interviewer to address: the draft must name what is missing, not print "Dear ,".
        action["recipient_email"], action["recipient_phone"] = "hr@northwind.example", "+1 555 0100"
        result = render_drafts(pd.DataFrame([action]), tables)
        assert not result.drafts
        assert result.problems == [
            "keep_promise for Northwind Analytics: missing recipient_first_name "
            "(no interview is recorded for application A1)"
        ]
        return
    draft = render_draft(action, facts_for(action, tables, as_of=as_of))
    check_clean(draft.subject + "\n" + draft.body)
    for text in present:
        assert text in draft.body
    for text in absent:
        assert text not in draft.body
    assert lint_draft(draft, as_of) == []


# ------------------------------------------------------------------ .eml and .txt files


def test_eml_files_parse_with_the_stdlib(reachable, tmp_path):
    tables, actions = reachable
    result = render_drafts(actions, tables, as_of=AS_OF)
    assert not result.problems
    paths = write_drafts(result, tmp_path)
    assert len(paths) == len(result.drafts) == len({p.name for p in paths})
    # Every action that needs a message is in exactly one draft.
    covered = [a for d in result.drafts for a in d.action_ids]
    assert sorted(covered) == sorted(actions.loc[actions["kind"] != "await_approval", "action_id"])
    assert set(result.by_action()) == set(covered)
    for draft, path in zip(result.drafts, paths):
        if draft.channel == "phone":
            text = path.read_text()
            assert path.suffix == ".txt" and text.startswith("Call ")
            assert f"{ACTIONS_HEADER}: " in text and f"{COACHEE_HEADER}: {draft.coachee_id}" in text
            continue
        assert path.suffix == ".eml"
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert parseaddr(str(msg["To"])) == (draft.to_name, draft.to_address)
        assert msg["Subject"] == draft.subject
        assert decode_action_ids(msg[ACTIONS_HEADER]) == draft.action_ids
        assert msg[COACHEE_HEADER] == draft.coachee_id and msg[AS_OF_HEADER] == draft.as_of
        assert msg.get_content_type() == "text/plain" and not msg.is_multipart()
        body = msg.get_content()
        assert body.replace("\r\n", "\n").strip() == draft.body.strip()
        assert len(body.split()) <= 150


def test_non_ascii_names_survive_the_eml(tmp_path):
    tables = world(
        coachees=[{**COACHEE, "name": "Zoë Ångström"}],
        applications=[{**APP, "company": "Café Ñandú"}],
        interviews=[interview(thank_you_sent_on="", interviewer_name="Inés Duarte")],
    )
    result = render_drafts(due_actions(tables, "2026-11-03"), tables)
    (path,) = write_drafts(result, tmp_path)
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert msg["To"].addresses[0].display_name == "Inés Duarte"
    assert msg["From"].addresses[0].display_name == "Zoë Ångström"
    body = msg.get_content()
    assert "Dear Inés," in body and "Café Ñandú" in body and "Zoë Ångström" in body


def test_await_approval_has_no_draft(reachable):
    tables, actions = reachable
    assert "await_approval" in set(actions["kind"])
    result = render_drafts(actions, tables, as_of=AS_OF)
    assert "await_approval" not in {k for d in result.drafts for k in d.kinds}
    assert not any("await_approval" in p for p in result.problems)


# ------------------------------------------------------------------ missing facts


def _demo_with(demo_store, interview_id: str, **changes) -> dict[str, pd.DataFrame]:
    t = demo_store.load()
    iv = t["interviews"]
    for col, value in changes.items():
        iv.loc[iv["interview_id"] == interview_id, col] = value
    demo_store.upsert({"interviews": iv})
    return demo_store.load()


def test_missing_email_is_named_and_other_drafts_still_come(demo_store, demo_tables):
    full = today(demo_tables)
    tables = _demo_with(demo_store, "I001", interviewer_email=None)  # Priya, who was promised a summary
    result = today(tables)
    assert result.problems == [
        "keep_promise for Northwind Analytics: no email address for Priya Natarajan "
        "(interviews.interviewer_email of interview I001)"
    ]
    # Priya's promise is not drafted; with it gone, Chloe's inquiry (which waited a
    # day behind the promise: one employer contact a day) may take its place.
    assert "keep_promise:A001:P006" not in result.by_action()
    assert len(result.drafts) >= len(full.drafts) - 1


def test_missing_phone_for_a_phone_contact_is_named(demo_store):
    tables = _demo_with(demo_store, "I003", interviewer_phone=None)  # Marcus asked for calls
    result = render_drafts(due_actions(tables, AS_OF), tables, as_of=AS_OF)  # his check-in is upcoming
    assert result.problems == [
        "offer_checkin for Bluefin Logistics: no phone number for Marcus Hale "
        "(interviews.interviewer_phone of interview I003)"
    ]


def test_missing_contact_for_an_offer_names_the_interview(demo_store):
    tables = _demo_with(demo_store, "I008", interviewer_email=None)  # Ravi Menon, Quarry Labs
    result = today(tables)
    assert result.problems == [
        "review_offer_letter for Quarry Labs: no email address for Ravi Menon "
        "(interviews.interviewer_email of interview I008)"
    ]


def test_a_line_break_in_a_store_value_does_not_break_the_headers(tmp_path):
    tables = world(
        applications=[{**APP, "role": "Senior\nData Analyst"}],
        interviews=[interview(thank_you_sent_on="", interviewer_name="Priya\nNatarajan")],
    )
    (path,) = write_drafts(render_drafts(due_actions(tables, "2026-11-03"), tables), tmp_path)
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert msg["Subject"] == "Thank you for our conversation about the Senior Data Analyst role"
    assert msg["To"].addresses[0].display_name == "Priya Natarajan"


def test_missing_interviewer_name_is_named_never_a_blank_greeting(demo_store):
    tables = _demo_with(demo_store, "I004", interviewer_name=None)  # Elena Voss, Harbor Health's panel
    result = render_drafts(due_actions(tables, AS_OF), tables, as_of=AS_OF)
    # No thank-you to an unnamed interviewer (the rules give none); the promise to them is named.
    assert sorted(result.problems) == [
        "keep_promise for Harbor Health: missing recipient_first_name (interviews.interviewer_name of interview I004)",
    ]
    # The other two of the panel are still thanked, and the references still briefed
    # (without the interviewer's name).
    thanked = {d.to_name for d in result.drafts if "thank_you_note" in d.kinds}
    assert thanked == {"Samir Okoye", "Julia Brandt"}
    briefings = [d for d in result.drafts if "brief_references" in d.kinds]
    assert len(briefings) == 2
    for d in result.drafts:
        check_clean(d.body)
    assert all("at Harbor Health" in d.body and "with None" not in d.body for d in briefings)


def test_missing_fact_in_a_coach_template_is_named(demo_tables, tmp_path):
    (tmp_path / "thank_you_note.email.j2").write_text(
        "Subject: Thanks\nDear {{ recipient_first_name }}, {{ salary_band }}"
    )
    result = today(demo_tables, override_dir=tmp_path)
    # One for each person met at Harbor Health's panel.
    assert result.problems == ["thank_you_note for Harbor Health: missing salary_band (not in the store)"] * 3


# ------------------------------------------------------------------ coach templates

OVERRIDE = (
    "Subject: Coach's own thanks, {{ company }}\nDear {{ recipient_first_name }},\n\nOVERRIDDEN for {{ role }}.\n"
)


def test_templates_folder_under_data_replaces_the_shipped_one(demo_tables, tmp_path, monkeypatch):
    folder = tmp_path / "data" / "templates"
    folder.mkdir(parents=True)
    (folder / "thank_you_note.email.j2").write_text(OVERRIDE)
    monkeypatch.delenv("FOLLOWUP_TEMPLATES", raising=False)
    monkeypatch.setenv("FOLLOWUP_HOME", str(tmp_path))
    result = today(demo_tables)
    thanks = [d for d in result.drafts if d.kind == "thank_you_note"]
    assert {d.to_name for d in thanks} == {"Elena Voss", "Samir Okoye", "Julia Brandt"}
    for d in thanks:
        assert d.subject == "Coach's own thanks, Harbor Health"
        assert d.body == f"Dear {d.to_name.split()[0]},\n\nOVERRIDDEN for Reporting Analyst.\n"
    others = [d for d in result.drafts if d.kind != "thank_you_note"]
    assert others and not any("OVERRIDDEN" in d.body for d in others)


def test_a_coach_template_is_used_for_its_part_of_a_bundled_draft(tmp_path):
    """Priya gets one message on the 3rd: her thank-you and the promised list. The
    coach's own thank-you template writes the thank-you part; the shipped one the rest."""
    (tmp_path / "thank_you_note.email.j2").write_text(
        "Subject: Coach's own thanks, {{ company }}\nDear {{ recipient_first_name }},\n\n"
        "OVERRIDDEN thanks for {{ role }}.\n\nWarmly,\n{{ coachee_name }}\n"
    )
    tables = promise_world()
    result = today(tables, as_of="2026-11-03", override_dir=tmp_path)
    (draft,) = result.drafts
    assert draft.kinds == ["thank_you_note", "keep_promise"]
    assert draft.subject == "Coach's own thanks, Northwind Analytics"
    body = paragraphs(draft.body)
    assert body[0] == "Dear Priya,"
    assert body[1] == "OVERRIDDEN thanks for Senior Data Analyst."
    assert "I also attach the anonymised churn model" in body[2]  # the shipped promise template's part
    assert body[-1] == "Warmly,\nMaya Lindqvist"
    assert draft.body.count("Dear ") == 1


def test_cli_drafts_use_the_folder_named_by_followup_templates(followup, demo_store, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "thank_you_note.email.j2").write_text(OVERRIDE)
    out = tmp_path / "drafts"
    proc = followup(
        "drafts",
        "--coachee",
        "C001",
        "--as-of",
        AS_OF.isoformat(),
        "--out",
        str(out),
        db=demo_store.url,
        env={"FOLLOWUP_TEMPLATES": str(folder)},
        check=True,
    )
    files = sorted(out.iterdir())
    # Maya on the 16th: three thank-yous (the panel), Priya's late summary, Chloe's
    # inquiry, and one message to each of her two references (a briefing and what
    # else is due to them) — her upcoming actions are not drafted.
    assert f"wrote {len(files)} draft(s)" in proc.stdout and len(files) == 6
    thanks = [f for f in files if "thank_you_note" in f.name]
    assert len(thanks) == 3
    for f in thanks:
        msg = email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
        assert msg["Subject"] == "Coach's own thanks, Harbor Health"
        assert "OVERRIDDEN for Reporting Analyst." in msg.get_content()
    promise = next(f for f in files if "keep_promise" in f.name)
    text = email.message_from_bytes(promise.read_bytes(), policy=email.policy.default).get_content()
    assert "Monday 2 November" in text and "Dear Priya," in text


def test_cli_drafts_report_what_could_not_be_drafted(followup, demo_store, tmp_path):
    _demo_with(demo_store, "I001", interviewer_email=None)
    out = tmp_path / "drafts"
    proc = followup("drafts", "--coachee", "C001", "--as-of", AS_OF.isoformat(), "--out", str(out), db=demo_store.url)
    assert proc.returncode == 0
    assert "not drafted: keep_promise for Northwind Analytics: no email address for Priya Natarajan" in proc.stderr
    assert len(list(out.iterdir())) == 5


@pytest.mark.parametrize(
    "code",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ company.__class__.__base__ }}",
        "{{ lipsum.__globals__['os'] }}",
        "{{ cycler.__init__.__globals__.os.system('echo pwned') }}",
        "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    ],
)
def test_the_sandbox_blocks_unsafe_template_code(demo_tables, tmp_path, code):
    (tmp_path / "thank_you_note.email.j2").write_text("Subject: Hi\nDear {{ recipient_first_name }},\n" + code)
    result = today(demo_tables, override_dir=tmp_path)
    assert len(result.problems) == 3  # the panel of three at Harbor Health, each named
    for problem in result.problems:
        assert problem.startswith("thank_you_note for Harbor Health: ")
        assert "not allowed" in problem or "unsafe" in problem
    assert "pwned" not in "".join(d.body for d in result.drafts)
    assert len(result.drafts) == len(today(demo_tables).drafts) - 3


def test_a_broken_coach_template_is_reported_not_fatal(demo_tables, tmp_path):
    (tmp_path / "status_inquiry.email.j2").write_text("Subject: x\n{% if %}")
    result = render_drafts(due_actions(demo_tables, AS_OF), demo_tables, override_dir=tmp_path, as_of=AS_OF)
    assert len(result.problems) == 3  # Northwind and Meridian Bank, and Atlas Freight's upcoming one
    assert all("status_inquiry" in p and "not valid" in p for p in result.problems)


def test_store_values_are_printed_literally_never_evaluated():
    tables = world(
        applications=[{**APP, "company": "{{ 7*7 }} Labs", "role": "{% print 'x' %}"}],
        interviews=[interview(thank_you_sent_on="", topics="{{ lipsum.__globals__ }}")],
    )
    action = due_actions(tables, "2026-11-03").iloc[0].to_dict()
    for channel in ("email", "phone"):
        action["channel"] = channel
        draft = render_draft(action, facts_for(action, tables))
        assert "49" not in draft.body and "{% print 'x' %}" in draft.body
        assert "{{ lipsum.__globals__ }}" in draft.body
        assert "{{ 7*7 }} Labs" in (draft.body if channel == "email" else draft.as_text())


def test_the_environment_is_sandboxed_and_strict():
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    env = template_environment()
    assert isinstance(env, SandboxedEnvironment) and env.undefined is StrictUndefined


# ------------------------------------------------------------------ one message per person per day


def promise_world(**over):
    """Priya's interview on Monday 2 Nov, not yet thanked, where Maya promised her the
    anonymised churn model by Tuesday 3 Nov: both are due to Priya on the 3rd."""
    rows = dict(
        interviews=[interview(thank_you_sent_on="")],
        promises=[dict(promise_id="P1", application_id="A1", what="the anonymised churn model", due_on="2026-11-03")],
    )
    rows.update(over)
    return world(**rows)


def test_two_actions_due_to_one_person_become_one_draft_thanks_first(tmp_path):
    tables = promise_world()
    actions = due_actions(tables, "2026-11-03")
    assert sorted(actions.loc[actions["status"].ne("upcoming"), "kind"]) == ["keep_promise", "thank_you_note"]
    result = today(tables, as_of="2026-11-03")
    (draft,) = result.drafts
    assert draft.action_ids == ["thank_you_note:A1:I1", "keep_promise:A1:P1"]
    assert draft.kinds == ["thank_you_note", "keep_promise"]
    assert result.by_action() == {"thank_you_note:A1:I1": draft, "keep_promise:A1:P1": draft}
    body = draft.body
    # One greeting, one sign-off; the thanks before the promise.
    assert body.startswith("Dear Priya,\n\nThank you for taking the time") and body.count("Dear ") == 1
    assert body.index("Thank you for taking the time") < body.index("the anonymised churn model")
    assert body.rstrip().endswith("With thanks,\nMaya Lindqvist") and body.count("Maya Lindqvist") == 1
    assert "the churn dashboard" in body and "sorry" not in body  # on time: no apology
    assert lint_drafts(result.drafts, "2026-11-03") == []
    # The file says which actions it carries out.
    (path,) = write_drafts(result, tmp_path)
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert msg[ACTIONS_HEADER] == "thank_you_note:A1:I1, keep_promise:A1:P1"
    assert decode_action_ids(msg[ACTIONS_HEADER]) == draft.action_ids
    assert (msg[COACHEE_HEADER], msg[AS_OF_HEADER]) == ("C1", "2026-11-03")
    # Asked not to bundle, each action has its own draft.
    alone = today(tables, as_of="2026-11-03", bundle=False)
    assert [d.action_ids for d in alone.drafts] == [["keep_promise:A1:P1"], ["thank_you_note:A1:I1"]]


@pytest.mark.parametrize("channel", ["email", "phone"])
def test_a_late_bundle_apologises_once(channel):
    """A late thank-you and a late promise to one person: one message, one "sorry"."""
    tables = promise_world()
    if channel == "phone":
        tables["interviews"]["interviewer_email"] = None
        tables["interviews"]["interviewer_phone"] = "+1 555 0100"
        tables["interviews"]["preferred_channel"] = "phone"
    result = today(tables, as_of="2026-11-10")
    (draft,) = [d for d in result.drafts if set(d.kinds) == {"thank_you_note", "keep_promise"}]
    assert draft.channel == channel
    assert draft.body.lower().count("sorry") == 1, draft.body
    assert lint_draft(draft, "2026-11-10") == []


def test_a_bundle_keeps_every_parts_ask():
    """A reference briefed on a new interview and asked about another application on
    the same day gets one message asking both things."""
    tables = world(
        applications=[APP, {**APP, "application_id": "A2", "company": "Bluefin Logistics", "role": "Data Analyst"}],
        interviews=[
            interview(),
            interview(
                interview_id="I2", application_id="A2", held_on="2026-10-20", thank_you_sent_on="2026-10-20", **FINAL
            ),
        ],
        references=[reference()],
        reference_uses=[
            ref_use(),
            ref_use(application_id="A2", given_on="2026-10-15", briefed_on="2026-10-21"),
        ],
    )
    result = today(tables, as_of="2026-11-04")
    (draft,) = [d for d in result.drafts if d.to_name == "Tom Becker"]
    assert draft.kinds == ["brief_references", "reference_checkin"]
    assert "Could you let me know if Northwind Analytics or a reference-checking firm gets in touch?" in draft.body
    assert (
        "And for my application to Bluefin Logistics (Data Analyst): has anyone there, or a reference-checking firm, "
        "contacted you" in draft.body
    )
    assert draft.body.count("Hi Tom,") == 1 and lint_draft(draft, "2026-11-04") == []


def test_the_demos_bundles(demo_tables):
    result = today(demo_tables)
    by_action = result.by_action()
    # Lina Park: the promised references and the request for the offer in writing.
    lina = by_action["keep_promise:A005:P003"]
    assert lina.action_ids == ["keep_promise:A005:P003", "request_written_offer:A005:first"]
    assert lina.body.index("the two extra references you asked for") < lina.body.index("in writing")
    # Tom Becker: the Harbor Health briefing and the Bluefin check-in.
    assert by_action["reference_checkin:A002:R001:2026-11-09"] is by_action["brief_references:A003:R001:I004"]
    # Ana Ruiz: the Harbor Health briefing, how Cedar Bank ended and how Sable Robotics did.
    ana = by_action["close_the_loop:A004:R002"]
    assert by_action["close_the_loop:A014:R002"] is ana
    assert ana.kinds == ["brief_references", "close_the_loop", "close_the_loop"]
    assert "they decided not to go ahead with my application" in ana.body
    assert "Sable Robotics (Analytics Engineer): they withdrew their offer" in ana.body
    # The panel of three: three people, three notes.
    assert len({id(by_action[a]) for a in by_action if a.startswith("thank_you_note:A003:I004")}) == 3
    # One message per person per day, and every draft passes the linter.
    assert lint_drafts(result.drafts, AS_OF) == []
    assert sum(len(d.action_ids) for d in result.drafts) == len(by_action)


def test_calls_to_one_switchboard_are_one_per_person():
    """Two people at one phone number are two calls; one person's two actions are one."""
    board = "+1 555 0100"
    tables = promise_world(
        interviews=[
            interview(thank_you_sent_on="", preferred_channel="phone", interviewer_phone=board),
            interview(
                interview_id="I2",
                held_on="2026-10-30",
                interviewer_name="Omar Haddad",
                interviewer_email="omar@northwind.example",
                interviewer_phone=board,
                preferred_channel="phone",
                thank_you_sent_on="",
            ),
        ],
    )
    result = today(tables, as_of="2026-11-03")
    calls = {d.to_name: d for d in result.drafts}
    assert set(calls) == {"Priya Natarajan", "Omar Haddad"}
    assert all(d.channel == "phone" and d.to_address == board for d in calls.values())
    priya = calls["Priya Natarajan"]
    assert priya.kinds == ["thank_you_note", "keep_promise"]
    assert "In the same call:" in priya.body and priya.body.count("Hello Priya") == 1
    assert lint_drafts(result.drafts, "2026-11-03") == []


def test_an_upcoming_action_is_drafted_for_its_own_day_only_when_asked(demo_tables):
    actions = due_actions(demo_tables, AS_OF)
    upcoming = set(actions.loc[actions["status"].eq("upcoming") & actions["kind"].isin(MESSAGE_KINDS), "action_id"])
    assert upcoming
    due_now = today(demo_tables)
    assert not upcoming & set(due_now.by_action())
    ahead = render_drafts(actions, demo_tables, as_of=AS_OF, upcoming=True)
    assert upcoming <= set(ahead.by_action())
    # Elena's writing sample is due tomorrow: drafted for tomorrow, not folded into
    # today's thank-you to her.
    sample = ahead.by_action()["keep_promise:A003:P001"]
    assert sample.as_of == "2026-11-17" and sample.action_ids == ["keep_promise:A003:P001"]
    assert ahead.by_action()["thank_you_note:A003:I004"].as_of == AS_OF.isoformat()
    assert len(ahead.drafts) == len(due_now.drafts) + len(upcoming)


def test_cli_drafts_only_what_is_due_unless_upcoming(followup, demo_store, tmp_path):
    def files(*extra):
        out = tmp_path / "-".join(["drafts", *extra]).strip("-")
        followup(
            "drafts", "--coachee", "C002", "--as-of", AS_OF.isoformat(), "--out", str(out), *extra, db=demo_store.url
        )
        return sorted(p.name for p in out.iterdir())

    due_only = files()
    with_upcoming = files("--upcoming")
    assert not any("2026-11-17" in n or "2026-11-20" in n for n in due_only)
    added = sorted(set(with_upcoming) - set(due_only))
    # Jordan's call to Dev Patel and the Atlas Freight inquiry, each on its own day.
    assert len(added) == 2 and set(due_only) < set(with_upcoming)
    assert any(n.startswith("2026-11-17-keep_promise-atlas-freight-dev-patel") and n.endswith(".txt") for n in added)
    assert any(n.startswith("2026-11-20-status_inquiry-atlas-freight") for n in added)


# ------------------------------------------------------------------ drafts say only what is true today


def promise_draft(as_of, channel="email", **promise):
    tables = world(
        interviews=[interview()],
        promises=[
            dict(
                promise_id="P1", application_id="A1", what="the anonymised churn model", due_on="2026-11-04", **promise
            )
        ],
    )
    (draft,) = [
        d for d in render_drafts(due_actions(tables, as_of), tables, as_of=as_of).drafts if d.kind == "keep_promise"
    ]
    if channel == "phone":
        actions = due_actions(tables, as_of)
        action = actions[actions["kind"] == "keep_promise"].iloc[0].to_dict()
        action |= {"channel": "phone", "recipient_phone": "+1 555 0100"}
        draft = render_draft(action, facts_for(action, tables, as_of=as_of))
    return draft


def test_a_late_promise_apologises_and_never_writes_its_date_as_ahead():
    late = promise_draft("2026-11-09")
    assert "I am sorry this is later than I said." in late.body
    assert "4 November" not in late.body and "will" not in late.body.lower().replace("would", "")
    assert "I attach the anonymised churn model" in late.body
    assert lint_draft(late, "2026-11-09") == []
    on_time = promise_draft("2026-11-04")
    assert "sorry" not in on_time.body and "I attach the anonymised churn model" in on_time.body
    # The same late promise, drafted as if on its own day, would be stale: the linter says so.
    stale = Draft(**{**late.__dict__, "body": "Dear Priya,\n\nI will send it by Wednesday 4 November.\n\nMaya\n"})
    assert lint_draft(stale, "2026-11-09")


@pytest.mark.parametrize("channel", ["email", "phone"])
def test_a_promise_to_get_in_touch_is_the_getting_in_touch(channel):
    contact = promise_draft("2026-11-04", channel, kind="contact")
    assert "be in touch" in contact.body and "the anonymised churn model" in contact.body
    assert "attach" not in contact.body and "send" not in contact.body
    send = promise_draft("2026-11-04", channel, kind="send")
    assert ("I attach" if channel == "email" else "follow up with") in send.body
    if channel == "email":
        assert contact.subject == "Following up on the Senior Data Analyst role, as promised"
        assert send.subject == "The anonymised churn model, as promised"


def offer_letter_draft(as_of, channel="email", **terms):
    tables = world(
        applications=[OFFER_APP],
        interviews=[interview(**FINAL)],
        offers=[offer(**{**LETTER, "response_deadline": "2026-11-18", **terms})],
    )
    actions = due_actions(tables, as_of)
    action = actions[actions["kind"] == "review_offer_letter"].iloc[0].to_dict() | {
        "channel": channel,
        "recipient_phone": "+1 555 0100",
    }
    return render_draft(action, facts_for(action, tables, as_of=as_of))


@pytest.mark.parametrize("channel", ["email", "phone"])
def test_a_passed_offer_deadline_gets_its_own_wording(channel):
    before = offer_letter_draft("2026-11-13", channel)
    assert "I will give you my answer by Wednesday 18 November" in before.body
    after = offer_letter_draft("2026-11-19", channel)
    assert "I am sorry not to have given you my answer by Wednesday 18 November" in after.body
    assert "a few more days" in after.body and "I will give you my answer" not in after.body
    assert lint_draft(after, "2026-11-19") == []


def briefing(how_it_went=""):
    tables = world(
        interviews=[interview(how_it_went=how_it_went, topics="the churn dashboard; SQL performance; dbt")],
        references=[reference()],
        reference_uses=[ref_use()],
    )
    (draft,) = today(tables, as_of="2026-11-03").drafts
    assert draft.kind == "brief_references"
    return draft


def test_how_it_went_is_the_coachees_own_words_or_left_out():
    told = briefing("Strong on the dashboard, shaky on dbt.")
    assert "In short: strong on the dashboard, shaky on dbt." in told.body
    silent = briefing()
    assert "In short" not in silent.body and "went well" not in silent.body.lower()
    assert "On Monday 2 November I interviewed with Priya Natarajan at Northwind Analytics" in silent.body
    # Topics typed "A; B; C" read as English.
    for d in (told, silent):
        assert "speak to the churn dashboard, SQL performance and dbt." in d.body and ";" not in d.body


def test_the_recipient_is_you_in_every_demo_draft(demo_tables):
    emails = [d for d in render_drafts(due_actions(demo_tables, AS_OF), demo_tables, as_of=AS_OF).drafts]
    emails = [d for d in emails if d.channel == "email"]
    assert len(emails) > 10
    for draft in emails:
        first = draft.to_name.split()[0]
        greeting, *middle, _sign_off = paragraphs(draft.body)
        assert greeting in (f"Dear {first},", f"Hi {first},"), draft.body
        # After the greeting the recipient is "you", never named ("Lina asked for").
        assert not re.search(rf"\b{first}\b", "\n".join(middle)), draft.body


def checkin(kind, attempt, attempts_max=3, channel="email"):
    tables = world(
        interviews=[interview(**FINAL, held_on="2026-10-20", thank_you_sent_on="2026-10-20")],
        references=[reference()],
        reference_uses=[ref_use(briefed_on="2026-10-21")],
    )
    actions = due_actions(tables, "2026-11-20")
    action = actions[actions["kind"] == kind].iloc[0].to_dict()
    action.update(attempt=attempt, attempts_max=attempts_max, channel=channel, recipient_phone="+1 555 0100")
    return render_draft(action, facts_for(action, tables, as_of="2026-11-20")).body


@pytest.mark.parametrize("channel", ["email", "phone"])
@pytest.mark.parametrize("kind", ["offer_checkin", "reference_checkin"])
def test_check_ins_are_worded_by_their_count(kind, channel):
    first, second, last = (checkin(kind, n, channel=channel) for n in (1, 2, 3))
    assert len({first, second, last}) == 3, "the same check-in text sent again"
    assert "last question" not in first.lower() + second.lower() and "more of your time" not in first + second
    if kind == "offer_checkin":
        # Priya was at the interview: the conversation is hers to be reminded of.
        assert "Since our conversation on Tuesday 20 October" in first
        assert "coming along" in second
        assert "more of your time after this" in last
    else:
        # The latest time Tom and Maya were in touch: his briefing on the 21st.
        assert "since we were last in touch on Wednesday 21 October?" in first
        assert "still waiting" in second.lower() and "since we were last in touch on Wednesday 21 October?" in second
        assert "One last question" in last and "stop asking" in last
    # A single allowed check-in is worded as a first one, not a last.
    assert checkin(kind, 1, attempts_max=1, channel=channel) == first


def test_withdrawing_is_gracious_and_leaves_the_door_open(demo_tables):
    by_action = today(demo_tables).by_action()
    for action_id, company, role, person in [
        ("withdraw_application:A010:A009", "Riverbend Media", "Product Designer", "Grace"),
        ("withdraw_application:A011:A009", "Orchid Health", "UX Researcher", "Hugo"),
    ]:
        d = by_action[action_id]
        assert d.subject == f"{role}: withdrawing my application"
        assert d.body.startswith(f"Dear {person},")
        assert f"the {role} role at {company}" in d.body
        assert "I have accepted another position, so I am withdrawing my application" in d.body
        assert f"I enjoyed learning about {company} and would be glad to stay in touch." in d.body
        # Nothing about the other employer, no other follow-up to them.
        assert "Pinecrest" not in d.body and d.kinds == ["withdraw_application"]


def test_closing_the_loop_thanks_the_reference_and_tells_the_outcome(demo_tables):
    by_action = today(demo_tables).by_action()
    daniel = by_action["close_the_loop:A009:R004"]
    assert daniel.body.startswith("Hi Daniel,")
    assert "Thank you for standing as a reference for my application to Pinecrest Studio" in daniel.body
    assert "I accepted their offer, and it has now been approved" in daniel.body
    ana = by_action["close_the_loop:A004:R002"]
    # Cedar Bank's rejection, in plain words: no reason is recorded, so none is given.
    assert "Cedar Bank" in ana.body and "they decided not to go ahead with my application" in ana.body
    assert "another candidate" not in ana.body


def test_dates_read_the_same_way_everywhere():
    tables = world(interviews=[interview(held_on="2025-12-29", thank_you_sent_on="")])
    (draft,) = today(tables, as_of="2026-01-02").drafts
    # Another year than the day it is written: the year is given.
    assert "Monday 29 December 2025" in draft.body
