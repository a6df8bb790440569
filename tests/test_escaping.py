"""Escaping everywhere: text from the store is shown as text, never run.

One hostile coachee, Ruth "Rue" O'Neil & Sons (C007), is added to the demo
practice: her employer is called ``<script>alert(1)</script>``, the interviewer
``{{ 7*7 }}``, the role ``{% for x in range(10**9) %}``, a reference
``</textarea><b>x</b>``; quotes, ampersands and formula-looking cells are spread
over the rest. Her drafts, calendar, weekly report, working session and export
must all carry that text literally (escaped where the output is HTML), and a
coach's own template that reaches for Python internals is refused, not run.
"""

from __future__ import annotations

import csv
import email
import email.policy
from html.parser import HTMLParser
from pathlib import Path

import icalendar
import openpyxl
import pandas as pd
import pytest

from followup_lib.data.demo import load_demo
from followup_lib.data.store import open_store
from followup_lib.data.transfer import export_store, import_path
from followup_lib.faces.session import WorkingSession
from followup_lib.logic.drafts import DraftError, facts_for, render_draft, template_environment
from followup_lib.logic.rules import due_actions
from followup_lib.logic.wording import topic_phrase
from followup_lib.paths import safe_name

from builders import AS_OF, run_cli, write_csvs

DAY = AS_OF.isoformat()
CID = "C007"
COMPANY = "<script>alert(1)</script>"
INTERVIEWER = "{{ 7*7 }}"
ROLE = "{% for x in range(10**9) %}"
REFERENCE = "</textarea><b>x</b>"
NO_EMAIL_REFERENCE = "<img src=x onerror=alert(3)>"
COACHEE = 'Ruth "Rue" O\'Neil & Sons'
TOPICS = "\"quotes\" & 'apostrophes' <i>and</i> &amp; ampersands"
# Topics are separated by ';' (the contract), so the drafts and whys read them as an
# English list: '"quotes" & 'apostrophes' <i>and</i> &amp and ampersands', literally.
TOPIC_LIST = topic_phrase(TOPICS)
# Stored cells a spreadsheet would run as formulas; export must guard them with one quote.
FORMULAS = {
    ("applications", "notes"): '=HYPERLINK("http://evil.example","click")',
    ("interviews", "round"): "-2",
    ("references", "relationship"): "@SUM(1)",
    ("promises", "what"): "+1",
    ("coachees", "notes"): "'=already guarded by hand",
}
HOSTILE = {
    # Import undoes one guard quote (an export's), so the stored note keeps one of these two.
    "coachees": [
        dict(
            coachee_id=CID,
            name=COACHEE,
            email="ruth.oneil@example.net",
            coach="Dana Reyes",
            notes="'" + FORMULAS[("coachees", "notes")],
        )
    ],
    "applications": [
        dict(
            application_id="A700",
            coachee_id=CID,
            company=COMPANY,
            role=ROLE,
            status="active",
            applied_on="2026-10-20",
            source="<i>board</i> & co",
            notes=FORMULAS[("applications", "notes")],
        )
    ],
    "interviews": [
        dict(
            interview_id="I700",
            application_id="A700",
            held_on="2026-11-13",
            round=FORMULAS[("interviews", "round")],
            format="video",
            interviewer_name=INTERVIEWER,
            interviewer_email="hiring@acme.example",
            interviewer_phone="",
            preferred_channel="email",
            next_step_by="2026-11-20",
            final_round="false",
            thank_you_sent_on="",
            topics=TOPICS,
            notes="",
        )
    ],
    "references": [
        dict(
            reference_id="R700",
            coachee_id=CID,
            name=REFERENCE,
            relationship=FORMULAS[("references", "relationship")],
            email="ref.one@example.net",
            phone="+1 555 0700",
        ),
        dict(reference_id="R701", coachee_id=CID, name=NO_EMAIL_REFERENCE, relationship="", email="", phone=""),
    ],
    "reference_uses": [
        dict(reference_id="R700", application_id="A700", given_on="2026-11-10"),
        dict(reference_id="R701", application_id="A700", given_on="2026-11-10"),
    ],
    "promises": [
        dict(promise_id="P700", application_id="A700", what=FORMULAS[("promises", "what")], due_on="2026-11-17")
    ],
    "messages": [
        dict(
            message_id="M700",
            application_id="A700",
            on="2026-11-13",
            direction="sent",
            channel="email",
            kind="note",
            summary='@everyone & <b>bold</b> "quoted"',
        )
    ],
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """(store URL, work folder, the hostile coachee's tables as stored)."""
    root = tmp_path_factory.mktemp("escaping")
    url = f"sqlite:///{root / 'followup.db'}"
    store = open_store(url)
    try:
        load_demo(store, shift=False)
        import_path(store, write_csvs(root / "hostile", HOSTILE))
        tables = store.load(coachee_id=CID)
    finally:
        store.engine.dispose()
    return url, root, tables


def env_for(root: Path, templates: Path | None = None) -> dict:
    return {
        "FOLLOWUP_SETTINGS": str(root / "no-settings.toml"),
        "FOLLOWUP_TEMPLATES": str(templates or root / "no-templates"),
    }


# Elements the hostile text would make if it were taken as markup.
STORE_MARKUP = [("b", "x"), ("i", "and"), ("b", "bold"), ("i", "board")]


class Parsed(HTMLParser):
    """What a browser would build from some HTML: elements with their text, and the
    text a person sees (outside scripts and styles)."""

    VOID = {"br", "img", "meta", "link", "input", "hr", "source", "wbr", "area", "base", "col", "embed"}

    def __init__(self, markup: str):
        super().__init__(convert_charrefs=True)
        self.open: list[list] = []
        self.elements: list[tuple[str, str]] = []  # (tag, text inside), closed elements
        self.tags: list[str] = []  # every start and end tag, in order ("b", "/b")
        self.visible: list[str] = []
        self.feed(markup)
        self.close()
        self.elements += [(tag, "".join(buf)) for tag, buf in self.open]

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag not in self.VOID:
            self.open.append([tag, []])

    def handle_endtag(self, tag):
        self.tags.append("/" + tag)
        for i in range(len(self.open) - 1, -1, -1):
            if self.open[i][0] == tag:
                for t, buf in self.open[i:][::-1]:
                    self.elements.append((t, "".join(buf)))
                del self.open[i:]
                return

    def handle_data(self, data):
        for _, buf in self.open:
            buf.append(data)
        if not any(t in ("script", "style") for t, _ in self.open):
            self.visible.append(data)

    @property
    def text(self) -> str:
        return "".join(self.visible)

    def texts_of(self, tag: str) -> list[str]:
        return [text for t, text in self.elements if t == tag]


def assert_shown_as_text(markup: str, *literals: str) -> Parsed:
    """``markup`` (an HTML widget's value, a page) shows each literal as text and
    holds no element that came from the store."""
    page = Parsed(markup)
    for literal in literals:
        assert literal in page.text, f"{literal!r} is not shown as text in {markup!r}"
    assert "textarea" not in page.tags and "/textarea" not in page.tags
    assert "img" not in page.tags
    for tag, text in STORE_MARKUP:
        assert text not in page.texts_of(tag), f"<{tag}>{text}</{tag}> from the store became markup"
    assert not [s for s in page.texts_of("script") if s.strip().startswith("alert(")]
    return page


# ------------------------------------------------------------------ drafts


def test_drafts_print_store_text_literally_never_evaluated(hostile, followup, tmp_path):
    url, root, _ = hostile
    out = tmp_path / "drafts"
    # With the promise due tomorrow, drafted for its own day.
    proc = followup(
        "drafts", "--coachee", CID, "--as-of", DAY, "--out", str(out), "--upcoming", db=url, env=env_for(root)
    )
    assert proc.returncode == 0, proc.stderr
    messages = {
        p.name: email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in sorted(out.glob("*.eml"))
    }
    kinds = {name.split("-")[3] for name in messages}
    assert kinds == {"thank_you_note", "brief_references", "keep_promise"}
    for name, msg in messages.items():
        body, subject = msg.get_content(), str(msg["Subject"])
        assert "49" not in body + subject, f"{name}: a template evaluated store text"
        if "keep_promise" not in name:  # a kept promise names what was promised, not the role
            assert ROLE in body + subject
        assert msg["From"].addresses[0].display_name == COACHEE, name
        assert COACHEE in body  # the signature, quotes and ampersand untouched
    thank_you = next(m for n, m in messages.items() if "thank_you_note" in n)
    assert thank_you["To"].addresses[0].display_name == INTERVIEWER
    # (Python's folding may move a long subject to a continuation line: compare it unfolded.)
    assert str(thank_you["Subject"]).strip() == f"Thank you for our conversation about the {ROLE} role"
    assert TOPIC_LIST in thank_you.get_content() and f"role at {COMPANY}." in thank_you.get_content()
    briefing = next(m for n, m in messages.items() if "brief_references" in n)
    assert briefing["To"].addresses[0].display_name == REFERENCE
    assert f"Hi {REFERENCE}," in briefing.get_content()
    assert f"I interviewed with {INTERVIEWER} at {COMPANY} for the {ROLE} role" in briefing.get_content()
    # The reference without an email is named, literally, among what could not be drafted.
    assert f"no email address for {NO_EMAIL_REFERENCE}" in proc.stderr


# ------------------------------------------------------------------ calendar


def test_calendar_parses_and_carries_the_literal_text(hostile, followup, tmp_path):
    url, root, _ = hostile
    path = tmp_path / "hostile.ics"
    proc = followup("calendar", "--coachee", CID, "--as-of", DAY, "--out", str(path), db=url, env=env_for(root))
    assert proc.returncode == 0, proc.stderr
    cal = icalendar.Calendar.from_ical(path.read_bytes())
    summaries = [str(e["summary"]) for e in cal.walk("VEVENT")]
    descriptions = [str(e["description"]) for e in cal.walk("VEVENT")]
    assert f"Thank-you note to {INTERVIEWER} — {COMPANY}" in summaries
    assert f"Brief {REFERENCE} (reference) — {COMPANY}" in summaries
    assert f"Brief {NO_EMAIL_REFERENCE} (reference) — {COMPANY}" in summaries
    assert any(f"You interviewed with {INTERVIEWER} at {COMPANY}" in d for d in descriptions)
    assert any(TOPIC_LIST in d for d in descriptions)
    assert any(f"Hi {REFERENCE}," in d for d in descriptions)  # the draft's first lines
    assert not any("49" in s for s in summaries + descriptions)


# ------------------------------------------------------------------ weekly report


@pytest.mark.slow
def test_weekly_report_escapes_store_text(hostile):
    # A real process, like every report run a coach makes (kernels of its own).
    url, root, _ = hostile
    out = root / "report"
    proc = run_cli("report", "--coachee", CID, "--week-ending", DAY, "--out", str(out), db=url, env=env_for(root))
    assert proc.returncode == 0, proc.stderr
    page = (out / safe_name(CID, f"-weekly-{DAY}.html")).read_text(encoding="utf-8")
    parsed = assert_shown_as_text(page, COACHEE, COMPANY, INTERVIEWER, REFERENCE, TOPIC_LIST, NO_EMAIL_REFERENCE)
    assert "alert(1)</script>" not in page, "the company's markup reached the page raw"
    assert ROLE in page  # in the chart's labels: text, never run by the page's own template
    # Inside scripts (plotly and the chart data) the company is data: escaped text in a string.
    for script in parsed.texts_of("script"):
        for i in [i for i in range(len(script)) if script.startswith("alert(1)", i)]:
            assert script[:i].endswith("&lt;script&gt;"), script[max(0, i - 60) : i + 30]
    assert "<b>x</b>" not in page.replace("&lt;b&gt;x&lt;/b&gt;", "")


# ------------------------------------------------------------------ working session


@pytest.fixture
def session(hostile, tmp_path, monkeypatch):
    url, root, _ = hostile
    db = tmp_path / "session.db"
    source = open_store(url)
    source.backup(db)  # a copy of its own: the session writes
    source.engine.dispose()
    monkeypatch.setattr("followup_lib.faces.session.display", lambda *a, **k: None)  # no kernel: no chart output
    s = WorkingSession(f"sqlite:///{db}", CID, AS_OF, drafts_dir=tmp_path / "drafts")
    yield s
    s.store.engine.dispose()


def pick(s: WorkingSession, kind: str, **match) -> dict:
    for a in s.actions.to_dict("records"):
        if a["kind"] == kind and all(a.get(k) == v for k, v in match.items()):
            s.action_list.value = a["action_id"]
            return a
    raise AssertionError(f"no {kind} {match}")


def test_session_lists_and_explains_actions_with_the_text_as_text(session):
    labels = [label for label, _ in session.action_list.options]
    assert any(f"Thank-you note → {INTERVIEWER} ({COMPANY}, email)" in label for label in labels)
    assert any(f"Brief reference → {REFERENCE} ({COMPANY}, email)" in label for label in labels)
    for _, action_id in session.action_list.options:
        session.action_list.value = action_id
        a = session.action()
        assert_shown_as_text(session.why.value, a["why"])
        assert COMPANY in a["why"]
    assert_shown_as_text(session.summary.value)
    assert_shown_as_text(session.chart_sentence.value)


def test_session_drafts_hold_the_text_literally(session):
    pick(session, "thank_you_note")
    session.open_button.click()
    assert session.draft_to.value == f"{INTERVIEWER} <hiring@acme.example>"
    assert session.draft_subject.value == f"Thank you for our conversation about the {ROLE} role"
    assert f"at {COMPANY}." in session.draft_body.value and "49" not in session.draft_body.value
    pick(session, "brief_references", reference_id="R700")
    session.open_button.click()
    assert session.draft_body.value.startswith(f"Hi {REFERENCE},")
    assert session.draft_to.value == f"{REFERENCE} <ref.one@example.net>"
    assert_shown_as_text(session.draft_status.value)
    # Marking it sent confirms, naming the reference: escaped in the HTML status.
    session.sent_button.click()
    assert_shown_as_text(session.action_status.value, f"Brief reference to {REFERENCE}.")


def test_session_shows_a_draft_problem_naming_hostile_text_escaped(session):
    pick(session, "brief_references", reference_id="R701")
    session.open_button.click()
    assert_shown_as_text(session.action_status.value, f"no email address for {NO_EMAIL_REFERENCE}", COMPANY)
    assert session.draft is None


def test_forms_offer_and_load_the_text_literally(session):
    form = session.forms["interviews"]
    assert (f"{COMPANY} — {ROLE}", "A700") in form.fields["application_id"].options
    records = dict((v, label) for label, v in form.record.options)
    # Names, round and date, as the session labels a record (no bare id).
    round_ = FORMULAS[("interviews", "round")]
    assert records[("I700",)] == f"{COMPANY} · round {round_} · {INTERVIEWER} · 13 Nov 2026"
    form.record.value = ("I700",)
    assert form.fields["interviewer_name"].value == INTERVIEWER
    assert form.fields["topics"].value == TOPICS
    assert form.fields["round"].value == FORMULAS[("interviews", "round")]
    refs = session.forms["reference_uses"].fields["reference_id"].options
    assert (REFERENCE, "R700") in refs and (NO_EMAIL_REFERENCE, "R701") in refs
    coachee = session.forms["coachees"]
    coachee.record.value = (CID,)
    assert coachee.fields["name"].value == COACHEE
    assert coachee.fields["notes"].value == FORMULAS[("coachees", "notes")]
    assert_shown_as_text(form.status.value)
    assert session.picker.label == f"{COACHEE} ({CID})"


def test_form_status_messages_escape_what_was_typed(session):
    form = session.forms["messages"]
    hostile_id = "<img src=x onerror=alert(3)>"
    form.fields["message_id"].value = hostile_id
    form.fields["application_id"].value = "A700"
    form.fields["summary"].value = REFERENCE
    form.save.click()
    assert_shown_as_text(form.status.value, f"Saved message {hostile_id}.")
    assert session.store.row("messages", {"message_id": hostile_id})["summary"] == REFERENCE
    # The same id again: refused, and the refusal names the id as text.
    form.fields["message_id"].value = hostile_id
    form.fields["application_id"].value = "A700"
    form.save.click()
    assert_shown_as_text(form.status.value, f"a message with id {hostile_id} already exists")


def test_an_unknown_coachee_id_is_named_as_text(hostile, tmp_path, monkeypatch):
    url, _, _ = hostile
    monkeypatch.setattr("followup_lib.faces.session.display", lambda *a, **k: None)
    s = WorkingSession(url, "<b>x</b>", AS_OF, drafts_dir=tmp_path / "drafts")
    try:
        assert_shown_as_text(s.top_status.value, "No coachee '<b>x</b>' in the store")
    finally:
        s.store.engine.dispose()


# ------------------------------------------------------------------ export and import


def read_csv_folder(folder: Path) -> dict[str, list[dict]]:
    out = {}
    for p in sorted(folder.glob("*.csv")):
        with open(p, newline="", encoding="utf-8") as f:
            out[p.stem] = list(csv.DictReader(f))
    return out


def stored(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return {name: df.drop(columns="row_version", errors="ignore") for name, df in tables.items()}


def assert_same_tables(a: dict, b: dict) -> None:
    for name in a:
        pd.testing.assert_frame_equal(stored(a)[name], stored(b)[name], obj=name)


def test_export_guards_formula_cells_and_import_restores_them_exactly(hostile, tmp_path, followup):
    url, root, tables = hostile
    env = env_for(root)
    first = tmp_path / "export"
    followup("export", str(first), "--coachee", CID, db=url, env=env, check=True)
    cells = read_csv_folder(first)
    for (table, column), value in FORMULAS.items():
        (row,) = [r for r in cells[table] if r[column]]
        assert row[column] == "'" + value, (table, column)
    assert cells["applications"][0]["company"] == COMPANY  # markup is not a formula: left alone
    assert cells["references"][0]["phone"] == "'+1 555 0700"
    # followup import of that export, into an empty store, gives back exactly what was stored.
    again = f"sqlite:///{tmp_path / 'again.db'}"
    followup("import", str(first), db=again, env=env, check=True)
    store = open_store(again)
    try:
        assert_same_tables(tables, store.load())
    finally:
        store.engine.dispose()
    second = tmp_path / "export-again"
    followup("export", str(second), db=again, env=env, check=True)
    for p in first.glob("*.csv"):
        assert (second / p.name).read_bytes() == p.read_bytes(), p.name


def test_xlsx_export_holds_guarded_text_not_formulas_and_round_trips(hostile, tmp_path):
    url, _, tables = hostile
    store = open_store(url)
    try:
        (book,) = export_store(store, tmp_path / "hostile.xlsx", coachee_id=CID)
    finally:
        store.engine.dispose()
    wb = openpyxl.load_workbook(book)
    for (table, column), value in FORMULAS.items():
        ws = wb[table]
        col = [c.value for c in ws[1]].index(column)
        (cell,) = [row[col] for row in ws.iter_rows(min_row=2) if row[col].value]
        assert cell.data_type == "s" and cell.value == "'" + value, (table, column, cell.data_type, cell.value)
    empty = open_store(f"sqlite:///{tmp_path / 'from-xlsx.db'}")
    try:
        import_path(empty, book)
        assert_same_tables(tables, empty.load())
    finally:
        empty.engine.dispose()


# ------------------------------------------------------------------ the template sandbox

UNSAFE_TEMPLATES = {
    "mro": "{{ ''.__class__.__mro__ }}",
    "subclasses": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "cycler globals": "{{ cycler.__init__.__globals__ }}",
    "os via cycler": "{{ cycler.__init__.__globals__.os.system('touch {marker}') }}",
    "lipsum globals": "{{ lipsum.__globals__['os'].system('touch {marker}') }}",
    "format string": "{{ '{0.__class__.__mro__}'.format('') }}",
    "huge range": "{% for x in range(10**9) %}{{ x }}{% endfor %}",
    "huge range as a list": "{{ range(10**9) | list | length }}",
}


@pytest.fixture(scope="module")
def thank_you(hostile):
    """The hostile coachee's thank-you action and its facts."""
    _, _, tables = hostile
    actions = due_actions(tables, AS_OF)
    action = actions[actions["kind"].eq("thank_you_note")].iloc[0].to_dict()
    return action, facts_for(action, tables)


@pytest.mark.parametrize("name", list(UNSAFE_TEMPLATES))
def test_a_coach_template_reaching_for_python_is_refused_with_a_draft_error(thank_you, tmp_path, name):
    marker = tmp_path / "pwned"
    folder = tmp_path / "templates"
    folder.mkdir()
    code = UNSAFE_TEMPLATES[name].replace("{marker}", str(marker))
    (folder / "thank_you_note.email.j2").write_text(f"Subject: Hello\nDear {{{{ recipient_first_name }}}},\n{code}\n")
    action, facts = thank_you
    with pytest.raises(DraftError) as err:
        render_draft(action, facts, template_environment(folder))
    assert str(err.value).startswith(f"thank_you_note for {COMPANY}: ")
    assert not marker.exists()


def test_followup_drafts_refuses_an_unsafe_coach_template_and_writes_the_rest(hostile, tmp_path, followup):
    url, root, _ = hostile
    marker = tmp_path / "pwned"
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "thank_you_note.email.j2").write_text(
        "Subject: Hello\n{{ cycler.__init__.__globals__.os.system('touch " + str(marker) + "') }}\n"
    )
    (folder / "keep_promise.email.j2").write_text("Subject: Hello\n{{ ''.__class__.__mro__ }}\n")
    out = tmp_path / "drafts"
    proc = followup(
        "drafts",
        "--coachee",
        CID,
        "--as-of",
        DAY,
        "--out",
        str(out),
        "--upcoming",
        db=url,
        env=env_for(root, templates=folder),
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"not drafted: thank_you_note for {COMPANY}: the template is not allowed" in proc.stderr
    assert f"not drafted: keep_promise for {COMPANY}: the template is not allowed" in proc.stderr
    assert not marker.exists()
    assert [p.name.split("-")[3] for p in out.iterdir()] == ["brief_references"]


def test_followup_drafts_reports_a_coach_template_that_fails_while_running(hostile, tmp_path, followup):
    """A template the sandbox stops mid-run (a range too big) is one draft not made,
    named, like any other refused template — not a traceback that stops every draft."""
    url, root, _ = hostile
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "thank_you_note.email.j2").write_text("Subject: Hello\n{% for x in range(10**9) %}{{ x }}{% endfor %}\n")
    out = tmp_path / "drafts"
    proc = followup(
        "drafts",
        "--coachee",
        CID,
        "--as-of",
        DAY,
        "--out",
        str(out),
        "--upcoming",
        db=url,
        env=env_for(root, templates=folder),
    )
    assert "Traceback" not in proc.stderr, proc.stderr[-600:]
    assert proc.returncode == 0
    assert f"not drafted: thank_you_note for {COMPANY}:" in proc.stderr
    assert sorted(p.name.split("-")[3] for p in out.iterdir()) == ["brief_references", "keep_promise"]


def test_the_session_shows_a_refused_template_as_a_message(hostile, tmp_path, monkeypatch):
    url, _, _ = hostile
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "thank_you_note.email.j2").write_text("Subject: Hello\n{{ cycler.__init__.__globals__ }}\n")
    monkeypatch.setenv("FOLLOWUP_TEMPLATES", str(folder))
    monkeypatch.setattr("followup_lib.faces.session.display", lambda *a, **k: None)
    s = WorkingSession(url, CID, AS_OF, drafts_dir=tmp_path / "drafts")
    try:
        pick(s, "thank_you_note")
        s.open_button.click()
        assert_shown_as_text(s.action_status.value, f"thank_you_note for {COMPANY}: the template is not allowed")
        assert s.draft is None and "globals" not in s.draft_body.value
    finally:
        s.store.engine.dispose()
