"""Business days: weekends and the public holidays of the coachee's country.

The holidays come from the ``holidays`` library, one list per (country,
subdivision) and run, handed to numpy's business-day functions: a whole column of
dates moves at once, one numpy call per calendar in use, never a loop per row.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

#: A calendar is (country, subdivision); ("", "") means weekends only.
Calendar = tuple[str, str]
WEEKENDS_ONLY: Calendar = ("", "")
# Years of holidays built per calendar: wide enough for any date the rules move,
# small enough to build in milliseconds.
_YEARS_BACK, _YEARS_AHEAD = 3, 2


@lru_cache(maxsize=256)
def holiday_dates(calendar: Calendar, first_year: int, last_year: int) -> np.ndarray:
    """The public holidays of ``calendar`` from ``first_year`` to ``last_year``, as
    ``datetime64[D]`` (empty for weekends only, or a country the library lacks)."""
    country, subdivision = calendar
    if not country:
        return np.array([], dtype="datetime64[D]")
    import holidays

    try:
        days = holidays.country_holidays(country, subdiv=subdivision or None, years=range(first_year, last_year + 1))
    except NotImplementedError:  # validation refuses these; a stale store keeps weekends only
        return np.array([], dtype="datetime64[D]")
    return np.array(sorted(days.keys()), dtype="datetime64[D]")


def calendars_of(coachees: pd.DataFrame, default_country: str = "") -> pd.Series:
    """Each coachee's calendar, by coachee_id: their country and subdivision, else
    the ``default_country`` setting (with no subdivision), else weekends only."""
    country = coachees.get("country", pd.Series(None, index=coachees.index, dtype=object))
    subdiv = coachees.get("subdivision", pd.Series(None, index=coachees.index, dtype=object))
    has_own = country.notna() & country.astype(str).str.strip().ne("")
    c = country.where(has_own, default_country or "").fillna("").astype(str).str.upper()
    s = subdiv.where(has_own & subdiv.notna(), "").fillna("").astype(str).str.upper()
    return pd.Series(list(zip(c, s)), index=coachees["coachee_id"].values, dtype=object)


def add_business_days(dates: pd.Series, n, calendars: pd.Series | None = None, around=None) -> pd.Series:
    """``dates`` moved ``n`` business days on; NaT stays NaT.

    Business days are counted after the date itself, so Friday + 2 and Saturday + 2
    are both Tuesday (a holiday counts like a weekend day); ``n = 0`` leaves the
    date as it is. ``calendars`` gives each row's Calendar (aligned with
    ``dates``); None means weekends only. ``around`` is the day the years of
    holidays are built around (default: the latest date given).
    """
    d = pd.to_datetime(dates).to_numpy().astype("datetime64[D]")
    n = np.broadcast_to(np.asarray(n, dtype=np.int64), d.shape)
    out = d.copy()
    valid = ~np.isnat(d)
    if calendars is None:
        groups = {WEEKENDS_ONLY: valid}
    else:
        codes, uniques = pd.factorize(pd.Series(calendars.to_numpy(), dtype=object))
        groups = {tuple(cal): valid & (codes == i) for i, cal in enumerate(uniques)}
    year = (
        pd.Timestamp(around).year
        if around is not None
        else (pd.Timestamp(d[valid].max()).year if valid.any() else 2000)
    )
    for cal, mask in groups.items():
        if not mask.any():
            continue
        hol = holiday_dates(tuple(cal), year - _YEARS_BACK, year + _YEARS_AHEAD)
        # roll="backward" treats a day off as the business day before it, so the
        # count starts at the next business day (roll="forward" would lose a day).
        moved = np.busday_offset(d[mask], n[mask], roll="backward", holidays=hol)
        out[mask] = np.where(n[mask] == 0, d[mask], moved)
    return pd.Series(out.astype("datetime64[ns]"), index=dates.index)
