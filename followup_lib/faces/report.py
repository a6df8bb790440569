"""Running the weekly report: papermill executes the notebook (its parameters
injected and recorded by papermill) with our engine, on a fresh kernel already
started and warmed up (``reporting.engine``), nbconvert turns it into one
self-contained HTML page (in this process), no code, no network; Chromium prints
it to PDF on request (``pdf``). Many reports run one after another, in a process
pool (``jobs``) or on a Dask cluster (``dask_batch``).
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import functools
import json
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from .. import paths
from ..errors import ReportError  # noqa: F401 (re-exported)

KERNEL = "python3"  # the environment's own kernel: jupyter_client runs it with this Python
LAUNCHER = "followup_lib.faces.kernel_warmup"  # ipykernel's launcher, without the debugger
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


@dataclass
class ReportResult:
    coachee_id: str
    html: Path | None = None
    notebook: Path | None = None
    error: str | None = None
    pdf: Path | None = None


def report_notebook() -> Path:
    return paths.notebooks_dir() / "weekly_report.ipynb"


def notebook_to_html(nb) -> str:
    """The executed notebook (a path or a NotebookNode) as one HTML page: outputs
    only, nothing fetched, plotly.js and the stylesheet cut to what the page uses."""
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
# A report is mailed: plotly.js in full is 4.8 MB of the page's 5.1 MB, and the
# JupyterLab stylesheet another 240 kB, mostly for parts of JupyterLab's own
# interface that a report never shows. Both are cut here, on the converted page,
# whatever the notebook's cells hold: the charts keep working (the partial bundle
# is used only when every trace on the page is one it draws), and a rule is
# dropped only when the page has no element it could apply to.

PLOTLY_ASSETS = Path(__file__).resolve().parent / "plotly_js"
# plotly.js-basic-dist-min from npm (MIT licence, in PLOTLY_ASSETS), the same
# release as the plotly.js bundled in the Python package this was written for.
BASIC_BUNDLE = PLOTLY_ASSETS / "plotly-basic.min.js"
BASIC_TRACES = frozenset({"scatter", "bar", "pie"})
_BUNDLE_VERSION = re.compile(r"\A\s*/\*\*\s*\*\s*plotly\.js\b[^\n]*?\bv(\d[\w.\-]*)")
_PLOTLY_SCRIPT = re.compile(r"(<script\b[^>]*>)(\s*/\*\*\s*\*\s*plotly\.js\b)")
_NEW_PLOT = re.compile(r"Plotly\.newPlot\(\s*\"[^\"]*\",\s*")
_STYLE = re.compile(r"(<style\b[^>]*>)(.*?)(</style>)", re.DOTALL | re.IGNORECASE)
_CLASS_ATTR = re.compile(r"<[a-zA-Z][^>]*?\bclass\s*=\s*[\"']([^\"']*)[\"']")


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


def page_classes(page: str) -> set[str]:
    return {c for attr in _CLASS_ATTR.findall(page) for c in attr.split()}


def _blocks(css: str) -> Iterator[tuple[str, str | None]]:
    """Top-level pieces of a stylesheet: (prelude, body) for a block,
    (statement, None) for a statement such as ``@import ...;``."""
    i, n = 0, len(css)
    while i < n:
        j, depth, quote, start_body = i, 0, "", -1
        while j < n:
            ch = css[j]
            if quote:
                if ch == "\\":
                    j += 1
                elif ch == quote:
                    quote = ""
            elif ch in "\"'":
                quote = ch
            elif ch == ";" and depth == 0 and start_body < 0:
                break
            elif ch == "{":
                if depth == 0:
                    start_body = j
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth <= 0:
                    break
            j += 1
        if start_body < 0:
            piece = css[i : j + 1].strip()
            if piece and piece != "}":
                yield piece, None
        else:
            yield css[i:start_body].strip(), css[start_body + 1 : j]
        i = j + 1


def _split_selectors(prelude: str) -> list[str]:
    out, depth, start = [], 0, 0
    for k, ch in enumerate(prelude):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(prelude[start:k])
            start = k + 1
    out.append(prelude[start:])
    return [s.strip() for s in out if s.strip()]


_NOT_REQUIRED = re.compile(r":(?:not|is|where|has)\((?:[^()]|\([^()]*\))*\)|\[[^\]]*\]")
_CLASS = re.compile(r"\.(-?[_a-zA-Z][\w-]*)")


@functools.lru_cache(maxsize=16)
def _parsed_css(css: str) -> tuple:
    """A stylesheet as a tree of ("rule", [(selector, its classes)], body),
    ("group", prelude, children) and ("keep", text) items: parsed once per
    stylesheet (every report has the same JupyterLab one)."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    items = []
    for prelude, body in _blocks(css):
        if body is None:
            items.append(("keep", prelude))
        elif prelude.startswith("@"):
            if re.match(r"@(media|supports|layer)\b", prelude, re.IGNORECASE):
                items.append(("group", prelude, _parsed_css(body)))
            else:
                items.append(("keep", f"{prelude}{{{body.strip()}}}"))
        else:
            selectors = [
                (sel, frozenset(_CLASS.findall(_NOT_REQUIRED.sub("", sel)))) for sel in _split_selectors(prelude)
            ]
            items.append(("rule", selectors, re.sub(r"\s+", " ", body).strip()))
    return tuple(items)


def _pruned(items: tuple, used: set[str]) -> str:
    out = []
    for item in items:
        if item[0] == "keep":
            out.append(item[1])
        elif item[0] == "group":
            inner = _pruned(item[2], used)
            if inner:
                out.append(f"{item[1]}{{{inner}}}")
        else:
            # A selector is dropped only when it needs a class no element of the page has.
            kept = [sel for sel, needs in item[1] if needs <= used]
            if kept:
                out.append(",".join(kept) + "{" + item[2] + "}")
    return "\n".join(out)


def prune_css(css: str, used: set[str]) -> str:
    """The stylesheet without comments, blank space and the rules that cannot
    apply to an element with only ``used`` classes (inside @media and @supports
    too); other at-rules (@font-face, @keyframes, ...) are kept whole."""
    return _pruned(_parsed_css(css), used)


def slim_css(page: str) -> str:
    used = page_classes(page)
    return _STYLE.sub(lambda m: m.group(1) + prune_css(m.group(2), used) + m.group(3), page)


def slim_page(page: str) -> str:
    """The converted page, smaller: see above."""
    return slim_css(slim_plotly(page))


# A Unix socket's path holds at most 107 bytes; a report kernel's are
# "<temporary folder>/followup-XXXXXXXX/k-<n>", 22 bytes more than the folder's.
_SOCKET_PATH_MAX = 107


@contextmanager
def kernel_over_ipc() -> Iterator:
    """The kernel manager's configuration for one report: the kernel talks over
    local (Unix) sockets, as the app's do, not over TCP ports (no "running over TCP
    without encryption" warning, nothing listening on the network, no port races
    between reports started together). The sockets and the connection file go in a
    fresh temporary folder, removed on leaving, whatever happened.
    """
    from traitlets.config import Config

    base = tempfile.gettempdir()
    if len(base.encode()) + 24 > _SOCKET_PATH_MAX and Path("/tmp").is_dir():
        base = "/tmp"  # a long $TMPDIR would make the socket paths too long to bind
    with tempfile.TemporaryDirectory(prefix="followup-", dir=base) as folder:
        config = Config()
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = str(Path(folder) / "k")
        config.KernelManager.connection_file = str(Path(folder) / "kernel.json")
        yield config


def report_kernel_manager() -> type:
    """The kernel manager class for report kernels: jupyter_client's own, except that
    it does not interrupt (SIGINT) the kernel before asking it to shut down.

    jupyter_client interrupts first in case the kernel is busy. A report's kernel
    is idle by then (every cell has run), but the signal can land while it is
    still finishing its last reply, and it then prints "KeyboardInterrupt caught
    in kernel" on the coach's terminal. The shutdown request alone is enough; a
    kernel that ignored it would still be killed after ``shutdown_wait_time``.
    An interrupt asked for explicitly (``interrupt_kernel``) is still sent.
    """
    from jupyter_client.manager import AsyncKernelManager

    class ReportKernelManager(AsyncKernelManager):
        def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
            # This environment's own ipykernel is started through kernel_warmup's
            # launcher (no debugger); any other kernel command is left as it is.
            cmd = super().format_kernel_cmd(extra_arguments)
            for i in range(len(cmd) - 1):
                if cmd[i] == "-m" and cmd[i + 1] == "ipykernel_launcher":
                    cmd[i + 1] = LAUNCHER
                    break
            return cmd

        async def _async_interrupt_kernel(self) -> None:
            if self.shutting_down:
                return
            await super()._async_interrupt_kernel()

    return ReportKernelManager


# ------------------------------------------------------------------ executing
#
# One fresh kernel per report (isolation), started before anything else and told
# to import what the notebook imports while this process reads and parameterises
# the notebook and loads papermill and nbconvert: the two start-ups overlap instead
# of adding up. papermill runs the cells on it through our engine (reporting.engine).


def _notebook_imports(source: dict) -> list[str]:
    """The modules the notebook's code cells import at their top level, in order."""
    import ast

    found: list[str] = []
    for cell in source.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        text = cell.get("source", "")
        text = "".join(text) if isinstance(text, list) else str(text)
        text = "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith(("%", "!")))
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                found += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                # "from package import module" imports the module too; a name that is
                # not a module is simply not found (quickly) by the warm-up.
                found.append(node.module)
                found += [f"{node.module}.{alias.name}" for alias in node.names if alias.name != "*"]
    return list(dict.fromkeys(found))


def _warmup_argument(modules: list[str]) -> str:
    call = f"__import__('followup_lib.faces.kernel_warmup', fromlist=['warm']).warm(*{modules!r})"
    return f"--IPKernelApp.exec_lines={json.dumps([call])}"


def _kernel_arguments(modules: list[str]) -> list[str]:
    """A report kernel's command line: the warm-up, and no IPython history (a
    report's cells, its parameters among them, are not written to the user's
    ~/.ipython history database, and the kernel has nothing to save on exit)."""
    return ["--HistoryManager.enabled=False"] + ([_warmup_argument(modules)] if modules else [])


class ReportKernel:
    """One report's kernel: started (and warming up) at once, stopped by ``stop``.
    Its sockets live in a temporary folder of its own, removed with it."""

    def __init__(self, modules: list[str]):
        self._ipc = kernel_over_ipc()
        config = self._ipc.__enter__()
        try:
            self.km = report_kernel_manager()(kernel_name=KERNEL, config=config)
        except BaseException:
            self._ipc.__exit__(None, None, None)
            raise
        self._modules = modules

    async def start(self) -> ReportKernel:
        try:
            await self.km.start_kernel(extra_arguments=_kernel_arguments(self._modules))
        except BaseException:
            await self.stop()
            raise
        return self

    async def stop(self) -> None:
        try:
            if self.km.has_kernel:
                # Killed, not asked: by now every cell's reply and output is in,
                # and the kernel holds nothing to save (no history). A polite
                # shutdown costs ipykernel 0.5 s or more of winding down, on every
                # report. Its process group goes, and its connection file and sockets.
                await self.km.shutdown_kernel(now=True)
        finally:
            self._ipc.__exit__(None, None, None)


@contextmanager
def _light_imports() -> Iterator[None]:
    """nbformat imports jsonschema, which builds a grammar for the "iri" string
    format (rfc3987_syntax, ~0.9 s) when that package is installed; notebook schemas
    use no such format, so it is left out while the notebook tools are imported."""
    blocked = "rfc3987_syntax" not in sys.modules
    if blocked:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # "import" raises ImportError
    try:
        import nbclient  # noqa: F401
        import nbconvert  # noqa: F401
        import nbformat  # noqa: F401
    finally:
        if blocked and sys.modules.get("rfc3987_syntax", 0) is None:
            del sys.modules["rfc3987_syntax"]
    yield


def _cell_error(exc: BaseException) -> str:
    """One line for a failed report: the kernel's exception as it was raised."""
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if ename:
        evalue = " ".join(str(evalue or "").split())  # one line, whatever the message held
        return f"{ename}: {evalue}" if evalue else str(ename)
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[-1] if text else exc!r}"


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


def _notebook_modules() -> list[str]:
    """The modules the report notebook imports (for the warm-up)."""
    path = report_notebook()
    try:
        return _notebook_imports(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise ReportError(f"cannot read the report notebook {path}: {exc}") from None


def _targets(coachee_id: str, week: str, out_dir) -> tuple[Path, Path]:
    out = Path(out_dir) if out_dir else paths.reports_dir()
    out.mkdir(parents=True, exist_ok=True)
    # One name per coachee id, whatever it holds ("a/b", "a\\b", "С001"): never shared, never a path.
    nb_out = paths.inside(out, paths.safe_name(coachee_id, f"-weekly-{week}.ipynb"))
    return nb_out, nb_out.with_suffix(".html")


async def _render_with(
    kernel: ReportKernel, db_url: str, coachee_id: str, week: str, out_dir, practice_times: str = ""
):
    """Run the notebook on ``kernel`` (already started) and write the .ipynb and
    .html; the kernel is stopped before returning, whatever happened. It shuts
    down while the notebook is written and converted (its exit takes a few
    tenths of a second that the conversion need not wait for)."""
    stopping = None
    try:
        nb_out, html_out = _targets(coachee_id, week, out_dir)
        # A page left from an earlier run must not pass for this week's if this run fails.
        html_out.unlink(missing_ok=True)
        with _light_imports():
            import nbformat
            import papermill
            from papermill.exceptions import PapermillExecutionError

        from ..reporting.engine import ENGINE_NAME

        parameters = {
            "coachee_id": coachee_id,
            "week_ending": week,
            "db_url": db_url,
            "plotly_js": "placeholder",
            "practice_times": practice_times,
        }
        error = None
        loop = asyncio.get_running_loop()
        # The templates load in a thread while the kernel runs the cells (2 cores: both busy).
        warming = loop.run_in_executor(None, warm_exporter)

        def execute():
            # papermill injects and records the parameters and runs the cells with
            # our engine, on this kernel (started and warming up already).
            return papermill.execute_notebook(
                str(report_notebook()),
                str(nb_out),
                parameters=parameters,
                engine_name=ENGINE_NAME,
                kernel_name=KERNEL,
                kernel_manager=kernel.km,
                progress_bar=False,
                request_save_on_cell_execute=False,
                start_timeout=120,
            )

        nb = None
        try:
            nb = await loop.run_in_executor(None, execute)
        except PapermillExecutionError as exc:  # a failed cell is this coachee's failure, reported
            error = _cell_error(exc)
            # papermill saved the notebook, the error marked, before raising.
            nb = await loop.run_in_executor(None, functools.partial(nbformat.read, nb_out, as_version=4))
        finally:
            stopping = asyncio.ensure_future(kernel.stop())
        try:
            await warming
        except Exception:  # noqa: BLE001, S110 — the conversion below loads them itself, and says what failed
            pass
        # Saved again (papermill wrote it), failed or not: kept for inspection, charts drawn.
        fill_plotly_js(nb)
        text = await loop.run_in_executor(None, nbformat.writes, nb)
        paths.write_atomic(nb_out, text.encode("utf-8"))
        if error:
            return ReportResult(coachee_id, notebook=nb_out, error=error)
        try:
            page = await loop.run_in_executor(None, notebook_to_html, nb)
            tmp = html_out.with_suffix(".html.partial")
            tmp.write_text(page, encoding="utf-8")
            tmp.replace(html_out)
        except Exception as exc:  # noqa: BLE001 — reported per coachee
            return ReportResult(coachee_id, notebook=nb_out, error=f"{type(exc).__name__}: {exc}")
        return ReportResult(coachee_id, html=html_out, notebook=nb_out)
    finally:
        await (stopping if stopping is not None else kernel.stop())


async def _render_sequence(
    db_url: str, coachee_ids: list[str], week: str, out_dir, on_result, practice_times: str = ""
) -> None:
    """Render one report after another, each in a fresh kernel; the next kernel is
    started (and imports) while the current report runs."""
    modules = _notebook_modules()
    upcoming = None
    try:
        upcoming = await ReportKernel(modules).start()
        for i, cid in enumerate(coachee_ids):
            kernel, upcoming = upcoming, None
            if i + 1 < len(coachee_ids):
                upcoming = await ReportKernel(modules).start()
            try:
                result = await _render_with(kernel, db_url, cid, week, out_dir, practice_times)
            except Exception as exc:  # noqa: BLE001 — one failed report, the others still run
                result = ReportResult(cid, error=f"{type(exc).__name__}: {exc}")
            await on_result(result)
    finally:
        if upcoming is not None:
            await upcoming.stop()


def practice_times_json(db_url: str, week: str) -> str:
    """The practice's times to a first word by round on ``week`` (the weekly
    report's "is this silence unusual?"), as a report parameter: a batch works
    them out once and passes them to each report, instead of each report reading
    the whole practice (at 5,000 coachees, seconds per report). Empty if they
    cannot be worked out here: each report then tries, and says what failed."""
    try:
        from ..data.practice import load_practice
        from ..logic import analysis

        practice, _, _ = load_practice(db_url, week, tables=analysis.FIRST_WORD_TABLES)
        return analysis.round_times_json(analysis.practice_round_times(practice, week))
    except Exception:  # noqa: BLE001 — the notebook's own cell reports it, per coachee
        return ""


def _week(week_ending) -> str:
    return str(week_ending)[:10]


def render_report(
    db_url: str,
    coachee_id: str,
    week_ending: dt.date | str,
    out_dir: str | Path | None = None,
    fmt: str = "html",
    practice_times: str = "",
) -> ReportResult:
    """Execute the report notebook for one coachee and write ``.ipynb`` and
    ``.html`` side by side (and ``.pdf`` with ``fmt`` "pdf" or "both"; "pdf" keeps
    no .html). ``practice_times``: ``practice_times_json`` for this week, when a
    batch has it (empty: the notebook works them out)."""
    _check_format(fmt)
    results: list[ReportResult] = []

    async def keep(result: ReportResult) -> None:
        results.append(result)

    asyncio.run(_render_sequence(db_url, [coachee_id], _week(week_ending), out_dir, keep, practice_times))
    result = results[0]
    if fmt != "html" and not result.error:
        with open_printer() as printer:
            _print_pdf(printer, result, db_url, fmt, _papers(db_url, [coachee_id]))
    return result


# ------------------------------------------------------------------ PDF


FORMATS = ("html", "pdf", "both")


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ReportError(f"unknown report format {fmt!r}: one of {', '.join(FORMATS)}")


def open_printer():
    from .pdf import PdfPrinter

    return PdfPrinter()


def _papers(db_url: str, coachee_ids: list[str]) -> dict[str, str]:
    """Each coachee's paper size: by their country, else their coach's settings', else the locale."""
    from .pdf import paper_for

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


def _print_pdf(printer, result: ReportResult, db_url: str, fmt: str, papers: dict[str, str]) -> None:
    """Print ``result``'s page to a PDF beside it (in place: the result gets its
    ``pdf``, or its ``error``); with ``fmt`` "pdf" the page is removed afterwards."""
    html = result.html
    pdf_out = html.with_suffix(".pdf")
    pdf_out.unlink(missing_ok=True)
    try:
        printer.print_pdf(html, pdf_out, papers.get(result.coachee_id, "A4"))
    except Exception as exc:  # noqa: BLE001 — reported per coachee
        result.error = f"PDF: {_cell_error(exc)}"
        return
    result.pdf = pdf_out
    if fmt == "pdf":
        html.unlink(missing_ok=True)
        result.html = None


# ------------------------------------------------------------------ many reports


def run_reports(
    db_url: str,
    coachee_ids: list[str],
    week_ending,
    out_dir=None,
    jobs: int = 1,
    fmt: str = "html",
    scheduler: str | None = None,
) -> int:
    """Render each coachee's report (in parallel with ``jobs`` > 1, on a Dask
    cluster with ``scheduler``), with a progress bar; one failure is reported and
    the others still run. ``fmt``: "html", "pdf" or "both" (one browser prints
    every PDF, here). Returns an exit code."""
    _check_format(fmt)
    week = _week(week_ending)
    results: list[ReportResult] = []
    many = len(coachee_ids) > 1
    # One report alone works them out itself (its kernel is starting meanwhile).
    times = practice_times_json(db_url, week) if many else ""
    bar = None
    with ExitStack() as stack:
        printer = stack.enter_context(open_printer()) if fmt != "html" and coachee_ids else None
        papers = _papers(db_url, coachee_ids) if printer else {}
        if many:
            from tqdm import tqdm

            bar = stack.enter_context(
                tqdm(total=len(coachee_ids), desc="weekly reports", unit="report", file=sys.stderr)
            )

        def done(result: ReportResult) -> None:
            if printer is not None and not result.error:
                _print_pdf(printer, result, db_url, fmt, papers)
            results.append(result)
            if bar is not None:
                bar.update()

        if scheduler:
            from .dask_batch import run_on_cluster

            code = run_on_cluster(scheduler, db_url, coachee_ids, week, out_dir, done, times)
            if code is not None:
                return code
        elif jobs <= 1 or not many:

            async def each(result: ReportResult) -> None:
                done(result)

            if printer is None:
                asyncio.run(_render_sequence(db_url, coachee_ids, week, out_dir, each, times))
            else:
                # Playwright's synchronous API refuses to run inside an event loop:
                # the reports are rendered in a thread of their own, printed here.
                _render_in_thread(db_url, coachee_ids, week, out_dir, done, times)
        else:
            with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
                futures = {
                    pool.submit(render_report, db_url, cid, week, out_dir, "html", times): cid for cid in coachee_ids
                }
                for fut in as_completed(futures):
                    try:
                        result = fut.result()
                    except Exception as exc:  # noqa: BLE001 — a crashed worker is one failed report
                        result = ReportResult(futures[fut], error=f"{type(exc).__name__}: {exc}")
                    done(result)
    return report_summary(results)


def _render_in_thread(db_url: str, coachee_ids: list[str], week: str, out_dir, done, practice_times: str = "") -> None:
    """``_render_sequence`` in a thread with its own event loop, each result handed
    to ``done`` in the calling thread as soon as it is ready."""
    import queue

    ready: queue.Queue = queue.Queue()
    finished = object()

    async def put(result: ReportResult) -> None:
        ready.put(result)

    def work() -> None:
        try:
            asyncio.run(_render_sequence(db_url, coachee_ids, week, out_dir, put, practice_times))
        except BaseException as exc:  # noqa: BLE001 — handed over, raised in the caller
            ready.put(exc)
        finally:
            ready.put(finished)

    thread = threading.Thread(target=work, name="followup-reports", daemon=False)
    thread.start()
    try:
        while (item := ready.get()) is not finished:
            if isinstance(item, BaseException):
                raise item
            done(item)
    finally:
        thread.join()


def report_summary(results: list[ReportResult]) -> int:
    """Print where each report went and what failed; the exit code."""
    failed = [r for r in results if r.error]
    written = [r for r in results if not r.error]
    for r in sorted(written, key=lambda r: r.coachee_id):
        print(f"{r.coachee_id}: " + ", ".join(str(p) for p in (r.html, r.pdf) if p))
    for r in failed:
        print(
            f"{r.coachee_id}: FAILED — {r.error}"
            + (f" (see {r.notebook})" if r.notebook and r.notebook.exists() else ""),
            file=sys.stderr,
        )
    if written:
        first = written[0].html or written[0].pdf
        print(f"{len(written)} report(s) written to {Path(first).parent.resolve()}")
    return 1 if failed else 0
