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

Run as ``python -m followup_lib.faces.voila_guard`` with Voilà's own arguments.
"""

from __future__ import annotations

import os
import re
import sys
from urllib.parse import urlsplit

import tornado.web

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
# Given last on Voilà's command line, so nothing before it can turn them back on.
LOCKED_CONFIGURATION = [
    "--VoilaConfiguration.allow_template_override=NO",
    "--VoilaConfiguration.allow_theme_override=NO",
]
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
    find_handler = tornado.web.Application.find_handler
    init = tornado.web.Application.__init__

    def guarded_find_handler(self, request, **kwargs):
        if not request_allowed(request.host or "", request.headers.get("Origin"), allowed):
            return self.get_handler_delegate(request, _Refused)
        return find_handler(self, request, **kwargs)

    def init_with_transform(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.add_transform(_NoCDN)

    tornado.web.Application.find_handler = guarded_find_handler
    tornado.web.Application.__init__ = init_with_transform


def main() -> int:
    install()
    from voila.app import main as voila_main

    sys.argv[0] = "voila"
    sys.argv += LOCKED_CONFIGURATION
    return voila_main() or 0


if __name__ == "__main__":
    sys.exit(main())
