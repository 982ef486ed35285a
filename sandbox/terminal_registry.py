"""What every server process must know of an attendee's terminal, kept in the cache (Redis when REDIS_URL is set,
so all processes agree; the process's memory in the embedded default, which is one process):

- the size of the shell's PTY, as the attendee's sockets last set it (on opening and on each resize), so that a
  presenter who starts watching draws at that size: a full-screen program (vim, top) then looks as it does for
  the attendee;
- which socket holds each browser tab's attach, so that a tab's new socket (a reconnect after a network drop,
  whose old socket the server may not have seen die yet) takes the place of its old one instead of counting
  twice against PODIUM_TERMINALS_PER_ATTENDEE.

Every function here BLOCKS on the cache: call it from a thread.
"""

from __future__ import annotations

import re
import uuid

from django.core.cache import cache

from sandbox.errors import RunRefused

_PREFIX = "podium:terminal"
# Long enough for any attach (an idle one closes after PODIUM_TERMINAL_IDLE); each open and resize renews it.
_KEEP_SECONDS = 24 * 60 * 60
_TAB = re.compile(r"[A-Za-z0-9_-]{8,64}")


def terminal_tab(value: object) -> str | None:
    """The browser tab id an "open" message gave (None without one); RunRefused "bad-request" when malformed."""
    if value is None:
        return None
    if not isinstance(value, str) or not _TAB.fullmatch(value):
        raise RunRefused("bad-request", 'A terminal\'s "tab" is 8 to 64 letters, digits, "-" or "_".')
    return value


def _key(kind: str, attendee_id: uuid.UUID | str, *rest: str) -> str:
    return ":".join([_PREFIX, kind, uuid.UUID(str(attendee_id)).hex, *rest])


def terminal_size_record(*, attendee_id: uuid.UUID | str, cols: int, rows: int) -> None:
    """Remember the size the attendee's terminal PTY was just given."""
    cache.set(_key("size", attendee_id), [cols, rows], timeout=_KEEP_SECONDS)


def terminal_size_recorded(*, attendee_id: uuid.UUID | str) -> tuple[int, int] | None:
    """The (cols, rows) the attendee's terminal PTY was last given; None when no socket said it lately."""
    size = cache.get(_key("size", attendee_id))
    if isinstance(size, list | tuple) and len(size) == 2 and all(isinstance(n, int) for n in size):
        return size[0], size[1]
    return None


def terminal_tab_holder(*, attendee_id: uuid.UUID | str, tab: str) -> str | None:
    """The channel name of the socket holding the tab's attach, if one said so and has not let go."""
    return cache.get(_key("tab", attendee_id, tab))


def terminal_tab_hold(*, attendee_id: uuid.UUID | str, tab: str, channel: str) -> None:
    """Say that the socket on `channel` now holds the tab's attach."""
    cache.set(_key("tab", attendee_id, tab), channel, timeout=_KEEP_SECONDS)


def terminal_tab_release(*, attendee_id: uuid.UUID | str, tab: str, channel: str) -> None:
    """The socket on `channel` let go of the tab's attach (a newer socket's claim is left alone)."""
    key = _key("tab", attendee_id, tab)
    if cache.get(key) == channel:
        cache.delete(key)
