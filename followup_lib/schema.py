"""The one description of every table: columns, types, choices, keys and links.

Import, export, validation, the SQL store and the forms all read this module, so a
column is named exactly once. It imports nothing heavy: ``followup --help`` loads it.
"""

from __future__ import annotations

from dataclasses import dataclass

TEXT, DATE, BOOL, CHOICE = "text", "date", "bool", "choice"

APPLICATION_STATUSES = ("active", "offer", "accepted", "hired", "rejected", "withdrawn")
CLOSED_STATUSES = ("rejected", "withdrawn", "hired")
INTERVIEW_FORMATS = ("phone", "video", "onsite", "panel", "other")
CONTACT_CHANNELS = ("email", "phone")
MESSAGE_DIRECTIONS = ("sent", "received")
MESSAGE_CHANNELS = ("email", "phone", "other")
PROMISE_KINDS = ("send", "contact")
# Contract v3: who a contact is (sets a note's voice), and why an application ended.
CONTACT_ROLES = ("recruiter", "hr", "hiring_manager", "interviewer", "other")
CLOSED_REASONS = ("another_offer", "not_a_fit", "relocation", "compensation", "timing", "other")


@dataclass(frozen=True)
class Column:
    """One column of one table, as the user sees it in a CSV or a form."""

    name: str
    kind: str = TEXT
    required: bool = False
    choices: tuple[str, ...] = ()
    default: str | None = None
    # (table, column) this id must point to, in the same file or in the store.
    links_to: tuple[str, str] | None = None
    help: str = ""
    # Schema version that introduced the column (see store.MIGRATIONS).
    added_in: int = 1
    # The column's words in a form ("Point of contact"); the name when blank.
    label: str = ""

    @property
    def title(self) -> str:
        """The column's name as a coach reads it: "Due on", "Application" (a link)."""
        if self.label:
            return self.label
        if self.links_to and self.links_to[0] in TABLES and TABLES[self.links_to[0]].noun:
            return TABLES[self.links_to[0]].noun.capitalize()
        return self.name.replace("_", " ").capitalize()


@dataclass(frozen=True)
class Table:
    name: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    # Singular noun a coach would use ("interview"), for messages.
    noun: str = ""
    added_in: int = 1
    description: str = ""

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    def columns_of(self, kind: str) -> list[str]:
        return [c.name for c in self.columns if c.kind == kind]


def _id(
    name: str, links_to: tuple[str, str] | None = None, required: bool = True, help: str = "", added_in: int = 1
) -> Column:
    return Column(name, TEXT, required=required, links_to=links_to, help=help, added_in=added_in)


COACHEE = ("coachees", "coachee_id")
APPLICATION = ("applications", "application_id")
REFERENCE = ("references", "reference_id")
INTERVIEW = ("interviews", "interview_id")
CONTACT = ("contacts", "contact_id")
V2 = 4  # the schema version of contract v2 (contacts, panels, moved dates, holidays, closing the loop)
V3 = 6  # the schema version of contract v3 (the facts the words need, and outcomes)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "coachees",
            key=("coachee_id",),
            noun="coachee",
            description="The people a coach works with.",
            columns=(
                _id("coachee_id"),
                Column("name", required=True),
                Column("email"),
                Column("coach", help="Coach's name; settings can differ per coach."),
                Column("notes"),
                Column(
                    "country",
                    help="ISO 3166-1 alpha-2 code (US, GB, DE…): whose public holidays are not business days.",
                    added_in=V2,
                ),
                Column(
                    "subdivision",
                    help="ISO 3166-2 suffix (CA, NY, BY…): the state or region, for its own holidays.",
                    added_in=V2,
                ),
                Column(
                    "other_emails",
                    help="Further addresses of the coachee, separated by ';' (mail from or to them is theirs).",
                    added_in=V3,
                ),
            ),
        ),
        Table(
            "applications",
            key=("application_id",),
            noun="application",
            description="One job at one company.",
            columns=(
                _id("application_id"),
                _id("coachee_id", COACHEE),
                Column("company", required=True),
                Column("role", required=True),
                Column("status", CHOICE, choices=APPLICATION_STATUSES, default="active"),
                Column("applied_on", DATE),
                Column("source"),
                Column("notes"),
                Column("closed_on", DATE, help="The day it was rejected, withdrawn or hired.", added_in=V2),
                Column(
                    "closed_reason",
                    CHOICE,
                    choices=CLOSED_REASONS,
                    help="Why it ended, as the client would tell a reference; blank when not said (never guessed).",
                    added_in=V3,
                ),
            ),
        ),
        Table(
            "contacts",
            key=("contact_id",),
            noun="contact",
            added_in=V2,
            description="A person at the employer: a recruiter, HR, or someone met at an interview.",
            columns=(
                _id("contact_id", added_in=V2),
                _id("application_id", APPLICATION, added_in=V2),
                Column("name", required=True, added_in=V2),
                Column("title", added_in=V2),
                Column("email", added_in=V2),
                Column("phone", added_in=V2),
                Column(
                    "preferred_channel",
                    CHOICE,
                    choices=CONTACT_CHANNELS,
                    help="How they asked to be contacted.",
                    added_in=V2,
                ),
                Column(
                    "point_of_contact",
                    BOOL,
                    help="true for the one person follow-ups go to (at most one per application).",
                    added_in=V2,
                ),
                Column(
                    "role",
                    CHOICE,
                    choices=CONTACT_ROLES,
                    help="recruiter, hr, hiring_manager, interviewer or other: sets the voice of their notes.",
                    added_in=V3,
                ),
            ),
        ),
        Table(
            "interviews",
            key=("interview_id",),
            noun="interview",
            description="One conversation with an interviewer.",
            columns=(
                _id("interview_id"),
                _id("application_id", APPLICATION),
                Column("held_on", DATE, required=True),
                Column("round", help="1 for the first interview, 2 for the next…"),
                Column("format", CHOICE, choices=INTERVIEW_FORMATS),
                Column("interviewer_name"),
                Column("interviewer_email"),
                Column("interviewer_phone"),
                Column(
                    "preferred_channel",
                    CHOICE,
                    choices=CONTACT_CHANNELS,
                    help="How the interviewer asked to be contacted.",
                ),
                Column("next_step_by", DATE, help="The date they said you would hear by."),
                Column("final_round", BOOL, help="true if this was the last round."),
                Column("thank_you_sent_on", DATE),
                Column("topics", help="What the interviewer cared about most; several separated by ';'."),
                Column("notes"),
                Column("how_it_went", help="How it went, in the coachee's own words.", added_in=V2),
            ),
        ),
        Table(
            "interview_contacts",
            key=("interview_id", "contact_id"),
            noun="person met",
            added_in=V2,
            description="Each further person met at an interview (a panel), with their own thank-you.",
            columns=(
                _id("interview_id", INTERVIEW, added_in=V2),
                _id("contact_id", CONTACT, added_in=V2),
                Column("thank_you_sent_on", DATE, added_in=V2),
                Column(
                    "topics",
                    help="What this person and the client talked about: noun phrases, several separated by ';'.",
                    added_in=V3,
                ),
            ),
        ),
        Table(
            "references",
            key=("reference_id",),
            noun="reference",
            description="People who vouch for a coachee.",
            columns=(
                _id("reference_id"),
                _id("coachee_id", COACHEE),
                Column("name", required=True),
                Column("relationship"),
                Column("email"),
                Column("phone"),
            ),
        ),
        Table(
            "reference_uses",
            key=("reference_id", "application_id"),
            noun="reference given",
            description="A reference given to one application, and how they were kept in the loop.",
            columns=(
                _id("reference_id", REFERENCE),
                _id("application_id", APPLICATION),
                Column("given_on", DATE),
                Column("briefed_on", DATE),
                Column("last_checkin_on", DATE),
                Column("contacted_on", DATE, help="When the reference said the employer called them."),
                Column("thanked_on", DATE, help="When you thanked them and told them how it ended.", added_in=V2),
                Column(
                    "talking_points",
                    help="What this reference should be ready to speak to: noun phrases, separated by ';'.",
                    added_in=V3,
                ),
            ),
        ),
        Table(
            "promises",
            key=("promise_id",),
            noun="promise",
            description="Something the coachee told an interviewer they would do.",
            columns=(
                _id("promise_id"),
                _id("application_id", APPLICATION),
                Column("what", required=True),
                Column("due_on", DATE, required=True),
                Column("done_on", DATE),
                _id("contact_id", CONTACT, required=False, help="To whom the promise was made.", added_in=V2),
                Column(
                    "kind",
                    CHOICE,
                    choices=PROMISE_KINDS,
                    help="send (something to send) or contact (get in touch on that day); blank means send.",
                    added_in=V2,
                ),
                Column("made_on", DATE, help="When the promise was made.", added_in=V3),
                _id(
                    "made_at_interview_id",
                    INTERVIEW,
                    required=False,
                    help="The interview (of the same application) at which it was made.",
                    added_in=V3,
                ),
            ),
        ),
        Table(
            "messages",
            key=("message_id",),
            noun="message",
            description="Every word sent to or received from an employer.",
            columns=(
                _id("message_id"),
                _id("application_id", APPLICATION),
                Column("on", DATE, required=True),
                Column("direction", CHOICE, required=True, choices=MESSAGE_DIRECTIONS),
                Column("channel", CHOICE, choices=MESSAGE_CHANNELS),
                Column(
                    "kind",
                    help="What it was: rejection, offer, offer_letter, invitation, date_moved, update, question, "
                    "auto_reply or bounce (received); an action kind, extension_request, acceptance, decline, "
                    "withdrawal or question (sent); any other text means just 'a message'.",
                ),
                Column("summary"),
                Column(
                    "action_id", help="The follow-up action this message carried out (set by Mark sent).", added_in=3
                ),
                Column("body", help="The text sent or received.", added_in=V2),
                _id("contact_id", CONTACT, required=False, help="The person at the employer.", added_in=V2),
                _id("reference_id", REFERENCE, required=False, help="A message to or from a reference.", added_in=V2),
                Column("next_step_by", DATE, help="A new date the employer gave in this message.", added_in=V2),
                Column("message_ref", help="The mail's Message-ID, for threads and duplicates.", added_in=V3),
            ),
        ),
        Table(
            "offers",
            key=("application_id",),
            noun="offer",
            description="An offer, from the first verbal word to its approval.",
            columns=(
                _id("application_id", APPLICATION),
                Column("verbal_on", DATE),
                Column("written_requested_on", DATE),
                Column("written_received_on", DATE),
                Column("salary"),
                Column("benefits"),
                Column("expense_reimbursement"),
                Column("conditions"),
                Column("requirements", help="The job's requirements, as the letter states them.", added_in=V2),
                Column("response_deadline", DATE),
                Column("accepted_on", DATE),
                Column("approved_on", DATE),
                Column("rescinded_on", DATE),
            ),
        ),
    )
}

# Parents before children: the order of creation, import and export.
TABLE_ORDER = list(TABLES)
# The tables of the first release: a file holding only these imports unchanged.
TABLES_V1 = [name for name in TABLE_ORDER if TABLES[name].added_in == 1]

# Terms an offer letter should state (PRODUCT.md, guidance 8).
OFFER_TERMS = ("salary", "benefits", "expense_reimbursement", "conditions", "requirements")


def present(value) -> bool:
    """A value the user actually gave: not None, NaN, NaT, pandas' NA or blank text."""
    if value is None:
        return False
    if isinstance(value, str):
        return value.strip() != ""
    try:
        # NaN and NaT are the only values not equal to themselves.
        return not bool(value != value)
    except TypeError:  # pandas' NA refuses to be a bool: it is a blank
        return False
