"""A run, from a click on Run to its stored end: accept, dispatch, execute, cancel; and a sandbox reset.

The path of a click: `run_create` validates and stores a queued Run,
`run_dispatch` hands it to an executor (a task in this process when
PODIUM_EMBEDDED_WORKER, else the `sandbox-runs` worker, which calls
`run_spawn`), and `run_execute` ensures the sandbox (`sandbox.sandboxes`),
streams the output to the attendee's group (`sandbox.streaming`) and stores
how it ended. Backend calls block, so they run in the backend thread pool
(`sandbox.executor`); database calls go through `database_sync_to_async`;
the event loop never waits on either. Cancel works from any process: a flag
on the row plus the backend's own `cancel`, which finds the process in the
sandbox. After a restart, see `sandbox.reconcile`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import datetime

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from sandbox import protocol
from sandbox.admission import sandbox_admission_check
from sandbox.backends import backend_get
from sandbox.backends.base import RunRequest, RunResult
from sandbox.blocks import block_for_run, block_options_of
from sandbox.broadcast import run_sender
from sandbox.errors import RunRefused, SandboxError, SandboxNotFound, SandboxNotStarted
from sandbox.executor import in_thread
from sandbox.groups import WORKER_CHANNEL
from sandbox.limits import runs_rate_hit, sandboxes_rate_hit
from sandbox.liveness import run_beating
from sandbox.models import Attendee, Run, Sandbox
from sandbox.sandboxes import (
    sandbox_ensure,
    sandbox_gone_mark,
    sandbox_is_live,
    sandbox_room_check,
)
from sandbox.selectors import run_get_for_attendee, runs_active_count
from sandbox.streaming import RunStream
from sandbox.watchers import activity_tell_soon

log = logging.getLogger(__name__)

CANCEL_POLL_SECONDS = 0.5
CANCELLED = "Cancelled: the process was stopped."
CANCELLED_BEFORE = "Cancelled before it started."


# -- accepting a run ---------------------------------------------------------------------------
def run_create(*, attendee: Attendee, deck_slug: str, block_id: object, code: object = None, address: str = "") -> Run:
    """Validate a click on Run and store the queued Run (the limits are named in each refusal).

    `code` is the attendee's edited text of the block, or None for the deck's
    own. Refuses (RunRefused) a block that does not exist or cannot run, code
    longer than PODIUM_RUN_CODE_MAX bytes or with a NUL character, more than
    PODIUM_RUNS_PER_ATTENDEE runs at once, a new sandbox past
    PODIUM_MAX_SANDBOXES, and more runs or new sandboxes than the rate limits
    allow (`sandbox.limits`; `address` is the client's).
    """
    if attendee.deck_slug != deck_slug:
        raise RunRefused("not-found", f"There is no deck called {deck_slug!r} here.")
    block, kind = block_for_run(deck_slug=deck_slug, block_id=block_id)
    if code is not None and not isinstance(code, str):
        raise RunRefused("bad-request", '"code" must be the text of the block.')
    text = block.text if code is None else code
    size, limit = len(text.encode("utf-8")), settings.PODIUM_RUN_CODE_MAX
    if size > limit:
        raise RunRefused(
            "limit",
            f"This code is {size:,} bytes long; a run may hold at most {limit:,} bytes "
            "(the limit PODIUM_RUN_CODE_MAX).",
        )
    if "\x00" in text:  # bash reads a line only up to it: the run would be cut short without a word
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise RunRefused(
            "bad-request", f"This code has a NUL character (byte 0x00) on line {line}; remove it and run it again."
        )
    with transaction.atomic():
        # Locks the attendee row, so two sockets of one attendee cannot both pass the count.
        Attendee.objects.select_for_update().filter(pk=attendee.pk).first()
        active, limit = runs_active_count(attendee=attendee), settings.PODIUM_RUNS_PER_ATTENDEE
        if active >= limit:
            raise RunRefused(
                "limit",
                f"You already have {active} run(s) going; at most {limit} may run at once "
                "(the limit PODIUM_RUNS_PER_ATTENDEE). Wait for one to finish, or cancel it.",
            )
        sandbox_admission_check(attendee=attendee)
        sandbox_room_check(attendee=attendee)
        runs_rate_hit(attendee=attendee)
        if not sandbox_is_live(attendee=attendee):
            sandboxes_rate_hit(attendee=attendee, address=address)
        return Run.objects.create(
            attendee=attendee,
            deck_slug=deck_slug,
            block_id=block.block_id,
            slide=block.slide_number,
            block_index=block.index,
            kind=kind,
            code=text,
            edited=code is not None and code != block.text,
        )


async def run_dispatch(*, run: Run) -> None:
    """Hand a queued run to its executor: a task here when embedded, else the `sandbox-runs` worker."""
    if settings.PODIUM_EMBEDDED_WORKER:
        run_spawn(run_id=str(run.id))
    else:
        await get_channel_layer().send(WORKER_CHANNEL, {"type": "run.start", "run_id": str(run.id)})


# Strong references: the event loop keeps only weak ones to tasks.
_tasks: set[asyncio.Task] = set()
# Stop flags of the runs executing in this process, so a cancel arriving here acts at once.
_stops: dict[str, threading.Event] = {}


def run_spawn(*, run_id: str) -> asyncio.Task:
    """Start `run_execute` as a task of the running loop that outlives the socket that asked for it."""
    task = asyncio.create_task(run_execute(run_id=run_id), name=f"run-{run_id}")
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return task


# -- executing -------------------------------------------------------------------------------
async def run_execute(*, run_id: str) -> None:
    """Execute the queued run `run_id`: ensure the sandbox, stream output to the group, store the end.

    Never raises: every failure ends the run with status "error" and a
    sentence for the learner (the detail goes to the log). A run that is not
    queued any more (taken or finished elsewhere) is left alone.
    """
    claimed = await database_sync_to_async(_run_claim)(run_id=run_id)
    if claimed is None:
        return
    run, attendee, options = claimed
    send = run_sender(attendee)  # the presenter's runs are copied to the followers too
    stream = RunStream(
        run_id=run_id,
        send=send,
        output_cap=settings.PODIUM_RUN_OUTPUT_CAP,
        stored_max=settings.PODIUM_RUN_OUTPUT_STORED,
    )
    stop = _stops.setdefault(run_id, threading.Event())
    outcome: dict = {"status": Run.Status.ERROR, "message": "Something went wrong on the server; try again."}
    try:
        async with run_beating(run_id=run_id):  # so a run whose worker dies is ended (sandbox.liveness)
            outcome = await _run_in_sandbox(run=run, attendee=attendee, options=options, stream=stream, stop=stop)
    except SandboxError as exc:
        log.warning("run %s: %s", run_id, exc)
        outcome = {"status": Run.Status.ERROR, "message": exc.user_message}
        # A reset (or a cancel) pulling the sandbox away is what the attendee asked for, not a failure.
        if stop.is_set() or await database_sync_to_async(_run_cancel_requested)(run_id=run_id):
            outcome = {"status": Run.Status.CANCELLED, "message": CANCELLED}
    except ImproperlyConfigured as exc:
        outcome = {"status": Run.Status.ERROR, "message": f"Sandboxes are not configured on this server: {exc}"}
    except Exception:
        log.exception("run %s failed", run_id)
    finally:
        _stops.pop(run_id, None)
        await stream.close()
    outcome.setdefault("output", stream.text())
    outcome["first_output_at"] = stream.first_output_at
    outcome["truncated"] = outcome.get("truncated", False) or stream.truncated
    finished = await database_sync_to_async(run_finish)(run_id=run_id, **outcome)
    if finished is not None:  # else a cancel or a reconcile ended it first, and said so
        await send(protocol.run_finished(run=finished, seq=stream.seq))
        activity_tell_soon(attendee=attendee, what="run")


async def _run_in_sandbox(
    *, run: Run, attendee: Attendee, options: dict[str, str], stream: RunStream, stop: threading.Event
) -> dict:
    """Ensure the sandbox, run the code in it, and return how it ended (fields of `run_finish`)."""
    sandbox = await sandbox_ensure(attendee=attendee, setup_status=stream.setup_status, trust_ready=True)
    backend = await in_thread(backend_get)
    started = await database_sync_to_async(_run_mark_running)(run_id=str(run.id), sandbox=sandbox)
    if not started:  # cancelled while the sandbox was being made
        return {"status": Run.Status.CANCELLED, "message": CANCELLED_BEFORE}
    stream.event(protocol.run_started(run=run))
    activity_tell_soon(attendee=attendee, what="run")
    request = RunRequest(
        run_id=str(run.id),
        kind=run.kind,
        code=run.code,
        options=options,
        timeout=settings.PODIUM_RUN_TIMEOUT,
        output_cap=settings.PODIUM_RUN_OUTPUT_CAP,
    )
    # Embedded, every cancel arrives in this process and sets `stop` itself; with workers it
    # may arrive in a web process, which only leaves the flag on the row.
    watcher = None
    if not settings.PODIUM_EMBEDDED_WORKER:
        watcher = asyncio.create_task(_cancel_watch(run_id=str(run.id), stop=stop))
    try:
        try:
            result = await in_thread(
                backend.execute, state=sandbox.state, request=request, on_output=stream.output, should_stop=stop.is_set
            )
        except SandboxNotStarted:
            # Gone before the code started (the ready row was trusted): make it again and run there.
            await database_sync_to_async(sandbox_gone_mark)(sandbox_id=sandbox.id, state=sandbox.state)
            sandbox = await sandbox_ensure(attendee=attendee, setup_status=stream.setup_status)
            result = await in_thread(
                backend.execute, state=sandbox.state, request=request, on_output=stream.output, should_stop=stop.is_set
            )
    except SandboxNotFound:  # it ran, then its sandbox went: say so; the next run makes a new one
        await database_sync_to_async(sandbox_gone_mark)(sandbox_id=sandbox.id, state=sandbox.state)
        raise
    finally:
        if watcher is not None:
            watcher.cancel()
    cancelled = await database_sync_to_async(_run_cancel_requested)(run_id=str(run.id))
    return run_outcome(result=result, cancelled=cancelled or stop.is_set())


async def _cancel_watch(*, run_id: str, stop: threading.Event) -> None:
    """Set `stop` when a cancel of the run is stored by any process (checked every half second)."""
    while not stop.is_set():
        await asyncio.sleep(CANCEL_POLL_SECONDS)
        if await database_sync_to_async(_run_cancel_requested)(run_id=run_id):
            stop.set()


def run_outcome(*, result: RunResult, cancelled: bool) -> dict:
    """Status, exit code and sentence of a run that ended as `result` says (fields of `run_finish`)."""
    outcome = {"exit_code": result.exit_code, "truncated": result.truncated}
    if cancelled or result.cancelled:
        outcome.update(status=Run.Status.CANCELLED, message=CANCELLED)
    elif result.timed_out:
        limit = settings.PODIUM_RUN_TIMEOUT
        seconds = f"{limit:g} second{'' if limit == 1 else 's'}"
        outcome.update(
            status=Run.Status.TIMED_OUT,
            message=f"Stopped after {seconds}, the time limit for one run (PODIUM_RUN_TIMEOUT).",
        )
    elif result.exit_code == 0:
        outcome.update(status=Run.Status.OK, message="")
    else:
        outcome.update(status=Run.Status.FAILED, message=f"The command ended with exit code {result.exit_code}.")
    return outcome


def _run_claim(*, run_id: str) -> tuple[Run, Attendee, dict[str, str]] | None:
    run = Run.objects.select_related("attendee").filter(id=run_id, status=Run.Status.QUEUED).first()
    return None if run is None else (run, run.attendee, block_options_of(run=run))


def _run_mark_running(*, run_id: str, sandbox: Sandbox) -> bool:
    """Mark the queued run running in `sandbox`; False when it was cancelled (or taken) meanwhile."""
    updated = Run.objects.filter(id=run_id, status=Run.Status.QUEUED, cancel_requested=False).update(
        status=Run.Status.RUNNING, sandbox=sandbox, started_at=timezone.now()
    )
    return bool(updated)


def _run_cancel_requested(*, run_id: str) -> bool:
    return Run.objects.filter(id=run_id, cancel_requested=True).exists()


def run_finish(
    *,
    run_id: str,
    status: str,
    exit_code: int | None = None,
    output: str = "",
    truncated: bool = False,
    message: str = "",
    first_output_at: datetime | None = None,
) -> Run | None:
    """Store how the run ended: status, exit code, duration, the (capped) output and the sentence shown,
    and (when it printed anything) how long after the click its first output came.

    Returns None, changing nothing, when the run had already ended (the first end stored wins).
    """
    with transaction.atomic():
        run = Run.objects.select_for_update().filter(id=run_id, status__in=Run.ACTIVE).first()
        if run is None:
            return None
        if first_output_at is not None:
            run.first_output_ms = max(0, int((first_output_at - run.created_at).total_seconds() * 1000))
        return _run_store_end(run, status, exit_code, output, truncated, message)


def _run_store_end(run: Run, status: str, exit_code: int | None, output: str, truncated: bool, message: str) -> Run:
    now = timezone.now()
    if truncated:
        cap = _size(settings.PODIUM_RUN_OUTPUT_CAP)
        note = (
            f"Output truncated after {cap} (the limit PODIUM_RUN_OUTPUT_CAP): "
            "the rest was dropped while the command kept running."
        )
        message = f"{message} {note}".strip()
    run.status, run.exit_code, run.output, run.truncated = status, exit_code, output, truncated
    run.error_message, run.finished_at = message, now
    run.duration_ms = int((now - (run.started_at or run.created_at)).total_seconds() * 1000)
    fields = ["status", "exit_code", "output", "truncated", "error_message", "finished_at", "duration_ms"]
    run.save(update_fields=[*fields, "first_output_ms"])
    Sandbox.objects.filter(id=run.sandbox_id).update(last_used_at=now)
    return run


def _size(n: int) -> str:
    for unit, factor in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if n >= factor and n % factor == 0:
            return f"{n // factor} {unit}"
    return f"{n:,} bytes"


# -- cancel ----------------------------------------------------------------------------------
def run_cancel_request(*, attendee: Attendee, run_id: object) -> Run:
    """Flag the attendee's active run `run_id` as cancelled; RunRefused "not-found" for anyone else's run.

    A queued run then never starts; a running one is stopped by its executor
    (which checks the flag) and by `run_cancel`'s kill in the sandbox.
    """
    run = run_get_for_attendee(attendee=attendee, run_id=run_id)
    if run is None:
        raise RunRefused("not-found", f"You have no run {str(run_id)[:40]!r}.")
    if not run.active:
        raise RunRefused("not-running", "That run has already finished.")
    Run.objects.filter(id=run.id).update(cancel_requested=True)
    run.cancel_requested = True
    return run


async def run_cancel(*, attendee: Attendee, run_id: object) -> Run:
    """Cancel the attendee's run: store the flag, then kill its process in the sandbox (from any process)."""
    run = await database_sync_to_async(run_cancel_request)(attendee=attendee, run_id=run_id)
    stop = _stops.get(str(run.id))
    if stop is not None:
        stop.set()
    if run.status == Run.Status.QUEUED and stop is None:
        # Nobody executes it yet: finish it here; a late executor finds it no longer queued.
        done = await database_sync_to_async(_run_cancel_queued)(run_id=str(run.id))
        if done is not None:
            await run_sender(attendee)(protocol.run_finished(run=done))
        return run
    if run.sandbox is not None and run.sandbox.state:
        backend = await in_thread(backend_get)
        try:
            await in_thread(backend.cancel, state=run.sandbox.state, run_id=str(run.id))
        except SandboxError as exc:
            log.warning("cancel of run %s: %s", run.id, exc)
    return run


def _run_cancel_queued(*, run_id: str) -> Run | None:
    with transaction.atomic():
        run = Run.objects.select_for_update().filter(id=run_id, status=Run.Status.QUEUED).first()
        if run is None:
            return None
        return _run_store_end(run, Run.Status.CANCELLED, None, "", False, CANCELLED_BEFORE)
