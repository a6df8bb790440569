"""Which messages of a mailbox belong in one coachee's workbook, and as what.

Pure: the coachee's typed tables and plain message records (see
``followup_lib.data.mailbox``) in, proposals out. Nothing is written here.

- from an address of an application's contact or interviewer (or, failing that,
  from their domain) → ``received`` on that application;
- to them from the coachee → ``sent``; when it carries our drafts'
  ``X-Followup-Actions`` header, it completes exactly those actions;
- to or from a reference → on the application the reference was given to; that
  the employer contacted the reference (``contacted_on``) is only suggested;
- matching two applications → ambiguous, never guessed; anything else → ignored.

Each proposal is keyed by the Message-ID: its ``message_id`` is derived from it,
so the same mailbox read twice proposes the same rows. ``next_step_by`` is never
read from the text: the coach fills it in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

import pandas as pd

from .drafts import SentDraft, decode_action_ids
from .rules import due_actions

# Domains shared by everyone: an interviewer writing from one says nothing about
# which employer a stranger writing from it works for.
FREE_MAIL = frozenset(
    """gmail.com googlemail.com outlook.com hotmail.com hotmail.co.uk live.com msn.com yahoo.com yahoo.co.uk
    ymail.com icloud.com me.com mac.com aol.com proton.me protonmail.com gmx.com gmx.de gmx.net web.de
    mail.com zoho.com yandex.com fastmail.com hey.com qq.com 163.com example.com example.org example.net""".split()
)

NEW, LOGGED, AMBIGUOUS, NOT_DUE, REPEATED = "new", "already logged", "ambiguous", "not due", "repeated"
MAX_SUMMARY = 200


def mail_message_id(key: str) -> str:
    """The ``messages.message_id`` of a mailbox message: stable for its Message-ID
    (or the stand-in key), whatever characters that holds."""
    text = key.strip().strip("<>").strip().lower() if not key.startswith("no-message-id:") else key
    return "mail-" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:20]


@dataclass
class Proposal:
    """One message of the mailbox, as the workbook would log it."""

    status: str  # new | already logged | ambiguous | not due | repeated
    what: str  # received | sent | sent draft
    on: dt.date
    subject: str
    why: str
    where: str
    application_id: str | None = None
    company: str = ""
    candidates: list[str] = field(default_factory=list)  # the applications an ambiguous one could be
    row: dict | None = None  # the messages row to write (status new)
    draft: SentDraft | None = None  # the draft to complete (status new)
    suggestion: str = ""

    @property
    def writes(self) -> bool:
        return self.status == NEW and (self.row is not None or self.draft is not None)


@dataclass
class MailProposals:
    proposals: list[Proposal] = field(default_factory=list)
    ignored: int = 0

    @property
    def to_write(self) -> list[Proposal]:
        return [p for p in self.proposals if p.writes]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.proposals:
            out[p.status] = out.get(p.status, 0) + 1
        return out


def _text(value) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value).strip()


def _domain(address: str) -> str:
    return address.rsplit("@", 1)[-1].lower()


class Matcher:
    """The coachee's people, indexed by address and domain."""

    def __init__(self, tables: Mapping[str, pd.DataFrame], coachee_id: str):
        self.coachee_id = coachee_id
        self.tables = tables
        coachees = tables["coachees"]
        me = coachees[coachees["coachee_id"] == coachee_id]
        self.own = {_text(e).lower() for e in me["email"] if _text(e)}
        apps = tables["applications"]
        apps = apps[apps["coachee_id"] == coachee_id]
        self.company = dict(zip(apps["application_id"], apps["company"].map(_text)))
        # address -> {application_id: (contact_id or None, who)}
        self.people: dict[str, dict[str, tuple[str | None, str]]] = {}
        for c in tables["contacts"].itertuples(index=False):
            if c.application_id in self.company and _text(c.email):
                self.people.setdefault(_text(c.email).lower(), {})[c.application_id] = (c.contact_id, _text(c.name))
        for i in tables["interviews"].itertuples(index=False):
            address = _text(i.interviewer_email).lower()
            if i.application_id in self.company and address:
                known = self.people.setdefault(address, {})
                known.setdefault(i.application_id, (None, _text(i.interviewer_name) or address))
        self.domains: dict[str, set[str]] = {}
        for address, apps_of in self.people.items():
            d = _domain(address)
            if d not in FREE_MAIL and d not in {_domain(a) for a in self.own}:
                self.domains.setdefault(d, set()).update(apps_of)
        refs = tables["references"]
        refs = refs[refs["coachee_id"] == coachee_id]
        self.references = {
            _text(r.email).lower(): (r.reference_id, _text(r.name)) for r in refs.itertuples() if _text(r.email)
        }
        closed = dict(zip(apps["application_id"], apps["closed_on"]))
        # reference_id -> [(application_id, given_on, closed_on)]
        self.uses: dict[str, list[tuple[str, object, object]]] = {}
        for u in tables["reference_uses"].itertuples(index=False):
            if u.application_id in self.company:
                self.uses.setdefault(u.reference_id, []).append(
                    (u.application_id, u.given_on, closed[u.application_id])
                )
        self.logged = set(tables["messages"]["message_id"])
        self.logged_actions = set(tables["messages"]["action_id"].dropna())

    def is_own_draft(self, rec: Mapping) -> bool:
        """Whether the message is one of this coachee's drafts, sent."""
        if not rec.get("followup_actions"):
            return False
        named = _text(rec.get("followup_coachee"))
        if named:
            return unquote(named) == self.coachee_id
        return bool(self.own & set(rec.get("from_addrs", ())))

    def concerns(self, rec: Mapping) -> bool:
        """Whether ``rec`` matches anything of this coachee's (cheap: headers only)."""
        return self.is_own_draft(rec) or self.match(rec) is not None

    def match(self, rec: Mapping):
        """(direction, [(application_id, contact_id, reference_id, why)], suggestion) or None."""
        sent = bool(self.own & set(rec.get("from_addrs", ())))
        others = [a for a in (rec.get("to_addrs", ()) if sent else rec.get("from_addrs", ())) if a not in self.own]
        direction = "sent" if sent else "received"
        word = "to" if sent else "from"
        found: dict[str, tuple] = {}
        for a in others:
            for app, (contact, who) in self.people.get(a, {}).items():
                found.setdefault(app, (app, contact, None, f"{word} {who} <{a}>"))
        if found:
            return direction, list(found.values()), ""
        for a in others:
            if a in self.references:
                ref, name = self.references[a]
                # The applications the reference stood for that day: given by then,
                # not closed before it. Two of them: ambiguous, never guessed.
                day = pd.Timestamp(rec["date"])
                apps = [
                    app
                    for app, given, closed in self.uses.get(ref, [])
                    if (pd.isna(given) or given <= day) and (pd.isna(closed) or closed >= day)
                ]
                hint = (
                    f"if {name} says the employer got in touch, set contacted_on on the reference (the coach's call)"
                    if not sent
                    else ""
                )
                cands = [(app, None, ref, f"{word} reference {name} <{a}>") for app in apps] or [
                    (None, None, ref, f"{word} reference {name} <{a}>, given to no open application that day")
                ]
                return direction, cands, hint
        for a in others:
            apps = self.domains.get(_domain(a), set())
            for app in sorted(apps):
                found.setdefault(app, (app, None, None, f"{word} {a}, of the domain of {self.company[app]}'s people"))
        if found:
            return direction, list(found.values()), ""
        return None


def _summary(subject: str) -> str:
    return textwrap.shorten(subject, MAX_SUMMARY, placeholder="…") if subject else "(no subject)"


def propose(
    records: Iterable[Mapping],
    matcher: Matcher,
    settings: tuple | None = None,
) -> MailProposals:
    """Proposals for every record that concerns the coachee; the rest are only counted."""
    out = MailProposals()
    seen: set[str] = set()
    claimed: set[str] = set()
    due_cache: dict[str, dict[str, str]] = {}
    base, per_coach = settings if settings else (None, None)

    def due_on(day: str) -> dict[str, str]:
        """{action_id: application_id} of the actions due as of ``day``."""
        if day not in due_cache:
            try:
                as_of = pd.Timestamp(dt.date.fromisoformat(day))
            except ValueError:
                due_cache[day] = {}
            else:
                actions = due_actions(matcher.tables, as_of, base, per_coach)
                due_cache[day] = dict(zip(actions["action_id"], actions["application_id"])) if len(actions) else {}
        return due_cache[day]

    for rec in records:
        if not matcher.concerns(rec):
            out.ignored += 1
            continue
        key = rec["key"]
        if key in seen:
            continue  # the same message twice in the mailbox (two folders): once
        seen.add(key)
        on, subject, where = rec["date"], rec.get("subject", ""), rec.get("where", "")
        body = rec.get("body") or None
        if matcher.is_own_draft(rec):
            ids = decode_action_ids(rec["followup_actions"])
            as_of = _text(rec.get("followup_as_of")) or on.isoformat()
            p = Proposal(NEW, "sent draft", on, subject, f"our draft, covering {', '.join(ids)}", where)
            logged = [a for a in ids if a in matcher.logged_actions]
            repeated = [a for a in ids if a in claimed]
            gone = [a for a in ids if a not in due_on(as_of)]
            if logged and len(logged) == len(ids):
                p.status, p.why = LOGGED, f"already marked sent: {', '.join(ids)}"
            elif repeated:
                p.status, p.why = REPEATED, f"sent twice: {', '.join(repeated)} logged from an earlier message"
            elif logged or gone:
                p.status = NOT_DUE
                p.why = f"not due as of {as_of} any more: {', '.join(logged or gone)}; log it with the form"
            else:
                claimed.update(ids)
                apps = sorted({due_on(as_of)[a] for a in ids})
                p.application_id = apps[0] if len(apps) == 1 else None
                p.company = ", ".join(matcher.company.get(a, a) for a in apps)
                p.draft = SentDraft(
                    action_ids=ids,
                    coachee_id=matcher.coachee_id,
                    as_of=as_of,
                    channel="email",
                    subject=subject,
                    body=body or "",
                )
            out.proposals.append(p)
            continue
        direction, cands, hint = matcher.match(rec)
        apps = [c[0] for c in cands if c[0] is not None]
        p = Proposal(NEW, direction, on, subject, cands[0][3], where, suggestion=hint)
        if len(apps) != 1:
            p.status, p.candidates = AMBIGUOUS, apps
            p.company = " or ".join(f"{matcher.company[a]} ({a})" for a in apps) or "no application"
            p.why += "; pick the application in the form" if apps else ""
            out.proposals.append(p)
            continue
        app, contact, ref, _ = cands[0]
        p.application_id, p.company = app, matcher.company[app]
        message_id = mail_message_id(key)
        if message_id in matcher.logged:
            p.status = LOGGED
        if not rec.get("message_id"):
            p.why += " (no Message-ID: keyed by its date, addresses and subject)"
        p.row = {
            "message_id": message_id,
            "application_id": app,
            "on": on,
            "direction": direction,
            "channel": "email",
            "kind": "update" if direction == "received" else None,
            "summary": _summary(subject),
            "body": body,
            "contact_id": contact,
            "reference_id": ref,
        }
        out.proposals.append(p)
    return out


def format_proposals(result: MailProposals, width: int = 100) -> str:
    """The table ``followup mail`` prints: what, when, which application, why."""
    if not result.proposals:
        return "Nothing in this mailbox concerns the coachee."
    lines = []
    for p in result.proposals:
        flag = {NEW: "NEW", LOGGED: "LOGGED", AMBIGUOUS: "AMBIGUOUS", NOT_DUE: "NOT DUE", REPEATED: "REPEATED"}
        lines.append(
            f"{flag[p.status]:<9} {p.on:%Y-%m-%d}  {p.what:<10} {p.company or '?'}"
            + (f" ({p.application_id})" if p.application_id else "")
        )
        lines.append(f"          {_summary(p.subject)}")
        lines.extend(textwrap.wrap(f"why: {p.why}", width, initial_indent=" " * 10, subsequent_indent=" " * 12))
        if p.suggestion:
            lines.extend(
                textwrap.wrap(f"suggest: {p.suggestion}", width, initial_indent=" " * 10, subsequent_indent=" " * 12)
            )
    return "\n".join(lines)
