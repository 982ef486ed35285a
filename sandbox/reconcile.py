"""After a restart: make the Sandbox rows, the backend and the runs agree again.

A sandbox whose container vanished is marked gone (the next run creates it
again), a sandbox no row knows is destroyed, and runs that a dead process
left queued or running end with an error saying so. `sandbox_reconcile` runs
at worker start and from `manage.py sandbox reconcile`; an embedded server
(the only executor of its runs) ends the runs of its predecessor on its first
connection.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from sandbox import protocol
from sandbox.backends import backend_get
from sandbox.backends.base import Backend
from sandbox.broadcast import run_sender
from sandbox.errors import SandboxError
from sandbox.liveness import runs_lost
from sandbox.models import Attendee, Run, Sandbox
from sandbox.runs import run_finish

log = logging.getLogger(__name__)

INTERRUPTED = "The server restarted during this run, so it was stopped."
LOST = (
    "The worker running this stopped (it was restarted or crashed), so the run was ended. "
    "Your sandbox is kept: run it again."
)
# A run can wait for its sandbox to be created before its own timeout starts.
RUN_GRACE = timedelta(minutes=5)
PROCESS_STARTED_AT = timezone.now()


@dataclass
class ReconcileReport:
    """What `sandbox_reconcile` changed: sandbox ids marked gone, orphans removed, runs ended."""

    gone: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    interrupted: list[str] = field(default_factory=list)
    skipped: str = ""  # why sandboxes were not checked (the backend's check() sentence)


def sandbox_reconcile(*, backend: Backend | None = None, run_cutoff: datetime | None = None) -> ReconcileReport:
    """Make the rows and the backend agree again, e.g. after a restart (blocking: call it in a thread).

    A Sandbox row whose sandbox vanished is marked gone (the next run creates
    it again); a sandbox the backend manages but no row knows is destroyed;
    runs left queued or running since before `run_cutoff` (default: longer ago
    than a run can last) end with status error. When the backend cannot be
    reached, the sandboxes are left as they are and `skipped` says why.
    """
    backend = backend or backend_get()
    report = ReconcileReport()
    report.skipped = backend.check() or ""
    if not report.skipped:
        # Listed before the rows are read: a row always exists before its sandbox, so a
        # sandbox created meanwhile already has a row here and is never taken for an orphan.
        managed = backend.list_managed()
        rows = list(Sandbox.objects.all())
        known = {row.id.hex for row in rows}
        for row in rows:
            if row.status == Sandbox.Status.READY and row.backend == backend.name and backend.poll(state=row.state):
                Sandbox.objects.filter(id=row.id, status=Sandbox.Status.READY).update(status=Sandbox.Status.GONE)
                report.gone.append(row.id.hex)
        for found in managed:
            if _hex(found.sandbox_id) not in known:
                backend.destroy(state=found.state)
                report.removed.append(found.sandbox_id)
    cutoff = run_cutoff or timezone.now() - timedelta(seconds=settings.PODIUM_RUN_TIMEOUT) - RUN_GRACE
    report.interrupted = runs_interrupted_mark(created_before=cutoff)
    return report


def _hex(sandbox_id: str) -> str:
    try:
        return uuid.UUID(str(sandbox_id)).hex
    except ValueError:
        return str(sandbox_id)


def runs_interrupted_mark(*, created_before: datetime) -> list[str]:
    """End every run still queued or running that was created before `created_before` (its executor died).

    Each gets status error with a sentence saying the server restarted, and
    its attendee's open pages are told.
    """
    runs = Run.objects.filter(status__in=Run.ACTIVE, created_at__lt=created_before)
    return _runs_end(runs, message=INTERRUPTED)


def runs_lost_end(*, attendee: Attendee | None = None, backend: Backend | None = None) -> list[str]:
    """End the runs whose executor stopped beating (`sandbox.liveness`), of `attendee` or of everyone (blocking).

    Each ends with status error and a sentence saying its worker stopped; what is left of it in the sandbox is
    killed, so the sandbox (kept) is free for the next run; the attendee's open pages are told.
    """
    lost = runs_lost(attendee=attendee)
    if not lost.exists():
        return []
    if backend is None:
        try:
            backend = backend_get()
        except ImproperlyConfigured:  # nothing to kill anywhere; the runs still end
            backend = None
    return _runs_end(lost, message=LOST, backend=backend)


def _runs_end(runs, *, message: str, backend: Backend | None = None) -> list[str]:
    ended = []
    for run in runs.select_related("attendee", "sandbox"):
        done = run_finish(run_id=str(run.id), status=Run.Status.ERROR, output=run.output, message=message)
        if done is None:
            continue
        ended.append(str(run.id))
        sandbox = run.sandbox
        if backend is not None and sandbox is not None and sandbox.state and sandbox.backend == backend.name:
            try:
                backend.cancel(state=sandbox.state, run_id=str(run.id))
            except SandboxError as error:
                log.warning("run %s: could not kill what is left of it: %s", run.id, error)
        try:
            async_to_sync(run_sender(run.attendee))(protocol.run_finished(run=done))
        except Exception:  # a page learns it on reload anyway; the channel layer may be down too
            log.warning("could not tell attendee %s that run %s ended", run.attendee_id, run.id, exc_info=True)
    return ended


_embedded_checked = False


async def runs_interrupted_mark_once() -> None:
    """In an embedded server (the only executor), end once the runs a previous process left unfinished."""
    global _embedded_checked
    if _embedded_checked or not settings.PODIUM_EMBEDDED_WORKER:
        return
    _embedded_checked = True
    await database_sync_to_async(runs_interrupted_mark)(created_before=PROCESS_STARTED_AT)
