"""The sandbox worker: `manage.py runworker sandbox-runs` executes the runs web processes hand it.

Routed in config/asgi.py with ChannelNameRouter. A handler that awaited a
whole run would hold the channel until the run ended, so each run becomes its
own task and the handler returns at once. On its first message a worker
reconciles (sandboxes that vanished, orphans, runs a dead worker left behind).
"""

from __future__ import annotations

import logging

from channels.consumer import AsyncConsumer
from django.db import connections

from sandbox.executor import in_thread
from sandbox.reconcile import sandbox_reconcile
from sandbox.runs import run_spawn

log = logging.getLogger(__name__)


class SandboxWorker(AsyncConsumer):
    """Listens on the `sandbox-runs` channel for {"type": "run.start", "run_id": ...}."""

    reconciled = False  # once per worker process

    async def run_start(self, message: dict) -> None:
        if not SandboxWorker.reconciled:
            SandboxWorker.reconciled = True
            await self._reconcile()
        run_id = message.get("run_id")
        if isinstance(run_id, str):
            run_spawn(run_id=run_id)
        else:
            log.warning("sandbox worker: run.start without a run_id: %r", message)

    async def _reconcile(self) -> None:
        try:
            # In the backend pool, not the database thread: it waits on the backend (a poll per
            # sandbox, a removal per orphan), and every consumer of this process queues behind
            # whatever holds the database thread.
            report = await in_thread(_reconcile_closing)
        except Exception:  # a worker that cannot reconcile can still run code
            log.exception("sandbox worker: reconcile failed")
            return
        log.info(
            "sandbox worker: reconciled: %d gone, %d orphans removed, %d interrupted runs ended%s",
            len(report.gone),
            len(report.removed),
            len(report.interrupted),
            f" (sandboxes not checked: {report.skipped})" if report.skipped else "",
        )


def _reconcile_closing():
    try:
        return sandbox_reconcile()
    finally:
        connections.close_all()  # this pool thread's own connections; the pool thread lives on
