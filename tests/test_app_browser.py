"""The code-free app (Voilà), served on localhost and driven in Debian's Chromium by
Playwright, as a person would: wait for widgets, click, type, read the page.
"""

from __future__ import annotations

import sqlite3

import pytest

from followup_lib.data.demo import load_demo
from followup_lib.data.store import open_store

from builders import AS_OF, ROOT, require_chromium, start_app

pytestmark = [pytest.mark.browser]
OUTPUT = ROOT / "tests" / "output"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# This module's tests open pages faster than Voilà lets their kernels go: a cap
# above the default 4 (the cap itself is tested in test_app_guard.py).
MANY_PAGES = "[defaults]\napp_max_kernels = 16\n"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """``followup app`` (with its token, on the port it picked) over a fresh demo
    store, as of the demo's today."""
    require_chromium()
    folder = tmp_path_factory.mktemp("app")
    db = f"sqlite:///{folder / 'followup.db'}"
    store = open_store(db)
    load_demo(store, shift=False)
    store.engine.dispose()
    running = start_app(folder, db, "--coachee", "C001", settings=MANY_PAGES)
    try:
        yield {**running, "db": db, "folder": folder}
    finally:
        # SIGTERM to the group (followup app then stops Voilà and its kernels), up
        # to 20 s, then SIGKILL to whatever is left of the group.
        running.stop()


@pytest.fixture(scope="module")
def browser(app):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=require_chromium(), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, app):
    context = browser.new_context(viewport={"width": 1366, "height": 2400})
    # Offline, as on a laptop with no network: only the app itself answers.
    # (Voilà's page links Font Awesome from a CDN; its bundled copy is used instead.)
    context.route(
        "**/*", lambda route: route.continue_() if route.request.url.startswith(app["base"]) else route.abort()
    )
    pg = context.new_page()
    pg.goto(app["url"], wait_until="commit", timeout=120_000)
    # Voilà runs the notebook, then the widgets render: wait for the action list.
    pg.wait_for_selector(".fw-actions select option", timeout=120_000)
    yield pg
    pg.close(run_before_unload=True)  # as a person leaving: the page lets its kernel go
    context.close()


def _rows(db: str, sql: str) -> list[tuple]:
    con = sqlite3.connect(db.removeprefix("sqlite:///"))
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _dump(db: str) -> list:
    tables = [
        "coachees",
        "applications",
        "interviews",
        "references",
        "reference_uses",
        "promises",
        "messages",
        "offers",
    ]
    return [_rows(db, f'SELECT * FROM "{t}" ORDER BY 1, 2') for t in tables]


def _options(page) -> list[str]:
    return [t.replace("\xa0", " ") for t in page.locator(".fw-actions select option").all_inner_texts()]


def test_actions_listed_and_no_code_visible(page):
    options = _options(page)
    assert any("Thank-you note → Elena Voss" in o for o in options), options
    assert any("Status inquiry → Chloe Adams" in o for o in options), options
    assert options[0].startswith(("OVERDUE", "DUE")), "most urgent first"
    text = page.inner_text("body")
    assert "Days since each interview" in text
    assert "from followup_lib" not in text and "session.widget" not in text
    assert page.locator(".jp-CodeCell .jp-InputArea, .jp-InputPrompt, .jp-CodeMirrorEditor, .cm-editor").count() == 0
    # The why of the selected action is shown in words.
    assert "You interviewed with Elena Voss" in text or "said you would hear by" in text or "promised" in text
    # The chart is drawn.
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=30_000)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / "app.png"), full_page=True)
    assert (OUTPUT / "app.png").stat().st_size > 10_000


def test_no_version_warnings_in_the_console(browser, app):
    """Voilà's bundled JupyterLab packages and the widget extensions agree on
    versions: the page logs no "Unsatisfied version" warning (ipywidgets and
    jupyterlab_widgets are pinned to the releases built against Voilà's JupyterLab)."""
    context = browser.new_context()
    context.route(
        "**/*", lambda route: route.continue_() if route.request.url.startswith(app["base"]) else route.abort()
    )
    messages: list[str] = []
    pg = context.new_page()
    pg.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
    try:
        pg.goto(app["url"], wait_until="commit", timeout=120_000)
        pg.wait_for_selector(".fw-actions select option", timeout=120_000)
    finally:
        context.close()
    unsatisfied = [m for m in messages if "Unsatisfied version" in m]
    assert not unsatisfied, unsatisfied


def test_log_interview_then_draft_and_mark_sent(page, app):
    form = page.locator(".fw-form-interviews")
    form.locator("select").nth(1).select_option(label="Northwind Analytics — Senior Data Analyst")
    form.locator("input[type=date]").first.fill(AS_OF.isoformat())

    def fill(label: str, value: str):
        box = form.locator(".widget-text, .widget-textarea").filter(has_text=label).locator("input, textarea").first
        box.fill(value)
        box.press("Tab")

    fill("interviewer name", "Quentin Marsh")
    fill("interviewer email", "quentin.marsh@northwind.example")
    form.get_by_role("button", name="Save").click()
    page.wait_for_selector(".fw-form-interviews .fw-ok", timeout=30_000)
    assert "Saved interview" in form.locator(".fw-ok").inner_text()

    # The thank-you action appears.
    page.wait_for_function(
        "() => [...document.querySelectorAll('.fw-actions select option')].some(o => o.textContent.replace(/\u00a0/g, ' ').includes('Quentin Marsh'))",
        timeout=30_000,
    )
    label = next(o for o in page.locator(".fw-actions select option").all_inner_texts() if "Quentin" in o)
    page.locator(".fw-actions select").select_option(label=label)
    page.get_by_role("button", name="Open draft").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('textarea')].some(t => t.value.includes('Dear Quentin'))", timeout=30_000
    )
    boxes = page.locator("input[type=text]").all()
    assert any("quentin.marsh@northwind.example" in box.input_value() for box in boxes)
    before = _rows(app["db"], "SELECT COUNT(*) FROM messages")[0][0]
    page.get_by_role("button", name="Mark sent").click()
    page.wait_for_function(
        "() => ![...document.querySelectorAll('.fw-actions select option')].some(o => o.textContent.replace(/\u00a0/g, ' ').includes('Quentin Marsh'))",
        timeout=30_000,
    )
    assert _rows(app["db"], "SELECT COUNT(*) FROM messages")[0][0] == before + 1
    sent = _rows(
        app["db"],
        "SELECT kind, direction FROM messages WHERE kind = 'thank_you_note' AND direction = 'sent' "
        "AND application_id = 'A001' ORDER BY rowid DESC LIMIT 1",
    )
    assert sent == [("thank_you_note", "sent")]
    assert _rows(app["db"], "SELECT thank_you_sent_on FROM interviews WHERE interviewer_name = 'Quentin Marsh'") == [
        (AS_OF.isoformat(),)
    ]


def test_bad_form_value_shows_message_and_writes_nothing(page, app):
    before = _dump(app["db"])
    page.get_by_role("tab", name="Application").click()
    form = page.locator(".fw-form-applications")
    form.wait_for()
    role = form.locator(".widget-text").filter(has_text="role").locator("input").first
    role.fill("Analyst")
    role.press("Tab")
    form.get_by_role("button", name="Save").click()
    page.wait_for_selector(".fw-form-applications .fw-error", timeout=30_000)
    message = form.locator(".fw-error").inner_text()
    assert "Company: is required" in message  # the field named as the form labels it
    assert _dump(app["db"]) == before


def test_two_people_at_once_see_each_others_changes(page, app, browser):
    """The coach (a WorkingSession in this process, as in JupyterLab) and the client
    (the app) write to one store at the same time; each sees the other's change
    after a refresh, and nobody meets "database is locked"."""
    import threading

    from followup_lib.faces.session import WorkingSession

    coach = WorkingSession(app["db"], "C001", AS_OF)
    errors: list[str] = []
    stop = threading.Event()

    def coach_keeps_saving():
        n = 0
        while not stop.is_set() and n < 40:
            form = coach.forms["messages"]
            form.reset()
            form.fields["application_id"].value = "A002"
            form.fields["on"].value = AS_OF
            form.fields["summary"].value = f"Coach note {n}"
            form.save.click()
            if "fw-error" in form.status.value:
                errors.append(form.status.value)
            n += 1

    writer = threading.Thread(target=coach_keeps_saving)
    writer.start()
    try:
        # Meanwhile the client logs a promise in the app.
        page.get_by_role("tab", name="Promise").click()
        form = page.locator(".fw-form-promises")
        form.locator("select").nth(1).select_option(label="Harbor Health — Reporting Analyst")
        what = form.locator(".widget-textarea").filter(has_text="what").locator("textarea").first
        what.fill("the client's portfolio link")
        what.press("Tab")
        form.locator("input[type=date]").first.fill("2026-11-18")
        form.get_by_role("button", name="Save").click()
        page.wait_for_selector(".fw-form-promises .fw-ok, .fw-form-promises .fw-error", timeout=60_000)
        assert "Saved promise" in form.locator(".fw-msg").last.inner_text()
    finally:
        stop.set()
        writer.join(timeout=120)
    assert not errors, errors
    assert "locked" not in page.inner_text("body").lower()

    # The coach sees the client's promise after a refresh…
    coach.after_change()
    assert coach.actions["why"].str.contains("portfolio link").any()
    # …and the client sees the coach's messages after pressing Refresh.
    page.get_by_role("button", name="Refresh").click()
    page.wait_for_selector("text=Up to date.", timeout=60_000)
    page.get_by_role("tab", name="Message").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.fw-form-messages select')][0] && "
        "[...document.querySelectorAll('.fw-form-messages select')][0].textContent.replace(/\\u00a0/g, ' ').includes('Coach note')",
        timeout=30_000,
    )
    assert _rows(app["db"], "SELECT COUNT(*) FROM messages WHERE summary LIKE 'Coach note %'")[0][0] >= 1
