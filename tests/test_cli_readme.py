"""The README's command-line examples, run as written on the demo loaded unmoved
(``followup demo --no-shift``, as the README says): each ``console`` block's
``$ followup …`` line is run and its output compared with the lines shown under
it. A block that elides the rest with a line ``...`` is compared up to there."""

from __future__ import annotations

import re
import shlex

import pytest

from builders import ROOT

# The commands whose examples run on the demo alone (mail reads a mailbox of the
# reader's own; app serves until stopped; import reads the reader's folder).
RUNNABLE = ("due", "settings", "calendar", "drafts", "export")


def readme_examples() -> list[tuple[str, list[str]]]:
    """(command line, the output lines shown) for each runnable example."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = []
    for block in re.findall(r"^```console\n(.*?)^```", text, re.DOTALL | re.MULTILINE):
        command, shown = None, []
        for line in block.splitlines() + ["$ end"]:
            if line.startswith("$ "):
                if command and shlex.split(command)[1] in RUNNABLE:
                    found.append((command, shown))
                command, shown = line[2:], []
            else:
                shown.append(line)
    return found


def test_the_readme_has_runnable_examples():
    commands = [c for c, _ in readme_examples()]
    assert "followup due --coachee C001 --as-of 2026-11-16" in commands
    assert any("--format json" in c for c in commands)


@pytest.mark.parametrize(("command", "shown"), readme_examples(), ids=lambda v: v if isinstance(v, str) else "")
def test_a_readme_example_prints_what_the_readme_shows(followup, demo_store, command, shown):
    args = shlex.split(command)
    assert args[0] == "followup"
    ran = followup(*args[1:], db=demo_store.url, env={"FOLLOWUP_SETTINGS": "/nonexistent/settings.toml"})
    assert ran.returncode == 0, ran.stderr
    printed = ran.stdout.rstrip("\n").splitlines()
    elided = [i for i, line in enumerate(shown) if line.strip() == "..."]
    if elided:
        shown = shown[: elided[0]]
        printed = printed[: len(shown)]
    assert printed == shown, f"README's {command!r} is out of date: a real run prints\n" + "\n".join(printed)
