"""Drafts: one message per action, in the channel the recipient asked for.

Templates are Jinja2 files, ``<kind>.<channel>.j2``, shipped in
``followup_lib/templates`` and overridable by a file of the same name in
``data/templates``. They render in a sandbox with strict undefined values: a fact
the store lacks is an error naming it, never a blank "Dear ,". An email template
starts with a ``Subject:`` line.
"""

from __future__ import annotations

import email.policy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path

import pandas as pd
from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined, TemplateNotFound, UndefinedError
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from .. import paths
from ..errors import DraftError  # noqa: F401 (re-exported)
from ..kinds import MESSAGE_KINDS
from ..schema import OFFER_TERMS, present  # noqa: F401 (present re-exported)
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
        # 8bit keeps the draft readable in any editor; mail clients accept it.
        msg.set_content(self.body, cte="7bit" if self.body.isascii() else "8bit")
        return msg

    def as_text(self) -> str:
        """A phone script, or the plain text of an email."""
        if self.channel == "email":
            return f"To: {self.to_name} <{self.to_address}>\nSubject: {self.subject}\n\n{self.body}"
        head = f"Call {self.to_name} ({self.company}) on {self.to_address}\nWhy: {self.why}\n\n"
        return head + self.body

    def first_lines(self, n: int = 3) -> str:
        lines = [ln for ln in self.body.splitlines() if ln.strip()]
        return "\n".join(lines[:n])


@dataclass
class DraftResult:
    drafts: list[Draft] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- rendering


def template_environment(override_dir: Path | None = None) -> SandboxedEnvironment:
    override = Path(override_dir) if override_dir else paths.templates_override_dir()
    loaders = [FileSystemLoader(str(override))] if override.is_dir() else []
    loaders.append(FileSystemLoader(str(paths.PACKAGE_DIR / "templates")))
    return SandboxedEnvironment(
        loader=ChoiceLoader(loaders),
        undefined=StrictUndefined,
        autoescape=False,  # plain text, not HTML; values are never re-rendered
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def long_date(value) -> str:
    d = pd.Timestamp(value)
    return f"{d:%A} {d.day} {d:%B}"


def first_name(name: str) -> str:
    return name.split()[0] if name and name.split() else name


def _index(df: pd.DataFrame, key: str) -> dict:
    return {} if df.empty else df.set_index(key, drop=False).to_dict(orient="index")


def facts_for(action: Mapping, tables: Mapping[str, pd.DataFrame], lookups: dict | None = None) -> dict:
    """Every fact the templates may use for one action, from the store only.

    Facts the store does not have are left out, so a template that needs one
    fails by name (StrictUndefined) instead of printing a blank.
    """
    lk = lookups or _lookups(tables)
    app = lk["applications"].get(action["application_id"], {})
    coachee = lk["coachees"].get(app.get("coachee_id"), {})
    facts: dict = {
        "company": app.get("company"),
        "role": app.get("role"),
        "coachee_name": coachee.get("name"),
        "coachee_email": coachee.get("email"),
        "recipient_name": action.get("recipient"),
        "recipient_email": action.get("recipient_email"),
        "recipient_phone": action.get("recipient_phone"),
        "why": action.get("why"),
    }
    iv = lk["interviews"].get(action.get("interview_id")) or lk["last_interview"].get(action["application_id"], {})
    if iv:
        facts.update(
            {
                "interview_date": long_date(iv["held_on"]) if present(iv.get("held_on")) else None,
                "interviewer_name": iv.get("interviewer_name"),
                "next_step_by": long_date(iv["next_step_by"]) if present(iv.get("next_step_by")) else None,
                "topics": iv.get("topics"),
            }
        )
    if present(action.get("promise_id")):
        p = lk["promises"].get(action["promise_id"], {})
        what = p.get("what")
        facts.update(
            {
                "promise_what": what,
                "promise_what_title": (what[:1].upper() + what[1:]) if present(what) else None,
                "promise_due": long_date(p["due_on"]) if present(p.get("due_on")) else None,
            }
        )
    offer = lk["offers"].get(action["application_id"])
    if offer:
        for col in ("verbal_on", "written_requested_on", "written_received_on", "response_deadline"):
            facts[col] = long_date(offer[col]) if present(offer.get(col)) else None
        facts["missing_terms"] = [t.replace("_", " ") for t in OFFER_TERMS if not present(offer.get(t))]
    if action["kind"] == "close_the_loop":
        facts["outcome"] = _outcome(app.get("status"), offer)
    if present(facts.get("recipient_name")) and action["kind"] != "await_approval":
        facts["recipient_first_name"] = first_name(str(facts["recipient_name"]))
    if action["kind"] in (
        "thank_you_note",
        "keep_promise",
        "status_inquiry",
        "offer_checkin",
        "request_written_offer",
        "review_offer_letter",
    ) and not present((iv or {}).get("interviewer_name")):
        facts.pop("recipient_first_name", None)
    # A line break typed into a cell must not split a subject line or a sentence.
    return {
        k: (_one_line(v) if isinstance(v, str) else v) for k, v in facts.items() if present(v) or k == "missing_terms"
    }


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
        text = template.render(**facts).strip()
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


def render_drafts(
    actions: pd.DataFrame, tables: Mapping[str, pd.DataFrame], override_dir: Path | None = None
) -> DraftResult:
    """A draft for every action that needs a message; problems listed, never fatal."""
    env = template_environment(override_dir)
    lookups = _lookups(tables)
    result = DraftResult()
    used: set[tuple] = set()  # file names already taken, per coachee (each has a folder)
    for action in actions[actions["kind"].isin(MESSAGE_KINDS)].to_dict(orient="records"):
        action = {k: (None if not present(v) else v) for k, v in action.items()}
        try:
            draft = render_draft(action, facts_for(action, tables, lookups), env)
        except DraftError as exc:
            result.problems.append(str(exc))
            continue
        due = pd.Timestamp(action["due_on"]).strftime("%Y-%m-%d")
        stem = f"{due}-{action['kind']}-{_slug(draft.company)}-{_slug(draft.to_name)}"
        name, n = stem, 2
        while (action.get("coachee_id"), name) in used:
            name, n = f"{stem}-{n}", n + 1
        used.add((action.get("coachee_id"), name))
        draft.filename = name + draft.suffix
        result.drafts.append(draft)
    return result


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
