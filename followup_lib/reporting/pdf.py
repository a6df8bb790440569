"""The weekly report as a PDF: the HTML page printed by headless Chromium through
Playwright (the optional ``[pdf]`` extra), A4 or US Letter by the coachee's
country, charts as vectors (plotly draws SVG, which Chromium prints as paths and
text), and nothing fetched: every request that is not the page's own file is
refused and reported.

One browser serves a whole batch (``PdfPrinter`` is a context manager); a page
is opened and closed per report.
"""

from __future__ import annotations

import locale
import os
import shutil
from pathlib import Path

from ..errors import ReportError
from .results import ReportResult, one_line_error

# Countries where US Letter is the usual paper size; every other one uses A4.
LETTER_COUNTRIES = frozenset(
    {"US", "CA", "MX", "PR", "PH", "CL", "CO", "VE", "GT", "CR", "PA", "DO", "SV", "NI", "HN", "BZ", "GU", "VI", "AS"}
)
# Printable width at 96 CSS pixels per inch, with MARGIN on each side: the page is
# laid out (and the charts sized) at this width before printing, so nothing is cut.
PAPER_WIDTH_MM = {"A4": 210.0, "Letter": 215.9}
MARGIN_MM = 12.0
CHARTS_DRAWN_TIMEOUT_MS = 30_000

_INSTALL = (
    "PDF reports need Playwright and Chromium: pip install -e '.[pdf]' "
    "and apt-get install chromium (or: playwright install chromium)"
)


def _locale_country() -> str:
    """The country of the user's paper or language locale ("en_US.UTF-8" → "US"), or ""."""
    for var in ("LC_ALL", "LC_PAPER", "LANG"):
        value = os.environ.get(var, "")
        if value and value not in ("C", "POSIX") and not value.startswith("C."):
            break
    else:
        value = locale.getlocale()[0] or ""
    lang = value.split(".")[0].split("@")[0]
    return lang.split("_")[1].upper() if "_" in lang else ""


def paper_for(*countries: str | None) -> str:
    """ "Letter" or "A4" for the first country given (the coachee's, then the
    coach's settings'), else for the user's locale."""
    code = next((str(c).strip().upper() for c in countries if c and str(c).strip()), "") or _locale_country()
    return "Letter" if code in LETTER_COUNTRIES else "A4"


def chromium_executable() -> str | None:
    """The system's Chromium (Debian's ``chromium``), or None: Playwright's own then."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


class PdfPrinter:
    """A headless Chromium kept open to print one report after another."""

    def __init__(self) -> None:
        self._pw = None
        self._browser = None

    def __enter__(self) -> PdfPrinter:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            raise ReportError(_INSTALL) from None
        self._pw = sync_playwright().start()
        try:
            self._browser = self._pw.chromium.launch(
                executable_path=chromium_executable(),
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ],
            )
        except Exception as exc:  # no browser to launch: say what to install, in one line
            self._pw.stop()
            self._pw = None
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ReportError(f"{_INSTALL} ({first})") from None
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self._browser is not None:
                self._browser.close()
        finally:
            self._browser = None
            if self._pw is not None:
                self._pw.stop()
                self._pw = None

    def print_pdf(self, html: Path, pdf: Path, paper: str = "A4") -> Path:
        """Print the page ``html`` to ``pdf`` (written whole or not at all)."""
        if self._browser is None:
            raise RuntimeError("PdfPrinter used outside its with block")
        width_px = round((PAPER_WIDTH_MM[paper] - 2 * MARGIN_MM) / 25.4 * 96)
        context = self._browser.new_context(viewport={"width": width_px, "height": 1100}, java_script_enabled=True)
        attempted: list[str] = []
        problems: list[str] = []
        try:
            page = context.new_page()

            def route(r) -> None:
                if r.request.url.startswith("file://"):
                    r.continue_()
                else:
                    attempted.append(r.request.url)
                    r.abort()

            page.route("**/*", route)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(Path(html).resolve().as_uri(), wait_until="load")
            # Every chart drawn (plotly's SVG in place) and fonts loaded before printing.
            page.wait_for_function(
                "() => Array.from(document.querySelectorAll('.plotly-graph-div'))"
                ".every(d => d.querySelector('.main-svg'))",
                timeout=CHARTS_DRAWN_TIMEOUT_MS,
            )
            page.evaluate("document.fonts.ready.then(() => true)")
            if problems:
                raise ReportError(f"the report page failed in the browser: {problems[0]}")
            if attempted:
                raise ReportError(f"the report page tried to fetch {len(attempted)} resource(s): {attempted[:3]}")
            partial = pdf.with_name(pdf.name + ".partial")
            margin = f"{MARGIN_MM}mm"
            page.pdf(
                path=str(partial),
                format=paper,
                print_background=True,
                margin={"top": margin, "bottom": margin, "left": margin, "right": margin},
            )
            partial.replace(pdf)
        finally:
            context.close()
        return pdf


def paper_sizes(db_url: str, coachee_ids: list[str]) -> dict[str, str]:
    """Each coachee's paper size: by their country, else their coach's settings', else the locale."""
    countries: dict[str, str] = {}
    try:
        from ..data.store import open_store
        from ..settings import load_settings

        store = open_store(db_url, create=False)
        try:
            coachees = store.coachees()
        finally:
            store.engine.dispose()
        base, per_coach = load_settings()
        for row in coachees.itertuples(index=False):
            own = getattr(row, "country", None)
            coach = per_coach.get(getattr(row, "coach", None) or "", base)
            countries[row.coachee_id] = own if isinstance(own, str) and own.strip() else coach.country
    except Exception:  # noqa: BLE001 — the paper size is a nicety: the locale's then
        pass
    return {cid: paper_for(countries.get(cid)) for cid in coachee_ids}


def print_result(printer, result: ReportResult, fmt: str, papers: dict[str, str]) -> None:
    """Print ``result``'s page to a PDF beside it (in place: the result gets its
    ``pdf``, or its ``error``); with ``fmt`` "pdf" the page is removed afterwards."""
    html = result.html
    pdf_out = html.with_suffix(".pdf")
    pdf_out.unlink(missing_ok=True)
    try:
        printer.print_pdf(html, pdf_out, papers.get(result.coachee_id, "A4"))
    except Exception as exc:  # noqa: BLE001 — reported per coachee
        result.error = f"PDF: {one_line_error(exc)}"
        return
    result.pdf = pdf_out
    if fmt == "pdf":
        html.unlink(missing_ok=True)
        result.html = None
