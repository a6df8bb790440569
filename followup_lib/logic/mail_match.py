"""Which messages of a mailbox belong in one coachee's workbook, and as what.

Pure: the coachee's typed tables and plain message records (see
``followup_lib.data.mailbox``) in, proposals out. Nothing is written here.

Whose mail it is comes first: a received message concerns the coachee only when
it is addressed to one of their addresses (``coachees.email`` and
``other_emails``, in To, Cc or Delivered-To) or answers a thread they are in; a
sent one only when it is from one of them.

Then which application:
- a reply whose In-Reply-To/References names a logged message (``message_ref``)
  → that message's application;
- from (From, Reply-To, Sender) an application's contact or interviewer, else a
  contact in Cc, else their domain or a subdomain of it → ``received``;
- an applicant-tracking or scheduling service (Greenhouse, Lever, Workday…) →
  the application whose company its display name, subject or text names;
- to them from the coachee → ``sent``; a draft's ``X-Followup-Actions`` are
  trusted only from the coachee's own address and for their own actions; a
  message written by hand completes the due action it answers (same recipient,
  kind read from its text);
- to or from a reference → the application the reference stood for that day
  (or the one the text names);
- still two or more → ambiguous, shown with the candidates for the user to pick.

What it is (``logic.mail_kinds``): out-of-office replies, bounces, newsletters and
calendar answers are shown as ignored with the reason (a bounce names the action
its message carried: logging it makes that action due again); the rest get a
contract-v3 kind and the date the text states plainly (``next_step_by``).

Each proposal is keyed by the coachee and the Message-ID: the same mailbox read
twice proposes the same rows, and one email to two coachees is logged for each.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

import pandas as pd

from .drafts import SentDraft, decode_action_ids
from .mail_kinds import ANSWERS, BOUNCE, ats_service, not_a_reply, own_text, received_kind, sent_kind
from .rules import due_actions

# Domains shared by everyone: an interviewer writing from one says nothing about
# which employer a stranger writing from it works for.
FREE_MAIL = frozenset(
    """gmail.com googlemail.com outlook.com hotmail.com hotmail.co.uk live.com msn.com yahoo.com yahoo.co.uk
    ymail.com icloud.com me.com mac.com aol.com proton.me protonmail.com gmx.com gmx.de gmx.net web.de
    mail.com zoho.com yandex.com fastmail.com hey.com qq.com 163.com example.com example.org example.net""".split()
)

NEW, LOGGED, AMBIGUOUS, NOT_DUE, REPEATED = "new", "already logged", "ambiguous", "not due", "repeated"
IGNORED, DUPLICATE = "ignored", "possible duplicate"
FLAGS = {NEW: "NEW", LOGGED: "LOGGED", AMBIGUOUS: "AMBIGUOUS", NOT_DUE: "NOT DUE", REPEATED: "REPEATED",
         IGNORED: "IGNORED", DUPLICATE: "DUPLICATE?"}  # fmt: skip
MAX_SUMMARY = 200  # characters of a subject kept as the summary


def mail_message_id(key: str, coachee_id: str | None = None) -> str:
    """The ``messages.message_id`` of a mailbox message for one coachee: stable
    for its Message-ID (or the stand-in key), whatever characters that holds; one
    email to two coachees gets one id each. Without ``coachee_id``, the id the
    first releases gave (still recognised as logged)."""
    text = key.strip().strip("<>").strip().lower() if not key.startswith("no-message-id:") else key
    if coachee_id is not None:
        text = f"{coachee_id}\n{text}"
    return "mail-" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:20]


def message_ref(key: str) -> str | None:
    """What ``messages.message_ref`` holds: the Message-ID, lower-case, in <>."""
    return key.strip().lower() if key and not key.startswith("no-message-id:") else None


@dataclass
class Proposal:
    """One message of the mailbox, as the workbook would log it."""

    status: str  # new | already logged | ambiguous | not due | repeated | ignored | possible duplicate
    what: str  # received | sent | sent draft
    on: dt.date
    subject: str
    why: str
    where: str
    application_id: str | None = None
    company: str = ""
    candidates: list[str] = field(default_factory=list)  # the applications an ambiguous one could be
    row: dict | None = None  # the messages row to write
    draft: SentDraft | None = None  # the draft (or hand-written message) whose actions it completes
    suggestion: str = ""
    sender: str = ""  # who wrote it, as the mail client shows it
    kind: str = ""  # the message kind it would be logged as
    choices: dict = field(default_factory=dict)  # application -> (contact_id, reference_id), for the picker
    ref: str | None = None  # the Message-ID, kept as message_ref of the rows a completed draft writes

    @property
    def writes(self) -> bool:
        """Logged by ``--apply`` (and ticked in the Mail tab)."""
        return self.status == NEW and (self.row is not None or self.draft is not None)

    @property
    def can_log(self) -> bool:
        """Listed in the Mail tab with a checkbox (ticked or not)."""
        return self.writes or (self.status in (IGNORED, AMBIGUOUS, DUPLICATE) and self.row is not None)

    def pick(self, application_id: str) -> None:
        """The user chose the application of an ambiguous message."""
        if application_id not in self.choices or self.row is None:
            raise ValueError(f"{application_id!r} is not one of {', '.join(self.choices)}")
        contact, ref = self.choices[application_id]
        self.row = {**self.row, "application_id": application_id, "contact_id": contact, "reference_id": ref}
        self.application_id = application_id
        self.status = NEW


@dataclass
class MailProposals:
    proposals: list[Proposal] = field(default_factory=list)
    ignored: int = 0
    notes: list[str] = field(default_factory=list)

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


def _domain_and_parents(domain: str) -> list[str]:
    """careers.bluefin.example → [careers.bluefin.example, bluefin.example]."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]


def split_addresses(value) -> list[str]:
    """The addresses of ``coachees.email`` / ``other_emails`` (``;``-separated)."""
    return [a.strip().lower() for a in re.split(r"[;,\s]+", _text(value)) if "@" in a]


_COMPANY_SUFFIX = re.compile(r"[\s,]+(inc\.?|ltd\.?|llc|gmbh|ag|sa|sas|plc|co\.?|corp\.?|limited|group)$", re.I)


def _company_pattern(company: str) -> re.Pattern | None:
    name = _COMPANY_SUFFIX.sub("", company).strip()
    if len(name) < 3:
        return None
    return re.compile(r"(?<![\w-])" + re.escape(name) + r"(?![\w-])", re.I)


class Matcher:
    """The coachee's addresses, people, threads and hand-logged messages, indexed."""

    def __init__(self, tables: Mapping[str, pd.DataFrame], coachee_id: str):
        self.coachee_id = coachee_id
        self.tables = tables
        coachees = tables["coachees"]
        me = coachees[coachees["coachee_id"] == coachee_id]
        self.own: set[str] = set()
        for column in ("email", "other_emails"):
            if column in me:
                for value in me[column]:
                    self.own.update(split_addresses(value))
        own_domains = {_domain(a) for a in self.own}
        apps = tables["applications"]
        apps = apps[apps["coachee_id"] == coachee_id]
        self.company = dict(zip(apps["application_id"], apps["company"].map(_text)))
        self.company_patterns = {a: p for a, c in self.company.items() if (p := _company_pattern(c)) is not None}
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
            if d not in FREE_MAIL and d not in own_domains and not ats_service(address):
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
        messages = tables["messages"]
        messages = messages[messages["application_id"].isin(self.company)]
        self.logged = set(messages["message_id"])
        self.logged_actions = set(messages["action_id"].dropna())
        # message_ref -> (application_id, action_id or None): the coachee's threads.
        self.threads: dict[str, tuple[str, str | None]] = {}
        refs_col = messages["message_ref"] if "message_ref" in messages else pd.Series(dtype=object)
        for app, action, ref in zip(
            messages["application_id"], messages["action_id"], refs_col.reindex(messages.index)
        ):
            ref = _text(ref).lower()
            if ref:
                self.threads[ref] = (app, _text(action) or None)
        self.logged_refs = set(self.threads)
        # Emails logged by hand (no Message-ID): (day, application, direction) -> message_id.
        self.by_hand: dict[tuple, str] = {}
        for m in messages.itertuples(index=False):
            by_mail = _text(m.channel) in ("", "email")
            if by_mail and not _text(getattr(m, "message_ref", None)) and not str(m.message_id).startswith("mail-"):
                day = pd.Timestamp(m.on).date() if not pd.isna(m.on) else None
                self.by_hand.setdefault((day, m.application_id, m.direction), m.message_id)

    # -------------------------------------------------------------- whose mail

    def from_coachee(self, rec: Mapping) -> bool:
        return bool(self.own.intersection(rec.get("from_addrs", ())))

    def addressed_to_coachee(self, rec: Mapping) -> bool:
        """To, Cc or Delivered-To holds one of the coachee's addresses."""
        return bool(self.own.intersection(rec.get("to_addrs", ()))) or bool(
            self.own.intersection(rec.get("delivered_to", ()))
        )

    def thread(self, rec: Mapping) -> tuple[str, str | None] | None:
        """(application, action) of the logged message this one answers, if any."""
        for ref in (*rec.get("in_reply_to", ()), *reversed(rec.get("references", ()))):
            if ref in self.threads:
                return self.threads[ref]
        return None

    def is_own_draft(self, rec: Mapping) -> bool:
        """Whether the message is one of this coachee's drafts, sent: our headers
        are trusted only on mail from the coachee's own address, naming them."""
        if not rec.get("followup_actions") or not self.from_coachee(rec):
            return False
        named = _text(rec.get("followup_coachee"))
        return not named or unquote(named) == self.coachee_id

    def concerns(self, rec: Mapping) -> bool:
        """Whether ``rec`` is this coachee's and matches anything of theirs (cheap:
        headers only)."""
        if self.from_coachee(rec):
            return self.is_own_draft(rec) or self.match(rec) is not None
        if not (self.addressed_to_coachee(rec) or self.thread(rec)):
            return False
        if self.match(rec) is not None:
            return True
        senders = (*rec.get("from_addrs", ()), *rec.get("reply_to", ()), *rec.get("sender", ()))
        # An applicant-tracking service, or a bounce: the text says whose it is.
        return any(ats_service(a) for a in senders) or not_a_reply(rec)[0] == BOUNCE

    # -------------------------------------------------------------- which application

    def _people(self, addresses, word: str) -> dict[str, tuple]:
        found: dict[str, tuple] = {}
        for a in addresses:
            for app, (contact, who) in self.people.get(a, {}).items():
                found.setdefault(app, (app, contact, None, f"{word} {who} <{a}>"))
        return found

    def _domains(self, addresses, word: str) -> dict[str, tuple]:
        found: dict[str, tuple] = {}
        for a in addresses:
            for d in _domain_and_parents(_domain(a)):
                for app in sorted(self.domains.get(d, set())):
                    found.setdefault(
                        app, (app, None, None, f"{word} {a}, of the domain of {self.company[app]}'s people")
                    )
                if d in self.domains:
                    break
        return found

    def named_companies(self, *texts: str) -> list[str]:
        """The applications whose company one of ``texts`` names."""
        return [app for app, p in self.company_patterns.items() if any(p.search(t or "") for t in texts)]

    def match(self, rec: Mapping, body: str = ""):
        """(direction, [(application_id, contact_id, reference_id, why)], suggestion) or None."""
        sent = self.from_coachee(rec)
        direction, word = ("sent", "to") if sent else ("received", "from")
        thread = self.thread(rec)
        if thread is not None and thread[0] in self.company:
            app = thread[0]
            return direction, [(app, None, None, f"a reply in a thread logged on {self.company[app]} ({app})")], ""
        if sent:
            writers, copied = [a for a in rec.get("to_addrs", ()) if a not in self.own], []
        else:
            writers = [
                a
                for a in dict.fromkeys((*rec.get("from_addrs", ()), *rec.get("reply_to", ()), *rec.get("sender", ())))
                if a not in self.own
            ]
            copied = [a for a in rec.get("cc_addrs", ()) if a not in self.own and a not in writers]
        found = self._people(writers, word)
        if found:
            return direction, list(found.values()), ""
        for a in writers:
            if a in self.references:
                return self._reference(rec, a, sent, body)
        service = next((s for a in writers if (s := ats_service(a))), "")
        if service:
            names = [*rec.get("from_names", ()), rec.get("subject", ""), own_text(body)]
            apps = self.named_companies(*names)
            if apps:
                who = (rec.get("from_names") or ("",))[0] or service
                return direction, [(app, None, None, f"{word} {who} via {service.title()}, naming "
                                    f"{self.company[app]}") for app in apps], ""  # fmt: skip
        found = self._people(copied, "with in Cc")
        if found:
            return direction, [(a, c, r, f"{why}, to whom the writer copied it") for a, c, r, why in found.values()], ""
        found = self._domains(writers, word)
        if found:
            return direction, list(found.values()), ""
        return None

    def _reference(self, rec: Mapping, address: str, sent: bool, body: str):
        ref, name = self.references[address]
        word = "to" if sent else "from"
        # The applications the reference stood for that day: given by then, not
        # closed before it; the text naming one of them settles it.
        day = pd.Timestamp(rec["date"])
        all_apps = [app for app, _, _ in self.uses.get(ref, [])]
        apps = [
            app
            for app, given, closed in self.uses.get(ref, [])
            if (pd.isna(given) or given <= day) and (pd.isna(closed) or closed >= day)
        ]
        named = [a for a in self.named_companies(rec.get("subject", ""), own_text(body)) if a in all_apps]
        if len(named) == 1:
            apps = named
        hint = (
            f"if {name} says the employer got in touch, set contacted_on on the reference (the coach's call)"
            if not sent
            else ""
        )
        cands = [(app, None, ref, f"{word} reference {name} <{address}>") for app in apps] or [
            (None, None, ref, f"{word} reference {name} <{address}>, given to no open application that day")
        ]
        return "sent" if sent else "received", cands, hint


def summary_of(subject: str) -> str:
    """A subject as a summary: whole when short, else cut at a word near
    ``MAX_SUMMARY`` characters (a 2 MB subject is not one word of "…")."""
    text = " ".join((subject or "").split())
    if not text:
        return "(no subject)"
    if len(text) <= MAX_SUMMARY:
        return text
    cut = text[: MAX_SUMMARY - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > MAX_SUMMARY // 2 else cut).rstrip() + "…"


def _sender(rec: Mapping) -> str:
    names, addrs = rec.get("from_names", ()), rec.get("from_addrs", ())
    addr = addrs[0] if addrs else "?"
    return f"{names[0]} <{addr}>" if names else addr


def _body_hash(rec: Mapping) -> str:
    return hashlib.sha256((rec.get("body") or "").encode("utf-8", "surrogatepass")).hexdigest()


def propose(
    records: Iterable[Mapping],
    matcher: Matcher,
    settings: tuple | None = None,
) -> MailProposals:
    """Proposals for every record that concerns the coachee; the rest are only counted."""
    out = MailProposals()
    seen: dict[str, tuple[str, str]] = {}  # key -> (body hash, where)
    claimed: set[str] = set()
    due_cache: dict[str, pd.DataFrame] = {}
    base, per_coach = settings if settings else (None, None)
    if not matcher.own:
        out.notes.append(
            f"{matcher.coachee_id} has no email address recorded (coachees.email, other_emails): mail addressed "
            "to them cannot be told from anyone else's, so none is proposed"
        )

    def due_frame(day: str) -> pd.DataFrame:
        if day not in due_cache:
            try:
                as_of = pd.Timestamp(dt.date.fromisoformat(day))
            except ValueError:
                due_cache[day] = pd.DataFrame(columns=["action_id", "application_id"])
            else:
                due_cache[day] = due_actions(matcher.tables, as_of, base, per_coach)
        return due_cache[day]

    def due_on(day: str) -> dict[str, str]:
        """{action_id: application_id} of the actions due as of ``day``."""
        actions = due_frame(day)
        return dict(zip(actions["action_id"], actions["application_id"])) if len(actions) else {}

    for rec in records:
        if not matcher.concerns(rec):
            out.ignored += 1
            continue
        key = rec["key"]
        on, subject, where = rec["date"], rec.get("subject", ""), rec.get("where", "")
        if key in seen:
            if seen[key][0] != _body_hash(rec):
                out.proposals.append(
                    Proposal(REPEATED, "received", on, subject, f"the same Message-ID as {seen[key][1]} but another "
                             "text: not logged (check which one is the message)", where, sender=_sender(rec))
                )  # fmt: skip
            continue  # the same message twice in the mailbox (two folders): once
        seen[key] = (_body_hash(rec), where)
        if matcher.is_own_draft(rec):
            out.proposals.append(_draft(rec, matcher, due_on, claimed))
            continue
        p = _message(rec, matcher, due_frame, claimed)
        if p is None:
            out.ignored += 1
            continue
        if p.application_id and p.row is not None and message_ref(key):
            matcher.threads.setdefault(message_ref(key), (p.application_id, p.row.get("action_id")))
        out.proposals.append(p)
    return out


def _draft(rec, matcher: Matcher, due_on, claimed: set[str]) -> Proposal:
    on, subject = rec["date"], rec.get("subject", "")
    ids = decode_action_ids(rec["followup_actions"])
    as_of = _text(rec.get("followup_as_of")) or on.isoformat()
    p = Proposal(NEW, "sent draft", on, subject, f"our draft, covering {', '.join(ids)}", rec.get("where", ""),
                 sender=_sender(rec), kind="action", ref=message_ref(rec["key"]))  # fmt: skip
    logged = [a for a in ids if a in matcher.logged_actions]
    repeated = [a for a in ids if a in claimed]
    gone = [a for a in ids if a not in due_on(as_of)]
    if logged and len(logged) == len(ids):
        p.status, p.why = LOGGED, f"already marked sent: {', '.join(ids)}"
    elif repeated:
        p.status, p.why = REPEATED, f"sent twice: {', '.join(repeated)} logged from an earlier message"
    elif logged or gone:
        p.status = NOT_DUE
        p.why = f"not due as of {as_of} any more (or not {matcher.coachee_id}'s): {', '.join(logged or gone)}"
    else:
        claimed.update(ids)
        apps = sorted({due_on(as_of)[a] for a in ids})
        p.application_id = apps[0] if len(apps) == 1 else None
        p.company = ", ".join(matcher.company.get(a, a) for a in apps)
        p.draft = SentDraft(action_ids=ids, coachee_id=matcher.coachee_id, as_of=as_of, channel="email",
                            subject=subject, body=rec.get("body") or "")  # fmt: skip
    return p


def _bounce(rec, matcher: Matcher, p: Proposal) -> Proposal:
    """A bounce: the action its returned message carried, found by our draft's
    header or by the logged message it returns; its application from either."""
    returned = rec.get("returned") or {}
    action, app = None, None
    ids = decode_action_ids(returned.get("followup_actions", "")) if returned.get("followup_actions") else []
    ids = [a for a in ids if a in matcher.logged_actions]
    if ids:
        action = ids[0]
        rows = matcher.tables["messages"]
        hit = rows[rows["action_id"] == action]
        app = hit["application_id"].iloc[0] if len(hit) else None
    ref = returned.get("message_id")
    if app is None and ref and ref in matcher.threads:
        app, action = matcher.threads[ref]
    if app is None:
        found = matcher._people(returned.get("to_addrs", ()), "to")
        if len(found) == 1:
            app = next(iter(found))
    to = ", ".join(returned.get("to_addrs", ())) or "its recipient"
    if app is None:
        p.status, p.why = IGNORED, f"{p.why}; the message it returns (to {to}) is not one logged"
        return p
    p.application_id, p.company = app, matcher.company.get(app, "")
    p.row["application_id"] = app
    p.row["action_id"] = action
    p.choices = {app: (None, None)}
    if action:
        p.status = NEW
        p.why = f"your message to {to} did not arrive: logging this makes {action} due again"
    else:
        p.status, p.why = IGNORED, f"{p.why}; your message to {to} did not arrive (no action of it found)"
    return p


def _message(rec, matcher: Matcher, due_frame, claimed: set[str]) -> Proposal | None:
    on, subject, where, key = rec["date"], rec.get("subject", ""), rec.get("where", ""), rec["key"]
    body = rec.get("body") or ""
    auto_kind, auto_why = not_a_reply(rec)
    if matcher.from_coachee(rec) and auto_kind not in ("calendar_reply", "auto_reply"):
        auto_kind = ""
    matched = matcher.match(rec, body)
    message_id = mail_message_id(key, matcher.coachee_id)
    row = {
        "message_id": message_id,
        "application_id": None,
        "on": on,
        "direction": "sent" if matcher.from_coachee(rec) else "received",
        "channel": "email",
        "kind": None,
        "summary": summary_of(subject),
        "body": body or None,
        "contact_id": None,
        "reference_id": None,
        "next_step_by": None,
        "message_ref": message_ref(key),
        "action_id": None,
    }
    p = Proposal(NEW, row["direction"], on, subject, "", where, sender=_sender(rec), row=row, ref=message_ref(key))
    if auto_kind == BOUNCE:
        p.kind, p.why, row["kind"], row["direction"], p.what = BOUNCE, auto_why, BOUNCE, "received", "received"
        return _bounce(rec, matcher, p)
    if matched is None:
        return None
    direction, cands, hint = matched
    p.suggestion = hint
    p.why = cands[0][3]
    p.choices = {c[0]: (c[1], c[2]) for c in cands if c[0] is not None}
    apps = list(p.choices)
    if (
        message_id in matcher.logged
        or mail_message_id(key) in matcher.logged
        or row["message_ref"] in matcher.logged_refs
    ):
        p.status = LOGGED
    if not rec.get("message_id"):
        p.why += " (no Message-ID: keyed by its date, addresses and subject)"
    if rec.get("note"):
        p.why += f"; {rec['note']}"
    # What it is.
    if auto_kind:
        p.status = IGNORED if p.status != LOGGED else p.status
        p.kind = row["kind"] = auto_kind
        p.why = f"{auto_why} — {p.why}"
    elif direction == "received":
        cal = rec.get("calendar")
        if cal and cal.get("method") == "REQUEST":
            p.kind = row["kind"] = "invitation"
            start = cal.get("start")
            when = (
                f" on {start:%Y-%m-%d}" + (f" at {start:%H:%M}" if isinstance(start, dt.datetime) else "")
                if start
                else ""
            )
            p.why += f"; a calendar invitation proposes an interview{when}" + (
                f", organised by {cal['organizer']}" if cal.get("organizer") else ""
            )
        elif cal and cal.get("method") == "CANCEL":
            p.kind = row["kind"] = "update"
            p.why += "; a calendar cancellation"
        else:
            kind, day, phrase = received_kind(subject, body, on)
            p.kind = row["kind"] = kind
            row["next_step_by"] = day
            if phrase:
                p.why += f"; a {kind.replace('_', ' ')}: “{phrase}”"
            if day is not None:
                p.why += f"; their date: {day:%Y-%m-%d}"
    else:
        kind, phrase = sent_kind(subject, body)
        p.kind = row["kind"] = kind
        if kind and phrase:
            p.why += f"; reads as {kind.replace('_', ' ')}: “{phrase}”"
        answered = _answers(rec, matcher, due_frame, claimed, kind, p.choices)
        if answered is not None and p.status == NEW:
            ids, app = answered
            claimed.update(ids)
            p.what = "sent"
            p.application_id, p.company = app, matcher.company.get(app, "")
            p.draft = SentDraft(action_ids=ids, coachee_id=matcher.coachee_id, as_of=on.isoformat(), channel="email",
                                subject=subject, body=body)  # fmt: skip
            p.why += f"; written by hand, it completes {', '.join(ids)}"
            return p
    if len(apps) != 1:
        if p.status != LOGGED:
            p.status = AMBIGUOUS
        p.candidates = apps
        p.company = " or ".join(f"{matcher.company[a]} ({a})" for a in apps) or "no application"
        p.why += "; pick the application" if apps else ""
        if not apps:
            p.row = None
        return p
    app = apps[0]
    p.application_id, p.company = app, matcher.company[app]
    row["application_id"], (row["contact_id"], row["reference_id"]) = app, p.choices[app]
    if p.status == NEW:
        hand = matcher.by_hand.get((on, app, row["direction"]))
        if hand is not None:
            p.status = DUPLICATE
            p.why += f"; looks like message {hand}, logged by hand that day: not logged twice"
    return p


def _answers(rec, matcher: Matcher, due_frame, claimed: set[str], kind: str | None, choices: dict):
    """([action_id], application) of the due actions a hand-written message
    carries out: to the same recipient, due that day or overdue, of the kind its
    text reads as; None when there is none."""
    if not kind:
        return None
    actions = due_frame(rec["date"].isoformat())
    if not len(actions):
        return None
    kinds = ANSWERS.get(kind, (kind,))
    to = {a for a in rec.get("to_addrs", ()) if a not in matcher.own}
    hit = actions[
        actions["kind"].isin(kinds)
        & actions["status"].isin(["due", "overdue"])
        & actions["recipient_email"].fillna("").str.lower().isin(to)
        & actions["application_id"].isin(choices or matcher.company)
        & ~actions["action_id"].isin(matcher.logged_actions | claimed)
    ]
    if not len(hit):
        return None
    apps = sorted(set(hit["application_id"]))
    if len(apps) != 1:
        return None
    return list(hit["action_id"]), apps[0]


def format_proposals(result: MailProposals, width: int = 100) -> str:
    """The table ``followup mail`` prints: what, when, which application, who, why."""
    if not result.proposals:
        return "\n".join([*result.notes, "Nothing in this mailbox concerns the coachee."])
    lines = []
    for p in result.proposals:
        lines.append(
            f"{FLAGS[p.status]:<10} {p.on:%Y-%m-%d}  {p.what:<10} {p.company or '?'}"
            + (f" ({p.application_id})" if p.application_id else "")
            + (f"  [{p.kind}]" if p.kind else "")
        )
        lines.append(f"           {summary_of(p.subject)}")
        if p.sender:
            lines.append(f"           from: {p.sender}")
        lines.extend(textwrap.wrap(f"why: {p.why}", width, initial_indent=" " * 11, subsequent_indent=" " * 13))
        if p.suggestion:
            lines.extend(
                textwrap.wrap(f"suggest: {p.suggestion}", width, initial_indent=" " * 11, subsequent_indent=" " * 13)
            )
    return "\n".join([*result.notes, *lines])
