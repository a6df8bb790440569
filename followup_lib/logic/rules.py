"""What is due, and why: the coaching guidance as pure functions of the tables.

``due_actions(tables, as_of, settings)`` takes the typed tables (``Store.load``),
the day to judge from and the settings, and returns one row per action. Nothing
here reads the store, the clock or a widget, and every rule works on whole
columns at once (no Python loop over rows), so the whole practice costs about
what one coachee does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..kinds import ACTION_KINDS, ACTION_LABELS, BASE_PRIORITY, MESSAGE_KINDS, UPCOMING_PRIORITY_OFFSET  # noqa: F401
from ..schema import CLOSED_STATUSES, EMPLOYER_CONTACT_KINDS, OFFER_TERMS
from ..settings import Settings

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
]


# ------------------------------------------------------------------ helpers


def _day(value) -> pd.Timestamp:
    return pd.Timestamp(value).normalize()


def add_business_days(dates: pd.Series, n) -> pd.Series:
    """``dates`` moved ``n`` business days on (weekends skipped); NaT stays NaT.

    Business days are counted after the date itself, so Friday + 2 and Saturday + 2
    are both Tuesday; ``n = 0`` leaves the date as it is.
    """
    d = pd.to_datetime(dates).to_numpy().astype("datetime64[D]")
    n = np.broadcast_to(np.asarray(n, dtype=np.int64), d.shape)
    # roll="backward" treats a weekend day as the Friday before it, so the count
    # starts at the next Monday (roll="forward" would lose a day: Sat + 2 = Wed).
    out = np.where(n == 0, d, np.busday_offset(d, n, roll="backward"))
    return pd.Series(out.astype("datetime64[ns]"), index=dates.index)


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
    return days.map(dict(zip(unique, labels))).astype(object).where(d.notna(), "")


def _text(s: pd.Series, default: str = "") -> pd.Series:
    return s.astype(object).where(s.notna() & s.astype(str).str.strip().ne(""), default).astype(str)


def _contact_channel(preferred: pd.Series, email: pd.Series, phone: pd.Series) -> pd.Series:
    """The interviewer's stated preference, else whatever contact detail we have."""
    fallback = np.where(email.notna(), "email", np.where(phone.notna(), "phone", "email"))
    return preferred.astype(object).where(preferred.notna(), pd.Series(fallback, index=preferred.index))


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
    return pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c == "due_on" else object) for c in ACTION_COLUMNS})


class _Context:
    """The joins every rule needs, computed once per call."""

    def __init__(self, tables: Mapping[str, pd.DataFrame], as_of: pd.Timestamp):
        self.as_of = as_of
        coachees = tables["coachees"][["coachee_id", "name"]].rename(columns={"name": "coachee_name"})
        apps = tables["applications"].merge(coachees, on="coachee_id", how="left")
        self.apps = apps
        self.open_apps = apps[~apps["status"].isin(CLOSED_STATUSES)][
            ["application_id", "coachee_id", "coachee_name", "company", "role", "status"]
        ]
        iv = tables["interviews"]
        iv = iv[iv["held_on"].notna() & (iv["held_on"] <= as_of)]
        self.interviews = iv.merge(self.open_apps, on="application_id", how="inner")
        # The latest interview held so far, per open application: the one whose
        # promises (next_step_by, final_round) are in force.
        self.last_interview = latest_interviews(self.interviews)

        msgs = tables["messages"]
        msgs = msgs[msgs["on"].notna() & (msgs["on"] <= as_of)]
        self.messages = msgs
        lastiv = self.last_interview[["application_id", "held_on", "next_step_by"]]
        m = msgs.merge(lastiv, on="application_id", how="inner")
        # Any word from the employer after the latest interview.
        received = m[(m["direction"] == "received") & (m["on"] > m["held_on"])]
        self.last_received = received.groupby("application_id")["on"].max().rename("last_received")
        contacts = m[(m["direction"] == "sent") & m["kind"].isin(EMPLOYER_CONTACT_KINDS) & (m["on"] >= m["held_on"])]
        self.last_contact = contacts.groupby("application_id")["on"].max().rename("last_contact")
        inquiries = contacts[
            (contacts["kind"] == "status_inquiry")
            & contacts["next_step_by"].notna()
            & (contacts["on"] >= contacts["next_step_by"])
        ]
        self.inquiries = (
            inquiries.groupby("application_id")["on"]
            .agg(["count", "max"])
            .rename(columns={"count": "n_inquiries", "max": "last_inquiry"})
        )
        checkins = contacts[contacts["kind"] == "offer_checkin"]
        self.checkins = checkins.groupby("application_id")["on"].agg(["count"]).rename(columns={"count": "n_checkins"})

        refs = tables["references"][["reference_id", "name", "email", "phone"]].rename(
            columns={"name": "ref_name", "email": "ref_email", "phone": "ref_phone"}
        )
        self.ref_uses = (
            tables["reference_uses"]
            .merge(refs, on="reference_id", how="inner")
            .merge(self.open_apps, on="application_id", how="inner")
        )
        self.offers = tables["offers"].merge(self.open_apps, on="application_id", how="inner")

    def with_contact(self, df: pd.DataFrame) -> pd.DataFrame:
        """Adds the application's latest interviewer as the employer contact."""
        cols = [
            "application_id",
            "interview_id",
            "interviewer_name",
            "interviewer_email",
            "interviewer_phone",
            "preferred_channel",
        ]
        out = df.merge(
            self.last_interview[cols].rename(columns={"interview_id": "contact_interview_id"}),
            on="application_id",
            how="left",
        )
        out["recipient"] = _text(out["interviewer_name"], "").where(
            out["interviewer_name"].notna(), "your contact at " + _text(out["company"])
        )
        out["recipient_email"] = out["interviewer_email"]
        out["recipient_phone"] = out["interviewer_phone"]
        out["channel"] = _contact_channel(out["preferred_channel"], out["interviewer_email"], out["interviewer_phone"])
        return out


# ------------------------------------------------------------------ the rules


def _thank_you_notes(c: _Context, s: Settings) -> pd.DataFrame:
    iv = c.interviews[c.interviews["thank_you_sent_on"].isna()].copy()
    iv["due_on"] = add_days(iv["held_on"], s.thank_you_within_days)
    iv["recipient"] = _text(iv["interviewer_name"], "").where(
        iv["interviewer_name"].notna(), "your interviewer at " + _text(iv["company"])
    )
    iv["recipient_email"] = iv["interviewer_email"]
    iv["recipient_phone"] = iv["interviewer_phone"]
    iv["channel"] = _contact_channel(iv["preferred_channel"], iv["interviewer_email"], iv["interviewer_phone"])
    iv["why"] = (
        "You interviewed with "
        + iv["recipient"]
        + " at "
        + iv["company"]
        + " on "
        + fmt_day(iv["held_on"], c.as_of)
        + "; a short thank-you is due within "
        + str(s.thank_you_within_days)
        + (" day" if s.thank_you_within_days == 1 else " days")
        + ", by "
        + fmt_day(iv["due_on"], c.as_of)
        + "."
    )
    iv["detail"] = iv["interview_id"]
    return iv.assign(kind="thank_you_note")


def _brief_references(c: _Context, s: Settings) -> pd.DataFrame:
    last = c.last_interview[
        ["application_id", "interview_id", "held_on", "thank_you_sent_on", "interviewer_name", "topics"]
    ]
    ru = c.ref_uses.merge(last, on="application_id", how="inner")
    ru = ru[ru["briefed_on"].isna() | (ru["briefed_on"] < ru["held_on"])].copy()
    # As soon as the thank-you is out (or when it is due, if it is not out yet).
    ru["due_on"] = ru["thank_you_sent_on"].where(
        ru["thank_you_sent_on"].notna(), add_days(ru["held_on"], s.thank_you_within_days)
    )
    ru["recipient"] = ru["ref_name"]
    ru["recipient_email"] = ru["ref_email"]
    ru["recipient_phone"] = ru["ref_phone"]
    ru["channel"] = np.where(ru["ref_email"].notna() | ru["ref_phone"].isna(), "email", "phone")
    topics = _text(ru["topics"])
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
    ru["detail"] = ru["reference_id"] + ":" + ru["interview_id"]
    return ru.assign(kind="brief_references")


def _promises(c: _Context, s: Settings, promises: pd.DataFrame) -> pd.DataFrame:
    p = promises[promises["done_on"].isna()].merge(c.open_apps, on="application_id", how="inner")
    p = c.with_contact(p)
    p["why"] = (
        "You promised "
        + p["recipient"]
        + " at "
        + p["company"]
        + " "
        + _text(p["what"])
        + " by "
        + fmt_day(p["due_on"], c.as_of)
        + ". Keep it: interviewers watch whether candidates follow through."
    )
    p["interview_id"] = p["contact_interview_id"]
    p["detail"] = p["promise_id"]
    return p.assign(kind="keep_promise")


def _employer_state(c: _Context) -> pd.DataFrame:
    li = c.last_interview.merge(c.last_received, left_on="application_id", right_index=True, how="left")
    li = li.merge(c.last_contact, left_on="application_id", right_index=True, how="left")
    li = li.merge(c.inquiries, left_on="application_id", right_index=True, how="left")
    li = li.merge(c.checkins, left_on="application_id", right_index=True, how="left")
    li["n_inquiries"] = li["n_inquiries"].fillna(0).astype(int)
    li["n_checkins"] = li["n_checkins"].fillna(0).astype(int)
    return li[li["status"] == "active"]


def _status_inquiries(c: _Context, s: Settings, li: pd.DataFrame) -> pd.DataFrame:
    final = li["final_round"].fillna(False).astype(bool)
    limit = np.where(final, 1, s.max_status_inquiries)  # after a final round, check-ins take over
    q = li[li["next_step_by"].notna() & li["last_received"].isna() & (li["n_inquiries"] < limit)].copy()
    first = add_business_days(q["next_step_by"], s.grace_business_days)
    again = add_days(q["last_inquiry"], s.status_inquiry_repeat_days)
    due = first.where(q["n_inquiries"].eq(0), again)
    gap = add_business_days(q["last_contact"], s.pester_gap_business_days)
    q["due_on"] = latest(due, gap)
    q = c.with_contact(
        q.drop(columns=["interviewer_name", "interviewer_email", "interviewer_phone", "preferred_channel"])
    )
    said = q["company"] + " said you would hear by " + fmt_day(q["next_step_by"], c.as_of)
    q["why"] = np.where(
        q["due_on"] <= c.as_of,
        said
        + "; it is now "
        + fmt_day(pd.Series(c.as_of, index=q.index), c.as_of)
        + " with no word since your interview on "
        + fmt_day(q["held_on"], c.as_of)
        + ". Ask where the process stands"
        + np.where(q["n_inquiries"] > 0, " once more.", "."),
        said + "; if no word comes, ask where things stand on " + fmt_day(q["due_on"], c.as_of) + ".",
    )
    q["detail"] = q["interview_id"] + ":" + (q["n_inquiries"] + 1).astype(str)
    return q.assign(kind="status_inquiry")


def _offer_checkins(c: _Context, s: Settings, li: pd.DataFrame) -> pd.DataFrame:
    final = li["final_round"].fillna(False).astype(bool)
    inquiry_pending = li["next_step_by"].notna() & li["last_received"].isna() & li["n_inquiries"].eq(0)
    k = li[final & ~inquiry_pending & (li["n_checkins"] < s.max_checkins)].copy()
    anchor = latest(k["held_on"], k["last_received"], k["last_contact"])
    due = add_days(anchor, s.checkin_every_days)
    gap = add_business_days(k["last_contact"], s.pester_gap_business_days)
    their_date = add_business_days(k["next_step_by"], s.grace_business_days)
    k["due_on"] = latest(due, gap, their_date)
    k = c.with_contact(
        k.drop(columns=["interviewer_name", "interviewer_email", "interviewer_phone", "preferred_channel"])
    )
    n = k["n_checkins"]
    k["why"] = (
        "Your final round with "
        + k["company"]
        + " was on "
        + fmt_day(k["held_on"], c.as_of)
        + " and the decision is pending; "
        + np.where(n.eq(0), "no check-in yet", n.astype(str) + " of " + str(s.max_checkins) + " check-ins sent")
        + ". A brief note: acknowledge they are busy and offer anything else they need to decide."
    )
    k["detail"] = k["interview_id"] + ":" + (n + 1).astype(str)
    return k.assign(kind="offer_checkin")


def _reference_checkins(c: _Context, s: Settings, briefing: pd.DataFrame) -> pd.DataFrame:
    ru = c.ref_uses
    ru = ru[ru["briefed_on"].notna() & ru["contacted_on"].isna() & ru["status"].isin(["active", "offer"])]
    # A reference about to be briefed again does not also need a check-in.
    pending = set(zip(briefing["reference_id"], briefing["application_id"]))
    if pending:
        keys = pd.Series(list(zip(ru["reference_id"], ru["application_id"])), index=ru.index, dtype=object)
        ru = ru[~keys.isin(pending)]
    ru = ru.copy()
    anchor = latest(ru["briefed_on"], ru["last_checkin_on"])
    ru["due_on"] = add_days(anchor, s.reference_checkin_every_days)
    ru["recipient"] = ru["ref_name"]
    ru["recipient_email"] = ru["ref_email"]
    ru["recipient_phone"] = ru["ref_phone"]
    ru["channel"] = np.where(ru["ref_email"].notna() | ru["ref_phone"].isna(), "email", "phone")
    ru["why"] = (
        "Ask "
        + ru["ref_name"]
        + " whether "
        + ru["company"]
        + " or a reference-checking firm has been in touch (you last spoke on "
        + fmt_day(anchor, c.as_of)
        + "). A call is a sign things are moving; silence is not bad news."
    )
    ru["detail"] = ru["reference_id"] + ":" + anchor.dt.strftime("%Y-%m-%d")
    return ru.assign(kind="reference_checkin")


def _offer_rows(c: _Context) -> pd.DataFrame:
    o = c.with_contact(c.offers[c.offers["rescinded_on"].isna()])
    # The interview whose interviewer is the contact, so a draft (and a missing
    # contact detail) names the right one.
    o["interview_id"] = o["contact_interview_id"]
    return o


def _written_offer_requests(c: _Context, s: Settings, o: pd.DataFrame) -> pd.DataFrame:
    w = o[o["verbal_on"].notna() & o["written_received_on"].isna() & o["accepted_on"].isna()].copy()
    asked = w["written_requested_on"].notna()
    w["due_on"] = w["verbal_on"].where(
        ~asked, add_business_days(w["written_requested_on"], s.written_offer_followup_business_days)
    )
    w["why"] = np.where(
        asked,
        "You asked "
        + w["company"]
        + " for the offer in writing on "
        + fmt_day(w["written_requested_on"], c.as_of)
        + " and it has not arrived: ask again, warmly.",
        w["company"]
        + " made you a verbal offer on "
        + fmt_day(w["verbal_on"], c.as_of)
        + ". A verbal offer is not an offer: ask for it in writing now.",
    )
    w["detail"] = np.where(asked, "again:" + w["written_requested_on"].dt.strftime("%Y-%m-%d"), "first")
    return w.assign(kind="request_written_offer")


def _offer_letter_reviews(c: _Context, s: Settings, o: pd.DataFrame) -> pd.DataFrame:
    r = o[o["written_received_on"].notna() & o["accepted_on"].isna()].copy()
    # Done once the coachee has written back about the letter (marking the draft sent).
    answered = c.messages[(c.messages["direction"] == "sent") & (c.messages["kind"] == "review_offer_letter")]
    answered = answered.groupby("application_id")["on"].max().rename("answered_on")
    r = r.merge(answered, left_on="application_id", right_index=True, how="left")
    r = r[r["answered_on"].isna() | (r["answered_on"] < r["written_received_on"])].copy()
    r["due_on"] = r["written_received_on"]
    missing = missing_offer_terms(r)
    r["missing_terms"] = missing
    deadline = r["response_deadline"]
    r["why"] = (
        "The written offer from "
        + r["company"]
        + " came on "
        + fmt_day(r["written_received_on"], c.as_of)
        + ". "
        + np.where(
            missing.eq(""),
            "It states every term we look for",
            "It does not state: " + missing + " — ask before you answer",
        )
        + np.where(deadline.notna(), "; respond by " + fmt_day(deadline, c.as_of) + ".", ".")
    )
    r["urgent"] = deadline.notna() & ((deadline - c.as_of).dt.days <= s.deadline_warning_days)
    r["detail"] = r["written_received_on"].dt.strftime("%Y-%m-%d")
    return r.assign(kind="review_offer_letter")


def _approvals(c: _Context, o: pd.DataFrame) -> pd.DataFrame:
    a = o[o["accepted_on"].notna() & o["approved_on"].isna()].copy()
    others = c.open_apps[c.open_apps["status"].eq("active")].groupby("coachee_id").size().rename("n_other")
    a = a.merge(others, left_on="coachee_id", right_index=True, how="left")
    # An accepted offer whose application is still marked active is not an "other" one.
    n = a["n_other"].fillna(0).astype(int) - a["status"].eq("active").astype(int)
    a["due_on"] = a["accepted_on"]
    a["recipient"] = a["coachee_name"]
    a["recipient_email"] = None
    a["recipient_phone"] = None
    a["channel"] = "email"
    a["why"] = (
        "You accepted "
        + a["company"]
        + "'s offer on "
        + fmt_day(a["accepted_on"], c.as_of)
        + "; until it is approved it can still, rarely, be withdrawn: keep your "
        + n.astype(str)
        + np.where(n.eq(1), " other application", " other applications")
        + " warm."
    )
    a["detail"] = a["accepted_on"].dt.strftime("%Y-%m-%d")
    return a.assign(kind="await_approval")


# ------------------------------------------------------------------ assembly


def action_uid(action_id: str) -> str:
    """A stable calendar UID for an action id."""
    return hashlib.sha1(action_id.encode("utf-8")).hexdigest()[:20] + "@followup-workbook"


def _due_for_group(tables: Mapping[str, pd.DataFrame], as_of: pd.Timestamp, s: Settings) -> pd.DataFrame:
    c = _Context(tables, as_of)
    li = _employer_state(c)
    offers = _offer_rows(c)
    briefing = _brief_references(c, s)
    parts = [
        _thank_you_notes(c, s),
        briefing,
        _promises(c, s, tables["promises"]),
        _status_inquiries(c, s, li),
        _offer_checkins(c, s, li),
        _reference_checkins(c, s, briefing),
        _written_offer_requests(c, s, offers),
        _offer_letter_reviews(c, s, offers),
        _approvals(c, offers),
    ]
    parts = [p for p in parts if len(p)]
    if not parts:
        return _empty_actions()
    keep = ACTION_COLUMNS + ["detail", "urgent"]
    df = pd.concat([p.reindex(columns=keep) for p in parts], ignore_index=True)
    df = df[df["due_on"] <= as_of + pd.Timedelta(days=s.upcoming_days)].copy()
    df["action_id"] = df["kind"] + ":" + df["application_id"] + ":" + df["detail"].astype(str)
    standing = df["kind"].eq("await_approval")
    df["status"] = np.where(
        df["due_on"] > as_of, "upcoming", np.where((df["due_on"] == as_of) | standing, "due", "overdue")
    )
    base = df["kind"].map(BASE_PRIORITY).astype(int)
    base = base.where(~df["urgent"].eq(True), 1)
    df["priority"] = np.where(df["status"].eq("upcoming"), base + UPCOMING_PRIORITY_OFFSET, base)
    return df[ACTION_COLUMNS]


def due_actions(
    tables: Mapping[str, pd.DataFrame],
    as_of,
    settings: Settings | None = None,
    coach_settings: Mapping[str, Settings] | None = None,
) -> pd.DataFrame:
    """Every follow-up action for the coachees in ``tables``, most urgent first.

    ``tables`` are typed frames as ``Store.load`` returns them; ``as_of`` is the
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
    result = result.sort_values(["priority", "_s", "due_on", "coachee_id", "action_id"], kind="stable")
    return result.drop(columns="_s").reset_index(drop=True)


def _only(tables: Mapping[str, pd.DataFrame], coachee_ids: list[str]) -> dict[str, pd.DataFrame]:
    apps = tables["applications"]
    app_ids = set(apps.loc[apps["coachee_id"].isin(coachee_ids), "application_id"])
    out = {}
    for name, df in tables.items():
        if "coachee_id" in df:
            out[name] = df[df["coachee_id"].isin(coachee_ids)]
        elif "application_id" in df:
            out[name] = df[df["application_id"].isin(app_ids)]
        else:
            out[name] = df
    return out
