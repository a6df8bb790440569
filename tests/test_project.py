"""The project's own promises: set-up files agree, start-up stays light, the README's
quick start, every command has help, and test modules share helpers only through
builders.py and conftest.py."""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
import tomllib

from builders import ROOT, run_cli


def _name(spec: str) -> str:
    return re.split(r"[<>=!~ \[]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _spec(spec: str) -> str:
    # conda has no pip extras: psycopg[binary] is psycopg there.
    return re.sub(r"\[[^]]*\]", "", re.sub(r"\s+", "", spec.strip().lower().replace("_", "-")))


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = [s for group in project["optional-dependencies"].values() for s in group]
    # dev names the other extras through the project itself (followup-workbook[...]).
    wanted = {_spec(s) for s in project["dependencies"] + extras if _name(s) != project["name"]}
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


def _commands() -> argparse._SubParsersAction:
    from followup_lib.faces.cli import build_parser

    return next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))


def test_every_command_has_help(followup):
    """Walks the parser's own list of commands: each has its line in ``followup --help``
    and a ``followup COMMAND --help`` that exits 0 (the manual's contents are checked
    in test_cli_manual.py)."""
    sub = _commands()
    # The README's commands are all still there.
    readme = {"import", "export", "due", "drafts", "sent", "mail", "calendar", "report", "demo", "app", "settings"}
    readme |= {"backup", "restore", "copy-store"}
    assert readme <= set(sub.choices), readme - set(sub.choices)
    lines = {a.dest: a.help for a in sub._choices_actions}
    for name, parser in sub.choices.items():
        assert lines.get(name), f"{name} has no line in followup --help"
        assert parser.format_help()
        ran = followup(name, "--help")
        assert ran.returncode == 0 and ran.stderr == "", (name, ran.stderr)
        assert ran.stdout.startswith(f"usage: followup {name}"), ran.stdout[:200]


def test_followup_help_as_installed():
    # A real process, on purpose: the installed entry point, as a new user first runs it.
    proc = run_cli("--help")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert proc.stdout.startswith("usage: followup")
    for name in _commands().choices:
        assert re.search(rf"^\s+{name}\s", proc.stdout, re.M), f"{name} is not listed in followup --help"


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


# ------------------------------------------------------------------ the tests' own shape


def imported_modules(source: str) -> set[str]:
    """Every module an ``import`` or ``from ... import`` names in ``source`` (at any depth)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                found.add(node.module)
            else:  # from . import test_x / from .test_x import y
                found |= {f"{node.module or ''}.{alias.name}".lstrip(".") for alias in node.names}
                if node.module:
                    found.add(node.module)
    return {name.split(".")[0] for name in found}


def test_no_test_module_imports_another():
    """Shared helpers live in tests/builders.py (fixtures in conftest.py): a test module
    that imports another runs that module's tests' set-up and ties the two together."""
    # The check itself catches each way of doing it.
    for source in (
        "from test_rules import world",
        "import test_store",
        "def f():\n    from test_analysis import make_tables",
        "from . import test_rules",
        "from .test_rules import world",
    ):
        assert any(m.startswith("test_") for m in imported_modules(source)), source
    assert not any(m.startswith("test_") for m in imported_modules("from builders import world"))

    tests = ROOT / "tests"
    files = sorted(tests.glob("test_*.py")) + [tests / "builders.py", tests / "conftest.py"]
    assert len(files) > 10
    offenders = {
        f.name: sorted(m for m in imported_modules(f.read_text(encoding="utf-8")) if m.startswith("test_"))
        for f in files
    }
    assert {name: mods for name, mods in offenders.items() if mods} == {}


def _import_cycles(package: str) -> list[list[str]]:
    """Every group of the package's modules that import each other in a circle
    (function-level imports included: grimp reads every import statement)."""
    import grimp

    graph = grimp.build_graph(package, cache_dir=None)
    modules = sorted(graph.modules)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m) & graph.modules) for m in modules}
    # Tarjan's strongly connected components, iteratively.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = 0
    for root in modules:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            if i < len(edges[node]):
                work.append((node, i + 1))
                nxt = edges[node][i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                # A package importing its own submodule (``__init__``) is not a circle of modules.
                if len(group) > 1:
                    cycles.append(sorted(group))
    return cycles


def test_no_module_imports_in_a_circle():
    assert _import_cycles("followup_lib") == []


def test_the_circle_check_finds_a_circle(tmp_path, monkeypatch):
    pkg = tmp_path / "circled"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from . import b\n")  # a function-level import counts
    (pkg / "b.py").write_text("from .a import f\n")
    (pkg / "c.py").write_text("from . import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert _import_cycles("circled") == [["circled.a", "circled.b"]]
