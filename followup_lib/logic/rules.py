"""What is due, and why: the coaching guidance (PRODUCT.md, points 1–10) as pure
functions of the tables.

``due_actions(tables, as_of, settings)`` takes the typed tables (``Store.load``),
the day to judge from and the settings, and returns one row per action. Nothing
here reads the store, the clock or a widget, and every rule works on whole
columns at once (no Python loop over rows), so the whole practice costs about
what one coachee does.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..kinds import (  # noqa: F401 (ACTION_KINDS, ACTION_LABELS and MESSAGE_KINDS re-exported)
    ACTION_ID_SEPARATOR,
    ACTION_KINDS,
    ACTION_LABELS,
    BASE_PRIORITY,
    BOUNCE,
    DEADLINE_REMINDER,
    EXTENSION_REQUEST,
    INVITATION,
    KINDS,
    MESSAGE_KINDS,
    NOT_WORD_FROM_EMPLOYER,
    REFERENCE_KINDS,
    REJECTION,
    UPCOMING_PRIORITY_OFFSET,
    VERBAL_OFFER,
    WRITTEN_OFFER,
    action_detail_part,
    again_id,
    normal_kinds,
    parse_action_id,
)
from ..schema import CLOSED_STATUSES, OFFER_TERMS
from ..settings import Settings
from . import wording
from .business_days import add_business_days as _add_business_days
from .business_days import calendars_of

STATUS_ORDER = {"overdue": 0, "due": 1, "upcoming": 2}

ACTION_COLUMNS = [
    "action_id",
    "coachee_id",
    "application_id",
    "kind",
    "status",
    "due_on",
    "priority",
    "recipient",
    "channel",
    "why",
    "company",
    "role",
    "recipient_email",
    "recipient_phone",
    "interview_id",
    "reference_id",
    "promise_id",
    "contact_id",
    # What the drafts need to stay true: the employer's latest date, and which
    # attempt of how many an inquiry or check-in is.
    "employer_date",
    "attempt",
    "attempts_max",
]


# ------------------------------------------------------------------ helpers


def _day(value) -> pd.Timestamp:
    return pd.Timestamp(value).normalize()


def add_business_days(dates: pd.Series, n, calendars: pd.Series | None = None) -> pd.Series:
    """``dates`` moved ``n`` business days on (weekends, and the holidays of each
    row's calendar, skipped); NaT stays NaT. See ``business_days.add_business_days``."""
    return _add_business_days(dates, n, calendars)


def add_days(dates: pd.Series, n: int) -> pd.Series:
    return pd.to_datetime(dates) + pd.Timedelta(days=int(n))


def latest(*series: pd.Series) -> pd.Series:
    """Row-wise latest date of several columns, ignoring missing ones."""
    return pd.concat([pd.to_datetime(s) for s in series], axis=1).max(axis=1)


def fmt_day(dates: pd.Series, as_of: pd.Timestamp) -> pd.Series:
    """'6 Nov' (with the year when it is not the as-of year), for the why."""
    d = pd.to_datetime(dates)
    if d.empty:
        return pd.Series("", index=d.index, dtype=object)
    # Distinct days are few: format each once, then map (strftime per row is slow).
    days = d.dt.normalize()
    unique = pd.DatetimeIndex(days.dropna().unique())
    labels = [f"{x.day} {x:%b}" + ("" if x.year == as_of.year else f" {x.year}") for x in unique]
    return days.map(dict(zip(unique, labels, strict=True))).astype(object).where(d.notna(), "")


def topic_list(topics: pd.Series) -> pd.Series:
    """Topics typed as 'A; B; C' read as 'A, B and C' ('' when none)."""
    text = _text(topics)
    # Distinct values are few: phrase each once, then map.
    phrased = {t: wording.topic_phrase(t) for t in text.unique()}
    return text.map(phrased).astype(object)


def _text(s: pd.Series, default: str = "") -> pd.Series:
    return s.astype(object).where(s.notna() & s.astype(str).str.strip().ne(""), default).astype(str)


def _contact_channel(preferred: pd.Series, email: pd.Series, phone: pd.Series) -> pd.Series:
    """The person's stated preference, else whatever contact detail we have."""
    fallback = np.where(email.notna(), "email", np.where(phone.notna(), "phone", "email"))
    return preferred.astype(object).where(preferred.notna(), pd.Series(fallback, index=preferred.index))


def possessive(names: pd.Series) -> pd.Series:
    """ "Quarry Labs'" and "Lumen Software's"."""
    return names + np.where(names.str.endswith("s"), "'", "'s")


def _plural(n: pd.Series, one: str, many: str) -> pd.Series:
    return n.astype(str) + np.where(n.eq(1), " " + one, " " + many)


def latest_interviews(interviews: pd.DataFrame) -> pd.DataFrame:
    """The latest interview of each application in ``interviews`` (ties: the
    highest interview_id): the one whose promises (next_step_by, final_round) hold."""
    ordered = interviews.sort_values(["application_id", "held_on", "interview_id"], kind="stable")
    return ordered.drop_duplicates("application_id", keep="last")


def missing_offer_terms(offers: pd.DataFrame) -> pd.Series:
    """Per offer, the terms of OFFER_TERMS it leaves blank, as "benefits, conditions"
    ("" when it states them all)."""
    missing = pd.Series("", index=offers.index, dtype=object)
    for term in OFFER_TERMS:
        absent = offers[term].isna() | _text(offers[term]).str.strip().eq("")
        missing = missing.where(~absent, missing + np.where(missing.eq(""), "", ", ") + term.replace("_", " "))
    return missing


def _empty_actions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            c: pd.Series(dtype="datetime64[ns]" if c in ("due_on", "employer_date") else object)
            for c in [*ACTION_COLUMNS, "_first"]
        }
    )


def _col(df: pd.DataFrame, name: str, dtype=object) -> pd.Series:
    """A column a first-release table may lack, as missing values."""
    return df[name] if name in df else pd.Series(None, index=df.index, dtype=dtype)


def _lookup(keys: pd.Series, table: pd.Series) -> pd.Series:
    """``table``'s value for each key (missing when absent), aligned with ``keys``.

    ``Series.map`` with an empty datetime Series as the mapper fails in pandas;
    reindexing does not.
    """
    return table.reindex(keys.to_numpy()).set_axis(keys.index).rename(None)


def _group_max(df: pd.DataFrame, by: str, col: str, name: str) -> pd.Series:
    return df.groupby(by)[col].max().rename(name)


def _offers_with_messages(offers: pd.DataFrame, verbal: pd.Series, letter: pd.Series) -> pd.DataFrame:
    """The offers table with a received ``offer`` message as a verbal offer on its
    day and an ``offer_letter`` as the letter received that day, where the table
    says nothing (an application with no offers row gets one)."""
    apps = pd.Index(verbal.index).union(letter.index)
    if len(apps) == 0:
        return offers.copy()
    new = apps.difference(pd.Index(offers["application_id"]))
    out = (
        pd.concat([offers, pd.DataFrame({"application_id": new.to_numpy()})], ignore_index=True)
        if len(new)
        else offers.copy()
    )
    for col in (
        "verbal_on",
        "written_received_on",
        "written_requested_on",
        "accepted_on",
        "approved_on",
        "rescinded_on",
        "response_deadline",
    ):
        out[col] = pd.to_datetime(out[col])
    out["verbal_on"] = out["verbal_on"].where(out["verbal_on"].notna(), _lookup(out["application_id"], verbal))
    out["written_received_on"] = out["written_received_on"].where(
        out["written_received_on"].notna(), _lookup(out["application_id"], letter)
    )
    return out


def _moved_deadlines(offers: pd.DataFrame, received: pd.DataFrame) -> pd.DataFrame:
    """A ``next_step_by`` in a message received once the offer stands (on or after
    its verbal offer or letter) is the employer's new response deadline."""
    offers = offers.copy()
    offers["deadline_moved_on"] = pd.Series(pd.NaT, index=offers.index, dtype="datetime64[ns]")
    dated = received[received["next_step_by"].notna()].merge(
        offers[["application_id", "verbal_on", "written_received_on"]], on="application_id", how="inner"
    )
    since = dated[["verbal_on", "written_received_on"]].min(axis=1)
    dated = dated[since.notna() & (dated["on"] >= since)]
    if dated.empty:
        return offers
    last = (
        dated.sort_values(["application_id", "on", "message_id"], kind="stable")
        .drop_duplicates("application_id", keep="last")
        .set_index("application_id")
    )
    moved = _lookup(offers["application_id"], last["next_step_by"])
    offers["deadline_moved_on"] = _lookup(offers["application_id"], last["on"])
    offers["response_deadline"] = pd.to_datetime(moved.where(moved.notna(), offers["response_deadline"]))
    return offers


def _undo_bounced(tables: Mapping[str, pd.DataFrame], bounced: pd.Series) -> dict[str, pd.DataFrame]:
    """The tables as if every bounced action had not been done: its sent record
    (kinds.py: a thank-you's ``thank_you_sent_on``, a promise's ``done_on``…) is blank
    again. The rows are found per record in one pass over each table."""
    out = dict(tables)
    wanted: dict[tuple, set[tuple]] = {}
    for ref in map(parse_action_id, bounced.index):
        if ref is None or ref.kind not in KINDS:
            continue
        detail = ref.detail
        for r in KINDS[ref.kind].sent_records:
            # The key columns are read from the action id in the order the rules write them.
            values = {"application_id": ref.application_id}
            if r.key == ("interview_id", "contact_id") and len(detail) >= 2:
                values.update(interview_id=detail[0], contact_id=detail[1])
            elif r.key == ("interview_id",) and len(detail) == 1:
                values.update(interview_id=detail[0])
            elif r.key == ("promise_id",) and detail:
                values.update(promise_id=detail[0])
            elif r.key == ("reference_id", "application_id") and detail:
                values.update(reference_id=detail[0])
            elif not (r.key == ("application_id",) and r.table == "offers"):
                continue
            wanted.setdefault((r.table, r.column, r.key), set()).add(tuple(values[k] for k in r.key))
            break
    for (table, column, key), rows in wanted.items():
        frame = out.get(table)
        if frame is None or column not in frame or not set(key) <= set(frame.columns):
            continue
        if len(key) == 1:
            hit = frame[key[0]].isin([r[0] for r in rows]).to_numpy()
        else:
            hit = pd.MultiIndex.from_frame(frame[list(key)].astype(object)).isin(list(rows))
        if hit.any():
            frame = frame.copy()
            frame.loc[hit, column] = pd.NaT
            out[table] = frame
    return out


class _Context:
    """The joins every rule needs, computed once per call."""

    def __init__(self, tables: Mapping[str, pd.DataFrame], as_of: pd.Timestamp, s: Settings):
        self.as_of = as_of
        self.s = s
        self._people_cache: tuple[pd.DataFrame, pd.DataFrame] | None = None
        coachees = tables["coachees"]
        self.calendar_of = calendars_of(coachees, s.country)
        apps = tables["applications"].merge(
            coachees[["coachee_id", "name"]].rename(columns={"name": "coachee_name"}), on="coachee_id", how="left"
        )
        apps["closed_on"] = _col(apps, "closed_on", "datetime64[ns]")
        apps["closed_reason"] = _col(apps, "closed_reason")

        # ------------------------------------------------------------ messages
        # Contract v3: some kinds of message have consequences (kinds.py).
        msgs = tables["messages"]
        msgs = msgs[msgs["on"].notna() & (msgs["on"] <= as_of)].copy()
        msgs["reference_id"] = _col(msgs, "reference_id")
        msgs["next_step_by"] = _col(msgs, "next_step_by", "datetime64[ns]")
        msgs["action_id"] = _col(msgs, "action_id")
        msgs["kind_is"] = normal_kinds(msgs["kind"])
        received = msgs["direction"].eq("received") & msgs["reference_id"].isna()
        # A bounce names (action_id) the action whose message did not arrive: that
        # message is no contact, and the action is due again — unless it was sent
        # again since (as "<action id>:again").
        bounces = msgs[received & msgs["kind_is"].eq(BOUNCE) & msgs["action_id"].notna()]
        sent_ids = set(msgs.loc[msgs["direction"].eq("sent"), "action_id"].dropna())
        bounces = bounces[~bounces["action_id"].astype(str).map(again_id).isin(sent_ids)]
        self.bounced = bounces.groupby("action_id")["on"].max()
        if len(self.bounced):
            tables = _undo_bounced(tables, self.bounced)
        self.tables = tables
        undelivered = msgs["direction"].eq("sent") & msgs["action_id"].isin(self.bounced.index)
        msgs = msgs[~undelivered]
        word = msgs["direction"].eq("received") & ~msgs["kind_is"].isin(NOT_WORD_FROM_EMPLOYER)
        to_reference = msgs["reference_id"].notna() | msgs["kind"].isin(REFERENCE_KINDS)
        self.messages = msgs
        self.reference_messages = msgs[to_reference & msgs["direction"].eq("sent")]
        # Guidance 5: every message sent to the employer counts as a contact, whatever its kind.
        self.employer_sent = msgs[msgs["direction"].eq("sent") & ~to_reference]
        # Word from the employer: not an automatic reply or a bounce.
        self.employer_received = msgs[word & msgs["reference_id"].isna()]
        self.last_contact = _group_max(self.employer_sent, "application_id", "on", "last_contact")

        def first_day(kind: str, frame: pd.DataFrame | None = None) -> pd.Series:
            f = self.employer_received if frame is None else frame
            return f[f["kind_is"].eq(kind)].groupby("application_id")["on"].min()

        # A received rejection closes the application from that day.
        apps["rejected_on"] = _lookup(apps["application_id"], first_day(REJECTION))
        by_message = apps["rejected_on"].notna() & ~apps["status"].isin(CLOSED_STATUSES)
        apps["closed_on"] = apps["closed_on"].where(~by_message | apps["closed_on"].notna(), apps["rejected_on"])
        apps["status"] = apps["status"].where(~by_message, "rejected")
        # An invitation to a further round: the silence rules wait for that interview.
        self.invited_on = (
            self.employer_received[self.employer_received["kind_is"].eq(INVITATION)]
            .groupby("application_id")["on"]
            .max()
        )

        # ------------------------------------------------------------ offers
        offers = _offers_with_messages(tables["offers"], first_day(VERBAL_OFFER), first_day(WRITTEN_OFFER))
        # A new date the employer gives while an offer stands moves its response deadline.
        offers = _moved_deadlines(offers, self.employer_received)
        # An extension request holds the deadline reminder until the employer answers.
        asked = self.employer_sent[normal_kinds(self.employer_sent["kind"]).eq(EXTENSION_REQUEST)]
        offers["extension_asked_on"] = _lookup(offers["application_id"], _group_max(asked, "application_id", "on", "x"))
        answers = self.employer_received.merge(
            offers[["application_id", "extension_asked_on"]], on="application_id", how="inner"
        )
        answers = answers[answers["on"] >= answers["extension_asked_on"]]
        offers["extension_answered_on"] = _lookup(
            offers["application_id"], _group_max(answers, "application_id", "on", "x")
        )
        rescinded = offers["rescinded_on"].notna() & (offers["rescinded_on"] <= as_of)
        # An offer withdrawn by the employer closes its application (its references
        # hear how it ended), and an approval it had no longer holds.
        gone = offers.loc[rescinded].set_index("application_id")["rescinded_on"]
        apps["rescinded_on"] = _lookup(apps["application_id"], gone)
        by_rescinding = apps["rescinded_on"].notna()
        apps["closed_on"] = apps["closed_on"].where(~by_rescinding | apps["closed_on"].notna(), apps["rescinded_on"])
        self.live_offers = offers[~rescinded]
        approved = self.live_offers[
            self.live_offers["approved_on"].notna() & (self.live_offers["approved_on"] <= as_of)
        ]
        approved = approved.merge(apps[["application_id", "coachee_id", "company"]], on="application_id")
        approved = approved.sort_values(["coachee_id", "approved_on", "application_id"], kind="stable")
        # Guidance 9: once an offer is approved, the coachee's other applications end.
        self.approved_by_coachee = (
            approved.drop_duplicates("coachee_id", keep="first")
            .set_index("coachee_id")[["application_id", "approved_on", "company"]]
            .rename(columns={"application_id": "approved_app", "company": "approved_company"})
        )

        # --------------------------------------------------------- open/closed
        closed = (
            apps["status"].isin(CLOSED_STATUSES)
            | (apps["closed_on"].notna() & (apps["closed_on"] <= as_of))
            | apps["application_id"].isin(approved["application_id"])
            | by_rescinding
        )
        apps["closed"] = closed
        apps["approved_elsewhere"] = ~closed & apps["coachee_id"].isin(self.approved_by_coachee.index)
        apps["has_offer"] = apps["application_id"].isin(self.live_offers["application_id"]) | apps["status"].isin(
            ["offer", "accepted"]
        )
        apps["calendar"] = _lookup(apps["coachee_id"], self.calendar_of)
        self.apps = apps
        cols = ["application_id", "coachee_id", "coachee_name", "company", "role", "status", "has_offer", "calendar"]
        self.open_apps = apps.loc[~closed & ~apps["approved_elsewhere"], cols]
        self.withdrawing = apps.loc[apps["approved_elsewhere"], cols]
        self.closed_apps = apps.loc[closed, cols + ["closed_on", "closed_reason", "rescinded_on"]]

        # --------------------------------------------------------- interviews
        iv = tables["interviews"]
        iv = iv[iv["held_on"].notna() & (iv["held_on"] <= as_of)]
        self.all_interviews = iv
        self.interviews = iv.merge(self.open_apps, on="application_id", how="inner")
        # The latest interview held so far, per open application: the one whose
        # promises (next_step_by, final_round) are in force.
        self.last_interview = latest_interviews(self.interviews)
        finals = iv[iv["final_round"].fillna(False).astype(bool)]
        self.final_held = _group_max(finals, "application_id", "held_on", "final_held_on")

        # ------------------------------------------------------------ contacts
        contacts = tables.get("contacts")
        self.contacts = (
            contacts
            if contacts is not None
            else pd.DataFrame(
                columns=[
                    "contact_id",
                    "application_id",
                    "name",
                    "email",
                    "phone",
                    "preferred_channel",
                    "point_of_contact",
                ]
            )
        )
        ic = tables.get("interview_contacts")
        self.interview_contacts = (
            ic if ic is not None else pd.DataFrame(columns=["interview_id", "contact_id", "thank_you_sent_on"])
        )

        # ---------------------------------------------------------- references
        refs = tables["references"][["reference_id", "name", "email", "phone"]].rename(
            columns={"name": "ref_name", "email": "ref_email", "phone": "ref_phone"}
        )
        ru = tables["reference_uses"].copy()
        ru["thanked_on"] = _col(ru, "thanked_on", "datetime64[ns]")
        self.all_ref_uses = ru.merge(refs, on="reference_id", how="inner")
        self.ref_uses = self.all_ref_uses.merge(self.open_apps, on="application_id", how="inner")
        self.offers = self.live_offers.merge(self.open_apps, on="application_id", how="inner")

    # ---------------------------------------------------------------- helpers
    @functools.cached_property
    def calendar_by_app(self) -> pd.Series:
        """Each application's holiday calendar, by application id: indexed once per call of the rules."""
        return self.apps.set_index("application_id")["calendar"]

    def business_days(self, dates: pd.Series, n, apps: pd.Series) -> pd.Series:
        """``dates`` + ``n`` business days in the calendar of each row's application."""
        cal = _lookup(apps, self.calendar_by_app)
        return _add_business_days(dates, n, cal.set_axis(dates.index), around=self.as_of)

    def with_contact(self, df: pd.DataFrame, made_on: str | None = None) -> pd.DataFrame:
        """Adds the person follow-ups go to: the application's point of contact if
        one is recorded, else the interviewer of its latest interview (guidance 4).

        With ``made_on`` (a date column: a promise's due day), the interviewer of
        the interview it was made at — the latest held on or before that day —
        comes first, and the point of contact only when there is no interview.
        """
        poc, last = self._people()
        drop = [
            x for x in ("interviewer_name", "interviewer_email", "interviewer_phone", "preferred_channel") if x in df
        ]
        out = (
            df.drop(columns=drop)
            .merge(poc, on="application_id", how="left")
            .merge(last, on="application_id", how="left")
        )
        has_poc = out["poc_id"].notna()
        if made_on is not None:
            at = self._interview_at(out, made_on)
            found = at["contact_interview_id"].notna()
            for col in at.columns:
                out[col] = at[col].where(found, out[col])
            has_poc &= out["contact_interview_id"].isna()
        name = out["poc_name"].where(has_poc, out["interviewer_name"])
        email = out["poc_email"].where(has_poc, out["interviewer_email"])
        phone = out["poc_phone"].where(has_poc, out["interviewer_phone"])
        preferred = out["poc_channel"].where(has_poc, out["iv_channel"])
        out["recipient"] = _text(name, "").where(
            name.notna() & _text(name).ne(""), "your contact at " + _text(out["company"])
        )
        out["named"] = name.notna() & _text(name).ne("")
        out["recipient_email"] = email
        out["recipient_phone"] = phone
        out["channel"] = _contact_channel(preferred, email, phone)
        out["contact_id"] = out["poc_id"].where(has_poc)
        out["interview_id"] = out["contact_interview_id"]
        return out

    def _people(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Per application, its point of contact and the interviewer of its latest
        interview: computed once per call of the rules (every rule that writes to
        the employer asks for them)."""
        if self._people_cache is None:
            c = self.contacts
            poc = c[c["point_of_contact"].fillna(False).astype(bool)].sort_values("contact_id", kind="stable")
            poc = poc.drop_duplicates("application_id")[
                ["application_id", "contact_id", "name", "email", "phone", "preferred_channel"]
            ].rename(
                columns={
                    "contact_id": "poc_id",
                    "name": "poc_name",
                    "email": "poc_email",
                    "phone": "poc_phone",
                    "preferred_channel": "poc_channel",
                }
            )
            last = latest_interviews(self.all_interviews)[
                [
                    "application_id",
                    "interview_id",
                    "interviewer_name",
                    "interviewer_email",
                    "interviewer_phone",
                    "preferred_channel",
                ]
            ].rename(columns={"interview_id": "contact_interview_id", "preferred_channel": "iv_channel"})
            self._people_cache = (poc, last)
        return self._people_cache

    def _interview_at(self, df: pd.DataFrame, date_col: str) -> pd.DataFrame:
        """Per row of ``df``, the interviewer of the latest interview of its
        application held on or before ``df[date_col]`` (missing when none)."""
        cols = ["interview_id", "interviewer_name", "interviewer_email", "interviewer_phone", "preferred_channel"]
        ivs = self.all_interviews[["application_id", "held_on", *cols]].sort_values(["held_on", "interview_id"])
        ivs = ivs.assign(held_on=ivs["held_on"].astype("datetime64[ns]"))
        left = df[["application_id", date_col]].assign(_row=np.arange(len(df)))
        left[date_col] = left[date_col].astype("datetime64[ns]")
        left = left[left[date_col].notna()].sort_values(date_col)
        m = pd.merge_asof(
            left, ivs, left_on=date_col, right_on="held_on", by="application_id", direction="backward"
        ).set_index("_row")
        m = m.reindex(np.arange(len(df)))[cols].set_axis(df.index)
        return m.rename(columns={"interview_id": "contact_interview_id", "preferred_channel": "iv_channel"})


# ------------------------------------------------------------------ the rules


def _thank_you_notes(c: _Context, s: Settings) -> pd.DataFrame:
    """Guidance 1: one thank-you per person met, within a day of the interview."""
    iv = c.interviews[c.interviews["thank_you_sent_on"].isna()]
    # Only the people recorded as met get notes: no name, no one to thank.
    iv = iv[iv["interviewer_name"].notna() & _text(iv["interviewer_name"]).str.strip().ne("")].copy()
    iv["recipient"] = _text(iv["interviewer_name"])
    iv["recipient_email"] = iv["interviewer_email"]
    iv["recipient_phone"] = iv["interviewer_phone"]
    iv["channel"] = _contact_channel(iv["preferred_channel"], iv["interviewer_email"], iv["interviewer_phone"])
    iv["contact_id"] = None
    iv["detail"] = iv["interview_id"]
    iv["with_whom"] = " with " + iv["recipient"]

    # Each further person met (a panel), with their own thank-you.
    met = c.interview_contacts[c.interview_contacts["thank_you_sent_on"].isna()]
    panel = met.merge(c.interviews.drop(columns=["thank_you_sent_on"]), on="interview_id", how="inner").merge(
        c.contacts[["contact_id", "application_id", "name", "email", "phone", "preferred_channel"]].rename(
            columns={"application_id": "contact_app", "preferred_channel": "contact_channel"}
        ),
        on="contact_id",
        how="inner",
    )
    panel = panel[panel["contact_app"].eq(panel["application_id"])].copy()
    panel["recipient"] = _text(panel["name"])
    panel["recipient_email"] = panel["email"]
    panel["recipient_phone"] = panel["phone"]
    panel["channel"] = _contact_channel(panel["contact_channel"], panel["email"], panel["phone"])
    panel["detail"] = panel["interview_id"] + ACTION_ID_SEPARATOR + panel["contact_id"]
    panel["with_whom"] = " with " + panel["recipient"]
    keep = [
        "interview_id",
        "application_id",
        "coachee_id",
        "company",
        "role",
        "held_on",
        "recipient",
        "recipient_email",
        "recipient_phone",
        "channel",
        "contact_id",
        "detail",
        "with_whom",
    ]
    t = pd.concat([iv[keep], panel[keep]], ignore_index=True) if len(panel) else iv[keep].copy()
    t["due_on"] = c.business_days(t["held_on"], s.thank_you_within_days, t["application_id"])
    t["why"] = (
        "You interviewed"
        + t["with_whom"]
        + " at "
        + t["company"]
        + " on "
        + fmt_day(t["held_on"], c.as_of)
        + "; a short thank-you is due within "
        + str(s.thank_you_within_days)
        + (" business day" if s.thank_you_within_days == 1 else " business days")
        + ", by "
        + fmt_day(t["due_on"], c.as_of)
        + "."
    )
    return t.assign(kind="thank_you_note")


def _reference_row(ru: pd.DataFrame) -> pd.DataFrame:
    ru["recipient"] = ru["ref_name"]
    ru["recipient_email"] = ru["ref_email"]
    ru["recipient_phone"] = ru["ref_phone"]
    ru["channel"] = np.where(ru["ref_email"].notna() | ru["ref_phone"].isna(), "email", "phone")
    return ru


def _brief_references(c: _Context, s: Settings) -> pd.DataFrame:
    """Guidance 2: after every interview, as soon as the thank-you is out."""
    last = c.last_interview[
        ["application_id", "interview_id", "held_on", "thank_you_sent_on", "interviewer_name", "topics"]
    ]
    ru = c.ref_uses.merge(last, on="application_id", how="inner")
    ru = ru[ru["briefed_on"].isna() | (ru["briefed_on"] < ru["held_on"])].copy()
    ru["due_on"] = ru["thank_you_sent_on"].where(
        ru["thank_you_sent_on"].notna(), c.business_days(ru["held_on"], s.thank_you_within_days, ru["application_id"])
    )
    ru = _reference_row(ru)
    topics = topic_list(ru["topics"])
    ru["why"] = (
        "Tell "
        + ru["ref_name"]
        + " how your "
        + ru["company"]
        + " interview on "
        + fmt_day(ru["held_on"], c.as_of)
        + " went"
        + topics.where(topics.eq(""), " (they cared most about " + topics + ")")
        + " and ask them to let you know if "
        + ru["company"]
        + " calls."
    )
    ru["detail"] = ru["reference_id"] + ACTION_ID_SEPARATOR + ru["interview_id"]
    return ru.assign(kind="brief_references", contact_id=None)


def _promises(c: _Context, s: Settings, promises: pd.DataFrame) -> pd.DataFrame:
    """Guidance 3: on that day, to that person; late is still kept, with an apology."""
    p = promises[promises["done_on"].isna()].merge(c.open_apps, on="application_id", how="inner")
    p = p.rename(columns={"contact_id": "promised_to"}) if "contact_id" in p else p.assign(promised_to=None)
    p["kind_of_promise"] = _col(p, "kind").fillna("send")
    # A promise is made at an interview (the promises table of the first release):
    # to its interviewer unless the person is named.
    p = c.with_contact(p, made_on="due_on")
    # The person the promise was made to, when recorded, wins over the point of contact.
    to = (
        p[["promised_to"]]
        .merge(
            c.contacts[["contact_id", "name", "email", "phone", "preferred_channel"]],
            left_on="promised_to",
            right_on="contact_id",
            how="left",
        )
        .set_axis(p.index)
    )
    known = to["contact_id"].notna()
    p["recipient"] = _text(to["name"]).where(known, p["recipient"])
    p["recipient_email"] = to["email"].where(known, p["recipient_email"])
    p["recipient_phone"] = to["phone"].where(known, p["recipient_phone"])
    p["channel"] = _contact_channel(to["preferred_channel"], to["email"], to["phone"]).where(known, p["channel"])
    p["contact_id"] = to["contact_id"].where(known, p["contact_id"])
    what = _text(p["what"])
    # Kept on time but come back (a bounce): the client was not late, the mail was lost.
    ids = "keep_promise" + ACTION_ID_SEPARATOR + p["application_id"] + ACTION_ID_SEPARATOR + p["promise_id"]
    late = (p["due_on"] < c.as_of) & ~ids.isin(c.bounced.index)
    contact = p["kind_of_promise"].eq("contact")
    # "your contact at Globex" already names the company.
    who = p["recipient"] + pd.Series(np.where(p["named"].eq(True) | known, " at " + p["company"], ""), index=p.index)
    said = np.where(
        contact,
        "You told " + who + " you would get in touch on " + fmt_day(p["due_on"], c.as_of) + " (" + what + ")",
        "You promised " + who + " " + what + " by " + fmt_day(p["due_on"], c.as_of),
    )
    p["why"] = said + np.where(
        late,
        ". It is late: do it today, with a one-line apology; interviewers watch whether candidates follow through.",
        ". Keep it: interviewers watch whether candidates follow through.",
    )
    p["detail"] = p["promise_id"]
    return p.assign(kind="keep_promise")


def _employer_state(c: _Context) -> pd.DataFrame:
    """Per open application without an offer: its latest interview, the latest date
    the employer gave (at the interview or in a later message), and what has been
    said and sent since."""
    s = c.s
    li = c.last_interview[~c.last_interview["has_offer"] & c.last_interview["status"].eq("active")].copy()
    li["final"] = li["final_round"].fillna(False).astype(bool)
    rec = c.employer_received.merge(li[["application_id", "held_on"]], on="application_id", how="inner")
    # A received message that names a new date moves the date (guidance 4).
    moves = rec[rec["next_step_by"].notna() & (rec["on"] >= rec["held_on"])].sort_values(
        ["application_id", "on", "next_step_by", "message_id"], kind="stable"
    )
    moves = moves.drop_duplicates("application_id", keep="last").set_index("application_id")
    li["moved_on"] = _lookup(li["application_id"], moves["on"])
    li["their_date"] = _lookup(li["application_id"], moves["next_step_by"]).where(
        li["moved_on"].notna(), li["next_step_by"]
    )
    li["date_given_on"] = li["moved_on"].where(li["moved_on"].notna(), li["held_on"])
    li["their_date"] = pd.to_datetime(li["their_date"])
    li["date_given_on"] = pd.to_datetime(li["date_given_on"])
    # Any word from the employer after the interview, and after the date was given.
    after = rec[rec["on"] > rec["held_on"]]
    li["last_received"] = _lookup(li["application_id"], _group_max(after, "application_id", "on", "x"))
    r2 = rec.merge(li[["application_id", "date_given_on"]], on="application_id")
    r2 = r2[r2["on"] > r2["date_given_on"]]
    li["word_since_date"] = _lookup(li["application_id"], _group_max(r2, "application_id", "on", "x"))
    li["last_contact"] = _lookup(li["application_id"], c.last_contact)
    # A date is pending while it was given and nothing has been heard since.
    li["date_pending"] = li["their_date"].notna() & li["word_since_date"].isna()
    # The silence the status inquiry answers: from the date (pending) or from the last word.
    li["silence_from"] = li["their_date"].where(li["date_pending"], latest(li["held_on"], li["last_received"]))
    inq = c.employer_sent[c.employer_sent["kind"].eq("status_inquiry")].merge(
        li[["application_id", "silence_from"]], on="application_id"
    )
    inq = inq[inq["on"] >= inq["silence_from"]]
    counts = inq.groupby("application_id")["on"].agg(["count", "max"])
    li["n_inquiries"] = _lookup(li["application_id"], counts["count"]).fillna(0).astype(int)
    li["last_inquiry"] = _lookup(li["application_id"], counts["max"])
    checkins = c.employer_sent[c.employer_sent["kind"].eq("offer_checkin")]
    # max_checkins counts over the application's whole life (a second final round does not restart it).
    li["n_checkins"] = _lookup(li["application_id"], checkins.groupby("application_id").size()).fillna(0).astype(int)
    li["gap_until"] = c.business_days(li["last_contact"], s.pester_gap_business_days, li["application_id"])
    # An invitation to a further round since the latest interview: the silence
    # rules wait for that interview to be recorded.
    invited = _lookup(li["application_id"], c.invited_on)
    li["invited"] = invited.notna() & (invited >= li["held_on"])
    return li


def _status_inquiries(c: _Context, s: Settings, li: pd.DataFrame) -> pd.DataFrame:
    """Guidance 4: the employer's date has passed, or (after a non-final round) no
    date was given and the silence has lasted."""
    after_date = li["date_pending"]
    silent = ~li["date_pending"] & ~li["final"]
    limit = np.where(li["final"], 1, s.max_status_inquiries)  # after a final round, check-ins take over
    q = li[(after_date | silent) & (li["n_inquiries"] < limit) & ~li["invited"]].copy()
    grace = c.business_days(q["their_date"], s.grace_business_days, q["application_id"])
    quiet = c.business_days(q["silence_from"], s.no_date_followup_business_days, q["application_id"])
    first = grace.where(q["date_pending"], quiet)
    again = add_days(q["last_inquiry"], s.status_inquiry_repeat_days)
    due = first.where(q["n_inquiries"].eq(0), again)
    q["due_on"] = latest(due, q["gap_until"])
    q = c.with_contact(q)
    today = fmt_day(pd.Series(c.as_of, index=q.index), c.as_of)
    moved = q["moved_on"].notna()
    said = np.where(
        moved,
        q["company"]
        + " moved the date: they said on "
        + fmt_day(q["moved_on"], c.as_of)
        + " you would hear by "
        + fmt_day(q["their_date"], c.as_of),
        q["company"] + " said you would hear by " + fmt_day(q["their_date"], c.as_of),
    )
    no_date = q["company"] + np.where(
        q["last_received"].notna(),
        " last wrote on " + fmt_day(q["last_received"], c.as_of) + " without a date",
        " gave no date at your interview on " + fmt_day(q["held_on"], c.as_of),
    )
    ask = ". Ask where the process stands" + np.where(q["n_inquiries"] > 0, " once more.", ".")
    q["why"] = np.where(
        q["date_pending"],
        np.where(
            q["due_on"] <= c.as_of,
            said
            + "; it is now "
            + today
            + " with no word since"
            + np.where(moved, "", " your interview on " + fmt_day(q["held_on"], c.as_of))
            + ask,
            said + "; if no word comes, ask where things stand on " + fmt_day(q["due_on"], c.as_of) + ".",
        ),
        np.where(
            q["due_on"] <= c.as_of,
            no_date + " and has been silent since" + ask,
            no_date + "; if the silence lasts, ask where things stand on " + fmt_day(q["due_on"], c.as_of) + ".",
        ),
    )
    # The interview's own date keeps the first release's id ("I1:1"); a moved date or
    # a silence names its day, so a new round of inquiries never reuses a sent id.
    anchor = q["their_date"].where(q["date_pending"], q["silence_from"])
    own_date = q["date_pending"] & q["moved_on"].isna()
    q["employer_date"] = q["their_date"].where(q["date_pending"])
    q["attempt"] = q["n_inquiries"] + 1
    q["attempts_max"] = np.where(q["final"], 1, s.max_status_inquiries)
    q["detail"] = (
        q["interview_id"]
        + pd.Series(np.where(own_date, "", ACTION_ID_SEPARATOR + anchor.dt.strftime("%Y-%m-%d")), index=q.index)
        + ACTION_ID_SEPARATOR
        + (q["n_inquiries"] + 1).astype(str)
    )
    return q.assign(kind="status_inquiry")


def _offer_checkins(c: _Context, s: Settings, li: pd.DataFrame) -> pd.DataFrame:
    """Guidance 5: waiting on a decision after the last round."""
    inquiry_pending = li["date_pending"] & li["n_inquiries"].eq(0)
    k = li[li["final"] & ~inquiry_pending & (li["n_checkins"] < s.max_checkins) & ~li["invited"]].copy()
    anchor = latest(k["held_on"], k["last_received"], k["last_contact"])
    due = add_days(anchor, s.checkin_every_days)
    their_date = c.business_days(k["their_date"], s.grace_business_days, k["application_id"])
    k["due_on"] = latest(due, k["gap_until"], their_date)
    k = c.with_contact(k)
    n = k["n_checkins"]
    k["why"] = (
        "Your final round with "
        + k["company"]
        + " was on "
        + fmt_day(k["held_on"], c.as_of)
        + " and the decision is pending"
        + pd.Series(
            np.where(
                k["last_contact"].notna() & (k["last_contact"] >= k["held_on"]),
                "; you were last in touch on "
                + fmt_day(k["last_contact"], c.as_of)
                + np.where(n.eq(0), "", " (" + n.astype(str) + " of " + str(s.max_checkins) + " check-ins sent)"),
                np.where(
                    n.eq(0),
                    "; no check-in yet",
                    "; " + n.astype(str) + " of " + str(s.max_checkins) + " check-ins sent",
                ),
            ),
            index=k.index,
        )
        + np.where(
            k["channel"].eq("phone"),
            ". A brief call: acknowledge they are busy and offer anything else they need to decide.",
            ". A brief note: acknowledge they are busy and offer anything else they need to decide.",
        )
    )
    k["detail"] = k["interview_id"] + ACTION_ID_SEPARATOR + (n + 1).astype(str)
    k["attempt"] = n + 1
    k["attempts_max"] = s.max_checkins
    return k.assign(kind="offer_checkin")


def _reference_checkins(c: _Context, s: Settings, briefing: pd.DataFrame) -> pd.DataFrame:
    """Guidance 6: from the final round on, at most max_reference_checkins times."""
    ru = c.ref_uses
    ru = ru[ru["briefed_on"].notna() & ru["contacted_on"].isna()]
    ru = ru.merge(c.final_held, left_on="application_id", right_index=True, how="inner")
    # A reference about to be briefed again does not also need a check-in.
    pending = set(zip(briefing["reference_id"], briefing["application_id"], strict=True))
    if pending:
        keys = pd.Series(list(zip(ru["reference_id"], ru["application_id"], strict=True)), index=ru.index, dtype=object)
        ru = ru[~keys.isin(pending)]
    ru = ru.copy()
    # Check-ins already sent to this reference about this application.
    m = c.reference_messages[c.reference_messages["kind"].eq("reference_checkin")]
    # A first-release message names no reference: its action id does ("reference_checkin:APP:REF:…").
    from_action = action_detail_part(m["action_id"], 0)
    named = m["reference_id"].astype(object).where(m["reference_id"].notna(), from_action)
    key = named.astype(object) + "\x00" + m["application_id"].astype(str)
    counts = key.dropna().value_counts()
    ru["n_checkins"] = _lookup((ru["reference_id"] + "\x00" + ru["application_id"]), counts).fillna(0).astype(int)
    # A check-in recorded on the reference's row (a call logged there, or a first-
    # release file) counts too, unless a logged message already stands for it.
    last_msg = _lookup(
        ru["reference_id"] + "\x00" + ru["application_id"],
        pd.Series(m["on"].to_numpy(), index=key.to_numpy()).groupby(level=0).max()
        if len(m)
        else pd.Series(dtype="datetime64[ns]"),
    )
    recorded_only = ru["last_checkin_on"].notna() & (last_msg.isna() | (ru["last_checkin_on"] > last_msg))
    ru["n_checkins"] = ru["n_checkins"] + recorded_only.astype(int)
    ru = ru[ru["n_checkins"] < s.max_reference_checkins].copy()
    # The last time you spoke with them, about any application: a briefing, a
    # check-in, or any message logged with them (the drafts say the same).
    uses = c.all_ref_uses
    spoke = pd.concat(
        [
            uses[["reference_id", "briefed_on"]].set_axis(["reference_id", "on"], axis=1),
            uses[["reference_id", "last_checkin_on"]].set_axis(["reference_id", "on"], axis=1),
            c.messages.loc[c.messages["reference_id"].notna(), ["reference_id", "on"]],
        ],
        ignore_index=True,
    )
    spoke["on"] = pd.to_datetime(spoke["on"])
    spoke = spoke[spoke["on"].notna() & (spoke["on"] <= c.as_of)].groupby("reference_id")["on"].max()
    anchor = latest(ru["briefed_on"], ru["last_checkin_on"], _lookup(ru["reference_id"], spoke))
    ru["due_on"] = add_days(anchor, s.reference_checkin_every_days)
    ru = _reference_row(ru)
    ru["why"] = (
        "Ask "
        + ru["ref_name"]
        + " whether "
        + ru["company"]
        + " or a reference-checking firm has been in touch (you last spoke on "
        + fmt_day(anchor, c.as_of)
        + "). A call is a sign things are moving; silence is not bad news."
    )
    ru["detail"] = ru["reference_id"] + ACTION_ID_SEPARATOR + anchor.dt.strftime("%Y-%m-%d")
    ru["attempt"] = ru["n_checkins"] + 1
    ru["attempts_max"] = s.max_reference_checkins
    return ru.assign(kind="reference_checkin", contact_id=None)


def _deadline_state(c: _Context, s: Settings, o: pd.DataFrame) -> pd.DataFrame:
    """Per offer: its response deadline as it stands (moved by a later date the
    employer gave), whether the client asked for more time and is waiting for the
    answer, and whether the deadline is close or has passed."""
    deadline = pd.to_datetime(o["response_deadline"])
    waiting = o["extension_asked_on"].notna() & o["extension_answered_on"].isna()
    days_left = (deadline - c.as_of).dt.days
    minded = deadline.notna() & ~waiting
    return pd.DataFrame(
        {
            "deadline": deadline,
            "waiting": waiting,
            "close": minded & (days_left <= s.deadline_warning_days),
            "passed": minded & (days_left < 0),
        },
        index=o.index,
    )


def _deadline_words(o: pd.DataFrame, st: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    """What the why says of the deadline: asked for more time, moved, close or passed."""
    moved = o["deadline_moved_on"].notna() if "deadline_moved_on" in o else pd.Series(False, index=o.index)
    by = np.where(moved, " (the date they gave on " + fmt_day(o["deadline_moved_on"], as_of) + ")", "")
    return pd.Series(
        np.where(
            st["waiting"],
            " You asked for more time on " + fmt_day(o["extension_asked_on"], as_of) + "; waiting for their answer.",
            np.where(
                st["passed"],
                " The response deadline, " + fmt_day(st["deadline"], as_of) + by + ", has passed unanswered: "
                "call them today, or ask for more time.",
                np.where(
                    st["deadline"].notna(),
                    " They asked you to respond by " + fmt_day(st["deadline"], as_of) + by + ".",
                    "",
                ),
            ),
        ),
        index=o.index,
    )


def _written_offer_requests(c: _Context, s: Settings, o: pd.DataFrame) -> pd.DataFrame:
    """Guidance 7: a verbal offer is not an offer, even once the client said yes;
    a response deadline given with it is minded like a letter's."""
    w = o[o["verbal_on"].notna() & o["written_received_on"].isna() & o["approved_on"].isna()].copy()
    asked = w["written_requested_on"].notna()
    again = c.business_days(w["written_requested_on"], s.written_offer_followup_business_days, w["application_id"])
    w["due_on"] = w["verbal_on"].where(~asked, again)
    st = _deadline_state(c, s, w)
    # A yes already given answers the deadline; otherwise it is minded.
    open_answer = w["accepted_on"].isna()
    reminder = c.business_days(st["deadline"], -s.deadline_warning_days, w["application_id"])
    by_deadline = open_answer & st["deadline"].notna() & ~st["waiting"] & (reminder < w["due_on"])
    w["due_on"] = w["due_on"].where(~by_deadline, latest(reminder, w["verbal_on"]))
    w["why"] = pd.Series(
        np.where(
            asked,
            "You asked "
            + w["company"]
            + " for the offer in writing on "
            + fmt_day(w["written_requested_on"], c.as_of)
            + " and it has not arrived: ask again, warmly.",
            w["company"]
            + " made you a verbal offer on "
            + fmt_day(w["verbal_on"], c.as_of)
            + ". A verbal offer is not an offer: ask for it in writing now"
            + np.where(w["accepted_on"].notna(), ", even though you have said yes.", "."),
        ),
        index=w.index,
    ) + _deadline_words(w, st, c.as_of).where(open_answer, "")
    w["urgent"] = open_answer & st["close"]
    w["first"] = open_answer & st["passed"]
    w["detail"] = np.where(
        by_deadline,
        DEADLINE_REMINDER + ACTION_ID_SEPARATOR + st["deadline"].dt.strftime("%Y-%m-%d"),
        np.where(asked, "again:" + w["written_requested_on"].dt.strftime("%Y-%m-%d"), "first"),
    )
    return w.assign(kind="request_written_offer")


def _offer_letter_reviews(c: _Context, s: Settings, o: pd.DataFrame) -> pd.DataFrame:
    """Guidance 8: read the letter — even when the client already said yes to the
    verbal offer — flag missing terms, and mind the response deadline until the
    offer is accepted (even after a question about the letter went out). Once the
    client asked for more time, the reminder waits for the employer's answer."""
    accepted_letter = o["accepted_on"].notna() & (o["accepted_on"] >= o["written_received_on"])
    r = o[o["written_received_on"].notna() & ~accepted_letter & o["approved_on"].isna()].copy()
    sent = c.employer_sent[c.employer_sent["kind"].eq("review_offer_letter")]
    r["answered_on"] = _lookup(r["application_id"], _group_max(sent, "application_id", "on", "x"))
    answered = r["answered_on"].notna() & (r["answered_on"] >= r["written_received_on"])
    st = _deadline_state(c, s, r)
    # Answered letters stay listed only for their deadline, once it is close.
    keep = ~answered | st["close"]
    r, answered, st = r[keep].copy(), answered[keep], st[keep]
    deadline, close, passed = st["deadline"], st["close"], st["passed"]
    missing = missing_offer_terms(r)
    reminder = c.business_days(deadline, -s.deadline_warning_days, r["application_id"])
    r["due_on"] = r["written_received_on"].where(~answered, reminder)
    r["due_on"] = r["due_on"].where(~passed, latest(r["due_on"], deadline))
    said_yes = r["accepted_on"].notna()
    letter = (
        "The written offer from "
        + r["company"]
        + " came on "
        + fmt_day(r["written_received_on"], c.as_of)
        + pd.Series(
            np.where(said_yes, ", after you said yes to the verbal offer on " + fmt_day(r["accepted_on"], c.as_of), ""),
            index=r.index,
        )
        + ". "
        + np.where(
            missing.eq(""),
            "It states every term we look for; check each against what was said",
            "It does not state: " + missing + " — ask before you " + np.where(said_yes, "sign", "answer"),
        )
        + "."
    )
    reminder_words = (
        "You wrote to "
        + r["company"]
        + " about their offer letter on "
        + fmt_day(r["answered_on"], c.as_of)
        + "; the response deadline is "
        + fmt_day(deadline, c.as_of)
        + ": decide, or ask for a few more days before it passes."
    )
    gone = (
        "The response deadline for "
        + possessive(r["company"])
        + " offer was "
        + fmt_day(deadline, c.as_of)
        + " and has passed unanswered: call them today, or ask for more time."
    )
    deadline_words = _deadline_words(r, st, c.as_of)
    r["why"] = np.where(passed, gone, np.where(answered, reminder_words, letter + deadline_words.where(~passed, "")))
    r["urgent"] = close
    r["first"] = passed  # the most urgent of all
    r["detail"] = np.where(
        answered, "deadline:" + deadline.dt.strftime("%Y-%m-%d"), r["written_received_on"].dt.strftime("%Y-%m-%d")
    )
    return r.assign(kind="review_offer_letter")


def _approvals(c: _Context, o: pd.DataFrame) -> pd.DataFrame:
    """Guidance 9: until it is approved, keep the other applications warm."""
    a = o[o["accepted_on"].notna() & o["approved_on"].isna()].copy()
    others = c.open_apps.groupby("coachee_id").size().rename("n_open")
    a = a.merge(others, left_on="coachee_id", right_index=True, how="left")
    n = a["n_open"].fillna(1).astype(int) - 1
    a["due_on"] = a["accepted_on"]
    a["recipient"] = a["coachee_name"]
    a["recipient_email"] = None
    a["recipient_phone"] = None
    a["channel"] = "email"
    a["contact_id"] = None
    a["why"] = (
        "You accepted "
        + possessive(a["company"])
        + " offer on "
        + fmt_day(a["accepted_on"], c.as_of)
        + "; until it is approved it can still, rarely, be withdrawn: "
        + np.where(
            n.eq(0),
            "no other application is open",
            "keep your " + _plural(n, "other application", "other applications") + " warm",
        )
        + "."
    )
    a["detail"] = a["accepted_on"].dt.strftime("%Y-%m-%d")
    return a.assign(kind="await_approval")


def _withdrawals(c: _Context) -> pd.DataFrame:
    """Guidance 9: once an offer is approved, withdraw courteously from every other
    open application (one note to its point of contact)."""
    w = c.withdrawing.merge(c.approved_by_coachee, left_on="coachee_id", right_index=True, how="inner")
    w = c.with_contact(w)
    w["due_on"] = w["approved_on"]
    w["why"] = (
        "Your offer from "
        + w["approved_company"]
        + " was approved on "
        + fmt_day(w["approved_on"], c.as_of)
        + ": withdraw courteously from "
        + w["company"]
        + " ("
        + _text(w["role"])
        + ") so they can move on, thank them and leave the door open."
    )
    w["detail"] = w["approved_app"]
    return w.assign(kind="withdraw_application")


_OUTCOMES = {
    "rejected": "they decided not to go ahead",
    "withdrawn": "you withdrew",
    "hired": "you got the job",
    "approved": "you got the job",
    "rescinded": "they withdrew their offer",
}
#: Why the client withdrew, in words a reference can hear (applications.closed_reason).
WITHDRAWAL_REASONS = {
    "another_offer": "you withdrew, having accepted another offer",
    "not_a_fit": "you withdrew: the role was not the right fit",
    "relocation": "you withdrew: the role meant relocating",
    "compensation": "you withdrew: the pay did not work out",
    "timing": "you withdrew: the timing did not work out",
    "other": "you withdrew",
}


def _close_the_loop(c: _Context) -> pd.DataFrame:
    """Guidance 10: when an application ends, thank each reference and tell them how."""
    closed = c.closed_apps
    ru = c.all_ref_uses[c.all_ref_uses["thanked_on"].isna()].merge(closed, on="application_id", how="inner")
    ru = ru.merge(
        c.approved_by_coachee[["approved_app", "approved_on"]],
        left_on="application_id",
        right_on="approved_app",
        how="left",
    )
    # When it ended: closed_on, else the approval, else the last thing that happened (a first-release file).
    msgs = _group_max(c.messages, "application_id", "on", "x")
    ivs = _group_max(c.all_interviews, "application_id", "held_on", "x")
    last_event = latest(_lookup(ru["application_id"], msgs), _lookup(ru["application_id"], ivs))
    ended = ru["closed_on"].where(ru["closed_on"].notna(), ru["approved_on"])
    ended = ended.where(ended.notna(), last_event)
    ru["due_on"] = ended.where(ended.notna(), c.as_of)
    status = ru["status"].where(ru["approved_app"].isna(), "approved")
    status = status.where(ru["rescinded_on"].isna(), "rescinded")
    # How it ended, only from what is recorded: a reason is never guessed.
    outcome = status.map(_OUTCOMES).fillna("the process has ended")
    # A withdrawal after an offer elsewhere was approved: that approval is recorded.
    elsewhere = ru["coachee_id"].isin(c.approved_by_coachee.index) & ru["approved_app"].isna()
    reason = ru["closed_reason"].where(ru["closed_reason"].notna() | ~elsewhere, "another_offer")
    reason = reason.map(WITHDRAWAL_REASONS)
    outcome = outcome.where(~(status.eq("withdrawn") & reason.notna()), reason)
    ru = _reference_row(ru)
    ru["why"] = (
        "Your application to "
        + ru["company"]
        + " has ended ("
        + outcome
        + "): thank "
        + ru["ref_name"]
        + " for vouching for you and tell them how it ended. References who hear back stay willing."
    )
    ru["detail"] = ru["reference_id"]
    return ru.assign(kind="close_the_loop", contact_id=None)


# ------------------------------------------------------------------ assembly


def action_uid(action_id: str) -> str:
    """A stable calendar UID for an action id."""
    return hashlib.sha1(action_id.encode("utf-8")).hexdigest()[:20] + "@followup-workbook"


def _due_for_group(tables: Mapping[str, pd.DataFrame], as_of: pd.Timestamp, s: Settings) -> pd.DataFrame:
    c = _Context(tables, as_of, s)
    li = _employer_state(c)
    offers = c.offers
    briefing = _brief_references(c, s)
    parts = [
        _thank_you_notes(c, s),
        briefing,
        _promises(c, s, c.tables["promises"]),
        _status_inquiries(c, s, li),
        _offer_checkins(c, s, li),
        _reference_checkins(c, s, briefing),
        _written_offer_requests(c, s, c.with_contact(offers)),
        _offer_letter_reviews(c, s, c.with_contact(offers)),
        _approvals(c, offers),
        _withdrawals(c),
        _close_the_loop(c),
    ]
    parts = [p for p in parts if len(p)]
    if not parts:
        return _empty_actions()
    keep = ACTION_COLUMNS + ["detail", "urgent", "first"]
    # A column no rule of a part filled (all missing) says nothing of its type:
    # left out of each part, the columns keep the types of the parts that have them.
    df = pd.concat([p.reindex(columns=keep).dropna(axis=1, how="all") for p in parts], ignore_index=True)
    df = df.reindex(columns=keep)
    df = df[df["due_on"] <= as_of + pd.Timedelta(days=s.upcoming_days)].copy()
    df["action_id"] = (
        df["kind"] + ACTION_ID_SEPARATOR + df["application_id"] + ACTION_ID_SEPARATOR + df["detail"].astype(str)
    )
    standing = df["kind"].eq("await_approval")
    df["status"] = np.where(
        df["due_on"] > as_of, "upcoming", np.where((df["due_on"] == as_of) | standing, "due", "overdue")
    )
    base = df["kind"].map(BASE_PRIORITY).astype(int)
    base = base.where(~df["urgent"].eq(True), 1)
    df["priority"] = np.where(df["status"].eq("upcoming"), base + UPCOMING_PRIORITY_OFFSET, base)
    df["_first"] = np.where(df["first"].eq(True), 0, 1)
    df = _again_after_bounce(c, df)
    df = _one_employer_message_a_day(c, s, df)
    return df[ACTION_COLUMNS + ["_first"]]


def _again_after_bounce(c: _Context, df: pd.DataFrame) -> pd.DataFrame:
    """An action whose message bounced is due again, under its own id (so the new
    message is logged beside the one that never arrived), and its why says so."""
    if not len(c.bounced) or df.empty:
        return df
    bounced_on = _lookup(df["action_id"], c.bounced)
    hit = bounced_on.notna()
    if not hit.any():
        return df
    df = df.copy()
    df.loc[hit, "why"] = (
        "Your message to "
        + df.loc[hit, "recipient"].astype(str)
        + " did not arrive (it came back on "
        + fmt_day(bounced_on[hit], c.as_of)
        + "): check the address and send it again. "
        + df.loc[hit, "why"]
    )
    df.loc[hit, "action_id"] = df.loc[hit, "action_id"].map(again_id)
    df.loc[hit, "status"] = np.where(df.loc[hit, "due_on"] > c.as_of, "upcoming", "overdue")
    return df


# Kinds that wait for the employer's cadence when they give way to another message
# (guidance 5: never two employer contacts within the gap); the rest wait a day.
_CADENCE_KINDS = ("status_inquiry", "offer_checkin")
_EMPLOYER_MESSAGES = tuple(k for k, v in KINDS.items() if v.audience == "employer" and v.needs_message)


def _one_employer_message_a_day(c: _Context, s: Settings, df: pd.DataFrame) -> pd.DataFrame:
    """One employer, one contact a day: of the messages due today to one
    application's people, the most urgent person's go today (all their actions
    make one draft); the others wait for the next day the cadence allows. The
    thank-you notes to each person met are the exception: they all go."""
    today = df["due_on"].le(c.as_of) & df["kind"].isin(_EMPLOYER_MESSAGES)
    if today.sum() < 2:
        return df
    who = df["contact_id"].astype(object).where(df["contact_id"].notna(), df["recipient"].astype(str).str.lower())
    order = df.assign(_who=who, _s=df["status"].map(STATUS_ORDER))[today].sort_values(
        ["priority", "_first", "_s", "due_on", "action_id"], kind="stable"
    )
    first = order.drop_duplicates("application_id").set_index("application_id")
    winner = _lookup(df["application_id"], first["_who"])
    winner_name = _lookup(df["application_id"], first["recipient"])
    waits = today & winner.notna() & who.ne(winner) & df["kind"].ne("thank_you_note")
    if not waits.any():
        return df
    df = df.copy()
    w = df[waits]
    gap = np.where(w["kind"].isin(_CADENCE_KINDS), s.pester_gap_business_days, 1)
    nxt = pd.Series(pd.NaT, index=w.index, dtype="datetime64[ns]")
    for n in np.unique(gap):
        on = gap == n
        nxt[on] = c.business_days(pd.Series(c.as_of, index=w.index[on]), int(n), w.loc[on, "application_id"])
    df.loc[waits, "due_on"] = nxt
    df.loc[waits, "status"] = "upcoming"
    df.loc[waits, "priority"] = df.loc[waits, "priority"] + UPCOMING_PRIORITY_OFFSET
    # A status inquiry or check-in also keeps its distance from any message to them
    # (guidance 5): that, not the one-a-day rule alone, is why it waits longer.
    spaced = pd.Series(
        np.where(
            gap > 1,
            "; a "
            + w["kind"].map(ACTION_LABELS).str.lower()
            + f" then waits {s.pester_gap_business_days} business days after a message to them",
            "",
        ),
        index=w.index,
    )
    df.loc[waits, "why"] = (
        w["why"]
        + " It waits until "
        + fmt_day(nxt, c.as_of)
        + ": "
        + w["company"]
        + " gets one message a day, and today's goes to "
        + winner_name[waits].astype(str)
        + spaced
        + "."
    )
    return df


def offers_as_they_stand(tables: Mapping[str, pd.DataFrame], as_of) -> pd.DataFrame:
    """The offers not rescinded by ``as_of``, as the rules see them: the response
    deadline moved by a later date the employer gave (``deadline_moved_on``), and
    ``extension_asked_on`` / ``extension_answered_on`` (the client asked for more
    time; the employer's word since). For the words that speak of offers outside
    the rules (the weekly report), from the same facts."""
    return _Context(tables, _day(as_of), Settings()).live_offers


def due_actions(
    tables: Mapping[str, pd.DataFrame],
    as_of,
    settings: Settings | None = None,
    coach_settings: Mapping[str, Settings] | None = None,
) -> pd.DataFrame:
    """Every follow-up action for the coachees in ``tables``, most urgent first.

    ``tables`` are typed frames as ``Store.load`` returns them (a first-release
    set without ``contacts``/``interview_contacts`` works too); ``as_of`` is the
    day to judge from (a date or ISO string); ``settings`` are the defaults and
    ``coach_settings`` the overrides by coach name. Returns a DataFrame with
    ACTION_COLUMNS: status is upcoming, due or overdue; priority 1 is the most
    urgent; ``why`` is a sentence a coachee can read.
    """
    as_of = _day(as_of)
    settings = settings or Settings()
    coach_settings = dict(coach_settings or {})
    coachees = tables["coachees"]
    groups: dict[Settings, list[str]] = {}
    if coach_settings:
        per = coachees["coach"].map(lambda name: coach_settings.get(name, settings))
        groups = {s_: list(ids) for s_, ids in coachees["coachee_id"].groupby(per, sort=False)}
    if len(groups) <= 1:
        result = _due_for_group(tables, as_of, next(iter(groups), settings))
    else:
        parts = [_due_for_group(_only(tables, ids), as_of, s_) for s_, ids in groups.items()]
        result = pd.concat(parts, ignore_index=True)
    result["_s"] = result["status"].map(STATUS_ORDER)
    result = result.sort_values(["priority", "_first", "_s", "due_on", "coachee_id", "action_id"], kind="stable")
    result = result.drop(columns=["_s", "_first"]).reset_index(drop=True)
    # Missing values as None (not NaN or NaT), so an action read back as a dict
    # compares equal to itself; whole numbers stay whole.
    for col in ("attempt", "attempts_max"):
        result[col] = pd.array(pd.to_numeric(result[col]), dtype="Int64")
    for col in result.columns:
        if col not in ("due_on", "priority"):
            result[col] = result[col].astype(object).where(result[col].notna(), None)
    return result


def _only(tables: Mapping[str, pd.DataFrame], coachee_ids: list[str]) -> dict[str, pd.DataFrame]:
    apps = tables["applications"]
    app_ids = set(apps.loc[apps["coachee_id"].isin(coachee_ids), "application_id"])
    iv_ids = set(tables["interviews"].loc[tables["interviews"]["application_id"].isin(app_ids), "interview_id"])
    out = {}
    for name, df in tables.items():
        if "coachee_id" in df:
            out[name] = df[df["coachee_id"].isin(coachee_ids)]
        elif "application_id" in df:
            out[name] = df[df["application_id"].isin(app_ids)]
        elif "interview_id" in df:
            out[name] = df[df["interview_id"].isin(iv_ids)]
        else:
            out[name] = df
    return out
