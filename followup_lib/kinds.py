"""What each kind of action *is*, written once.

The rules, the drafts, the calendar, the weekly report, the working session and the
logbook all read these records: the label a person sees, how urgent the kind is,
who it is addressed to, whether it is a message (and so has a draft and templates),
what marking it sent records in the store, and its calendar title.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .schema import present


@dataclass(frozen=True)
class SentRecord:
    """What marking an action of this kind sent sets besides the message row: the
    date column ``column`` of the ``table`` row found by the action's ``key``, and
    any fixed ``values`` (column, value) with it."""

    table: str
    column: str
    key: tuple[str, ...]
    values: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ActionKind:
    name: str
    #: What the kind is called where a person reads it (the session, the report).
    label: str
    #: 1 = most urgent, for an action that is due or overdue.
    priority: int
    #: The calendar entry's title; ``{recipient}`` and ``{company}`` are filled in.
    calendar_title: str
    #: Who the action is addressed to: "employer", "reference" or "self".
    audience: str = "employer"
    #: Whether doing it means sending a message (so it has a draft and templates).
    needs_message: bool = True
    #: What "Mark sent" records besides the message: the first record whose key the
    #: action fills in applies (a panel member's thank-you is recorded on their
    #: interview_contacts row, the interviewer's on the interview). Empty: only the message.
    sent_records: tuple[SentRecord, ...] = ()

    def sent_record_for(self, action) -> SentRecord | None:
        """The record that marking ``action`` (a mapping) sent sets, or None."""
        for record in self.sent_records:
            if all(present(action.get(k)) for k in record.key):
                return record
        return None


def _on(table: str, column: str, *key: str, values: tuple[tuple[str, str], ...] = ()) -> tuple[SentRecord, ...]:
    return (SentRecord(table, column, key, values),)


# 1 = most urgent. Promises outrank everything (guidance 3); a verbal offer and a
# thank-you come next because they lose value by the day. (A response deadline that
# is close or has passed makes the offer letter's review 1 as well: see the rules.)
KINDS: dict[str, ActionKind] = {
    k.name: k
    for k in (
        ActionKind(
            "keep_promise",
            "Keep promise",
            1,
            "Keep your promise to {recipient}",
            sent_records=_on("promises", "done_on", "promise_id"),
        ),
        ActionKind(
            "request_written_offer",
            "Ask for written offer",
            2,
            "Ask {recipient} for the offer in writing",
            sent_records=_on("offers", "written_requested_on", "application_id"),
        ),
        ActionKind(
            "thank_you_note",
            "Thank-you note",
            2,
            "Thank-you note to {recipient}",
            sent_records=(
                SentRecord("interview_contacts", "thank_you_sent_on", ("interview_id", "contact_id")),
                SentRecord("interviews", "thank_you_sent_on", ("interview_id",)),
            ),
        ),
        ActionKind("review_offer_letter", "Review offer letter", 3, "Review the offer letter"),
        ActionKind("status_inquiry", "Status inquiry", 3, "Ask {recipient} where the process stands"),
        ActionKind(
            "withdraw_application",
            "Withdraw application",
            3,
            "Withdraw courteously from the process",
            sent_records=_on("applications", "closed_on", "application_id", values=(("status", "withdrawn"),)),
        ),
        ActionKind(
            "brief_references",
            "Brief reference",
            3,
            "Brief {recipient} (reference)",
            audience="reference",
            sent_records=_on("reference_uses", "briefed_on", "reference_id", "application_id"),
        ),
        ActionKind("offer_checkin", "Check-in", 4, "Check in with {recipient}"),
        ActionKind(
            "reference_checkin",
            "Reference check-in",
            4,
            "Check in with {recipient} (reference)",
            audience="reference",
            sent_records=_on("reference_uses", "last_checkin_on", "reference_id", "application_id"),
        ),
        ActionKind(
            "close_the_loop",
            "Close the loop",
            4,
            "Thank {recipient} and tell them how it ended (reference)",
            audience="reference",
            sent_records=_on("reference_uses", "thanked_on", "reference_id", "application_id"),
        ),
        ActionKind(
            "await_approval",
            "Await approval",
            5,
            "Keep other applications warm until approval",
            audience="self",
            needs_message=False,
        ),
    )
}

ACTION_KINDS = tuple(KINDS)
#: Kinds whose action is a message to someone (and so has a draft).
MESSAGE_KINDS = tuple(k for k, v in KINDS.items() if v.needs_message)
#: Kinds whose message goes to a reference, not the employer: a sent message of one
#: of them (or one naming a reference) is no employer contact.
REFERENCE_KINDS = tuple(k for k, v in KINDS.items() if v.audience == "reference")
BASE_PRIORITY = {k: v.priority for k, v in KINDS.items()}
ACTION_LABELS = {k: v.label for k, v in KINDS.items()}
#: An upcoming action ranks this much below a due one of the same kind.
UPCOMING_PRIORITY_OFFSET = 5


def label(kind: str) -> str:
    """The kind's label, or the kind itself for one this code does not know."""
    return KINDS[kind].label if kind in KINDS else kind


# ------------------------------------------------------------ message kinds
# Contract v3: the values of ``messages.kind`` that mean something to the rules.
# Any other value is kept as typed and means just "a message".

#: Received: the employer said no. The application is closed from that day.
REJECTION = "rejection"
#: Received: a verbal offer / a written offer, on that day.
VERBAL_OFFER = "offer"
WRITTEN_OFFER = "offer_letter"
#: Received: a further round is being arranged; silence rules wait for it.
INVITATION = "invitation"
#: Received, and not word from the employer: a machine answered.
AUTO_REPLY = "auto_reply"
#: Received: a message did not arrive; the action it carried is due again.
BOUNCE = "bounce"
#: Sent: the client asked for more time; the deadline reminder waits for the answer.
EXTENSION_REQUEST = "extension_request"

#: Received kinds, in the order a person picks them, with what each means.
RECEIVED_MESSAGE_KINDS: dict[str, str] = {
    REJECTION: "a rejection: the application is closed from that day",
    VERBAL_OFFER: "a verbal offer on that day",
    WRITTEN_OFFER: "a written offer (the letter) received that day",
    INVITATION: "an invitation to a further round",
    "date_moved": "a new date for their decision (put it in next step by)",
    "update": "news from the employer",
    "question": "a question from the employer",
    AUTO_REPLY: "an automatic reply (out of office): not word from the employer",
    BOUNCE: "a bounce: a message that did not arrive (its action is due again)",
}
#: Sent kinds beyond the action kinds.
SENT_MESSAGE_KINDS: dict[str, str] = {
    EXTENSION_REQUEST: "asked for more time to answer an offer",
    "acceptance": "accepted an offer",
    "decline": "declined an offer",
    "withdrawal": "withdrew from the process",
    "question": "a question to the employer",
}
#: Received kinds that are not word from the employer.
NOT_WORD_FROM_EMPLOYER = (AUTO_REPLY, BOUNCE)


# How a typed ``messages.kind`` is compared: lower case, runs of spaces and hyphens
# one "_" ("Offer letter" and "offer-letter" are ``offer_letter``); a blank is "".
_KIND_SEPARATORS = r"[\s\-]+"


def normal_kind(kind: object) -> str:
    """One ``messages.kind`` value as the rules compare it."""
    text = "" if not present(kind) else str(kind).strip().lower()
    return re.sub(_KIND_SEPARATORS, "_", text)


def normal_kinds(kinds):
    """A pandas Series of ``messages.kind`` values, each as ``normal_kind`` gives it."""
    text = kinds.astype(object).where(kinds.notna(), "").astype(str).str.strip().str.lower()
    return text.str.replace(_KIND_SEPARATORS, "_", regex=True)


def status_to_record(direction: str | None, kind: str | None, status: str | None) -> str | None:
    """The application status a newly logged message suggests recording, or None:
    a received rejection on an application not yet closed suggests "rejected" (the
    rules already treat it as closed from that day; the session offers to say so
    in the store too)."""
    if direction == "received" and normal_kind(kind) == REJECTION and status not in ("rejected", "withdrawn", "hired"):
        return "rejected"
    return None


# ------------------------------------------------------------ action ids
# An action's id, as the rules make it and every message logged for it carries
# (``messages.action_id``): ``KIND:APPLICATION:DETAIL``, where the detail is the
# kind's own key (an interview and a contact ``I1:K2``, a promise, a reference,
# ``deadline`` for an offer's deadline reminder…); an action due again because its
# message bounced ends in ``:again``. Read and written here only.
ACTION_ID_SEPARATOR = ":"
AGAIN = "again"
#: The detail of an offer's deadline reminder begins with this (then the deadline's day).
DEADLINE_REMINDER = "deadline"


@dataclass(frozen=True)
class ActionRef:
    """The parts of an action id."""

    kind: str
    application_id: str
    detail: tuple[str, ...]
    again: bool = False


def action_id(kind: str, application_id: str, *detail: str) -> str:
    return ACTION_ID_SEPARATOR.join((kind, application_id, *detail))


def again_id(action: str) -> str:
    """The id of an action due again after its message bounced."""
    return f"{action}{ACTION_ID_SEPARATOR}{AGAIN}"


def parse_action_id(value: object) -> ActionRef | None:
    """An action id's parts, or None for a blank or something not an action id."""
    if not present(value):
        return None
    parts = str(value).split(ACTION_ID_SEPARATOR)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        return None
    again = len(parts) > 3 and parts[-1] == AGAIN
    detail = tuple(parts[2:-1] if again else parts[2:])
    return ActionRef(parts[0], parts[1], detail, again)


def action_detail_part(ids, position: int):
    """Vectorised: the ``position``-th part of each action id's detail (a pandas
    Series of ids, blank where none)."""
    text = ids.astype(object).where(ids.notna(), "").astype(str)
    return text.str.split(ACTION_ID_SEPARATOR).str[2 + position]
