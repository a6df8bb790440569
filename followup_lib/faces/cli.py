"""The ``followup`` command. Every command is a few lines over ``followup_lib``.

Heavy libraries (pandas, SQLAlchemy, Jupyter) are imported inside the commands,
so ``followup --help`` starts at once.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import textwrap
from pathlib import Path

from ..errors import FollowupError, UserError, describe


def iso_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip()[:10])
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (expected YYYY-MM-DD)") from None


def _store(args):
    from ..data.store import open_store

    return open_store(args.db)


def _settings():
    from ..settings import load_settings

    return load_settings()


def _coachee_ids(store, args) -> list[str]:
    ids = store.coachee_ids()
    if getattr(args, "all", False):
        return ids
    if not args.coachee:
        raise UserError("say which coachee: --coachee ID, or --all")
    if args.coachee not in ids:
        known = ", ".join(ids[:10]) + (" …" if len(ids) > 10 else "")
        raise UserError(f"no coachee {args.coachee!r} in the store (known: {known or 'none yet'})")
    return [args.coachee]


def _actions(store, args):
    from ..logic.rules import due_actions

    ids = _coachee_ids(store, args)
    tables = store.load(coachee_id=None if getattr(args, "all", False) else ids)
    base, per_coach = _settings()
    return due_actions(tables, args.as_of, base, per_coach), tables


# ------------------------------------------------------------------ commands


def cmd_import(args) -> int:
    from ..data.transfer import import_path

    result = import_path(_store(args), args.path)
    print(result.summary())
    return 0


def cmd_export(args) -> int:
    from ..data.transfer import export_store

    written = export_store(_store(args), args.dir, coachee_id=args.coachee)
    print(f"wrote {len(written)} file(s) to {Path(args.dir).resolve()}")
    return 0


def format_table(actions) -> str:
    """The human view: one block per coachee, most urgent first."""
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


def actions_json(actions) -> str:
    """The JSON contract of ``followup due``: an array of objects, dates as YYYY-MM-DD."""
    if actions.empty:
        return "[]"
    out = actions.assign(due_on=actions["due_on"].dt.strftime("%Y-%m-%d"), priority=actions["priority"].astype(int))
    # pandas writes the array in C; json.dumps over records costs as much as the rules.
    return out.to_json(orient="records", force_ascii=False, indent=2)


def cmd_due(args) -> int:
    actions, _ = _actions(_store(args), args)
    if args.format == "json":
        print(actions_json(actions))
    else:
        print(format_table(actions))
    return 0


def cmd_drafts(args) -> int:
    from ..logic.drafts import DraftResult, render_drafts, write_drafts

    store = _store(args)
    actions, tables = _actions(store, args)
    out = Path(args.out)
    result = render_drafts(actions, tables)  # once: the facts are indexed once for everyone
    if args.all:
        # Each coachee's drafts go in a folder of their own.
        owner = dict(zip(actions["action_id"], actions["coachee_id"]))
        for coachee_id in actions["coachee_id"].drop_duplicates():
            mine = DraftResult([d for d in result.drafts if owner[d.action_id] == coachee_id])
            paths = write_drafts(mine, out / coachee_id)
            print(f"wrote {len(paths)} draft(s) to {(out / coachee_id).resolve()}")
    else:
        paths = write_drafts(result, out)
        print(f"wrote {len(paths)} draft(s) to {out.resolve()}")
        for p in paths:
            print(f"  {p.name}")
    for problem in result.problems:
        print(f"  not drafted: {problem}", file=sys.stderr)
    return 0


def cmd_calendar(args) -> int:
    from ..logic.drafts import render_drafts
    from ..logic.ics import build_calendar, write_calendar

    actions, tables = _actions(_store(args), args)
    rendered = render_drafts(actions, tables)
    drafts = {d.action_id: d for d in rendered.drafts}
    path = write_calendar(build_calendar(actions, args.as_of, drafts), args.out)
    print(f"wrote {len(actions)} entr{'y' if len(actions) == 1 else 'ies'} to {Path(path).resolve()}")
    for problem in rendered.problems:
        print(f"  entry without a draft: {problem}", file=sys.stderr)
    return 0


def cmd_demo(args) -> int:
    from ..data.demo import load_demo, load_generated

    store = _store(args)
    if args.coachees:
        counts = load_generated(store, args.coachees, args.seed, args.as_of)
        total = sum(c["added"] + c["changed"] for c in counts.values())
        print(f"generated {args.coachees} coachees ({total} rows written) into {store.url}")
        return 0
    if not store.is_empty() and not args.force:
        print(f"the store at {store.url} already holds data; the demo was not loaded (use --force to add it anyway)")
        return 0
    days, today = load_demo(store, args.as_of or dt.date.today(), shift=not args.no_shift)
    print(f"loaded the demo practice into {store.url} (dates moved {days} days; its today is {today})")
    return 0


def cmd_settings(args) -> int:
    from ..settings import settings_file

    base, per_coach = _settings()
    print(f"# from {settings_file()}{'' if settings_file().exists() else ' (not present: every default applies)'}")
    print("[defaults]")
    for k, v in base.as_dict().items():
        print(f"{k} = {v}")
    for coach, s in per_coach.items():
        print(f'\n[coach."{coach}"]')
        for k, v in s.as_dict().items():
            if v != base.as_dict()[k]:
                print(f"{k} = {v}")
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
    from .report import run_reports

    url = store_url(args.db)
    store = _IdsOnly(url) if url.startswith("sqlite:///") else _store(args)
    ids = _coachee_ids(store, args)
    return run_reports(store.url, ids, args.week_ending, args.out, jobs=args.jobs)


def cmd_app(args) -> int:
    from .app import serve_app

    return serve_app(
        args.db, coachee_id=args.coachee, port=args.port, open_browser=not args.no_browser, as_of=args.as_of
    )


def cmd_backup(args) -> int:
    dest = _store(args).backup(args.dest)
    print(f"backed up the store to {dest.resolve()}")
    return 0


def cmd_restore(args) -> int:
    store = _store(args)
    store.restore(args.source)
    print(f"restored {args.source} into {store.url}")
    return 0


# ------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="followup",
        description="Follow-up Workbook: what to do after the interviews, and the drafts to do it.",
    )
    p.add_argument("--db", default=None, help="store URL or SQLite file (default: $FOLLOWUP_DB or data/followup.db)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def who(sp, all_help="every coachee"):
        g = sp.add_mutually_exclusive_group()
        g.add_argument("--coachee", metavar="ID", help="one coachee")
        g.add_argument("--all", action="store_true", help=all_help)

    def as_of(sp):
        sp.add_argument(
            "--as-of",
            type=iso_date,
            default=dt.date.today(),
            metavar="YYYY-MM-DD",
            help="judge from this day (default: today)",
        )

    sp = sub.add_parser("import", help="add or replace rows from a folder of CSVs or an .xlsx (all or nothing)")
    sp.add_argument("path")
    sp.set_defaults(func=cmd_import)

    sp = sub.add_parser("export", help="write the store as a folder of CSVs (or an .xlsx if DIR ends in .xlsx)")
    sp.add_argument("dir", metavar="DIR")
    sp.add_argument("--coachee", metavar="ID", help="only this coachee's rows")
    sp.set_defaults(func=cmd_export)

    sp = sub.add_parser("due", help="the follow-up actions due, and why")
    who(sp)
    as_of(sp)
    sp.add_argument("--format", choices=["table", "json"], default="table")
    sp.set_defaults(func=cmd_due)

    sp = sub.add_parser("drafts", help="write a draft (.eml or phone script) for every action that needs one")
    who(sp)
    as_of(sp)
    sp.add_argument("--out", required=True, metavar="DIR")
    sp.set_defaults(func=cmd_drafts)

    sp = sub.add_parser("calendar", help="write the actions as an .ics calendar")
    who(sp)
    as_of(sp)
    sp.add_argument("--out", required=True, metavar="FILE.ics")
    sp.set_defaults(func=cmd_calendar)

    sp = sub.add_parser("report", help="the weekly progress report, as HTML beside the executed notebook")
    who(sp)
    sp.add_argument("--week-ending", type=iso_date, default=dt.date.today(), metavar="YYYY-MM-DD")
    sp.add_argument("--out", default=None, metavar="DIR", help="default: reports/")
    sp.add_argument(
        "--jobs", type=int, default=max(1, min(4, os.cpu_count() or 1)), help="reports rendered at once with --all"
    )
    sp.set_defaults(func=cmd_report)

    sp = sub.add_parser("demo", help="load the fictional demo practice (only into an empty store)")
    sp.add_argument("--coachees", type=int, default=0, metavar="N", help="generate a practice of N coachees instead")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument(
        "--as-of",
        type=iso_date,
        default=None,
        metavar="YYYY-MM-DD",
        help="the day the demo's today should land on or just before (default: today)",
    )
    sp.add_argument("--no-shift", action="store_true", help="keep the demo's own dates")
    sp.add_argument("--force", action="store_true", help="load even if the store holds data")
    sp.set_defaults(func=cmd_demo)

    sp = sub.add_parser("app", help="serve the working session as a code-free app (Voilà) on 127.0.0.1")
    sp.add_argument("--coachee", metavar="ID")
    sp.add_argument("--port", type=int, default=8866)
    sp.add_argument("--no-browser", action="store_true", help="only print the address")
    sp.add_argument(
        "--as-of",
        type=iso_date,
        default=None,
        metavar="YYYY-MM-DD",
        help="work as if today were this day (default: today)",
    )
    sp.set_defaults(func=cmd_app)

    sp = sub.add_parser("settings", help="show the settings in force")
    sp.set_defaults(func=cmd_settings)

    sp = sub.add_parser("backup", help="a consistent copy of the store, safe while it is in use")
    sp.add_argument("dest", metavar="DEST", help="a file, or a folder to put a dated copy in")
    sp.set_defaults(func=cmd_backup)

    sp = sub.add_parser("restore", help="replace the store with a backup")
    sp.add_argument("source", metavar="BACKUP")
    sp.set_defaults(func=cmd_restore)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `followup due | head`: the reader left; say nothing more.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (FollowupError, OSError) as exc:
        message, code = describe(exc)
        if message is None:
            raise
        print(f"followup {args.command}: {message}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
