"""The phrase tables that say what a message is (contract v3's kinds), in English,
German and French; what is not a reply; dates stated plainly; ATS senders."""

from __future__ import annotations

import datetime as dt

import pytest

from followup_lib.logic.mail_kinds import (
    RECEIVED_PHRASES,
    SENT_PHRASES,
    ats_service,
    not_a_reply,
    own_text,
    received_kind,
    sent_kind,
    stated_date,
)

ON = dt.date(2026, 11, 10)

RECEIVED = [
    # (language, subject, text, kind, next_step_by)
    ("en", "Your application", "Thank you for your interest. Unfortunately we have decided to move forward with other "
     "candidates whose experience more closely matches.", "rejection", None),
    ("en", "Update", "We regret to inform you that the position has been filled.", "rejection", None),
    ("en", "Great news", "We are delighted to offer you the role of Data Analyst!", "offer", None),
    ("en", "Your offer letter", "Please find attached your formal offer. Please respond by November 27.", "offer_letter",
     dt.date(2026, 11, 27)),
    ("en", "Next steps", "We would like to invite you to a final round interview. Please share your availability.",
     "invitation", None),
    ("en", "Timeline", "The panel needs a little more time: we now expect to have a decision by Friday, 20 November.",
     "date_moved", dt.date(2026, 11, 20)),
    ("en", "Quick question", "Could you send us two references before we proceed?", "question", None),
    ("en", "Thanks", "Thanks for coming in on Tuesday, the team enjoyed it.", "update", None),
    ("de", "Ihre Bewerbung", "Leider müssen wir Ihnen mitteilen, dass wir uns für einen anderen Kandidaten entschieden "
     "haben.", "rejection", None),
    ("de", "Angebot", "Wir freuen uns, Ihnen die Stelle anbieten zu können: anbei Ihr Arbeitsvertrag.", "offer_letter",
     None),
    ("de", "Einladung", "Wir laden Sie gerne zu einem zweiten Vorstellungsgespräch ein.", "invitation", None),
    ("de", "Verzögerung", "Die Entscheidung hat sich verzögert; Sie hören bis zum 24. November 2026 von uns.",
     "date_moved", dt.date(2026, 11, 24)),
    ("de", "Frage", "Könnten Sie uns Ihre Zeugnisse schicken?", "question", None),
    ("fr", "Votre candidature", "Nous regrettons de vous informer que nous ne pouvons pas donner suite à votre "
     "candidature.", "rejection", None),
    ("fr", "Proposition", "Nous avons le plaisir de vous proposer le poste.", "offer", None),
    ("fr", "Entretien", "Nous souhaitons vous inviter à un second entretien.", "invitation", None),
    ("fr", "Calendrier", "Le processus a été reporté : réponse d'ici le 2 décembre.", "date_moved",
     dt.date(2026, 12, 2)),
    ("fr", "Documents", "Pourriez-vous nous transmettre votre portfolio ?", "question", None),
]  # fmt: skip


@pytest.mark.parametrize(("lang", "subject", "text", "kind", "day"), RECEIVED)
def test_received_kinds_by_language(lang, subject, text, kind, day):
    got, when, phrase = received_kind(subject, text, ON)
    assert (got, when) == (kind, day), (lang, phrase)


def test_every_kind_has_phrases_in_each_language():
    for table in (RECEIVED_PHRASES, SENT_PHRASES):
        for kind, by_language in table.items():
            assert set(by_language) == {"en", "de", "fr"}, kind
            assert all(by_language.values()), kind


def test_the_quoted_earlier_message_is_not_read_again():
    reply = "Sounds good, see you Thursday.\n\nOn Tue, 10 Nov 2026, Maya wrote:\n> Unfortunately I regret to inform"
    assert own_text(reply).strip() == "Sounds good, see you Thursday."
    assert received_kind("Re: timing", reply, ON)[0] == "update"


SENT = [
    ("Thank you", "Thank you for taking the time to meet me yesterday.", "thank_you_note"),
    ("Following up", "I wanted to follow up on my application for the analyst role.", "status_inquiry"),
    ("Offer", "Could I have a few more days to consider the offer?", "extension_request"),
    ("Offer", "I am delighted to accept your offer.", "acceptance"),
    ("Offer", "After much thought I must decline the offer.", "decline"),
    ("Application", "I would like to withdraw my application.", "withdrawal"),
    ("Danke", "Vielen Dank für das Gespräch gestern.", "thank_you_note"),
    ("Merci", "Merci pour l'entretien de ce matin.", "thank_you_note"),
    ("Hello", "See you then.", None),
]


@pytest.mark.parametrize(("subject", "text", "kind"), SENT)
def test_sent_kinds(subject, text, kind):
    assert sent_kind(subject, text)[0] == kind


def test_dates_stated_plainly():
    assert stated_date("a decision by 2026-12-01", ON) == dt.date(2026, 12, 1)
    assert stated_date("we will be back to you by January 8th", ON) == dt.date(2027, 1, 8)  # the next 8 January
    assert stated_date("d'ici le 3 décembre", ON) == dt.date(2026, 12, 3)
    assert stated_date("bis spätestens 30. November", ON) == dt.date(2026, 11, 30)
    assert stated_date("by 31 November", ON) is None  # no such day
    assert stated_date("soon, maybe next week", ON) is None
    assert stated_date("by Friday", ON) is None  # a weekday alone is not stated plainly


NOT_REPLIES = [
    ({"auto_submitted": "auto-replied", "subject": "Re: Thank you"}, "auto_reply"),
    ({"auto_submitted": "no", "subject": "Re: Thank you"}, ""),
    ({"x_autoreply": True, "subject": "Thanks"}, "auto_reply"),
    ({"subject": "Automatic reply: Thank you for today"}, "auto_reply"),
    ({"subject": "Automatische Antwort: Ihr Gespräch"}, "auto_reply"),
    ({"subject": "Abwesenheitsnotiz: Danke"}, "auto_reply"),
    ({"subject": "Réponse automatique : Merci"}, "auto_reply"),
    ({"subject": "Respuesta automática: Gracias"}, "auto_reply"),
    ({"subject": "Fuera de la oficina"}, "auto_reply"),
    ({"subject": "Undeliverable: Thank you for today"}, "bounce"),
    ({"content_type": "multipart/report", "subject": "Delivery Status Notification (Failure)"}, "bounce"),
    ({"from_addrs": ("mailer-daemon@mx.example",), "subject": "failure"}, "bounce"),
    ({"precedence": "bulk", "subject": "10 jobs for you"}, "newsletter"),
    ({"list_unsubscribe": "<mailto:u@x>", "subject": "Our newsletter"}, "newsletter"),
    ({"subject": "Accepted: Interview with Northwind"}, "calendar_reply"),
    ({"calendar_method": "REPLY", "subject": "Interview"}, "calendar_reply"),
    ({"subject": "Re: next steps"}, ""),
]


@pytest.mark.parametrize(("rec", "kind"), NOT_REPLIES)
def test_what_is_not_a_reply(rec, kind):
    got, why = not_a_reply(rec)
    assert got == kind and (bool(why) == bool(kind))


def test_ats_senders_and_their_subdomains():
    assert ats_service("no-reply@us.greenhouse-mail.io") == "greenhouse"
    assert ats_service("notifications@hire.lever.co") == "lever"
    assert ats_service("bluefin@myworkday.com") == "workday"
    assert ats_service("no-reply@calendly.com") == "calendly"
    assert ats_service("jobs-noreply@linkedin.com") == "linkedin"
    assert ats_service("chloe.adams@northwind.example") == ""
    assert ats_service("x@notgreenhouse.io") == ""
