"""The fictional demo practice: the small committed one, and a generated one of any size.

The committed practice (``data/demo``, import format) is written as of
``DEMO_AS_OF``; loading it shifts every date by whole weeks so that its "today"
falls on the latest same weekday on or before the day it is loaded, so weekends
fall where they did (public holidays do not move with it: a shifted demo may meet
one its dates were not written around). Tests load it unshifted and pass
``DEMO_AS_OF``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from .. import paths
from ..schema import DATE, TABLE_ORDER, TABLES
from .store import Store
from .transfer import read_source
from .validation import RawTable, parse_dates, validate_tables

DEMO_AS_OF = dt.date(2026, 11, 16)  # a Monday: the committed demo's "today"


def week_shift(today: dt.date, anchor: dt.date = DEMO_AS_OF) -> int:
    """Days to add to the demo (a multiple of 7) so its today is on or before ``today``."""
    return ((today - anchor).days // 7) * 7


def shift_dates(raw: dict[str, RawTable], days: int) -> dict[str, RawTable]:
    if not days:
        return raw
    out = {}
    for name, r in raw.items():
        f = r.frame.copy()
        for col in TABLES[name].columns_of(DATE):
            if col in f:
                d = parse_dates(f[col].where(f[col].astype(str).str.strip().ne("")))
                f[col] = (d + pd.Timedelta(days=days)).dt.strftime("%Y-%m-%d").fillna("")
        out[name] = RawTable(f, r.source, r.first_row)
    return out


def load_demo(store: Store, today: dt.date | None = None, shift: bool = True) -> tuple[int, dt.date]:
    """Import the committed demo practice. Returns (days shifted, the demo's today)."""
    raw, _ = read_source(paths.demo_dir())
    days = week_shift(today or dt.date.today()) if shift else 0
    ids, links = store.stored_keys()
    store.upsert(validate_tables(shift_dates(raw, days), ids, links))
    return days, DEMO_AS_OF + dt.timedelta(days=days)


# ------------------------------------------------------------ generated practice

_FIRST = [
    "Alex",
    "Sam",
    "Priya",
    "Noah",
    "Lena",
    "Omar",
    "Grace",
    "Mateo",
    "Yuki",
    "Ines",
    "Kofi",
    "Mira",
    "Theo",
    "Zara",
    "Ravi",
    "Elena",
    "Jonas",
    "Aisha",
    "Hugo",
    "Nadia",
    "Felix",
    "Chloe",
    "Ivan",
    "Leah",
]
_LAST = [
    "Berg",
    "Okafor",
    "Lindqvist",
    "Marchetti",
    "Natarajan",
    "Hale",
    "Voss",
    "Park",
    "Menon",
    "Moore",
    "Cho",
    "Duarte",
    "Blake",
    "Grant",
    "Liu",
    "Martins",
    "Price",
    "Whitaker",
    "Reyes",
    "Kowalski",
]
_CO_A = [
    "North",
    "Blue",
    "Harbor",
    "Cedar",
    "Lumen",
    "Quarry",
    "Atlas",
    "Granite",
    "Pine",
    "River",
    "Orchid",
    "Willow",
    "Summit",
    "Copper",
    "Silver",
    "Maple",
    "Falcon",
    "Aurora",
    "Delta",
    "Iris",
]
_CO_B = [
    "wind Analytics",
    "fin Logistics",
    " Health",
    " Bank",
    " Software",
    " Labs",
    " Freight",
    " Systems",
    "crest Studio",
    "bend Media",
    " Energy",
    " Robotics",
    " Insurance",
    " Foods",
    " Retail",
    " Bio",
]
_ROLES = [
    "Data Analyst",
    "Product Manager",
    "UX Designer",
    "Software Engineer",
    "Operations Lead",
    "Marketing Manager",
    "Financial Analyst",
    "Project Manager",
    "Account Executive",
    "HR Partner",
]
_TOPICS = [
    "stakeholder reporting",
    "the project behind a reference",
    "pricing experiments",
    "team leadership",
    "SQL depth",
    "customer research",
    "budget ownership",
    "cross-team delivery",
]


def generate_practice(
    n_coachees: int, seed: int = 0, as_of: dt.date | None = None, apps_per_coachee: int = 40
) -> dict[str, pd.DataFrame]:
    """A plausible practice as import-format text tables (every cell a string).

    Employers answer a few days to several weeks after an interview; some are
    late on their own date, some never answer. Deterministic for a given seed.
    """
    rng = np.random.default_rng(seed)
    as_of = pd.Timestamp(as_of or DEMO_AS_OF)
    day = lambda offsets: (as_of - pd.to_timedelta(offsets, unit="D")).strftime("%Y-%m-%d")  # noqa: E731

    cids = [f"G{i:05d}" for i in range(n_coachees)]
    coachees = pd.DataFrame(
        {
            "coachee_id": cids,
            "name": [
                f"{_FIRST[i % len(_FIRST)]} {_LAST[(i // len(_FIRST)) % len(_LAST)]} {i}" for i in range(n_coachees)
            ],
            "email": [f"coachee{i}@example.com" for i in range(n_coachees)],
            "coach": [f"Coach {i % 7}" for i in range(n_coachees)],
            "notes": "",
            # Most coachees name their country, so business days skip its public holidays.
            "country": rng.choice(["US", "US", "GB", "DE", ""], size=n_coachees),
            "subdivision": "",
        }
    )
    n_apps = n_coachees * apps_per_coachee
    app_coachee = np.repeat(cids, apps_per_coachee)
    app_ids = np.array([f"{c}-A{j:02d}" for c in cids for j in range(apps_per_coachee)])
    status = rng.choice(
        ["active", "rejected", "withdrawn", "offer", "accepted", "hired"],
        size=n_apps,
        p=[0.55, 0.3, 0.08, 0.03, 0.02, 0.02],
    )
    applied_ago = rng.integers(10, 120, size=n_apps)
    companies = np.array([a + b for a in _CO_A for b in _CO_B])
    applications = pd.DataFrame(
        {
            "application_id": app_ids,
            "coachee_id": app_coachee,
            "company": companies[rng.integers(0, len(companies), n_apps)],
            "role": np.array(_ROLES)[rng.integers(0, len(_ROLES), n_apps)],
            "status": status,
            "applied_on": day(applied_ago),
            "source": rng.choice(["referral", "job board", "recruiter", "company site"], size=n_apps),
            "notes": "",
        }
    )

    # Interviews: 0–3 rounds per application, after it was applied for.
    rounds = rng.choice([0, 1, 2, 3], size=n_apps, p=[0.35, 0.35, 0.2, 0.1])
    iv_app = np.repeat(np.arange(n_apps), rounds)
    iv_round = np.concatenate([np.arange(1, r + 1) for r in rounds]) if rounds.sum() else np.array([], int)
    gap = rng.integers(5, 15, size=len(iv_app))
    held_ago = np.maximum(applied_ago[iv_app] - 7 - (iv_round - 1) * gap, 0)
    final = iv_round == rounds[iv_app]
    promised = rng.integers(3, 10, size=len(iv_app))
    has_date = rng.random(len(iv_app)) < 0.7
    nxt = held_ago - promised
    iv_names = [f"{_FIRST[k % len(_FIRST)]} {_LAST[k % len(_LAST)]}" for k in rng.integers(0, 10_000, len(iv_app))]
    # Thank-yous go out; only some of the last few days' are still to write.
    thanked = (held_ago > 3) | (rng.random(len(iv_app)) < 0.5)
    # Days since each application's latest interview (for briefings below).
    last_held = pd.Series(held_ago).groupby(iv_app).min().reindex(range(n_apps)).to_numpy()
    # An application silent for six weeks after its last interview has been closed.
    status = np.where((status == "active") & (np.nan_to_num(last_held, nan=0) > 42), "rejected", status)
    applications["status"] = status
    pref = rng.choice(["email", "phone"], size=len(iv_app), p=[0.8, 0.2])
    interviews = pd.DataFrame(
        {
            "interview_id": [f"{app_ids[a]}-I{r}" for a, r in zip(iv_app, iv_round)],
            "application_id": app_ids[iv_app],
            "held_on": day(held_ago),
            "round": iv_round.astype(str),
            "format": rng.choice(["phone", "video", "onsite", "panel"], size=len(iv_app)),
            "interviewer_name": iv_names,
            "interviewer_email": [n.lower().replace(" ", ".") + "@employer.example" for n in iv_names],
            "interviewer_phone": [f"+1 555 {1000 + k % 9000:04d}" for k in range(len(iv_app))],
            "preferred_channel": pref,
            "next_step_by": np.where(has_date, day(nxt), ""),
            "final_round": np.where(final, "true", "false"),
            "thank_you_sent_on": np.where(thanked, day(np.maximum(held_ago - 1, 0)), ""),
            "topics": np.array(_TOPICS)[rng.integers(0, len(_TOPICS), len(iv_app))],
            "notes": "",
            "how_it_went": np.where(rng.random(len(iv_app)) < 0.5, "Felt good about it", ""),
        }
    )

    # Contract v2: a recruiter as the point of contact on some applications, and
    # panels where two more people were met (each thanked like the interviewer).
    # (every application with an offer has one: the offer came from someone)
    rec_idx = np.flatnonzero(
        ((rounds > 0) & (rng.random(n_apps) < 0.3)) | np.isin(status, ["offer", "accepted", "hired"])
    )
    rec_names = [f"{_FIRST[(k * 5) % len(_FIRST)]} {_LAST[(k * 11) % len(_LAST)]}" for k in range(len(rec_idx))]
    recruiters = pd.DataFrame(
        {
            "contact_id": [f"{app_ids[a]}-K0" for a in rec_idx],
            "application_id": app_ids[rec_idx],
            "name": rec_names,
            "title": "Recruiter",
            "email": [n.lower().replace(" ", ".") + "@recruit.example" for n in rec_names],
            "phone": "",
            "preferred_channel": "email",
            "point_of_contact": "true",
        }
    )
    panel_idx = np.flatnonzero((interviews["format"].to_numpy() == "panel") & (rng.random(len(iv_app)) < 0.5))
    panelists = pd.DataFrame(
        {
            "contact_id": [f"{interviews.interview_id.iat[i]}-K{k}" for i in panel_idx for k in (1, 2)],
            "application_id": np.repeat(app_ids[iv_app[panel_idx]], 2),
            "name": [
                f"{_FIRST[(i + k) % len(_FIRST)]} {_LAST[(i * 2 + k) % len(_LAST)]}" for i in panel_idx for k in (1, 2)
            ],
            "title": "Panel member",
            "phone": "",
            "preferred_channel": "email",
            "point_of_contact": "false",
        }
    )
    panelists["email"] = panelists["name"].str.lower().str.replace(" ", ".") + "@employer.example"
    contacts = pd.concat([recruiters, panelists], ignore_index=True)
    interview_contacts = pd.DataFrame(
        {
            "interview_id": np.repeat(interviews["interview_id"].to_numpy()[panel_idx], 2),
            "contact_id": panelists["contact_id"].to_numpy(),
            "thank_you_sent_on": np.repeat(interviews["thank_you_sent_on"].to_numpy()[panel_idx], 2),
        }
    )

    # Employer answers: log-normal delay (median ~9 days), a fifth never answer.
    delay = np.clip(np.round(rng.lognormal(2.2, 0.6, len(iv_app))), 1, 60).astype(int)
    answered = (rng.random(len(iv_app)) < 0.8) & (held_ago - delay >= 0)
    m_idx = np.flatnonzero(answered)
    messages = pd.DataFrame(
        {
            "message_id": [f"{interviews.interview_id.iat[i]}-M" for i in m_idx],
            "application_id": app_ids[iv_app[m_idx]],
            "on": day(held_ago[m_idx] - delay[m_idx]),
            "direction": "received",
            "channel": "email",
            "kind": "update",
            "summary": "Word from the employer",
        }
    )
    # Half the candidates left waiting asked where things stand, three days after
    # the employer's own date (only dates already past: nxt counts days ago).
    asked = rng.random(len(iv_app)) < 0.5
    inq = np.flatnonzero(~answered & has_date & (nxt > 3) & asked)
    inquiries = pd.DataFrame(
        {
            "message_id": [f"{interviews.interview_id.iat[i]}-Q" for i in inq],
            "application_id": app_ids[iv_app[inq]],
            "on": day(nxt[inq] - 3),
            "direction": "sent",
            "channel": "email",
            "kind": "status_inquiry",
            "summary": "Asked where things stand",
        }
    )
    # Some employers move their date in a message, then go quiet again; some
    # candidates log a phone call (any kind of sent message is a contact).
    moved = np.flatnonzero(~answered & has_date & (nxt > 1) & (rng.random(len(iv_app)) < 0.2))
    moves = pd.DataFrame(
        {
            "message_id": [f"{interviews.interview_id.iat[i]}-D" for i in moved],
            "application_id": app_ids[iv_app[moved]],
            "on": day(nxt[moved]),
            "direction": "received",
            "channel": "email",
            "kind": "update",
            "summary": "The decision has moved",
            "next_step_by": day(nxt[moved] - rng.integers(3, 10, len(moved))),
        }
    )
    called = np.flatnonzero((held_ago > 2) & (rng.random(len(iv_app)) < 0.1))
    calls = pd.DataFrame(
        {
            "message_id": [f"{interviews.interview_id.iat[i]}-C" for i in called],
            "application_id": app_ids[iv_app[called]],
            "on": day(held_ago[called] - 2),
            "direction": "sent",
            "channel": "phone",
            "kind": "call",
            "summary": "A call to say I am still keen",
        }
    )
    messages = pd.concat([messages, inquiries, moves, calls], ignore_index=True).fillna("")

    refs = pd.DataFrame(
        {
            "reference_id": [f"{c}-R{k}" for c in cids for k in range(3)],
            "coachee_id": np.repeat(cids, 3),
            "name": [f"{_FIRST[(i * 7) % len(_FIRST)]} {_LAST[(i * 3) % len(_LAST)]}" for i in range(3 * n_coachees)],
            "relationship": "former colleague",
            "email": [f"ref{i}@example.org" for i in range(3 * n_coachees)],
            "phone": "",
        }
    )
    # References are given later on, and not to every employer: a reference per
    # application from the second round on, for about half of them.
    with_iv = np.flatnonzero((rounds > 1) & (rng.random(n_apps) < 0.5))
    ru_ref = rng.integers(0, 3, len(with_iv))
    # References are briefed after the latest interview, bar the last few days';
    # most were checked in with in the past week, some report a call.
    since = last_held[with_iv].astype(int)
    briefed = (since > 3) | (rng.random(len(with_iv)) < 0.3)
    checked = briefed & (since > 7) & (rng.random(len(with_iv)) < 0.8)
    called = briefed & (rng.random(len(with_iv)) < 0.3)
    reference_uses = pd.DataFrame(
        {
            "reference_id": [f"{app_coachee[a]}-R{k}" for a, k in zip(with_iv, ru_ref)],
            "application_id": app_ids[with_iv],
            "given_on": day(applied_ago[with_iv] - 3),
            "briefed_on": np.where(briefed, day(np.maximum(since - 1, 0)), ""),
            "last_checkin_on": np.where(checked, day(rng.integers(0, 7, len(with_iv))), ""),
            "contacted_on": np.where(called, day(np.maximum(since - 5, 0)), ""),
        }
    )
    p_idx = np.flatnonzero(rng.random(len(iv_app)) < 0.15)
    promises = pd.DataFrame(
        {
            "promise_id": [f"{interviews.interview_id.iat[i]}-P" for i in p_idx],
            "application_id": app_ids[iv_app[p_idx]],
            "what": "a work sample",
            "due_on": day(np.maximum(held_ago[p_idx] - 2, 0)),
            # Promises are kept; a few made in the last days are still open.
            "done_on": np.where(
                (held_ago[p_idx] > 4) | (rng.random(len(p_idx)) < 0.5), day(np.maximum(held_ago[p_idx] - 2, 0)), ""
            ),
        }
    )
    o_idx = np.flatnonzero(np.isin(status, ["offer", "accepted", "hired"]))
    verbal_ago = np.maximum(applied_ago[o_idx] - 30, 1)
    written = rng.random(len(o_idx)) < 0.6
    offers = pd.DataFrame(
        {
            "application_id": app_ids[o_idx],
            "verbal_on": day(verbal_ago),
            "written_requested_on": "",
            "written_received_on": np.where(written, day(np.maximum(verbal_ago - 2, 0)), ""),
            "salary": np.where(written, "$95,000", ""),
            "benefits": np.where(rng.random(len(o_idx)) < 0.5, "Health", ""),
            "expense_reimbursement": "",
            "conditions": "",
            "response_deadline": "",
            "accepted_on": np.where(
                np.isin(status[o_idx], ["accepted", "hired"]) & written, day(np.maximum(verbal_ago - 4, 0)), ""
            ),
            "approved_on": np.where((status[o_idx] == "hired") & written, day(np.maximum(verbal_ago - 6, 0)), ""),
            "rescinded_on": "",
        }
    )
    # Once an offer is approved the coachee withdrew from every other open application.
    approved = offers["approved_on"].to_numpy() != ""
    done = np.isin(app_coachee, np.unique(app_coachee[o_idx][approved])) & ~np.isin(
        status, ["rejected", "withdrawn", "hired"]
    )
    status = np.where(done, "withdrawn", status)
    applications["status"] = status
    # Closing: a rejected or withdrawn application closed a week after its last
    # interview (or its application); references heard how it ended, bar a few.
    ended_ago = np.where(np.isnan(last_held), applied_ago - 7, np.nan_to_num(last_held) - 7)
    closed = np.isin(status, ["rejected", "withdrawn", "hired"])
    applications["closed_on"] = np.where(closed, day(np.maximum(ended_ago, 0).astype(int)), "")
    ru_closed = closed[with_iv]
    reference_uses["thanked_on"] = np.where(
        ru_closed & (rng.random(len(with_iv)) < 0.9), day(np.maximum(ended_ago[with_iv] - 1, 0).astype(int)), ""
    )
    _contract_v3_facts(
        np.random.default_rng([seed, 3]),
        coachees,
        applications,
        contacts,
        interviews,
        interview_contacts,
        reference_uses,
        promises,
        messages,
        done,
    )
    messages = _contract_v3_outcomes(np.random.default_rng([seed, 4]), as_of, applications, promises, offers, messages)
    tables = {
        "coachees": coachees,
        "applications": applications,
        "interviews": interviews,
        "contacts": contacts,
        "interview_contacts": interview_contacts,
        "references": refs,
        "reference_uses": reference_uses.drop_duplicates(["reference_id", "application_id"]),
        "promises": promises,
        "messages": messages,
        "offers": offers,
    }
    return {name: tables[name].astype(str).reset_index(drop=True) for name in TABLE_ORDER}


def _contract_v3_outcomes(rng, as_of, applications, promises, offers, messages) -> pd.DataFrame:
    """The outcomes a coach meets every week, as contract v3 records them, from
    their own random stream: rejections by email, out-of-office replies to status
    inquiries, some kept promises logged as sent (a few came back: a bounce naming
    the promise, so it is due again), response deadlines, requests for more time once
    one passed, and offers rescinded. ``offers`` is changed in place; the messages,
    with the new ones, are returned. Nothing is dated after ``as_of``."""
    iso = lambda t: pd.Series(t).dt.strftime("%Y-%m-%d").to_numpy()  # noqa: E731
    ts = lambda col: pd.to_datetime(col.replace("", None))  # noqa: E731
    new: list[pd.DataFrame] = []

    def add(ids, app, on, direction, kind, summary, **extra):
        new.append(
            pd.DataFrame(
                {
                    "message_id": ids,
                    "application_id": app,
                    "on": on,
                    "direction": direction,
                    "channel": "email",
                    "kind": kind,
                    "summary": summary,
                    **extra,
                }
            )
        )

    rejected = applications[applications["status"].eq("rejected") & applications["closed_on"].ne("")]
    rejected = rejected[rng.random(len(rejected)) < 0.3]
    add(
        rejected["application_id"] + "-X",
        rejected["application_id"],
        rejected["closed_on"],
        "received",
        "rejection",
        "They will not be going ahead",
    )
    inquiries = messages[messages["kind"].eq("status_inquiry")]
    ooo = inquiries[rng.random(len(inquiries)) < 0.15]
    add(
        ooo["message_id"] + "-OOO",
        ooo["application_id"],
        ooo["on"],
        "received",
        "auto_reply",
        "Automatic reply: out of the office",
    )
    kept = promises[promises["done_on"].ne("")]
    kept = kept[rng.random(len(kept)) < 0.3]  # most clients log only the date a promise was kept
    action = "keep_promise:" + kept["application_id"] + ":" + kept["promise_id"]
    add(
        kept["promise_id"] + "-S",
        kept["application_id"],
        kept["done_on"],
        "sent",
        "keep_promise",
        "Sent what was promised",
        action_id=action,
    )
    back = rng.random(len(kept)) < 0.1
    add(
        kept["promise_id"][back] + "-B",
        kept["application_id"][back],
        kept["done_on"][back],
        "received",
        "bounce",
        "Undeliverable: what was promised",
        action_id=action[back],
    )

    # A week to answer a written offer not yet accepted; past it, half asked for more time.
    received = ts(offers["written_received_on"])
    open_letter = received.notna() & offers["accepted_on"].eq("") & (rng.random(len(offers)) < 0.5)
    deadline = received + pd.Timedelta(days=7)
    offers["response_deadline"] = np.where(open_letter, iso(deadline), offers["response_deadline"])
    asked = open_letter & (deadline <= as_of) & (rng.random(len(offers)) < 0.5)
    add(
        offers["application_id"][asked] + "-E",
        offers["application_id"][asked],
        iso(deadline[asked]),
        "sent",
        "extension_request",
        "Asked for a few more days to answer",
    )
    # A few offers not yet approved were withdrawn by the employer five days on.
    gone = ts(offers["verbal_on"]) + pd.Timedelta(days=5)
    rescind = offers["approved_on"].eq("") & (gone <= as_of) & (rng.random(len(offers)) < 0.05)
    offers["rescinded_on"] = np.where(rescind, iso(gone), offers["rescinded_on"])
    return pd.concat([messages, *new], ignore_index=True).fillna("")


_CLOSED_REASONS = ["not_a_fit", "relocation", "compensation", "timing", "other", "", ""]


def _contract_v3_facts(
    rng, coachees, applications, contacts, interviews, interview_contacts, reference_uses, promises, messages, done
) -> None:
    """Contract v3's facts on a generated practice, in place, from their own random
    stream (so the v2 practice a seed made stays the same): roles, per-person topics,
    talking points, why withdrawn applications ended, when promises were made,
    Message-IDs and second addresses."""
    n = len(coachees)
    coachees["other_emails"] = np.where(rng.random(n) < 0.2, [f"coachee{i}@personal.example" for i in range(n)], "")
    withdrawn = applications["status"].to_numpy() == "withdrawn"
    reason = np.array(_CLOSED_REASONS)[rng.integers(0, len(_CLOSED_REASONS), len(applications))]
    applications["closed_reason"] = np.where(done, "another_offer", np.where(withdrawn, reason, ""))
    contacts["role"] = np.where(contacts["title"].eq("Recruiter"), "recruiter", "interviewer")
    interview_contacts["topics"] = np.array(_TOPICS)[rng.integers(0, len(_TOPICS), len(interview_contacts))]
    reference_uses["talking_points"] = np.where(
        rng.random(len(reference_uses)) < 0.7,
        np.array(_TOPICS)[rng.integers(0, len(_TOPICS), len(reference_uses))],
        "",
    )
    # A promise is made at an interview: the one its id comes from.
    made_at = promises["promise_id"].str.removesuffix("-P")
    held = interviews.set_index("interview_id")["held_on"]
    promises["made_on"] = made_at.map(held).fillna("")
    promises["made_at_interview_id"] = made_at.where(made_at.isin(held.index), "")
    received = messages["direction"].eq("received")
    messages["kind"] = np.where(messages["summary"].eq("The decision has moved"), "date_moved", messages["kind"])
    messages["message_ref"] = np.where(received, "<" + messages["message_id"] + "@mail.employer.example>", "")


def load_generated(store: Store, n_coachees: int, seed: int = 0, as_of: dt.date | None = None) -> dict[str, dict]:
    text = generate_practice(n_coachees, seed, as_of)
    raw = {name: RawTable(df, f"generated {name}") for name, df in text.items()}
    ids, links = store.stored_keys()
    return store.upsert(validate_tables(raw, ids, links))


def write_practice(text: dict[str, pd.DataFrame], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, df in text.items():
        df.to_csv(out_dir / f"{name}.csv", index=False, lineterminator="\n")
