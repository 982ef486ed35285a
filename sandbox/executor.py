"""Where the run pipeline's blocking work and messages go: the backend thread pool and the channel layer.

Backend calls (docker, kubernetes) block, so they run in a pool of their
own through `in_thread`, never on the event loop; `group_send` delivers one
message of the runs protocol (`sandbox.protocol`) to a group.

Database calls from consumers (`database_sync_to_async`) all share ONE thread
per process: a consumer has no per-request context to give it a thread of its
own. A call that may take long, because it also calls a backend (destroying a
room's sandboxes) or reads much (a whole room's board), goes through
`db_long` instead, so it never holds up everyone else's short ones: a
follower's join, a run's claim. A write nobody waits for (the slide a page is
on) goes through `db_background`: one thread of its own, so a write stuck on a
lock (SQLite's 5 s busy timeout, tried again) holds up only the writes queued
behind it, never a read or a run's claim.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from concurrent.futures import ThreadPoolExecutor

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
# One thread: background writes keep their order, and hold at most one database connection.
_background_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="podium-db-background")


def _backend_pool() -> ThreadPoolExecutor:
    # Not asyncio.to_thread's default pool: a run holds its thread for its whole length, and that
    # pool has only cores+4 threads, so a handful of long runs would stall every other backend call.
    global _pool
    with _pool_lock:
        if _pool is None:
            size = max(32, settings.PODIUM_MAX_SANDBOXES * settings.PODIUM_RUNS_PER_ATTENDEE + 16)
            _pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="podium-backend")
            starter = threading.Thread(target=_threads_start, args=(_pool, size), name="podium-backend-start")
            starter.daemon = True
            starter.start()
        return _pool


def _threads_start(pool: ThreadPoolExecutor, count: int) -> None:
    """Start all `count` threads of `pool` now, from this thread.

    A pool starts a thread when a call finds none idle, in the caller's thread, and `Thread.start` waits
    until the new thread runs. Called from the event loop, that wait blocked every socket of the process:
    when a room created its sandboxes at once (each creation holds a thread), the loop stalled for up to
    half a second per new thread on a busy machine. Here `count` calls wait for each other, so the pool
    starts a thread for each, and the threads are idle and ready before the loop needs them.
    """
    gate = threading.Barrier(count)

    def wait() -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            gate.wait(timeout=60)

    for _ in range(count):
        pool.submit(wait)


async def in_thread(fn, /, *args, **kwargs):
    """Await a blocking call (a backend method) run in the backend thread pool."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_backend_pool(), functools.partial(fn, *args, **kwargs))


async def group_send(group: str, event: dict) -> None:
    """Send `event` to a group through the configured channel layer."""
    await get_channel_layer().group_send(group, event)


def db_long(fn):
    """`database_sync_to_async(fn)` run in a pool thread rather than the one thread short database calls share."""
    return database_sync_to_async(fn, thread_sensitive=False)


def db_background(fn):
    """`database_sync_to_async(fn)` run in the one thread of writes nobody waits for, not the shared one."""
    return database_sync_to_async(fn, thread_sensitive=False, executor=_background_writer)
