"""The coaching rules' numbers, with their defaults, overridable per coach.

Settings live in one TOML file (``data/settings.toml`` by default, or the file named
by ``FOLLOWUP_SETTINGS``)::

    [defaults]
    grace_business_days = 3

    [coach."Dana Reyes"]
    checkin_every_days = 10

Values under ``[coach."NAME"]`` apply to the coachees whose ``coach`` is NAME.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tomllib
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from . import paths
from .errors import SettingsError  # noqa: F401 (re-exported)


@dataclass(frozen=True)
class Settings:
    #: Guidance 1: the thank-you note is due this many days after the interview.
    thank_you_within_days: int = 1
    #: Guidance 4: business days to wait after the employer's date before asking.
    grace_business_days: int = 2
    #: Guidance 4: if a status inquiry gets no answer, ask again after this many days…
    status_inquiry_repeat_days: int = 7
    #: … at most this many status inquiries per interview date.
    max_status_inquiries: int = 2
    #: Guidance 4: with no date given after a non-final round, ask after this many
    #: business days of silence.
    no_date_followup_business_days: int = 7
    #: Guidance 5: after the final round, a check-in every this many days…
    checkin_every_days: int = 7
    #: … at most this many check-ins per application…
    max_checkins: int = 3
    #: … and never two employer contacts within this many business days.
    pester_gap_business_days: int = 5
    #: Guidance 6: ask each reference whether they were called, every this many days.
    reference_checkin_every_days: int = 7
    #: … at most this many times per reference and application.
    max_reference_checkins: int = 3
    #: Guidance 7: if the written offer has not come this many business days after
    #: asking for it, ask again.
    written_offer_followup_business_days: int = 3
    #: Guidance 8: an offer response deadline this close makes the review most urgent.
    deadline_warning_days: int = 2
    #: Actions due later than this many days after the as-of date are not listed.
    upcoming_days: int = 7
    #: Reports and the analysis give a typical wait (a median, the day by which
    #: 80% heard back) only from at least this many employer answers; below it
    #: they say there are too few.
    min_answers_for_times: int = 5
    #: Whose public holidays are not business days when a coachee gives no country:
    #: an ISO 3166-1 alpha-2 code (US, GB, DE…); "" means weekends only.
    country: str = ""
    #: The working session's Mail tab reads mailboxes only inside these folders
    #: (";"-separated; symlinks out of them are not followed); "" means none.
    mail_folders: str = ""
    #: `followup app`: at most this many pages open at once (each has its kernel).
    app_max_kernels: int = 4

    def __post_init__(self):
        # The same checks as the settings file: Settings(thank_you_within_days=10**6)
        # made in code (a notebook, a test) is refused as the file would refuse it.
        for name, value in _checked(asdict(self), "Settings").items():
            object.__setattr__(self, name, value)

    def as_dict(self) -> dict[str, int | str]:
        return asdict(self)


#: What one import file (a CSV, or a sheet of a workbook) may hold: past this many
#: rows it is refused by name while it is being read, never read to the end.
MAX_IMPORT_ROWS = 1_000_000

#: Settings whose value is text rather than a whole number.
TEXT_SETTINGS = ("country", "mail_folders")

#: The sane range of each number (a year of days at most, a handful of repeats):
#: beyond them a typo (1000000) would push dates past what a calendar can hold.
RANGES = {
    "thank_you_within_days": (0, 30),
    "grace_business_days": (0, 60),
    "status_inquiry_repeat_days": (1, 90),
    "max_status_inquiries": (0, 10),
    "no_date_followup_business_days": (1, 120),
    "checkin_every_days": (1, 90),
    "max_checkins": (0, 10),
    "pester_gap_business_days": (0, 60),
    "reference_checkin_every_days": (1, 90),
    "max_reference_checkins": (0, 10),
    "written_offer_followup_business_days": (1, 60),
    "deadline_warning_days": (0, 60),
    "upcoming_days": (0, 365),
    "app_max_kernels": (1, 64),
    "min_answers_for_times": (1, 1000),
}


def as_toml(base: Settings, per_coach: dict[str, Settings], source: str = "") -> str:
    """The settings in force as valid TOML (tomli-w quotes what needs quoting: a
    coach named 'Dana "DJ" Reyes' is still a valid table name)."""
    import tomli_w

    doc: dict = {"defaults": base.as_dict()}
    coaches = {
        coach: {k: v for k, v in s.as_dict().items() if v != base.as_dict()[k]} for coach, s in per_coach.items()
    }
    if coaches:
        doc["coach"] = coaches
    head = f"# from {source}\n" if source else ""
    return head + tomli_w.dumps(doc)


def coach_from_environment() -> str | None:
    """FOLLOWUP_COACH, its outer spaces dropped; None when unset or empty. A value
    of only spaces is refused (SettingsError): read as "no coach", it would open
    every coach's coachees to someone meant to see only their own."""
    value = os.environ.get("FOLLOWUP_COACH")
    if not value:
        return None
    if not value.strip():
        raise SettingsError(
            "FOLLOWUP_COACH is only spaces: set it to a coach's name exactly as the coachees' coach column "
            "holds it, or unset it to work on every coach's coachees"
        )
    return value.strip()


def settings_file() -> Path:
    return Path(os.environ.get("FOLLOWUP_SETTINGS") or paths.data_dir() / "settings.toml")


def _checked(values, where: str) -> dict:
    known = [f.name for f in fields(Settings)]
    if not isinstance(values, dict):
        raise SettingsError(f"{where} must be a table of settings (name = number), not {values!r}")
    out = {}
    for name, value in values.items():
        if name not in known:
            raise SettingsError(f"{where}: unknown setting {name!r}; known settings: {', '.join(known)}")
        if name in TEXT_SETTINGS:
            if not isinstance(value, str):
                raise SettingsError(f'{where}: {name} must be text such as "US", not {value!r}')
            if name == "mail_folders":
                out[name] = value.strip()
                continue
            value = value.strip().upper()
            if value and not _known_country(value):
                raise SettingsError(
                    f"{where}: {name} {value!r} is not a country code the holidays calendar knows "
                    "(ISO 3166-1 alpha-2: US, GB, DE…)"
                )
            out[name] = value
            continue
        low, high = RANGES.get(name, (0, 365))
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise SettingsError(f"{where}: {name} must be a whole number from {low} to {high}, not {value!r}")
        out[name] = value
    return out


def _known_country(code: str) -> bool:
    import holidays

    try:
        holidays.country_holidays(code)
    except NotImplementedError:
        return False
    return True


def load_settings(path: Path | None = None) -> tuple[Settings, dict[str, Settings]]:
    """Read the settings file: the defaults, and a Settings for each coach named in it.

    A missing file means every default applies.
    """
    path = Path(path) if path else settings_file()
    if not path.exists():
        return Settings(), {}
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: not valid TOML ({exc})") from exc
    # A misspelt section would otherwise be ignored without a word.
    unknown = [k for k in raw if k not in ("defaults", "coach")]
    if unknown:
        raise SettingsError(
            f'{path}: unknown section {", ".join(map(repr, unknown))}; expected [defaults] and [coach."NAME"]'
        )
    base = replace(Settings(), **_checked(raw.get("defaults", {}), f"{path} [defaults]"))
    coaches = raw.get("coach", {})
    if not isinstance(coaches, dict):
        raise SettingsError(f'{path}: coach must be tables such as [coach."Dana Reyes"], not {coaches!r}')
    per_coach = {
        coach: replace(base, **_checked(values, f'{path} [coach."{coach}"]')) for coach, values in coaches.items()
    }
    return base, per_coach


# ------------------------------------------------------------ the working session's day
# The working session records its day ("Today is") per store, next to the settings
# file, so the response-times notebook (in another kernel, or in JupyterLab while the
# session runs in the app) judges from the same day. A day recorded on an earlier
# date is not used: last week's session does not hold this week's day.


def session_day_file() -> Path:
    return settings_file().with_name("session_day.json")


def _store_key(store_url: str | None) -> str:
    # A hash of the store's URL: a PostgreSQL password is never written down.
    return hashlib.sha256(paths.store_url(store_url).encode()).hexdigest()[:16]


def _session_days() -> dict:
    try:
        days = json.loads(session_day_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return days if isinstance(days, dict) else {}


def record_session_day(store_url: str | None, day: dt.date, today: dt.date | None = None) -> bool:
    """Record ``day`` as the working session's day for the store at ``store_url``
    (None: the default store). False if it could not be written (the session goes on)."""
    days = _session_days()
    days[_store_key(store_url)] = {"day": str(day)[:10], "recorded_on": (today or dt.date.today()).isoformat()}
    try:
        paths.write_atomic(session_day_file(), json.dumps(days, indent=1, sort_keys=True).encode())
    except OSError:
        return False
    return True


def session_day(store_url: str | None = None, today: dt.date | None = None) -> str | None:
    """The day (``YYYY-MM-DD``) a working session on this store recorded today, or None."""
    entry = _session_days().get(_store_key(store_url))
    if not isinstance(entry, dict) or entry.get("recorded_on") != (today or dt.date.today()).isoformat():
        return None
    day = str(entry.get("day", ""))
    try:
        return dt.date.fromisoformat(day).isoformat()
    except ValueError:
        return None
