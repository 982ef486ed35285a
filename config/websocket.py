"""What every Podium websocket does with a frame before its consumer reads it: cap its size, parse its JSON.

Both sockets (the follow socket and the runs socket) accept JSON objects in
text frames. Anything else is answered with an error naming what to send and
the socket stays open: a page that sent something odd can go on.
"""

from __future__ import annotations

import json

from django.conf import settings


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
