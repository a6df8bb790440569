"""Drafts: every template with real facts, the .eml format, missing facts, overrides, the sandbox."""

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
from followup_lib.logic.drafts import facts_for, render_draft, render_drafts, template_environment, write_drafts
from followup_lib.logic.rules import due_actions

from builders import APP, AS_OF, COACHEE, LETTER, OFFER_APP, interview, offer, world

BANNED = ("just checking in", "touching base", "circling back", "just following up")
LEFTOVERS = ("{{", "}}", "{%", "%}", "None", "nan", "NaT", "<NA>", "undefined")


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


def check_clean(text: str) -> None:
    for bad in LEFTOVERS:
        assert bad not in text, f"{bad!r} left in:\n{text}"
    assert not re.search(r"\b(Dear|Hi|Hello)\s*,", text), text
    assert not re.search(r" [,.;:?]", text), f"a blank before punctuation:\n{text}"
    lowered = text.lower()
    for phrase in BANNED:
        assert phrase not in lowered, text


# The real facts of the first demo action of each kind (as of 16 Nov 2026), in both channels.
FACTS = {
    "keep_promise": ["the clinician-interview case study", "Monday 9 November", "UX Researcher"],
    "review_offer_letter": [
        "Thursday 12 November",
        "benefits, expense reimbursement",
        "Wednesday 18 November",
        "Senior Product Manager",
    ],
    "request_written_offer": ["Friday 13 November", "Product Manager"],
    "thank_you_note": ["Friday 13 November", "Reporting Analyst", "the patient-wait-times report; data privacy"],
    "status_inquiry": ["Monday 2 November", "Friday 6 November", "Senior Data Analyst", "Northwind Analytics"],
    "brief_references": [
        "Friday 13 November",
        "Harbor Health",
        "Reporting Analyst",
        "the patient-wait-times report; data privacy",
    ],
    "offer_checkin": ["Thursday 5 November", "Data Analyst"],
    "reference_checkin": ["Riverbend Media"],
}


def test_facts_cover_every_message_kind():
    assert set(FACTS) == set(MESSAGE_KINDS)


@pytest.mark.parametrize("channel", ["email", "phone"])
@pytest.mark.parametrize("kind", sorted(FACTS))
def test_every_template_renders_with_real_facts(reachable, kind, channel):
    tables, actions = reachable
    action = actions[actions["kind"] == kind].iloc[0].to_dict()
    action["channel"] = channel
    coachee = tables["coachees"].set_index("coachee_id").loc[action["coachee_id"], "name"]
    draft = render_draft(action, facts_for(action, tables))
    text = draft.subject + "\n" + draft.body
    check_clean(text)
    for fact in FACTS[kind]:
        assert fact in text, f"{fact!r} missing from the {kind} {channel} draft:\n{text}"
    assert coachee in draft.body
    assert action["recipient"].split()[0] in draft.body  # addressed by first name
    if channel == "email":
        assert draft.subject and draft.to_address == action["recipient_email"]
        assert len(draft.body.split()) <= 150
        assert draft.body.lstrip().startswith(("Dear ", "Hi "))
        # Paragraphs are separated by a blank line; only the sign-off spans two lines.
        paragraphs = draft.body.strip().split("\n\n")
        assert len(paragraphs) >= 3 and all("\n" not in p for p in paragraphs[:-1]), draft.body
    else:
        assert draft.to_address == action["recipient_phone"]
        script = draft.as_text()
        assert script.startswith(f"Call {action['recipient']} ({action['company']}) on {action['recipient_phone']}")
        assert "Why: " + action["why"] in script
        check_clean(script)


# The other side of each template's conditions, from tiny worlds typed in memory.
VARIANTS = {
    "thank-you without topics": (
        dict(interviews=[interview(thank_you_sent_on="", topics="")]),
        "2026-11-03",
        "thank_you_note",
        [],
        ["especially enjoyed", "about ,"],
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
    "offer letter complete, no deadline": (
        dict(
            applications=[OFFER_APP],
            interviews=[interview()],
            offers=[offer(**LETTER, benefits="Health", expense_reimbursement="Home office")],
        ),
        "2026-11-13",
        "review_offer_letter",
        ["Thursday 12 November"],
        ["does not state", "answer by"],
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
    draft = render_draft(action, facts_for(action, tables))
    check_clean(draft.subject + "\n" + draft.body)
    for text in present:
        assert text in draft.body
    for text in absent:
        assert text not in draft.body


# ------------------------------------------------------------------ .eml and .txt files


def test_eml_files_parse_with_the_stdlib(reachable, tmp_path):
    tables, actions = reachable
    result = render_drafts(actions, tables)
    assert not result.problems
    paths = write_drafts(result, tmp_path)
    assert len(paths) == len(result.drafts) == (actions["kind"] != "await_approval").sum()
    assert len({p.name for p in paths}) == len(paths)
    for draft, path in zip(result.drafts, paths):
        if draft.channel == "phone":
            assert path.suffix == ".txt" and path.read_text().startswith("Call ")
            continue
        assert path.suffix == ".eml"
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert parseaddr(str(msg["To"])) == (draft.to_name, draft.to_address)
        assert msg["Subject"] == draft.subject
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
    result = render_drafts(actions, tables)
    assert "await_approval" not in {d.kind for d in result.drafts}
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
    full = render_drafts(due_actions(demo_tables, AS_OF), demo_tables)
    tables = _demo_with(demo_store, "I001", interviewer_email=None)
    result = render_drafts(due_actions(tables, AS_OF), tables)
    assert result.problems == [
        "status_inquiry for Northwind Analytics: no email address for Priya Natarajan "
        "(interviews.interviewer_email of interview I001)"
    ]
    assert len(result.drafts) == len(full.drafts) - 1
    assert "Northwind Analytics" in {d.company for d in result.drafts}  # the reference check-in still goes


def test_missing_phone_for_a_phone_contact_is_named(demo_store):
    tables = _demo_with(demo_store, "I003", interviewer_phone=None)  # Marcus asked for calls
    result = render_drafts(due_actions(tables, AS_OF), tables)
    assert result.problems == [
        "offer_checkin for Bluefin Logistics: no phone number for Marcus Hale "
        "(interviews.interviewer_phone of interview I003)"
    ]


def test_missing_contact_for_an_offer_names_the_interview(demo_store):
    tables = _demo_with(demo_store, "I008", interviewer_email=None)  # Ravi Menon, Quarry Labs
    result = render_drafts(due_actions(tables, AS_OF), tables)
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


def test_missing_interviewer_name_is_named_never_a_blank_greeting(demo_store, tmp_path):
    tables = _demo_with(demo_store, "I004", interviewer_name=None)
    actions = due_actions(tables, AS_OF)
    result = render_drafts(actions, tables)
    assert sorted(result.problems) == [
        "keep_promise for Harbor Health: missing recipient_first_name (interviews.interviewer_name of interview I004)",
        "thank_you_note for Harbor Health: missing recipient_first_name (interviews.interviewer_name of interview I004)",
    ]
    briefings = [d for d in result.drafts if d.kind == "brief_references"]
    assert len(briefings) == 2  # the references are still briefed, without the interviewer's name
    for d in result.drafts:
        check_clean(d.body)
    assert all("interviewed at Harbor Health" in d.body or "at Harbor Health" in d.body for d in briefings)


def test_missing_fact_in_a_coach_template_is_named(demo_tables, tmp_path):
    (tmp_path / "thank_you_note.email.j2").write_text(
        "Subject: Thanks\nDear {{ recipient_first_name }}, {{ salary_band }}"
    )
    result = render_drafts(due_actions(demo_tables, AS_OF), demo_tables, override_dir=tmp_path)
    assert result.problems == ["thank_you_note for Harbor Health: missing salary_band (not in the store)"]


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
    result = render_drafts(due_actions(demo_tables, AS_OF), demo_tables)
    thanks = next(d for d in result.drafts if d.kind == "thank_you_note")
    assert thanks.subject == "Coach's own thanks, Harbor Health"
    assert thanks.body == "Dear Elena,\n\nOVERRIDDEN for Reporting Analyst.\n"
    others = [d for d in result.drafts if d.kind != "thank_you_note"]
    assert others and not any("OVERRIDDEN" in d.body for d in others)


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
    assert f"wrote {len(files)} draft(s)" in proc.stdout and len(files) == 7
    (thanks,) = [f for f in files if "thank_you_note" in f.name]
    msg = email.message_from_bytes(thanks.read_bytes(), policy=email.policy.default)
    assert msg["Subject"] == "Coach's own thanks, Harbor Health"
    assert "OVERRIDDEN for Reporting Analyst." in msg.get_content()
    inquiry = next(f for f in files if "status_inquiry" in f.name)
    assert (
        "Friday 6 November" in email.message_from_bytes(inquiry.read_bytes(), policy=email.policy.default).get_content()
    )


def test_cli_drafts_report_what_could_not_be_drafted(followup, demo_store, tmp_path):
    _demo_with(demo_store, "I001", interviewer_email=None)
    out = tmp_path / "drafts"
    proc = followup("drafts", "--coachee", "C001", "--as-of", AS_OF.isoformat(), "--out", str(out), db=demo_store.url)
    assert proc.returncode == 0
    assert "not drafted: status_inquiry for Northwind Analytics: no email address for Priya Natarajan" in proc.stderr
    assert len(list(out.iterdir())) == 6


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
    result = render_drafts(due_actions(demo_tables, AS_OF), demo_tables, override_dir=tmp_path)
    assert len(result.problems) == 1
    assert result.problems[0].startswith("thank_you_note for Harbor Health: ")
    assert "not allowed" in result.problems[0] or "unsafe" in result.problems[0]
    assert "pwned" not in "".join(d.body for d in result.drafts)
    assert len(result.drafts) == len(render_drafts(due_actions(demo_tables, AS_OF), demo_tables).drafts) - 1


def test_a_broken_coach_template_is_reported_not_fatal(demo_tables, tmp_path):
    (tmp_path / "status_inquiry.email.j2").write_text("Subject: x\n{% if %}")
    result = render_drafts(due_actions(demo_tables, AS_OF), demo_tables, override_dir=tmp_path)
    assert len(result.problems) == 3  # Northwind and Orchid Health, and Atlas Freight's upcoming one
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
