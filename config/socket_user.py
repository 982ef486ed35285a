"""Who a websocket's session belongs to, looked up only when a consumer asks, in the thread that asks.

Channels' AuthMiddlewareStack looks the user up before every consumer starts, through the one thread per
process that short database calls share (`database_sync_to_async`). A socket's handshake then waited for
every call queued in that thread: one attendee's writes held up behind a database lock (SQLite's busy
timeout is 5 s; MariaDB's row lock wait is longer) held up every page that was connecting, and daphne refuses
a handshake not answered within 5 s. Chromium also opens a page's sockets to one host one handshake at a
time, so one slow socket held up the page's others: the presenter view stayed "connecting" (issue 12).

Here `scope["user"]` is lazy instead: the session cookie is read at once (no database), and the user is
loaded, with the same checks as Django's `auth.get_user` (the session's auth hash), the first time code in
a database thread touches it, such as `presenter_allowed` or `attendee_for`. Touched on the event loop, it
raises Django's SynchronousOnlyOperation: never a silent stall.
"""

from __future__ import annotations

import functools
from types import SimpleNamespace

from channels.sessions import SessionMiddlewareStack
from django.contrib import auth
from django.utils.functional import SimpleLazyObject


def _user_of(session):
    # Django's own lookup, given what it reads of a request: its session.
    return auth.get_user(SimpleNamespace(session=session))


class LazyUserMiddleware:
    """Put a lazy `scope["user"]` of the scope's session (SessionMiddleware must be outside it)."""

    def __init__(self, inner) -> None:
        self.inner = inner

    async def __call__(self, scope, receive, send):
        if "session" not in scope:
            raise ValueError("LazyUserMiddleware needs the session in the scope: put SessionMiddleware outside it.")
        scope = dict(scope)
        scope.setdefault("user", SimpleLazyObject(functools.partial(_user_of, scope["session"])))
        return await self.inner(scope, receive, send)


def SocketUserStack(inner):  # noqa: N802 - named like the Channels stacks it stands in for
    """Cookies, the session and a lazy user for `inner`: AuthMiddlewareStack with no database call up front."""
    return SessionMiddlewareStack(LazyUserMiddleware(inner))
