"""What the practice's history says: response times, lateness, follow-up outcomes, pipeline.

Pure functions of the typed tables (and a date where "today" matters); the charts
and the notebooks draw what these return.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import astuple, dataclass

import numpy as np
import pandas as pd

from ..kinds import AUTO_REPLY, BOUNCE, NOT_WORD_FROM_EMPLOYER, normal_kinds
from ..schema import CLOSED_STATUSES
from ..settings import Settings
from .rules import latest_interviews
from .wording import count_noun, markdown_text

# The follow-ups whose replies the analysis counts: a question to the employer.
FOLLOW_UP_KINDS = ("status_inquiry", "offer_checkin")

PIPELINE_STAGES = ["applied", "interviewing", "final round", "offer", "accepted", "hired"]


def _first_received_after(events: pd.DataFrame, messages: pd.DataFrame, date_col: str) -> pd.Series:
    """For each event row, the first word from the employer (``from_the_employer``)
    on its application after ``date_col``."""
    # Named apart from the events' own columns: ``date_col`` may itself be "on".
    rec = messages.loc[from_the_employer(messages), ["application_id", "on"]].rename(columns={"on": "_answer_on"})
    ev = pd.DataFrame(
        {
            "_row": events.index,
            "application_id": events["application_id"].to_numpy(),
            "_event_on": events[date_col].to_numpy(),
        }
    )
    m = ev.merge(rec, on="application_id", how="inner")
    m = m[m["_answer_on"] > m["_event_on"]]
    first = m.groupby("_row")["_answer_on"].min()
    return first.reindex(events.index).astype("datetime64[ns]")


def _business_days_between(start: pd.Series, end: pd.Series) -> pd.Series:
    """Business days from ``start`` to ``end`` (negative when ``end`` is earlier); NaN if either is missing.

    Counted like the rules' grace period: an answer on the first business day
    after the employer's date is 1 day late.
    """
    ok = start.notna() & end.notna()
    out = pd.Series(np.nan, index=start.index)
    if ok.any():
        a = start[ok].to_numpy().astype("datetime64[D]")
        b = end[ok].to_numpy().astype("datetime64[D]")
        out[ok] = np.busday_count(a, b)
    return out


def _column(df: pd.DataFrame, name: str, dtype=object) -> pd.Series:
    """A column a first-release table may lack, as missing values."""
    return df[name] if name in df else pd.Series(None, index=df.index, dtype=dtype)


def from_the_employer(msgs: pd.DataFrame) -> pd.Series:
    """Which messages are word from the employer: received, not from a reference,
    and not a machine's (contract v3: an ``auto_reply`` or a ``bounce`` is not)."""
    return (
        msgs["direction"].eq("received")
        & _column(msgs, "reference_id").isna()
        & ~normal_kinds(msgs["kind"]).isin(NOT_WORD_FROM_EMPLOYER)
    )


#: What a received message that is not word from the employer is, in a report.
NOT_WORD_LABELS = {AUTO_REPLY: "Automatic reply (not word from them)", BOUNCE: "Came back undelivered"}


def employer_words(tables: Mapping[str, pd.DataFrame], as_of=None) -> pd.DataFrame:
    """Every dated word from an employer, one row per (application_id, on, how):

    - "message": a received message not from a reference, nor an automatic reply or
      a bounce (PRODUCT.md: any word from the employer, a moved date included);
    - "offer": an offer made (verbal_on), its letter received, or the offer rescinded;
    - "closed": the day a rejected or hired application was closed (closed_on).

    A withdrawal is the candidate's word, not the employer's. With ``as_of``, only
    words on or before that day.
    """
    msgs = tables["messages"]
    received = msgs[from_the_employer(msgs)]
    parts = [received[["application_id", "on"]].assign(how="message")]
    offers = tables["offers"]
    for col in ("verbal_on", "written_received_on", "rescinded_on"):
        parts.append(offers[["application_id", col]].rename(columns={col: "on"}).assign(how="offer"))
    apps = tables["applications"]
    ended = apps[apps["status"].isin(["rejected", "hired"])]
    parts.append(
        pd.DataFrame(
            {"application_id": ended["application_id"], "on": _column(ended, "closed_on", "datetime64[ns]")}
        ).assign(how="closed")
    )
    words = pd.concat(parts, ignore_index=True)
    words["on"] = pd.to_datetime(words["on"]).dt.normalize()
    words = words[words["on"].notna()]
    if as_of is not None:
        words = words[words["on"] <= pd.Timestamp(as_of).normalize()]
    return words.reset_index(drop=True)


#: How an interview's wait is grouped: the first round, a later one, the final one.
ROUND_GROUPS = ("first round", "later round", "final round")
#: What the practice-wide waiting times are made from (``first_words``,
#: ``waiting_sentences``): a report needs no other table of other coachees.
FIRST_WORD_TABLES = ("applications", "interviews", "messages", "offers")

#: What became of the wait after an interview (``first_words``' ``state``).
FIRST_WORD_STATES = ("heard", "waiting", "unknown", "withdrawn")


def round_groups(interviews: pd.DataFrame) -> pd.Series:
    """Each interview's ROUND_GROUPS entry: "final round" when marked final; else
    its ``round`` number when it is one (1: "first round", more: "later round");
    else its order among its application's interviews (the first held is the first
    round). A ``round`` of "2" wins over the order: the first round may not be logged."""
    final = interviews["final_round"].fillna(False).astype(bool)
    number = pd.to_numeric(interviews["round"], errors="coerce")
    order = (
        interviews.sort_values(["application_id", "held_on", "interview_id"], kind="stable")
        .groupby("application_id")
        .cumcount()
        .add(1)
        .reindex(interviews.index)
    )
    number = number.where(number.notna(), order)
    return pd.Series(
        np.where(final, "final round", np.where(number <= 1, "first round", "later round")),
        index=interviews.index,
        dtype=object,
    )


def first_words(tables: Mapping[str, pd.DataFrame], as_of) -> pd.DataFrame:
    """One row per interview held by ``as_of``: when the employer's first word came
    after it, or how long it has waited so far — the data of a survival curve.

    The first word is the first of ``employer_words`` after the interview day: a
    message, an offer, a rejection. ``state`` says what is known on ``as_of``:

    - "heard": a first word came on ``heard_on``, ``days`` (calendar days) after;
    - "waiting": no word yet and the application is open: ``days`` counts to
      ``as_of`` (a censored time: the wait is at least that long);
    - "unknown": word came, but on a day not in the store — another round was held
      with no invitation logged before it (its own date is not the day the
      invitation came), or the application shows an outcome (rejected, offer…)
      with no date; ``days`` is missing;
    - "withdrawn": the candidate withdrew; the wait says nothing about the employer.

    ``event`` is True for "heard". Columns: interview_id, application_id,
    coachee_id, company, role, status, round_group, held_on, next_step_by,
    heard_on, heard_how, next_round_on, state, days, event.
    """
    day = pd.Timestamp(as_of).normalize()
    apps = tables["applications"]
    iv = tables["interviews"]
    iv = iv[iv["held_on"].notna() & (iv["held_on"] <= day)].copy()
    iv["held_on"] = iv["held_on"].dt.normalize()
    iv["round_group"] = round_groups(iv)
    a = apps[["application_id", "coachee_id", "company", "role", "status"]].assign(
        closed_on=_column(apps, "closed_on", "datetime64[ns]")
    )
    out = iv[["interview_id", "application_id", "round_group", "held_on", "next_step_by"]].merge(
        a, on="application_id", how="left"
    )
    out = out.reset_index(drop=True)

    words = employer_words(tables, day).sort_values(["on", "how"], kind="stable")
    pairs = out[["interview_id", "application_id", "held_on"]].merge(words, on="application_id", how="inner")
    pairs = pairs[pairs["on"] > pairs["held_on"]].drop_duplicates("interview_id", keep="first")
    first = pairs.set_index("interview_id")
    out["heard_on"] = first["on"].reindex(out["interview_id"]).to_numpy()
    out["heard_how"] = first["how"].reindex(out["interview_id"]).to_numpy()

    # The next round of the same application held after this one (by as_of).
    later = out[["interview_id", "application_id", "held_on"]].merge(
        out[["application_id", "held_on"]].rename(columns={"held_on": "next_on"}), on="application_id"
    )
    later = later[later["next_on"] > later["held_on"]].groupby("interview_id")["next_on"].min()
    out["next_round_on"] = later.reindex(out["interview_id"]).to_numpy()
    out["next_round_on"] = pd.to_datetime(out["next_round_on"])
    out["heard_on"] = pd.to_datetime(out["heard_on"])

    # A word on the next round's own day came too late to be its invitation.
    heard = out["heard_on"].notna() & (out["next_round_on"].isna() | (out["heard_on"] < out["next_round_on"]))
    withdrawn = out["status"].eq("withdrawn") & (out["closed_on"].isna() | (out["closed_on"] <= day))
    # An outcome the store shows without a date on or before as_of (closed_on after
    # as_of means it had not happened yet on that day).
    outcome = out["status"].isin(["offer", "accepted"]) | (
        out["status"].isin(["rejected", "hired"]) & out["closed_on"].isna()
    )
    # … unless a dated word after the interview exists in the store, if only after as_of.
    every = employer_words(tables)
    dated = out[["interview_id", "application_id", "held_on"]].merge(every, on="application_id")
    dated = out["interview_id"].isin(dated.loc[dated["on"] > dated["held_on"], "interview_id"])
    latest = out["next_round_on"].isna()
    unknown = ~heard & (out["next_round_on"].notna() | (latest & outcome & ~dated))
    out["state"] = np.select([withdrawn, heard, unknown], ["withdrawn", "heard", "unknown"], default="waiting")
    out["heard_on"] = out["heard_on"].where(heard)
    out["heard_how"] = out["heard_how"].where(heard)
    end = out["heard_on"].where(heard, day).where(out["state"].isin(["heard", "waiting"]))
    out["days"] = (end - out["held_on"]).dt.days
    out["event"] = out["state"].eq("heard")
    cols = [
        "interview_id",
        "application_id",
        "coachee_id",
        "company",
        "role",
        "status",
        "round_group",
        "held_on",
        "next_step_by",
        "heard_on",
        "heard_how",
        "next_round_on",
        "state",
        "days",
        "event",
    ]
    return out[cols]


def response_times(tables: Mapping[str, pd.DataFrame], as_of=None) -> pd.DataFrame:
    """One row per interview whose wait is known (``first_words``: heard or still
    waiting; withdrawn applications and words on an unknown day left out): how long
    the employer took to send their first word, and how that compares with the
    date they gave.

    Columns: interview_id, application_id, coachee_id, company, round, final_round,
    round_group, held_on, next_step_by, answered_on, answered (bool), days_to_answer,
    late_by_days (answered_on - next_step_by in calendar days; negative = early),
    late_by_business_days (the same in business days, weekends only: see
    ``survival.late_answers`` for each coachee's holidays), round_label, and
    waited_days (for unanswered interviews, days since the interview to ``as_of``).
    Only interviews held and words received on or before ``as_of`` count (None: the
    latest day in the store).
    """
    if as_of is None:
        dates = [tables["interviews"]["held_on"].max(), employer_words(tables)["on"].max()]
        dates = [d for d in dates if pd.notna(d)]
        as_of = max(dates) if dates else pd.Timestamp("2000-01-01")
    fw = first_words(tables, as_of)
    fw = fw[fw["state"].isin(["heard", "waiting"])]
    iv = tables["interviews"].set_index("interview_id")
    out = fw[["interview_id", "application_id", "coachee_id", "company"]].copy()
    out["round"] = iv["round"].reindex(fw["interview_id"]).to_numpy()
    out["final_round"] = iv["final_round"].reindex(fw["interview_id"]).to_numpy()
    for col in ("round_group", "held_on", "next_step_by"):
        out[col] = fw[col]
    out["answered_on"] = fw["heard_on"]
    out["answered"] = fw["event"]
    out["days_to_answer"] = fw["days"].where(fw["event"])
    out["late_by_days"] = (out["answered_on"] - out["next_step_by"]).dt.days
    out["late_by_business_days"] = _business_days_between(out["next_step_by"], out["answered_on"])
    out["waited_days"] = fw["days"].where(~fw["event"])
    out["round_label"] = np.where(
        out["final_round"].fillna(False).astype(bool), "final round", "round " + out["round"].fillna("?").astype(str)
    )
    return out.reset_index(drop=True)


def followup_outcomes(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per status inquiry or check-in sent: did the employer answer, how fast."""
    msgs = tables["messages"]
    sent = msgs[msgs["direction"].eq("sent") & msgs["kind"].isin(FOLLOW_UP_KINDS)].reset_index(drop=True)
    replied_on = _first_received_after(sent, msgs, "on")
    out = sent[["message_id", "application_id", "kind", "on"]].copy()
    out["replied_on"] = replied_on
    out["replied"] = replied_on.notna()
    out["days_to_reply"] = (replied_on - out["on"]).dt.days
    return out


def pipeline_stages(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per application with the furthest stage it reached and whether it is open."""
    apps = tables["applications"][["application_id", "coachee_id", "company", "role", "status"]].copy()
    iv = tables["interviews"]
    has_iv = apps["application_id"].isin(iv["application_id"])
    final_ids = iv.loc[iv["final_round"].fillna(False).astype(bool), "application_id"]
    offers = tables["offers"]
    has_offer = apps["application_id"].isin(
        offers.loc[offers["verbal_on"].notna() | offers["written_received_on"].notna(), "application_id"]
    )
    stage = np.select(
        [
            apps["status"].eq("hired"),
            apps["status"].eq("accepted"),
            has_offer | apps["status"].eq("offer"),
            apps["application_id"].isin(final_ids),
            has_iv,
        ],
        ["hired", "accepted", "offer", "final round", "interviewing"],
        default="applied",
    )
    apps["stage"] = pd.Categorical(stage, categories=PIPELINE_STAGES, ordered=True)
    # An offer the employer withdrew ends its application whatever its status says (contract v3).
    rescinded = offers.loc[offers["rescinded_on"].notna(), "application_id"]
    apps["open"] = ~apps["status"].isin(CLOSED_STATUSES) & ~apps["application_id"].isin(rescinded)
    return apps


def pipeline_counts(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Applications per furthest stage, split into open and closed."""
    p = pipeline_stages(tables)
    p["state"] = np.where(p["open"], "open", "closed")
    counts = p.groupby(["stage", "state"], observed=False).size().rename("applications").reset_index()
    return counts


#: Received message kinds that are good news from the employer (PRODUCT.md's
#: kinds: an offer, its letter, an invitation to a further round; the demo's
#: first spellings of the first two too); ``rejection`` is the bad news.
GOOD_NEWS_KINDS = ("offer", "offer_letter", "invitation", "verbal_offer", "written_offer")
BAD_NEWS_KINDS = ("rejection",)


def _received_from_employer(messages: pd.DataFrame, as_of) -> pd.DataFrame:
    """Received messages on or before ``as_of`` that are word from the employer
    (not a reference's, nor an automatic reply or a bounce)."""
    return messages[from_the_employer(messages) & (messages["on"] <= as_of)]


def ended_by(tables: Mapping[str, pd.DataFrame], as_of) -> pd.Series:
    """The ids of applications that are over, or being left, on ``as_of`` though
    their status may still say "active": ``ended_applications`` (a rejection, a
    withdrawal, a closing, an offer rescinded) and those ``left_for_an_offer``."""
    ids = pd.concat([ended_applications(tables, as_of), left_for_an_offer(tables, as_of)], ignore_index=True)
    return ids.drop_duplicates().reset_index(drop=True)


def ended_applications(tables: Mapping[str, pd.DataFrame], as_of) -> pd.Series:
    """The ids of applications over on ``as_of`` whatever their status says: a
    ``rejection`` received, a ``withdrawal`` sent, a ``closed_on`` passed, or an
    offer rescinded (contract v3: its application is treated as closed)."""
    day = pd.Timestamp(as_of).normalize()
    apps = tables["applications"]
    msgs = tables["messages"]
    msgs = msgs[msgs["on"] <= day]
    rejected = msgs.loc[msgs["direction"].eq("received") & msgs["kind"].isin(BAD_NEWS_KINDS), "application_id"]
    withdrew = msgs.loc[msgs["direction"].eq("sent") & msgs["kind"].eq("withdrawal"), "application_id"]
    closed_on = _column(apps, "closed_on", "datetime64[ns]")
    closed = apps.loc[closed_on.notna() & (closed_on <= day), "application_id"]
    o = tables["offers"]
    rescinded = o.loc[o["rescinded_on"] <= day, "application_id"]
    return pd.concat([rejected, withdrew, closed, rescinded], ignore_index=True)


def left_for_an_offer(tables: Mapping[str, pd.DataFrame], as_of) -> pd.Series:
    """The ids of applications being left on ``as_of`` because another application
    of the same coachee has an offer approved (and not rescinded), or is hired:
    the client is withdrawing from the rest (guidance 9). Part of ``ended_by``."""
    day = pd.Timestamp(as_of).normalize()
    apps = tables["applications"]
    o = tables["offers"]
    approved = o[o["approved_on"].notna() & (o["approved_on"] <= day) & ~(o["rescinded_on"] <= day)]
    hired = apps[apps["application_id"].isin(approved["application_id"]) | apps["status"].eq("hired")]
    return apps.loc[
        apps["coachee_id"].isin(hired["coachee_id"]) & ~apps["application_id"].isin(hired["application_id"]),
        "application_id",
    ]


def offers_made(offers: pd.DataFrame, as_of) -> pd.Series:
    """The ids of applications with an offer made (verbal or written) by ``as_of`` and not rescinded."""
    day = pd.Timestamp(as_of).normalize()
    made = offers[["verbal_on", "written_received_on"]].min(axis=1)
    live = made.notna() & (made <= day) & ~(offers["rescinded_on"] <= day)
    return offers.loc[live, "application_id"]


def latest_dates(tables: Mapping[str, pd.DataFrame], as_of) -> pd.DataFrame:
    """For each application with an interview held by ``as_of``: the latest date the
    employer gave (``their_date``: at its latest interview, or moved since in a
    received message's ``next_step_by``) and the day they gave it (``given_on``),
    indexed by application_id. ``their_date`` is missing when they gave none."""
    day = pd.Timestamp(as_of).normalize()
    iv = tables["interviews"]
    last = latest_interviews(iv[iv["held_on"] <= day])[["application_id", "held_on", "next_step_by"]]
    received = _received_from_employer(tables["messages"], day)
    moved = received[_column(received, "next_step_by").notna()][["application_id", "on", "next_step_by"]]
    moved = moved.merge(last[["application_id", "held_on"]], on="application_id")
    moved = moved[moved["on"] >= moved["held_on"]].sort_values(["on", "next_step_by"], kind="stable")
    moved = moved.groupby("application_id").last()
    out = last.set_index("application_id")
    their = pd.to_datetime(out.index.to_series().map(moved["next_step_by"]))
    on = pd.to_datetime(out.index.to_series().map(moved["on"]))
    return pd.DataFrame(
        {
            "their_date": their.where(their.notna(), pd.to_datetime(out["next_step_by"])),
            "given_on": on.where(on.notna(), out["held_on"]),
        },
        index=out.index,
    )


def waiting_on(tables: Mapping[str, pd.DataFrame], as_of) -> pd.DataFrame:
    """One row per open application with an interview held by ``as_of``: days
    since the latest interview and what it is waiting on, longest wait first.

    ``waiting_on`` is one of (the first that applies): "offer stage" (an offer
    made, or the status says so: the client owes the answer), "ended" (a
    rejection came, a withdrawal was sent, the offer was withdrawn or the
    application closed, though its status may still say active), "being left" (an
    offer elsewhere was approved: the client is leaving it), "thank-you not sent", "employer's date passed" (with no
    word from them since they gave it), "employer's date ahead", "decision
    after final round", "heard back since" (word came, no new date), "no date given".

    ``their_date`` is the latest date the employer gave: at the interview, or
    moved in a message since; ``promised_after_days`` counts it from the interview.
    """
    as_of = pd.Timestamp(as_of).normalize()
    apps = tables["applications"]
    o = tables["offers"]
    rescinded = o.loc[o["rescinded_on"] <= as_of, "application_id"]  # closed, as a rejection is (contract v3)
    open_apps = apps[~apps["status"].isin(CLOSED_STATUSES) & ~apps["application_id"].isin(rescinded)][
        ["application_id", "coachee_id", "company", "role", "status"]
    ]
    iv = tables["interviews"]
    last = latest_interviews(iv[iv["held_on"] <= as_of]).merge(open_apps, on="application_id", how="inner")
    last = last.reset_index(drop=True)
    received = _received_from_employer(tables["messages"], as_of)
    heard_on = _first_received_after(last, received, "held_on")
    given = latest_dates(tables, as_of).reindex(last["application_id"])
    last["their_date"] = given["their_date"].to_numpy()
    given_on = pd.Series(given["given_on"].to_numpy(), index=last.index)
    since_given = received.merge(
        pd.DataFrame({"application_id": last["application_id"], "_given": given_on}), on="application_id"
    )
    answered = last["application_id"].isin(since_given.loc[since_given["on"] > since_given["_given"], "application_id"])
    last["days_since"] = (as_of - last["held_on"]).dt.days
    last["promised_after_days"] = (last["their_date"] - last["held_on"]).dt.days
    final = last["final_round"].fillna(False).astype(bool)
    has_date = last["their_date"].notna()
    passed = has_date & (last["their_date"] < as_of)
    offer = last["status"].isin(["offer", "accepted"]) | last["application_id"].isin(
        offers_made(tables["offers"], as_of)
    )
    over = last["application_id"].isin(ended_applications(tables, as_of))
    leaving = last["application_id"].isin(left_for_an_offer(tables, as_of))
    last["waiting_on"] = np.select(
        [
            over,  # first: a rejection received ends it whatever the status says
            leaving,
            offer,
            last["thank_you_sent_on"].isna(),
            passed & ~answered,
            has_date & ~passed,
            final,
            heard_on.notna(),
        ],
        [
            "ended",
            "being left",
            "offer stage",
            "thank-you not sent",
            "employer's date passed",
            "employer's date ahead",
            "decision after final round",
            "heard back since",
        ],
        default="no date given",
    )
    last["label"] = last["company"] + " · " + last["role"]
    return last.sort_values(["days_since", "label"], ascending=[False, True], kind="stable").reset_index(drop=True)


#: The 80% time is read (a wait past it called unusual) only when at least this
#: many answers came on or after it: one slow answer is not a pattern.
MIN_TAIL = 2


#: What ``waiting_on`` rows are not a wait for the employer's word.
NOT_WAITING = ("offer stage", "ended", "being left", "heard back since")


# ----------------------------------------------------------- how long a wait is


#: A round group's times are read only when at least this many of its interviews
#: have been answered: below it, one fast or slow employer moves the median
#: (the ``min_answers_for_times`` setting's default).
MIN_ANSWERED = Settings().min_answers_for_times

_PLURAL = {"first round": "first rounds", "later round": "later rounds", "final round": "final rounds"}


md_escape = markdown_text  # the one Markdown escaper (wording.py)


def km_times(durations, events, qs=(0.5, 0.2)) -> list[float]:
    """Kaplan–Meier point estimates: for each share ``q`` in ``qs``, the first time
    at which the estimated share still waiting is at most ``q`` (0.5: the median;
    0.2: the time by which 80% heard back); inf when the curve never gets there.

    The same estimate as ``lifelines.KaplanMeierFitter`` (the tests compare them),
    in a few lines of numpy: the weekly report needs only these points, and
    importing lifelines would cost each report most of a second.
    """
    d = np.asarray(durations, dtype=float)
    e = np.asarray(events, dtype=bool)
    times = np.unique(d[e])
    if times.size == 0:
        return [np.inf for _ in qs]
    at_risk = (d[None, :] >= times[:, None]).sum(axis=1)
    answered = ((d[None, :] == times[:, None]) & e[None, :]).sum(axis=1)
    still_waiting = np.cumprod(1.0 - answered / at_risk)
    out = []
    for q in qs:
        # A tolerance: 3 of 6 still waiting is 0.5 exactly, whatever the rounding.
        hit = np.nonzero(still_waiting <= q + 1e-9)[0]
        out.append(float(times[hit[0]]) if hit.size else np.inf)
    return out


@dataclass(frozen=True)
class RoundTimes:
    """How long the first word takes after one round group, across the practice
    (calendar days; inf: the curve has not come down that far)."""

    round_group: str
    interviews: int
    answered: int
    median: float
    p80: float
    #: The longest time followed so far (answered or still waiting).
    longest: float
    #: How many answers came on or after the 80% time: the tail it rests on.
    p80_cases: int = 0

    @property
    def enough(self) -> bool:
        return self.answered >= MIN_ANSWERED


def round_times(fw: pd.DataFrame) -> dict[str, RoundTimes]:
    """``RoundTimes`` per round group, from ``first_words`` (heard and waiting rows)."""
    known = fw[fw["state"].isin(["heard", "waiting"])]
    out = {}
    for group in ROUND_GROUPS:
        g = known[known["round_group"].eq(group)]
        median, p80 = km_times(g["days"], g["event"])
        out[group] = RoundTimes(
            group,
            len(g),
            int(g["event"].sum()),
            median,
            p80,
            float(g["days"].max()) if len(g) else 0.0,
            int((g["event"] & (g["days"] >= p80)).sum()) if np.isfinite(p80) else 0,
        )
    return out


def practice_round_times(practice: Mapping[str, pd.DataFrame], as_of) -> dict[str, RoundTimes]:
    """The practice's ``RoundTimes`` on ``as_of``; ``practice`` holds at least the
    ``FIRST_WORD_TABLES`` of every coachee (``load_practice``)."""
    return round_times(first_words(practice, pd.Timestamp(as_of).normalize()))


def round_times_json(times: Mapping[str, RoundTimes]) -> str:
    """``times`` as text (a report parameter): worked out once for a batch of reports."""
    return json.dumps({group: list(astuple(rt)) for group, rt in times.items()})


def round_times_from_json(text: str) -> dict[str, RoundTimes]:
    """The ``RoundTimes`` written by ``round_times_json``."""
    return {group: RoundTimes(*fields) for group, fields in json.loads(text).items()}


def _days(n: float) -> str:
    return count_noun(n, "day")


def cadence_phrase(group: str, settings: Settings | None = None) -> str:
    """The workbook's own follow-up pace after a ``group`` interview, in words
    (the settings' numbers): what a wait is set against before calling it unusual."""
    s = settings or Settings()
    if group == "final round":
        return f"a brief check-in every {_days(s.checkin_every_days)}, at most {s.max_checkins}"
    return (
        f"a status inquiry {count_noun(s.grace_business_days, 'business day')} after the employer's date, "
        f"or after {count_noun(s.no_date_followup_business_days, 'business day')} of silence when they gave none"
    )


def too_few_phrase(group: str, answered: int, needed: int) -> str:
    """ "only 2 final rounds in this practice have had an answer so far" and the setting it falls short of."""
    plural = _PLURAL[group]
    if answered == 0:
        return f"no {group} in this practice has had an answer yet"
    if answered == 1:
        return f"only 1 {group} in this practice has had an answer so far"
    return f"only {answered} {plural} in this practice have had an answer so far"


def wait_sentence(
    company: str,
    group: str,
    days: int,
    rt: RoundTimes,
    their_date=None,
    as_of=None,
    settings: Settings | None = None,
) -> str:
    """One Markdown sentence: how a wait of ``days`` after a ``group`` compares with
    the practice (``rt``), ending in what it means.

    A typical time is given only from ``settings.min_answers_for_times`` answers
    on; "unusual" only past the day by which 80% heard back, and always beside the
    workbook's own follow-up pace (``cadence_phrase``), which it never replaces."""
    s = settings or Settings()
    plural = _PLURAL[group]
    head = f"{md_escape(company)} ({group}), day {int(days)}: "
    pace = f"keep to the workbook's pace ({cadence_phrase(group, s)})"
    if rt.answered < s.min_answers_for_times:
        return (
            head + too_few_phrase(group, rt.answered, s.min_answers_for_times) + ", too few to say whether this "
            "wait is unusual — for now, go by the employer's own date and the workbook's follow-up reminders."
        )
    ahead = their_date is not None and pd.notna(their_date) and as_of is not None and their_date > pd.Timestamp(as_of)
    p80_known = np.isfinite(rt.p80) and rt.p80_cases >= MIN_TAIL
    if p80_known and days >= rt.p80:
        text = (
            head + f"past the day by which 80% of {plural} in this practice hear back (day {int(rt.p80)}), "
            "so a silence this long is unusual here"
        )
        if ahead:
            d = pd.Timestamp(their_date)
            return text + f" — but they said you would hear by {d.day} {d:%b}: wait for that date, then ask."
        return text + f" — {pace}, and keep other applications moving."
    if np.isinf(rt.median):
        return (
            head + f"fewer than half of {plural} in this practice have heard back within {_days(rt.longest)} — "
            f"long waits are normal here; {pace}."
        )
    if days < rt.median:
        return head + f"still early — half of {plural} in this practice hear back within {_days(rt.median)}; {pace}."
    half = f"half of {plural} in this practice hear back within {_days(rt.median)}"
    if p80_known:
        return head + f"{half} and 80% by day {int(rt.p80)}, so a wait this long is still common; {pace}."
    return head + f"{half}; too few slower answers yet to say when a wait becomes unusual — {pace}."


def waiting_sentences(
    tables: Mapping[str, pd.DataFrame],
    as_of,
    coachee_id: str,
    times: Mapping[str, RoundTimes] | None = None,
    settings: Settings | None = None,
) -> list[str]:
    """One Markdown sentence per application of ``coachee_id`` still waiting for the
    employer's first word after its latest interview (open, no offer, not being
    left: ``ended_by``), longest wait first, each compared with the practice-wide
    times of its round group.

    ``times``: the practice's (``practice_round_times``); then ``tables`` need only
    hold the coachee's own rows. Without them, ``tables`` are the whole
    practice's (``load_practice``), the coachee's own rows among them, and the
    times are worked out from them. Days are calendar days since the interview,
    as the client feels them.
    """
    day = pd.Timestamp(as_of).normalize()
    fw = first_words(tables, day)
    return waiting_sentences_from(
        fw,
        tables["offers"],
        day,
        coachee_id,
        round_times(fw) if times is None else times,
        settings,
        leaving=ended_by(tables, day),
        their_dates=latest_dates(tables, day)["their_date"],
    )


def waiting_sentences_from(
    fw: pd.DataFrame,
    offers: pd.DataFrame,
    day: pd.Timestamp,
    coachee_id: str,
    times: Mapping[str, RoundTimes],
    settings: Settings | None = None,
    leaving: pd.Series | None = None,
    their_dates: pd.Series | None = None,
) -> list[str]:
    """``waiting_sentences`` from ``first_words`` already found (``fw``, holding at
    least this coachee's rows) and the offers: for many coachees at once.
    ``leaving``: ``ended_by`` (applications over or being left, whatever their
    status); ``their_dates``: ``latest_dates``' their_date (a date moved in a
    message), else the interview's own date is the one they gave."""
    mine = fw[
        fw["coachee_id"].eq(coachee_id)
        & fw["status"].eq("active")
        & ~fw["application_id"].isin(offers_made(offers, day))
        & ~fw["application_id"].isin(() if leaving is None else leaving)
    ]
    latest = latest_interviews(mine)
    waiting = latest[latest["state"].eq("waiting")]
    waiting = waiting.sort_values(["days", "company", "application_id"], ascending=[False, True, True], kind="stable")
    dates = waiting["next_step_by"]
    if their_dates is not None:
        moved = waiting["application_id"].map(their_dates)
        dates = pd.to_datetime(moved).where(moved.notna(), dates)
    return [
        wait_sentence(r.company, r.round_group, int(r.days), times[r.round_group], date, day, settings)
        for r, date in zip(waiting.itertuples(), dates)
    ]
