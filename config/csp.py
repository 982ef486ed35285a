"""The Content-Security-Policy every page is served with: scripts only from Podium's own files, never inline.

Pages load their scripts as files from /static/ (one entry per page); the
settings a script reads travel as data in ``<script type="application/json">``,
which a browser never executes. Styles may be inline: the Pygments colours are
one ``<style>`` element, slides may carry ``style=`` attributes, and the
terminal (xterm.js) positions its rows with inline styles; a style cannot run
code. Websockets go back to the host the page came from only (``'self'`` does
not cover ws:/wss: in every browser, so the page's own host is named).

A response that set its own policy keeps it (the slide assets' stricter one).
"""

from __future__ import annotations

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse
from django.utils.deprecation import MiddlewareMixin

HEADER = "Content-Security-Policy"


def content_security_policy(*, host: str | None) -> str:
    """The policy of a page served to `host` (the request's validated Host, None when unknown)."""
    sockets = f" ws://{host} wss://{host}" if host else ""
    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self' 'unsafe-inline'",
        "img-src": "'self' data:",
        "font-src": "'self' data:",
        "connect-src": f"'self'{sockets}",
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


class ContentSecurityPolicyMiddleware(MiddlewareMixin):
    """Adds `content_security_policy` to every response that has none yet."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if HEADER not in response:
            try:
                host = request.get_host()
            except DisallowedHost:
                host = None
            response[HEADER] = content_security_policy(host=host)
        return response
