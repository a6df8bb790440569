"""What the practice's history says: response times, lateness, follow-up outcomes, pipeline.

Pure functions of the typed tables (and a date where "today" matters); the charts
and the notebooks draw what these return.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from .schema import CLOSED_STATUSES, EMPLOYER_CONTACT_KINDS

PIPELINE_STAGES = ["applied", "interviewing", "final round", "offer", "accepted", "hired"]


def _first_received_after(events: pd.DataFrame, messages: pd.DataFrame, date_col: str) -> pd.Series:
    """For each event row, the first received message of its application after ``date_col``."""
    rec = messages.loc[messages["direction"].eq("received"), ["application_id", "on"]]
    m = events[["application_id", date_col]].reset_index().merge(rec, on="application_id", how="inner")
    m = m[m["on"] > m[date_col]]
    first = m.groupby("index")["on"].min()
    return first.reindex(events.index)


def response_times(tables: Mapping[str, pd.DataFrame], as_of=None) -> pd.DataFrame:
    """One row per interview: how long the employer took to send any word, and
    how that compares with the date they gave.

    Columns: interview_id, application_id, coachee_id, company, round, final_round,
    held_on, next_step_by, answered_on, answered (bool), days_to_answer,
    late_by_days (answered_on - next_step_by; negative = early), and
    waited_days (for unanswered interviews: days since the interview as of ``as_of``).
    """
    iv = tables["interviews"].merge(
        tables["applications"][["application_id", "coachee_id", "company"]], on="application_id", how="left")
    iv = iv.reset_index(drop=True)
    answered_on = _first_received_after(iv, tables["messages"], "held_on")
    # The next interview of the same application is an answer too.
    nxt = iv.sort_values(["application_id", "held_on"]).groupby("application_id")["held_on"].shift(-1)
    answered_on = pd.concat([answered_on, nxt.reindex(iv.index)], axis=1).min(axis=1)
    out = iv[["interview_id", "application_id", "coachee_id", "company", "round", "final_round",
              "held_on", "next_step_by"]].copy()
    out["answered_on"] = answered_on
    out["answered"] = answered_on.notna()
    out["days_to_answer"] = (answered_on - out["held_on"]).dt.days
    out["late_by_days"] = (answered_on - out["next_step_by"]).dt.days
    if as_of is not None:
        out["waited_days"] = np.where(out["answered"], np.nan,
                                      (pd.Timestamp(as_of) - out["held_on"]).dt.days)
    out["round_label"] = np.where(out["final_round"].fillna(False).astype(bool), "final round",
                                  "round " + out["round"].fillna("?").astype(str))
    return out


def followup_outcomes(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per status inquiry or check-in sent: did the employer answer, how fast."""
    msgs = tables["messages"]
    sent = msgs[msgs["direction"].eq("sent") & msgs["kind"].isin(EMPLOYER_CONTACT_KINDS)].reset_index(drop=True)
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
    has_offer = apps["application_id"].isin(offers.loc[offers["verbal_on"].notna() | offers["written_received_on"].notna(), "application_id"])
    stage = np.select(
        [apps["status"].eq("hired"), apps["status"].eq("accepted"), has_offer | apps["status"].eq("offer"),
         apps["application_id"].isin(final_ids), has_iv],
        ["hired", "accepted", "offer", "final round", "interviewing"], default="applied")
    apps["stage"] = pd.Categorical(stage, categories=PIPELINE_STAGES, ordered=True)
    apps["open"] = ~apps["status"].isin(CLOSED_STATUSES)
    return apps


def pipeline_counts(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Applications per furthest stage, split into open and closed."""
    p = pipeline_stages(tables)
    p["state"] = np.where(p["open"], "open", "closed")
    counts = p.groupby(["stage", "state"], observed=False).size().rename("applications").reset_index()
    return counts


def waiting_on(tables: Mapping[str, pd.DataFrame], as_of, grace_business_days: int = 2) -> pd.DataFrame:
    """One row per open application with an interview: days since the latest
    interview and what it is waiting on.

    ``waiting_on`` is one of: "thank-you not sent", "employer's date ahead",
    "employer's date passed", "decision after final round", "offer stage",
    "no date given".
    """
    as_of = pd.Timestamp(as_of).normalize()
    apps = tables["applications"]
    open_apps = apps[~apps["status"].isin(CLOSED_STATUSES)][["application_id", "coachee_id", "company", "role", "status"]]
    iv = tables["interviews"]
    iv = iv[iv["held_on"] <= as_of].sort_values(["application_id", "held_on", "interview_id"])
    last = iv.drop_duplicates("application_id", keep="last").merge(open_apps, on="application_id", how="inner")
    last["days_since"] = (as_of - last["held_on"]).dt.days
    last["promised_after_days"] = (last["next_step_by"] - last["held_on"]).dt.days
    final = last["final_round"].fillna(False).astype(bool)
    passed = last["next_step_by"].notna() & (last["next_step_by"] < as_of)
    last["waiting_on"] = np.select(
        [last["status"].isin(["offer", "accepted"]), last["thank_you_sent_on"].isna(), passed,
         last["next_step_by"].notna(), final],
        ["offer stage", "thank-you not sent", "employer's date passed", "employer's date ahead",
         "decision after final round"], default="no date given")
    last["label"] = last["company"] + " · " + last["role"]
    return last.sort_values("days_since", ascending=False).reset_index(drop=True)
