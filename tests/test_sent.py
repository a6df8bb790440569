"""`followup sent DRAFT_FILE`: a draft sent from a mail client (or a call made from a
script) completes every action it covers, once, with the text sent.

The round trip runs ``followup`` in this process against a real SQLite file; the
store is read back with plain sqlite3, never with the code under test.
"""

from __future__ import annotations

import email
import email.policy
import json
import sqlite3
from pathlib import Path

import pytest

from followup_lib.logic.drafts import ACTIONS_HEADER, decode_action_ids

from builders import AS_OF, data_contents, db_path

DAY = AS_OF.isoformat()


def query(store, sql: str, *params) -> list[tuple]:
    conn = sqlite3.connect(db_path(store))
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def messages_for(store, action_ids) -> dict[str, dict]:
    marks = ",".join("?" * len(action_ids))
    rows = query(
        store,
        'SELECT action_id, message_id, application_id, "on", direction, channel, kind, body, reference_id, contact_id '
        f"FROM messages WHERE action_id IN ({marks})",
        *action_ids,
    )
    keys = ["message_id", "application_id", "on", "direction", "channel", "kind", "body", "reference_id", "contact_id"]
    return {r[0]: dict(zip(keys, r[1:], strict=True)) for r in rows}


def day_of(value) -> str:
    return str(value)[:10] if value is not None else None


def due_ids(followup, store, coachee: str, day: str = DAY) -> set[str]:
    proc = followup("due", "--coachee", coachee, "--as-of", day, "--format", "json", db=store.url, check=True)
    return {a["action_id"] for a in json.loads(proc.stdout)}


def write_drafts(followup, store, coachee: str, out: Path, day: str = DAY) -> dict[str, Path]:
    followup("drafts", "--coachee", coachee, "--as-of", day, "--out", str(out), db=store.url, check=True)
    return {p.name: p for p in sorted(out.iterdir())}


def eml_body(path: Path) -> str:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default).get_content()


def eml_actions(path: Path) -> list[str]:
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    return decode_action_ids(msg[ACTIONS_HEADER])


def one(files: dict[str, Path], part: str) -> Path:
    (path,) = [p for name, p in files.items() if part in name]
    return path


# ------------------------------------------------------------------ the round trip


def test_a_bundled_email_completes_each_action_it_covers(followup, demo_store, tmp_path):
    files = write_drafts(followup, demo_store, "C002", tmp_path / "drafts")
    lina = one(files, "keep_promise-lumen-software-lina-park")
    assert lina.suffix == ".eml"
    ids = eml_actions(lina)
    assert ids == ["keep_promise:A005:P003", "request_written_offer:A005:first"]
    assert set(ids) <= due_ids(followup, demo_store, "C002")

    proc = followup("sent", str(lina), "--on", DAY, db=demo_store.url)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 2 and all(ln.startswith("logged ") and ln.endswith(" to Lina Park") for ln in lines)
    # One messages row per action, each with the text sent, on the day sent.
    logged = messages_for(demo_store, ids)
    assert set(logged) == set(ids) and len({m["message_id"] for m in logged.values()}) == 2
    body = eml_body(lina)
    for action_id, m in logged.items():
        assert (m["application_id"], day_of(m["on"]), m["direction"], m["channel"]) == ("A005", DAY, "sent", "email")
        assert m["kind"] == action_id.split(":")[0]
        assert m["body"].replace("\r\n", "\n").strip() == body.replace("\r\n", "\n").strip()
        assert m["reference_id"] is None
    # And each action's own record.
    assert [day_of(v) for (v,) in query(demo_store, "SELECT done_on FROM promises WHERE promise_id='P003'")] == [DAY]
    assert [
        day_of(v) for (v,) in query(demo_store, "SELECT written_requested_on FROM offers WHERE application_id='A005'")
    ] == [DAY]
    # Gone from what is due.
    assert not set(ids) & due_ids(followup, demo_store, "C002")


def test_every_draft_of_a_day_sent_leaves_none_of_its_actions_due(followup, demo_store, tmp_path):
    """Maya sends all of Monday's messages: the thank-yous to the panel of three, the
    late summary, the inquiry and her two references' messages."""
    files = write_drafts(followup, demo_store, "C001", tmp_path / "drafts")
    covered = [a for p in files.values() for a in eml_actions(p)]
    assert len(covered) == len(set(covered)) > len(files)  # some drafts carry several actions
    for path in files.values():
        followup("sent", str(path), "--on", DAY, db=demo_store.url, check=True)
    logged = messages_for(demo_store, covered)
    assert set(logged) == set(covered)
    assert not set(covered) & due_ids(followup, demo_store, "C001")
    # The right date for each person: the interviewer, each other person met, each reference.
    assert query(demo_store, "SELECT thank_you_sent_on FROM interviews WHERE interview_id='I004'") == [(DAY,)]
    met = query(demo_store, "SELECT contact_id, thank_you_sent_on FROM interview_contacts WHERE interview_id='I004'")
    assert sorted((c, day_of(d)) for c, d in met) == [("K001", DAY), ("K002", DAY)]
    assert query(demo_store, "SELECT done_on FROM promises WHERE promise_id='P006'") == [(DAY,)]
    uses = dict(
        ((r, a), (day_of(b), day_of(c), day_of(t)))
        for r, a, b, c, t in query(
            demo_store,
            "SELECT reference_id, application_id, briefed_on, last_checkin_on, thanked_on FROM reference_uses",
        )
    )
    assert uses[("R001", "A003")][0] == DAY  # Tom briefed on Harbor Health
    assert uses[("R001", "A002")][1] == DAY  # … and asked about Bluefin, in the same message
    assert uses[("R002", "A003")][0] == DAY  # Ana briefed
    assert uses[("R002", "A004")][2] == DAY  # … and thanked: Cedar Bank has ended
    # A message to a reference names the reference: it is no employer contact.
    tom = messages_for(demo_store, ["brief_references:A003:R001:I004", "reference_checkin:A002:R001:2026-11-09"])
    assert {m["reference_id"] for m in tom.values()} == {"R001"}
    samir = messages_for(demo_store, ["thank_you_note:A003:I004:K001"])["thank_you_note:A003:I004:K001"]
    assert samir["contact_id"] == "K001" and "Dear Samir," in samir["body"]


def test_the_text_sent_is_what_is_logged(followup, demo_store, tmp_path):
    """Edited in the mail client before it went: the edited text is kept."""
    files = write_drafts(followup, demo_store, "C001", tmp_path / "drafts")
    draft = one(files, "keep_promise-northwind-analytics-priya-natarajan")
    msg = email.message_from_bytes(draft.read_bytes(), policy=email.policy.default)
    edited = msg.get_content().replace("Best regards,", "P.S. I have attached my updated portfolio.\n\nBest regards,")
    msg.set_content(edited)
    draft.write_bytes(msg.as_bytes())
    followup("sent", str(draft), "--on", DAY, db=demo_store.url, check=True)
    (m,) = messages_for(demo_store, eml_actions(draft)).values()
    assert "P.S. I have attached my updated portfolio." in m["body"]
    assert m["application_id"] == "A001" and m["kind"] == "keep_promise"


def test_a_second_sent_of_the_same_file_is_refused_and_writes_nothing(followup, demo_store, tmp_path):
    files = write_drafts(followup, demo_store, "C002", tmp_path / "drafts")
    lina = one(files, "keep_promise-lumen-software-lina-park")
    followup("sent", str(lina), "--on", DAY, db=demo_store.url, check=True)
    (first,) = [m["message_id"] for a, m in messages_for(demo_store, ["keep_promise:A005:P003"]).items()]
    before = data_contents(demo_store)
    again = followup("sent", str(lina), "--on", "2026-11-17", db=demo_store.url)
    assert again.returncode == 2 and again.stdout == ""  # the call was wrong: input, not a failure
    assert first in again.stderr and "keep_promise:A005:P003 was already marked sent" in again.stderr
    assert data_contents(demo_store) == before


def test_a_phone_script_is_marked_sent_the_same_way(followup, demo_store, tmp_path):
    """Jordan's promised call to Dev Patel (he prefers the phone) falls due on the 17th,
    once the one-pager that bounced has gone to Sam again on the 16th (Atlas Freight
    hears from Jordan once a day)."""
    resend = one(write_drafts(followup, demo_store, "C002", tmp_path / "d16", day="2026-11-16"), "sam-whitaker")
    assert followup("sent", str(resend), "--on", "2026-11-16", db=demo_store.url).returncode == 0
    day = "2026-11-17"
    files = write_drafts(followup, demo_store, "C002", tmp_path / "drafts", day=day)
    script = one(files, "keep_promise-atlas-freight-dev-patel")
    assert script.suffix == ".txt"
    text = script.read_text(encoding="utf-8")
    assert f"{ACTIONS_HEADER}: keep_promise:A007:P005" in text
    proc = followup("sent", str(script), "--on", day, db=demo_store.url)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("keep promise to Dev Patel")
    (m,) = messages_for(demo_store, ["keep_promise:A007:P005"]).values()
    assert (m["channel"], day_of(m["on"]), m["contact_id"]) == ("phone", day, "K004")
    assert "Hello Dev" in m["body"] and ACTIONS_HEADER not in m["body"]
    assert query(demo_store, "SELECT done_on FROM promises WHERE promise_id='P005'") == [(day,)]
    assert "keep_promise:A007:P005" not in due_ids(followup, demo_store, "C002", day)
    # And only once.
    before = data_contents(demo_store)
    assert followup("sent", str(script), "--on", day, db=demo_store.url).returncode == 2  # already logged
    assert data_contents(demo_store) == before


@pytest.mark.parametrize(
    "name, content",
    [
        ("notes.txt", "Call Dev about the roadmap.\n"),
        ("hello.eml", "To: someone@example.com\nSubject: hello\n\nJust a letter, not a draft.\n"),
        ("empty.eml", ""),
        ("binary.eml", "\x00\x01\x02garbage"),
    ],
)
def test_a_file_that_is_not_a_draft_is_refused_and_nothing_written(followup, demo_store, tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    before = data_contents(demo_store)
    proc = followup("sent", str(path), "--on", DAY, db=demo_store.url)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("followup sent: ") and proc.stdout == ""
    assert data_contents(demo_store) == before


def test_a_missing_file_an_unknown_coachee_or_a_bad_day_is_refused(followup, demo_store, tmp_path):
    before = data_contents(demo_store)
    missing = followup("sent", str(tmp_path / "nowhere.eml"), "--on", DAY, db=demo_store.url)
    assert missing.returncode == 2 and "nowhere.eml" in missing.stderr
    # A draft naming a coachee this store does not hold.
    files = write_drafts(followup, demo_store, "C002", tmp_path / "drafts")
    lina = one(files, "keep_promise-lumen-software-lina-park")
    lina.write_bytes(lina.read_bytes().replace(b"X-Followup-Coachee: C002", b"X-Followup-Coachee: C999"))
    stranger = followup("sent", str(lina), "--on", DAY, db=demo_store.url)
    assert stranger.returncode == 2 and "C999" in stranger.stderr
    # A draft whose day was edited into something that is not a date.
    lina.write_bytes(
        lina.read_bytes()
        .replace(b"X-Followup-Coachee: C999", b"X-Followup-Coachee: C002")
        .replace(f"X-Followup-As-Of: {DAY}".encode(), b"X-Followup-As-Of: soon")
    )
    undated = followup("sent", str(lina), "--on", DAY, db=demo_store.url)
    assert undated.returncode == 2 and "'soon'" in undated.stderr and "Traceback" not in undated.stderr
    assert data_contents(demo_store) == before
