"""Per-coach scope (issue 12): with ``--coach NAME`` (or ``FOLLOWUP_COACH``) every
command, the working session and the app see only the coachees whose ``coach`` is
NAME. On a generated practice of several coaches, a coach's outputs (due, drafts,
calendar, export, the session's picker) never hold another coach's coachee, and a
coach cannot write into another coach's caseload.

Runs on both engines (a SQLite file and a throwaway PostgreSQL database).
"""

from __future__ import annotations

import csv
import json
import re

import pytest

from followup_lib.data.demo import load_generated
from followup_lib.data.store import open_store
from followup_lib.errors import ConflictError, UserError
from followup_lib.faces.session_state import SessionState
from followup_lib.paths import safe_name

from builders import AS_OF, write_csvs
from conftest import ENGINES, store_contents

COACH = "Coach 1"
DAY = str(AS_OF)
N_COACHEES = 21  # three coachees for each of the generator's seven coaches


@pytest.fixture(autouse=True)
def no_coach_in_environment(monkeypatch):
    """A FOLLOWUP_COACH of the person running the tests must not scope them."""
    monkeypatch.delenv("FOLLOWUP_COACH", raising=False)


def _generated(store, folder) -> None:
    load_generated(store, N_COACHEES, seed=3, as_of=AS_OF)


@pytest.fixture(params=ENGINES)
def practice(request, store_copies):
    """A generated practice of seven coaches (a copy of the one generated once this
    run); returns (url, {coachee_id: coach}, {coachee_id: name})."""
    url = store_copies.copy(request, request.param, "scope-practice", _generated)
    store = open_store(url)
    try:
        coachees = store.coachees()
    finally:
        store.engine.dispose()
    coach_of = dict(zip(coachees["coachee_id"], coachees["coach"], strict=True))
    names = dict(zip(coachees["coachee_id"], coachees["name"], strict=True))
    assert len(set(coach_of.values())) > 2 and list(coach_of.values()).count(COACH) >= 2
    return url, coach_of, names


def mine_and_theirs(coach_of: dict) -> tuple[set, set]:
    mine = {c for c, k in coach_of.items() if k == COACH}
    return mine, set(coach_of) - mine


def mentions(text: str, name: str) -> bool:
    """``name`` in ``text`` as a whole name ("Ana Li 1" is not in "Ana Li 12")."""
    return re.search(re.escape(name) + r"(?![0-9])", text) is not None


def test_due_all_lists_only_the_coachs_coachees(practice, followup):
    url, coach_of, _ = practice
    mine, _ = mine_and_theirs(coach_of)
    everyone = json.loads(followup("due", "--all", "--as-of", DAY, "--format", "json", db=url, check=True).stdout)
    assert {a["coachee_id"] for a in everyone} - mine, "the practice should have other coaches' actions"
    expected = [a for a in everyone if a["coachee_id"] in mine]
    assert expected
    # --coach before or after the command, or FOLLOWUP_COACH: the same, and only theirs.
    for args, env in (
        (["--coach", COACH, "due", "--all"], None),
        (["due", "--all", "--coach", COACH], None),
        (["due", "--all"], {"FOLLOWUP_COACH": COACH}),
    ):
        ran = followup(*args, "--as-of", DAY, "--format", "json", db=url, env=env, check=True)
        assert json.loads(ran.stdout) == expected, args
    table = followup("--coach", COACH, "due", "--all", "--as-of", DAY, db=url, check=True).stdout
    blocks = {line.split(":")[0] for line in table.splitlines() if line and not line.startswith(" ")}
    assert blocks and blocks <= mine


def test_another_coachs_coachee_is_refused_by_every_command(practice, followup, tmp_path):
    url, coach_of, _ = practice
    _, theirs = mine_and_theirs(coach_of)
    other = sorted(theirs)[0]
    message = f"coachee {other} is not one of coach {COACH}'s coachees"
    for args in (
        ["due", "--coachee", other, "--as-of", DAY],
        ["drafts", "--coachee", other, "--out", str(tmp_path / "d")],
        ["calendar", "--coachee", other, "--out", str(tmp_path / "c.ics")],
        ["export", str(tmp_path / "e"), "--coachee", other],
        ["report", "--coachee", other, "--out", str(tmp_path / "r")],
        ["mail", str(tmp_path), "--coachee", other],
        ["app", "--coachee", other, "--no-browser"],
    ):
        ran = followup("--coach", COACH, *args, db=url)
        assert ran.returncode == 2, (args, ran.stderr)
        assert message in ran.stderr and len(ran.stderr.strip().splitlines()) == 1, (args, ran.stderr)
    assert not any((tmp_path / name).exists() for name in ("d", "c.ics", "e", "r"))


def test_a_coach_with_no_coachees_is_told_so_and_shown_no_one(practice, followup, tmp_path):
    url, coach_of, names = practice
    for args in (["due", "--all"], ["export", str(tmp_path / "e")], ["due", "--coachee", sorted(coach_of)[0]]):
        ran = followup("--coach", "Nobody", *args, db=url)
        assert ran.returncode == 2, ran.stderr
        assert ran.stderr.startswith(f"followup {args[0]}: no coachees for coach 'Nobody'"), ran.stderr
        # Nothing of anyone else's: no coachee id, no other coach's name.
        assert "G0" not in ran.stderr and "Coach " not in ran.stderr
        assert ran.stdout == ""
    assert not (tmp_path / "e").exists()


def test_drafts_of_a_coach_are_only_their_coachees(practice, followup, tmp_path):
    url, coach_of, names = practice
    mine, theirs = mine_and_theirs(coach_of)
    out = tmp_path / "drafts"
    followup("--coach", COACH, "drafts", "--all", "--as-of", DAY, "--out", str(out), "--upcoming", db=url, check=True)
    # A coachee's folder is named by safe_name from their id.
    folders = {p.name for p in out.iterdir()}
    assert folders and folders <= {safe_name(c) for c in mine}
    files = [p for p in out.rglob("*") if p.is_file()]
    assert files
    text = "\n".join(p.read_text(encoding="utf-8") for p in files)
    assert not [c for c in theirs if mentions(text, names[c])]


def test_the_calendar_of_a_coach_names_only_their_coachees(practice, followup, tmp_path):
    url, coach_of, names = practice
    mine, theirs = mine_and_theirs(coach_of)
    path = tmp_path / "practice.ics"
    followup("--coach", COACH, "calendar", "--all", "--as-of", DAY, "--out", str(path), db=url, check=True)
    text = path.read_text(encoding="utf-8").replace("\r\n ", "")  # unfold long lines
    assert "BEGIN:VEVENT" in text
    assert [c for c in mine if mentions(text, names[c])]
    assert not [c for c in theirs if mentions(text, names[c])]


def _csv(folder, name) -> list[dict]:
    with open(folder / f"{name}.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_an_export_of_a_coach_is_exactly_their_coachees_rows(practice, followup, tmp_path):
    url, coach_of, _ = practice
    mine, _ = mine_and_theirs(coach_of)
    everything, theirs_only = tmp_path / "all", tmp_path / "coach"
    followup("export", str(everything), db=url, check=True)
    followup("--coach", COACH, "export", str(theirs_only), db=url, check=True)
    # Whose each row is, from the whole export: every row of the coach's coachees, and no other.
    apps = {r["application_id"]: r["coachee_id"] for r in _csv(everything, "applications")}
    interviews = {r["interview_id"]: apps[r["application_id"]] for r in _csv(everything, "interviews")}

    def owner(row: dict) -> str:
        if "coachee_id" in row:
            return row["coachee_id"]
        if "application_id" in row:
            return apps[row["application_id"]]
        return interviews[row["interview_id"]]

    for p in sorted(everything.glob("*.csv")):
        expected = [r for r in _csv(everything, p.stem) if owner(r) in mine]
        assert _csv(theirs_only, p.stem) == expected, p.stem
    assert {r["coachee_id"] for r in _csv(theirs_only, "coachees")} == mine


def test_the_session_picker_lists_only_the_coachs_coachees(practice, tmp_path, monkeypatch):
    url, coach_of, _ = practice
    mine, theirs = mine_and_theirs(coach_of)
    other = sorted(theirs)[0]
    for given, env in ((COACH, None), (None, COACH)):
        if env:
            monkeypatch.setenv("FOLLOWUP_COACH", env)
        # Asked to open on another coach's coachee, it opens on the coach's first.
        s = SessionState(url, other, DAY, drafts_dir=tmp_path / "drafts", coach=given)
        try:
            assert set(s.coachee_ids()) == mine
            assert {cid for _, cid in s.coachee_options()} == mine
            assert s.coachee_id == sorted(mine)[0] and s.notice and other in s.notice
            assert set(s.actions["coachee_id"]) <= mine
            with pytest.raises(UserError, match="among coach Coach 1's coachees"):
                s.select_coachee(other)
            # A new coachee is the coach's; another coach's id cannot be taken over.
            assert s.new_record("coachees")["coach"] == COACH
            with pytest.raises(ConflictError):
                s.save_form("coachees", {"coachee_id": other, "name": "Taken Over", "coach": COACH}, (other,), 1)
            with pytest.raises(UserError):
                s.save_form("coachees", {"coachee_id": "NEW1", "name": "Given Away", "coach": "Coach 2"})
        finally:
            s.close()
    store = open_store(url)
    try:
        coachees = store.coachees().set_index("coachee_id")
    finally:
        store.engine.dispose()
    assert coachees.loc[other, "name"] != "Taken Over" and "NEW1" not in coachees.index


def test_the_app_is_served_with_the_coach_in_its_environment(practice, monkeypatch):
    # `followup --coach NAME app` puts the coach in the environment the app's
    # kernels start with; app_environment copies it (faces/app.py).
    from followup_lib.faces.app import app_environment

    url, _, _ = practice
    monkeypatch.setenv("FOLLOWUP_COACH", COACH)
    assert app_environment(url, None)["FOLLOWUP_COACH"] == COACH


def test_an_import_with_a_coach_writes_only_into_their_caseload(practice, followup, tmp_path):
    url, coach_of, _ = practice
    mine, theirs = mine_and_theirs(coach_of)
    before = store_contents(url)
    own, other = sorted(mine)[0], sorted(theirs)[0]
    bad = write_csvs(
        tmp_path / "bad",
        {
            "coachees": [
                dict(coachee_id=other, name="Renamed", coach=COACH),  # another coach's, even relabelled
                dict(coachee_id="N1", name="New Person", coach="Coach 2"),  # handed to someone else
            ],
            "applications": [
                dict(application_id=f"{other}-A00", coachee_id=own, company="Taken", role="Analyst"),  # theirs
                dict(application_id="NEWAPP", coachee_id=other, company="Acme", role="Analyst"),  # for their coachee
            ],
            "interviews": [dict(interview_id="NEWIV", application_id=f"{other}-A01", held_on="2026-11-10")],
        },
    )
    ran = followup("--coach", COACH, "import", str(bad), db=url)
    assert ran.returncode == 2, ran.stderr
    for where in (
        "coachees.csv, row 2, column coachee_id",
        "coachees.csv, row 3, column coach",
        "applications.csv, row 2, column application_id",
        "applications.csv, row 3, column coachee_id",
        "interviews.csv, row 2, column application_id",
    ):
        assert where in ran.stderr, (where, ran.stderr)
    assert store_contents(url) == before  # nothing written

    good = write_csvs(
        tmp_path / "good",
        {
            "coachees": [dict(coachee_id="N2", name="New Person")],  # no coach: the importing coach's
            "applications": [dict(application_id="N2-A1", coachee_id="N2", company="Acme", role="Analyst")],
        },
    )
    followup("--coach", COACH, "import", str(good), db=url, check=True)
    store = open_store(url)
    try:
        assert store.coachees().set_index("coachee_id").loc["N2", "coach"] == COACH
    finally:
        store.engine.dispose()


@pytest.mark.parametrize("args", [["demo"], ["backup", "b.db"], ["restore", "b.db"]])
def test_whole_store_commands_are_refused_to_a_coach(practice, followup, args):
    url, _, _ = practice
    before = store_contents(url)
    ran = followup("--coach", COACH, *args, db=url)
    assert ran.returncode == 2 and "run it without --coach" in ran.stderr, ran.stderr
    assert store_contents(url) == before


def test_a_blank_coach_is_a_usage_error(followup):
    ran = followup("--coach", "  ", "due", "--all")
    assert ran.returncode == 2 and "a coach's name cannot be blank" in ran.stderr


def test_the_working_session_of_the_app_keeps_the_coach(practice, monkeypatch, tmp_path):
    # What `followup --coach NAME app` hands its kernels: the notebook's start()
    # reads it, and an argument given in a cell cannot widen it.
    from followup_lib.faces import session

    url, coach_of, _ = practice
    mine, _ = mine_and_theirs(coach_of)
    monkeypatch.setenv("FOLLOWUP_DB", url)
    monkeypatch.setenv("FOLLOWUP_COACH", COACH)
    monkeypatch.setenv("FOLLOWUP_AS_OF", DAY)
    for coach in (None, "Coach 2"):
        working = session.start(coach=coach)
        try:
            assert set(working.state.coachee_ids()) == mine
        finally:
            working.state.close()


def test_a_coachs_report_batch_compares_against_their_own_practice(practice, followup, tmp_path):
    """``--coach`` and FOLLOWUP_COACH are one scope for the reports too: the
    practice-wide times a batch hands its reports are those of the coach's
    coachees, as the kernels (which read FOLLOWUP_COACH) see them."""
    import nbformat

    from followup_lib.data.practice import load_practice
    from followup_lib.logic import analysis

    url, coach_of, _ = practice
    mine, _ = mine_and_theirs(coach_of)
    out = tmp_path / "r"
    result = followup(
        "--coach", COACH, "report", "--all", "--week-ending", AS_OF.isoformat(), "--out", str(out), db=url
    )
    assert result.returncode == 0, result.stderr
    day = AS_OF.isoformat()

    def times(coach):
        tables, _, _ = load_practice(url, day, coach=coach, tables=analysis.FIRST_WORD_TABLES)
        return analysis.round_times_json(analysis.practice_round_times(tables, day))

    assert times(COACH) != times(None)  # else this test could not tell them apart
    notebooks = sorted(out.glob("*.ipynb"))
    assert len(notebooks) == len(mine)
    for path in notebooks:
        assert nbformat.read(path, as_version=4).metadata.papermill.parameters["practice_times"] == times(COACH)


def test_a_coachs_import_asks_the_store_only_about_the_rows_it_holds(store_url, tmp_path, monkeypatch):
    # Many coachees of other coaches, each with applications: the caseload check of
    # a small import reads a few rows, not every other coach's keys.
    import pandas as pd
    import sqlalchemy as sa

    from followup_lib.data import transfer

    others = [dict(coachee_id=f"O{i:04d}", name=f"Other {i}", coach=f"Coach {2 + i % 5}") for i in range(400)]
    apps = [
        dict(application_id=f"{c['coachee_id']}-A{n}", coachee_id=c["coachee_id"], company="Acme", role="Analyst")
        for c in others
        for n in range(2)
    ]
    store = open_store(store_url)
    store.upsert(
        {
            "coachees": pd.DataFrame([*others, dict(coachee_id="M1", name="Mine", coach=COACH)]),
            "applications": pd.DataFrame(apps),
        }
    )
    folder = write_csvs(
        tmp_path / "import",
        {
            "coachees": [dict(coachee_id="M2", name="New Person")],
            "applications": [
                dict(application_id="M1-A1", coachee_id="M1", company="Acme", role="Analyst"),
                dict(application_id="O0007-A1", coachee_id="M1", company="Taken", role="Analyst"),  # another's
            ],
        },
    )
    asked: list[tuple[str, object]] = []
    checking = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if checking:
            asked.append((statement, parameters))

    real = transfer._outside_caseload

    def watched(*args, **kwargs):
        checking.append(True)
        try:
            return real(*args, **kwargs)
        finally:
            checking.clear()

    monkeypatch.setattr(transfer, "_outside_caseload", watched)
    sa.event.listen(store.engine, "before_cursor_execute", record)
    try:
        with pytest.raises(transfer.ValidationError) as refused:
            transfer.import_path(store, folder, coach=COACH)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", record)
        store.engine.dispose()
    assert "applications.csv, row 3, column application_id" in str(refused.value)
    assert asked, "the caseload check asked the store nothing"

    # Each question asked again with the plain driver: the rows it brings back.
    if store_url.startswith("sqlite:///"):
        import sqlite3

        conn = sqlite3.connect(store_url.removeprefix("sqlite:///"))
        returned = sum(len(conn.execute(sql, params).fetchall()) for sql, params in asked)
        conn.close()
    else:
        from conftest import pg_server_or_skip

        with pg_server_or_skip().connect(sa.engine.make_url(store_url).database) as conn:
            returned = sum(len(conn.execute(sql, params).fetchall()) for sql, params in asked)
    # The store holds 1,201 rows of other coaches; the import names three keys,
    # the coach has one coachee.
    assert 1 <= returned <= 5, (returned, asked)
