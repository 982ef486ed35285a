"""How many sandboxes one process makes at once (PODIUM_SANDBOX_CREATIONS): the others wait their turn.

When a room clicks Run together, every attendee's first run creates a
sandbox. Started all at once, thirty creations are thirty backend threads
parsing the engine's answers under the interpreter's one lock, and thirty
containers starting their inner engines on the same cores as the server: the
event loop of the process, and with it every socket (a follower's slide, a
run's output), waits behind them. Made a few at a time they end sooner one
by one, and the loop keeps its share.

A creation or reset is never refused here: it waits for a turn, and turns are
given in the order they were asked for (a late asker never overtakes). While
it waits, the attendee is told how many are ahead. 0 means no limit.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import weakref
from collections.abc import AsyncIterator, Callable

from django.conf import settings

# event loop → its turns (tests run many loops). Keyed by the loop itself, not its id: a new loop may get a
# closed one's id, and with it turns still counted as held by tasks that died with that loop.
_turns: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class CreationTurns:
    """At most `at_once` holders at a time; the others queue, first come first served."""

    def __init__(self, at_once: int) -> None:
        self.at_once = at_once
        self.running = 0
        self.waiting: collections.deque[asyncio.Future] = collections.deque()

    @contextlib.asynccontextmanager
    async def turn(self, *, queued: Callable[[int], None] | None = None) -> AsyncIterator[None]:
        """Hold one turn for the body; `queued(ahead)` is called once when it has to wait behind `ahead` others."""
        if self.at_once <= 0:
            yield
            return
        if self.running < self.at_once and not self.waiting:
            self.running += 1
        else:
            ahead = self.running - self.at_once + 1 + len(self.waiting)
            future = asyncio.get_running_loop().create_future()
            self.waiting.append(future)
            if queued is not None:
                queued(ahead)
            try:
                await future  # the turn is handed over by the holder that ends (`running` stays counted)
            except asyncio.CancelledError:
                if future.done() and not future.cancelled():
                    self._release()  # handed over just as it was cancelled: pass it on
                else:
                    self.waiting.remove(future)
                raise
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_result(None)
                return
        self.running -= 1


def creation_turns() -> CreationTurns:
    """This loop's turns, at the PODIUM_SANDBOX_CREATIONS in force."""
    key = asyncio.get_running_loop()
    turns = _turns.get(key)
    if turns is None or turns.at_once != settings.PODIUM_SANDBOX_CREATIONS:
        if turns is not None and (turns.running or turns.waiting):
            return turns  # the setting changed while some wait (tests): they keep the turns they queued in
        turns = _turns[key] = CreationTurns(settings.PODIUM_SANDBOX_CREATIONS)
    return turns


def creation_turn(*, say: Callable[[str], None]) -> contextlib.AbstractAsyncContextManager[None]:
    """A turn to create (or reset) a sandbox in this process; `say(sentence)` tells the attendee when they wait."""

    def queued(ahead: int) -> None:
        others = "sandbox is" if ahead == 1 else "sandboxes are"
        say(f"Waiting for a turn: {ahead} {others} being made before yours…")

    return creation_turns().turn(queued=queued)
