"""What each kind of action *is*, written once.

The rules, the drafts, the calendar, the weekly report, the working session and the
logbook all read these records: the label a person sees, how urgent the kind is,
whether it is a message to someone (and so has a draft and templates), what marking
it sent records in the store, and its calendar title.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SentRecord:
    """What marking an action of this kind sent sets besides the message row: the
    date column ``column`` of the ``table`` row found by the action's ``key``."""

    table: str
    column: str
    key: tuple[str, ...]


@dataclass(frozen=True)
class ActionKind:
    name: str
    #: What the kind is called where a person reads it (the session, the report).
    label: str
    #: 1 = most urgent, for an action that is due or overdue.
    priority: int
    #: The calendar entry's title; ``{recipient}`` is filled in.
    calendar_title: str
    #: Who the action is addressed to: "employer", "reference" or "self".
    audience: str = "employer"
    #: Whether doing it means sending a message (so it has a draft and templates).
    needs_message: bool = True
    #: What "Mark sent" records besides the message; None: only the message.
    sent_record: SentRecord | None = None


# 1 = most urgent. Promises outrank everything (guidance 3); a verbal offer and a
# thank-you come next because they lose value by the day.
KINDS: dict[str, ActionKind] = {
    k.name: k
    for k in (
        ActionKind(
            "keep_promise",
            "Keep promise",
            1,
            "Keep your promise to {recipient}",
            sent_record=SentRecord("promises", "done_on", ("promise_id",)),
        ),
        ActionKind(
            "request_written_offer",
            "Ask for written offer",
            2,
            "Ask {recipient} for the offer in writing",
            sent_record=SentRecord("offers", "written_requested_on", ("application_id",)),
        ),
        ActionKind(
            "thank_you_note",
            "Thank-you note",
            2,
            "Thank-you note to {recipient}",
            sent_record=SentRecord("interviews", "thank_you_sent_on", ("interview_id",)),
        ),
        ActionKind("review_offer_letter", "Review offer letter", 3, "Review the offer letter"),
        ActionKind("status_inquiry", "Status inquiry", 3, "Ask {recipient} where the process stands"),
        ActionKind(
            "brief_references",
            "Brief reference",
            3,
            "Brief {recipient} (reference)",
            audience="reference",
            sent_record=SentRecord("reference_uses", "briefed_on", ("reference_id", "application_id")),
        ),
        ActionKind("offer_checkin", "Check-in", 4, "Check in with {recipient}"),
        ActionKind(
            "reference_checkin",
            "Reference check-in",
            4,
            "Check in with {recipient} (reference)",
            audience="reference",
            sent_record=SentRecord("reference_uses", "last_checkin_on", ("reference_id", "application_id")),
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
BASE_PRIORITY = {k: v.priority for k, v in KINDS.items()}
ACTION_LABELS = {k: v.label for k, v in KINDS.items()}
#: An upcoming action ranks this much below a due one of the same kind.
UPCOMING_PRIORITY_OFFSET = 5


def label(kind: str) -> str:
    """The kind's label, or the kind itself for one this code does not know."""
    return KINDS[kind].label if kind in KINDS else kind
