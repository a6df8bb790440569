"""Voilà, started by ``followup app`` with two guards a local app needs:

- **Host and Origin.** A request whose Host (or, if it has one, Origin) is not
  this machine's loopback name is refused with 403, so a web page on another site
  cannot reach the app through DNS rebinding. More names can be allowed with
  ``FOLLOWUP_APP_HOSTS`` (comma-separated), for a proxy in front of it.
- **No CDN.** Voilà's page template links Font Awesome from a CDN; the link is
  dropped from the page (the icons the app uses come with JupyterLab's own CSS),
  so the app makes no request off this machine.
- **No template or theme from the URL.** ``?template=`` and ``?theme=`` are
  ignored (Voilà's overrides are off): the app always renders with its own
  template, and a crafted template name can never reach the file system.
- **The token stays secret.** It comes in the environment (``FOLLOWUP_APP_TOKEN``),
  never on a command line another user can read with ``ps``; the kernel-query
  channel (``/voila/query/<kernel_id>``, which hands a preheated kernel the page's
  request, token included) answers only a client that shows the token: the
  kernel's own ``session.wait_for_page``, never another user who read a kernel id.
- **A cap on pages.** At most ``FOLLOWUP_APP_MAX_KERNELS`` pages (each with its
  kernel) at once, beyond the kernels kept warm; one more gets a page saying so.
- **Kernels let go.** The page's ``_xsrf`` cookie is set, so the kernel shutdown
  a page sends when it is left is accepted (without it, a 403, and the kernel
  lived until the idle cull).
- **The app's notebook is trusted** (it is the package's own): no "not trusted" warning.
- **Static files cached by the browser.** Voilà's JavaScript bundle, JupyterLab's
  CSS, the widgets' and Plotly's JavaScript are sent with ``Cache-Control: public``:
  a versioned URL (``?v=<hash>``, or a content hash in the file's name) for a year,
  as immutable; any other static file for an hour, then revalidated by its ETag.
  A second page in the same browser then fetches none of them. The page itself is
  never cached (it carries the token, the ``_xsrf`` cookie and live data).
- **A kernel handed to a page is marked active** when ``get_rendered_notebook``
  takes it from the pool (its last activity was as old as its warm-up).
- **A cell's lost reply does not hang its page.** Under load, a page's cell ran,
  its outputs and its "idle" reached Voilà's executor, and its ``execute_reply``
  never did: the page waited until the idle cull killed the kernel ("Kernel died
  while waiting for execute reply", about one burst of reloads in two on a busy
  2-core machine). nbclient's wait for the reply is made of short waits, and a
  reply still missing 5 s after the cell's outputs ended is taken as given
  (``read_late_execute_replies``).
- **The idle cull skips a kernel already gone.** jupyter_server's cull loop lists
  the kernels, then looks each up; a page left in between has shut its kernel
  down, and the lookup raised a ``KeyError`` traceback into the app's log.

Run as ``python -m followup_lib.faces.voila_guard`` with Voilà's own arguments.
"""

from __future__ import annotations

import hmac
import os
import re
import sys
from urllib.parse import parse_qs, urlsplit

import tornado.web

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
# Given last on Voilà's command line, so nothing before it can turn them back on.
LOCKED_CONFIGURATION = [
    "--VoilaConfiguration.allow_template_override=NO",
    "--VoilaConfiguration.allow_theme_override=NO",
]
TOKEN_VARIABLE = "FOLLOWUP_APP_TOKEN"
MAX_KERNELS_VARIABLE = "FOLLOWUP_APP_MAX_KERNELS"
_QUERY_CHANNEL = re.compile(r"/voila/query/")
# A file name carrying its content's hash (webpack's ``remoteEntry.5cbb9d2323598fbda535.js``,
# ``9834b82ad26e2a37583d.woff2``): a new version has a new URL.
_HASHED_NAME = re.compile(r"(?:^|[.-])[0-9a-f]{16,}\.[A-Za-z0-9]+$")
VERSIONED_MAX_AGE = 365 * 24 * 3600
# Unversioned (voila.js and its numbered chunks): an hour, about a session's length,
# so a new Voilà is picked up soon after an upgrade; then a 304 by ETag.
UNVERSIONED_MAX_AGE = 3600
_CDN_LINK = re.compile(rb'<link[^>]+href="https://cdn\.jsdelivr\.net/[^"]*"[^>]*>\s*', re.IGNORECASE)


def allowed_hosts() -> set[str]:
    extra = {h.strip().lower() for h in os.environ.get("FOLLOWUP_APP_HOSTS", "").split(",") if h.strip()}
    return LOOPBACK | extra


def _hostname(netloc: str) -> str:
    netloc = netloc.strip().lower()
    if netloc.startswith("["):  # [::1]:8866
        return netloc.split("]", 1)[0] + "]"
    return netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc


def request_allowed(host: str, origin: str | None, allowed: set[str]) -> bool:
    """Whether a request with this Host header (and Origin, if any) may be served."""
    if _hostname(host) not in allowed:
        return False
    if origin:
        if origin == "null":
            return False
        parts = urlsplit(origin)
        if _hostname(parts.netloc) not in allowed:
            return False
    return True


class _Refused(tornado.web.RequestHandler):
    def prepare(self):
        raise tornado.web.HTTPError(403, "this app answers only on this machine (Host or Origin not allowed)")


def token_shown(headers, query: str, token: str) -> bool:
    """Whether a request shows ``token`` (``Authorization: token …`` or ``?token=…``)."""
    if not token:
        return True  # --no-token: the app is open, as it warned
    given = headers.get("Authorization", "")
    if given.lower().startswith("token "):
        given = given[6:].strip()
    else:
        given = (parse_qs(query).get("token") or [""])[0]
    return hmac.compare_digest(given.encode(), token.encode())


class _NoToken(tornado.web.RequestHandler):
    def prepare(self):
        raise tornado.web.HTTPError(403, "the kernel-query channel needs the app's token")


BUSY_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Follow-up Workbook: busy</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:3em auto;line-height:1.5">
<h1>The app has {n} pages open already</h1>
<p>That is as many as it keeps at once (the <code>app_max_kernels</code> setting), so that
one computer is not swamped. Close a tab of the app you no longer use, or wait a minute:
a page closed without saying so is let go after a short while. Then reload this page.</p>
</body></html>"""


class _Busy(tornado.web.RequestHandler):
    def prepare(self):
        self.set_status(503)
        self.set_header("Retry-After", "30")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(BUSY_PAGE.format(n=self.application.settings.get("followup_pages", "too many")))


def _is_page(delegate) -> bool:
    from voila.handler import VoilaHandler

    handler = getattr(delegate, "handler_class", None)
    return isinstance(handler, type) and issubclass(handler, VoilaHandler)


def page_kernels(kernel_manager) -> int:
    """Kernels serving a page: every live kernel but the ones kept warm for the next."""
    live = set(kernel_manager.list_kernel_ids())
    warm = set()
    for pool in getattr(kernel_manager, "_pools", {}).values():
        for future in pool:
            try:
                if future.done():
                    warm.add(future.result().get("kernel_id"))
                else:
                    warm.add(None)  # starting: not a page's
            except Exception:  # noqa: BLE001, S112 — a failed start holds no kernel
                continue
    return len(live - warm)


def cache_control(url_path: str, versioned_query: bool) -> tuple[int, str]:
    """Seconds a browser keeps a static file at ``url_path`` without asking again,
    and the ``Cache-Control`` header saying so. ``versioned_query``: the URL has
    a ``v`` argument (tornado's and JupyterLab's content hash)."""
    name = url_path.rsplit("/", 1)[-1]
    if versioned_query or _HASHED_NAME.search(name):
        return VERSIONED_MAX_AGE, f"public, max-age={VERSIONED_MAX_AGE}, immutable"
    return UNVERSIONED_MAX_AGE, f"public, max-age={UNVERSIONED_MAX_AGE}"


class _CachedStatic:
    """Mixed into a ``tornado.web.StaticFileHandler``: its cache time by
    ``cache_control`` (tornado's ``get_cache_time``), said ``public``."""

    def get_cache_time(self, path, modified, mime_type) -> int:
        return cache_control(self.request.path, "v" in self.request.arguments)[0]

    def set_extra_headers(self, path) -> None:
        self.set_header("Cache-Control", cache_control(self.request.path, "v" in self.request.arguments)[1])


def _cached_handlers() -> dict[type, type]:
    """Voilà's static handlers, each with a cached twin to serve its routes."""
    from jupyter_server.base.handlers import FileFindHandler
    from voila.static_file_handler import MultiStaticFileHandler, TemplateStaticFileHandler

    class CachedMultiStaticFileHandler(_CachedStatic, MultiStaticFileHandler):
        """/voila/static/: voila.js and its chunks."""

    class CachedTemplateStaticFileHandler(_CachedStatic, TemplateStaticFileHandler):
        """/voila/templates/<template>/static/: JupyterLab's CSS, fonts."""

    class CachedFileFindHandler(_CachedStatic, FileFindHandler):
        """/voila/labextensions/: the widgets' and Plotly's JavaScript. Voilà serves
        them with ``no-cache`` (``no_cache_paths``) and no ETag: tornado's headers
        and ETag instead, versioned names kept a year."""

        def set_headers(self) -> None:
            tornado.web.StaticFileHandler.set_headers(self)

        compute_etag = tornado.web.StaticFileHandler.compute_etag

    return {
        MultiStaticFileHandler: CachedMultiStaticFileHandler,
        TemplateStaticFileHandler: CachedTemplateStaticFileHandler,
        FileFindHandler: CachedFileFindHandler,
    }


def _cache_static_files() -> None:
    """Voilà's routes to static files are served by their cached twins (the
    handler class itself, not a subclass such as the themes' handler)."""
    from voila.app import Voila

    twins = _cached_handlers()
    init_handlers = Voila.init_handlers

    def cached_init_handlers(self):
        return [(route[0], twins.get(route[1], route[1]), *route[2:]) for route in init_handlers(self)]

    Voila.init_handlers = cached_init_handlers


class _NoCDN(tornado.web.OutputTransform):
    """Drops CDN stylesheet links from the app's HTML."""

    def __init__(self, request):
        super().__init__(request)
        self._html = False

    def transform_first_chunk(self, status_code, headers, chunk, finishing):
        self._html = "text/html" in headers.get("Content-Type", "")
        if self._html:
            new = _CDN_LINK.sub(b"", chunk)
            if "Content-Length" in headers:
                headers["Content-Length"] = str(int(headers["Content-Length"]) - (len(chunk) - len(new)))
            chunk = new
        return status_code, headers, chunk

    def transform_chunk(self, chunk, finishing):
        return _CDN_LINK.sub(b"", chunk) if self._html else chunk


def install() -> None:
    """Guard every tornado Application made in this process."""
    allowed = allowed_hosts()
    token = os.environ.get(TOKEN_VARIABLE, "")
    max_pages = int(os.environ.get(MAX_KERNELS_VARIABLE) or 0)
    find_handler = tornado.web.Application.find_handler
    init = tornado.web.Application.__init__

    def guarded_find_handler(self, request, **kwargs):
        if not request_allowed(request.host or "", request.headers.get("Origin"), allowed):
            return self.get_handler_delegate(request, _Refused)
        if _QUERY_CHANNEL.search(request.path or "") and not token_shown(request.headers, request.query, token):
            return self.get_handler_delegate(request, _NoToken)
        delegate = find_handler(self, request, **kwargs)
        if max_pages and _is_page(delegate):
            km = self.settings.get("kernel_manager")
            n = page_kernels(km) if km is not None else 0
            if n >= max_pages:
                self.settings["followup_pages"] = n
                return self.get_handler_delegate(request, _Busy)
        return delegate

    def init_with_transform(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.add_transform(_NoCDN)

    tornado.web.Application.find_handler = guarded_find_handler
    tornado.web.Application.__init__ = init_with_transform
    _give_xsrf_cookie()
    _cache_static_files()
    _trust_the_apps_notebook()
    _cull_only_live_kernels()
    _handing_out_is_activity()
    read_late_execute_replies()


def _give_xsrf_cookie() -> None:
    """The page's handler sets the ``_xsrf`` cookie, which the kernel shutdown sent
    when the page is left carries back (Voilà's page reads it from the cookie)."""
    from voila.handler import VoilaHandler

    generate = VoilaHandler.get_generator

    def get_generator(self, *args, **kwargs):
        self.xsrf_token  # noqa: B018 — reading it sets the cookie, before the page's first byte
        return generate(self, *args, **kwargs)

    VoilaHandler.get_generator = get_generator


def _trust_the_apps_notebook() -> None:
    """The one notebook the app serves is the package's own: its cells are trusted,
    without writing a signature into the user's Jupyter folder."""
    from jupyter_server.services.contents.manager import ContentsManager

    def mark_trusted_cells(self, nb, path=""):
        self.notary.mark_cells(nb, True)

    ContentsManager.mark_trusted_cells = mark_trusted_cells


def fresh_on_hand_out(manager_class: type) -> type:
    """``manager_class`` (Voilà's pre-heating kernel manager) with a kernel taken
    from the pool marked active at that moment, so the idle cull counts from then."""
    from jupyter_server._tz import utcnow

    get = getattr(manager_class, "get_rendered_notebook", None)
    if get is None:  # no pre-heating: no pool
        return manager_class

    async def get_rendered_notebook(self, *args, **kwargs):
        result = await get(self, *args, **kwargs)
        kernel = self._kernels.get(result[2])
        if kernel is not None:
            kernel.last_activity = utcnow()
        return result

    manager_class.get_rendered_notebook = get_rendered_notebook
    return manager_class


def _handing_out_is_activity() -> None:
    import voila.app

    factory = voila.app.voila_kernel_manager_factory

    def factory_fresh_on_hand_out(*args, **kwargs):
        return fresh_on_hand_out(factory(*args, **kwargs))

    voila.app.voila_kernel_manager_factory = factory_fresh_on_hand_out


def _cull_only_live_kernels() -> None:
    """A kernel shut down (its page left) while the cull loop awaited another is
    not looked up: there is nothing left to cull."""
    from jupyter_server.services.kernels.kernelmanager import MappingKernelManager

    cull = MappingKernelManager.cull_kernel_if_idle

    async def cull_kernel_if_idle(self, kernel_id):
        if kernel_id not in self._kernels:
            return None
        return await cull(self, kernel_id)

    MappingKernelManager.cull_kernel_if_idle = cull_kernel_if_idle


# How often a cell with no time limit looks at the shell channel again, and how long
# its reply may lag behind the kernel's "idle" before the cell is taken as done.
REPLY_POLL_SECONDS = 1.0
REPLY_GRACE_SECONDS = 5.0


def read_late_execute_replies() -> None:
    """A page whose cell's ``execute_reply`` never reaches Voilà's executor no longer
    waits for ever (it did, then its kernel was culled as idle: "Kernel died while
    waiting for execute reply", seen under load in CI's burst of reloads). The debug
    log of such a page shows the kernel ran the cell, published its outputs and went
    idle, and nbclient read all of that on IOPub, but no reply came on the shell
    channel, whose wait (no cell time limit in Voilà) had no end.

    For a cell with no time limit, nbclient's own wait (``_async_poll_for_reply``)
    is kept but made of short waits: each looks at the socket afresh, so a reply
    whose wake-up was missed is still read; and once the cell's outputs are complete
    (the kernel said idle for it) a reply missing for ``REPLY_GRACE_SECONDS`` more is
    taken as given, its status read from the outputs (an error output: "error"). A
    cell with a time limit, and a kernel that dies, are handled as before.
    """
    import asyncio
    import time
    from queue import Empty

    from nbclient.client import NotebookClient, timestamp
    from nbclient.exceptions import CellTimeoutError
    from nbclient.util import ensure_async

    if getattr(NotebookClient, "_followup_reads_late_replies", False):
        return
    poll = NotebookClient._async_poll_for_reply

    async def _async_poll_for_reply(self, msg_id, cell, timeout, task_poll_output_msg, task_poll_kernel_alive):
        if timeout is not None:
            return await poll(self, msg_id, cell, timeout, task_poll_output_msg, task_poll_kernel_alive)
        idle_since = None
        while True:
            try:
                msg = await ensure_async(self.kc.shell_channel.get_msg(timeout=REPLY_POLL_SECONDS))
            except Empty:
                if not task_poll_output_msg.done():
                    continue
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since < REPLY_GRACE_SECONDS:
                    continue
                task_poll_kernel_alive.cancel()
                if not task_poll_output_msg.cancelled() and task_poll_output_msg.exception() is not None:
                    raise task_poll_output_msg.exception() from None  # as nbclient's own wait would
                failed = any(o.get("output_type") == "error" for o in cell.get("outputs", []))
                self.log.warning(
                    "No execute reply %.0f s after the cell's outputs ended: taken as %s.",
                    REPLY_GRACE_SECONDS,
                    "an error" if failed else "done",
                )
                return missing_reply(msg_id, cell)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if idle_since is not None:
                self.log.info(
                    "Execute reply read %.1f s after the cell's outputs ended.", time.monotonic() - idle_since
                )
            if self.record_timing:
                cell["metadata"]["execution"]["shell.execute_reply"] = timestamp(msg)
            try:
                await asyncio.wait_for(task_poll_output_msg, self.iopub_timeout)
            except (TimeoutError, Empty):
                if self.raise_on_iopub_timeout:
                    task_poll_kernel_alive.cancel()
                    raise CellTimeoutError.error_from_timeout_and_cell(
                        "Timeout waiting for IOPub output", self.iopub_timeout, cell
                    ) from None
                self.log.warning("Timeout waiting for IOPub output")
            task_poll_kernel_alive.cancel()
            return msg

    NotebookClient._async_poll_for_reply = _async_poll_for_reply
    NotebookClient._followup_reads_late_replies = True


def missing_reply(msg_id: str, cell) -> dict:
    """The ``execute_reply`` a kernel would have sent for ``cell``, from its outputs:
    status "error" with the error output's name, value and traceback, else "ok"."""
    error = next((o for o in cell.get("outputs", []) if o.get("output_type") == "error"), None)
    content = {"status": "ok", "execution_count": cell.get("execution_count")}
    if error is not None:
        content.update(
            status="error",
            ename=error.get("ename", ""),
            evalue=error.get("evalue", ""),
            traceback=list(error.get("traceback", [])),
        )
    return {"parent_header": {"msg_id": msg_id}, "header": {}, "metadata": {}, "content": content}


def main() -> int:
    install()
    from voila.app import main as voila_main

    sys.argv[0] = "voila"
    # The token from the environment: in this process's argv it is not what `ps` shows.
    sys.argv += [f"--token={os.environ.get(TOKEN_VARIABLE, '')}", *LOCKED_CONFIGURATION]
    return voila_main() or 0


if __name__ == "__main__":
    sys.exit(main())
