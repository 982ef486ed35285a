"""What every Podium websocket does with a frame before its consumer reads it: cap its size, parse its JSON.

Both sockets (the follow socket and the runs socket) accept JSON objects in
text frames. Anything else is answered with an error naming what to send and
the socket stays open: a page that sent something odd can go on.

`DirectDispatch`: a consumer whose handlers reach the database only through
`database_sync_to_async` (which closes stale connections itself, before and
after each call) hands each message straight to its handler, without
Channels' extra hop per message to the one thread all short database calls of
the process share. The database refusing a handler's work (locked past its
busy timeout, or away) is said to the page in words instead of crashing the
socket.
"""

from __future__ import annotations

import json
import logging

from channels.consumer import get_handler_name
from django.conf import settings
from django.db import DatabaseError

log = logging.getLogger(__name__)

CLOSE_TRY_AGAIN = 4503  # try again later (1013 says it in RFC 6455, but autobahn lets a server send 1000 or 3000-4999)
DATABASE_BUSY_OPENING = "The server's database did not answer in time; this page connects again by itself."
DATABASE_BUSY = "The server's database did not answer in time, so that was not done: try it again in a moment."


class DirectDispatch:
    """Consumer mixin: every message goes to its handler at once, with no hop to the shared database thread.

    Channels' `dispatch` first closes stale database connections in that thread, for every message of every
    socket; when a room creates its sandboxes, the runs' database calls queue there, and a new follower's
    connect waited behind them before it even started.
    """

    async def dispatch(self, message: dict) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        try:
            await handler(message)
        except DatabaseError as error:
            await self._database_refused(message["type"], error)

    async def _database_refused(self, kind: str, error: DatabaseError, *, opening: bool | None = None) -> None:
        """The database refused a handler's work (locked past its busy timeout, or away): said to the page, not
        a crash. A socket that could not even be set up (`opening`: its connect, unless the caller says) closes
        with 4503 (try again later), and the page connects again by itself; a message's failure leaves the
        socket open."""
        log.warning("%s: %s failed: the database refused (%s)", type(self).__name__, kind, error)
        if kind == "websocket.disconnect":
            return
        opening = kind == "websocket.connect" if opening is None else opening
        message = DATABASE_BUSY_OPENING if opening else DATABASE_BUSY
        await self.send(text_data=json.dumps({"type": "error", "code": "unavailable", "message": message}))
        if opening:
            await self.close(code=CLOSE_TRY_AGAIN)


class BadFrame(Exception):
    """A frame that is not a JSON object of an acceptable size; `message` tells the client what was wrong."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def frame_json(*, text_data: str | None, bytes_data: bytes | None) -> dict:
    """The JSON object a frame holds; BadFrame for a frame over PODIUM_WS_MESSAGE_MAX bytes, binary or not JSON.

    The size is checked before anything is parsed, so a huge frame costs no parsing.
    """
    limit = settings.PODIUM_WS_MESSAGE_MAX
    size = len(bytes_data) if text_data is None and bytes_data is not None else len((text_data or "").encode())
    if size > limit:
        raise BadFrame(
            f"That message is {size:,} bytes; a message may hold at most {limit:,} bytes "
            "(the limit PODIUM_WS_MESSAGE_MAX)."
        )
    if text_data is None:
        raise BadFrame("Send text frames holding a JSON object.")
    try:
        content = json.loads(text_data)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        raise BadFrame("That message is not valid JSON.") from None
    if not isinstance(content, dict):
        raise BadFrame('A message must be a JSON object with a "type".')
    return content
