"""The weekly report as a PDF (issue 13): printed by headless Chromium through
Playwright, read back with pypdf: the coachee's name, a section heading and a
chart's axis title are text in the PDF (the chart is vectors, not a picture),
the paper follows the coachee's country, and the page fetches nothing.
"""

from __future__ import annotations

import json
import re

import pypdf
import pytest

from followup_lib.data.demo import load_demo
from followup_lib.data.store import open_store
from followup_lib.errors import ReportError
from followup_lib.faces import pdf as pdf_mod
from followup_lib.faces.pdf import PdfPrinter, paper_for
from followup_lib.faces.report import render_report, run_reports
from followup_lib.paths import safe_name

from builders import AS_OF, require_chromium

pytestmark = [pytest.mark.browser]

WEEK = AS_OF.isoformat()
A4 = (595.3, 841.9)  # points
LETTER = (612.0, 792.0)


@pytest.fixture(scope="module")
def practice(tmp_path_factory):
    require_chromium()
    root = tmp_path_factory.mktemp("pdf")
    url = f"sqlite:///{root / 'followup.db'}"
    store = open_store(url)
    try:
        load_demo(store, shift=False)
        names = dict(zip(store.coachees()["coachee_id"], store.coachees()["name"]))
        countries = dict(zip(store.coachees()["coachee_id"], store.coachees()["country"]))
    finally:
        store.engine.dispose()
    return url, root, names, countries


@pytest.fixture(scope="module")
def printed(practice):
    """``run_reports(..., fmt="both")`` for two coachees: one browser prints both."""
    url, root, _, _ = practice
    out = root / "both"
    code = run_reports(url, ["C001", "C002"], WEEK, out, fmt="both")
    return code, out


def pdf_text(path) -> str:
    reader = pypdf.PdfReader(str(path))
    return "\n".join(page.extract_text() for page in reader.pages)


def page_size(path) -> tuple[float, float]:
    box = pypdf.PdfReader(str(path)).pages[0].mediabox
    return float(box.width), float(box.height)


def axis_titles(html: str) -> list[str]:
    """The axis titles of the page's plotly charts, read from the figures' JSON."""
    titles = []
    decoder = json.JSONDecoder()
    for call in re.finditer(r"Plotly\.newPlot\(\s*\"[^\"]*\",\s*", html):
        _, end = decoder.raw_decode(html, call.end())
        layout, _ = decoder.raw_decode(html, html.index("{", end))
        for axis in ("xaxis", "yaxis"):
            title = (layout.get(axis) or {}).get("title")
            text = title.get("text") if isinstance(title, dict) else title
            if text:
                titles.append(text)
    return titles


def words(text: str) -> str:
    # pypdf breaks lines where the page did and writes ligatures as one character.
    return " ".join(text.replace("\ufb01", "fi").replace("\ufb00", "ff").replace("\ufb03", "ffi").split())


def test_both_writes_page_and_pdf_for_each_coachee(printed, practice, capsys):
    code, out = printed
    assert code == 0
    for cid in ("C001", "C002"):
        html = out / safe_name(cid, f"-weekly-{WEEK}.html")
        pdf = html.with_suffix(".pdf")
        assert html.exists() and pdf.exists()
        assert pdf.read_bytes().startswith(b"%PDF-")
    assert not list(out.glob("*.partial"))


@pytest.mark.parametrize("cid", ["C001", "C002"])
def test_pdf_holds_the_report_as_text_with_vector_charts(printed, practice, cid):
    _, out = printed
    _, _, names, _ = practice
    html = (out / safe_name(cid, f"-weekly-{WEEK}.html")).read_text(encoding="utf-8")
    text = words(pdf_text(out / safe_name(cid, f"-weekly-{WEEK}.pdf")))
    assert f"Weekly progress: {names[cid]}" in text
    headings = [words(re.sub(r"<[^>]+>", "", h)) for h in re.findall(r"<h2[^>]*>(.*?)</h2>", html, re.DOTALL)]
    assert headings and all(h.replace("¶", "").strip() in text for h in headings), headings
    titles = axis_titles(html)
    assert titles, "the page has charts with axis titles"
    for title in titles:
        # A chart printed as a picture would have no text at all.
        assert words(title) in text, f"{cid}: axis title {title!r} is not text in the PDF"
    for code_text in ("from followup_lib", "load_coachee", "Traceback", "In [", "sqlite:"):
        assert code_text not in text


def test_paper_follows_the_coachees_country(printed, practice):
    _, out = printed
    _, _, _, countries = practice
    for cid in ("C001", "C002"):
        width, height = page_size(out / safe_name(cid, f"-weekly-{WEEK}.pdf"))
        expected = LETTER if paper_for(countries[cid]) == "Letter" else A4
        # Chromium rounds A4 to hundredths of an inch (595.92 x 842.88): within a millimetre.
        assert abs(width - expected[0]) < 2.8 and abs(height - expected[1]) < 2.8, (cid, countries[cid], width, height)
    # The demo practice has both: Maya in the US, Jordan in Great Britain.
    assert paper_for(countries["C001"]) == "Letter" and paper_for(countries["C002"]) == "A4"


def test_paper_for_countries_and_locales(monkeypatch):
    assert paper_for("US") == paper_for("ca") == paper_for(" MX ") == "Letter"
    assert paper_for("GB") == paper_for("DE") == paper_for("JP") == "A4"
    assert paper_for("", "US") == "Letter"  # the coachee says nothing: the coach's settings
    monkeypatch.setenv("LC_ALL", "")
    monkeypatch.setenv("LC_PAPER", "en_US.UTF-8")
    assert paper_for(None, "") == "Letter"
    monkeypatch.setenv("LC_PAPER", "fr_FR.UTF-8")
    assert paper_for(None) == "A4"


def test_pdf_only_keeps_no_page(practice, tmp_path):
    url, _, names, _ = practice
    result = render_report(url, "C003", WEEK, tmp_path, fmt="pdf")
    assert result.error is None, result.error
    assert result.pdf == tmp_path / safe_name("C003", f"-weekly-{WEEK}.pdf") and result.pdf.exists()
    assert result.html is None and not list(tmp_path.glob("*.html"))
    assert result.notebook.exists()
    assert f"Weekly progress: {names['C003']}" in words(pdf_text(result.pdf))


def test_a_page_that_would_fetch_something_is_refused(tmp_path):
    require_chromium()
    page = tmp_path / "p.html"
    page.write_text('<html><body><h1>Hello</h1><img src="https://example.invalid/x.png"></body></html>')
    with PdfPrinter() as printer, pytest.raises(ReportError, match=r"tried to fetch 1 resource.*example\.invalid"):
        printer.print_pdf(page, tmp_path / "p.pdf")
    assert not (tmp_path / "p.pdf").exists()


def test_no_browser_is_one_line_saying_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(pdf_mod, "chromium_executable", lambda: str(tmp_path / "no-such-chromium"))
    with pytest.raises(ReportError) as err:
        with PdfPrinter():
            pass
    assert "pip install -e '.[pdf]'" in str(err.value) and "\n" not in str(err.value)


def test_no_playwright_is_one_line_saying_what_to_install(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "playwright.sync_api", None)
    with pytest.raises(ReportError, match=r"pip install -e '\.\[pdf\]'"):
        with PdfPrinter():
            pass


def test_unknown_format_is_refused(practice, tmp_path):
    url, _, _, _ = practice
    with pytest.raises(ReportError, match="unknown report format 'docx'"):
        run_reports(url, ["C001"], WEEK, tmp_path, fmt="docx")
    assert not list(tmp_path.iterdir())
