"""The app's static files are kept by the browser: Voilà's JavaScript, JupyterLab's
CSS and the widgets' JavaScript come with long cache headers, so a reload fetches
none of them again; the page itself is never cached. In Debian's Chromium, driven
by Playwright, against one ``followup app`` for the whole module.

No ``context.route`` here: Playwright turns the browser's HTTP cache off for a
context whose requests it intercepts.
"""

from __future__ import annotations

import re
import urllib.request

import pytest

from followup_lib.data.demo import load_demo
from followup_lib.data.store import open_store
from followup_lib.faces.voila_guard import UNVERSIONED_MAX_AGE, VERSIONED_MAX_AGE, cache_control

from builders import require_chromium, start_app

pytestmark = [pytest.mark.browser]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
STATIC = re.compile(r"/voila/(static|templates/[^/]+/static|labextensions)/")
ACTIONS = ".fw-actions select option"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    require_chromium()
    folder = tmp_path_factory.mktemp("app-cache")
    db = f"sqlite:///{folder / 'followup.db'}"
    store = open_store(db)
    load_demo(store, shift=False)
    store.engine.dispose()
    # Default settings, read (and the session's day written) in this test's folder.
    running = start_app(folder, db, "--coachee", "C001", settings="[defaults]\n")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser(app):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=require_chromium(), args=CHROMIUM_ARGS)
        yield b
        b.close()


class Network:
    """What the page asked of the network, as Chromium's DevTools protocol tells it:
    the URLs that went to the server, and the ones served from the browser's cache."""

    def __init__(self, context, page):
        self.sent: dict[str, str] = {}  # requestId -> url
        self.from_cache: set[str] = set()  # requestIds
        self.reached_server: set[str] = set()
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.on("Network.requestWillBeSent", lambda e: self.sent.__setitem__(e["requestId"], e["request"]["url"]))
        cdp.on("Network.requestServedFromCache", lambda e: self.from_cache.add(e["requestId"]))
        cdp.on("Network.responseReceived", self._response)

    def _response(self, e) -> None:
        r = e["response"]
        if r.get("fromDiskCache") or r.get("fromMemoryCache") or r.get("fromPrefetchCache"):
            self.from_cache.add(e["requestId"])
        elif not e["response"]["url"].startswith(("data:", "blob:")):
            self.reached_server.add(e["requestId"])

    def static_urls_fetched(self) -> list[str]:
        return sorted(
            self.sent[i]
            for i in self.reached_server - self.from_cache
            if i in self.sent and STATIC.search(self.sent[i])
        )

    def static_urls_from_cache(self) -> list[str]:
        return sorted(self.sent[i] for i in self.from_cache if i in self.sent and STATIC.search(self.sent[i]))


def _max_age(header: str) -> int:
    m = re.search(r"max-age=(\d+)", header or "")
    return int(m.group(1)) if m else 0


def test_a_year_only_for_a_url_that_changes_with_its_content():
    year, hour = VERSIONED_MAX_AGE, UNVERSIONED_MAX_AGE
    ext = "/voila/labextensions/@jupyter-widgets/jupyterlab-manager/static/"
    assert cache_control(ext + "remoteEntry.e4ff09401a2f575928c0.js", False)[0] == year
    assert cache_control("/voila/templates/lab/static/9834b82ad26e2a37583d.woff2", False)[0] == year
    assert cache_control("/voila/templates/lab/static/index.css", True) == (year, f"public, max-age={year}, immutable")
    # Names that stay the same from one version to the next: an hour, then the ETag.
    assert cache_control("/voila/static/voila.js", False) == (hour, f"public, max-age={hour}")
    assert cache_control("/voila/static/8925.voila.js", False)[0] == hour  # a chunk's number, not a hash
    assert cache_control(ext + "style.js", False)[0] == hour
    assert cache_control(ext + "651.fe40a967a60b543cf15c.js.LICENSE.txt", False)[0] == hour


def test_static_files_cached_page_not(browser, app):
    context = browser.new_context()
    page = context.new_page()
    responses = []
    page.on("response", lambda r: responses.append(r))
    try:
        page.goto(app["url"], wait_until="commit", timeout=120_000)
        page.wait_for_selector(ACTIONS, timeout=120_000)
        static = {r.url: r.headers for r in responses if STATIC.search(r.url)}
        html = next(r for r in responses if r.request.resource_type == "document")
    finally:
        context.close()

    # The page carries the token, the _xsrf cookie and today's data: never kept.
    assert "no-store" in html.headers.get("cache-control", ""), html.headers

    def find(fragment: str) -> tuple[str, dict]:
        hits = [(u, h) for u, h in static.items() if fragment in u]
        assert hits, f"the page asked for no {fragment}: {sorted(static)}"
        return hits[0]

    bundle, bundle_headers = find("/voila/static/voila.js")  # no version in its URL
    assert bundle_headers["cache-control"] == f"public, max-age={UNVERSIONED_MAX_AGE}", bundle_headers
    assert bundle_headers.get("etag"), "an unversioned file is revalidated by its ETag"
    css, css_headers = find("/voila/templates/lab/static/index.css?v=")
    widgets, widgets_headers = find("/voila/labextensions/@jupyter-widgets/jupyterlab-manager/static/remoteEntry.")
    plotly, plotly_headers = find("/voila/labextensions/jupyterlab-plotly/static/")
    for url, headers in [(css, css_headers), (widgets, widgets_headers), (plotly, plotly_headers)]:
        assert headers["cache-control"] == f"public, max-age={VERSIONED_MAX_AGE}, immutable", (url, headers)
    # Every static file the page loads is kept at least an hour, and said public.
    for url, headers in static.items():
        assert headers.get("cache-control", "").startswith("public, max-age="), (url, headers)
        assert _max_age(headers["cache-control"]) >= UNVERSIONED_MAX_AGE, (url, headers)
    # An unversioned file, once stale, costs a 304 and not its bytes.
    etag = bundle_headers["etag"]
    request = urllib.request.Request(bundle, headers={"If-None-Match": etag})
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=10)
    assert answer.value.code == 304


def test_a_reload_fetches_no_static_file_again(browser, app):
    context = browser.new_context()
    page = context.new_page()
    try:
        first = Network(context, page)
        page.goto(app["url"], wait_until="commit", timeout=120_000)
        page.wait_for_selector(ACTIONS, timeout=120_000)
        assert any("/voila/static/voila.js" in u for u in first.static_urls_fetched()), first.static_urls_fetched()

        again = context.new_page()
        second = Network(context, again)
        again.goto(app["url"], wait_until="commit", timeout=120_000)
        again.wait_for_selector(ACTIONS, timeout=120_000)
        assert second.static_urls_fetched() == [], "fetched again from the server"
        from_cache = second.static_urls_from_cache()
        assert any("/voila/static/voila.js" in u for u in from_cache), from_cache
        assert any("jupyterlab-plotly" in u for u in from_cache), from_cache

        # The first page reloaded, as with F5: the same.
        reloaded = Network(context, page)
        page.reload(wait_until="commit", timeout=120_000)
        page.wait_for_selector(ACTIONS, timeout=120_000)
        assert reloaded.static_urls_fetched() == [], "fetched again on a reload"
        assert any("/voila/static/voila.js" in u for u in reloaded.static_urls_from_cache())
    finally:
        context.close()
