"""What the practice's history says: response times, lateness, follow-up outcomes, pipeline.

Pure functions of the typed tables (and a date where "today" matters); the charts
and the notebooks draw what these return.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..schema import CLOSED_STATUSES
from .rules import latest_interviews

# The follow-ups whose replies the analysis counts: a question to the employer.
FOLLOW_UP_KINDS = ("status_inquiry", "offer_checkin")

PIPELINE_STAGES = ["applied", "interviewing", "final round", "offer", "accepted", "hired"]


def _first_received_after(events: pd.DataFrame, messages: pd.DataFrame, date_col: str) -> pd.Series:
    """For each event row, the first received message of its application after ``date_col``."""
    # Named apart from the events' own columns: ``date_col`` may itself be "on".
    rec = messages.loc[messages["direction"].eq("received"), ["application_id", "on"]].rename(
        columns={"on": "_answer_on"}
    )
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


def response_times(tables: Mapping[str, pd.DataFrame], as_of=None) -> pd.DataFrame:
    """One row per interview: how long the employer took to send any word, and
    how that compares with the date they gave.

    Columns: interview_id, application_id, coachee_id, company, round, final_round,
    held_on, next_step_by, answered_on, answered (bool), days_to_answer,
    late_by_days (answered_on - next_step_by in calendar days; negative = early),
    late_by_business_days (the same in business days, the unit of the grace
    period setting), round_label, and with ``as_of``: waited_days (for unanswered
    interviews, days since the interview). With ``as_of``, only interviews held
    and answers received on or before that day count.
    """
    interviews, messages = tables["interviews"], tables["messages"]
    if as_of is not None:
        day = pd.Timestamp(as_of).normalize()
        interviews = interviews[interviews["held_on"] <= day]
        messages = messages[messages["on"] <= day]
    iv = interviews.merge(
        tables["applications"][["application_id", "coachee_id", "company"]], on="application_id", how="left"
    )
    iv = iv.reset_index(drop=True)
    answered_on = _first_received_after(iv, messages, "held_on")
    # The next interview of the same application is an answer too.
    nxt = iv.sort_values(["application_id", "held_on"]).groupby("application_id")["held_on"].shift(-1)
    answered_on = pd.concat([answered_on, nxt.reindex(iv.index)], axis=1).min(axis=1).astype("datetime64[ns]")
    out = iv[
        ["interview_id", "application_id", "coachee_id", "company", "round", "final_round", "held_on", "next_step_by"]
    ].copy()
    out["answered_on"] = answered_on
    out["answered"] = answered_on.notna()
    out["days_to_answer"] = (answered_on - out["held_on"]).dt.days
    out["late_by_days"] = (answered_on - out["next_step_by"]).dt.days
    out["late_by_business_days"] = _business_days_between(out["next_step_by"], answered_on)
    if as_of is not None:
        out["waited_days"] = np.where(out["answered"], np.nan, (day - out["held_on"]).dt.days)
    out["round_label"] = np.where(
        out["final_round"].fillna(False).astype(bool), "final round", "round " + out["round"].fillna("?").astype(str)
    )
    return out


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
    apps["open"] = ~apps["status"].isin(CLOSED_STATUSES)
    return apps


def pipeline_counts(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Applications per furthest stage, split into open and closed."""
    p = pipeline_stages(tables)
    p["state"] = np.where(p["open"], "open", "closed")
    counts = p.groupby(["stage", "state"], observed=False).size().rename("applications").reset_index()
    return counts


def waiting_on(tables: Mapping[str, pd.DataFrame], as_of) -> pd.DataFrame:
    """One row per open application with an interview held by ``as_of``: days
    since the latest interview and what it is waiting on, longest wait first.

    ``waiting_on`` is one of (the first that applies): "offer stage",
    "thank-you not sent", "employer's date passed" (with no word from them since
    the interview), "employer's date ahead", "decision after final round",
    "heard back since" (word came, no new date), "no date given".
    ``promised_after_days`` is the employer's date counted from the interview.
    """
    as_of = pd.Timestamp(as_of).normalize()
    apps = tables["applications"]
    open_apps = apps[~apps["status"].isin(CLOSED_STATUSES)][
        ["application_id", "coachee_id", "company", "role", "status"]
    ]
    iv = tables["interviews"]
    last = latest_interviews(iv[iv["held_on"] <= as_of]).merge(open_apps, on="application_id", how="inner")
    last = last.reset_index(drop=True)
    msgs = tables["messages"]
    heard_on = _first_received_after(last, msgs[msgs["on"] <= as_of], "held_on")
    last["days_since"] = (as_of - last["held_on"]).dt.days
    last["promised_after_days"] = (last["next_step_by"] - last["held_on"]).dt.days
    final = last["final_round"].fillna(False).astype(bool)
    has_date = last["next_step_by"].notna()
    passed = has_date & (last["next_step_by"] < as_of)
    last["waiting_on"] = np.select(
        [
            last["status"].isin(["offer", "accepted"]),
            last["thank_you_sent_on"].isna(),
            passed & heard_on.isna(),
            has_date & ~passed,
            final,
            heard_on.notna(),
        ],
        [
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
