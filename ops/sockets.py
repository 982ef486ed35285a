"""Open websockets of this process, by kind: an ASGI middleware counts each from its start to its end.

The kind comes from the path: "follow" (a talk's followers), "runs" (a deck
page's runs), "room" (a page's line to its room), "dashboard" (the presenter's
view of a room), "terminal" (an attendee's terminal, or the presenter watching
it), else "other". The middleware also starts the event loop lag
sampler (`ops.looplag`) on the server's loop.
"""

from __future__ import annotations

import re

from prometheus_client import Gauge

from ops.looplag import looplag_start

_KINDS = (
    ("follow", re.compile(r"^/ws/talks/[^/]+/follow/$")),
    ("runs", re.compile(r"^/ws/decks/[^/]+/runs/$")),
    ("room", re.compile(r"^/ws/decks/[^/]+/room/$")),
    ("dashboard", re.compile(r"^/ws/rooms/[^/]+/dashboard/$")),
    ("terminal", re.compile(r"^/ws/(decks/[^/]+/terminal|rooms/[^/]+/terminal/[^/]+)/$")),
)
SOCKETS = Gauge("podium_websockets", "Open websockets of this process, by kind.", ["kind"])
for _kind, _ in _KINDS:
    SOCKETS.labels(_kind)  # every kind is exported from the start, at 0


def socket_kind(path: str) -> str:
    """ "follow", "runs", "room", "dashboard", "terminal" or "other", for a websocket's path."""
    return next((kind for kind, pattern in _KINDS if pattern.match(path)), "other")


class SocketCount:
    """ASGI middleware: counts the websockets open through `app`, by kind; starts the loop lag sampler."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        looplag_start()
        if scope["type"] != "websocket":
            return await self.app(scope, receive, send)
        gauge = SOCKETS.labels(socket_kind(scope.get("path", "")))
        gauge.inc()
        try:
            return await self.app(scope, receive, send)
        finally:
            gauge.dec()
