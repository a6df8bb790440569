"""Isolation: what the workbook makes for one coachee never carries another's data.

One store holds six coachees: the demo's three, Bartholomew Quince (C004, added by
importing CSVs), Persephone Yarrow-Kimura (C005, added through the forms' save,
and applying to Northwind Analytics like C001 does) and Ignatius Penhaligon
(C006, nothing due). For each of them the real ``followup`` command writes the
drafts, the calendar, the export and ``due --format json``; a working session
shows them; one weekly report is rendered. Each output is searched for every
*other* coachee's identifying text: name, email, companies, reference names and
emails, interviewer names and emails. A first test proves that none of those
strings occurs in any other coachee's own rows, so a hit is always a leak.

The whole module runs on both engines (the store a SQLite file, then a PostgreSQL
database): the per-coachee reads (``Store.load(coachee_id=…)``), the exports and
the session's scoped queries are the store's SQL, which differs between them.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import io
import json
from pathlib import Path

import icalendar
import ipywidgets as w
import pandas as pd
import pytest

from followup_lib.data.copy import copy_store
from followup_lib.data.demo import load_demo
from followup_lib.data.logbook import save_record
from followup_lib.data.store import open_store
from followup_lib.data.transfer import import_path
from followup_lib.faces import cli
from followup_lib.faces.session import WorkingSession
from followup_lib.kinds import MESSAGE_KINDS
from followup_lib.paths import safe_name

from builders import AS_OF, run_cli, write_csvs
from conftest import ENGINES, pg_server_or_skip

DAY = AS_OF.isoformat()
COACHEES = ["C001", "C002", "C003", "C004", "C005", "C006"]

# C004, imported from CSV files.
QUINCE_CSV = {
    "coachees": [
        dict(
            coachee_id="C004",
            name="Bartholomew Quince",
            email="bartholomew.quince@example.net",
            coach="Dana Reyes",
            notes="Agronomist turned data lead",
        )
    ],
    "applications": [
        dict(
            application_id="A401",
            coachee_id="C004",
            company="Vantablack Orchards",
            role="Orchard Data Lead",
            status="active",
            applied_on="2026-10-15",
            source="referral",
            notes="",
        ),
        dict(
            application_id="A402",
            coachee_id="C004",
            company="Xylophonic Media",
            role="Audio Insights Analyst",
            status="active",
            applied_on="2026-10-01",
            source="job board",
            notes="",
        ),
    ],
    "interviews": [
        dict(
            interview_id="I401",
            application_id="A401",
            held_on="2026-11-13",
            round="1",
            format="video",
            interviewer_name="Ottoline Fairweather",
            interviewer_email="ottoline.fairweather@vantablack.example",
            interviewer_phone="",
            preferred_channel="email",
            next_step_by="2026-11-20",
            final_round="false",
            thank_you_sent_on="",
            topics="the irrigation forecast model",
            notes="",
        ),
        dict(
            interview_id="I402",
            application_id="A402",
            held_on="2026-11-02",
            round="2",
            format="onsite",
            interviewer_name="Cornelius Abernethy-Vale",
            interviewer_email="cornelius.av@xylophonic.example",
            interviewer_phone="+1 555 0404",
            preferred_channel="phone",
            next_step_by="2026-11-06",
            final_round="true",
            thank_you_sent_on="2026-11-03",
            topics="",
            notes="",
        ),
    ],
    "references": [
        dict(
            reference_id="R401",
            coachee_id="C004",
            name="Wenceslas Brightwater",
            relationship="Former supervisor",
            email="wenceslas.brightwater@example.net",
            phone="",
        )
    ],
    "reference_uses": [
        dict(
            reference_id="R401",
            application_id="A401",
            given_on="2026-11-10",
            briefed_on="",
            last_checkin_on="",
            contacted_on="",
        )
    ],
    "promises": [
        dict(
            promise_id="P401", application_id="A401", what="the orchard yield notebook", due_on="2026-11-18", done_on=""
        )
    ],
}

# C005 and C006, entered through logbook.save_record (what the forms call), in order.
YARROW_RECORDS = [
    (
        "coachees",
        dict(coachee_id="C005", name="Persephone Yarrow-Kimura", email="persephone.yk@example.net", coach="Dana Reyes"),
    ),
    (
        "applications",
        dict(
            application_id="A501",
            coachee_id="C005",
            company="Quokka Dynamics",
            role="Staff Engineer",
            status="offer",
            applied_on="2026-10-05",
        ),
    ),
    (
        "applications",
        dict(
            application_id="A502",
            coachee_id="C005",
            company="Blancmange Brewing",
            role="Platform Engineer",
            status="active",
            applied_on="2026-10-20",
        ),
    ),
    # The same employer as Maya Lindqvist (C001): the company is shared, nothing else is.
    (
        "applications",
        dict(
            application_id="A503",
            coachee_id="C005",
            company="Northwind Analytics",
            role="Analytics Engineer",
            status="active",
            applied_on="2026-10-26",
        ),
    ),
    (
        "interviews",
        dict(
            interview_id="I501",
            application_id="A501",
            held_on="2026-11-09",
            round="2",
            format="onsite",
            interviewer_name="Thaddeus Oyelaran",
            interviewer_email="thaddeus.oyelaran@quokka.example",
            preferred_channel="email",
            next_step_by="2026-11-13",
            final_round=True,
            thank_you_sent_on="2026-11-09",
        ),
    ),
    (
        "interviews",
        dict(
            interview_id="I502",
            application_id="A502",
            held_on="2026-11-12",
            round="1",
            format="video",
            interviewer_name="Lucinda Featherstonehaugh",
            interviewer_email="lucinda.featherstonehaugh@blancmange.example",
            preferred_channel="email",
            next_step_by="2026-11-19",
            final_round=False,
            topics="the kettle telemetry pipeline",
        ),
    ),
    (
        "interviews",
        dict(
            interview_id="I503",
            application_id="A503",
            held_on="2026-11-04",
            round="1",
            format="video",
            interviewer_name="Rosalind Quarterman",
            interviewer_email="rosalind.quarterman@northwind.example",
            preferred_channel="email",
            next_step_by="2026-11-09",
            final_round=False,
            thank_you_sent_on="2026-11-04",
        ),
    ),
    ("offers", dict(application_id="A501", verbal_on="2026-11-13")),
    (
        "references",
        dict(
            reference_id="R501",
            coachee_id="C005",
            name="Evander Holyoake",
            relationship="Former tech lead",
            email="evander.holyoake@example.net",
        ),
    ),
    ("reference_uses", dict(reference_id="R501", application_id="A502", given_on="2026-11-05")),
    (
        "reference_uses",
        dict(reference_id="R501", application_id="A503", given_on="2026-11-02", briefed_on="2026-11-05"),
    ),
    (
        "promises",
        dict(promise_id="P501", application_id="A502", what="the kettle telemetry write-up", due_on="2026-11-17"),
    ),
    (
        "coachees",
        dict(
            coachee_id="C006", name="Ignatius Penhaligon", email="ignatius.penhaligon@example.net", coach="Dana Reyes"
        ),
    ),
    (
        "applications",
        dict(
            application_id="A601",
            coachee_id="C006",
            company="Umbra Cartography",
            role="GIS Analyst",
            status="rejected",
            applied_on="2026-09-01",
        ),
    ),
    (
        "interviews",
        dict(
            interview_id="I601",
            application_id="A601",
            held_on="2026-09-20",
            round="1",
            format="phone",
            interviewer_name="Mirabel Ostrowska",
            interviewer_email="mirabel.ostrowska@umbra.example",
            preferred_channel="email",
            thank_you_sent_on="2026-09-20",
        ),
    ),
]
NOTHING_DUE = "C006"


def identifying(t: dict[str, pd.DataFrame]) -> set[str]:
    """What would give a coachee away: name and email, companies, references, interviewers."""
    found = set(t["coachees"]["name"]) | set(t["coachees"]["email"].dropna())
    found |= set(t["applications"]["company"])
    found |= set(t["references"]["name"]) | set(t["references"]["email"].dropna())
    found |= set(t["interviews"]["interviewer_name"].dropna()) | set(t["interviews"]["interviewer_email"].dropna())
    return {s for s in found if s}


def all_text(t: dict[str, pd.DataFrame]) -> str:
    """Every cell of a coachee's own rows, as one string."""
    return "\n".join(df.astype(str).to_csv(index=False) for df in t.values())


@pytest.fixture(scope="module", params=ENGINES)
def practice(request, tmp_path_factory):
    """(store URL, work folder, {coachee: their tables}, {coachee: other coachees' identifying text})."""
    root = tmp_path_factory.mktemp("isolation")
    url = f"sqlite:///{root / 'followup.db'}" if request.param == "sqlite" else pg_server_or_skip().create()
    store = open_store(url)
    try:
        load_demo(store, shift=False)
        import_path(store, write_csvs(root / "quince", QUINCE_CSV))
        for table, values in YARROW_RECORDS:
            save_record(store, table, values)
        assert store.coachee_ids() == COACHEES
        tables = {cid: store.load(coachee_id=cid) for cid in COACHEES}
    finally:
        store.engine.dispose()
    own = {cid: identifying(t) for cid, t in tables.items()}
    foreign = {cid: set().union(*(own[o] for o in COACHEES if o != cid)) - own[cid] for cid in COACHEES}
    yield url, root, tables, foreign
    if request.param != "sqlite":
        pg_server_or_skip().drop(url)


def env_for(root: Path) -> dict:
    # Module fixtures run before the autouse isolation of settings: say it here too.
    return {"FOLLOWUP_SETTINGS": str(root / "no-settings.toml"), "FOLLOWUP_TEMPLATES": str(root / "no-templates")}


def own_text(practice, cid: str) -> set[str]:
    return identifying(practice[2][cid])


def leaks(text: str, foreign: set[str]) -> list[str]:
    return sorted(s for s in foreign if s in text)


def eml_text(path: Path) -> str:
    """A draft email as a person reads it: decoded headers and body (and the raw bytes)."""
    raw = path.read_bytes()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    headers = "\n".join(f"{k}: {v}" for k, v in msg.items())
    return raw.decode("utf-8", "replace") + "\n" + headers + "\n" + msg.get_content()


def ics_text(path: Path) -> str:
    """A calendar unfolded and decoded, property by property (and the raw text)."""
    raw = path.read_bytes()
    cal = icalendar.Calendar.from_ical(raw)
    values = [str(v) for comp in cal.walk() for v in comp.values()]
    unfolded = raw.decode("utf-8").replace("\r\n ", "").replace("\r\n\t", "")
    return unfolded + "\n" + "\n".join(values)


def folder_text(folder: Path) -> str:
    parts = []
    for p in sorted(folder.iterdir()):
        parts.append(p.name)
        parts.append(eml_text(p) if p.suffix == ".eml" else p.read_text(encoding="utf-8"))
    return "\n".join(parts)


def followup(*args: str, db: str, env: dict) -> tuple[int, str, str]:
    """The ``followup`` command's entry point (what the installed script calls), run in
    this process: the same code, without paying a Python start-up for each of 24 runs."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        for k, v in env.items():
            mp.setenv(k, v)
        code = cli.main(["--db", db, *args])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def outputs(practice):
    """Every coachee's drafts, calendar, export and due JSON, made by ``followup``;
    and ``followup drafts --all`` run as the real command in its own process."""
    url, root, _, _ = practice
    env = env_for(root)
    every = run_cli("drafts", "--all", "--as-of", DAY, "--out", str(root / "out" / "all-drafts"), db=url, env=env)
    assert every.returncode == 0, every.stderr
    runs, texts = {}, {}
    for cid in COACHEES:
        out = root / "out" / cid
        for kind, args in {
            "drafts": ("drafts", "--coachee", cid, "--as-of", DAY, "--out", str(out / "drafts")),
            "calendar": ("calendar", "--coachee", cid, "--as-of", DAY, "--out", str(out / "actions.ics")),
            "export": ("export", str(out / "export"), "--coachee", cid),
            "due": ("due", "--coachee", cid, "--as-of", DAY, "--format", "json"),
        }.items():
            code, stdout, stderr = runs[(cid, kind)] = followup(*args, db=url, env=env)
            assert code == 0, f"{cid} {kind}: {stdout}\n{stderr}"
        drafts = out / "drafts"
        texts[(cid, "drafts")] = folder_text(drafts) if drafts.exists() else ""
        texts[(cid, "calendar")] = ics_text(out / "actions.ics")
        texts[(cid, "export")] = folder_text(out / "export")
        texts[(cid, "due")] = runs[(cid, "due")][1]
    return runs, texts


# ------------------------------------------------------------------ the premise


def test_no_coachees_identifying_text_occurs_in_anyone_elses_rows(practice):
    """So that finding a name in an output means it leaked, not that it was there anyway."""
    _, _, tables, foreign = practice
    for cid in COACHEES:
        assert len(foreign[cid]) >= 20
        assert leaks(all_text(tables[cid]), foreign[cid]) == [], cid
    # The one employer two coachees share is nobody's giveaway.
    assert "Northwind Analytics" not in foreign["C001"] | foreign["C005"]
    assert "Priya Natarajan" in foreign["C005"] and "Rosalind Quarterman" in foreign["C001"]


# ------------------------------------------------------------------ the command line

KINDS = ["drafts", "calendar", "export", "due"]
# One of each coachee's employers (what their session's application lists must show).
OWN_MARK = {
    "C001": "Harbor Health",
    "C002": "Quarry Labs",
    "C003": "Pinecrest Studio",
    "C004": "Vantablack Orchards",
    "C005": "Quokka Dynamics",
    "C006": "Umbra Cartography",
}


@pytest.mark.parametrize("cid", COACHEES)
@pytest.mark.parametrize("kind", KINDS)
def test_command_output_for_one_coachee_names_no_one_else(outputs, practice, cid, kind):
    _, _, _, foreign = practice
    _, texts = outputs
    text = texts[(cid, kind)]
    assert leaks(text, foreign[cid]) == []
    if cid == NOTHING_DUE and kind != "export":
        return  # nothing is due for this coachee: no drafts, no entries
    # Each output says something about its own coachee, so an empty file cannot pass.
    assert any(s in text for s in own_text(practice, cid)), (
        f"{kind} for {cid} mentions none of their own names or companies"
    )


@pytest.mark.parametrize("cid", COACHEES)
def test_due_json_and_export_rows_all_belong_to_the_coachee(outputs, practice, cid):
    url, root, tables, _ = practice
    runs, _ = outputs
    actions = json.loads(runs[(cid, "due")][1])
    assert {a["coachee_id"] for a in actions} <= {cid}
    assert {a["application_id"] for a in actions} <= set(tables[cid]["applications"]["application_id"])
    if cid == NOTHING_DUE:
        assert actions == []
    else:
        assert actions
    export = root / "out" / cid / "export"
    coachees = pd.read_csv(export / "coachees.csv", dtype=str)
    assert list(coachees["coachee_id"]) == [cid]
    for table in ("applications", "references"):
        assert set(pd.read_csv(export / f"{table}.csv", dtype=str)["coachee_id"]) <= {cid}
    own_apps = set(tables[cid]["applications"]["application_id"])
    for table in ("interviews", "reference_uses", "promises", "messages", "offers"):
        assert set(pd.read_csv(export / f"{table}.csv", dtype=str)["application_id"]) <= own_apps, table


def test_drafts_for_all_put_each_coachees_drafts_in_a_folder_of_their_own(outputs, practice):
    _, root, _, foreign = practice
    # Each folder is named from the coachee's id by the one safe-name function.
    by_name = {safe_name(cid): cid for cid in COACHEES}
    folders = {by_name[p.name]: p for p in (root / "out" / "all-drafts").iterdir()}
    assert set(folders) == set(COACHEES) - {NOTHING_DUE}
    for cid, folder in folders.items():
        text = folder_text(folder)
        assert leaks(text, foreign[cid]) == [], cid
        assert any(s in text for s in own_text(practice, cid))
        # The same drafts as the command for that coachee alone.
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            p.name for p in (root / "out" / cid / "drafts").iterdir()
        )


# ------------------------------------------------------------------ the working session


def strings_in(widget: w.Widget, skip: tuple = (), path: str = "session") -> list[tuple[str, str]]:
    """Every piece of text the widget tree holds, shown or hidden (values, option
    labels, descriptions, tooltips, placeholders), each with where it is."""
    out: list[tuple[str, str]] = []
    if widget in skip:
        return out
    here = f"{path}/{type(widget).__name__}" + (f"[{widget.description}]" if getattr(widget, "description", "") else "")
    for trait in ("value", "description", "tooltip", "placeholder", "_options_labels"):
        v = getattr(widget, trait, None)
        if isinstance(v, str):
            out.append((f"{here}.{trait}", v))
        elif isinstance(v, (tuple, list)):
            out.extend((f"{here}.{trait}", str(x)) for x in v)
    for i, child in enumerate(getattr(widget, "children", ())):
        out.extend(strings_in(child, skip, f"{here}/{i}"))
    return out


def leaks_in_widgets(s: WorkingSession, foreign: set[str]) -> dict[str, list[str]]:
    """Which widgets of the session hold text of someone else (the coachee picker,
    which lists every coachee by design, left out)."""
    found: dict[str, list[str]] = {}
    for where, text in strings_in(s.widget, skip=(s.picker,)):
        hits = leaks(text, foreign)
        if hits:
            found.setdefault(where, []).extend(hits)
    return found


def session_view(s: WorkingSession) -> dict[str, str]:
    """What a person sees of the session for its coachee, walking every action and draft."""
    view = {
        "actions": "\n".join(label for label, _ in s.action_list.options),
        "summary": s.summary.value,
        "chart": s.chart_sentence.value + (s.state.figure.to_json() if s.state.figure is not None else ""),
    }
    whys, drafts = [], []
    for _, action_id in s.action_list.options:
        s.action_list.value = action_id
        whys.append(s.why.value)
        if s.action()["kind"] in MESSAGE_KINDS:
            s.open_button.click()
            drafts.append(
                "\n".join([s.draft_to.value, s.draft_subject.value, s.draft_body.value, s.action_status.value])
            )
    view["why"] = "\n".join(whys)
    view["drafts"] = "\n".join(drafts)
    for table, form in s.forms.items():
        view[f"form {table}: records"] = "\n".join(label for label, _ in form.record.options)
        for name, field in form.fields.items():
            if isinstance(field, w.Dropdown):
                view[f"form {table}: {name} options"] = "\n".join(label for label, _ in field.options)
    view["every widget"] = "\n".join(text for _, text in strings_in(s.widget, skip=(s.picker,)))
    return view


@pytest.fixture(autouse=True)
def quiet_chart(monkeypatch):
    """Outside a kernel the session's chart would print each figure to stdout; what
    the chart shows is checked on ``session.figure`` instead."""
    monkeypatch.setattr("followup_lib.faces.session.display", lambda *a, **k: None)


@pytest.fixture
def session_store(practice, tmp_path):
    """A copy of the practice's store, for sessions that write (mark sent, save)."""
    url, root, _, _ = practice
    source = open_store(url)
    try:
        if source.engine_name == "sqlite":
            db = tmp_path / "session.db"
            source.backup(db)
            copy = f"sqlite:///{db}"
        else:
            copy = pg_server_or_skip().create()
            copy_store(source, copy)
    finally:
        source.engine.dispose()
    yield copy
    if not copy.startswith("sqlite:///"):
        pg_server_or_skip().drop(copy)


@pytest.mark.parametrize("cid", COACHEES)
def test_a_session_opened_for_one_coachee_shows_only_theirs(practice, session_store, tmp_path, cid):
    _, _, tables, foreign = practice
    s = WorkingSession(session_store, cid, AS_OF, drafts_dir=tmp_path / "drafts")
    try:
        view = session_view(s)
        for part, text in view.items():
            assert leaks(text, foreign[cid]) == [], f"{cid}: {part}"
        if cid != NOTHING_DUE:
            assert any(x in view["actions"] for x in own_text(practice, cid)) and view["drafts"]
        assert OWN_MARK[cid] in view["form interviews: application_id options"]
        assert f"{tables[cid]['coachees']['name'].iloc[0]} ({cid})" == s.picker.label
    finally:
        s.state.close()


def test_switching_coachee_leaves_nothing_of_the_previous_one(practice, session_store, tmp_path):
    """One session, the coach moving from one coachee to the next as the day goes:
    after each switch, no widget (shown or hidden) holds the previous coachee's data."""
    _, _, _, foreign = practice
    s = WorkingSession(session_store, "C001", AS_OF, drafts_dir=tmp_path / "drafts")
    found = {}
    try:
        for step, cid in enumerate(["C001", "C004", "C002", NOTHING_DUE, "C005", "C003", NOTHING_DUE]):
            s.picker.value = cid
            # First as the switch left it, then after looking at every action and draft.
            for where, hits in leaks_in_widgets(s, foreign[cid]).items():
                found[f"{step}: switched to {cid}: {where}"] = hits
            for part, text in session_view(s).items():
                if leaks(text, foreign[cid]):
                    found[f"{step}: {cid}, every action opened: {part}"] = leaks(text, foreign[cid])
            # Leave traces for the next switch: a draft open, one marked sent, a form half filled.
            if len(s.actions):
                s.action_list.value = s.actions["action_id"].iloc[0]
                s.open_button.click()
                if s.draft is not None:
                    s.sent_button.click()
                    s.action_list.value = s.actions["action_id"].iloc[0] if len(s.actions) else None
                    s.open_button.click()
            s.forms["promises"].fields["what"].value = f"something for {OWN_MARK[cid]}"
    finally:
        s.state.close()
    assert not found, "another coachee's data left in the session:\n" + "\n".join(
        f"  {k}: {v}" for k, v in found.items()
    )


# ------------------------------------------------------------------ the weekly report


@pytest.mark.slow
def test_weekly_report_for_one_coachee_names_no_one_else(practice):
    """The report of the coachee who shares an employer with another: the whole page,
    scripts and chart data included, names only her own people."""
    url, root, tables, foreign = practice
    out = root / "reports"
    proc = run_cli("report", "--coachee", "C005", "--week-ending", DAY, "--out", str(out), db=url, env=env_for(root))
    assert proc.returncode == 0, proc.stderr
    page = (out / safe_name("C005", f"-weekly-{DAY}.html")).read_text(encoding="utf-8")
    notebook = (out / safe_name("C005", f"-weekly-{DAY}.ipynb")).read_text(encoding="utf-8")
    assert leaks(page, foreign["C005"]) == []
    assert leaks(notebook, foreign["C005"]) == []
    for own in ("Persephone Yarrow-Kimura", "Quokka Dynamics", "Northwind Analytics", "Evander Holyoake"):
        assert own in page
