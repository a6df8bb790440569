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
from followup_lib.paths import safe_name
from followup_lib.reporting import pdf as pdf_mod
from followup_lib.reporting.batch import run_reports
from followup_lib.reporting.execution import render_report
from followup_lib.reporting.pdf import PdfPrinter, paper_for

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


# ------------------------------------------------------------------ the PDF fits its paper (issue 20)


def _text_right_edges(path) -> list[tuple[int, float, float, str]]:
    """(page, x where a piece of text starts, the page's width, the text) for every piece of text."""
    found = []
    for n, page in enumerate(pypdf.PdfReader(str(path)).pages):
        width = float(page.mediabox.width)

        def visit(text, cm, tm, font_dict, font_size, n=n, width=width):
            if text.strip():
                # The text matrix within the current transformation: where the glyphs start on the page.
                x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
                found.append((n, x, width, text.strip()))

        page.extract_text(visitor_text=visit)
    return found


def _table_headings(html: str) -> list[list[str]]:
    tables = re.findall(r"<table[^>]*fw-table.*?</table>", html, re.DOTALL)
    return [
        [words(re.sub(r"<[^>]+>", "", th)) for th in re.findall(r"<th[^>]*>(.*?)</th>", t, re.DOTALL)] for t in tables
    ]


@pytest.mark.parametrize("paper", ["A4", "Letter"])
def test_every_table_fits_the_paper_and_no_page_is_blank(printed, paper, tmp_path):
    """The offers table (nine columns) on A4 and on Letter: every column's heading
    is text in the PDF, no text starts past the page's right margin, no page is
    without text, and no heading is the last text of a page."""
    _, out = printed
    html = out / safe_name("C002", f"-weekly-{WEEK}.html")
    pdf = tmp_path / f"C002-{paper}.pdf"
    with PdfPrinter() as printer:
        printer.print_pdf(html, pdf, paper)
    page = html.read_text(encoding="utf-8")
    tables = _table_headings(page)
    assert any("response deadline" in t for t in tables), "the page has the offers table"
    reader = pypdf.PdfReader(str(pdf))
    texts = [words(p.extract_text()) for p in reader.pages]
    assert all(texts), f"a page without text: {[len(t) for t in texts]}"
    # Cells wrap their lines: compare without the spaces and line ends pypdf puts in.
    squeezed = "".join("".join(texts).split())
    for headings in tables:
        for heading in headings:
            assert "".join(heading.split()) in squeezed, f"{paper}: column {heading!r} is not in the PDF"
    edges = _text_right_edges(pdf)
    assert edges
    margin_pt = pdf_mod.MARGIN_MM / 25.4 * 72
    late = [(n, round(x), t) for n, x, width, t in edges if x > width - margin_pt]
    assert late == [], f"{paper}: text past the right margin (cut off): {late[:5]}"
    h2 = [
        words(re.sub(r"<[^>]+>", "", h)).replace("¶", "").strip()
        for h in re.findall(r"<h[23][^>]*>(.*?)</h[23]>", page, re.DOTALL)
    ]
    for n, text in enumerate(texts[:-1]):
        last = text.rstrip()
        assert not any(last.endswith(h) for h in h2 if h), f"{paper}: page {n + 1} ends with a heading: {last[-60:]!r}"
    assert len(reader.pages) <= 6
