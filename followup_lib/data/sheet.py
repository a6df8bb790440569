"""A client's own tracker (one row per application) read into the workbook's tables.

``plan_sheet`` reads a .csv (its encoding and delimiter detected and named), .xlsx
or .ods, finds the header row, matches each column to a field by meaning (a table
of synonyms in English, German, French and Spanish, then ``rapidfuzz`` similarity
for near misses), reads every value by name (statuses through ``STATUSES``, dates
in ISO, dd/mm/yyyy, mm/dd/yyyy, dd.mm.yyyy, "3 Nov 2026" or Excel serial numbers)
and compares each row it would write with the store. Nothing is written:
``SheetPlan.describe()`` is the dry run. ``apply_plan`` writes it through
``transfer.import_path`` — the same all-or-nothing, keyed-by-id import as
``followup import`` — adding new rows only, and replacing rows that differ from
the store only when asked (``update``).

Ids are stable (the coachee, company, role and applied date), so importing the
same sheet again, or a later copy with more rows, adds only what is new.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .. import paths
from ..errors import UserError
from ..schema import CLOSED_STATUSES, TABLES
from .store import Store
from .transfer import (
    ImportResult,
    _check_workbook_size,
    decode,
    export_frame,
    import_path,
    read_file_bytes,
    read_workbook,
    table_from_records,
)
from .validation import Problem, RawTable, ValidationError, guard_formula, sort_problems, validate_tables

# ------------------------------------------------------------------ the fields


@dataclass(frozen=True)
class Field:
    name: str
    what: str  # where it goes, in a coach's words
    kind: str = "text"  # text, date, status, person
    several: bool = False  # several columns may feed it (interview dates, notes)


FIELDS: dict[str, Field] = {
    f.name: f
    for f in (
        Field("company", "the application's company"),
        Field("role", "the application's role"),
        Field("status", "the application's status (read through the status table)", "status"),
        Field("applied_on", "the day the application went out", "date"),
        Field("interview_on", "an interview on each date (a column per round, or dates separated by ;)", "date", True),
        Field("offer_on", "the offer's date (the verbal offer)", "date"),
        Field("closed_on", "the day an ended application ended", "date"),
        Field("follow_up_on", "the follow-up date the client planned (kept in the notes)", "date"),
        Field("contact", "a contact: a name, an address or both (the point of contact)", "person"),
        Field("contact_name", "the contact's name"),
        Field("contact_email", "the contact's email address"),
        Field("contact_phone", "the contact's phone number"),
        Field("interviewer", "the interviewer of the latest interview (a name, an address or both)", "person"),
        Field("source", "where the job was found (the application's source)"),
        Field("link", "the job posting's link (kept in the notes)"),
        Field("location", "the job's location (kept in the notes)"),
        Field("salary", "the salary range (kept in the notes)"),
        Field("notes", "the application's notes", several=True),
    )
}

# Headers per field, in English, German, French and Spanish. Compared after
# ``normalize`` (case, accents and punctuation do not count).
SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "company": {
        "en": ("company", "company name", "employer", "organization", "organisation", "org", "firm"),
        "de": ("firma", "unternehmen", "arbeitgeber", "firmenname"),
        "fr": ("entreprise", "société", "employeur", "nom de l'entreprise"),
        "es": ("empresa", "compañía", "nombre de la empresa", "organización", "empleador"),
    },
    "role": {
        "en": ("role", "job title", "title", "position", "position title", "job", "role/title", "job position"),
        "de": ("stelle", "stellenbezeichnung", "rolle", "berufsbezeichnung", "jobtitel", "job-titel"),
        "fr": ("poste", "intitulé du poste", "titre du poste", "fonction"),
        "es": ("puesto", "cargo", "título del puesto", "posición", "rol"),
    },
    "status": {
        "en": ("status", "stage", "application status", "state", "current status", "pipeline stage"),
        "de": ("stand", "bewerbungsstatus", "stadium"),
        "fr": ("statut", "état", "étape"),
        "es": ("estado", "estatus", "etapa"),
    },
    "applied_on": {
        "en": (
            "date applied",
            "applied",
            "applied on",
            "application date",
            "date of application",
            "applied date",
            "date submitted",
            "submitted",
        ),
        "de": ("beworben am", "bewerbungsdatum", "datum der bewerbung", "beworben"),
        "fr": ("date de candidature", "candidature envoyée le", "postulé le", "date d'envoi"),
        "es": ("fecha de solicitud", "fecha de aplicación", "fecha de postulación", "aplicado el", "fecha de envío"),
    },
    "interview_on": {
        "en": (
            "interview date",
            "interview",
            "interview on",
            "date of interview",
            "interview 1",
            "interview 2",
            "interview 3",
            "interview date 1",
            "interview date 2",
            "interview date 3",
            "1st interview",
            "2nd interview",
            "3rd interview",
            "interview dates",
            "first interview",
            "second interview",
            "final interview date",
        ),
        "de": (
            "gesprächstermin",
            "vorstellungsgespräch",
            "interviewtermin",
            "interview datum",
            "gespräch am",
            "datum des gesprächs",
        ),
        "fr": ("date d'entretien", "date de l'entretien", "entretien", "entretien le"),
        "es": ("fecha de entrevista", "entrevista", "fecha de la entrevista"),
    },
    "offer_on": {
        "en": ("offer date", "date of offer", "offer received", "offer on"),
        "de": ("angebotsdatum", "angebot am"),
        "fr": ("date de l'offre", "offre reçue le"),
        "es": ("fecha de oferta", "fecha de la oferta"),
    },
    "closed_on": {
        "en": ("date closed", "closed on", "closed", "rejection date", "rejected on", "end date", "date ended"),
        "de": ("abgeschlossen am", "absage am", "datum der absage"),
        "fr": ("date de clôture", "date du refus"),
        "es": ("fecha de cierre", "fecha de rechazo"),
    },
    "follow_up_on": {
        "en": ("follow-up date", "follow up", "follow-up", "follow up on", "next follow-up", "follow up by"),
        "de": ("nachfassen am", "nachfassen", "wiedervorlage"),
        "fr": ("date de relance", "relance"),
        "es": ("fecha de seguimiento", "seguimiento"),
    },
    "contact": {
        "en": (
            "contact",
            "contact person",
            "recruiter",
            "hiring manager",
            "point of contact",
            "contact info",
            "contact details",
        ),
        "de": ("kontakt", "ansprechpartner", "ansprechpartnerin", "ansprechperson", "kontaktperson"),
        "fr": ("personne de contact", "recruteur", "interlocuteur"),
        "es": ("contacto", "persona de contacto", "reclutador"),
    },
    "contact_name": {
        "en": ("contact name", "recruiter name", "name of contact"),
        "de": ("name des ansprechpartners", "ansprechpartner name"),
        "fr": ("nom du contact",),
        "es": ("nombre del contacto", "nombre de contacto"),
    },
    "contact_email": {
        "en": ("contact email", "email", "e-mail", "email address", "recruiter email", "contact e-mail"),
        "de": ("e-mail-adresse", "kontakt e-mail", "e-mail des ansprechpartners"),
        "fr": ("courriel", "adresse e-mail", "e-mail du contact"),
        "es": ("correo", "correo electrónico", "email de contacto", "correo del contacto"),
    },
    "contact_phone": {
        "en": ("phone", "contact phone", "telephone", "phone number"),
        "de": ("telefon", "telefonnummer"),
        "fr": ("téléphone",),
        "es": ("teléfono",),
    },
    "interviewer": {
        "en": ("interviewer", "interviewer name", "interviewed by", "met with"),
        "de": ("gesprächspartner", "interviewer in"),
        "fr": ("intervieweur", "recruteur rencontré"),
        "es": ("entrevistador", "entrevistadora"),
    },
    "source": {
        "en": ("source", "found via", "found on", "job board", "where found", "platform", "referral source"),
        "de": ("quelle", "gefunden über", "jobbörse", "portal"),
        "fr": ("canal", "trouvé via"),
        "es": ("fuente", "canal de búsqueda"),
    },
    "link": {
        "en": ("link", "job link", "url", "job url", "posting", "job posting", "posting url"),
        "de": ("stellenanzeige", "link zur anzeige"),
        "fr": ("lien", "lien de l'offre", "annonce"),
        "es": ("enlace", "url de la oferta", "anuncio"),
    },
    "location": {
        "en": ("location", "city", "place", "job location"),
        "de": ("ort", "standort", "stadt", "arbeitsort"),
        "fr": ("lieu", "ville", "localisation"),
        "es": ("ubicación", "ciudad", "lugar"),
    },
    "salary": {
        "en": ("salary", "salary range", "compensation", "pay", "expected salary"),
        "de": ("gehalt", "gehaltsspanne", "gehaltsvorstellung"),
        "fr": ("salaire", "rémunération", "fourchette de salaire"),
        "es": ("salario", "sueldo", "rango salarial"),
    },
    "notes": {
        "en": ("notes", "note", "comments", "comment", "remarks", "details"),
        "de": ("notizen", "bemerkungen", "kommentar", "anmerkungen"),
        "fr": ("remarques", "commentaires"),
        "es": ("notas", "comentarios", "observaciones"),
    },
}

# Below this rapidfuzz score (0-100) a header is not a near miss of any synonym.
SIMILAR_ENOUGH = 86


def normalize(text: object) -> str:
    """A header or a value as it is compared: lower case, no accents, every run of
    punctuation or spaces one space ("Date-Applied " and "date applied" are one)."""
    t = unicodedata.normalize("NFKD", str(text or "")).encode("ascii", "ignore").decode().lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", t).split())


def _synonym_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for name, by_language in SYNONYMS.items():
        for words in by_language.values():
            for word in words:
                key = normalize(word)
                if index.setdefault(key, name) != name:
                    raise AssertionError(f"{word!r} is a synonym of both {index[key]} and {name}")
    return index


SYNONYM_INDEX = _synonym_index()


def field_of(header: str) -> tuple[str | None, str]:
    """(field, how) for one header: an exact synonym, else the nearest synonym
    above SIMILAR_ENOUGH, else (None, "")."""
    key = normalize(header)
    if not key:
        return None, ""
    if key in SYNONYM_INDEX:
        return SYNONYM_INDEX[key], "synonym"
    if len(key) < 4:
        return None, ""
    from rapidfuzz import fuzz, process

    best = process.extractOne(key, list(SYNONYM_INDEX), scorer=fuzz.ratio, score_cutoff=SIMILAR_ENOUGH)
    if best is None:
        return None, ""
    word, score, _ = best
    return SYNONYM_INDEX[word], f"similar to {word!r} ({score:.0f}%)"


# ------------------------------------------------------------------ statuses


@dataclass(frozen=True)
class Status:
    status: str  # the store's status
    note: bool = False  # the sheet's word is kept in the notes (it says more than the status)
    final: bool = False  # the latest interview was the final round
    round: str = ""  # the round the latest interview was, when the word says


# What each word of a tracker's status column means for the store. Compared after
# ``normalize``. A word that says more than the store's status (Ghosted, On hold,
# Wishlist) is kept in the application's notes as the sheet wrote it.
_STATUS_WORDS: list[tuple[Status, tuple[str, ...]]] = [
    (
        Status("active"),
        (
            "applied",
            "submitted",
            "application sent",
            "sent",
            "in review",
            "under review",
            "in progress",
            "waiting",
            "pending",
            "assessment",
            "interview",
            "interviewing",
            "interviewed",
            "technical interview",
            "on site",
            "onsite",
            "beworben",
            "bewerbung gesendet",
            "bewerbung verschickt",
            "bewerbung abgeschickt",
            "in bearbeitung",
            "warten",
            "offen",
            "vorstellungsgespräch",
            "gespräch",
            "interview",
            "postulé",
            "candidature envoyée",
            "envoyée",
            "en cours",
            "entretien",
            "en attente",
            "aplicado",
            "postulado",
            "enviada",
            "enviado",
            "solicitud enviada",
            "en proceso",
            "entrevista",
        ),
    ),
    (
        Status("active", round="1"),
        (
            "screening",
            "screen",
            "phone screen",
            "recruiter screen",
            "hr screen",
            "first interview",
            "1st interview",
            "telefoninterview",
            "erstes gespräch",
            "entretien téléphonique",
            "premier entretien",
            "primera entrevista",
            "entrevista telefónica",
        ),
    ),
    (
        Status("active", round="2"),
        ("second interview", "2nd interview", "zweites gespräch", "deuxième entretien", "segunda entrevista"),
    ),
    (
        Status("active", final=True),
        (
            "final round",
            "final interview",
            "final",
            "last round",
            "final stage",
            "finale runde",
            "letzte runde",
            "letztes gespräch",
            "entretien final",
            "dernier entretien",
            "entrevista final",
            "última ronda",
            "ronda final",
        ),
    ),
    (
        Status("offer"),
        (
            "offer",
            "offer received",
            "verbal offer",
            "offered",
            "negotiating",
            "negotiation",
            "offer negotiation",
            "angebot",
            "angebot erhalten",
            "verhandlung",
            "zusage",
            "offre",
            "offre reçue",
            "négociation",
            "oferta",
            "oferta recibida",
            "negociando",
            "negociación",
        ),
    ),
    (
        Status("accepted"),
        (
            "accepted",
            "offer accepted",
            "angenommen",
            "angebot angenommen",
            "accepté",
            "acceptée",
            "aceptada",
            "aceptado",
        ),
    ),
    (
        Status("hired"),
        ("hired", "started", "signed", "eingestellt", "embauché", "embauchée", "contratado", "contratada"),
    ),
    (
        Status("rejected"),
        (
            "rejected",
            "not selected",
            "no offer",
            "turned down",
            "unsuccessful",
            "rejection",
            "position filled",
            "no longer under consideration",
            "absage",
            "abgelehnt",
            "refusé",
            "refusée",
            "refus",
            "rejeté",
            "rejetée",
            "rechazado",
            "rechazada",
        ),
    ),
    (
        Status("withdrawn"),
        (
            "withdrawn",
            "withdrew",
            "i withdrew",
            "withdrew application",
            "offer declined",
            "declined offer",
            "i declined",
            "not interested",
            "zurückgezogen",
            "retiré",
            "retirée",
            "candidature retirée",
            "désisté",
            "retirado",
            "retirada",
        ),
    ),
    (
        Status("active", note=True),
        (
            "ghosted",
            "no response",
            "no reply",
            "no answer",
            "no news",
            "on hold",
            "paused",
            "wishlist",
            "bookmarked",
            "saved",
            "applying",
            "interested",
            "to apply",
            "keine antwort",
            "keine Rückmeldung",
            "pausiert",
            "pas de réponse",
            "sans réponse",
            "sans nouvelles",
            "en pause",
            "sin respuesta",
            "en pausa",
        ),
    ),
]
# Words that could mean either of two statuses: refused by name, never guessed.
AMBIGUOUS_STATUSES = {
    "declined": "could mean they turned the client down (Rejected) or the client turned them down (Withdrawn)",
    "closed": "could mean Rejected, Withdrawn or Hired",
    "done": "could mean Rejected, Withdrawn or Hired",
    "abgesagt": "could mean they turned the client down (Absage) or the client withdrew (Zurückgezogen)",
}
STATUSES: dict[str, Status] = {}
for _status, _words in _STATUS_WORDS:
    for _word in _words:
        STATUSES.setdefault(normalize(_word), _status)


def read_status(value: str) -> tuple[Status | None, str]:
    """(Status, how) for one cell of a status column; (None, why not) when the word
    is ambiguous or unknown. A blank cell is active (the store's default)."""
    key = normalize(value)
    if not key:
        return Status("active"), "blank: active"
    if key in AMBIGUOUS_STATUSES:
        return None, f"{value!r} {AMBIGUOUS_STATUSES[key]}; write the status the client means"
    if key in STATUSES:
        return STATUSES[key], ""
    from rapidfuzz import fuzz, process

    best = process.extractOne(key, list(STATUSES), scorer=fuzz.ratio, score_cutoff=SIMILAR_ENOUGH)
    if best is not None and len(key) >= 5:
        return STATUSES[best[0]], f"read as {best[0]!r}"
    known = (
        "Applied, Screening, Interview, Final round, Offer, Negotiating, Accepted, Hired, Rejected, Withdrawn, Ghosted"
    )
    return (
        None,
        f"{value!r} is not a status the import knows; write one of {known} (or their German, French or Spanish words)",
    )


# ------------------------------------------------------------------ dates

MONTHS = {
    normalize(name): number
    for number, names in enumerate(
        [
            ("january", "jan", "januar", "janvier", "janv", "enero", "ene", "jänner", "jän"),
            ("february", "feb", "februar", "février", "févr", "fevr", "febrero"),
            ("march", "mar", "märz", "mär", "mrz", "mars", "marzo"),
            ("april", "apr", "avril", "avr", "abril", "abr"),
            ("may", "mai", "mayo"),
            ("june", "jun", "juni", "juin", "junio"),
            ("july", "jul", "juli", "juillet", "juil", "julio"),
            ("august", "aug", "août", "aout", "agosto", "ago"),
            ("september", "sep", "sept", "septembre", "septiembre", "set"),
            ("october", "oct", "oktober", "okt", "octobre", "octubre"),
            ("november", "nov", "novembre", "noviembre"),
            ("december", "dec", "dezember", "dez", "décembre", "diciembre", "dic"),
        ],
        start=1,
    )
    for name in names
}
# Words a written-out date may carry around its day, month and year.
_DATE_FILLER = {"de", "del", "le", "the", "of", "am", "on", "el"} | {
    normalize(d)
    for d in "mon tue tues wed thu thur thurs fri sat sun monday tuesday wednesday thursday friday saturday sunday "
    "montag dienstag mittwoch donnerstag freitag samstag sonntag mo di mi do fr sa so lundi mardi mercredi jeudi "
    "vendredi samedi dimanche lunes martes miercoles jueves viernes sabado domingo".split()
}
_ISO = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_NUMERIC = re.compile(r"^(\d{1,2})([./-])(\d{1,2})\2(\d{4}|\d{2})(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?$")
_SERIAL = re.compile(r"^\d{5}(?:\.\d+)?$")
# Excel's day 0 (its serial numbers count from here, its 1900 leap-year bug included).
EXCEL_EPOCH = dt.date(1899, 12, 30)
# Where month/day/year is how people write a date; anywhere else a country's
# people write day first. Canada writes both: its dates cannot be told apart.
MONTH_FIRST_COUNTRIES = {"US", "PH", "FM", "MH", "PW", "AS", "GU", "MP", "PR", "UM", "VI"}
BOTH_ORDERS_COUNTRIES = {"CA"}


@dataclass(frozen=True)
class DayMonth:
    """A date written with numbers only, whose day and month may be either way."""

    first: int
    second: int
    year: int

    def as_date(self, day_first: bool) -> dt.date:
        d, m = (self.first, self.second) if day_first else (self.second, self.first)
        return dt.date(self.year, m, d)


def read_date_cell(text: str) -> dt.date | DayMonth | None:
    """One date cell: a date, a DayMonth (the order decided per column), or None
    for text that is not a date the import reads."""
    t = text.strip()
    try:
        if m := _ISO.match(t):
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        if _SERIAL.match(t):
            n = float(t)
            if 20_000 <= n <= 80_000:  # 1954 to 2119: a job search's dates, never a count
                return EXCEL_EPOCH + dt.timedelta(days=int(n))
            return None
        if m := _NUMERIC.match(t):
            year = int(m[4]) + (2000 if len(m[4]) == 2 else 0)
            a, b = int(m[1]), int(m[3])
            if m[2] == "." and a <= 31 and b <= 12:
                return dt.date(year, b, a)  # dd.mm.yyyy: written day first wherever dots are used
            if a > 12:
                return dt.date(year, b, a)
            if b > 12:
                return dt.date(year, a, b)
            return dt.date(year, a, b) if a == b else DayMonth(a, b, year)
    except ValueError:  # 31.02.2026: a date that does not exist
        return None
    return _written_date(t)


def _written_date(text: str) -> dt.date | None:
    """ "3 Nov 2026", "November 3rd, 2026", "3. November 2026", "3 de noviembre de 2026"."""
    words = normalize(re.sub(r"(\d)(st|nd|rd|th|er|e|º|°)\b", r"\1", text, flags=re.IGNORECASE)).split()
    words = [w for w in words if w not in _DATE_FILLER]
    months = [MONTHS[w] for w in words if w in MONTHS]
    numbers = [w for w in words if w.isdigit()]
    if len(months) != 1 or len(numbers) != 2 or len(words) != 3:
        return None
    year = next((int(n) for n in numbers if len(n) == 4), None)
    day = next((int(n) for n in numbers if len(n) <= 2), None)
    if year is None or day is None:
        return None
    try:
        return dt.date(year, months[0], day)
    except ValueError:
        return None


@dataclass
class DateOrder:
    """How one date column's numeric dates are read, and why."""

    day_first: bool | None  # None: the column's dates need no order (ISO, serials, written out)
    why: str
    refused: bool = False  # the order cannot be told: the import stops, ``why`` says where


def decide_order(values: list[tuple[int, str, object]], country: str | None, override: str | None) -> DateOrder:
    """The day-month order of one column, from its values ((row, text, parsed)):
    a first number past 12 means day first, a second one past 12 month first.
    When no value tells, ``override`` ("dmy"/"mdy"), else the coachee's country."""
    day_first = [(r, t) for r, t, _ in values if _written_day_first(t) is True]
    month_first = [(r, t) for r, t, _ in values if _written_day_first(t) is False]
    ambiguous = [(r, t) for r, t, p in values if isinstance(p, DayMonth)]
    if day_first and month_first:
        (r1, t1), (r2, t2) = day_first[0], month_first[0]
        return DateOrder(None, f"mixes day-first (row {r1}: {t1}) and month-first (row {r2}: {t2}) dates", True)
    if day_first:
        return DateOrder(True, f"day first (row {day_first[0][0]}: {day_first[0][1]} has a day past 12)")
    if month_first:
        return DateOrder(False, f"month first (row {month_first[0][0]}: {month_first[0][1]} has a day past 12)")
    if not ambiguous:
        kinds = dict.fromkeys(_date_kind(t, p) for _, t, p in values if p is not None)
        return DateOrder(None, ", ".join(k for k in kinds if k))
    if override:
        return DateOrder(override == "dmy", f"{'day' if override == 'dmy' else 'month'} first (--dates {override})")
    c = (country or "").strip().upper()
    if c in MONTH_FIRST_COUNTRIES:
        return DateOrder(False, f"month first: no value tells, and the coachee's country {c} writes month first")
    if c and c not in BOTH_ORDERS_COUNTRIES:
        return DateOrder(True, f"day first: no value tells, and the coachee's country {c} writes day first")
    r, t = ambiguous[0]
    why = f"the coachee's country {c} writes both orders" if c else "the coachee has no country"
    return DateOrder(
        None,
        f"row {r}: {t} could be day or month first; no value in the column tells, and {why} (--dates dmy or mdy)",
        True,
    )


def _date_kind(text: str, parsed) -> str:
    """How one readable date cell was written, for the dry run."""
    t = text.strip()
    if _ISO.match(t):
        return "ISO"
    if _SERIAL.match(t):
        return "Excel serial numbers"
    m = _NUMERIC.match(t)
    if m:
        return "dd.mm.yyyy (day first)" if m[2] == "." else ""
    return "written out (3 Nov 2026)"


def _written_day_first(text: str) -> bool | None:
    """True/False when a numeric date's own numbers say day or month first."""
    m = _NUMERIC.match(text.strip())
    if not m or m[2] == ".":
        return None
    a, b = int(m[1]), int(m[3])
    if a > 12 >= b:
        return True
    if b > 12 >= a:
        return False
    return None


# ------------------------------------------------------------------ reading the file

SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".ods")
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
# The header is looked for in this many rows from the top (a title row or two above it).
HEADER_SEARCH_ROWS = 10
SHEET_TABLE = "(sheet)"


@dataclass
class Grid:
    """One sheet's cells as read, before its header is known."""

    source: str  # "tracker.csv", "tracker.xlsx, sheet Applications"
    how_read: str  # "UTF-8, comma-separated", "sheet Applications (1 of 2)"
    records: list[list]


def _encoding_of(data: bytes) -> tuple[str, str]:
    """(text, the encoding's name) of a CSV file's bytes."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "UTF-16"  # Excel's "Unicode text"
        except UnicodeDecodeError as exc:
            raise ValidationError([Problem(SHEET_TABLE, None, None, f"is not valid UTF-16: {exc}")]) from exc
    try:
        return data.decode("utf-8-sig"), "UTF-8 with a byte-order mark" if data.startswith(b"\xef\xbb\xbf") else "UTF-8"
    except UnicodeDecodeError:
        pass
    text = decode(data, SHEET_TABLE)  # refuses a file that mixes encodings, naming the row
    try:
        data.decode("cp1252")
        return text, "Windows-1252"
    except UnicodeDecodeError:
        return text, "Latin-1"


def _delimiter_of(text: str) -> str:
    """The delimiter that splits the first rows into the same number (>1) of cells most often."""
    lines = [line for line in text.split("\n")[:30] if line.strip()]
    best, best_score = ",", (0, 0)
    for sep in DELIMITERS:
        widths = [len(r) for r in csv.reader(io.StringIO("\n".join(lines)), delimiter=sep) if any(c.strip() for c in r)]
        if not widths:
            continue
        common = max(set(widths), key=widths.count)
        score = (widths.count(common) if common > 1 else 0, common)
        if score > best_score:
            best, best_score = sep, score
    return best


def _read_csv(path: Path, name: str) -> Grid:
    text, encoding = _encoding_of(read_file_bytes(path, SHEET_TABLE))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    declared = re.match(r"sep=(.)\n", text)
    if declared:  # Excel's own line naming the separator
        text = text[declared.end() :]
    sep = declared.group(1) if declared else _delimiter_of(text)
    records: list[list] = []
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))
    try:
        for record in csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True):
            records.append(record)
    except csv.Error as exc:
        raise ValidationError(
            [
                Problem(
                    SHEET_TABLE,
                    len(records) + 1,
                    None,
                    f"cannot be read as CSV ({exc}); check for a quote mark that is not closed",
                    name,
                )
            ]
        ) from exc
    return Grid(name, f"{encoding}, {DELIMITERS.get(sep, repr(sep))}-separated", records)


def _read_ods(path: Path) -> dict[str, list[list]]:
    _check_workbook_size(path)  # the same bound as followup import's workbooks
    try:
        sheets = pd.read_excel(path, engine="odf", header=None, sheet_name=None, dtype=object)
    except Exception as exc:  # odfpy raises many kinds for a damaged file
        raise ValidationError(
            [Problem(SHEET_TABLE, None, None, f"cannot be read as a spreadsheet: {exc}", path.name)]
        ) from exc
    out = {}
    for name, frame in sheets.items():
        out[str(name)] = [
            [None if v is None or (not isinstance(v, str) and pd.isna(v)) else v for v in row]
            for row in frame.itertuples(index=False)
        ]
    return out


def read_grids(path: str | Path, name: str | None = None) -> list[Grid]:
    """Every sheet of the file (a .csv has one), as cells; ``name`` is the file's name
    as the coach knows it (an upload is read from a copy under another name)."""
    path = Path(path)
    name = name or path.name
    suffix = path.suffix.lower()
    if not path.exists():
        raise UserError(f"{path} does not exist")
    if suffix not in SUFFIXES:
        raise UserError(f"{name} is not a spreadsheet the import reads (.csv, .xlsx or .ods)")
    if suffix in (".csv", ".txt", ".tsv"):
        return [_read_csv(path, name)]
    books = _read_ods(path) if suffix == ".ods" else read_workbook(path)
    n = len(books)
    return [
        Grid(
            f"{name}, sheet {title}",
            f"{'OpenDocument' if suffix == '.ods' else 'Excel'} workbook, sheet {i} of {n}",
            rows,
        )
        for i, (title, rows) in enumerate(books.items(), start=1)
    ]


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _header_names(top: list, sub: list | None) -> list[str]:
    """Column names from one header row, or from two (``top`` holding merged group
    cells over ``sub``: "Interview" over "Date" and "Round")."""
    if sub is None:
        return [_text(v) for v in top]
    width = max(len(top), len(sub))
    top = [_text(v) for v in top] + [""] * (width - len(top))
    sub = [_text(v) for v in sub] + [""] * (width - len(sub))
    filled, last = [], ""
    for t in top:  # a merged cell holds its value in its first column only
        last = t or last
        filled.append(last)
    names = []
    for t, s, own in zip(filled, sub, top):
        if not s:
            names.append(own)
        elif not t or field_of(s)[1] == "synonym":
            names.append(s)
        else:
            names.append(f"{t} {s}")
    return names


def _score(names: list[str]) -> int:
    return len({f for f, how in map(field_of, names) if f and how == "synonym"})


def find_header(records: list[list]) -> tuple[int, list[str]]:
    """(the first data row's index in ``records``, the column names): the row (or
    two rows, under merged group cells) among the first HEADER_SEARCH_ROWS that
    names the most fields."""
    best = (0, 0, 0)  # score, -kind (single first), -row
    choice = (1, [_text(v) for v in records[0]] if records else [])
    for h in range(min(HEADER_SEARCH_ROWS, len(records))):
        candidates = [(0, records[h], None)]
        if h + 1 < len(records):
            candidates.append((1, records[h], records[h + 1]))
        for kind, top, sub in candidates:
            names = _header_names(top, sub)
            key = (_score(names), -kind, -h)
            if key > best:
                best, choice = key, (h + 1 + kind, names)
    if best[0] < 2:
        raise ValidationError(
            [
                Problem(
                    SHEET_TABLE,
                    None,
                    None,
                    f"no header row in the first {HEADER_SEARCH_ROWS} rows names a company and a role "
                    "(nor two other fields); is this a job tracker, one row per application?",
                )
            ]
        )
    return choice


def _under_merged(names: list[str]) -> list[str]:
    """A blank header right of one that takes several columns is the rest of a merged
    cell ("Interview dates" over two columns): it is read as that field too."""
    out = list(names)
    for j in range(1, len(out)):
        f = field_of(out[j - 1])[0]
        if not out[j].strip() and f and FIELDS[f].several:
            out[j] = out[j - 1]
    return out


def _unique(names: list[str]) -> list[str]:
    """Headers made unique ("Notes", "Notes (2)"); a blank one stays blank."""
    out, seen = [], {}
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if not n or seen[n] == 1 else f"{n} ({seen[n]})")
    return out


# ------------------------------------------------------------------ columns to fields

NOT_USED = "-"  # --map "Header=-": the column is not read


@dataclass
class ColumnChoice:
    header: str
    field: str | None
    how: str  # "synonym", "similar to 'x' (91%)", "--map", "mapping teal"; or why it is not used


def parse_map(items: list[str] | None) -> dict[str, str | None]:
    """``--map "Header=field"`` options as {normalized header: field, or None for "-"}."""
    out: dict[str, str | None] = {}
    for item in items or []:
        header, sep, name = item.rpartition("=")
        name = name.strip()
        if not sep or not header.strip():
            raise UserError(f'--map {item!r}: write it as "Header=field" (or "Header=-" to leave a column out)')
        if name not in FIELDS and name != NOT_USED:
            raise UserError(
                f"--map {item!r}: {name!r} is not a field; the fields are {', '.join(FIELDS)} (or - for none)"
            )
        out[normalize(header)] = None if name == NOT_USED else name
    return out


def choose_columns(
    headers: list[str], overrides: dict[str, str | None], saved: dict[str, str | None], saved_name: str = ""
) -> list[ColumnChoice]:
    """The field each column is read as: ``overrides`` (--map) first, then a saved
    mapping, then by meaning. A field that takes one column and is claimed by two
    keeps the exact synonym (else the first); the other is shown as not used."""
    choices = []
    for h in headers:
        key = normalize(h)
        if key in overrides:
            f = overrides[key]
            choices.append(ColumnChoice(h, f, "--map" if f else "left out by --map"))
        elif key in saved:
            f = saved[key]
            choices.append(ColumnChoice(h, f, f"mapping {saved_name}" if f else f"left out by mapping {saved_name}"))
        else:
            f, how = field_of(h)
            choices.append(ColumnChoice(h, f, how or "no field has this name"))
    unknown = [h for h in overrides if h not in {normalize(x) for x in headers}]
    if unknown:
        raise UserError(
            f"--map names {', '.join(map(repr, unknown))}, not a column of this sheet; its columns are "
            + ", ".join(repr(h) for h in headers)
        )
    rank = {"--map": 0}
    for name in FIELDS:
        if FIELDS[name].several:
            continue
        claims = [c for c in choices if c.field == name]
        if len(claims) < 2:
            continue
        explicit = [c for c in claims if c.how == "--map" or c.how.startswith("mapping ")]
        if len(explicit) > 1:
            raise UserError(
                f"{' and '.join(repr(c.header) for c in explicit)} are both mapped to {name}, which takes one "
                "column: map one of them to something else (or to -)"
            )
        winner = (explicit or sorted(claims, key=lambda c: (rank.get(c.how, 1), c.how != "synonym"))[:1])[0]
        for c in claims:
            if c is not winner:
                c.how = f"also reads as {name}, but {winner.header!r} is used (--map to choose)"
                c.field = None
    return choices


def mappings_dir() -> Path:
    """Where saved mappings live: a file per name under the data folder."""
    return paths.data_dir() / "sheet-mappings"


def _mapping_file(name: str) -> Path:
    if not str(name).strip():
        raise UserError("a saved mapping needs a name")
    return paths.inside(mappings_dir(), paths.safe_name(name.strip(), ".json"))


def save_mapping(name: str, choices: list[ColumnChoice]) -> Path:
    """Save every column's field (or none) under ``name``, for --mapping NAME."""
    data = {"name": name.strip(), "columns": {c.header: c.field for c in choices}}
    return paths.write_atomic(_mapping_file(name), json.dumps(data, indent=2, ensure_ascii=False).encode() + b"\n")


def load_mapping(name: str) -> dict[str, str | None]:
    """A saved mapping as {normalized header: field or None}."""
    path = _mapping_file(name)
    if not path.exists():
        saved = (
            sorted(json.loads(p.read_text())["name"] for p in mappings_dir().glob("*.json"))
            if mappings_dir().is_dir()
            else []
        )
        raise UserError(
            f"no saved mapping {name!r} (saved: {', '.join(saved) or 'none yet'}; --save-mapping NAME saves one)"
        )
    try:
        columns = json.loads(path.read_text(encoding="utf-8"))["columns"]
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"the saved mapping {name!r} ({path}) cannot be read: {exc}") from exc
    out = {}
    for header, f in columns.items():
        if f is not None and f not in FIELDS:
            raise UserError(f"the saved mapping {name!r} maps {header!r} to {f!r}, which is not a field")
        out[normalize(header)] = f
    return out


# ------------------------------------------------------------------ the plan

TOTAL_WORDS = {"total", "totals", "sum", "gesamt", "summe", "insgesamt", "somme", "suma", "count", "anzahl"}
_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# What each table gets from a sheet: the columns written (others are left as the store has them).
APPLICATION_COLUMNS = ["application_id", "coachee_id", "company", "role", "status", "notes"]
PREVIEW_ROWS = 5


def parse_people(text: str) -> list[tuple[str, str]]:
    """(name, address) for each person in one cell: "Jane Doe <jane@acme.com>",
    "jane@acme.com", "Jane Doe", several separated by ; or a line break."""
    people = []
    for part in re.split(r"[;\n]+", text or ""):
        pieces = part.split(",") if len(_EMAIL.findall(part)) > 1 else [part]
        for piece in pieces:
            emails = _EMAIL.findall(piece)
            name = _EMAIL.sub(" ", piece.replace("mailto:", " "))
            name = " ".join(re.sub(r"[<>()\[\]\"]", " ", name).split()).strip(" ,;:/|-–")
            if name or emails:
                people.append((name, emails[0] if emails else ""))
    return people


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:8]


def application_id(coachee_id: str, company: str, role: str, applied_on: str) -> str:
    """The same for the same coachee, company, role and applied date, whatever the
    case, accents or punctuation of the sheet's spelling."""
    slug = normalize(company).replace(" ", "-")[:24] or "x"
    return f"{coachee_id}-{slug}-{_digest(coachee_id, normalize(company), normalize(role), applied_on)}"


@dataclass
class SheetPlan:
    """What one sheet would write, and what the dry run shows."""

    coachee_id: str
    source: str
    how_read: str
    header_row: int  # the sheet row of the header (the lower one of two)
    columns: list[ColumnChoice]
    orders: dict[str, DateOrder] = field(default_factory=dict)  # date column -> its order
    statuses: dict[str, str] = field(default_factory=dict)  # the sheet's word -> what it becomes
    problems: list[Problem] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # text rows, "_row" = the sheet row
    new: dict[str, int] = field(default_factory=dict)
    same: dict[str, int] = field(default_factory=dict)
    differs: dict[str, list[str]] = field(default_factory=dict)  # table -> a line per row that differs
    write: dict[str, pd.DataFrame] = field(default_factory=dict)  # the rows an --apply writes (with update)
    keep: dict[str, pd.DataFrame] = field(default_factory=dict)  # rows that differ, written only with update
    gaps: list[str] = field(default_factory=list)
    dates_override: str | None = None

    @property
    def rows(self) -> int:
        return len(self.tables.get("applications", []))

    def to_write(self, update: bool) -> dict[str, pd.DataFrame]:
        out = {}
        for name, df in self.write.items():
            kept = self.keep.get(name)
            frame = pd.concat([df, kept]) if update and kept is not None and len(kept) else df
            if len(frame):
                out[name] = frame
        return out

    def describe(self, update: bool = False) -> str:
        """The dry run: the file as read, the mapping, the statuses and dates, the
        first rows as they will be stored, what would be written, and the problems."""
        lines = [
            f"Read {self.source} ({self.how_read}); header on row {self.header_row}; {self.rows} application row(s)."
        ]
        lines += ["", "Columns:"]
        width = max([len(c.header) for c in self.columns] + [6])
        for c in self.columns:
            if c.field:
                extra = (
                    f"; dates {self.orders[c.header].why}" if self.orders.get(c.header, DateOrder(None, "")).why else ""
                )
                lines.append(f"  {c.header:<{width}}  → {c.field} ({c.how}{extra})")
        unused = [c for c in self.columns if not c.field]
        if unused:
            lines += ["", "Not used:"]
            lines += [f"  {c.header:<{width}}  ({c.how})" for c in unused]
        if self.statuses:
            lines += ["", "Statuses:"]
            w2 = max(len(k) for k in self.statuses)
            lines += [f"  {k:<{w2}}  → {v}" for k, v in self.statuses.items()]
        if self.skipped:
            lines += ["", "Skipped:"] + [f"  {s}" for s in self.skipped]
        for name in ("applications", "interviews", "contacts", "offers"):
            df = self.tables.get(name)
            if df is None or not len(df):
                continue
            lines += [
                "",
                f"First {name} as they will be stored:"
                if len(df) > PREVIEW_ROWS
                else f"{name.capitalize()} as they will be stored:",
            ]
            lines += ["  " + line for line in _preview(name, df, self.tables["applications"]).splitlines()]
        lines += ["", "Against the store:"]
        for name in ("applications", "interviews", "contacts", "offers"):
            if name not in self.tables:
                continue
            n_diff = len(self.differs.get(name, []))
            lines.append(
                f"  {name}: {self.new.get(name, 0)} new, {self.same.get(name, 0)} already there"
                + (
                    f", {n_diff} differ from the store ({'replaced: --update' if update else 'kept: --update replaces them'})"
                    if n_diff
                    else ""
                )
            )
            lines += [f"    {d}" for d in self.differs.get(name, [])]
        if self.warnings:
            lines += [""] + [f"Note: {w}" for w in self.warnings]
        if self.gaps:
            lines += ["", "What the sheet could not tell (ask in the first session):"] + [f"  - {g}" for g in self.gaps]
        if self.problems:
            lines += [
                "",
                f"Nothing can be imported until {'this is' if len(self.problems) == 1 else 'these are'} fixed:",
            ]
            lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)


def _preview(name: str, df: pd.DataFrame, apps: pd.DataFrame) -> str:
    companies = dict(zip(apps["application_id"], apps["company"]))
    shown = df.head(PREVIEW_ROWS).copy()
    if name != "applications":
        shown.insert(0, "company", shown["application_id"].map(companies))
    drop = [c for c in shown.columns if c.endswith("_id") or c.startswith("_")]
    shown = shown.drop(columns=drop)
    shown = shown.map(
        lambda v: (
            (v.replace("\n", " / ")[:38] + "…")
            if isinstance(v, str) and len(v) > 40
            else (v.replace("\n", " / ") if isinstance(v, str) else v)
        )
    )
    return shown.to_string(index=False)


def _pick_grid(grids: list[Grid]) -> tuple[Grid, int, list[str]]:
    """The sheet (of a workbook's) whose header names the most fields."""
    best = None
    errors: list[Problem] = []
    for g in grids:
        if not g.records:
            continue
        try:
            start, names = find_header(g.records)
        except ValidationError as err:
            errors.extend(Problem(p.table, p.row, p.column, p.message, g.source) for p in err.problems)
            continue
        score = _score(names)
        if best is None or score > best[0]:
            best = (score, g, start, names)
    if best is None:
        raise ValidationError(
            errors or [Problem(SHEET_TABLE, None, None, "holds no rows", grids[0].source if grids else "")]
        )
    return best[1], best[2], best[3]


def plan_sheet(
    store: Store,
    path: str | Path,
    coachee_id: str,
    overrides: list[str] | None = None,
    mapping: str | None = None,
    dates: str | None = None,
    name: str | None = None,
) -> SheetPlan:
    """Read the sheet at ``path`` for ``coachee_id`` and work out what it would write:
    nothing is written. ``overrides`` are --map "Header=field" texts, ``mapping``
    a saved mapping's name, ``dates`` "dmy" or "mdy" for columns whose values and
    the coachee's country cannot tell. Raises UserError for a coachee not in the
    store or a bad --map; a file that cannot be read at all raises ValidationError;
    anything wrong in its rows is in ``plan.problems``."""
    coachees = store.load(["coachees"], coachee_id=coachee_id)["coachees"]
    if coachees.empty:
        raise UserError(
            f"no coachee {coachee_id!r} in the store: add them first (the Coachee form, or followup import)"
        )
    country = coachees["country"].iloc[0] if "country" in coachees else None
    country = country if isinstance(country, str) else None
    if dates not in (None, "dmy", "mdy"):
        raise UserError(f"--dates {dates!r}: write dmy (day first) or mdy (month first)")
    grid, start, names = _pick_grid(read_grids(path, name))
    width = max([len(names)] + [len(r) for r in grid.records[start:]])
    names = _unique(_under_merged(names + [""] * (width - len(names))))
    names = [n or f"(unnamed column {j + 1})" for j, n in enumerate(names)]
    saved = load_mapping(mapping) if mapping else {}
    overrides_by_header = parse_map(overrides)
    try:
        frame = table_from_records([names] + grid.records[start:], SHEET_TABLE, grid.source).frame
    except ValidationError as err:
        choices = choose_columns(names, overrides_by_header, saved, mapping or "")
        plan = SheetPlan(coachee_id, grid.source, grid.how_read, start, choices, dates_override=dates)
        plan.problems = [
            Problem(SHEET_TABLE, (p.row or 2) - 2 + start + 1, p.column, p.message, grid.source) for p in err.problems
        ]
        return plan
    # A column with neither a header nor a value is a spreadsheet leftover.
    empty = [c for c in frame.columns if str(c).startswith("(unnamed column ") and not frame[c].str.strip().any()]
    frame = frame.drop(columns=empty)
    choices = choose_columns([str(c) for c in frame.columns], overrides_by_header, saved, mapping or "")
    plan = SheetPlan(coachee_id, grid.source, grid.how_read, start, choices, dates_override=dates)
    for needed in ("company", "role"):
        if not any(c.field == needed for c in choices):
            plan.problems.append(
                Problem(
                    SHEET_TABLE,
                    start,
                    None,
                    f'no column is read as the {needed}: --map "HEADER={needed}" names it',
                    grid.source,
                )
            )
    if plan.problems:
        return plan
    _build(plan, frame, start, country, store)
    return plan


def _build(plan: SheetPlan, frame: pd.DataFrame, start: int, country: str | None, store: Store) -> None:
    cid, source = plan.coachee_id, plan.source
    cols: dict[str, list[str]] = {}
    for c in plan.columns:
        if c.field and c.header in frame.columns:
            cols.setdefault(c.field, []).append(c.header)

    def row_no(i) -> int:  # the frame's index counts records after the header
        return start + int(i) + 1

    def problem(i, header, message) -> None:
        plan.problems.append(Problem(SHEET_TABLE, row_no(i), header, message, source))

    # The day-month order of each date column, from all of its values.
    date_headers = [h for f, hs in cols.items() if FIELDS[f].kind == "date" for h in hs]
    for h in date_headers:
        values = []
        for i, cell in frame[h].items():
            for part in _date_parts(cell, h, cols):
                values.append((row_no(i), part, read_date_cell(part)))
        order = decide_order(values, country, plan.dates_override)
        plan.orders[h] = order
        if order.refused:
            plan.problems.append(Problem(SHEET_TABLE, None, h, order.why, source))

    def date_of(i, h, text) -> str | None:
        parsed = read_date_cell(text)
        if isinstance(parsed, DayMonth):
            if plan.orders[h].day_first is None:
                return None  # refused for the whole column already
            try:
                parsed = parsed.as_date(plan.orders[h].day_first)
            except ValueError:
                parsed = None
        if parsed is None:
            problem(
                i, h, f"{text!r} is not a date the import reads; write it as 2026-11-03 (or 03/11/2026, 3 Nov 2026)"
            )
            return None
        if not 1900 <= parsed.year <= 2200:
            problem(i, h, f"{text!r} is in {parsed.year}: not a year of a job search")
            return None
        return parsed.isoformat()

    def cell(i, f) -> str:
        return " ".join(str(cells[i][h]).strip() for h in cols.get(f, []) if str(cells[i][h]).strip())

    def one_date(i, f) -> str:
        hs = cols.get(f, [])
        text = str(cells[i][hs[0]]).strip() if hs else ""
        return (date_of(i, hs[0], text) or "") if text else ""

    apps, interviews, contacts, offers = [], [], [], []
    contact_ids: set[str] = set()
    cells = frame.to_dict("index")  # {row index: {header: text}}, read once
    seen_apps: dict[str, int] = {}
    company_h = cols["company"][0]
    role_h = cols["role"][0]
    for i in frame.index:
        n = row_no(i)
        values = {f: cell(i, f) for f in cols}
        if not any(values.values()):
            plan.skipped.append(f"row {n}: nothing in the columns read")
            continue
        filled = [str(v).strip() for v in cells[i].values() if str(v).strip()]
        if _is_total(filled):
            plan.skipped.append(f"row {n}: a total row ({', '.join(filled)})")
            continue
        company, role = values.get("company", ""), values.get("role", "")
        if not company:
            problem(i, company_h, "the company is blank; fill it in or delete the row")
        if not role:
            problem(i, role_h, "the role is blank; fill it in (the workbook names each application by its role)")
        raw_status = values.get("status", "")
        status, how = read_status(raw_status)
        if status is None:
            problem(i, cols["status"][0], how)
            continue
        if raw_status:
            plan.statuses.setdefault(raw_status, _status_words(status, how, raw_status))
        applied = one_date(i, "applied_on")
        closed = one_date(i, "closed_on")
        offer_on = one_date(i, "offer_on")
        follow_up = one_date(i, "follow_up_on")
        held = sorted(
            {
                d
                for h in cols.get("interview_on", [])
                for part in _date_parts(cells[i][h], h, cols)
                if (d := date_of(i, h, part))
            }
        )
        if not company or not role:
            continue
        aid = application_id(cid, company, role, applied)
        if aid in seen_apps:
            problem(
                i,
                company_h,
                f"is the same application as row {seen_apps[aid]} (company, role and applied date); keep one row",
            )
            continue
        seen_apps[aid] = n
        notes = []
        if status.note:
            notes.append(f"Status in the sheet: {raw_status}")
        for f, label in (("location", "Location"), ("link", "Link"), ("salary", "Salary range")):
            if values.get(f):
                notes.append(f"{label}: {values[f]}")
        if follow_up:
            notes.append(f"Follow-up date in the sheet: {follow_up}")
        if closed and status.status not in CLOSED_STATUSES:
            plan.warnings.append(
                f"row {n}: {cols['closed_on'][0]} is {closed} but the status is {raw_status or 'blank'}: the date is not used"
            )
            closed = ""
        notes += [str(cells[i][h]).strip() for h in cols.get("notes", []) if str(cells[i][h]).strip()]
        app = {
            "application_id": aid,
            "coachee_id": cid,
            "company": company,
            "role": role,
            "status": status.status,
            "notes": "\n".join(notes),
            "_row": n,
        }
        if "applied_on" in cols:
            app["applied_on"] = applied
        if "source" in cols:
            app["source"] = values.get("source", "")
        if "closed_on" in cols:
            app["closed_on"] = closed
        apps.append(app)
        for k, day in enumerate(held):
            last = k == len(held) - 1
            row = {
                "interview_id": f"{aid}-i{day.replace('-', '')}",
                "application_id": aid,
                "held_on": day,
                "round": str(k + 1) if len(held) > 1 else (status.round if last else ""),
                "final_round": "true" if last and status.final else "",
                "_row": n,
            }
            if "interviewer" in cols:
                person = parse_people(values.get("interviewer", "")) if last else []
                row["interviewer_name"] = (person[0][0] or person[0][1]) if person else ""
                row["interviewer_email"] = person[0][1] if person else ""
            interviews.append(row)
        if values.get("interviewer") and not held:
            plan.warnings.append(f"row {n}: an interviewer ({values['interviewer']}) but no interview date: not used")
        people = parse_people(values.get("contact", ""))
        name, email = values.get("contact_name", ""), values.get("contact_email", "")
        if name or email:
            if people:
                people[0] = (people[0][0] or name, people[0][1] or email)
            else:
                people = [(name, email)]
        for k, (pname, pemail) in enumerate(people):
            row = {
                "contact_id": f"{aid}-c{_digest(normalize(pemail) or normalize(pname))[:6]}",
                "application_id": aid,
                "name": pname or pemail,
                "email": pemail,
                "point_of_contact": "true" if k == 0 else "",
                "_row": n,
            }
            if "contact_phone" in cols:
                row["phone"] = values.get("contact_phone", "") if k == 0 else ""
            if row["contact_id"] not in contact_ids:
                contact_ids.add(row["contact_id"])
                contacts.append(row)
        if status.status in ("offer", "accepted"):
            row = {"application_id": aid, "_row": n}
            if "offer_on" in cols:
                row["verbal_on"] = offer_on
            offers.append(row)
        elif offer_on:
            plan.warnings.append(
                f"row {n}: an offer date ({offer_on}) but the status is {raw_status or 'blank'}: not used"
            )
    plan.tables = {
        name: _frame(name, rows)
        for name, rows in (
            ("applications", apps),
            ("interviews", interviews),
            ("contacts", contacts),
            ("offers", offers),
        )
        if rows or name == "applications"
    }
    _points_of_contact(plan, store)
    _check(plan, store)
    _against_store(plan, store)
    _gaps(plan, store)


def _is_total(cells: list[str]) -> bool:
    """A row that sums the sheet up: "Total" (or Summe, Somme…) first, then only numbers."""
    words = normalize(cells[0]).split() if cells else []
    numbers = all(re.fullmatch(r"[\d.,\s%$€£-]+", c) for c in cells[1:])
    return bool(words) and words[0] in TOTAL_WORDS and numbers


def _frame(name: str, rows: list[dict]) -> pd.DataFrame:
    """Rows of one table as text, its columns in the schema's order (the sheet row last)."""
    present = {k for r in rows for k in r} | ({*APPLICATION_COLUMNS} if name == "applications" else set())
    columns = [c for c in TABLES[name].column_names if c in present] + ["_row"]
    return pd.DataFrame([[r.get(c, "") for c in columns] for r in rows], columns=columns, dtype=object)


def _date_parts(value, header: str, cols: dict[str, list[str]]) -> list[str]:
    """A date cell's dates: an interview column may hold several, separated by ; or a line break."""
    text = str(value or "").strip()
    if not text:
        return []
    if header in cols.get("interview_on", []):
        return [p.strip() for p in re.split(r"[;\n]+", text) if p.strip()]
    return [text]


def _status_words(status: Status, how: str, word: str) -> str:
    said = status.status
    if status.status in ("offer", "accepted"):
        said += " (and an offer row)"
    if status.final:
        said += ", the latest interview its final round"
    if status.round:
        said += f", the latest interview round {status.round}"
    if status.note:
        said += f', with "Status in the sheet: {word}" in the notes'
    return said + (f" ({how})" if how and not how.startswith("blank") else "")


def _points_of_contact(plan: SheetPlan, store: Store) -> None:
    """A sheet's contact is the point of contact only where the store has none other
    for that application (the coach may have named one in the workbook)."""
    if "contacts" not in plan.tables:
        return
    stored = store.load(["contacts"], coachee_id=plan.coachee_id)["contacts"]
    poc = stored[stored["point_of_contact"].fillna(False).astype(bool)]
    has_poc = dict(zip(poc["application_id"], poc["contact_id"]))
    df = plan.tables["contacts"]
    other = [has_poc.get(a) not in (None, c) for a, c in zip(df["application_id"], df["contact_id"])]
    df.loc[other, "point_of_contact"] = ""


def _against_store(plan: SheetPlan, store: Store) -> None:
    """Sort each row into new, already there, or differing from the store (a row
    edited in the workbook since, or changed in the sheet): only new rows are
    written, and differing ones with --update."""
    names = list(plan.tables)
    stored = store.load(names, coachee_id=plan.coachee_id)
    apps = plan.tables["applications"]
    label = {a: f"{c} — {r}" for a, c, r in zip(apps["application_id"], apps["company"], apps["role"])}
    for name in names:
        t = TABLES[name]
        ours = plan.tables[name]
        columns = [c for c in ours.columns if c != "_row"]
        text = export_frame(name, stored[name])
        there = {tuple(k): rec for k, rec in zip(text[list(t.key)].itertuples(index=False), text.to_dict("records"))}
        write, keep, diff_lines, same = [], [], [], 0
        for rec in ours.to_dict("records"):
            key = tuple(rec[k] for k in t.key)
            if key not in there:
                write.append(rec)
                continue
            old = there[key]
            changed = [c for c in columns if c not in t.key and not _same(name, c, rec[c], old.get(c) or "")]
            if not changed:
                same += 1
                continue
            keep.append(rec)
            what = "; ".join(
                f"{c} is {old.get(c) or '(blank)'!r} in the store, {rec[c] or '(blank)'!r} in the sheet"
                for c in changed
            )
            diff_lines.append(f"row {rec['_row']} ({label.get(rec['application_id'], '?')}): {what}")
        plan.new[name], plan.same[name] = len(write), same
        if diff_lines:
            plan.differs[name] = diff_lines
        plan.write[name] = pd.DataFrame(write, columns=ours.columns)
        plan.keep[name] = pd.DataFrame(keep, columns=ours.columns)
    # An application the coach typed in before, under another id: the same company and role.
    typed = stored["applications"]
    theirs = {
        (normalize(c), normalize(r)): a for a, c, r in zip(typed["application_id"], typed["company"], typed["role"])
    }
    for rec in apps.to_dict("records"):
        other = theirs.get((normalize(rec["company"]), normalize(rec["role"])))
        if other and other != rec["application_id"]:
            plan.warnings.append(
                f"row {rec['_row']} ({rec['company']} — {rec['role']}) looks like application {other}, already in the "
                "store under another id (another applied date?); importing adds a second one"
            )


# The sheet's field(s) each written column comes from, to name a problem's column as the sheet does.
WRITTEN_FROM = {
    ("applications", "company"): ("company",),
    ("applications", "role"): ("role",),
    ("applications", "status"): ("status",),
    ("applications", "applied_on"): ("applied_on",),
    ("applications", "source"): ("source",),
    ("applications", "closed_on"): ("closed_on",),
    ("applications", "notes"): ("notes", "location", "link", "salary", "follow_up_on"),
    ("interviews", "held_on"): ("interview_on",),
    ("interviews", "interviewer_name"): ("interviewer",),
    ("interviews", "interviewer_email"): ("interviewer",),
    ("contacts", "name"): ("contact_name", "contact", "contact_email"),
    ("contacts", "email"): ("contact_email", "contact"),
    ("contacts", "phone"): ("contact_phone",),
    ("offers", "verbal_on"): ("offer_on",),
}


def sheet_problem(plan: SheetPlan, p: Problem, row: int | None) -> Problem:
    """A problem the import's checks found in a written table, told as the sheet's:
    its row, and its column by the sheet's header (the table's column after it)."""
    fields = WRITTEN_FROM.get((p.table, p.column), ())
    headers = [c.header for f in fields for c in plan.columns if c.field == f]
    column = f"{headers[0]} ({p.table}.{p.column})" if headers else p.column
    return Problem(SHEET_TABLE, row, column, p.message, plan.source)


def _check(plan: SheetPlan, store: Store) -> None:
    """The checks ``followup import`` makes, run on every row the sheet would write,
    so the dry run (and the tab) shows their problems too, by the sheet's rows."""
    ids, links = store.stored_keys()
    raw, rows = {}, {}
    for name, df in plan.tables.items():
        # One sheet row may give several rows of a table (interviews, contacts): the
        # checks count rows by position, and each position knows its sheet row.
        raw[name] = RawTable(df.drop(columns="_row").reset_index(drop=True), plan.source, first_row=0)
        rows[name] = [int(r) for r in df["_row"]]
    try:
        validate_tables(raw, ids, links)
    except ValidationError as err:
        plan.problems += [
            sheet_problem(
                plan, p, rows[p.table][p.row] if p.row is not None and 0 <= p.row < len(rows.get(p.table, [])) else None
            )
            for p in err.problems
        ]


def _same(table: str, column: str, ours: str, stored: str) -> bool:
    """One written value against the store's (as export writes it): a blank from the
    sheet and a stored false say the same of a true/false column."""
    if TABLES[table].column(column).kind == "bool":
        return (ours or "false") == (stored or "false")
    return _guarded(table, column, ours) == stored


def _guarded(table: str, column: str, value: str) -> str:
    kind = TABLES[table].column(column).kind
    return guard_formula(value) if kind == "text" and value else value


def _gaps(plan: SheetPlan, store: Store) -> None:
    """What the coach should ask in the first session: what the sheet does not say."""
    t = plan.tables
    gaps = []
    iv = t.get("interviews")
    if iv is not None and len(iv):
        unnamed = (
            (iv["interviewer_name"].eq("") & iv["interviewer_email"].eq("")).sum()
            if "interviewer_name" in iv
            else len(iv)
        )
        if unnamed:
            gaps.append(
                f"who the client met at {_count(unnamed, 'interview')}: the sheet names no interviewer, so "
                "nobody is thanked until the people met are added"
            )
        gaps.append(
            "the date each employer said they would answer by (none in the sheet: silence gets a status inquiry)"
        )
    refs = store.load(["references"], coachee_id=plan.coachee_id)["references"]
    if refs.empty:
        gaps.append("the client's references: none in the store, so nobody is briefed or thanked yet")
    ct = t.get("contacts")
    if ct is not None and len(ct):
        address_only = int((ct["name"] == ct["email"]).sum())
        if address_only:
            gaps.append(
                f"the name{'' if address_only == 1 else 's'} of {_count(address_only, 'contact')} known only by an "
                "address (stored with the address as the name)"
            )
    apps = t["applications"]
    if len(apps):
        closed = apps["status"].isin(CLOSED_STATUSES)
        undated = closed & (apps["closed_on"].eq("") if "closed_on" in apps else True)
        if int(undated.sum()):
            gaps.append(f"when {_count(int(undated.sum()), 'ended application')} ended (no date in the sheet)")
        with_contact = set(ct["application_id"]) if ct is not None and len(ct) else set()
        no_contact = int((~closed & ~apps["application_id"].isin(with_contact)).sum())
        if no_contact:
            gaps.append(f"whom to follow up with at {_count(no_contact, 'open application')} (no contact in the sheet)")
    of = t.get("offers")
    if of is not None and len(of):
        gaps.append(f"the terms and response deadline of {_count(len(of), 'offer')} (the sheet gives only the status)")
    plan.gaps = gaps


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def apply_plan(store: Store, plan: SheetPlan, update: bool = False, coach: str | None = None) -> ImportResult:
    """Write the plan's new rows (and, with ``update``, the rows that differ from the
    store) through ``transfer.import_path``: all or nothing, checked as ``followup
    import`` checks. Raises ValidationError (the sheet's rows named) if anything is
    wrong; the store is then unchanged."""
    if plan.problems:
        raise ValidationError(sort_problems(plan.problems))
    frames = plan.to_write(update)
    if not frames:
        return ImportResult({name: {"added": 0, "changed": 0} for name in plan.tables})
    with tempfile.TemporaryDirectory(prefix="followup-sheet-") as tmp:
        rows: dict[str, list[int]] = {}
        for name, df in frames.items():
            columns = [c for c in df.columns if c != "_row"]
            rows[name] = [int(r) for r in df["_row"]]
            with open(Path(tmp) / f"{name}.csv", "w", encoding="utf-8", newline="") as f:
                writer = csv.writer(f, lineterminator="\n")
                writer.writerow(columns)
                for rec in df[columns].itertuples(index=False):
                    writer.writerow([_guarded(name, c, str(v)) for c, v in zip(columns, rec)])
        try:
            return import_path(store, tmp, coach=coach)
        except ValidationError as err:
            # Name the sheet's rows, not the files made for the import.
            raise ValidationError(
                [
                    sheet_problem(
                        plan,
                        p,
                        rows[p.table][p.row - 2] if 2 <= (p.row or 0) < len(rows.get(p.table, [])) + 2 else None,
                    )
                    for p in err.problems
                ]
            ) from None


def import_summary(plan: SheetPlan, result: ImportResult, update: bool) -> str:
    """What an --apply did, and what the sheet could not tell."""
    lines = [f"{name}: {c['added']} added, {c['changed']} changed" for name, c in result.counts.items()]
    kept = {name: len(v) for name, v in plan.differs.items()}
    if kept and not update:
        lines.append(
            "kept as the store has them: "
            + ", ".join(f"{n} {name}" for name, n in kept.items())
            + " that differ from the sheet (--update replaces them)"
        )
    if plan.gaps:
        lines += ["", "What the sheet could not tell (ask in the first session):"] + [f"  - {g}" for g in plan.gaps]
    lines += ["", f"followup due --coachee {plan.coachee_id} shows what is due now."]
    return "\n".join(lines)


# ------------------------------------------------------------------ the session's tab, without widgets


class SheetSession:
    """What the "Bring a spreadsheet" tab holds and does, without its widgets: the
    file picked (a copy of the upload in a folder of its own), each column's field
    as the coach chose it, the plan, and the import. ``coach`` keeps an import in
    the coach's caseload, as ``followup --coach`` does."""

    def __init__(self, store: Store, coach: str | None = None):
        self.store, self.coach = store, coach
        self.plan: SheetPlan | None = None
        self.coachee_id: str | None = None
        self.name: str | None = None
        self.chosen: dict[str, str | None] = {}  # header -> field the coach picked (None: not used)
        self._dir: tempfile.TemporaryDirectory | None = None
        self._path: Path | None = None

    def read(self, coachee_id: str | None, name: str, content: bytes) -> SheetPlan:
        """A file picked: keep a copy, forget the previous choices, and plan it."""
        if not coachee_id:
            raise UserError("Pick the coachee whose spreadsheet it is first.")
        suffix = Path(name).suffix.lower()
        if suffix not in SUFFIXES:
            raise UserError(f"{name} is not a spreadsheet the import reads (.csv, .xlsx or .ods)")
        self.close()
        self._dir = tempfile.TemporaryDirectory(prefix="followup-upload-")
        # The copy is named by the one safe-name function: an upload's name is user data.
        self._path = paths.inside(self._dir.name, paths.safe_name(Path(name).stem, suffix))
        self._path.write_bytes(bytes(content))
        self.name, self.coachee_id, self.chosen = name, coachee_id, {}
        return self.replan()

    def choose(self, header: str, field_name: str | None) -> SheetPlan:
        """The coach reads ``header`` as ``field_name`` (None: not at all); planned again."""
        if field_name is not None and field_name not in FIELDS:
            raise UserError(f"{field_name!r} is not a field")
        self.chosen[header] = field_name
        return self.replan()

    def replan(self, coachee_id: str | None = None) -> SheetPlan:
        if self._path is None:
            raise UserError("Pick the client's spreadsheet first (.csv, .xlsx or .ods).")
        self.coachee_id = coachee_id or self.coachee_id
        overrides = [f"{h}={f or NOT_USED}" for h, f in self.chosen.items()]
        self.plan = plan_sheet(self.store, self._path, self.coachee_id, overrides, name=self.name)
        return self.plan

    def import_sheet(self, coachee_id: str | None, update: bool = False) -> str:
        """Write the plan for ``coachee_id`` (the one the session shows now), all or
        nothing; the summary of what was written and what to ask."""
        if self.plan is None:
            raise UserError("Pick the client's spreadsheet first (.csv, .xlsx or .ods).")
        if not coachee_id:
            raise UserError("Pick the coachee whose spreadsheet it is first.")
        plan = self.replan(coachee_id)  # the store (or the coachee) may have changed since the preview
        result = apply_plan(self.store, plan, update=update, coach=self.coach)
        self.replan()
        return import_summary(plan, result, update)

    def close(self) -> None:
        if self._dir is not None:
            self._dir.cleanup()
        self._dir = self._path = self.plan = None
