"""Drafts: one message per person per day, in the channel the recipient asked for.

Templates are Jinja2 files, ``<kind>.<channel>.j2``, shipped in
``followup_lib/templates`` and overridable by a file of the same name in
``data/templates``. They render in a sandbox with strict undefined values: a fact
the store lacks is an error naming it, never a blank "Dear ,". An email template
starts with a ``Subject:`` line.

Every action due to the same person on one day becomes one draft: each kind's
template writes its part, told where the part stands (``PART_FLAGS``: no second
greeting, no role named twice, the closing courtesy said once, by the last part).
"""

from __future__ import annotations

import email.policy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote, unquote

import pandas as pd
from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined, TemplateNotFound, UndefinedError
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from .. import paths
from ..errors import DraftError  # noqa: F401 (re-exported)
from ..kinds import (
    DEADLINE_REMINDER,
    EXTENSION_REQUEST,
    MESSAGE_KINDS,
    NOT_WORD_FROM_EMPLOYER,
    REFERENCE_KINDS,
    REJECTION,
    normal_kind,
    parse_action_id,
)
from ..schema import OFFER_TERMS, present  # noqa: F401 (present re-exported)
from . import wording
from .rules import latest_interviews

# Where each fact comes from, to say what to fill in when one is missing.
FACT_SOURCES = {
    "recipient_first_name": "the recipient's name",
    "recipient_email": "an email address",
    "recipient_phone": "a phone number",
    "coachee_name": "coachees.name",
    "company": "applications.company",
    "role": "applications.role",
    "interview_date": "interviews.held_on",
    "interviewer_name": "interviews.interviewer_name",
    "next_step_by": "interviews.next_step_by",
    "topics": "interviews.topics",
    "promise_what": "promises.what",
    "promise_what_title": "promises.what",
    "promise_due": "promises.due_on",
    "verbal_on": "offers.verbal_on",
    "written_requested_on": "offers.written_requested_on",
    "written_received_on": "offers.written_received_on",
    "response_deadline": "offers.response_deadline",
}


def _mailbox(name: str, address: str) -> Address | str:
    """'Name <address>' for a header; UTF-8 as it is when the address needs it (RFC 6532)."""
    name, address = _one_line(name), _one_line(address)
    try:
        # An Address object is written, not parsed: any display name is quoted or
        # encoded as needed, whatever characters it holds.
        return Address(display_name=name, addr_spec=address)
    except Exception:  # noqa: BLE001 — e.g. a non-ASCII local part: write it as UTF-8
        pass
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{quoted}" <{address}>' if name else address


@dataclass
class Draft:
    """One message to one person: a single action's, or several bundled (one
    message per person per day). ``action_ids`` lists every action it carries out."""

    action_id: str
    kind: str
    channel: str  # email | phone
    company: str
    to_name: str
    to_address: str  # an email address or a phone number
    subject: str
    body: str
    from_name: str = ""
    from_address: str = ""
    filename: str = ""
    why: str = ""
    coachee_id: str = ""
    as_of: str = ""  # the day it was drafted for (YYYY-MM-DD)
    action_ids: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    #: For the coach, not the recipient: what to add or check before sending (a
    #: personal line the store cannot supply, the linter's findings). Written as
    #: the X-Followup-Review header (a phone script's first line); see review_note.
    review: list[str] = field(default_factory=list)
    #: The claims the store's facts allow this draft to make ("conversation",
    #: "answers", "another_position", "approved"); None: not known (a hand-made draft).
    grounds: frozenset | None = None
    #: The topics and talking points placed in the text, as typed.
    topics: list[str] = field(default_factory=list)

    def __post_init__(self):
        if not self.action_ids:
            self.action_ids = [self.action_id]
        if not self.kinds:
            self.kinds = [self.kind]

    @property
    def suffix(self) -> str:
        return ".eml" if self.channel == "email" else ".txt"

    def as_email(self) -> EmailMessage:
        """An RFC 5322 message a mail client opens as an unsent draft."""
        addresses = [self.to_address, self.from_address or ""]
        # An address with non-ASCII characters (elena.voß@…) needs RFC 6532 UTF-8 headers.
        policy = email.policy.SMTP if all(a.isascii() for a in addresses) else email.policy.SMTPUTF8
        msg = EmailMessage(policy=policy)
        msg["To"] = _mailbox(self.to_name, self.to_address)
        if self.from_address:
            msg["From"] = _mailbox(self.from_name, self.from_address)
        msg["Subject"] = _one_line(self.subject)
        msg["X-Unsent"] = "1"  # Outlook and others open it as a draft to send
        # What `followup sent` (or the mailbox reader) completes once it is sent.
        msg[ACTIONS_HEADER] = encode_action_ids(self.action_ids)
        if self.coachee_id:
            msg[COACHEE_HEADER] = quote(self.coachee_id, safe="")
        if self.as_of:
            msg[AS_OF_HEADER] = self.as_of
        if self.review:
            msg[REVIEW_HEADER] = _one_line(review_note(self))
        # 8bit keeps the draft readable in any editor; mail clients accept it.
        msg.set_content(self.body, cte="7bit" if self.body.isascii() else "8bit")
        return msg

    def as_text(self) -> str:
        """A phone script, or the plain text of an email."""
        if self.channel == "email":
            return f"To: {self.to_name} <{self.to_address}>\nSubject: {self.subject}\n\n{self.body}"
        head = f"Call {self.to_name} ({self.company}) on {self.to_address}\nWhy: {self.why}\n"
        if self.review:
            # For the coach, before the call: read back as a header, never sent.
            head = f"{REVIEW_HEADER}: For the coach, not to read out: {_one_line(review_note(self))}\n" + head
        tail = f"\n\n{ACTIONS_HEADER}: {encode_action_ids(self.action_ids)}\n"
        if self.coachee_id:
            tail += f"{COACHEE_HEADER}: {quote(self.coachee_id, safe='')}\n"
        if self.as_of:
            tail += f"{AS_OF_HEADER}: {self.as_of}\n"
        return head + "\n" + self.body.rstrip("\n") + tail

    def first_lines(self, n: int = 3) -> str:
        lines = [ln for ln in self.body.splitlines() if ln.strip()]
        return "\n".join(lines[:n])


@dataclass
class DraftResult:
    drafts: list[Draft] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def by_action(self) -> dict[str, Draft]:
        """Each action id to the draft that carries it out (a bundle for several)."""
        return {a: d for d in self.drafts for a in d.action_ids}


ACTIONS_HEADER = "X-Followup-Actions"
COACHEE_HEADER = "X-Followup-Coachee"
AS_OF_HEADER = "X-Followup-As-Of"
REVIEW_HEADER = "X-Followup-Review"


def review_note(draft: Draft) -> str:
    """What the coach should add or check before ``draft`` goes out (the text of
    its X-Followup-Review header), or "" when it can be sent as written."""
    seen = list(dict.fromkeys(draft.review))
    return " | ".join(seen)


def needs_review(drafts) -> int:
    """How many of ``drafts`` carry a review note (a personal line to add, a finding)."""
    return sum(1 for d in drafts if d.review)


def encode_action_ids(ids: list[str]) -> str:
    """Action ids for a header: each percent-encoded (ids hold user data), comma-separated."""
    return ", ".join(quote(i, safe=":@._-") for i in ids)


def decode_action_ids(value: str) -> list[str]:
    return [unquote(part.strip()) for part in str(value).replace("\n", " ").split(",") if part.strip()]


# ---------------------------------------------------------------- rendering


# A draft is a short message: past these, a coach's template is stopped and
# reported (a loop that never ends, "{{ 'x' * 10**8 }}").
MAX_DRAFT_CHARS = 500_000  # generous for a long store value, far from "100 MB"
MAX_RENDER_SECONDS = 2.0


class _TooSlow(SecurityError):
    """A template that ran past MAX_RENDER_SECONDS."""


class _InsideLoader(FileSystemLoader):
    """A FileSystemLoader that serves only files inside its folder: a symlink (or
    an include) pointing elsewhere is refused, not followed."""

    def get_source(self, environment, template):
        source, filename, uptodate = super().get_source(environment, template)
        roots = [Path(p).resolve() for p in self.searchpath]
        real = Path(filename).resolve()
        if not any(real.is_relative_to(root) for root in roots):
            raise SecurityError(f"the template {template!r} lies outside the templates folder")
        return source, filename, uptodate


class _BoundedSandbox(SandboxedEnvironment):
    """Jinja2's sandbox, with ``*`` and ``**`` kept from building huge values."""

    intercepted_binops = frozenset(["*", "**"])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Templates that already ran out of time: refused at once after the first.
        self.too_slow: dict[str, str] = {}

    def call_binop(self, context, operator, left, right):
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(n, int) and len(seq) * n > MAX_DRAFT_CHARS:
                    raise SecurityError(f"the template builds a value over {MAX_DRAFT_CHARS:,} characters")
        if operator == "**" and isinstance(right, int) and abs(right) > 64:
            raise SecurityError("the template raises a number to too high a power")
        return super().call_binop(context, operator, left, right)


def _render_bounded(template, values: Mapping) -> str:
    """Render within MAX_DRAFT_CHARS of output and MAX_RENDER_SECONDS (checked as
    the text is produced, and by an alarm when this runs in the main thread)."""
    import signal
    import threading
    import time

    def timed_out(signum, frame):
        raise _TooSlow(f"the template ran for more than {MAX_RENDER_SECONDS:g} s")

    use_alarm = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
    if use_alarm:
        previous = signal.signal(signal.SIGALRM, timed_out)
        signal.setitimer(signal.ITIMER_REAL, MAX_RENDER_SECONDS)
    try:
        parts: list[str] = []
        size = 0
        start = time.monotonic()
        for piece in template.generate(**values):
            size += len(piece)
            if size > MAX_DRAFT_CHARS:
                raise SecurityError(f"the template wrote more than {MAX_DRAFT_CHARS:,} characters")
            if time.monotonic() - start > MAX_RENDER_SECONDS:
                raise _TooSlow(f"the template ran for more than {MAX_RENDER_SECONDS:g} s")
            parts.append(piece)
        return "".join(parts)
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


def template_environment(override_dir: Path | None = None) -> SandboxedEnvironment:
    override = Path(override_dir) if override_dir else paths.templates_override_dir()
    loaders = [_InsideLoader(str(override))] if override.is_dir() else []
    loaders.append(_InsideLoader(str(paths.PACKAGE_DIR / "templates")))
    return _BoundedSandbox(
        loader=ChoiceLoader(loaders),
        undefined=StrictUndefined,
        autoescape=False,  # plain text, not HTML; values are never re-rendered
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def long_date(value, as_of=None) -> str:
    """'Monday 16 November' (Babel), with the year when it is not the as-of year."""
    return wording.long_date(value, as_of)


def first_name(name: str) -> str:
    return name.split()[0] if name and name.split() else name


def _index(df: pd.DataFrame, key: str) -> dict:
    return {} if df.empty else df.set_index(key, drop=False).to_dict(orient="index")


def facts_for(action: Mapping, tables: Mapping[str, pd.DataFrame], lookups: dict | None = None, as_of=None) -> dict:
    """Every fact the templates may use for one action, from the store only, true
    on the day ``as_of`` (default: the action's due day).

    Facts the store does not have are left out, so a template that needs one
    fails by name (StrictUndefined) instead of printing a blank. Besides the
    store's facts: ``late`` (the action is overdue), ``attempt``/``attempts_max``/
    ``last_attempt`` for inquiries and check-ins, ``promise_kind`` (send or
    contact), ``deadline_passed`` and ``deadline_reminder`` for an offer letter.
    """
    lk = lookups or _lookups(tables)
    day = pd.Timestamp(as_of if as_of is not None else action.get("due_on")).normalize()
    app = lk["applications"].get(action["application_id"], {})
    coachee = lk["coachees"].get(app.get("coachee_id"), {})
    when = lambda v: long_date(v, day) if present(v) else None  # noqa: E731
    facts: dict = {
        "company": app.get("company"),
        "role": app.get("role"),
        "coachee_name": coachee.get("name"),
        "coachee_email": coachee.get("email"),
        "recipient_name": action.get("recipient"),
        "recipient_email": action.get("recipient_email"),
        "recipient_phone": action.get("recipient_phone"),
        "why": action.get("why"),
        "today": long_date(day, day),
        "late": present(action.get("due_on")) and pd.Timestamp(action["due_on"]) < day,
    }
    iv = lk["interviews"].get(action.get("interview_id")) or lk["last_interview"].get(action["application_id"], {})
    if iv:
        facts.update(
            {
                "interview_date": when(iv.get("held_on")),
                "interviewer_name": iv.get("interviewer_name"),
                "next_step_by": when(iv.get("next_step_by")),
                # "A; B; C" as typed reads "A, B and C".
                "topics": wording.topic_phrase(iv.get("topics")) or None,
                "how_it_went": _in_sentence(iv["how_it_went"]) if present(iv.get("how_it_went")) else None,
            }
        )
    if present(action.get("employer_date")):
        # The employer's latest date (moved by a message, perhaps): the one the inquiry is about.
        facts["next_step_by"] = facts["employer_date"] = when(action["employer_date"])
    elif action["kind"] == "status_inquiry":
        facts.pop("next_step_by", None)  # no date was given: the inquiry is about the silence
    if present(action.get("attempt")):
        facts["attempt"] = int(action["attempt"])
        facts["attempts_max"] = int(action.get("attempts_max") or facts["attempt"])
        facts["last_attempt"] = facts["attempt"] >= facts["attempts_max"]
    if present(action.get("promise_id")):
        p = lk["promises"].get(action["promise_id"], {})
        what = p.get("what")
        facts.update(
            {
                "promise_what": what,
                "promise_what_title": (what[:1].upper() + what[1:]) if present(what) else None,
                "promise_due": when(p.get("due_on")),
                "promise_kind": p.get("kind") if present(p.get("kind")) else "send",
            }
        )
    offer = lk["offers"].get(action["application_id"])
    if offer:
        for col in ("verbal_on", "written_requested_on", "written_received_on", "response_deadline"):
            facts[col] = when(offer.get(col))
        facts["missing_terms"] = [t.replace("_", " ") for t in OFFER_TERMS if not present(offer.get(t))]
        facts["missing_terms_text"] = wording.english_list(facts["missing_terms"])
        facts["accepted"] = present(offer.get("accepted_on"))
        deadline = offer.get("response_deadline")
        facts["deadline_passed"] = present(deadline) and pd.Timestamp(deadline) < day
    ref = parse_action_id(action.get("action_id"))
    facts["deadline_reminder"] = ref is not None and ref.detail[:1] == (DEADLINE_REMINDER,)
    # Due again because its message bounced: the client was not late, the mail was
    # lost; the draft says it is sent again instead of apologising.
    facts["resent"] = ref is not None and ref.again
    if facts["resent"]:
        facts["late"] = False
    recipient = str(action.get("recipient") or "")
    # "your contact at Globex" is no name to greet someone by.
    if present(recipient) and action["kind"] != "await_approval" and not recipient.startswith("your "):
        facts["recipient_first_name"] = first_name(recipient)
    _recorded_facts(action, lk, day, iv, offer, facts)
    # A line break typed into a cell must not split a subject line or a sentence.
    keep = (
        "missing_terms",
        "late",
        "resent",
        "last_attempt",
        "accepted",
        "deadline_passed",
        "deadline_reminder",
        "met",
        "answered",
        "review",
        "grounds",
        "placed_topics",
        "another_position",
        "extension_answered",
    )
    return {k: (_one_line(v) if isinstance(v, str) else v) for k, v in facts.items() if present(v) or k in keep}


# How an application ended, as the coachee tells a reference (close_the_loop): from
# what is recorded only (an approval, applications.status and closed_reason, a
# received rejection), never guessed.
_WITHDREW_BECAUSE = {
    "another_offer": "I withdrew, as I have accepted another position",
    "not_a_fit": "I withdrew, as the role was not the right fit for me",
    "relocation": "I withdrew, as the role would have meant relocating",
    "compensation": "I withdrew, as the pay did not work for me",
    "timing": "I withdrew, as the timing did not work for me",
}
_REJECTED_BECAUSE = {
    "not_a_fit": "they decided not to go ahead with my application, as they did not see the right fit",
    "timing": "they decided not to go ahead with my application, for reasons of timing",
}


def _outcome(app: Mapping, offer, rejected_on, approved_elsewhere: bool) -> tuple[str, set[str]]:
    """The outcome sentence and the claims it makes (for the linter's grounds)."""
    reason = str(app.get("closed_reason") or "") if present(app.get("closed_reason")) else ""
    status = str(app.get("status") or "")
    if offer and present(offer.get("rescinded_on")):
        return "they withdrew their offer", set()
    if offer and present(offer.get("approved_on")):
        return "I accepted their offer, and it has now been approved", {"approved"}
    if status == "hired":
        return "I got the job", {"approved"}
    if status == "withdrawn":
        if reason in _WITHDREW_BECAUSE:
            return _WITHDREW_BECAUSE[reason], {"another_position"} if reason == "another_offer" else set()
        if approved_elsewhere:
            return _WITHDREW_BECAUSE["another_offer"], {"another_position"}
        return "I withdrew my application", set()
    if status == "rejected" or rejected_on is not None:
        return _REJECTED_BECAUSE.get(reason, "they decided not to go ahead with my application"), set()
    return "the process has ended", set()


# A personal pronoun in a topic ("the launch you ran with Keisha") reads right to
# nobody but the person who typed it: such a topic is never placed in a draft.
_PRONOUN = re.compile(r"\b(?:[Yy]ou|[Yy]our|[Yy]ours|[Yy]ourself|I|I'm|I've|[Mm]y|[Mm]ine|[Ww]e|[Oo]ur|[Oo]urs)\b")


def _placeable(text, recipient: str, where: str, review: list[str]) -> list[str]:
    """The topics of ``text`` ('A; B') that read right to any recipient: no pronoun,
    not naming the recipient. Each one left out is named in ``review``."""
    first = first_name(recipient) if present(recipient) else ""
    keep = []
    for topic in wording.split_topics(text):
        if _PRONOUN.search(topic) or (first and re.search(rf"\b{re.escape(first)}\b", topic)):
            review.append(f"left out the topic {topic!r} ({where}): reword it as a noun phrase with no pronoun or name")
        else:
            keep.append(topic)
    return keep


def _same_person(a_name, a_email, b_name, b_email) -> bool:
    if present(a_email) and present(b_email):
        return str(a_email).strip().lower() == str(b_email).strip().lower()
    if present(a_name) and present(b_name):
        return " ".join(str(a_name).lower().split()) == " ".join(str(b_name).lower().split())
    return False


def _was_at(lk: dict, interview_id, contact_id, name, address) -> bool:
    """Whether the recipient was at the interview: its interviewer, or a contact
    recorded as met there (interview_contacts)."""
    iv = lk["interviews"].get(interview_id) if present(interview_id) else None
    if not iv:
        return False
    if present(contact_id) and (interview_id, contact_id) in lk["met"]:
        return True
    if present(contact_id):
        c = lk["contacts"].get(contact_id, {})
        name, address = c.get("name", name), c.get("email", address)
    return _same_person(name, address, iv.get("interviewer_name"), iv.get("interviewer_email"))


def _recipient_role(action: Mapping, lk: dict, iv: Mapping) -> str | None:
    """reference, or contacts.role, or interviewer for the interview's own interviewer."""
    if action["kind"] in REFERENCE_KINDS:
        return "reference"
    contact = lk["contacts"].get(action.get("contact_id")) if present(action.get("contact_id")) else None
    if contact and present(contact.get("role")):
        return str(contact["role"])
    if iv and _same_person(
        action.get("recipient"), action.get("recipient_email"), iv.get("interviewer_name"), iv.get("interviewer_email")
    ):
        return "interviewer"
    if contact and iv and (iv.get("interview_id"), contact.get("contact_id")) in lk["met"]:
        return "interviewer"  # met at the interview, no role recorded
    return None


def _recorded_facts(action: Mapping, lk: dict, day: pd.Timestamp, iv: Mapping, offer, facts: dict) -> None:
    """Contract v3's facts, each only where the store holds it for this recipient:
    ``recipient_role``; ``met`` (the recipient was at the interview the draft
    names); ``own_topics`` (a thank-you's: what this person and the client talked
    about); ``ready_for`` (what a reference should be ready to speak to, from
    talking_points first); ``occasion`` (when a promise was made, if recorded and
    the recipient was there); ``last_in_touch`` (the latest contact logged, any
    kind); ``last_spoke`` (a reference: the latest briefing, check-in or message);
    ``answered``; ``extension_sent_on``; ``outcome``. ``review`` lists what the
    coach should add or check; ``grounds`` the claims the facts allow."""
    kind = action["kind"]
    when = lambda v: long_date(v, day) if present(v) else None  # noqa: E731
    review: list[str] = []
    grounds: set[str] = set()
    placed: list[str] = []
    recipient = str(action.get("recipient") or "")
    first = first_name(recipient) if present(recipient) else "them"
    app_id = action["application_id"]
    msgs = [m for m in lk["messages"].get(app_id, []) if pd.Timestamp(m["on"]) <= day]
    role = _recipient_role(action, lk, iv)
    if role:
        facts["recipient_role"] = role
    met = bool(iv) and _was_at(
        lk, iv.get("interview_id"), action.get("contact_id"), recipient, action.get("recipient_email")
    )
    facts["met"] = met
    if met and kind != "keep_promise":  # a promise's occasion is its own fact (below)
        grounds.add("conversation")
    # The interview's topics are the interviewer's: never said to anyone else as "ours".
    facts.pop("topics", None)
    if iv and met:
        topics = _placeable(iv.get("topics"), recipient, "interviews.topics", review)
        if topics:
            facts["topics"] = wording.english_list(topics)

    if kind == "thank_you_note":
        own = None
        if present(action.get("contact_id")):
            own = lk["met_topics"].get((iv.get("interview_id"), action.get("contact_id")))
            where = "interview_contacts.topics"
        else:
            own = iv.get("topics") if iv else None
            where = "interviews.topics"
        topics = _placeable(own, recipient, where, review)
        if topics:
            facts["own_topics"] = wording.english_list(topics)
            placed += topics
        else:
            review.append(f"add a line of your own about what you and {first} talked about ({where})")

    if kind == "brief_references":
        ru = lk["ref_uses"].get((action.get("reference_id"), app_id), {})
        points = _placeable(ru.get("talking_points"), recipient, "reference_uses.talking_points", review)
        if not points and iv:
            points = _placeable(iv.get("topics"), recipient, "interviews.topics", review)
        if points:
            facts["ready_for"] = wording.english_list(points)
            placed += points
        if iv:  # a reference was not at the interview: no "they cared most" in anyone's voice
            facts.pop("topics", None)

    if kind == "keep_promise" and present(action.get("promise_id")):
        p = lk["promises"].get(action["promise_id"], {})
        at = p.get("made_at_interview_id")
        if present(at) and _was_at(lk, at, action.get("contact_id"), recipient, action.get("recipient_email")):
            facts["occasion"] = "when we spoke on " + when(lk["interviews"][at]["held_on"])
            grounds.add("conversation")
        elif (
            present(p.get("made_on"))
            and not present(at)
            and present(p.get("contact_id"))
            and (p.get("contact_id") == action.get("contact_id"))
        ):
            facts["occasion"] = "on " + when(p["made_on"])

    if kind in ("offer_checkin", "status_inquiry"):
        since = pd.Timestamp(iv["held_on"]) if iv and present(iv.get("held_on")) else None
        me = action.get("contact_id")
        logged = [
            m
            for m in msgs
            if not present(m.get("reference_id"))
            and (since is None or pd.Timestamp(m["on"]) > since)
            and normal_kind(m.get("kind")) not in NOT_WORD_FROM_EMPLOYER
            and (not present(m.get("contact_id")) or not present(me) or m.get("contact_id") == me)
        ]
        if logged:
            facts["last_in_touch_on"] = max(pd.Timestamp(m["on"]) for m in logged)
            facts["last_in_touch"] = when(facts["last_in_touch_on"])
        heard = [m for m in logged if m.get("direction") == "received"]
        if heard:
            facts["last_heard"] = when(max(pd.Timestamp(m["on"]) for m in heard))

    if kind == "reference_checkin" and present(action.get("reference_id")):
        ref = action["reference_id"]
        days = [
            pd.Timestamp(v)
            for ru in lk["ref_uses_by_ref"].get(ref, [])
            for v in (ru.get("briefed_on"), ru.get("last_checkin_on"))
            if present(v) and pd.Timestamp(v) <= day
        ]
        days += [pd.Timestamp(m["on"]) for m in lk["ref_messages"].get(ref, []) if pd.Timestamp(m["on"]) <= day]
        if days:
            facts["last_spoke"] = when(max(days))

    if kind in ("review_offer_letter", "request_written_offer"):
        facts["answered"] = False
        sent = [m for m in msgs if m.get("direction") == "sent" and not present(m.get("reference_id"))]
        asked = [pd.Timestamp(m["on"]) for m in sent if normal_kind(m.get("kind")) == "review_offer_letter"]
        received = [
            pd.Timestamp(m["on"])
            for m in msgs
            if m.get("direction") == "received"
            and not present(m.get("reference_id"))
            and normal_kind(m.get("kind")) not in NOT_WORD_FROM_EMPLOYER
        ]
        if asked and any(r >= max(asked) for r in received):
            facts["answered"] = True
            grounds.add("answers")
        ext = [pd.Timestamp(m["on"]) for m in sent if normal_kind(m.get("kind")) == EXTENSION_REQUEST]
        if ext:
            last_ext = max(ext)
            facts["extension_sent_on"] = when(last_ext)
            if any(r >= last_ext for r in received):
                facts["extension_answered"] = True

    app = lk["applications"].get(app_id, {})
    approved_elsewhere = any(
        a_id != app_id
        and present(o.get("approved_on"))
        and not present(o.get("rescinded_on"))
        and pd.Timestamp(o["approved_on"]) <= day
        for a_id, o in lk["offers"].items()
        if lk["applications"].get(a_id, {}).get("coachee_id") == app.get("coachee_id")
    )
    if kind == "withdraw_application" and (approved_elsewhere or app.get("closed_reason") == "another_offer"):
        facts["another_position"] = True
        grounds.add("another_position")
    if kind == "close_the_loop":
        rejections = [m for m in msgs if m.get("direction") == "received" and normal_kind(m.get("kind")) == REJECTION]
        rejected_on = min((pd.Timestamp(m["on"]) for m in rejections), default=None)
        facts["outcome"], claims = _outcome(app, offer, rejected_on, approved_elsewhere)
        grounds |= claims
    facts["review"] = review
    facts["grounds"] = frozenset(grounds)
    facts["placed_topics"] = placed


def _in_sentence(text) -> str:
    """A coachee's own words set inside a sentence: no closing full stop, and a
    capital only where one belongs ("Strong on…" -> "strong on…"; "I", "SQL" kept)."""
    text = " ".join(str(text).split()).rstrip(".")
    word = text.split(" ", 1)[0]
    if len(word) > 1 and word[0].isupper() and word[1:].islower():
        text = text[0].lower() + text[1:]
    return text


def _records(tables: Mapping[str, pd.DataFrame], name: str) -> list[dict]:
    df = tables.get(name)
    if df is None or df.empty:
        return []
    return [{k: (v if present(v) else None) for k, v in r.items()} for r in df.to_dict(orient="records")]


def _lookups(tables: Mapping[str, pd.DataFrame]) -> dict:
    met = _records(tables, "interview_contacts")
    ref_uses = _records(tables, "reference_uses")
    messages: dict[str, list[dict]] = {}
    ref_messages: dict[str, list[dict]] = {}
    for m in _records(tables, "messages"):
        if m.get("on") is None:
            continue
        messages.setdefault(m["application_id"], []).append(m)
        if m.get("reference_id"):
            ref_messages.setdefault(m["reference_id"], []).append(m)
    by_ref: dict[str, list[dict]] = {}
    for ru in ref_uses:
        by_ref.setdefault(ru["reference_id"], []).append(ru)
    return {
        "applications": _index(tables["applications"], "application_id"),
        "coachees": _index(tables["coachees"], "coachee_id"),
        "interviews": _index(tables["interviews"], "interview_id"),
        "last_interview": _index(latest_interviews(tables["interviews"]), "application_id"),
        "promises": _index(tables["promises"], "promise_id"),
        "offers": _index(tables["offers"], "application_id"),
        "contacts": {c["contact_id"]: c for c in _records(tables, "contacts")},
        "met": {(r["interview_id"], r["contact_id"]) for r in met},
        "met_topics": {(r["interview_id"], r["contact_id"]): r.get("topics") for r in met},
        "ref_uses": {(r["reference_id"], r["application_id"]): r for r in ref_uses},
        "ref_uses_by_ref": by_ref,
        "messages": messages,
        "ref_messages": ref_messages,
    }


_SLUG = re.compile(r"[^a-z0-9]+")


def _slug(text: str) -> str:
    return _SLUG.sub("-", str(text).lower()).strip("-")[:40] or "x"


def _missing_contact(action: Mapping, channel: str) -> str:
    who = action.get("recipient") or "the recipient"
    what, col = ("email address", "email") if channel == "email" else ("phone number", "phone")
    if action["kind"] in ("brief_references", "reference_checkin"):
        where = f"references.{col} of reference {action.get('reference_id')}"
    elif action.get("interview_id"):
        where = f"interviews.interviewer_{col} of interview {action['interview_id']}"
    else:
        where = f"no interview is recorded for application {action.get('application_id')}"
    return f"no {what} for {who} ({where})"


def _fact_source(fact: str, action: Mapping) -> str:
    """Where the store keeps a missing fact, as precisely as the action allows."""
    if fact == "recipient_first_name":
        if action["kind"] in ("brief_references", "reference_checkin"):
            return f"references.name of reference {action.get('reference_id')}"
        if action.get("interview_id"):
            return f"interviews.interviewer_name of interview {action['interview_id']}"
        return f"no interview is recorded for application {action.get('application_id')}"
    return FACT_SOURCES.get(fact, "not in the store")


def _one_line(text: str) -> str:
    """A header value: a store value with a line break must not end the header."""
    return " ".join(str(text).split())


def _why(action: Mapping, facts: Mapping) -> str:
    """The action's why, as true as the draft: a call is a call (not "a brief
    note"), and a check-in after a logged contact does not say "no check-in yet"."""
    why = str(action.get("why") or "")
    if action.get("channel") == "phone":
        why = why.replace("A brief note:", "A brief call:").replace("a brief note", "a brief call")
    if facts.get("last_in_touch_on") is not None:
        day = facts["last_in_touch_on"]
        why = why.replace("no check-in yet", f"you were last in touch on {day.day} {day:%b}")
    return why


RESENT_LINE = "My earlier email did not reach you, so I am sending it again."
_EMAIL_GREETING = re.compile(r"\A((?:Dear|Hi|Hello)\b[^\n]*\n)\s*")


def _with_resent_line(text: str) -> str:
    """An email's text with ``RESENT_LINE`` opening it, after the greeting if it has one."""
    m = _EMAIL_GREETING.match(text)
    head, rest = (m.group(1), text[m.end() :]) if m else ("", text)
    return f"{head}\n{RESENT_LINE}\n\n{rest}" if head else f"{RESENT_LINE}\n\n{rest}"


def render_draft(action: Mapping, facts: Mapping, env: SandboxedEnvironment | None = None) -> Draft:
    """One action's draft. Raises DraftError naming whatever fact is missing."""
    env = env or template_environment()
    kind, channel = action["kind"], action["channel"]
    label = f"{kind} for {action.get('company') or facts.get('company', '')}"
    address = facts.get("recipient_email" if channel == "email" else "recipient_phone")
    if not address:
        raise DraftError(f"{label}: {_missing_contact(action, channel)}")
    try:
        template = env.get_template(f"{kind}.{channel}.j2")
        # A message of one part unless told otherwise (PART_FLAGS).
        slow = getattr(env, "too_slow", {})
        if template.name in slow:
            raise SecurityError(slow[template.name])
        try:
            text = _render_bounded(template, {**dict.fromkeys(PART_FLAGS, False), **facts}).strip()
        except _TooSlow as exc:
            if isinstance(slow, dict):
                slow[template.name] = str(exc)
            raise
    except TemplateNotFound as exc:
        raise DraftError(f"{label}: no template {exc.name}") from exc
    except UndefinedError as exc:
        m = re.search(r"'([^']+)' is undefined", str(exc))
        fact = m.group(1) if m else str(exc)
        raise DraftError(f"{label}: missing {fact} ({_fact_source(fact, action)})") from exc
    except (SecurityError, TemplateSyntaxError) as exc:
        raise DraftError(f"{label}: the template is not allowed or not valid: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 — a coach's template failing as it runs (1/0, a huge range…)
        raise DraftError(
            f"{label}: the template {kind}.{channel}.j2 failed while it ran: {type(exc).__name__}: {exc}"
        ) from exc
    subject = ""
    if channel == "email":
        first, _, rest = text.partition("\n")
        if first.lower().startswith("subject:"):
            subject, text = first.split(":", 1)[1].strip(), rest.strip()
        else:
            subject = f"{facts.get('role', '')}, {facts.get('company', '')}".strip(", ")
    if facts.get("resent") and channel == "email":
        text = _with_resent_line(text)
    body = re.sub(r"\n{3,}", "\n\n", text) + "\n"
    draft = Draft(
        action_id=action["action_id"],
        kind=kind,
        channel=channel,
        company=str(facts.get("company", "")),
        to_name=str(facts.get("recipient_name", "")),
        to_address=str(address),
        subject=subject,
        body=body,
        from_name=str(facts.get("coachee_name", "")),
        from_address=str(facts.get("coachee_email", "")),
        why=_why(action, facts),
        coachee_id=str(action.get("coachee_id") or ""),
        as_of=str(facts.get("_as_of", "")),
        review=list(facts.get("review") or []),
        grounds=facts.get("grounds"),
        topics=list(facts.get("placed_topics") or []),
    )
    if channel == "email":
        try:  # an address a mail message cannot carry is this draft's problem, found now
            draft.as_email().as_bytes()
        except Exception as exc:  # noqa: BLE001 — the email package raises several kinds
            raise DraftError(
                f"{label}: the email address {address!r} (or {facts.get('coachee_email', '')!r}, "
                f"coachees.email) cannot be used in a message: {exc}"
            ) from exc
    return draft


_GREETING = re.compile(r'^"(?:Hello|Hi|Good (?:morning|afternoon))\b[^.!?]*[.!?]\s*')

# The order a bundled message takes: thanks first, then what was promised, then the rest.
_BUNDLE_ORDER = {"thank_you_note": 0, "keep_promise": 1}

#: Where a part stands in a bundled message, given to every template (each False
#: for a message of one part): ``continued`` (a part comes before it: no greeting
#: or introduction of its own), ``same_application`` (the part just before is about
#: the same application: no need to name the role, company and day again),
#: ``more_follows`` (a part comes after it: the closing courtesy is left to the last)
#: and ``apologised`` (a late part before it already said sorry: once is enough).
PART_FLAGS = ("continued", "same_application", "more_follows", "apologised")


def render_drafts(
    actions: pd.DataFrame,
    tables: Mapping[str, pd.DataFrame],
    override_dir: Path | None = None,
    *,
    as_of=None,
    upcoming: bool = True,
    bundle: bool = True,
) -> DraftResult:
    """The drafts for ``actions``; problems listed, never fatal.

    With ``upcoming=False`` only what is due or overdue is drafted. With ``bundle``
    (the default), every action due or overdue to the same person — the same email
    address, or the same phone number and name for a call — becomes one draft
    covering them all (one message per person per day), each part written by its
    kind's template (a coach's own, where there is one) knowing where it stands
    (``PART_FLAGS``); an upcoming action is drafted for its own day. ``as_of`` is
    the day the drafts are written on (default: each action's due day), so nothing
    that has passed is written as still ahead.
    """
    env = template_environment(override_dir)
    lookups = _lookups(tables)
    result = DraftResult()
    todo = actions[actions["kind"].isin(MESSAGE_KINDS)]
    if not upcoming:
        todo = todo[todo["status"].isin(["due", "overdue"])]
    singles: list[tuple[dict, dict, Draft]] = []
    for action in todo.to_dict(orient="records"):
        action = {k: (None if not present(v) else v) for k, v in action.items()}
        day = _draft_day(action, as_of)
        facts = facts_for(action, tables, lookups, as_of=day)
        facts["_as_of"] = day.strftime("%Y-%m-%d")
        if facts.get("deadline_passed") and "extension_sent_on" in facts and not facts.get("extension_answered"):
            # Asked once: the request is never drafted again while their answer is
            # awaited. What the letter leaves out may still be asked (no date promised).
            if not facts.get("missing_terms"):
                result.problems.append(
                    f"{action['kind']} for {facts.get('company', '')}: more time was asked for on "
                    f"{facts['extension_sent_on']}; waiting for their answer"
                )
                continue
            facts.update(deadline_passed=False, deadline_reminder=False)
            facts.pop("response_deadline", None)
        try:
            draft = render_draft(action, facts, env)
        except DraftError as exc:
            result.problems.append(str(exc))
            continue
        singles.append((action, facts, draft))
    drafts = _bundled(singles, env) if bundle else [d for _, _, d in singles]
    used: set[tuple] = set()  # file names already taken, per coachee (each has a folder)
    for draft in drafts:
        stem = f"{draft.as_of}-{draft.kind}-{_slug(draft.company)}-{_slug(draft.to_name)}"
        name, n = stem, 2
        while (draft.coachee_id, name) in used:
            name, n = f"{stem}-{n}", n + 1
        used.add((draft.coachee_id, name))
        draft.filename = name + draft.suffix
        result.drafts.append(draft)
    _review(result.drafts, as_of)
    return result


def _review(drafts: list[Draft], as_of) -> None:
    """The linter, run as the drafts are written: each finding goes into the
    draft's review note (the draft is still written)."""
    from .draft_lint import lint_draft, same_recipient

    for draft in drafts:
        day = as_of if as_of is not None else draft.as_of
        draft.review.extend(f"check: {p}" for p in lint_draft(draft, day))
    for who, group in same_recipient(drafts):
        for draft in group:
            draft.review.append(f"check: {len(group)} drafts to {who} on one day: send one message")


def _draft_day(action: Mapping, as_of) -> pd.Timestamp:
    """The day a draft is written for: the as-of day for what is due or overdue, the
    due day for what is coming up."""
    due = pd.Timestamp(action["due_on"]).normalize()
    if as_of is None:
        return due
    day = pd.Timestamp(as_of).normalize()
    return max(due, day)


def _bundled(singles: list[tuple[dict, dict, Draft]], env: SandboxedEnvironment) -> list[Draft]:
    """One draft per person per day: drafts to the same address (or phone and name)
    for the same coachee on the same day merged, in a natural order, each part
    rendered again knowing where it stands in the message."""
    groups: dict[tuple, list[tuple[dict, dict, Draft]]] = {}
    for part in singles:
        draft = part[2]
        key = (draft.coachee_id, draft.channel, bundle_key(draft), draft.as_of)
        groups.setdefault(key, []).append(part)
    out = []
    for parts in groups.values():
        if len(parts) == 1:
            out.append(parts[0][2])
            continue
        parts.sort(key=lambda p: (_BUNDLE_ORDER.get(p[2].kind, 2), int(p[0].get("priority") or 9), p[2].action_id))
        placed = []
        for i, (action, facts, alone) in enumerate(parts):
            flags = {
                "continued": i > 0,
                "same_application": i > 0 and parts[i - 1][0].get("application_id") == action.get("application_id"),
                "more_follows": i < len(parts) - 1,
                "apologised": any(bool(p[1].get("late")) for p in parts[:i]),
            }
            try:
                placed.append(render_draft(action, {**facts, **flags}, env))
            except DraftError:  # a coach's template that cannot stand inside a message: as it is alone
                placed.append(alone)
        out.append(merge_drafts(placed))
    return out


def bundle_key(draft: Draft) -> str:
    """Who a draft goes to, as one message per person per day counts people: an
    email address (case aside), or a phone number and a name (a switchboard is
    shared: one call per person at it, not one for all)."""
    if draft.channel == "phone":
        return re.sub(r"[^0-9+]", "", draft.to_address) + "/" + " ".join(draft.to_name.lower().split())
    return draft.to_address.strip().lower()


def merge_drafts(parts: list[Draft]) -> Draft:
    """Several drafts to one person as one message: the first's greeting and
    sign-off around every part's middle (an email), or one call covering each
    part in turn (a phone script). Each part says only what is its own: the shipped
    templates leave out their greeting and closing courtesy by ``PART_FLAGS``."""
    first = parts[0]
    if first.channel == "email":
        paragraphs = [p.body.strip().split("\n\n") for p in parts]
        if all(len(ps) >= 3 for ps in paragraphs):
            middle = [para for ps in paragraphs for para in ps[1:-1]]
            body = "\n\n".join([paragraphs[0][0], *middle, paragraphs[0][-1]]) + "\n"
        else:  # a coach's template of another shape: keep each whole
            body = "\n\n".join(p.body.strip() for p in parts) + "\n"
    else:
        # Later parts of one call skip their own "Hello Theo, this is Maya." opening
        # (the shipped templates already do; a coach's own may not).
        later = [_GREETING.sub('"', p.body.strip(), count=1) for p in parts[1:]]
        body = first.body.rstrip("\n") + "".join("\n\nIn the same call:\n" + text for text in later) + "\n"
    why = " ".join(p.why for p in parts if p.why)
    return Draft(
        action_id=first.action_id,
        kind=first.kind,
        channel=first.channel,
        company=first.company,
        to_name=first.to_name,
        to_address=first.to_address,
        subject=first.subject,
        body=body,
        from_name=first.from_name,
        from_address=first.from_address,
        why=why,
        coachee_id=first.coachee_id,
        as_of=first.as_of,
        action_ids=[a for p in parts for a in p.action_ids],
        kinds=[k for p in parts for k in p.kinds],
        review=[r for p in parts for r in p.review],
        grounds=None if any(p.grounds is None for p in parts) else frozenset().union(*(p.grounds for p in parts)),
        topics=[t for p in parts for t in p.topics],
    )


@dataclass
class SentDraft:
    """What a draft file says about itself, read back to mark it sent."""

    action_ids: list[str]
    coachee_id: str
    as_of: str
    channel: str
    subject: str
    body: str


def read_draft_file(path: str | Path) -> SentDraft:
    """A draft written by ``write_draft`` (an .eml, perhaps edited and sent from a
    mail client, or a .txt phone script), read back. Raises UserError if it is not one."""
    import email
    from email import policy as _policy

    from ..errors import UserError

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} is not a file")
    data = path.read_bytes()
    if len(data) > 5_000_000:
        raise UserError(f"{path} is too large to be a draft")
    if path.suffix.lower() == ".eml":
        msg = email.message_from_bytes(data, policy=_policy.default)
        part = msg.get_body(preferencelist=("plain",))
        body = part.get_content() if part is not None else ""
        header = lambda name: str(msg.get(name, "") or "")  # noqa: E731
        return SentDraft(
            action_ids=decode_action_ids(header(ACTIONS_HEADER)),
            coachee_id=unquote(header(COACHEE_HEADER).strip()),
            as_of=header(AS_OF_HEADER).strip(),
            channel="email",
            subject=" ".join(header("Subject").split()),
            body=body,
        )
    text = data.decode("utf-8", errors="replace")
    fields = dict(re.findall(r"^(X-Followup-[A-Za-z-]+): (.*)$", text, flags=re.M))
    body = re.sub(r"^(X-Followup-[A-Za-z-]+): .*$\n?", "", text, flags=re.M).strip() + "\n"
    return SentDraft(
        action_ids=decode_action_ids(fields.get(ACTIONS_HEADER, "")),
        coachee_id=unquote(fields.get(COACHEE_HEADER, "").strip()),
        as_of=fields.get(AS_OF_HEADER, "").strip(),
        channel="phone",
        subject="",
        body=body,
    )


def write_draft(draft: Draft, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / (draft.filename or f"{_slug(draft.action_id)}{draft.suffix}")
    if draft.channel == "email":
        path.write_bytes(draft.as_email().as_bytes())
    else:
        path.write_text(draft.as_text(), encoding="utf-8")
    return path


def write_drafts(result: DraftResult, out_dir: str | Path) -> list[Path]:
    out = Path(out_dir)
    return [write_draft(d, out) for d in result.drafts]
