"""The project's own promises: set-up files agree, start-up stays light, the README's quick start."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

from conftest import ROOT


def _name(spec: str) -> str:
    return re.split(r"[<>=!~ \[]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _spec(spec: str) -> str:
    return re.sub(r"\s+", "", spec.strip().lower().replace("_", "-"))


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_spec(s) for s in project["dependencies"] + project["optional-dependencies"]["dev"]}
    import yaml

    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    listed = {_spec(s) for s in env["dependencies"] if isinstance(s, str) and _name(s) not in ("python", "pip")}
    assert listed == wanted, f"only in pyproject: {wanted - listed}; only in environment.yml: {listed - wanted}"


def test_help_does_not_import_heavy_libraries():
    code = (
        "import sys; from followup_lib.faces.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('pandas', 'plotly', 'jupyter_core', 'nbformat', 'IPython', 'sqlalchemy', 'pandera')"
        " if m in sys.modules]\nprint('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out, out


def test_every_command_has_help():
    from followup_lib.faces.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for name in ("import", "export", "due", "drafts", "calendar", "report", "demo", "app", "backup", "restore"):
        assert name in sub.choices, name
        assert sub.choices[name].format_help()


def test_readme_quick_start_is_two_commands():
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Quick start\s+```(?:sh|bash|console)?\n(.*?)```", text, re.S)
    assert block, "README has a Quick start code block"
    commands = [ln.strip() for ln in block.group(1).splitlines() if ln.strip()]
    assert commands == ["make demo", "make test"]


def test_gitignore_keeps_personal_data_out():
    ignored = subprocess.run(
        [
            "git",
            "check-ignore",
            "data/followup.db",
            "data/settings.toml",
            "data/templates/x.j2",
            "reports/weekly/x.html",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert len(ignored) == 4, ignored
    kept = subprocess.run(["git", "check-ignore", "data/demo/coachees.csv"], cwd=ROOT, capture_output=True, text=True)
    assert kept.returncode == 1, "the demo practice is committed"
