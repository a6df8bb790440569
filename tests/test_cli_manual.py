"""The CLI's help is the manual (issue 8): every command has a description and
examples that parse, every option says what it does and its default, ``--db`` goes
before or after the command, and no option is ever guessed from a prefix.

The commands are read from the parser itself, so a command added later is held to
the same standard without touching this file.
"""

from __future__ import annotations

import argparse
import json
import shlex

import pytest

from followup_lib.faces.cli import build_parser, main

from builders import AS_OF


def _commands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


COMMANDS = sorted(_commands())


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [
        a
        for a in parser._actions
        if not isinstance(a, argparse._HelpAction | argparse._SubParsersAction)  # -h; the command list
    ]


def _examples(parser: argparse.ArgumentParser) -> list[list[str]]:
    """The example command lines of a command's epilog, as argument lists (without ``followup``)."""
    lines = [ln.strip() for ln in (parser.epilog or "").splitlines()]
    return [shlex.split(ln)[1:] for ln in lines if ln.startswith("followup ")]


def test_the_command_list_is_read_from_the_parser():
    assert {"import", "export", "due", "drafts", "calendar", "report", "demo", "app", "settings"} <= set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_a_description_and_examples_that_parse(name):
    parser = _commands()[name]
    assert parser.description and len(parser.description.split()) >= 8, f"{name}: no description"
    examples = _examples(parser)
    assert examples, f"{name}: no example in its epilog"
    for argv in examples:
        args = build_parser().parse_args(argv)  # an example that does not parse exits 2 here
        assert args.command == name, argv


@pytest.mark.parametrize("name", ["(main)", *COMMANDS])
def test_every_option_has_help_and_its_default(name):
    parser = build_parser() if name == "(main)" else _commands()[name]
    for action in _options(parser):
        label = "/".join(action.option_strings) or action.dest
        assert action.help and action.help != argparse.SUPPRESS and action.help.strip(), f"{name} {label}: no help"
        if action.default not in (None, False, argparse.SUPPRESS):
            assert "default" in action.help, f"{name} {label}: its default ({action.default!r}) is not shown"


@pytest.mark.parametrize("name", COMMANDS)
def test_help_of_each_command_exits_zero_and_reads_as_a_manual(name, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([name, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: followup {name}")
    assert "examples:\n  followup " + name in out  # the examples keep their lines
    assert "--db URL" in out


def test_the_main_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert f"\n    {name} " in out, name


@pytest.mark.parametrize("name", COMMANDS)
def test_db_is_read_before_or_after_the_command(name):
    """Every example, with --db before the command, after it, or both (the later wins)."""
    for argv in _examples(_commands()[name]):
        argv = _without_db(argv)
        assert build_parser().parse_args(["--db", "X.db", *argv]).db == "X.db"
        assert build_parser().parse_args([name, "--db", "Y.db", *argv[1:]]).db == "Y.db"
        assert build_parser().parse_args(["--db", "X.db", name, "--db", "Y.db", *argv[1:]]).db == "Y.db"
        assert build_parser().parse_args(argv).db is None  # the default: $FOLLOWUP_DB, else data/


def test_db_before_and_after_the_command_open_the_same_store(demo_store, capsys):
    """In process, against a real store: `followup --db X due …` and `followup due --db X …`.
    (conftest points $FOLLOWUP_DB at an empty store, so the wrong store would say
    there is no coachee C001.)"""
    url = demo_store.url
    rest = ["--coachee", "C001", "--as-of", AS_OF.isoformat(), "--format", "json"]
    outputs = []
    for argv in (["--db", url, "due", *rest], ["due", "--db", url, *rest], ["due", *rest, "--db", url]):
        assert main(argv) == 0, capsys.readouterr().err
        captured = capsys.readouterr()
        assert captured.err == ""
        outputs.append(captured.out)
    actions = json.loads(outputs[0])
    assert actions and {a["coachee_id"] for a in actions} == {"C001"}
    assert outputs[1] == outputs[0] == outputs[2]


def test_a_known_failure_is_one_line_with_the_command_and_exit_2(demo_store, capsys):
    assert main(["due", "--db", demo_store.url, "--coachee", "C999"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("followup due: no coachee 'C999'"), err
    assert len(err.strip().splitlines()) == 1, err


def test_no_parser_accepts_abbreviations():
    parser = build_parser()
    assert parser.allow_abbrev is False
    for name, sub in _commands().items():
        assert sub.allow_abbrev is False, name


@pytest.mark.parametrize(
    "argv, abbreviation",
    [
        (["export", "out", "--coa", "C001"], "--coa"),
        (["export", "out", "--coache", "C001"], "--coache"),
        (["app", "--coachee", "C001", "--po", "9000"], "--po"),
        (["due", "--all", "--form", "json"], "--form"),
        (["due", "--all", "--as", "2026-11-16"], "--as"),
        (["--d=x.db", "due", "--all"], "--d"),
        (["due", "--all", "--d", "x.db"], "--d"),
    ],
)
def test_an_abbreviated_option_is_refused(argv, abbreviation, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments" in err and abbreviation in err, err


def test_coach_is_its_own_option_never_read_as_coachee():
    for argv in (["--coach", "Dana", "export", "out"], ["export", "out", "--coach", "Dana"]):
        args = build_parser().parse_args(argv)
        assert (args.coach, args.coachee) == ("Dana", None), argv
    # Given after the command it wins; absent there, the one before it stands.
    assert build_parser().parse_args(["--coach", "A", "due", "--all", "--coach", "B"]).coach == "B"
    assert build_parser().parse_args(["--coach", "A", "due", "--all"]).coach == "A"


def test_coachee_or_all_is_shown_as_required_where_one_is():
    commands = _commands()
    needing = sorted(n for n, p in commands.items() if {"--coachee", "--all"} <= _option_strings(p))
    assert needing == ["calendar", "drafts", "due", "report"]
    for name in needing:
        usage = commands[name].format_usage()
        assert "(--coachee ID | --all)" in usage, usage
    for name in ("export", "app"):  # optional there: everyone's rows; the first coachee
        assert "[--coachee ID]" in commands[name].format_usage()


@pytest.mark.parametrize("name", ["due", "drafts", "calendar", "report"])
def test_leaving_out_coachee_and_all_is_a_usage_error(name, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([name, "--out", "x"] if name in ("drafts", "calendar") else [name])
    assert exit_.value.code == 2
    assert "one of the arguments --coachee --all is required" in capsys.readouterr().err


def _option_strings(parser: argparse.ArgumentParser) -> set[str]:
    return {s for a in parser._actions for s in a.option_strings}


def _without_db(argv: list[str]) -> list[str]:
    out, skip = [], False
    for arg in argv:
        if skip or arg == "--db":
            skip = not skip
            continue
        out.append(arg)
    return out
