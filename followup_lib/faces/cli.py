"""The ``followup`` command. Every command is a few lines over ``followup_lib``.

Heavy libraries (pandas, SQLAlchemy, Jupyter) are imported inside the commands,
so ``followup --help`` starts at once.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import ConflictError, FollowupError, UserError, describe
from ..settings import coach_from_environment


def iso_date(text: str) -> dt.date:
    """A day given as YYYY-MM-DD (or a whole, valid ISO datetime: its day). Strict:
    "2026-11-16T99:99" is refused, not read as the 16th."""
    text = text.strip()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(text).date()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (expected YYYY-MM-DD)") from None


def few(text: str) -> int:
    """A small number of things (kernels kept warm): a whole number from 0 to 8."""
    n = count(text)
    if n > 8:
        raise argparse.ArgumentTypeError(f"{n} is more than 8")
    return n


def port(text: str) -> int:
    """A port to serve on: 1–65535, or 0 for a free one."""
    n = count(text)
    if n > 65535:
        raise argparse.ArgumentTypeError(f"{n} is not a port: give 1–65535, or 0 for a free one")
    return n


def count(text: str) -> int:
    """A number of things: a whole number from 0 to 100,000."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= n <= 100_000:
        raise argparse.ArgumentTypeError(f"{n} is not between 0 and 100,000")
    return n


def coach_name(text: str) -> str:
    """A coach's name as the coachees' ``coach`` column holds it (outer spaces dropped)."""
    name = text.strip()
    if not name:
        raise argparse.ArgumentTypeError("a coach's name cannot be blank")
    return name


# Only these commands may create a store; every other one refuses a store that does
# not exist (a mistyped --db must not answer "Nothing due." from a new empty one).
CREATES_STORE = ("import", "demo", "restore")


def _store(args):
    from ..data.store import open_store

    return open_store(args.db, create=getattr(args, "command", None) in CREATES_STORE)


def _output_file(path: str | Path, store, force: bool) -> Path:
    """A file a command is about to write: never the store itself, never an existing
    file unless --force, never a folder."""
    path = Path(path).expanduser()
    db = str(getattr(store, "url", "") or "")
    if db.startswith("sqlite:///"):
        store_file = Path(db.removeprefix("sqlite:///")).resolve()
        if path.resolve() in {store_file, Path(f"{store_file}-wal"), Path(f"{store_file}-shm")}:
            raise UserError(f"{path} is the store itself: write somewhere else")
    if path.is_dir():
        raise UserError(f"{path} is a folder: name a file to write")
    if path.exists() and not force:
        raise UserError(f"{path} already exists: nothing was written (use --force to replace it)")
    return path


def _settings():
    from ..settings import load_settings

    return load_settings()


# Commands that act on the whole store, every coach's coachees at once: a coach
# scoped by --coach must not back up, replace or fill another coach's data.
WHOLE_STORE = ("demo", "backup", "restore", "copy-store")


def _caseload(store, args) -> list[str]:
    """Every coachee id the command may see, sorted: the coach's own with --coach
    (or FOLLOWUP_COACH), else the whole store's."""
    if not args.coach:  # every coachee: no query of its own (nor pandas, for `report`)
        return sorted(store.coachee_ids())
    from ..data.practice import coach_coachee_ids

    ids = coach_coachee_ids(store, args.coach)
    if not ids:
        # Nothing of anyone else's is listed: not their ids, not the other coaches.
        raise UserError(
            f"no coachees for coach {args.coach!r} in the store "
            "(the name must be exactly as the coachees' coach column holds it)"
        )
    return ids


def _no_coachees(store) -> str:
    """What an empty store says, whatever the command (an empty caseload is refused by _caseload)."""
    return (
        f"No coachees in the store at {shown_url(store.url)} yet: nothing to do "
        "(followup demo loads the demo practice; followup import PATH adds your own)."
    )


def _coachee_ids(store, args) -> list[str]:
    """The coachees a command works on: --all (the caseload) or --coachee ID, which
    must be in the caseload. An empty store is said so (on stdout: not an error)."""
    ids = _caseload(store, args)
    if getattr(args, "all", False):
        if not ids:
            # On stderr: `due --format json` still prints only its (empty) array.
            print(_no_coachees(store), file=sys.stderr)
        return ids
    if not args.coachee:
        raise UserError("say which coachee: --coachee ID, or --all")
    if args.coachee not in ids:
        if args.coach and args.coachee in store.coachee_ids():
            raise UserError(f"coachee {args.coachee} is not one of coach {args.coach}'s coachees")
        known = ", ".join(ids[:10]) + (" …" if len(ids) > 10 else "")
        raise UserError(f"no coachee {args.coachee!r} in the store (known: {known or 'none yet'})")
    return [args.coachee]


# How many coachees a practice-wide command reads and judges at once: the rules
# are per coachee, so peak memory follows this, never the size of the practice.
CHUNK_COACHEES = 1500


def _chunked_actions(store, args) -> Iterator[tuple]:
    """(actions, tables) for the chosen coachees, CHUNK_COACHEES at a time.

    The actions come coachee by coachee, in id order, each coachee's most urgent
    first (for one coachee: exactly what ``due_actions`` returns). A run in chunks
    can keep that order, and gives the same output whatever the chunk size; a
    practice-wide "most urgent first" would need every action in memory at once.
    """
    from ..data.practice import chunks, load_for_rules
    from ..logic.rules import due_actions

    ids = _coachee_ids(store, args)
    base, per_coach = _settings()
    for chunk in chunks(ids, CHUNK_COACHEES):
        # Without the rows no rule, draft or calendar entry of the day reads.
        tables = load_for_rules(store, chunk, args.as_of)
        actions = due_actions(tables, args.as_of, base, per_coach)
        actions = actions.sort_values("coachee_id", kind="stable").reset_index(drop=True)
        yield actions, tables


# ------------------------------------------------------------------ commands


def cmd_import(args) -> int:
    from ..data.transfer import import_path

    result = import_path(_store(args), args.path, coach=args.coach)
    print(result.summary())
    return 0


def cmd_import_sheet(args) -> int:
    from ..data.sheet import apply_plan, import_summary, plan_sheet, save_mapping

    store = _store(args)
    _coachee_ids(store, args)  # in the store, and in the coach's caseload
    plan = plan_sheet(store, args.file, args.coachee, args.map, args.mapping, args.dates)
    print(plan.describe(update=args.update))
    if args.save_mapping and not plan.problems:
        print(f"\nsaved the mapping as {args.save_mapping!r} ({save_mapping(args.save_mapping, plan.columns)})")
    if plan.problems:
        print("\nnothing was written", file=sys.stderr)
        return 2
    if not args.apply:
        print("\nnothing was written: --apply imports it")
        return 0
    result = apply_plan(store, plan, update=args.update, coach=args.coach)
    print("\n" + import_summary(plan, result, args.update))
    return 0


def cmd_export(args) -> int:
    from ..data.transfer import export_store

    store = _store(args)
    if args.coachee:
        _coachee_ids(store, args)  # in the store, and in the coach's caseload
    elif args.coach:
        _caseload(store, args)  # a coach with no coachees is told so
    if str(args.dir).lower().endswith(".xlsx"):
        _output_file(args.dir, store, args.force)
    written = export_store(store, args.dir, coachee_id=args.coachee, coach=args.coach)
    print(f"wrote {len(written)} file(s) to {Path(args.dir).resolve()}")
    return 0


def format_table(actions) -> str:
    """The human view: one block per coachee (in the order the actions come), each
    coachee's most urgent first."""
    if actions.empty:
        return "Nothing due."
    lines = []
    width = 100
    for coachee_id, group in actions.groupby("coachee_id", sort=False):
        lines.append(f"{coachee_id}: {len(group)} action{'s' if len(group) != 1 else ''}")
        for a in group.itertuples(index=False):
            lines.append(
                f"  {a.status.upper():<8} {a.due_on:%Y-%m-%d}  P{a.priority}  {a.kind:<21} "
                f"{a.company} → {a.recipient} ({a.channel})"
            )
            lines.extend(textwrap.wrap(a.why, width, initial_indent=" " * 6, subsequent_indent=" " * 6))
        lines.append("")
    return "\n".join(lines).rstrip()


def actions_records(actions) -> list[dict]:
    """The actions as the JSON contract of ``followup due`` holds them: one dict
    per action, dates as YYYY-MM-DD, numbers as ints, missing values as None."""
    if actions.empty:
        return []
    return _contract_frame(actions).to_dict(orient="records")


def _contract_frame(actions):
    """The actions' columns as the JSON contract holds them (object columns: str,
    int or None)."""
    import pandas as pd

    out = actions.assign(
        due_on=actions["due_on"].dt.strftime("%Y-%m-%d"),
        employer_date=pd.to_datetime(actions["employer_date"]).dt.strftime("%Y-%m-%d"),
        priority=actions["priority"].astype(int),
        attempt=pd.to_numeric(actions["attempt"]).astype("Int64"),
        attempts_max=pd.to_numeric(actions["attempts_max"]).astype("Int64"),
    ).astype(object)
    return out.where(out.notna(), None)


def action_objects(actions) -> list[str]:
    """Each action of ``followup due --format json`` as its JSON object, one level into
    the array: the bytes of ``_action_object`` (and so of ``json.dumps``), made a
    column at a time (each value by json's C encoder) rather than value by value."""
    from json.encoder import encode_basestring

    import numpy as np
    from pandas.api.types import infer_dtype

    if actions.empty:
        return []
    frame = _contract_frame(actions)
    line = None
    for name in frame.columns:
        col = frame[name]
        text = infer_dtype(col, skipna=True) in ("string", "empty")
        enc = col.map(encode_basestring if text else _json_value, na_action="ignore").to_numpy(dtype=object)
        enc[col.isna().to_numpy()] = "null"
        part = _json_value(name) + ":" + enc
        line = part if line is None else line + ",\n    " + part
    return list("{\n    " + np.asarray(line, dtype=object) + "\n  }")


# The JSON of ``followup due``: an array of objects, two spaces a level, no space after a colon.
_ACTION_JSON = {"ensure_ascii": False, "indent": 2, "separators": (",", ":")}


def actions_json(actions) -> str:
    """The JSON contract of ``followup due``: an array of objects, dates as YYYY-MM-DD."""
    import json

    return json.dumps(actions_records(actions), **_ACTION_JSON)


def _json_value(value) -> str:
    """One flat value as ``json.dumps(value, ensure_ascii=False)`` writes it, by the
    json module's C string encoder (json's indenting encoder is pure Python)."""
    import json
    from json.encoder import encode_basestring

    if value is None:
        return "null"
    if isinstance(value, str):
        return encode_basestring(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return int.__repr__(value)
    return json.dumps(value, ensure_ascii=False)


def _action_object(record: dict) -> str:
    """One action of ``followup due --format json``, one level into the array: the
    bytes of ``json.dumps(record, **_ACTION_JSON)`` with each line indented once more
    (a record is flat: names to strings, numbers and nulls)."""
    if not record:
        return "{}"
    return "{\n    " + ",\n    ".join(f"{_json_value(k)}:{_json_value(v)}" for k, v in record.items()) + "\n  }"


def cmd_due(args) -> int:
    # Written chunk by chunk as it is judged: the whole practice's actions are
    # never held at once. The bytes are those of one array (or one table) of all:
    # each action is encoded on its own, one level into the array.
    out = sys.stdout
    written = 0
    for actions, _ in _chunked_actions(_store(args), args):
        if actions.empty:
            continue
        if args.format == "json":
            for item in action_objects(actions):
                out.write(("[\n  " if not written else ",\n  ") + item)
                written += 1
        else:
            out.write(("" if not written else "\n\n") + format_table(actions))
            written += len(actions)
        out.flush()
    if not written:
        out.write("[]" if args.format == "json" else f"Nothing due as of {args.as_of:%Y-%m-%d}.")
    elif args.format == "json":
        out.write("\n]")
    out.write("\n")
    return 0


def cmd_drafts(args) -> int:
    from ..logic.drafts import DraftResult, render_drafts, review_note, write_drafts
    from ..paths import inside, safe_name

    store = _store(args)
    out = Path(args.out)
    written = flagged = 0
    for actions, tables in _chunked_actions(store, args):
        # Once a chunk: the facts are indexed once for its coachees. One draft per person per day.
        result = render_drafts(actions, tables, as_of=args.as_of, upcoming=args.upcoming)
        if args.all:
            # Each coachee's drafts go in a folder of their own.
            for coachee_id in actions["coachee_id"].drop_duplicates():
                mine = DraftResult([d for d in result.drafts if d.coachee_id == coachee_id])
                # A coachee's folder is named from their id by the one safe-name function.
                folder = inside(out, safe_name(coachee_id))
                paths = write_drafts(mine, folder)
                print(f"wrote {len(paths)} draft(s) to {folder}")
        else:
            paths = write_drafts(result, out)
            print(f"wrote {len(paths)} draft(s) to {out.resolve()}")
            for p in paths:
                print(f"  {p.name}")
        for problem in result.problems:
            print(f"  not drafted: {problem}", file=sys.stderr)
        # What the coach adds or checks before sending (each draft's X-Followup-Review).
        written += len(result.drafts)
        for d in result.drafts:
            if d.review:
                flagged += 1
                print(f"  to review: {d.filename}: {review_note(d)}")
    if args.all and not written:
        print(f"No drafts written: no message is due as of {args.as_of:%Y-%m-%d}.")
    else:
        print(f"{flagged} of {written} draft(s) need a personal line or a check before sending (X-Followup-Review)")
    return 0


def cmd_sent(args) -> int:
    from ..logic.drafts import read_draft_file
    from .sending import complete_draft

    draft = read_draft_file(args.draft)
    store = _store(args)
    args.coachee, args.all = draft.coachee_id, False
    _coachee_ids(store, args)  # the draft's coachee: in the store, and in the coach's caseload
    try:
        logged = complete_draft(store, draft, args.on, _settings())
    except ConflictError as exc:  # already logged: the call was wrong, nothing was written
        raise UserError(exc.user_message()) from None
    for line in logged:
        print(line)
    return 0


def cmd_mail(args) -> int:
    from ..logic.mail_match import format_proposals
    from .mail import log_mail, read_mail

    store = _store(args)
    _coachee_ids(store, args)
    settings = _settings()
    result, summary = read_mail(store, args.coachee, args.path, settings, since=args.since)
    print(format_proposals(result))
    print()
    print(summary)
    chosen = result.to_write
    if not args.apply:
        print(f"nothing was written: --apply logs the {len(chosen)} new one{'s' if len(chosen) != 1 else ''}")
        return 0
    drafts = sum(1 for p in chosen if p.draft is not None)
    added, lines = log_mail(store, chosen, settings)
    for line in lines:
        print(line)
    messages = added - drafts
    print(
        f"logged {messages} message{'s' if messages != 1 else ''} and {drafts} sent draft{'s' if drafts != 1 else ''}"
    )
    return 0


def cmd_calendar(args) -> int:
    from ..logic.drafts import render_drafts
    from ..logic.ics import calendar_envelope, calendar_events, completed_actions
    from ..paths import write_atomic_stream

    store = _store(args)
    path = _output_file(args.out, store, args.force)
    # Written chunk by chunk: the opening, every live entry, then every entry
    # completed since (kept aside until the end), then the closing — the bytes
    # build_calendar gives for everyone at once.
    head, tail = calendar_envelope()
    entries = 0
    with write_atomic_stream(path) as f, tempfile.TemporaryFile() as completed:
        f.write(head)
        for actions, tables in _chunked_actions(store, args):
            rendered = render_drafts(actions, tables, as_of=args.as_of)
            names = dict(zip(tables["coachees"]["coachee_id"], tables["coachees"]["name"])) if args.all else None
            live, done = calendar_events(
                actions,
                args.as_of,
                rendered.by_action(),
                done=completed_actions(tables, args.as_of),
                coachee_names=names,
            )
            for event in live:
                f.write(event.to_ical())
            for event in done:
                completed.write(event.to_ical())
            entries += len(actions)
            for problem in rendered.problems:
                print(f"  entry without a draft: {problem}", file=sys.stderr)
        completed.seek(0)
        shutil.copyfileobj(completed, f)
        f.write(tail)
    print(f"wrote {entries} entr{'y' if entries == 1 else 'ies'} to {path.resolve()}")
    return 0


def cmd_demo(args) -> int:
    from ..data.demo import load_demo, load_generated

    store = _store(args)
    if args.coachees:
        counts = load_generated(store, args.coachees, args.seed, args.as_of)
        total = sum(c["added"] + c["changed"] for c in counts.values())
        print(f"generated {args.coachees} coachees ({total} rows written) into {shown_url(store.url)}")
        return 0
    if not store.is_empty() and not args.force:
        print(
            f"the store at {shown_url(store.url)} already holds data; the demo was not loaded "
            "(--force loads it anyway: stored rows with the demo's ids are replaced by the demo's, the others are kept)"
        )
        return 0
    days, today = load_demo(store, args.as_of or dt.date.today(), shift=not args.no_shift)
    print(f"loaded the demo practice into {shown_url(store.url)} (dates moved {days} days; its today is {today})")
    return 0


def cmd_settings(args) -> int:
    from ..settings import as_toml, settings_file

    base, per_coach = _settings()
    if args.suggest:
        return _suggest_grace(args, base, per_coach)
    if args.coach:  # a coach sees the defaults and their own values, not the other coaches'
        per_coach = {name: s for name, s in per_coach.items() if name == args.coach}
    where = f"{settings_file()}{'' if settings_file().exists() else ' (not present: every default applies)'}"
    print(as_toml(base, per_coach, where), end="")
    return 0


def _suggest_grace(args, base, per_coach) -> int:
    """The grace period that covers 75% of late answers in this practice (or in the
    coach's caseload, with --coach), next to the setting in force. Too few cases is
    an answer, not an error: exit 0."""
    from ..logic.survival import suggest_grace

    store = _store(args)
    ids = _caseload(store, args)
    if not ids:
        print(_no_coachees(store))
        return 0
    tables = store.load(coachee_id=ids if args.coach else None)
    settings = per_coach.get(args.coach, base) if args.coach else base
    result = suggest_grace(tables, settings, args.as_of or dt.date.today())
    if result.cases == 0:
        # Nothing to count yet: said as such, not as "Only 0 employers…".
        print(
            "No employer in this practice has answered after the date they gave yet, so there is nothing "
            f"to suggest from; the current setting stays: {result.setting} = {result.current}."
        )
        return 0
    print(result.text)
    return 0


class _IdsOnly:
    """Just enough of a store to list coachees: the report command then starts
    without pandas or SQLAlchemy (the notebook loads them)."""

    def __init__(self, url: str):
        from ..data.ids import sqlite_coachee_ids

        self.url = url
        self._ids = sqlite_coachee_ids(url)

    def coachee_ids(self) -> list[str]:
        return self._ids


def cmd_report(args) -> int:
    from ..paths import store_url
    from ..reporting.batch import run_reports

    url = store_url(args.db)
    store = _IdsOnly(url) if url.startswith("sqlite:///") and not args.coach else _store(args)
    ids = _coachee_ids(store, args)
    if not ids:
        return 0  # said by _coachee_ids
    return run_reports(
        store.url, ids, args.week_ending, args.out, jobs=args.jobs, fmt=args.format, scheduler=args.scheduler
    )


def cmd_app(args) -> int:
    from .app import serve_app

    if args.coach:
        store = _store(args)
        try:
            if args.coachee:
                _coachee_ids(store, args)  # the coach's own coachee, or refused
        finally:
            store.engine.dispose()
    # The app's kernels read the scope from the environment it is served with
    # (app_environment copies os.environ; main has set FOLLOWUP_COACH).
    return serve_app(
        args.db,
        coachee_id=args.coachee,
        port=args.port,
        open_browser=not args.no_browser,
        as_of=args.as_of,
        token=not args.no_token,
        client=args.client,
        preheat=args.preheat,
    )


def cmd_backup(args) -> int:
    store = _store(args)
    dest = Path(args.dest)
    if not dest.is_dir():
        _output_file(dest, store, args.force)
    dest = store.backup(dest)
    print(f"backed up the store to {dest.resolve()}")
    return 0


def cmd_restore(args) -> int:
    source = Path(args.source)
    if not source.is_file():
        raise UserError(f"{source} does not exist (or is not a file); nothing was restored")
    store = _store(args)
    if not store.is_empty() and not args.force:
        raise UserError(
            f"the store at {shown_url(store.url)} holds data: restoring replaces all of it with {source}; "
            "nothing was restored (back it up first, then add --force)"
        )
    store.restore(source)
    print(f"restored {args.source} into {shown_url(store.url)}")
    return 0


def cmd_copy_store(args) -> int:
    from ..data.copy import copy_store
    from ..paths import store_url

    counts = copy_store(_store(args), store_url(args.to))
    per_table = ", ".join(f"{name}: {n:,}" for name, n in counts.items())
    print(f"copied {sum(counts.values()):,} rows into {shown_url(store_url(args.to))} ({per_table})")
    return 0


def shown_url(url: str) -> str:
    """A store URL for a message, any password hidden."""
    from ..data.store import shown_url as hidden

    return hidden(url)


# ------------------------------------------------------------------ parser


class _Version(argparse.Action):
    """``--version``: the installed package's version, looked up only when asked."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("followup-workbook")
        except PackageNotFoundError:
            found = "unknown (not installed: pip install -e .)"
        print(f"followup {found}")
        parser.exit()


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and examples keep their lines; option help is wrapped as usual."""

    def __init__(self, prog):
        super().__init__(prog, max_help_position=30)

    def add_argument(self, action):
        super().add_argument(action)
        if isinstance(action, argparse._SubParsersAction):
            # argparse measures the commands' names without the indent they are printed
            # with, so the longest one (import-sheet) would go on a line of its own.
            longest = max(map(len, action.choices), default=0)
            self._action_max_length = max(self._action_max_length, longest + self._current_indent + 2)


DB_HELP = "the store: a SQLAlchemy URL or a SQLite file (default: $FOLLOWUP_DB, else data/followup.db)"
COACH_HELP = (
    "work only on this coach's coachees (those whose coach is exactly NAME): --all, "
    "exports, imports, the app (default: $FOLLOWUP_COACH, else every coachee)"
)
DAY = "YYYY-MM-DD"


def _command(sub, name: str, summary: str, description: str, examples: str, func) -> argparse.ArgumentParser:
    """One subcommand: its line in ``followup --help``, its manual page in
    ``followup NAME --help`` (description and examples), and ``--db`` and
    ``--coach``, which may come before or after the command."""
    sp = sub.add_parser(
        name,
        help=summary,
        description=textwrap.dedent(description).strip(),
        epilog="examples:\n" + textwrap.indent(textwrap.dedent(examples).strip(), "  "),
        formatter_class=_Formatter,
        allow_abbrev=False,  # --coach must never be read as --coachee, nor --co as either
    )
    # SUPPRESS: given after the command it is set; absent, it leaves the value
    # given before the command (or the main parser's default) alone.
    sp.add_argument("--db", metavar="URL", default=argparse.SUPPRESS, help=DB_HELP)
    if name not in WHOLE_STORE:  # those refuse a coach: not offered
        sp.add_argument("--coach", metavar="NAME", type=coach_name, default=argparse.SUPPRESS, help=COACH_HELP)
    sp.set_defaults(func=func)
    return sp


def _who(sp, all_help: str = "every coachee in the store (with --coach: every one of theirs)") -> None:
    """--coachee ID or --all: exactly one is required."""
    g = sp.add_mutually_exclusive_group(required=True)
    g.add_argument("--coachee", metavar="ID", help="one coachee, by id (e.g. C001)")
    g.add_argument("--all", action="store_true", help=all_help)


def _as_of(sp, help: str = "judge from this day (default: today)") -> None:
    sp.add_argument("--as-of", type=iso_date, default=dt.date.today(), metavar=DAY, help=help)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="followup",
        description=textwrap.dedent(
            """\
            Follow-up Workbook: what to do after the interviews, and the drafts to do it.

            Every command reads and writes one store, chosen by --db (before or after
            the command), else $FOLLOWUP_DB, else data/followup.db. --coach NAME (or
            $FOLLOWUP_COACH) limits every command to that coach's coachees."""
        ),
        epilog=textwrap.dedent(
            """\
            examples:
              followup demo                                  load the fictional demo practice
              followup due --all                             today's actions for everyone
              followup drafts --coachee C001 --out drafts/   the messages to send
              followup --db sqlite:///other.db due --all     another store
              followup --coach "Dana Reyes" due --all        one coach's caseload

            `followup COMMAND --help` describes each command, with examples."""
        ),
        formatter_class=_Formatter,
        allow_abbrev=False,
    )
    p.add_argument("--version", action=_Version, help="print the workbook's version and exit")
    p.add_argument("--db", metavar="URL", default=None, help=DB_HELP)
    p.add_argument("--coach", metavar="NAME", type=coach_name, default=None, help=COACH_HELP)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    sp = _command(
        sub,
        "import",
        "add or replace rows from a folder of CSVs or an .xlsx (all or nothing)",
        """
        Add rows to the store, or replace the rows with the same ids, from a folder of
        CSV files (one per table, named after it, e.g. interviews.csv), a single table's
        .csv, or an .xlsx workbook (one sheet per table). Every row is checked first:
        if any row is wrong, nothing is imported and each problem is listed.
        """,
        """
        followup import data/demo
        followup import ~/Downloads/interviews.csv
        followup import practice.xlsx
        """,
        cmd_import,
    )
    sp.add_argument(
        "path",
        metavar="PATH",
        help="a folder of CSVs, one table's .csv (named after it, e.g. interviews.csv), or an .xlsx",
    )

    sp = _command(
        sub,
        "import-sheet",
        "read a client's own job tracker (.csv, .xlsx, .ods) into the store (--apply writes)",
        """
        Read a spreadsheet the client kept (one row per application: a plain template,
        a Google Sheet or Excel export, a Huntr/Teal/Simplify CSV) for one coachee.
        Columns are matched by meaning (English, German, French and Spanish headers,
        near misses by similarity); statuses and dates are read by name, the day-month
        order decided per column. By default nothing is written: the mapping chosen,
        the columns not used and the first rows as they will be stored are printed.
        --apply imports them all or nothing; importing the same sheet again adds only
        new rows, and a row that differs from the store is kept unless --update.
        """,
        """
        followup import-sheet ~/Downloads/job-tracker.csv --coachee C007
        followup import-sheet tracker.xlsx --coachee C007 --map "Position Title=role" --apply
        followup import-sheet teal-export.csv --coachee C008 --save-mapping teal
        followup import-sheet teal-later.csv --coachee C008 --mapping teal --apply
        """,
        cmd_import_sheet,
    )
    sp.add_argument("file", metavar="FILE", help="the client's sheet: a .csv, .xlsx or .ods")
    sp.add_argument("--coachee", metavar="ID", required=True, help="whose applications they are (e.g. C001)")
    sp.add_argument("--apply", action="store_true", help="write what the dry run shows (default: write nothing)")
    sp.add_argument(
        "--update", action="store_true", help="also replace rows that differ from the store (default: keep the store's)"
    )
    sp.add_argument(
        "--map",
        action="append",
        metavar="HEADER=FIELD",
        help='read a column as a field ("Position Title=role"), or not at all ("Excitement=-"); repeatable',
    )
    sp.add_argument("--mapping", metavar="NAME", help="start from a mapping saved with --save-mapping")
    sp.add_argument("--save-mapping", metavar="NAME", help="save the mapping used, by name, for --mapping NAME")
    sp.add_argument(
        "--dates",
        choices=["dmy", "mdy"],
        help="day first or month first, for date columns whose values and the coachee's country cannot tell",
    )

    sp = _command(
        sub,
        "export",
        "write the store as a folder of CSVs (or an .xlsx if DIR ends in .xlsx)",
        """
        Write every table of the store as a folder of CSV files in the import format,
        or as one workbook when DIR ends in .xlsx. `followup import` reads either back.
        """,
        """
        followup export backup-csv/
        followup export practice.xlsx
        followup export c001/ --coachee C001
        """,
        cmd_export,
    )
    sp.add_argument("dir", metavar="DIR", help="the folder to write (created if needed), or a file ending in .xlsx")
    sp.add_argument("--coachee", metavar="ID", help="only this coachee's rows (default: everyone's)")
    sp.add_argument("--force", action="store_true", help="replace the file if it already exists (default: refuse)")

    sp = _command(
        sub,
        "due",
        "the follow-up actions due, and why",
        """
        The follow-up actions for one coachee or all of them, most urgent first: what
        to do, by when, to whom and over which channel, and why (the rule that made it
        due). Overdue and due actions come first, then those coming up. With --all,
        coachee by coachee (in id order), each one's most urgent first: the practice
        is judged a chunk of coachees at a time, so memory stays the same at any size.
        """,
        """
        followup due --coachee C001
        followup due --all --as-of 2026-11-16
        followup due --coachee C002 --format json
        """,
        cmd_due,
    )
    _who(sp)
    _as_of(sp)
    sp.add_argument(
        "--format",
        choices=["table", "json"],
        default="table",
        help="table: one block per coachee, for people; json: an array of objects, for scripts (default: %(default)s)",
    )

    sp = _command(
        sub,
        "drafts",
        "write a draft (.eml or phone script) for every action that needs one",
        """
        Write a draft for every due action that needs a message: an .eml file a mail
        client opens (To, Subject, body) or, for a phone call, a short .txt script.
        With --all, each coachee's drafts go in a folder of their own under DIR.
        """,
        """
        followup drafts --coachee C001 --out reports/drafts/C001
        followup drafts --all --out reports/drafts --as-of 2026-11-16
        """,
        cmd_drafts,
    )
    _who(sp)
    _as_of(sp)
    sp.add_argument("--out", required=True, metavar="DIR", help="the folder to write the drafts to (created if needed)")
    sp.add_argument(
        "--upcoming",
        action="store_true",
        help="also draft what is coming up in the next days, each for its own day (default: only what is due "
        "or overdue)",
    )

    sp = _command(
        sub,
        "sent",
        "mark a draft sent from a mail client (or a call made): log it and complete its actions",
        """
        Record that a draft written by `followup drafts` went out: every action it
        covers (its X-Followup-Actions) is completed as "Mark sent" does it, with one
        messages row per action holding the text sent. A draft already logged is
        refused, naming the message, and nothing is written twice.
        """,
        """
        followup sent reports/drafts/C001/2026-11-16-thank_you_note-harbor-health-elena-voss.eml
        followup sent call-script.txt --on 2026-11-17
        """,
        cmd_sent,
    )
    sp.add_argument("draft", metavar="DRAFT_FILE", help="a .eml or .txt draft written by followup drafts")
    sp.add_argument(
        "--on", type=iso_date, default=dt.date.today(), metavar=DAY, help="the day it was sent (default: today)"
    )

    sp = _command(
        sub,
        "mail",
        "propose the messages of an exported mailbox to log (--apply logs them)",
        """
        Read a mailbox the client exported — an mbox file (Gmail Takeout, Thunderbird),
        a Maildir (Maildir++ subfolders, mbsync trees), Apple Mail's .mbox folders, or
        a folder of .eml files — and propose what to log for one coachee: mail
        addressed to them (or in a thread logged for them) from an application's
        people, an applicant-tracking service naming the company, a contact in Cc, or
        their domain, as received, with its kind (rejection, offer, invitation,
        date_moved...) and the date it states; mail they sent as sent (a draft from
        `followup drafts`, or a message written by hand, completes the actions it
        answers); out-of-office replies, bounces and newsletters shown as ignored,
        with the reason. A message matching two applications is shown as ambiguous,
        never guessed; a message that cannot be read is skipped and named.

        By default the proposals are printed and nothing is written. --apply logs
        the new ones in one transaction; reading the same mailbox again adds nothing
        (each message is keyed by the coachee and its Message-ID).

        Straight from the mail server: imap://USER@HOST[:PORT]/FOLDER reads one
        folder read-only (EXAMINE, BODY.PEEK: no flag changes, nothing deleted), over
        TLS (port 993, or STARTTLS on another port; imaps:// also accepted; a private
        certificate is trusted with FOLLOWUP_IMAP_CAFILE=FILE). The password comes from
        FOLLOWUP_IMAP_PASSWORD or is asked for; it is never stored or printed.
        """,
        """
        followup mail ~/Downloads/Takeout/Mail/All\\ mail.mbox --coachee C001
        followup mail ~/Maildir --coachee C001 --apply
        followup mail sent-items/ --coachee C002 --db sqlite:///practice.db
        followup mail imap://maya@imap.example.com/INBOX --coachee C001 --since 2026-10-01
        """,
        cmd_mail,
    )
    sp.add_argument(
        "path",
        metavar="PATH",
        help="an mbox file, a Maildir (a folder with cur/ and new/), a folder of .eml files, "
        "or an IMAP folder: imap://USER@HOST[:PORT]/FOLDER",
    )
    sp.add_argument("--coachee", required=True, metavar="ID", help="whose mail it is, by id (e.g. C001)")
    sp.add_argument(
        "--since",
        type=iso_date,
        metavar=DAY,
        help="only messages of that day or later (IMAP: SINCE, the day the server received them)",
    )
    sp.add_argument(
        "--apply",
        action="store_true",
        help="log the new proposals, all in one transaction (default: only show them, write nothing)",
    )

    sp = _command(
        sub,
        "calendar",
        "write the actions as an .ics calendar",
        """
        Write the due actions as an RFC 5545 calendar (.ics) that any calendar app
        imports: one entry per action on the day it is due, with its why and its draft.
        """,
        """
        followup calendar --coachee C001 --out c001.ics
        followup calendar --all --out practice.ics --as-of 2026-11-16
        """,
        cmd_calendar,
    )
    _who(sp)
    _as_of(sp)
    sp.add_argument("--out", required=True, metavar="FILE.ics", help="the calendar file to write")
    sp.add_argument("--force", action="store_true", help="replace the file if it already exists (default: refuse)")

    sp = _command(
        sub,
        "report",
        "the weekly progress report, as HTML beside the executed notebook",
        """
        The weekly progress report for one coachee or all of them: the report notebook
        is executed in a fresh kernel and written as .ipynb, beside one self-contained
        .html page (no code, nothing fetched from the network) ready to send; with
        --format pdf or both, a PDF printed by headless Chromium. If one report fails,
        the others are still written and the exit code is 1.
        """,
        """
        followup report --coachee C001
        followup report --all --week-ending 2026-11-16 --out reports/weekly --jobs 2
        followup report --coachee C001 --format pdf
        followup report --all --scheduler tcp://scheduler.example:8786 --out /shared/reports
        """,
        cmd_report,
    )
    _who(sp)
    sp.add_argument(
        "--week-ending",
        type=iso_date,
        default=dt.date.today(),
        metavar=DAY,
        help="the last day of the week to report on (default: today)",
    )
    sp.add_argument("--out", default=None, metavar="DIR", help="the folder to write the reports to (default: reports/)")
    sp.add_argument(
        "--jobs",
        type=lambda text: max(1, min(count(text), 64)) if count(text) else count("-1"),
        default=max(1, min(4, os.cpu_count() or 1)),
        metavar="N",
        help="reports rendered at once with --all (default: the number of CPUs, at most 4; here %(default)s)",
    )
    sp.add_argument(
        "--format",
        choices=("html", "pdf", "both"),
        default="html",
        help="html: the page; pdf: printed by headless Chromium (pip install -e '.[pdf]'); both (default: %(default)s)",
    )
    sp.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:8786",
        help="render the reports on this Dask distributed cluster instead of --jobs here (pip install -e '.[dask]')",
    )

    sp = _command(
        sub,
        "demo",
        "load the fictional demo practice (only into an empty store)",
        """
        Load the fictional demo practice (three coachees, C001-C003) into the store,
        only if the store is empty. Its dates are moved by whole weeks so that its
        "today", a Monday, lands on the latest Monday on or before --as-of; with
        --no-shift they stay as written (its today is 2026-11-16: the README's
        examples use that store). Acts on the whole store: no --coach.
        With --coachees N, generate a practice of N coachees instead (for trying the
        workbook at scale).
        """,
        """
        followup demo
        followup demo --no-shift --db sqlite:///demo.db
        followup demo --coachees 500 --seed 7 --db sqlite:///big.db
        """,
        cmd_demo,
    )
    sp.add_argument(
        "--coachees",
        type=count,
        default=0,
        metavar="N",
        help="generate a practice of N coachees instead of loading the demo (default: 0, load the demo)",
    )
    sp.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="S",
        help="with --coachees: the random seed; the same seed makes the same practice (default: %(default)s)",
    )
    sp.add_argument(
        "--as-of",
        type=iso_date,
        default=None,
        metavar=DAY,
        help="the day the demo's today should land on or just before (default: today)",
    )
    sp.add_argument("--no-shift", action="store_true", help="keep the demo's own dates (its today is 2026-11-16)")
    sp.add_argument(
        "--force",
        action="store_true",
        help="load even if the store holds data: rows with the demo's ids (C001…, A001…) are replaced "
        "by the demo's, every other row is kept",
    )

    sp = _command(
        sub,
        "app",
        "serve the working session as a code-free app (Voilà) on 127.0.0.1",
        """
        Serve the working session (pick a coachee, see today's actions, log what
        happened, open and send drafts) as a web page without code, on this computer
        only (127.0.0.1). Ctrl+C, or SIGTERM/SIGHUP, stops the server and its kernels.
        """,
        """
        followup app
        followup app --coachee C001 --port 8900 --no-browser
        """,
        cmd_app,
    )
    sp.add_argument("--coachee", metavar="ID", help="open on this coachee (default: the first in the store)")
    sp.add_argument(
        "--port",
        type=port,
        default=8866,
        metavar="N",
        help="the port to serve on; 0 picks a free one, printed (default: %(default)s)",
    )
    sp.add_argument(
        "--client",
        action="store_true",
        help="for the client alone: locked to --coachee, with no picker and no one else's data",
    )
    sp.add_argument(
        "--no-token",
        action="store_true",
        help="serve without the random token in the address (anyone on this machine could open it; default: a token)",
    )
    sp.add_argument("--no-browser", action="store_true", help="only print the address; do not open a browser")
    sp.add_argument(
        "--preheat",
        type=few,
        default=1,
        metavar="N",
        help="kernels started ahead of the next page, imports done, so it opens in a few seconds; "
        "the store is still read when the page opens (0: start one per page; default: %(default)s)",
    )
    sp.add_argument(
        "--as-of",
        type=iso_date,
        default=None,
        metavar=DAY,
        help="work as if today were this day (default: today)",
    )

    sp = _command(
        sub,
        "settings",
        "show the settings in force, or suggest a grace period",
        """
        Print the settings the rules use (grace periods, cadences, limits), as TOML:
        the defaults, overridden by data/settings.toml (or $FOLLOWUP_SETTINGS), and
        each coach's own values where they differ.

        With --suggest, look at the employers in this practice who answered after the
        date they gave, count how many business days late they were, and print the
        grace_business_days that covers 75% of them next to the current setting, with
        how many cases it rests on (below 20 it suggests nothing).
        """,
        """
        followup settings
        followup settings --suggest
        followup settings --suggest --coach "Dana Reyes"
        """,
        cmd_settings,
    )
    sp.add_argument(
        "--suggest",
        action="store_true",
        help="suggest grace_business_days from this practice's late answers, instead of printing the settings",
    )
    _as_of(sp)

    sp = _command(
        sub,
        "copy-store",
        "copy every table into another, empty store (SQLite to PostgreSQL and back)",
        """
        Copy every table of this store, every row with its row version, into another
        store, in one transaction there: to move a practice from SQLite to PostgreSQL
        or back. The target must be empty: one that holds data is refused and left as
        it was. Check the move by comparing `followup export` of both.
        """,
        """
        followup copy-store --to postgresql+psycopg://dana@db.example/followup
        followup copy-store --db postgresql+psycopg:///followup --to sqlite:///practice.db
        """,
        cmd_copy_store,
    )
    sp.add_argument(
        "--to", required=True, metavar="URL", help="the store to copy into (a SQLAlchemy URL or a file path)"
    )

    sp = _command(
        sub,
        "backup",
        "a consistent copy of the store, safe while it is in use",
        """
        Copy the store to a file, consistently, even while the app or another command
        is using it. Given a folder, the copy in it is named followup-YYYYMMDD-HHMMSS.db.
        """,
        """
        followup backup backups/
        followup backup ~/followup-2026-11-16.db
        """,
        cmd_backup,
    )
    sp.add_argument("dest", metavar="DEST", help="a file, or a folder to put a dated copy in")
    sp.add_argument("--force", action="store_true", help="replace the file if it already exists (default: refuse)")

    sp = _command(
        sub,
        "restore",
        "replace the store with a backup",
        """
        Replace the store's contents with a backup made by `followup backup`. A store
        that holds data is replaced only with --force (back it up first).
        """,
        """
        followup restore backups/followup-20261116-090000.db
        followup restore backups/followup-20261109-090000.db --force
        """,
        cmd_restore,
    )
    sp.add_argument("source", metavar="BACKUP", help="the backup file to restore from")
    sp.add_argument(
        "--force", action="store_true", help="replace a store that holds data (default: refuse, nothing changed)"
    )
    return p


@contextmanager
def _coach_in_environment(coach: str | None) -> Iterator[None]:
    """FOLLOWUP_COACH set to ``coach`` while a command runs, so that what reads the
    scope from the environment (the report's and the app's kernels, the practice
    they compare against) sees the same coach as ``--coach``; restored after, for
    a caller in-process."""
    before = os.environ.get("FOLLOWUP_COACH")
    if coach:
        os.environ["FOLLOWUP_COACH"] = coach
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("FOLLOWUP_COACH", None)
        else:
            os.environ["FOLLOWUP_COACH"] = before


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        # --coach (before or after the command), else FOLLOWUP_COACH (only spaces: refused).
        args.coach = args.coach or coach_from_environment()
        if args.coach and args.command in WHOLE_STORE:
            raise UserError(
                f"{args.command} acts on the whole store, every coach's coachees: run it without --coach "
                "(and with FOLLOWUP_COACH unset)"
            )
        with _coach_in_environment(args.coach):
            return args.func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `followup due | head`: the reader left; say nothing more.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (FollowupError, OSError) as exc:
        message, code = describe(exc)
        if message is None and isinstance(exc, OSError):
            message = str(exc)  # the system's own words (no space left, name too long…)
        if message is None:
            raise
        print(f"followup {args.command}: {message}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
