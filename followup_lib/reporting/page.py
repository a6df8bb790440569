"""The executed report notebook as one HTML page: outputs only (no code, no
prompts), nothing fetched, the smallest plotly.js bundle that draws its charts.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import threading
from pathlib import Path

from ..errors import ReportError
from .kernels import _light_imports

TEMPLATE_DIR = Path(__file__).resolve().parent / "report_template"
# Markup that would make the browser fetch something from elsewhere. (Links
# written inside plotly.js's own code are text, not requests: scripts' bodies are
# left out of the check, their src attributes are not.)
_SCRIPT_BODY = re.compile(r"(<script\b[^>]*>).*?(</script>)", re.IGNORECASE | re.DOTALL)
_EXTERNAL = re.compile(
    r"""<(?:script|link|img|iframe|source|embed|object)\b[^>]*?\b(?:src|href|data)\s*=\s*["']?\s*(?:https?:)?//"""
    r"""|@import\s+(?:url\()?\s*["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//""",
    re.IGNORECASE,
)


def external_references(page: str) -> list[str]:
    """Every piece of markup in ``page`` that would load something over the network."""
    return _EXTERNAL.findall(_SCRIPT_BODY.sub(r"\1\2", page))


def notebook_to_html(nb) -> str:
    """The executed notebook (a path or a NotebookNode) as one HTML page: outputs
    only, nothing fetched, the smallest plotly.js that draws its charts."""
    with _light_imports():
        import nbformat

    if not isinstance(nb, nbformat.NotebookNode):
        nb = nbformat.read(nb, as_version=4)
    nb = slim_notebook_outputs(nb)
    title = nb.metadata.get("title") or "Weekly progress report"
    with _EXPORT_LOCK:
        body, _ = _exporter().from_notebook_node(nb, resources={"metadata": {"name": title}})
    body = slim_page(body)
    external = external_references(body)
    if external:
        raise ReportError(f"the report would load {len(external)} external resource(s): {external[:3]}")
    return body


# ------------------------------------------------------------------ a smaller page
#
# A report is mailed: plotly.js in full is 4.8 MB of a 5 MB page. The basic
# partial bundle takes its place whenever every trace on the page is one it draws
# (the charts keep working). The stylesheet needs no cutting: the template is
# ours (report_template/: nbconvert's lab cell markup, our dozen rules).

PLOTLY_ASSETS = Path(__file__).resolve().parent / "plotly_js"
# plotly.js-basic-dist-min from npm (MIT licence, in PLOTLY_ASSETS), the same
# release as the plotly.js bundled in the Python package this was written for.
BASIC_BUNDLE = PLOTLY_ASSETS / "plotly-basic.min.js"
BASIC_TRACES = frozenset({"scatter", "bar", "pie"})
_BUNDLE_VERSION = re.compile(r"\A\s*/\*\*\s*\*\s*plotly\.js\b[^\n]*?\bv(\d[\w.\-]*)")
_PLOTLY_SCRIPT = re.compile(r"(<script\b[^>]*>)(\s*/\*\*\s*\*\s*plotly\.js\b)")
_NEW_PLOT = re.compile(r"Plotly\.newPlot\(\s*\"[^\"]*\",\s*")


def trace_types(page: str) -> set[str] | None:
    """The plotly trace types drawn on ``page``; None if a chart's data cannot be read."""
    found: set[str] = set()
    decoder = json.JSONDecoder()
    for call in _NEW_PLOT.finditer(page):
        try:
            data, _ = decoder.raw_decode(page, call.end())
        except ValueError:
            return None
        if not isinstance(data, list):
            return None
        for trace in data:
            if not isinstance(trace, dict):
                return None
            found.add(str(trace.get("type", "scatter")))
    return found


def bundle_version(script: str) -> str | None:
    m = _BUNDLE_VERSION.match(script)
    return m.group(1) if m else None


@functools.lru_cache(maxsize=1)
def _basic_bundle() -> str | None:
    try:
        return BASIC_BUNDLE.read_text(encoding="utf-8")
    except OSError:
        return None


def _plotly_bundles(text: str) -> list[tuple[int, int]]:
    """Where each inlined plotly.js bundle's code starts and ends in ``text``: a
    script whose body opens with plotly.js's licence header."""
    spans, at = [], 0
    while (m := _PLOTLY_SCRIPT.search(text, at)) is not None:
        end = text.find("</script>", m.end(2))
        if end < 0:
            break
        spans.append((m.start(2), end))
        at = end
    return spans


def _basic_draws(types: set[str] | None, version: str | None) -> bool:
    """Whether the basic bundle can stand in for plotly.js ``version`` on a page
    drawing ``types`` of traces: the same release, and every type one it draws."""
    basic = _basic_bundle()
    return basic is not None and types is not None and types <= BASIC_TRACES and bundle_version(basic) == version


def swap_plotly(text: str, types: set[str] | None) -> str:
    """``text`` with its inlined plotly.js replaced by the basic partial bundle,
    when that bundle is the same release and draws every trace type in ``types``
    (those of the whole page); otherwise as it was (correct first, small second)."""
    spans = _plotly_bundles(text)
    if len(spans) != 1:
        return text
    start, end = spans[0]
    code = text[start:end]
    if "(basic" in code[:200] or not _basic_draws(types, bundle_version(code)):
        return text
    return text[:start] + "\n" + _basic_bundle() + "\n" + text[end:]


def slim_plotly(page: str) -> str:
    """The page with the basic plotly.js bundle instead of the full one, if it draws every chart."""
    return swap_plotly(page, trace_types(page))


def _html_outputs(nb) -> list:
    """The outputs of ``nb``'s code cells that hold HTML (as one string)."""
    return [
        o
        for c in nb.cells
        if c.get("cell_type") == "code"
        for o in c.get("outputs", [])
        if isinstance(o.get("data", {}).get("text/html"), str)
    ]


def slim_notebook_outputs(nb):
    """A copy of the executed notebook whose inlined plotly.js is already the basic
    bundle where it can be (the converter then handles 1.2 MB, not 4.8): the .ipynb
    on disk keeps what the kernel produced."""
    outputs = _html_outputs(nb)
    if sum(1 for o in outputs if _PLOTLY_SCRIPT.search(o["data"]["text/html"])) != 1:
        return nb
    types = trace_types("\n".join(o["data"]["text/html"] for o in outputs))
    slim = copy.deepcopy(nb)  # strings are shared, not copied: cheap
    for o in _html_outputs(slim):
        if _PLOTLY_SCRIPT.search(o["data"]["text/html"]):
            o["data"]["text/html"] = swap_plotly(o["data"]["text/html"], types)
    return slim


def plotly_js_for(types: set[str] | None) -> str:
    """The plotly.js to inline for a page drawing ``types`` of traces: the basic
    bundle when it draws them all and is the release this plotly draws for,
    otherwise plotly's own full bundle."""
    from plotly.offline import get_plotlyjs, get_plotlyjs_version

    return _basic_bundle() if _basic_draws(types, get_plotlyjs_version()) else get_plotlyjs()


def fill_plotly_js(nb) -> None:
    """Put plotly.js where the report kernel left its placeholder, in place: once,
    the smallest bundle drawing every chart in the notebook's outputs (the .ipynb
    and the page then carry 1.2 MB of it, not 4.8). A notebook with no
    placeholder is left as it is."""
    from ..logic.page_markers import PLOTLY_JS_PLACEHOLDER

    outputs = _html_outputs(nb)
    holders = [o for o in outputs if PLOTLY_JS_PLACEHOLDER in o["data"]["text/html"]]
    if not holders:
        return
    code = plotly_js_for(trace_types("\n".join(o["data"]["text/html"] for o in outputs)))
    script = '<script charset="utf-8" type="text/javascript">' + code + "</script>"
    for i, o in enumerate(holders):
        text = o["data"]["text/html"]
        if i == 0:
            text = text.replace(PLOTLY_JS_PLACEHOLDER, script, 1)
        o["data"]["text/html"] = text.replace(PLOTLY_JS_PLACEHOLDER, "")


def slim_page(page: str) -> str:
    """The converted page, smaller: see above."""
    return slim_plotly(page)


# A Unix socket's path holds at most 107 bytes; a report kernel's are

_EXPORT_LOCK = threading.Lock()
_EXPORTER = None


def _exporter():
    """One HTML exporter per process (its templates are loaded once)."""
    global _EXPORTER
    if _EXPORTER is None:
        from nbconvert import HTMLExporter

        exporter = HTMLExporter(
            template_file=str(TEMPLATE_DIR / "index.html.j2"),
            exclude_input=True,
            exclude_input_prompt=True,
            exclude_output_prompt=True,
        )
        exporter.template_paths = [str(TEMPLATE_DIR)] + exporter.template_paths
        _EXPORTER = exporter
    return _EXPORTER


_WARMED = False


def warm_exporter() -> None:
    """Load and compile the HTML templates (one empty notebook converted), so the
    report's own conversion does not pay for it: run while the kernel works."""
    global _WARMED
    import nbformat

    with _EXPORT_LOCK:
        if not _WARMED:
            _exporter().from_notebook_node(nbformat.v4.new_notebook())
            _WARMED = True
