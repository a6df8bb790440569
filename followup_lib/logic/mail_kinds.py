"""What a message is — contract v3's message kinds — read from its headers and text
by small phrase tables a person can read and extend (English, German, French).

Pure: plain strings in, a kind (and a date the text states plainly) out.

- ``not_a_reply(rec)``: why a received message is not word from anyone (an
  out-of-office, a bounce, a newsletter or list, a calendar answer), or "".
- ``received_kind(subject, body, on)``: rejection, offer_letter, offer, invitation,
  date_moved, question, or update; with the date they gave (``next_step_by``).
- ``sent_kind(subject, body)``: the action kind (or extension_request, acceptance,
  decline, withdrawal, question) a message the client wrote by hand carries out.

A phrase is a regular expression matched case-insensitively against the subject
and the text (quoted lines of an earlier message left out). The first kind in a
table's order whose phrase is found wins: a rejection that thanks the client is
a rejection, not a thank-you.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

# ------------------------------------------------------------------ not a reply

AUTO_REPLY, BOUNCE, BULK, CALENDAR_REPLY = "auto_reply", "bounce", "newsletter", "calendar_reply"

# Subjects of automatic replies, by language (English, German, French, Spanish).
AUTO_REPLY_SUBJECTS = {
    "en": [r"automatic reply", r"auto[- ]?reply", r"auto[- ]?response", r"out of (the )?office", r"away from (the )?office",
           r"on (annual )?leave", r"\booo\b"],
    "de": [r"automatische antwort", r"abwesenheits(notiz|nachricht)", r"nicht im b(ü|ue)ro", r"au(ß|ss)er haus",
           r"\babwesend\b"],
    "fr": [r"r(é|e)ponse automatique", r"absen(t|te|ce) du bureau", r"\babsent(e)?\b", r"message d'absence"],
    "es": [r"respuesta autom(á|a)tica", r"fuera de la oficina", r"\bausente\b", r"fuera de oficina"],
}  # fmt: skip

# Subjects of delivery failures (a bounce names the message it returns).
BOUNCE_SUBJECTS = {
    "en": [r"undeliverable", r"undelivered mail", r"delivery status notification \(failure\)", r"mail delivery failed",
           r"returned mail", r"delivery (has )?failed", r"failure notice", r"could not be delivered"],
    "de": [r"unzustellbar", r"nicht zustellbar", r"(ü|ue)bermittlungsfehler"],
    "fr": [r"non remis", r"non distribuable", r"(é|e)chec de (la )?remise"],
    "es": [r"no se puede entregar", r"no entregado"],
}  # fmt: skip

# A calendar client's answer to an invitation (the client's own "Accepted:").
CALENDAR_REPLY_SUBJECTS = [r"^(accepted|declined|tentative|tentatively accepted|angenommen|abgelehnt|mit vorbehalt"
                           r"|accept(é|e)|refus(é|e)|provisoire|aceptado|rechazado)\s*:"]  # fmt: skip

BOUNCE_SENDERS = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|bounces?)@", re.I)


def _any(patterns, text: str) -> bool:
    return any(re.search(p, text, re.I) for p in patterns)


def _table(table: Mapping[str, list[str]]) -> re.Pattern:
    return re.compile("|".join(f"(?:{p})" for ps in table.values() for p in ps), re.I)


_AUTO_SUBJECT = _table(AUTO_REPLY_SUBJECTS)
_BOUNCE_SUBJECT = _table(BOUNCE_SUBJECTS)
_CALENDAR_REPLY = re.compile("|".join(CALENDAR_REPLY_SUBJECTS), re.I)


def not_a_reply(rec: Mapping) -> tuple[str, str]:
    """(kind, reason) when ``rec`` is not word from a person — ``auto_reply``,
    ``bounce``, ``newsletter`` or ``calendar_reply`` — else ("", "").

    Reads the headers the mailbox reader keeps (``auto_submitted``, ``x_autoreply``,
    ``precedence``, ``list_id``, ``list_unsubscribe``, ``content_type``,
    ``calendar_method``), the sender and the subject."""
    subject = rec.get("subject", "") or ""
    senders = rec.get("from_addrs", ())
    ctype = (rec.get("content_type") or "").lower()
    if ctype == "multipart/report" or any(BOUNCE_SENDERS.match(a) for a in senders):
        return BOUNCE, "a delivery failure (bounce): the message it returns did not arrive"
    if _BOUNCE_SUBJECT.search(subject):
        return BOUNCE, f"a delivery failure: subject “{subject[:60]}”"
    auto = (rec.get("auto_submitted") or "").strip().lower()
    if auto and auto != "no":
        return AUTO_REPLY, f"an automatic message (Auto-Submitted: {auto[:30]})"
    if rec.get("x_autoreply"):
        return AUTO_REPLY, "an automatic reply (X-Autoreply)"
    if (rec.get("calendar_method") or "").upper() == "REPLY" or _CALENDAR_REPLY.search(subject):
        return CALENDAR_REPLY, "a calendar answer to an invitation, not a message"
    if _AUTO_SUBJECT.search(subject):
        return AUTO_REPLY, f"an automatic reply: subject “{subject[:60]}”"
    precedence = (rec.get("precedence") or "").strip().lower()
    if precedence in {"bulk", "list", "junk"}:
        return BULK, f"sent to a list (Precedence: {precedence})"
    if rec.get("list_id") or rec.get("list_unsubscribe"):
        return BULK, "a newsletter or mailing list (List-Id / List-Unsubscribe)"
    return "", ""


# ------------------------------------------------------------------ received kinds

# kind -> language -> phrases. Order matters: the first kind found wins.
RECEIVED_PHRASES: dict[str, dict[str, list[str]]] = {
    "rejection": {
        "en": [r"not (to )?(be )?mov(e|ing) forward", r"decided to (proceed|move forward|go ahead) with (an?other|other)",
               r"(pursue|proceed with) other candidates", r"will not be (progressing|proceeding|taking)",
               r"regret to inform", r"(have|has) not been (selected|successful)", r"unsuccessful on this occasion",
               r"position has (now )?been filled", r"decided not to (proceed|progress|continue)",
               r"not (be )?able to offer you", r"(other|another) candidate(s)? whose"],
        "de": [r"leider (müssen|muessen) wir ihnen mitteilen", r"nicht (weiter )?ber(ü|ue)cksichtig",
               r"f(ü|ue)r (einen )?andere(n)? (kandidat|bewerber)", r"absage", r"nicht in die engere wahl",
               r"(stelle|position) (wurde )?(bereits )?anderweitig besetzt"],
        "fr": [r"ne (pas )?(pouvons|pourrons) (pas )?donner suite", r"ne pas donner suite", r"pas (été )?retenue?",
               r"nous regrettons de vous informer", r"(un|une) autre candidat", r"(autres|d'autres) candidatures?"],
    },
    "offer_letter": {
        "en": [r"offer letter", r"written offer", r"formal offer", r"(attached|enclosed) (is|please find) (your|the) offer",
               r"employment (contract|agreement)", r"contract of employment"],
        "de": [r"vertragsangebot", r"arbeitsvertrag", r"schriftliche(s|n)? angebot"],
        "fr": [r"lettre d'offre", r"promesse d'embauche", r"contrat de travail"],
    },
    "offer": {
        "en": [r"(pleased|happy|delighted|excited|thrilled) to (extend|make)? ?(you )?(an|the|a verbal)? ?offer",
               r"(pleased|happy|delighted|excited|thrilled) to offer you", r"would like to offer you",
               r"extend (you )?an offer", r"verbal offer", r"offer you the (role|position|job)"],
        "de": [r"(freuen|freue) (uns|mich),? ihnen (die stelle|ein angebot|eine zusage)", r"angebot (machen|unterbreiten)",
               r"m(ö|oe)chten ihnen die stelle anbieten"],
        "fr": [r"(avons|ai) le plaisir de vous (proposer|offrir) le poste", r"vous proposer le poste",
               r"proposition d'embauche"],
    },
    "invitation": {
        "en": [r"invite you (to|for)", r"next (round|stage|step is an interview)", r"schedule (an?|the|your) (interview|call|meeting)",
               r"(final|second|third|onsite|on-site) (round|interview)", r"would (like|love) to (meet|speak with) you",
               r"(book|pick|choose) a time", r"your availability"],
        "de": [r"laden sie (gerne |herzlich )?(zu|ein)", r"einladung zu(m)? ", r"n(ä|ae)chste(n)? (runde|gespr(ä|ae)ch)",
               r"termin (zu )?vereinbaren", r"vorstellungsgespr(ä|ae)ch"],
        "fr": [r"vous inviter (à|a)", r"convier? (à|a) un entretien", r"prochaine (étape|etape)", r"convenir d'un (rendez-vous|créneau)",
               r"vos disponibilit(é|e)s"],
    },
    "date_moved": {
        "en": [r"(push(ed)?|moved?) (back|out)", r"(has been |was )?(delayed|postponed)", r"tak(e|ing) (a bit |a little )?longer",
               r"new (date|timeline)", r"(decision|update|answer|news) (by|before|no later than|until)",
               r"expect to (have|get back|make|share)", r"get back to you (by|before|on)"],
        "de": [r"verz(ö|oe)ger", r"verschoben", r"(etwas )?l(ä|ae)nger dauern", r"(entscheidung|r(ü|ue)ckmeldung) bis"],
        "fr": [r"report(é|e)", r"(du |un )?retard", r"prendr(a|e) (un peu )?plus de temps", r"(réponse|décision|retour) d'ici"],
    },
    "question": {
        "en": [r"could you (please )?(send|share|let (us|me) know|provide|confirm)", r"can you (please )?(send|share|confirm)",
               r"would you be able to", r"please (send|share|provide|confirm)", r"do you have"],
        "de": [r"k(ö|oe)nnten sie", r"k(ö|oe)nnen sie (uns|mir)", r"bitte (senden|schicken) sie"],
        "fr": [r"pourriez-vous", r"pouvez-vous", r"merci de (nous |me )?(envoyer|transmettre|confirmer)"],
    },
}  # fmt: skip

# kind -> language -> phrases, for mail the client wrote. Action kinds first where
# they answer a due action; the first kind found wins.
SENT_PHRASES: dict[str, dict[str, list[str]]] = {
    "withdrawal": {
        "en": [r"withdraw (my|from)", r"withdrawing (my|from)"],
        "de": [r"bewerbung zur(ü|ue)ck(ziehen|zuziehen)", r"ziehe meine bewerbung"],
        "fr": [r"retirer ma candidature", r"retire ma candidature"],
    },
    "decline": {
        "en": [r"(respectfully |regretfully )?decline (the|your) offer", r"(must|have to|will) decline"],
        "de": [r"angebot (leider )?ab(lehnen|zulehnen|sagen)"],
        "fr": [r"d(é|e)cliner (votre|l')offre"],
    },
    "acceptance": {
        "en": [r"(happy|pleased|delighted|thrilled) to accept", r"\bi accept\b", r"formally accept"],
        "de": [r"nehme (das|ihr) angebot (gerne )?an"],
        "fr": [r"j'accepte", r"accepter (votre|l')offre"],
    },
    "extension_request": {
        "en": [r"(a (few|couple of) (more )?days|more time|an extension|extend the deadline)"],
        "de": [r"mehr zeit", r"fristverl(ä|ae)ngerung", r"(einige|ein paar) tage (mehr|länger)"],
        "fr": [r"plus de temps", r"d(é|e)lai suppl(é|e)mentaire", r"prolonger le d(é|e)lai"],
    },
    "request_written_offer": {
        "en": [r"(offer|it|the terms) in writing", r"written (offer|confirmation)"],
        "de": [r"schriftlich"],
        "fr": [r"par (é|e)crit"],
    },
    "thank_you_note": {
        "en": [r"thank(s| you) (so much |very much )?for (taking the time|your time|meeting|the (interview|conversation|chat)|"
               r"speaking|talking)"],
        "de": [r"(vielen |herzlichen )?dank f(ü|ue)r (das|unser|ihre zeit) ?(gespr(ä|ae)ch|interview)?"],
        "fr": [r"merci (beaucoup )?pour (l'entretien|votre temps|cet (é|e)change|notre (é|e)change)"],
    },
    "brief_references": {
        "en": [r"(heads[- ]up|may (get|receive) a call|might (hear|get a call))"],
        "de": [r"(anruf|kontakt) (bekommen|erhalten) k(ö|oe)nnte"],
        "fr": [r"pourrai(en)?t vous (contacter|appeler)"],
    },
    "status_inquiry": {
        "en": [r"follow(ing)? up", r"any (update|news)", r"where things stand", r"status of my application",
               r"checking in"],
        "de": [r"nachfragen", r"stand (meiner|der) bewerbung", r"neuigkeiten"],
        "fr": [r"faire le point", r"des nouvelles", r"(o(ù|u) en est|l'(é|e)tat de) ma candidature"],
    },
    "question": {
        "en": [r"\?\s*$"],
        "de": [r"\?\s*$"],
        "fr": [r"\?\s*$"],
    },
}  # fmt: skip

# An action a hand-written message of each sent kind can complete (besides itself).
ANSWERS = {"status_inquiry": ("status_inquiry", "offer_checkin"), "brief_references": ("brief_references",
           "reference_checkin")}  # fmt: skip

_RECEIVED = {k: _table(t) for k, t in RECEIVED_PHRASES.items()}
_SENT = {
    k: re.compile("|".join(f"(?:{p})" for ps in t.values() for p in ps), re.I | re.M) for k, t in SENT_PHRASES.items()
}
_QUOTED = re.compile(r"^\s*>.*$", re.M)
# "On Tue, 10 Nov 2026, Chloe wrote:" and everything after it is the earlier message.
_QUOTE_START = re.compile(
    r"^(on .{0,200} wrote:|am .{0,200} schrieb .{0,100}:|le .{0,200} a (é|e)crit ?:|-{2,} ?original message ?-{2,}|"
    r"-{2,} ?urspr(ü|ue)ngliche nachricht ?-{2,}|-{2,} ?message d'origine ?-{2,}|from: .{0,200}\n(sent|date): )",
    re.I | re.M,
)


def own_text(body: str, limit: int = 6000) -> str:
    """The part of a message its writer wrote: quoted lines and the quoted earlier
    message left out (so an old "unfortunately" in a thread is not read again)."""
    text = body or ""
    m = _QUOTE_START.search(text)
    if m:
        text = text[: m.start()]
    return _QUOTED.sub("", text)[:limit]


def received_kind(subject: str, body: str, on: dt.date | None = None) -> tuple[str, dt.date | None, str]:
    """(kind, next_step_by, phrase found) of a message from the employer; kind
    ``update`` and no date when nothing in the tables is found."""
    text = f"{subject}\n{own_text(body)}"
    for kind, pattern in _RECEIVED.items():
        m = pattern.search(text)
        if m:
            day = None if kind == "rejection" else stated_date(text, on)
            return kind, day, m.group(0)
    return "update", stated_date(text, on), ""


def sent_kind(subject: str, body: str) -> tuple[str | None, str]:
    """(kind, phrase found) of a message the client wrote by hand; (None, "") when
    none of the tables' phrases is in it."""
    text = f"{subject}\n{own_text(body)}"
    for kind, pattern in _SENT.items():
        m = pattern.search(text)
        if m:
            return kind, m.group(0).strip()
    return None, ""


# ------------------------------------------------------------------ dates stated plainly

MONTHS = {
    **dict.fromkeys(["january", "jan", "januar", "janvier", "jänner"], 1),
    **dict.fromkeys(["february", "feb", "februar", "février", "fevrier"], 2),
    **dict.fromkeys(["march", "mar", "märz", "maerz", "mars"], 3),
    **dict.fromkeys(["april", "apr", "avril"], 4),
    **dict.fromkeys(["may", "mai"], 5),
    **dict.fromkeys(["june", "jun", "juni", "juin"], 6),
    **dict.fromkeys(["july", "jul", "juli", "juillet"], 7),
    **dict.fromkeys(["august", "aug", "août", "aout"], 8),
    **dict.fromkeys(["september", "sep", "sept", "septembre"], 9),
    **dict.fromkeys(["october", "oct", "oktober", "octobre"], 10),
    **dict.fromkeys(["november", "nov", "novembre"], 11),
    **dict.fromkeys(["december", "dec", "dezember", "décembre", "decembre"], 12),
}
_MONTH = "|".join(sorted((re.escape(m) for m in MONTHS), key=len, reverse=True))
# A date after a word that makes it a deadline ("by", "bis zum", "d'ici le").
_LEAD = r"(?:by|before|until|no later than|on|bis(?: zum| spätestens)?|spätestens(?: am)?|am|d'ici(?: le)?|avant le|au plus tard le|le)"
_WEEKDAY = r"(?:[a-zäéû]+,?\s+)?"
_DATE_PATTERNS = [
    re.compile(rf"\b{_LEAD}\s+{_WEEKDAY}(\d{{4}})-(\d\d)-(\d\d)\b", re.I),  # ISO
    re.compile(rf"\b{_LEAD}\s+{_WEEKDAY}(\d{{1,2}})(?:st|nd|rd|th|er|\.)?\s+(?:of\s+)?({_MONTH})\.?(?:,?\s+(\d{{4}}))?\b", re.I),
    re.compile(rf"\b{_LEAD}\s+{_WEEKDAY}({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?\b", re.I),
]  # fmt: skip


def stated_date(text: str, on: dt.date | None) -> dt.date | None:
    """The first date the text states plainly after "by", "until", "bis zum",
    "d'ici le"… (2026-11-20, 20 November, November 20th, 20. November 2026, le 20
    novembre). Without a year: the next such day on or after ``on``. None when
    no date is stated, or it is not a real day."""
    for n, pattern in enumerate(_DATE_PATTERNS):
        for m in pattern.finditer(text):
            try:
                if n == 0:
                    return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
                if n == 1:
                    day, month, year = int(m.group(1)), MONTHS[m.group(2).lower()], m.group(3)
                else:
                    month, day, year = MONTHS[m.group(1).lower()], int(m.group(2)), m.group(3)
                if year:
                    return dt.date(int(year), month, day)
                base = on or dt.date(2000, 1, 1)
                guess = dt.date(base.year, month, day)
                return guess if guess >= base - dt.timedelta(days=7) else dt.date(base.year + 1, month, day)
            except (ValueError, KeyError):
                continue
    return None


# ------------------------------------------------------------------ applicant-tracking senders

# Domains of applicant-tracking and scheduling services: their mail speaks for an
# employer named in the display name, the Reply-To, the subject or the text.
ATS_DOMAINS = {
    "greenhouse": ("greenhouse.io", "greenhouse-mail.io"),
    "lever": ("lever.co", "hire.lever.co"),
    "workday": ("myworkday.com", "workday.com", "myworkdayjobs.com"),
    "ashby": ("ashbyhq.com",),
    "icims": ("icims.com",),
    "smartrecruiters": ("smartrecruiters.com",),
    "teamtailor": ("teamtailor.com", "teamtailor-mail.com"),
    "personio": ("personio.de", "personio.com"),
    "calendly": ("calendly.com",),
    "linkedin": ("linkedin.com",),
}


def ats_service(address: str) -> str:
    """The applicant-tracking or scheduling service an address belongs to (its
    domain or a subdomain of it), or ""."""
    domain = address.rsplit("@", 1)[-1].lower()
    for name, domains in ATS_DOMAINS.items():
        if any(domain == d or domain.endswith("." + d) for d in domains):
            return name
    return ""
