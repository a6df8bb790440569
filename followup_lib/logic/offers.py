"""Offers side by side: every offer of one coachee in one table, its terms read
from the offer letter and every missing term flagged (guidance 8).

Pure: the typed tables in, a display-ready DataFrame out (text cells; the
report and the working session escape store text when they render it).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ..schema import CLOSED_STATUSES, OFFER_TERMS, present

MISSING = "— missing: ask for it in writing"
NO_DEADLINE = "— none given: ask when they need an answer"
OFFER_COLUMNS = [
    "company",
    "role",
    *(t.replace("_", " ") for t in OFFER_TERMS),
    "response deadline",
    "status",
]


def _day(value) -> str:
    return f"{pd.Timestamp(value):%a %d %b %Y}"


def offer_status(offer: Mapping, app_status: str | None = None) -> str:
    """Where one offer stands, in words, most decisive fact first."""
    if present(offer.get("rescinded_on")):
        return f"withdrawn by the employer on {_day(offer['rescinded_on'])}"
    if present(offer.get("approved_on")):
        return f"approved on {_day(offer['approved_on'])}: the job is yours"
    if present(offer.get("accepted_on")):
        if not present(offer.get("written_received_on")):
            # A yes to a verbal offer: nothing binds either side until the letter comes.
            asked = offer.get("written_requested_on")
            ask = f"asked for it on {_day(asked)}" if present(asked) else "ask for it"
            return f"said yes to the verbal offer on {_day(offer['accepted_on'])}; not in writing yet: {ask}"
        return f"accepted on {_day(offer['accepted_on'])}, waiting for their approval"
    if app_status in CLOSED_STATUSES:
        return f"not taken (application {app_status})"
    if present(offer.get("written_received_on")):
        return f"in writing since {_day(offer['written_received_on'])}: to decide"
    if present(offer.get("written_requested_on")):
        return f"verbal; asked for it in writing on {_day(offer['written_requested_on'])}"
    if present(offer.get("verbal_on")):
        return f"verbal only ({_day(offer['verbal_on'])}): ask for it in writing"
    return "no offer made yet"


def offers_table(tables: Mapping[str, pd.DataFrame], coachee_id: str) -> pd.DataFrame:
    """One row per offer of ``coachee_id``: company, role, salary, benefits,
    expense reimbursement, conditions, requirements, response deadline, status.

    A term the offer does not state reads ``MISSING`` (before the letter arrives,
    every term is missing: a verbal offer is not an offer), except on an offer
    withdrawn by the employer or an application closed, where there is nothing
    left to ask for: "—". An open offer with no deadline reads ``NO_DEADLINE``.
    Open offers come first, by deadline.
    """
    apps = tables["applications"]
    apps = apps[apps["coachee_id"].eq(coachee_id)][["application_id", "company", "role", "status"]]
    o = tables["offers"].merge(apps, on="application_id", how="inner")
    if o.empty:
        return pd.DataFrame(columns=OFFER_COLUMNS)
    rows = []
    for _, offer in o.iterrows():
        decided = any(present(offer.get(c)) for c in ("accepted_on", "rescinded_on", "approved_on"))
        row = {"company": offer["company"], "role": offer["role"]}
        gone = present(offer.get("rescinded_on")) or offer["status"] in CLOSED_STATUSES
        for term in OFFER_TERMS:
            row[term.replace("_", " ")] = str(offer[term]).strip() if present(offer[term]) else "—" if gone else MISSING
        if present(offer["response_deadline"]):
            row["response deadline"] = _day(offer["response_deadline"])
        else:
            row["response deadline"] = "—" if decided or offer["status"] in CLOSED_STATUSES else NO_DEADLINE
        row["status"] = offer_status(offer, offer["status"])
        row["_open"] = not decided and offer["status"] not in CLOSED_STATUSES
        row["_deadline"] = offer["response_deadline"]
        rows.append(row)
    table = pd.DataFrame(rows)
    table = table.sort_values(["_open", "_deadline", "company"], ascending=[False, True, True], na_position="last")
    return table[OFFER_COLUMNS].reset_index(drop=True)
