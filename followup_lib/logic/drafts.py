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
from ..kinds import MESSAGE_KINDS
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
        # 8bit keeps the draft readable in any editor; mail clients accept it.
        msg.set_content(self.body, cte="7bit" if self.body.isascii() else "8bit")
        return msg

    def as_text(self) -> str:
        """A phone script, or the plain text of an email."""
        if self.channel == "email":
            return f"To: {self.to_name} <{self.to_address}>\nSubject: {self.subject}\n\n{self.body}"
        head = f"Call {self.to_name} ({self.company}) on {self.to_address}\nWhy: {self.why}\n"
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
    facts["deadline_reminder"] = str(action.get("action_id") or "").split(":")[2:3] == ["deadline"]
    if action["kind"] == "close_the_loop":
        facts["outcome"] = _outcome(app.get("status"), offer)
    recipient = str(action.get("recipient") or "")
    # "your contact at Globex" is no name to greet someone by.
    if present(recipient) and action["kind"] != "await_approval" and not recipient.startswith("your "):
        facts["recipient_first_name"] = first_name(recipient)
    # A line break typed into a cell must not split a subject line or a sentence.
    keep = ("missing_terms", "late", "last_attempt", "accepted", "deadline_passed", "deadline_reminder")
    return {k: (_one_line(v) if isinstance(v, str) else v) for k, v in facts.items() if present(v) or k in keep}


# How an application ended, as the coachee tells a reference (close_the_loop).
_OUTCOME_WORDS = {
    "hired": "I got the job, and I start soon",
    "rejected": "they chose another candidate this time",
    "withdrawn": "I withdrew, as I have accepted another position",
}


def _outcome(status, offer) -> str:
    if offer and present(offer.get("approved_on")):
        return "I accepted their offer, and it has now been approved"
    return _OUTCOME_WORDS.get(str(status), "the process has ended")


def _in_sentence(text) -> str:
    """A coachee's own words set inside a sentence: no closing full stop, and a
    capital only where one belongs ("Strong on…" -> "strong on…"; "I", "SQL" kept)."""
    text = " ".join(str(text).split()).rstrip(".")
    word = text.split(" ", 1)[0]
    if len(word) > 1 and word[0].isupper() and word[1:].islower():
        text = text[0].lower() + text[1:]
    return text


def _lookups(tables: Mapping[str, pd.DataFrame]) -> dict:
    return {
        "applications": _index(tables["applications"], "application_id"),
        "coachees": _index(tables["coachees"], "coachee_id"),
        "interviews": _index(tables["interviews"], "interview_id"),
        "last_interview": _index(latest_interviews(tables["interviews"]), "application_id"),
        "promises": _index(tables["promises"], "promise_id"),
        "offers": _index(tables["offers"], "application_id"),
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
        why=str(action.get("why") or ""),
        coachee_id=str(action.get("coachee_id") or ""),
        as_of=str(facts.get("_as_of", "")),
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
    return result


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
