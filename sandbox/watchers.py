"""Who else hears that an attendee did something: hooks other apps plug in.

The sandbox app knows nothing of rooms; the rooms app registers a watcher
when Django starts (`rooms.apps`), as it registers its admission hooks. When
an attendee's run starts or ends, a check is recorded, their slide is stored
or their sandbox is reset, every watcher is asked (blocking: it may read the
database) which channel groups want to hear of it, and each of those groups
gets one `attendee.changed` event: the presenter's dashboard then reads the
room again at once instead of at its next poll.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from sandbox.executor import db_long, group_send
from sandbox.models import Attendee

log = logging.getLogger(__name__)

Watcher = Callable[[Attendee], Iterable[str]]  # the groups that want to hear of this attendee
CHANGED = "attendee.changed"

_watchers: list[Watcher] = []
_telling: set[asyncio.Task] = set()  # strong references to the tells in flight


def activity_watcher_add(watcher: Watcher) -> None:
    """Ask `watcher` which groups hear of an attendee's activity (once, however often it is added)."""
    if watcher not in _watchers:
        _watchers.append(watcher)


def activity_groups(*, attendee: Attendee) -> list[str]:
    """The groups every watcher names for `attendee`, each once, in order."""
    groups: list[str] = []
    for watcher in _watchers:
        groups += [group for group in watcher(attendee) if group not in groups]
    return groups


async def activity_tell(*, attendee: Attendee, what: str) -> None:
    """Send `attendee.changed` ("run", "check", "slide" or "sandbox") to the groups watching `attendee`.

    Never raises: a watcher's failure costs the watchers their prompt update (they still poll), not the run.
    """
    try:
        # Not the thread every short database call of the process shares: a run's own claim and finish use it.
        groups = await db_long(activity_groups)(attendee=attendee)
        for group in groups:
            await group_send(group, {"type": CHANGED, "attendee": str(attendee.id), "what": what})
    except Exception:
        log.exception("telling the watchers of attendee %s about a %s", attendee.id, what)


def activity_tell_soon(*, attendee: Attendee, what: str) -> None:
    """`activity_tell` in a task of its own, so what the attendee waits for (their run's output) never waits for it."""
    if not _watchers:
        return
    task = asyncio.create_task(activity_tell(attendee=attendee, what=what))
    _telling.add(task)
    task.add_done_callback(_telling.discard)
