"""The three notebooks, executed as a coach runs them (issue 3).

nbval runs every notebook on the demo practice with a fixed day; the cells marked
``# NBVAL_CHECK_OUTPUT`` are compared with the outputs stored in the committed
notebook, every other cell must simply run. When the demo or a sentence changes
on purpose, store the new expected outputs with::

    .venv/bin/python tests/test_notebooks.py --refresh-outputs [NOTEBOOK.ipynb ...]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from builders import AS_OF, ROOT  # noqa: E402

NOTEBOOKS = ROOT / "notebooks"
ALL = ["working_session.ipynb", "weekly_report.ipynb", "response_times.ipynb"]
CHECK = "# NBVAL_CHECK_OUTPUT"


def _read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS / name, as_version=4)


def _checked(cell) -> bool:
    return cell.cell_type == "code" and CHECK in cell.source


def _sentence_output(o) -> bool:
    """What a checked cell may store: printed text, or a Markdown sentence (the
    readable form the reports use; nbval compares it too)."""
    if o.output_type == "stream":
        return True
    return o.output_type in ("execute_result", "display_data") and set(o.get("data", {})) <= {
        "text/plain",
        "text/markdown",
    }


def _text(o) -> str:
    return o.get("text") or o.get("data", {}).get("text/markdown", "")


def notebook_env(db_url: str, home: Path) -> dict:
    """The environment a notebook runs in under test: the given store, the demo's
    day, default settings (never the user's own data/settings.toml)."""
    return {
        **os.environ,
        "FOLLOWUP_DB": db_url,
        "FOLLOWUP_AS_OF": AS_OF.isoformat(),
        "FOLLOWUP_SETTINGS": str(home / "no-settings.toml"),
        "FOLLOWUP_COACHEE": "",
    }


# ------------------------------------------------------------ as committed


@pytest.mark.parametrize("name", ALL)
def test_committed_notebook_has_only_checked_outputs(name):
    nb = _read(name)
    assert nb.metadata.kernelspec.name == "python3"
    # Widget state would be compared by nothing and leaks the last session's data.
    assert "widgets" not in nb.metadata
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if _checked(cell):
            assert cell.outputs, f"{name} cell {i} is checked by nbval but has no expected output stored"
            assert all(_sentence_output(o) for o in cell.outputs), f"{name} cell {i}: store text or Markdown only"
            assert cell.execution_count is not None, f"{name} cell {i}: nbval skips a cell not marked as run"
        else:
            assert cell.outputs == [], f"{name} cell {i} is committed with outputs: strip them"
            assert cell.execution_count is None, f"{name} cell {i} is committed with an execution count"
        assert "widgets" not in cell.metadata


def test_every_notebook_has_a_parameters_cell():
    for name in ALL:
        tagged = [c for c in _read(name).cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, name
    params = next(c for c in _read("weekly_report.ipynb").cells if "parameters" in c.metadata.get("tags", []))
    for p in ("coachee_id", "week_ending", "db_url"):
        assert f"{p} =" in params.source


def test_response_times_checks_each_sentence():
    checked = [c for c in _read("response_times.ipynb").cells if _checked(c)]
    # The practice summary (it names the day, so the fixed day is in force) and
    # one sentence per chart.
    assert len(checked) >= 5
    text = "".join(_text(o) for c in checked for o in c.outputs)
    assert "as of Monday 16 November 2026" in text
    needles = (
        "half hear back within",
        "still waiting count as waiting",
        "Employers gave",
        "grace_business_days",
        "follow-ups got an answer",
        "applications",
    )
    for needle in needles:
        assert needle in text, needle


# ------------------------------------------------------------ executed


def _nbval(paths: list[Path], env: dict, workdir: Path) -> tuple[subprocess.CompletedProcess, dict[str, str]]:
    """Runs nbval (lax) on ``paths``; returns the process and {(notebook name, cell): outcome}."""
    ini = workdir / "pytest.ini"
    ini.write_text("[pytest]\n", encoding="utf-8")
    report = workdir / "nbval.xml"
    # rootdir "/": every notebook, wherever it is, is reported under its full path.
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-c",
        str(ini),
        "--rootdir",
        "/",
        "-p",
        "no:cacheprovider",
        "--nbval-lax",
        "--nbval-current-env",
        "-q",
        f"--junitxml={report}",
        *map(str, paths),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=workdir, timeout=600)
    outcomes = {}
    if report.exists():
        for case in ET.parse(report).getroot().iter("testcase"):
            notebook = next((p.name for p in paths if case.get("classname", "").endswith("." + p.name)), "?")
            key = (notebook, case.get("name"))
            bad = case.find("failure") is not None or case.find("error") is not None
            outcomes[key] = "skipped" if case.find("skipped") is not None else ("failed" if bad else "passed")
    return proc, outcomes


@pytest.mark.notebook
def test_notebooks_run_under_nbval_and_checked_outputs_match(demo_store, tmp_path):
    # A copy of the analysis notebook whose stored answer is wrong: nbval must
    # catch it, which shows the checked cells really are compared. It runs in
    # another folder, as nbval runs a notebook in its own directory.
    tampered = tmp_path / "elsewhere" / "response_times_tampered.ipynb"
    tampered.parent.mkdir()
    nb = _read("response_times.ipynb")
    victim = next(i for i, c in enumerate(nb.cells) if _checked(c) and "half hear back within" in _text(c.outputs[0]))
    nb.cells[victim].outputs[0].data["text/markdown"] = "Employers answered every interview the same day."
    nbformat.write(nb, tampered)

    proc, outcomes = _nbval([NOTEBOOKS / n for n in ALL] + [tampered], notebook_env(demo_store.url, tmp_path), tmp_path)
    detail = proc.stdout[-6000:] + proc.stderr[-3000:]
    code_cells = {n: sum(c.cell_type == "code" for c in _read(n).cells) for n in ALL}
    for name, n in code_cells.items():
        ran = {k: v for k, v in outcomes.items() if k[0] == name}
        assert len(ran) == n, f"{name}: nbval ran {len(ran)} of {n} code cells\n{detail}"
        assert set(ran.values()) == {"passed"}, f"{name}: {ran}\n{detail}"
    failed = [k for k, v in outcomes.items() if k[0] == tampered.name and v == "failed"]
    assert len(failed) == 1, f"the tampered expected output was not caught: {outcomes}\n{detail}"
    assert proc.returncode == 1


def _summary_of_response_times(env: dict, as_of: str | None = None) -> str:
    """The response-times notebook's practice summary (its parameters, its loading
    cell and that sentence only), run in a kernel with ``env``; ``as_of`` given as
    papermill gives a parameter."""
    from nbclient import NotebookClient

    nb = _read("response_times.ipynb")
    summary = next(i for i, c in enumerate(nb.cells) if _checked(c) and "practice_summary" in c.source)
    nb.cells = [c for c in nb.cells[: summary + 1] if c.cell_type == "code"]
    if as_of:
        nb.cells.insert(1, nbformat.v4.new_code_cell(f"as_of = {as_of!r}"))
    NotebookClient(nb, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute(env=env)
    return _text(nb.cells[-1].outputs[0])


@pytest.mark.notebook
def test_response_times_judges_from_the_working_sessions_day(demo_store, tmp_path):
    """The coach moves the working session's "Today is" (in JupyterLab, or in the
    app); the response-times notebook, in another kernel, judges from that day."""
    import datetime as dt

    from followup_lib.faces.session import WorkingSession
    from followup_lib.settings import session_day

    # The kernel reads the settings folder this process's sessions write to; the
    # app (or JupyterLab) was started on the demo's day, 16 November.
    env = notebook_env(demo_store.url, tmp_path)
    assert env["FOLLOWUP_SETTINGS"] == os.environ["FOLLOWUP_SETTINGS"]
    # The client's own app records nothing: the coach's notebook is not theirs to move.
    client = WorkingSession(demo_store.url, "C001", AS_OF, client=True)
    client.day.value = dt.date(2026, 11, 25)
    assert session_day(demo_store.url) is None

    coach = WorkingSession(demo_store.url, "C001", AS_OF)
    coach.day.value = dt.date(2026, 11, 20)
    assert coach.state.as_of == dt.date(2026, 11, 20)
    after = _summary_of_response_times(env)
    assert "as of Friday 20 November 2026" in after, after
    assert "working session's day" in after, after
    # The notebook's own as_of (papermill -p as_of …) wins.
    given = _summary_of_response_times(env, as_of="2026-11-18")
    assert "as of Wednesday 18 November 2026" in given and "notebook's `as_of`" in given, given


def test_a_session_day_recorded_on_an_earlier_date_is_not_used(tmp_path, db_url):
    import datetime as dt

    from followup_lib.settings import record_session_day, session_day, session_day_file

    assert session_day(db_url) is None
    assert record_session_day(db_url, dt.date(2026, 11, 20), today=dt.date(2026, 11, 20))
    assert session_day(db_url, today=dt.date(2026, 11, 20)) == "2026-11-20"
    assert session_day(db_url, today=dt.date(2026, 11, 23)) is None  # last week's session
    assert session_day(f"sqlite:///{tmp_path / 'other.db'}", today=dt.date(2026, 11, 20)) is None  # another store
    assert db_url not in session_day_file().read_text()  # the store's URL (a password, maybe) is not written
    session_day_file().write_text("not json")
    assert session_day(db_url) is None  # a damaged file: no day, no error


# ------------------------------------------------------------ maintenance


def refresh_checked_outputs(name: str = "response_times.ipynb") -> None:
    """Execute ``name`` on the demo (unshifted, as of the demo's day) and store the
    outputs of the checked cells only; every other cell is stripped."""
    from nbclient import NotebookClient

    from followup_lib.data.demo import load_demo
    from followup_lib.data.store import open_store

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'demo.db'}"
        store = open_store(url)
        load_demo(store, shift=False)
        store.engine.dispose()
        os.environ.update({k: v for k, v in notebook_env(url, Path(tmp)).items() if k.startswith("FOLLOWUP_")})
        nb = _read(name)
        NotebookClient(nb, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        if _checked(cell):  # nbval only compares a cell it sees was run
            kept = []
            for o in cell.outputs:
                if o.output_type == "stream":
                    kept.append(o)
                elif o.output_type in ("execute_result", "display_data") and "text/markdown" in o.data:
                    o.data = {k: v for k, v in o.data.items() if k in ("text/plain", "text/markdown")}
                    o.metadata = {}
                    kept.append(o)
            cell.outputs = kept
        else:
            cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, NOTEBOOKS / name)
    print(f"stored the checked outputs of {NOTEBOOKS / name}")


def notebook_name(arg: str) -> str:
    """A notebook named as the README writes it (``notebooks/response_times.ipynb``)
    or by its file name alone: its name in notebooks/."""
    name = Path(arg).name
    if name not in ALL:
        sys.exit(f"{arg}: not one of the notebooks ({', '.join(ALL)})")
    return name


def test_refresh_outputs_takes_the_notebook_as_the_readme_writes_it():
    assert notebook_name("notebooks/response_times.ipynb") == "response_times.ipynb"
    assert notebook_name("weekly_report.ipynb") == "weekly_report.ipynb"
    ran = subprocess.run(
        [sys.executable, __file__, "--refresh-outputs", "notebooks/no_such.ipynb"], capture_output=True, text=True
    )
    assert ran.returncode == 1 and "not one of the notebooks" in ran.stderr and "Traceback" not in ran.stderr


if __name__ == "__main__":
    if sys.argv[1:2] == ["--refresh-outputs"]:
        for name in [notebook_name(arg) for arg in sys.argv[2:]] or ALL:
            refresh_checked_outputs(name)
    else:
        sys.exit(__doc__)
