"""Why a room request was refused, in a sentence for the person who asked."""

from __future__ import annotations


class RoomError(Exception):
    """A room action that cannot be done; `message` is shown as it is (join page, command line, dashboard)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
