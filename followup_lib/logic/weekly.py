"""The weekly progress report's content: pure functions of one coachee's tables.

``weekly_report(tables, coachee_id, week_ending)`` gathers every section;
the ``*_markdown`` functions turn the sentences into Markdown (store text
escaped), ``table_html``/``headline_html`` the tables and the number cards into
escaped HTML, for the report notebook. Only the one coachee's rows are ever read
(``Store.load`` with ``coachee_id``), so nothing about anyone else can reach the page.

What the report promises the coach (issue 13): the one thing to do first; the
overdue, today's and next week's work as separate lists, each by date; what the
client owes (offers to decide) apart from what employers owe (silences); the
week's wins and how the week compares with the four before; each event once;
every sentence true on the day and ending in what it means.

What it promises the client (issue 20): the page speaks to them ("you"), never
to the coach; the coach's own notes are a section of their own
(``coach_note_markdown``, from ``coachees.notes``, or no section at all). A
verbal offer is not a job, and an application being left (an offer approved
elsewhere, a rejection, a withdrawal) is not waiting; wins include offers and
approvals; only good news from employers counts as "up"; the chart's date is
the latest the employer gave.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..kinds import ACTION_LABELS, KINDS, NOT_WORD_FROM_EMPLOYER, normal_kinds
from ..schema import CLOSED_STATUSES
from ..settings import Settings
from . import analysis, charts
from .offers import offers_table
from .rules import due_actions, offers_as_they_stand
from .wording import count_noun, english_list, markdown_text

# Weeks without a new application after which the pipeline is "drying up".
DRY_WEEKS = 2
TREND_WEEKS = 4  # the headline numbers are set against this many weeks before
# The headline cards' words for the week's numbers (week_numbers' keys).
CARDS = {"interviews": "interviews this week", "follow-ups you did": "follow-ups done this week"}
# Each card's words for a count of one ("1 follow-up done this week").
CARD_SINGULAR = {
    "active applications": "active application",
    "new applications": "new application",
    "interviews this week": "interview this week",
    "follow-ups done this week": "follow-up done this week",
    "good news from employers": "good news from employers",
    "overdue now": "overdue now",
}
# The kinds of message that ask the employer where things stand.
FOLLOW_UPS = ("status_inquiry", "offer_checkin")
# The offer events (``_events``) that are good news from the employer.
GOOD_NEWS_EVENTS = ("Verbal offer", "Written offer received", "Offer approved")


@dataclass
class WeeklyReport:
    coachee_id: str
    coachee_name: str
    week_start: pd.Timestamp
    week_ending: pd.Timestamp
    headline: dict[str, int]
    trend: pd.DataFrame  # one row per headline number: this week and the weeks before
    first_thing: str  # Markdown: the one thing to do first (or a celebration)
    happened: pd.DataFrame
    overdue: pd.DataFrame
    today: pd.DataFrame
    next_week: pd.DataFrame
    approvals: pd.DataFrame  # await_approval: a wait, not a message
    promises: pd.DataFrame
    references: pd.DataFrame
    offers: pd.DataFrame  # offers side by side (offers.offers_table)
    open_offers: pd.DataFrame  # offers waiting on the client's answer
    silences: pd.DataFrame  # applications waiting on the employer, longest silence first
    waiting: pd.DataFrame  # analysis.waiting_on, for the chart
    pipeline: pd.DataFrame
    stages: pd.DataFrame
    wins: list[str] = field(default_factory=list)  # Markdown list items
    offers_in_writing: list[str] = field(default_factory=list)  # application ids with a letter received
    coach_note: str = ""  # the coach's own note (coachees.notes), kept apart from the rest
    hired: bool = False  # an offer approved (and not rescinded) by the week's end: no "down" arrows
    figures: dict = field(default_factory=dict)
    sentences: dict = field(default_factory=dict)  # Markdown, one per section


# ---------------------------------------------------------------- words


# One Markdown escaper and one plural for every sentence (wording.py).
md = markdown_text
n = count_noun


def day(value) -> str:
    return f"{pd.Timestamp(value):%a %d %b}"


def days_ago(value, as_of: pd.Timestamp) -> str:
    d = (as_of - pd.Timestamp(value)).days
    if d == 0:
        return "today"
    if d < 0:
        return "in " + n(-d, "day")
    return n(d, "day") + " ago"


def _listing(items: list[str]) -> str:
    return "\n".join(f"- {i}" for i in items)


# ---------------------------------------------------------------- what happened


def _in_week(s: pd.Series, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    return s.notna() & (s >= start) & (s <= end)


def _column(df: pd.DataFrame, name: str) -> pd.Series:
    """A column a first-release table may lack, as missing values."""
    return df[name] if name in df else pd.Series(None, index=df.index, dtype=object)


def _with_names(df: pd.DataFrame, names: pd.DataFrame, key: str) -> pd.DataFrame:
    return df.merge(names, on=key, how="left")


def _events(tables, start, end) -> pd.DataFrame:
    """Every event of the week, once: date, application_id, company, what, done_by_you, kind."""
    apps = tables["applications"][["application_id", "company"]]
    rows = []

    def add(df, date_col, what, kind, by_you=True):
        if df.empty:
            return
        d = df[_in_week(df[date_col], start, end)]
        if len(d):
            d = d.merge(apps, on="application_id", how="left") if "company" not in d else d
            rows.append(
                pd.DataFrame(
                    {
                        "date": d[date_col].values,
                        "application_id": d["application_id"].values,
                        "company": d["company"].values,
                        "what": what(d) if callable(what) else what,
                        "done_by_you": by_you(d).values if callable(by_you) else by_you,
                        "kind": np.asarray(kind(d)) if callable(kind) else kind,
                        "seq": len(rows),
                    }
                )
            )

    def to(names: pd.Series) -> pd.Series:
        return (" to " + names.fillna("")).where(names.notna(), "")

    iv = tables["interviews"]
    add(iv, "held_on", lambda d: "Interview" + (" with " + d["interviewer_name"]).fillna(""), "interview", False)
    add(iv, "thank_you_sent_on", lambda d: "Thank-you sent" + to(d["interviewer_name"]), "thank_you")
    # Each further person met at a panel has their own thank-you.
    ic = tables.get("interview_contacts")
    if ic is not None and len(ic):
        ic = ic.merge(iv[["interview_id", "application_id"]], on="interview_id", how="left")
        ic = _with_names(ic, tables["contacts"][["contact_id", "name"]], "contact_id")
        add(ic, "thank_you_sent_on", lambda d: "Thank-you sent" + to(d["name"]), "thank_you")
    ru = _with_names(tables["reference_uses"], tables["references"][["reference_id", "name"]], "reference_id")
    add(ru, "briefed_on", lambda d: "Briefed reference " + d["name"].fillna(""), "briefing")
    add(ru, "last_checkin_on", lambda d: "Checked in with reference " + d["name"].fillna(""), "reference_checkin")
    if "thanked_on" in ru:
        add(ru, "thanked_on", lambda d: "Thanked reference " + d["name"].fillna(""), "reference_thanks")
    add(
        ru,
        "contacted_on",
        lambda d: "Reference " + d["name"].fillna("") + " was contacted by the employer",
        "reference_contacted",
        False,
    )
    p = tables["promises"]
    late = p["done_on"] > p["due_on"]
    add(p[~late], "done_on", lambda d: "Promise kept: " + d["what"].fillna(""), "promise")
    add(p[late], "done_on", lambda d: "Promise kept (late): " + d["what"].fillna(""), "promise")

    o = tables["offers"]
    offer_events = (
        ("verbal_on", "Verbal offer", False),
        ("written_requested_on", "Asked for the offer in writing", True),
        ("written_received_on", "Written offer received", False),
        ("accepted_on", "Offer accepted", True),
        ("approved_on", "Offer approved", False),
        ("rescinded_on", "Offer withdrawn by the employer", False),
    )
    # A yes to an offer not yet in writing is said as what it is (a verbal offer is not a job).
    verbal_yes = o["written_received_on"].isna() | (o["written_received_on"] > o["accepted_on"])
    for col, what, by_you in offer_events:
        if col == "accepted_on":
            add(o[~verbal_yes], col, what, "offer", by_you)
            add(o[verbal_yes], col, "Said yes to the verbal offer", "offer", by_you)
        else:
            add(o, col, what, "offer", by_you)

    msgs = tables["messages"]
    # Thank-yous, briefings, promises and requests for the written offer are
    # already counted by the dates marking them sent sets (kinds.SentRecord).
    own = [k for k, v in KINDS.items() if v.sent_records]
    msgs = msgs[~(msgs["direction"].eq("sent") & msgs["kind"].isin(own))]
    # An offer event is logged twice when the message that brought it is logged
    # too ("Lina called with a verbal offer" and the offer's verbal_on): the
    # offer's row says it; the message on the same day and application is the same event.
    for direction, cols in (
        ("received", [c for c, _, mine in offer_events if not mine]),
        ("sent", [c for c, _, mine in offer_events if mine]),
    ):
        same_day = o.melt(id_vars="application_id", value_vars=cols, value_name="on")[["application_id", "on"]]
        same_day = same_day.dropna().drop_duplicates()
        keys = pd.MultiIndex.from_frame(same_day[["application_id", "on"]])
        twice = pd.MultiIndex.from_frame(msgs[["application_id", "on"]]).isin(keys)
        msgs = msgs[~(twice & msgs["direction"].eq(direction).to_numpy())]
    add(
        msgs,
        "on",
        lambda d: (
            d["direction"]
            .map({"sent": "Sent", "received": "Heard from the employer"})
            .where(~(d["direction"].eq("received") & _column(d, "reference_id").notna()), "Heard from a reference")
            .where(
                ~(d["direction"].eq("received") & normal_kinds(d["kind"]).isin(NOT_WORD_FROM_EMPLOYER)),
                normal_kinds(d["kind"]).map(analysis.NOT_WORD_LABELS),
            )
            .fillna("")
            + (": " + d["summary"].fillna("")).where(
                d["summary"].notna(),
                (" (" + d["kind"].fillna("").str.replace("_", " ") + ")").where(d["kind"].notna(), ""),
            )
        ),
        lambda d: np.where(
            d["direction"].eq("sent"),
            "sent_" + d["kind"].fillna("message"),
            "received_" + d["kind"].fillna("message"),
        ),
        by_you=lambda d: d["direction"].eq("sent"),
    )
    if not rows:
        return pd.DataFrame(columns=["date", "application_id", "company", "what", "done_by_you", "kind", "good_news"])
    ev = pd.concat(rows, ignore_index=True)
    ev["done_by_you"] = ev["done_by_you"].astype(bool)
    # Good news from the employer: an offer, its letter, an approval, or a received
    # message whose kind says so (an invitation, an offer); a rejection never is.
    ev["good_news"] = ev["what"].isin(GOOD_NEWS_EVENTS) | (
        ev["kind"].isin([f"received_{k}" for k in analysis.GOOD_NEWS_KINDS])
        & ~ev["what"].str.startswith("Heard from a reference")
    )
    # Within a day, events of one application in the order they happen (verbal offer, then accepted).
    ev = ev.sort_values(["date", "company", "seq", "what"], kind="stable").drop(columns="seq")
    return ev.reset_index(drop=True)


def week_numbers(tables, start: pd.Timestamp, end: pd.Timestamp, events: pd.DataFrame | None = None) -> dict[str, int]:
    """The week's headline numbers (the ones that can be compared week to week).
    ``events``: ``_events`` over a span holding this week, if already found."""
    ev = _events(tables, start, end) if events is None else events[_in_week(events["date"], start, end)]
    apps = tables["applications"]
    return {
        "new applications": int(_in_week(apps["applied_on"], start, end).sum()),
        "interviews": int(_in_week(tables["interviews"]["held_on"], start, end).sum()),
        "follow-ups you did": int(ev["done_by_you"].sum()) if len(ev) else 0,
        "good news from employers": int(ev["good_news"].sum()) if len(ev) else 0,
    }


def _trend_events(tables, end: pd.Timestamp) -> pd.DataFrame:
    """Every event of this week and the TREND_WEEKS weeks before, found once."""
    return _events(tables, end - pd.Timedelta(days=7 * TREND_WEEKS + 6), end)


def _trend(tables, end: pd.Timestamp, events: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each headline number this week and in each of the TREND_WEEKS weeks before.
    ``events``: ``_trend_events(tables, end)``, if already found."""
    events = _trend_events(tables, end) if events is None else events
    weeks = {}
    for k in range(TREND_WEEKS + 1):
        e = end - pd.Timedelta(days=7 * k)
        weeks[e] = week_numbers(tables, e - pd.Timedelta(days=6), e, events)
    t = pd.DataFrame(weeks)  # rows: numbers; columns: week endings, newest first
    out = pd.DataFrame({"this week": t.iloc[:, 0]})
    out["weeks before"] = [list(r) for r in t.iloc[:, 1:].to_numpy()]
    out["average before"] = t.iloc[:, 1:].mean(axis=1)
    return out


# ---------------------------------------------------------------- the work


def _action_rows(actions: pd.DataFrame) -> pd.DataFrame:
    """Actions by date (then urgency), as the lists show them."""
    a = actions.sort_values(["due_on", "priority"], kind="stable")
    out = a.assign(what=a["kind"].map(ACTION_LABELS))[
        ["due_on", "status", "what", "company", "recipient", "channel", "why", "kind", "application_id"]
    ].rename(columns={"due_on": "due", "recipient": "to"})
    return out.reset_index(drop=True)


def action_item(row: Mapping) -> str:
    """One action as a Markdown list item: the date, what, where, to whom, and why."""
    who = f", to {md(row['to'])}" if row.get("to") else ""
    how = f" by {md(row['channel'])}" if row.get("channel") else ""
    return f"**{day(row['due'])}** — {md(row['what'])}, {md(row['company'])}{who}{how}. {md(row['why'])}"


def _first_thing(actions: pd.DataFrame, hired: bool = False) -> str:
    """The one thing to do first: the most urgent action due now (the rules' own
    order: promises and passed offer deadlines before everything else). With the
    job approved (``hired``), no nudge to add applications."""
    more = "." if hired else ": a good week to add new applications."
    now = actions[actions["status"].isin(["overdue", "due"]) & actions["kind"].map(_needs_message)]
    if len(now):
        a = now.iloc[0]
        late = " (overdue)" if a["status"] == "overdue" else ""
        who = f" to {md(a['recipient'])}" if a["recipient"] else ""
        return f"**Do first: {md(ACTION_LABELS[a['kind']]).lower()}{who} at {md(a['company'])}{late}.** {md(a['why'])}"
    upcoming = actions[actions["kind"].map(_needs_message)]
    if len(upcoming):
        a = upcoming.sort_values("due_on").iloc[0]
        return (
            f"**Nothing is due now.** The next step is {md(ACTION_LABELS[a['kind']]).lower()} at "
            f"{md(a['company'])} on {day(a['due_on'])}{more}"
        )
    return "**Nothing is due.**" + ("" if hired else " A good week to add new applications.")


def _needs_message(kind: str) -> bool:
    k = KINDS.get(kind)
    return bool(k and k.audience != "self")


# ---------------------------------------------------------------- waiting


def _open_offers(tables, end: pd.Timestamp) -> pd.DataFrame:
    """Offers made and not yet answered by the client, on open applications."""
    o = tables["offers"].merge(
        tables["applications"][["application_id", "company", "role", "status"]], on="application_id", how="inner"
    )
    made = o["verbal_on"].notna() | o["written_received_on"].notna()
    made &= o[["verbal_on", "written_received_on"]].min(axis=1) <= end
    answered = o["accepted_on"].notna() | o["rescinded_on"].notna() | o["approved_on"].notna()
    o = o[made & ~answered & ~o["status"].isin(CLOSED_STATUSES)]
    # The deadline as it stands and any request for more time, as the rules read them.
    standing = offers_as_they_stand(tables, end).set_index("application_id")
    for column in ("response_deadline", "extension_asked_on", "extension_answered_on"):
        o[column] = o["application_id"].map(standing[column])
    return o.sort_values(["response_deadline", "company"], na_position="last").reset_index(drop=True)


def offer_to_decide_sentence(offer: Mapping, as_of: pd.Timestamp) -> str:
    """What the client owes one employer that made an offer, and what it means for the coach."""
    head = f"**{md(offer['company'])}** ({md(offer['role'])}): "
    if pd.isna(offer["written_received_on"]):
        head += f"verbal offer on {day(offer['verbal_on'])}, not yet in writing"
        advice = "ask for it in writing before deciding: a verbal offer is not an offer."
    else:
        head += f"written offer received on {day(offer['written_received_on'])}"
        advice = "go through the terms below and decide."
    deadline = offer["response_deadline"]
    asked, answered = offer.get("extension_asked_on"), offer.get("extension_answered_on")
    if asked is not None and pd.notna(asked) and (answered is None or pd.isna(answered)):
        due = (
            ""
            if pd.isna(deadline)
            else f"; the answer was due {day(deadline)}"
            if deadline < as_of
            else f"; answer due {'today' if deadline == as_of else 'on ' + day(deadline)}"
        )
        meanwhile = (
            "meanwhile, go through the terms below."
            if pd.notna(offer["written_received_on"])
            else "meanwhile, ask for it in writing: a verbal offer is not an offer."
        )
        return f"{head}{due}; you asked for more time on {day(asked)} and are waiting for their answer — {meanwhile}"
    if pd.isna(deadline):
        return f"{head}; no response deadline given — {advice} Ask when they need an answer."
    if deadline < as_of:
        return (
            f"{head}; the answer was due {day(deadline)}, {days_ago(deadline, as_of)}, and is still open — "
            "call them today, or ask for more time."
        )
    when = "today" if deadline == as_of else f"on {day(deadline)}, {days_ago(deadline, as_of)}"
    return f"{head}; answer due {when} — {advice}"


def approval_sentence(row: Mapping, open_others: int, in_writing: bool = True) -> str:
    """The await_approval "action" is a wait, not a message to anyone: said gently.
    A yes to a verbal offer is not yet a job: ``in_writing`` False says so."""
    others = (
        "no other application is open, so there is nothing else to tend meanwhile"
        if open_others == 0
        else f"keep the {n(open_others, 'other application')} warm until it is approved"
    )
    if not in_writing:
        return (
            f"**{md(row['company'])}**: you said yes to their verbal offer on {day(row['due'])}. A verbal offer is "
            f"not yet a job: it is yours once it is in writing, accepted and approved — {others}."
        )
    return (
        f"**{md(row['company'])}**: you accepted the offer on {day(row['due'])}; it now waits for their "
        f"approval, usually a matter of days. This is a wait, not a message to send: {others}."
    )


def _silences(tables, end: pd.Timestamp, actions: pd.DataFrame) -> pd.DataFrame:
    """Open applications waiting on the employer after an interview, longest silence first.

    An application with a live offer (or status offer/accepted) is not waiting:
    the client owes the answer. The silence runs from the employer's last word
    (the latest interview, or a message from them since) to ``end``. A follow-up
    sent before ``end`` and not answered since is "unanswered"; one sent on
    ``end`` itself has had no time to be answered yet.
    """
    apps = tables["applications"]
    o = tables["offers"]
    live_offer = o.loc[(o["verbal_on"].notna() | o["written_received_on"].notna()) & o["rescinded_on"].isna()]
    waiting = apps[
        ~apps["status"].isin((*CLOSED_STATUSES, "offer", "accepted"))
        & ~apps["application_id"].isin(live_offer["application_id"])
    ][["application_id", "company", "role"]]
    # After an approved offer the client withdraws from the others; a rejection
    # received or a withdrawal sent ends it: not a wait any more.
    leaving = actions.loc[actions["kind"].eq("withdraw_application"), "application_id"]
    waiting = waiting[
        ~waiting["application_id"].isin(leaving) & ~waiting["application_id"].isin(analysis.ended_by(tables, end))
    ]
    iv = tables["interviews"]
    iv = iv[iv["held_on"] <= end]
    last_iv = iv.sort_values(["application_id", "held_on", "interview_id"]).drop_duplicates(
        "application_id", keep="last"
    )
    w = waiting.merge(
        last_iv[["application_id", "held_on", "next_step_by", "final_round"]], on="application_id", how="inner"
    )
    cols = [
        "company",
        "role",
        "held_on",
        "last_word",
        "word",
        "silent_days",
        "their_date",
        "followed_up",
        "followed_up_today",
        "next_follow_up",
        "follow_up_due",
        "still_to_send",
        "final_round",
        "application_id",
    ]
    if w.empty:
        return pd.DataFrame(columns=cols)
    msgs = tables["messages"]
    msgs = msgs[msgs["on"] <= end]
    received = msgs[analysis.from_the_employer(msgs)].merge(w[["application_id", "held_on"]], on="application_id")
    received = received[received["on"] >= received["held_on"]]
    last_rec = received.sort_values("on").groupby("application_id").last()
    w["heard_on"] = w["application_id"].map(last_rec["on"]) if len(last_rec) else pd.NaT
    w["heard_on"] = pd.to_datetime(w["heard_on"])
    w["last_word"] = w[["held_on", "heard_on"]].max(axis=1)
    w["word"] = np.where(w["heard_on"].notna() & (w["heard_on"] >= w["held_on"]), "their last message", "the interview")
    # The latest date they gave: a message that moved it wins, even if a later one named none.
    dates = analysis.latest_dates(tables, end)["their_date"]
    w["their_date"] = pd.to_datetime(w["application_id"].map(dates))
    w["silent_days"] = (end - w["last_word"]).dt.days
    sent = msgs[msgs["direction"].eq("sent") & msgs["kind"].isin(FOLLOW_UPS)]
    if "reference_id" in sent:
        sent = sent[sent["reference_id"].isna()]
    sent = sent.merge(w[["application_id", "last_word"]], on="application_id")
    sent = sent[sent["on"] >= sent["last_word"]]
    w["followed_up"] = w["application_id"].map(sent[sent["on"] < end].groupby("application_id")["on"].max())
    w["followed_up"] = pd.to_datetime(w["followed_up"])
    w["followed_up_today"] = w["application_id"].isin(sent.loc[sent["on"].eq(end), "application_id"])
    fu = actions[actions["kind"].isin(FOLLOW_UPS)]
    w["follow_up_due"] = w["application_id"].isin(fu.loc[fu["status"].isin(["overdue", "due"]), "application_id"])
    # Everything still to send to this employer's people now (a thank-you, a
    # promise, a follow-up): never "nothing to send" while any of it is due.
    now = actions[
        actions["status"].isin(["overdue", "due"])
        & actions["kind"].map(lambda k: k in KINDS and KINDS[k].audience == "employer")
    ]
    w["still_to_send"] = w["application_id"].map(lambda a: list(now.loc[now["application_id"].eq(a), "kind"]))
    upcoming = fu[fu["status"].eq("upcoming")].groupby("application_id")["due_on"].min()
    w["next_follow_up"] = pd.to_datetime(w["application_id"].map(upcoming))
    w = w.sort_values(["silent_days", "company"], ascending=[False, True], kind="stable").reset_index(drop=True)
    return w[cols]


def silence_sentence(row: Mapping, as_of: pd.Timestamp) -> str:
    """One application waiting on the employer: how long, against the latest date
    they gave, what was done, and what is still to send (said to the client)."""
    text = (
        f"**{md(row['company'])}** ({md(row['role'])}): "
        f"{n(row['silent_days'], 'day')} without word since {row['word']} on {day(row['last_word'])}"
    )
    date = row["their_date"]
    if pd.notna(date):
        if date < as_of:
            text += f"; they said you would hear by {day(date)}, {days_ago(date, as_of)}"
        elif date == as_of:
            text += "; they said you would hear by today"
        else:
            text += f"; they said you would hear by {day(date)}"
    elif row["final_round"] is True or row["final_round"] == True:  # noqa: E712 (nullable booleans)
        text += "; a decision after the final round, no date given"
    else:
        text += "; no date given"
    if pd.notna(row["followed_up"]) and not row["followed_up_today"]:
        text += f"; the follow-up of {day(row['followed_up'])} is unanswered"
    pending = row.get("still_to_send") or []
    if len(pending):
        return text + f" — still to send: {_what_to_send(pending)} (in the lists above)."
    if row["followed_up_today"]:
        return text + " — you followed up today: give them time to answer."
    if row["follow_up_due"]:
        return text + " — a follow-up is due now (in the lists above)."
    if pd.notna(row["next_follow_up"]):
        return text + f" — nothing to send them before {day(row['next_follow_up'])}."
    return text + " — nothing to send them yet."


# What is still to send, as the client would say it: (one, several).
TO_SEND = {
    "thank_you_note": ("a thank-you note", "{n} thank-you notes"),
    "keep_promise": ("what you promised", "what you promised ({n} things)"),
    "status_inquiry": ("a status inquiry", "{n} status inquiries"),
    "offer_checkin": ("a check-in", "{n} check-ins"),
    "request_written_offer": ("the request for the offer in writing", "the request for the offer in writing"),
    "review_offer_letter": ("your answer on the offer letter", "your answer on the offer letter"),
    "withdraw_application": ("your withdrawal", "your withdrawal"),
}


def _what_to_send(kinds: list[str]) -> str:
    """ "3 thank-you notes and a status inquiry": the actions counted, in order of first appearance."""
    counts: dict[str, int] = {}
    for kind in kinds:
        counts[kind] = counts.get(kind, 0) + 1
    parts = []
    for kind, c in counts.items():
        one, many = TO_SEND.get(
            kind, (ACTION_LABELS.get(kind, kind).lower(), "{n} × " + ACTION_LABELS.get(kind, kind).lower())
        )
        parts.append(one if c == 1 else many.format(n=c))
    return english_list(parts)


def silences_sentence(silences: pd.DataFrame) -> str:
    if silences.empty:
        return "No application is waiting on an employer after an interview."
    top = silences.iloc[0]
    return (
        f"{n(len(silences), 'application is', 'applications are')} waiting on the employer after an interview; "
        f"the longest silence is {md(top['company'])} at {n(top['silent_days'], 'day')}."
    )


# ---------------------------------------------------------------- wins and pipeline


def _wins(events: pd.DataFrame) -> list[str]:
    """What the client did this week (and the interviews they went to), as list items."""
    if events.empty:
        return []
    out = []

    def companies(rows: pd.DataFrame) -> str:
        names = sorted(set(rows["company"].dropna()))
        return f" ({', '.join(md(c) for c in names)})" if names else ""

    def count(mask, noun, plural=None, tail=""):
        rows = events[mask]
        if len(rows):
            out.append(f"{n(len(rows), noun, plural)}{tail}{companies(rows)}")

    count(events["kind"].eq("interview"), "interview held", "interviews held")
    count(events["kind"].eq("thank_you"), "thank-you note sent", "thank-you notes sent")
    kept = events["kind"].eq("promise")
    on_time = kept & ~events["what"].str.startswith("Promise kept (late)")
    count(on_time, "promise kept on time", "promises kept on time")
    count(kept & ~on_time, "promise kept, late but kept", "promises kept, late but kept")
    count(events["kind"].eq("briefing"), "reference briefed", "references briefed")
    count(
        events["kind"].isin(["reference_checkin", "reference_thanks"]),
        "reference kept in the loop",
        "references kept in the loop",
    )
    count(
        events["kind"].isin([f"sent_{k}" for k in FOLLOW_UPS]),
        "follow-up sent to an employer",
        "follow-ups sent to employers",
    )
    count(
        events["what"].eq("Asked for the offer in writing"), "offer asked for in writing", "offers asked for in writing"
    )
    count(events["what"].eq("Offer accepted"), "offer accepted", "offers accepted")
    # Good news the client earned: offers made, letters received, approvals.
    count(events["what"].eq("Verbal offer"), "offer made to you", "offers made to you")
    count(events["what"].eq("Written offer received"), "offer received in writing", "offers received in writing")
    count(events["what"].eq("Offer approved"), "offer approved", "offers approved")
    return out


OPEN_STAGE_WORDS = {
    "applied": "waiting for a first interview",
    "interviewing": "interviewing",
    "final round": "past a final round",
    "offer": "with an offer",
    "accepted": "accepted",
    "hired": "hired",
}
LOST_STAGE_WORDS = {
    "applied": "before any interview",
    "interviewing": "after an interview",
    "final round": "after a final round",
    "offer": "after an offer",
    "accepted": "after accepting",
    "hired": "after being hired",
}


def pipeline_reading(stages: pd.DataFrame, applications: pd.DataFrame, as_of: pd.Timestamp, hired: bool = False) -> str:
    """Where open applications stand, where closed ones stopped, and whether new
    ones still come in: a pipeline that has not grown for weeks is a warning.
    ``hired``: an offer was approved (only then are new applications not needed:
    a verbal or an accepted offer can still fall through)."""
    if stages.empty:
        return "There are no applications yet — the first step is to start some."
    open_ = stages[stages["open"]]
    by_stage = open_["stage"].value_counts(sort=False)
    parts = [f"{c} {OPEN_STAGE_WORDS[s]}" for s, c in by_stage.items() if c]
    text = n(len(open_), "open application") + (f" ({', '.join(parts)})" if parts else "")
    lost = stages[~stages["open"] & ~stages["status"].eq("hired")]
    if len(lost):
        where = lost["stage"].value_counts()
        where = where[where > 0]
        stall, top = where.index[0], int(where.iloc[0])
        if top == len(lost):
            stopped = f", all {LOST_STAGE_WORDS[stall]}"
        elif 2 * top > len(lost):
            stopped = f", most {LOST_STAGE_WORDS[stall]}"
        else:  # no stage holds most of them: each said
            stopped = ": " + english_list([f"{c} {LOST_STAGE_WORDS[s]}" for s, c in where.items()])
        text += f"; {n(len(lost), 'application')} ended without a job{stopped}"
    if hired or stages["status"].eq("hired").any():
        return text + ". With an offer approved, no new applications are needed."
    applied = applications["applied_on"].dropna()
    applied = applied[applied <= as_of]
    if applied.empty:
        return text + ". No application dates are recorded, so whether new ones still come in cannot be told."
    weeks = int((as_of - applied.max()).days // 7)
    if weeks >= DRY_WEEKS:
        return (
            text + f". No new application for {n(weeks, 'week')} (the last on {day(applied.max())}): the pipeline "
            "is drying up — a few new applications keep your options open, whatever the interviews promise."
        )
    return text + f". New applications still come in (the last on {day(applied.max())})."


# ---------------------------------------------------------------- the report


def _hired(tables, end: pd.Timestamp) -> bool:
    """An offer approved by ``end`` and not rescinded by then: the job is the client's."""
    o = tables["offers"]
    return bool((o["approved_on"].notna() & (o["approved_on"] <= end) & ~(o["rescinded_on"] <= end)).any())


def celebration(tables, start: pd.Timestamp, end: pd.Timestamp, name: str) -> str:
    """An approved offer, or a written one accepted, said first and warmly; a yes
    to a verbal offer said soberly (it is not yet a job); "" when there is none."""
    o = tables["offers"].merge(tables["applications"][["application_id", "company", "role"]], on="application_id")
    o = o[~(o["rescinded_on"] <= end)]
    first_name = md(name.split()[0] if name.split() else name)
    approved = o[o["approved_on"].notna() & (o["approved_on"] <= end)]
    if len(approved):
        a = approved.sort_values("approved_on").iloc[-1]
        when = "this week" if a["approved_on"] >= start else f"on {day(a['approved_on'])}"
        return (
            f"**Congratulations, {first_name}!** {md(a['company'])} approved the offer for {md(a['role'])} {when}: "
            "the job is yours. What is left is courtesy — withdrawing from the other applications and thanking "
            "the references."
        )
    accepted = o[o["accepted_on"].notna() & (o["accepted_on"] <= end)]
    written = accepted[accepted["written_received_on"].notna() & (accepted["written_received_on"] <= end)]
    if len(written):
        a = written.sort_values("accepted_on").iloc[-1]
        when = "this week" if a["accepted_on"] >= start else f"on {day(a['accepted_on'])}"
        return (
            f"**Congratulations, {first_name}!** You accepted {md(a['company'])}'s written offer for "
            f"{md(a['role'])} {when}. It is yours once they approve it: until then, keep the other "
            "applications warm."
        )
    if len(accepted):
        a = accepted.sort_values("accepted_on").iloc[-1]
        return (
            f"**You said yes to {md(a['company'])}'s verbal offer** for {md(a['role'])} on {day(a['accepted_on'])}. "
            "A verbal offer is not yet a job: ask for it in writing, and keep the other applications warm until "
            "it is written, accepted and approved."
        )
    return ""


def weekly_report(
    tables: Mapping[str, pd.DataFrame],
    coachee_id: str,
    week_ending,
    settings: Settings | None = None,
    coach_settings: Mapping[str, Settings] | None = None,
) -> WeeklyReport:
    """Every section of one coachee's report for the week ending ``week_ending``
    (a date or ISO text, as papermill passes it): the day the report is judged from."""
    end = pd.Timestamp(str(week_ending)[:10]).normalize()
    start = end - pd.Timedelta(days=6)
    settings = settings or Settings()
    coachee = tables["coachees"][tables["coachees"]["coachee_id"].eq(coachee_id)]
    name = str(coachee["name"].iloc[0]) if len(coachee) else coachee_id
    actions = due_actions(tables, end, settings, coach_settings)
    apps = tables["applications"]
    recent = _trend_events(tables, end)  # this week's events and the four weeks' before
    happened = recent[_in_week(recent["date"], start, end)].reset_index(drop=True)
    rows = _action_rows(actions)
    messages = rows["kind"].map(_needs_message).astype(bool)
    trend = _trend(tables, end, recent)
    headline = {
        "active applications": int((~apps["status"].isin(CLOSED_STATUSES)).sum()),
        **{CARDS.get(k, k): int(v) for k, v in trend["this week"].items()},
        "overdue now": int((rows["status"].eq("overdue") & messages).sum()),
    }
    waiting = analysis.waiting_on(tables, end)
    stages = analysis.pipeline_stages(tables)
    report = WeeklyReport(
        coachee_id=coachee_id,
        coachee_name=name,
        week_start=start,
        week_ending=end,
        headline=headline,
        trend=trend,
        first_thing="",
        happened=happened[["date", "company", "what"]],
        overdue=rows[messages & rows["status"].eq("overdue")].reset_index(drop=True),
        today=rows[messages & rows["status"].eq("due")].reset_index(drop=True),
        next_week=rows[
            messages & rows["status"].eq("upcoming") & (rows["due"] <= end + pd.Timedelta(days=7))
        ].reset_index(drop=True),
        approvals=rows[~messages].reset_index(drop=True),
        promises=_promise_states(tables, end),
        references=_reference_table(tables),
        offers=offers_table(tables, coachee_id),
        open_offers=_open_offers(tables, end),
        silences=_silences(tables, end, actions),
        waiting=waiting,
        pipeline=analysis.pipeline_counts(tables),
        stages=stages,
        wins=_wins(happened),
        coach_note=_coach_note(coachee),
        offers_in_writing=[
            str(a)
            for a in tables["offers"].loc[
                tables["offers"]["written_received_on"].notna() & (tables["offers"]["written_received_on"] <= end),
                "application_id",
            ]
        ],
        hired=_hired(tables, end),
    )
    report.first_thing = celebration(tables, start, end, name) or ""
    first = _first_thing(actions, report.hired)
    report.first_thing = (report.first_thing + "\n\n" + first) if report.first_thing else first
    # The chart shows what the "Waiting on them" list lists: no offers, no application
    # ended or being left; its sentence and its empty message say the same.
    shown = waiting[waiting["application_id"].isin(report.silences["application_id"])]
    empty = charts.NO_INTERVIEW_YET if waiting.empty else "No application is waiting on an employer after an interview"
    report.figures = {
        "days_since": charts.days_since_interview_spec(shown, empty),
        "pipeline": charts.pipeline_spec(report.pipeline),
    }
    report.sentences = {
        "days_since": md(charts.days_since_sentence(shown)) if len(shown) else md(empty + "."),
        "silences": silences_sentence(report.silences),
        "pipeline": pipeline_reading(stages, apps, end, report.hired),
    }
    return report


def _coach_note(coachee: pd.DataFrame) -> str:
    """The coach's own note on this coachee (``coachees.notes``), or "" when none."""
    if coachee.empty or "notes" not in coachee:
        return ""
    note = coachee["notes"].iloc[0]
    return "" if note is None or pd.isna(note) else str(note).strip()


def _promise_states(tables, as_of) -> pd.DataFrame:
    p = tables["promises"].merge(tables["applications"][["application_id", "company"]], on="application_id", how="left")
    state = pd.Series("upcoming", index=p.index, dtype=object)
    state = state.where(~(p["done_on"].isna() & (p["due_on"] < as_of)), "overdue")
    state = state.where(~(p["done_on"].isna() & (p["due_on"] == as_of)), "due today")
    state = state.where(p["done_on"].isna(), "kept")
    state = state.where(~(p["done_on"].notna() & (p["done_on"] > p["due_on"])), "kept late")
    out = p[["company", "what", "due_on", "done_on"]].rename(columns={"due_on": "due", "done_on": "done"})
    out["state"] = state
    return out.sort_values(["due"], ascending=False).reset_index(drop=True)


def _reference_table(tables) -> pd.DataFrame:
    ru = tables["reference_uses"].merge(tables["references"][["reference_id", "name"]], on="reference_id", how="left")
    ru = ru.merge(tables["applications"][["application_id", "company"]], on="application_id", how="left")
    return (
        ru[["name", "company", "given_on", "briefed_on", "last_checkin_on", "contacted_on"]]
        .rename(
            columns={
                "name": "reference",
                "last_checkin_on": "last check-in",
                "contacted_on": "employer called them",
                "given_on": "given",
                "briefed_on": "briefed",
            }
        )
        .sort_values(["reference", "company"])
        .reset_index(drop=True)
    )


# ---------------------------------------------------------------- Markdown


def lead_markdown(r: WeeklyReport) -> str:
    """The top of the report: a celebration if there is one, and the one thing to do first."""
    return r.first_thing


def actions_markdown(r: WeeklyReport, which: str) -> str:
    """One of the three lists ("overdue", "today", "next_week"), by date, as Markdown."""
    rows = getattr(r, which)
    if rows.empty:
        return {
            "overdue": "Nothing is overdue — you are on top of the follow-ups.",
            "today": "Nothing else is due today.",
            "next_week": "Nothing new falls due in the coming week.",
        }[which]
    return _listing([action_item(row) for row in rows.to_dict("records")])


def waiting_on_you_markdown(r: WeeklyReport) -> str:
    """Offers the client has to answer (with their deadlines), and accepted offers waiting for approval."""
    items = [offer_to_decide_sentence(o, r.week_ending) for o in r.open_offers.to_dict("records")]
    open_others = int(r.stages["open"].sum()) - 1 if len(r.stages) else 0
    written = set(r.offers_in_writing)
    items += [
        approval_sentence(a, max(open_others, 0), a["application_id"] in written)
        for a in r.approvals.to_dict("records")
    ]
    if not items:
        return "No offer is waiting for your answer."
    return _listing(items)


def waiting_on_them_markdown(r: WeeklyReport) -> str:
    """The longest silences, one line each (the summary sentence first)."""
    head = r.sentences["silences"]
    if r.silences.empty:
        return head
    return head + "\n\n" + _listing([silence_sentence(s, r.week_ending) for s in r.silences.to_dict("records")])


def trend_word(r: WeeklyReport, now: float, avg: float) -> str:
    """ "up", "down" or "about the same" against the weeks before; with the job
    approved, no "down": fewer applications and interviews are the point now."""
    if now > avg + 0.25:
        return "up"
    if now < avg - 0.25:
        return "" if r.hired else "down"
    return "about the same"


def wins_markdown(r: WeeklyReport) -> str:
    trend = []
    for name, row in r.trend.iterrows():
        avg = row["average before"]
        now = row["this week"]
        word = trend_word(r, now, avg)
        before = ", ".join(str(int(v)) for v in reversed(row["weeks before"]))
        trend.append(
            f"{name}: **{int(now)}** this week against a weekly average of {avg:.1f} before ({before})"
            + (f": {word}" if word else "")
        )
    if r.wins:
        wins = _listing(r.wins)
        close = "Worth saying out loud: each of these is what employers notice."
    else:
        wins = "No follow-up was logged this week."
        close = "If you did something this week that is not here, tell your coach: only what is logged is counted."
    return wins + "\n\n" + close + "\n\n**Against the four weeks before** (oldest first)\n\n" + _listing(trend)


def coach_note_markdown(r: WeeklyReport) -> str:
    """The coach's own note, as its own section ("" when there is none: the
    section is left out). The rest of the page speaks to the client; this is
    the one place in the coach's words, headed as such."""
    if not r.coach_note:
        return ""
    return "## A note from your coach\n\n" + md(r.coach_note)


def happened_markdown(r: WeeklyReport) -> str:
    if r.happened.empty:
        return "Nothing was logged this week."
    return _listing(
        [f"**{day(e['date'])}** — {md(e['company'])}: {md(e['what'])}" for e in r.happened.to_dict("records")]
    )


def pipeline_markdown(r: WeeklyReport) -> str:
    return r.sentences["pipeline"]


# ---------------------------------------------------------------- HTML


def _fmt_dates(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = out[c].dt.strftime("%a %d %b").fillna("")
    return out.fillna("")


def table_html(df: pd.DataFrame, empty: str) -> str:
    """An escaped HTML table (store text always shows as text), or a sentence if empty."""
    if df.empty:
        return f'<p class="fw-empty">{html.escape(empty)}</p>'
    return _fmt_dates(df).to_html(index=False, escape=True, border=0, classes="fw-table")


STYLE = """<style>
.fw-table {border-collapse: collapse; font-size: 0.92em; margin: 0.4em 0 1em;}
/* Specific enough to win over JupyterLab's right-aligned notebook tables: sentences read left to right. */
.jp-RenderedHTMLCommon table.fw-table th, table.fw-table th {text-align: left; border-bottom: 2px solid #444; padding: 4px 10px;}
.jp-RenderedHTMLCommon table.fw-table td, table.fw-table td {border-bottom: 1px solid #ddd; padding: 4px 10px; vertical-align: top; max-width: 46em; text-align: left;}
.fw-headline {display: flex; gap: 1.2em; flex-wrap: wrap; margin: 0.6em 0 1.2em;}
.fw-headline div {border: 1px solid #ccc; border-radius: 8px; padding: 0.6em 1em; min-width: 9em;}
.fw-headline b {display: block; font-size: 1.8em;}
.fw-headline small {display: block; color: #666;}
.fw-empty {color: #666; font-style: italic;}
</style>"""


def headline_html(r: WeeklyReport) -> str:
    """The title and one card per headline number, with its average over the weeks before."""

    def card(k, v):
        note = ""
        row = {CARDS.get(t, t): t for t in r.trend.index}.get(k)
        if row is not None:
            avg = r.trend.loc[row, "average before"]
            arrow = {"up": "▲ ", "down": "▼ ", "about the same": "≈ ", "": ""}[trend_word(r, v, avg)]
            note = f"<small>{arrow}{TREND_WEEKS}-week average {avg:.1f}</small>"
        words = CARD_SINGULAR.get(k, k) if v == 1 else k
        return f"<div><b>{v}</b>{html.escape(words)}{note}</div>"

    cards = "".join(card(k, v) for k, v in r.headline.items())
    title = (
        f"<h1>Weekly progress: {html.escape(r.coachee_name)}</h1>"
        f"<p>Week of {r.week_start:%A %d %B} to {r.week_ending:%A %d %B %Y}</p>"
    )
    return STYLE + title + f'<div class="fw-headline">{cards}</div>'


def section_html(r: WeeklyReport, section: str) -> str:
    """One table section of the report as HTML."""
    if section == "promises":
        return table_html(r.promises, "No promises made to interviewers yet.")
    if section == "references":
        return table_html(r.references, "No references given to an application yet.")
    if section == "offers":
        return table_html(r.offers, "No offers yet.")
    raise KeyError(section)


def chart_html(r: WeeklyReport, name: str, figures: charts.OfflineFigures) -> str:
    """A chart as offline HTML (its reading is shown as Markdown beside it)."""
    return figures.html(r.figures[name])
