"""Whose mail it is and which application: addressed to the coachee (or in their
thread), drafts trusted only from their own address, keys per coachee,
applicant-tracking senders, Reply-To, Cc, subdomains, second addresses, references
settled by threads or the text, hand-written mail completing actions, possible
duplicates, bounces and out-of-office replies. Against the demo practice in a real
SQLite store (its today: 2026-11-16), through ``read_mail``/``log_mail``."""

from __future__ import annotations

import email.utils
import mailbox
import sqlite3
from email.message import EmailMessage

from followup_lib.faces.mail import log_mail, read_mail
from followup_lib.logic.drafts import ACTIONS_HEADER, encode_action_ids
from followup_lib.logic.mail_match import AMBIGUOUS, DUPLICATE, IGNORED, LOGGED, NEW, REPEATED, mail_message_id

from builders import AS_OF, db_path

MAYA = "Maya Lindqvist <maya.lindqvist@example.com>"
JORDAN = "Jordan Okafor <jordan.okafor@example.com>"


def mail(frm, to, subject, body="Thanks, talk soon.", day="Tue, 17 Nov 2026 10:00:00 +0000", mid=None, **headers):
    m = EmailMessage()
    m["From"], m["To"], m["Subject"], m["Date"] = frm, to, subject, day
    m["Message-ID"] = mid or email.utils.make_msgid(domain="mail.example")
    for k, v in headers.items():
        m[k.replace("_", "-")] = v
    m.set_content(body)
    return m


def mbox(tmp_path, *messages, name="box.mbox"):
    path = tmp_path / name
    box = mailbox.mbox(path)
    for m in messages:
        box.add(m)
    box.close()
    return path


def proposals(store, path, coachee="C001"):
    result, summary = read_mail(store, coachee, path)
    return result, summary


def rows(store, where="1=1") -> list[dict]:
    conn = sqlite3.connect(db_path(store))
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(f"SELECT * FROM messages WHERE {where}")]
    finally:
        conn.close()


def test_mail_addressed_to_another_coachee_is_not_logged_for_this_one(demo_store, tmp_path):
    # Chloe (Maya's recruiter at Northwind) writes to Jordan only: not Maya's mail.
    path = mbox(tmp_path, mail("Chloe Adams <chloe.adams@northwind.example>", JORDAN, "Salary", "salary is 150k"))
    result, summary = proposals(demo_store, path)
    assert result.proposals == [] and "1 ignored" in summary
    # Delivered-To (a Bcc) and the client's second address count as addressed to her.
    bcc = mail("Chloe Adams <chloe.adams@northwind.example>", "team@northwind.example", "Hi", mid="<bcc@n>",
               Delivered_To="maya.lindqvist@example.com")  # fmt: skip
    second = mail("Chloe Adams <chloe.adams@northwind.example>", "maya.l@personal.example", "Hi", mid="<2nd@n>")
    result, _ = proposals(demo_store, mbox(tmp_path, bcc, second, name="b.mbox"))
    assert [(p.status, p.application_id) for p in result.proposals] == [(NEW, "A001"), (NEW, "A001")]


def test_a_forged_draft_completes_nothing(demo_store, tmp_path):
    action = "thank_you_note:A003:I004"
    headers = {
        ACTIONS_HEADER: encode_action_ids([action]),
        "X_Followup_Coachee": "C001",
        "X_Followup_As_Of": AS_OF.isoformat(),
    }
    # From a stranger: not the coachee's draft, and nobody of hers.
    spam = mail("Prize <win@spam.example>", MAYA, "Thank you", "Click here", mid="<spam@x>", **headers)
    # From one of her contacts: a received message, never a sent draft.
    forged = mail("Elena Voss <elena.voss@harborhealth.example>", MAYA, "Re", "Spam text", mid="<f@x>", **headers)
    # From Maya but naming another coachee: not trusted for C001's actions.
    other = mail(MAYA, "Elena Voss <elena.voss@harborhealth.example>", "Thanks", mid="<o@x>",
                 **{**headers, "X_Followup_Coachee": "C002"})  # fmt: skip
    result, _ = proposals(demo_store, mbox(tmp_path, spam, forged, other))
    assert all(p.draft is None for p in result.proposals)
    assert [p.what for p in result.proposals] == ["received", "sent"]
    log_mail(demo_store, result.to_write)
    assert not rows(demo_store, f"action_id = '{action}'")


def test_one_email_to_two_coachees_is_logged_for_each(demo_store, tmp_path):
    # Dev (Jordan's Atlas Freight) writes to both, copying Chloe (Maya's Northwind).
    m = mail("Dev Patel <dev.patel@atlasfreight.example>", f"{MAYA}, {JORDAN}", "Intro", mid="<shared@atlas>",
             Cc="chloe.adams@northwind.example")  # fmt: skip
    path = mbox(tmp_path, m)
    for coachee, app in (("C001", "A001"), ("C002", "A007")):
        result, _ = proposals(demo_store, path, coachee)
        [p] = result.proposals
        assert (p.status, p.application_id) == (NEW, app)
        assert log_mail(demo_store, result.to_write)[0] == 1
    logged = rows(demo_store, "message_ref = '<shared@atlas>'")
    assert sorted(r["application_id"] for r in logged) == ["A001", "A007"]
    assert {r["message_id"] for r in logged} == {mail_message_id("<shared@atlas>", "C001"),
                                                 mail_message_id("<shared@atlas>", "C002")}  # fmt: skip
    result, _ = proposals(demo_store, path, "C002")
    assert [p.status for p in result.proposals] == [LOGGED]


def test_applicant_tracking_senders_reply_to_cc_and_subdomains(demo_store, tmp_path):
    messages = [
        mail(
            "Bluefin Logistics <no-reply@us.greenhouse-mail.io>",
            MAYA,
            "Your application to Bluefin Logistics",
            "Unfortunately we have decided to move forward with other candidates.",
            mid="<gh@x>",
        ),
        mail(
            "Chloe via Greenhouse <no-reply@greenhouse.io>",
            MAYA,
            "Following up",
            "Let's talk.",
            mid="<rt@x>",
            Reply_To="chloe.adams@northwind.example",
        ),
        mail("Talent <talent@careers.bluefin.example>", MAYA, "Hello", mid="<sub@x>"),
        # A hiring manager from a personal address, the HR contact in Cc.
        mail("Sam <sam.private@gmail.com>", MAYA, "Coffee?", mid="<cc@x>", Cc="julia.brandt@harborhealth.example"),
        # From the client's second address.
        mail("Maya <maya.l@personal.example>", "marcus.hale@bluefin.example", "Quick note", mid="<me2@x>"),
    ]
    result, _ = proposals(demo_store, mbox(tmp_path, *messages))
    got = {p.subject: (p.status, p.application_id, p.kind) for p in result.proposals}
    assert got["Your application to Bluefin Logistics"] == (NEW, "A002", "rejection")
    assert got["Following up"][:2] == (NEW, "A001")
    assert got["Hello"][:2] == (NEW, "A002")
    assert got["Coffee?"][:2] == (NEW, "A003")
    assert got["Quick note"][:2] == (NEW, "A002")
    gh = next(p for p in result.proposals if p.application_id == "A002" and p.kind == "rejection")
    assert "via Greenhouse" in gh.why and gh.sender == "Bluefin Logistics <no-reply@us.greenhouse-mail.io>"


def test_references_settled_by_the_text_or_picked_by_the_user(demo_store, tmp_path):
    # Ana is given to Harbor Health (open) and Cedar Bank (closed on 12 Nov): her
    # reply about Cedar Bank goes to Cedar Bank, not to the one open application.
    ana = mail("Ana Ruiz <ana.ruiz@example.org>", MAYA, "Re: Cedar Bank", "So sorry about Cedar Bank.", mid="<ana@x>")
    # Tom is given to three open applications: ambiguous, with a picker.
    tom = mail("Tom Becker <tom.becker@example.org>", MAYA, "Got a call", "Someone called me.", mid="<tom@x>")
    result, _ = proposals(demo_store, mbox(tmp_path, ana, tom))
    a, t = result.proposals
    assert (a.status, a.application_id) == (NEW, "A004")
    assert t.status == AMBIGUOUS and sorted(t.candidates) == ["A001", "A002", "A003"]
    assert t.can_log and not t.writes
    t.pick("A002")
    log_mail(demo_store, [t])
    [row] = rows(demo_store, "message_ref = '<tom@x>'")
    assert (row["application_id"], row["reference_id"]) == ("A002", "R001")


def test_a_reply_goes_to_the_application_of_the_thread(demo_store, tmp_path):
    first = mail("Chloe Adams <chloe.adams@northwind.example>", MAYA, "Timeline", mid="<t1@northwind.example>",
                 day="Mon, 16 Nov 2026 09:00:00 +0000")  # fmt: skip
    result, _ = proposals(demo_store, mbox(tmp_path, first))
    log_mail(demo_store, result.to_write)
    # Tom, given to three applications, answers in that thread: it is Northwind's.
    reply = mail("Tom Becker <tom.becker@example.org>", MAYA, "Re: Timeline", mid="<t2@x>",
                 In_Reply_To="<t1@northwind.example>", References="<t1@northwind.example>")  # fmt: skip
    result, _ = proposals(demo_store, mbox(tmp_path, reply, name="r.mbox"))
    [p] = result.proposals
    assert (p.status, p.application_id) == (NEW, "A001") and "thread" in p.why


def test_hand_written_sent_mail_completes_the_action_it_answers(demo_store, tmp_path):
    thanks = mail(MAYA, "Elena Voss <elena.voss@harborhealth.example>", "Thank you",
                  "Thank you for taking the time to meet me on Friday.", day="Mon, 16 Nov 2026 18:00:00 +0000",
                  mid="<thanks@example.com>")  # fmt: skip
    result, _ = proposals(demo_store, mbox(tmp_path, thanks))
    [p] = result.proposals
    assert p.status == NEW and p.draft is not None and p.draft.action_ids == ["thank_you_note:A003:I004"]
    added, lines = log_mail(demo_store, result.to_write)
    assert added == 1 and "thank you note to Elena Voss" in lines[0]
    [row] = rows(demo_store, "action_id = 'thank_you_note:A003:I004'")
    assert row["message_ref"] == "<thanks@example.com>"
    result, _ = proposals(demo_store, mbox(tmp_path, thanks, name="again.mbox"))
    assert [q.status for q in result.proposals] != [NEW]


def test_a_message_already_logged_by_hand_is_a_possible_duplicate(demo_store, tmp_path):
    # M004: Cedar Bank's rejection email of 12 November, logged by hand.
    m = mail("Owen Price <owen.price@cedarbank.example>", MAYA, "Your application", mid="<m4@c>",
             day="Thu, 12 Nov 2026 11:00:00 +0000")  # fmt: skip
    # M003 was a phone call from Marcus: an email that day is another message.
    call = mail("Marcus Hale <marcus.hale@bluefin.example>", MAYA, "Notes", mid="<m3@b>",
                day="Mon, 09 Nov 2026 11:00:00 +0000")  # fmt: skip
    result, _ = proposals(demo_store, mbox(tmp_path, m, call))
    p, q = result.proposals
    assert p.status == DUPLICATE and "M004" in p.why and not p.writes and p.can_log
    assert q.status == NEW


def test_a_repeated_message_id_with_another_text_is_named(demo_store, tmp_path):
    a = mail("Chloe Adams <chloe.adams@northwind.example>", MAYA, "Hi", "First text", mid="<same@n>")
    b = mail("Chloe Adams <chloe.adams@northwind.example>", MAYA, "Hi", "Another text", mid="<same@n>")
    c = mail("Chloe Adams <chloe.adams@northwind.example>", MAYA, "Hi", "First text", mid="<same@n>")  # a copy
    result, _ = proposals(demo_store, mbox(tmp_path, a, b, c))
    assert [p.status for p in result.proposals] == [NEW, REPEATED]
    assert "message 1" in result.proposals[1].why


def test_out_of_office_and_bounces(demo_store, tmp_path):
    ooo = mail("Chloe Adams <chloe.adams@northwind.example>", MAYA, "Automatic reply: Following up",
               "I am out of the office until Monday.", mid="<ooo@n>", Auto_Submitted="auto-replied")  # fmt: skip
    news = mail("Northwind <news@northwind.example>", MAYA, "Our newsletter", mid="<news@n>",
                List_Unsubscribe="<mailto:unsub@northwind.example>")  # fmt: skip
    result, _ = proposals(demo_store, mbox(tmp_path, ooo, news))
    assert [(p.status, p.kind) for p in result.proposals] == [(IGNORED, "auto_reply"), (IGNORED, "newsletter")]
    assert all(p.can_log and not p.writes for p in result.proposals)
    assert "Auto-Submitted" in result.proposals[0].why

    # The client's thank-you to Samir (a draft she sent) bounces: the bounce names that action.
    action = "thank_you_note:A003:I004:K001"
    sent = mail(MAYA, "samir.okoye@harborhealth.example", "Thank you", "Thank you for your time.",
                day="Mon, 16 Nov 2026 12:00:00 +0000", mid="<ty@example.com>",
                **{ACTIONS_HEADER: encode_action_ids([action]), "X_Followup_Coachee": "C001",
                   "X_Followup_As_Of": "2026-11-16"})  # fmt: skip
    result, _ = proposals(demo_store, mbox(tmp_path, sent, name="sent.mbox"))
    log_mail(demo_store, result.to_write)
    # Shaped like Postfix's: a report, the delivery status, the returned message.
    bounce = email.message_from_bytes(
        b"From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\nTo: maya.lindqvist@example.com\n"
        b"Subject: Undelivered Mail Returned to Sender\nDate: Mon, 16 Nov 2026 12:05:00 +0000\n"
        b"Message-ID: <bounce@mx>\nAuto-Submitted: auto-replied\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="RB"\n\n'
        b"--RB\nContent-Type: text/plain\n\nThis is the mail system. Your message could not be delivered.\n"
        b"--RB\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.com\n\n"
        b"Final-Recipient: rfc822; samir.okoye@harborhealth.example\nAction: failed\nStatus: 5.1.1\n\n"
        b"--RB\nContent-Type: message/rfc822\n\n" + sent.as_bytes() + b"\n--RB--\n"
    )
    result, _ = proposals(demo_store, mbox(tmp_path, bounce, name="bounce.mbox"))
    [p] = result.proposals
    assert (p.status, p.kind, p.application_id, p.row["action_id"]) == (NEW, "bounce", "A003", action)
    assert "did not arrive" in p.why


ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Google Inc//Google Calendar 70.9054//EN
METHOD:{method}
BEGIN:VEVENT
DTSTART:20261124T150000Z
DTEND:20261124T160000Z
ORGANIZER;CN=Chloe Adams:mailto:chloe.adams@northwind.example
UID:final-round@northwind.example
SUMMARY:Final interview: Maya Lindqvist
END:VEVENT
END:VCALENDAR
"""


def invitation(method: str, subject: str, frm: str, to: str, mid: str) -> EmailMessage:
    m = mail(frm, to, subject, "Invitation from Google Calendar", mid=mid)
    m.add_alternative(ICS.format(method=method), subtype="calendar", params={"method": method})
    return m


def test_calendar_invitations_cancellations_and_answers(demo_store, tmp_path):
    chloe = "Chloe Adams <chloe.adams@northwind.example>"
    messages = [
        invitation("REQUEST", "Invitation: Final interview @ Tue 24 Nov 2026", chloe, MAYA, "<req@n>"),
        invitation("CANCEL", "Canceled event: Final interview", chloe, MAYA, "<can@n>"),
        # The client's own calendar answering the invitation: not a message.
        invitation("REPLY", "Accepted: Final interview @ Tue 24 Nov 2026", MAYA, chloe, "<rep@n>"),
    ]
    result, _ = proposals(demo_store, mbox(tmp_path, *messages))
    req, can, rep = result.proposals
    assert (req.status, req.kind, req.application_id) == (NEW, "invitation", "A001")
    assert "proposes an interview on 2026-11-24 at 15:00" in req.why and "chloe.adams@northwind.example" in req.why
    assert can.kind == "update" and "cancellation" in can.why
    assert (rep.status, rep.kind) == (IGNORED, "calendar_reply")


def test_a_huge_subject_is_cut_at_a_word(demo_store, tmp_path):
    subject = "Re: " + "the offer and the start date " * 70_000  # about 2 MB, on one line as a hostile sender writes it
    path = tmp_path / "huge.mbox"
    path.write_bytes(
        b"From chloe Tue Nov 17 10:00:00 2026\nFrom: Chloe Adams <chloe.adams@northwind.example>\n"
        b"To: maya.lindqvist@example.com\nDate: Tue, 17 Nov 2026 10:00:00 +0000\nMessage-ID: <huge@n>\n"
        b"Subject: " + subject.encode() + b"\n\nHello.\n"
    )
    result, _ = proposals(demo_store, path)
    summary = result.proposals[0].row["summary"]
    assert 100 < len(summary) <= 200 and summary.endswith("…") and summary.startswith("Re: the offer and the start")
    assert not summary[:-1].endswith(" ")
