"""A run's heartbeat, so a run whose executor died ends instead of staying "running" forever.

The process executing a run (a `runworker sandbox-runs`, or a server with the
embedded worker) stores `Run.beat_at` every PODIUM_RUN_BEAT_SECONDS while the
run is queued for it or running, from its claim to its end. A run whose beat
is older than LOST_AFTER_BEATS beats has lost its executor: the worker was
killed, or its machine went away. `sandbox.reconcile.runs_lost_end` ends such
runs with a sentence saying so and kills what is left of them in the sandbox,
which stays the attendee's. It is called by the culler's every pass, when a
page of the attendee connects, and when a lost run keeps the attendee at
their limit of runs at once.

A run never claimed has no beat yet; a worker's start-up reconcile ends those.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from sandbox.executor import db_background
from sandbox.models import Attendee, Run

log = logging.getLogger(__name__)

LOST_AFTER_BEATS = 4


def run_beat_store(*, run_id: str) -> bool:
    """Store a beat of the run (while it is queued or running); False once it ended."""
    return bool(Run.objects.filter(id=run_id, status__in=Run.ACTIVE).update(beat_at=timezone.now()))


@contextlib.asynccontextmanager
async def run_beating(*, run_id: str) -> AsyncIterator[None]:
    """Beat for the run while the block runs: the first beat at once (in the background), then every beat."""
    task = asyncio.create_task(_beat(run_id), name=f"beat-{run_id}")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _beat(run_id: str) -> None:
    while True:
        try:
            # Not the shared database thread: a beat stuck on a lock must not hold up the reads of everyone.
            if not await db_background(run_beat_store)(run_id=run_id):
                return
        except Exception:  # a database hiccup costs one beat, not the run
            log.warning("run %s: could not store its beat", run_id, exc_info=True)
        await asyncio.sleep(settings.PODIUM_RUN_BEAT_SECONDS)


def runs_lost(*, attendee: Attendee | None = None) -> QuerySet[Run]:
    """Queued or running runs whose executor stopped beating (of `attendee`, or of everyone)."""
    silent_since = timezone.now() - timedelta(seconds=LOST_AFTER_BEATS * settings.PODIUM_RUN_BEAT_SECONDS)
    runs = Run.objects.filter(status__in=Run.ACTIVE, beat_at__lt=silent_since)
    return runs.filter(attendee=attendee) if attendee is not None else runs
