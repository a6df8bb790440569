"""A coach's first skim, as code: what makes a draft unfit to send as written.

``lint_draft(draft, as_of)`` returns the problems of one draft, ``lint_drafts``
those of a day's set (adding "two drafts to one person"). ``render_drafts`` runs
it as the drafts are written: a draft it flags is still written, with the finding
in its review note. The test suite runs it over every draft of the demo and of
generated practices at many days, and over deliberately bad drafts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

#: At most this many words in an email's body (greeting and sign-off included).
MAX_EMAIL_WORDS = 150

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{%|\bNone\b|\bnan\b|\bNaN\b|\bNaT\b|\bTODO\b|\bXXX\b|<[A-Z_ ]+>|\[[A-Z_ ]+\]")
_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_DAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
# "Monday 16 November", "16 November", "16 November 2026", "16 Nov"
_DATE = re.compile(
    rf"(?:(?:{_DAYS}),? )?(\d{{1,2}}) ({_MONTHS}|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\b(?: (\d{{4}}))?"
)
_AHEAD = re.compile(r"\b(will|I'll|shall|by then)\b", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_STOCK = re.compile(r"just checking in|just following up|just wanted to check", re.IGNORECASE)


def _dates_in(sentence: str, as_of: pd.Timestamp) -> list[pd.Timestamp]:
    out = []
    for day, month, year in _DATE.findall(sentence):
        try:
            out.append(pd.Timestamp(f"{day} {month} {year or as_of.year}"))
        except ValueError:
            continue
    return out


def lint_draft(draft, as_of) -> list[str]:
    """Problems of one draft (a ``drafts.Draft``), judged on the day ``as_of``."""
    as_of = pd.Timestamp(as_of).normalize()
    text = draft.body
    problems = []
    if _PLACEHOLDER.search(text) or _PLACEHOLDER.search(draft.subject or ""):
        problems.append("a placeholder or a missing value (None, nan, {{ … }}) is left in the text")
    if draft.channel == "email":
        words = len(text.split())
        if words > MAX_EMAIL_WORDS:
            problems.append(f"the email is {words} words long (at most {MAX_EMAIL_WORDS})")
    for sentence in _SENTENCE.split(text):
        if _AHEAD.search(sentence) and any(d < as_of for d in _dates_in(sentence, as_of)):
            problems.append(f"a past date is written as still ahead: {sentence.strip()!r}")
    if ";" in text.replace("&#59;", ""):
        problems.append("a list is pasted with ';' instead of written as English")
    if _STOCK.search(text):
        problems.append("a stock phrase ('just checking in') instead of a reason to write")
    problems.extend(_third_person(draft))
    problems.extend(_wrong_topics(draft))
    problems.extend(_unfounded_claims(draft))
    return problems


# A personal pronoun in a topic reads right only to the person who typed it.
_PRONOUN = re.compile(r"\b(?:[Yy]ou|[Yy]our|[Yy]ours|[Yy]ourself|I|I'm|I've|[Mm]y|[Mm]ine|[Ww]e|[Oo]ur|[Oo]urs)\b")


def _wrong_topics(draft) -> list[str]:
    """A topic placed in the draft that carries a pronoun or names its recipient
    ("the launch you ran with Keisha", sent to Keisha)."""
    first = (draft.to_name or "").split()[0] if (draft.to_name or "").split() else ""
    out = []
    for topic in getattr(draft, "topics", None) or []:
        if _PRONOUN.search(topic):
            out.append(f"a topic with a pronoun reads wrong to {draft.to_name or 'the recipient'}: {topic!r}")
        elif first and re.search(rf"\b{re.escape(first)}\b", topic):
            out.append(f"a topic names its own recipient ({first!r}): {topic!r}")
    return out


#: Sentences that claim something happened, and the fact a draft needs for each
#: (``Draft.grounds``); None: a claim no store fact supports.
CLAIMS: tuple[tuple[re.Pattern, str | None, str], ...] = (
    (
        re.compile(r"\b(?:our conversation|when we spoke|we spoke on|speak with me|interviewed with you)\b", re.I),
        "conversation",
        "a conversation with the recipient, who was not recorded as there",
    ),
    (re.compile(r"\byour answers?\b", re.I), "answers", "an answer from them, and none was logged"),
    (
        re.compile(r"\baccepted another (?:position|offer|role|job)\b", re.I),
        "another_position",
        "another position accepted, and no approval elsewhere or closed_reason another_offer is recorded",
    ),
    (
        re.compile(r"\b(?:I got the job|has now been approved)\b", re.I),
        "approved",
        "an approved offer or a hire, and none is recorded",
    ),
    (
        re.compile(r"\b(?:left me even more keen|chose another candidate|I start soon)\b", re.I),
        None,
        "a feeling or a reason the store does not hold",
    ),
)


def _unfounded_claims(draft) -> list[str]:
    grounds = getattr(draft, "grounds", None)
    if grounds is None:  # a draft not made from the store: nothing to check it against
        return []
    out = []
    for pattern, needs, what in CLAIMS:
        m = pattern.search(draft.body)
        if m and (needs is None or needs not in grounds):
            out.append(f"a claim with no fact behind it ({m.group(0)!r}: {what})")
    return out


def _third_person(draft) -> list[str]:
    """The recipient named in the body after the greeting: written about, not to."""
    name = (draft.to_name or "").strip()
    if not name or name.lower().startswith(("your ", "the ")):
        return []
    first = name.split()[0]
    paragraphs = [p for p in draft.body.strip().split("\n\n") if p.strip()]
    # The greeting ("Dear Priya,", or a call's opening words) may use the name, and
    # the sign-off is the sender's own (who may share the first name).
    lines = "\n\n".join(paragraphs[:-1] if draft.channel == "email" else paragraphs).splitlines()
    rest = "\n".join(lines[1:])
    # "Lina asked for" names her; "Ravi Liu" is someone else who shares the first name.
    if re.search(rf"\b{re.escape(first)}\b(?!\s+[A-Z])", rest):
        return [f"the recipient is named in the third person ({first!r}): write to them as 'you'"]
    return []


def lint_drafts(drafts: Iterable, as_of) -> list[str]:
    """Problems of a day's drafts: each one's, and two drafts to one person on one
    day (a draft's own ``as_of`` where it has one, so upcoming drafts for later
    days are not counted against today's)."""
    drafts = list(drafts)
    problems = [f"{d.filename or d.action_id}: {p}" for d in drafts for p in lint_draft(d, as_of)]
    for who, group in same_recipient(drafts):
        problems.append(f"{len(group)} drafts to {who} on one day: one message per person per day")
    return problems


def same_recipient(drafts: Iterable) -> list[tuple[str, list]]:
    """Groups of two or more drafts to one person on one day, with who that is."""
    groups: dict[tuple, list] = {}
    for d in drafts:
        groups.setdefault((getattr(d, "coachee_id", ""), getattr(d, "as_of", ""), *_recipient(d)), []).append(d)
    return [(key[3], group) for key, group in groups.items() if len(group) > 1]


def _recipient(draft) -> tuple[str, str]:
    """Who a draft goes to: an email address (case aside), or a phone number and the
    person's name (a switchboard is shared by several people)."""
    if draft.channel == "phone":
        digits = re.sub(r"[^0-9+]", "", draft.to_address)
        return "phone", f"{' '.join((draft.to_name or '').split())} on {digits}"
    return "email", draft.to_address.strip().lower()
