"""Writes of the run pipeline: accept a run, execute it in the attendee's sandbox, cancel it, reset the sandbox.

The path of a click: `run_create` validates and stores a queued Run,
`run_dispatch` hands it to an executor (a task in this process when
PODIUM_EMBEDDED_WORKER, else the `sandbox-runs` worker), and `run_execute`
ensures the sandbox, streams the output to the attendee's group and stores
how it ended. Backend calls block, so they run in a thread pool; database
calls go through `database_sync_to_async`; the event loop never waits on
either. Cancel works from any process: a flag on the row plus the backend's
own `cancel`, which finds the process in the sandbox. After a restart, see `sandbox.reconcile`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.utils import timezone

from deck.errors import DeckFileError, DeckNotFound
from deck.model import CodeBlock
from deck.selectors import deck_get
from sandbox.backends import backend_get
from sandbox.backends.base import Backend, RunRequest, RunResult, SandboxSpec
from sandbox.errors import SandboxError, SandboxLimitReached, SandboxNotFound
from sandbox.groups import WORKER_CHANNEL, attendee_group
from sandbox.models import Attendee, Run, Sandbox
from sandbox.progress import progress_replay, progress_reset_mark
from sandbox.selectors import run_get_for_attendee, runs_active, runs_active_count, sandbox_live_count, sandbox_of
from sandbox.streaming import RunStream

log = logging.getLogger(__name__)

SHELL_LEXERS = {"bash", "sh", "shell", "console", "zsh", "ksh", "shell-session", "sh-session"}
PYTHON_LEXERS = {"python", "python3", "py", "py3"}
ACTION_KINDS = {"Build": "build", "Apply": "apply", "Query": "sql"}
CANCEL_POLL_SECONDS = 0.5


class RunRefused(Exception):
    """A run request the pipeline will not accept; `code` and `message` go to the browser as they are."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# -- threads ---------------------------------------------------------------------------------
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _backend_pool() -> ThreadPoolExecutor:
    # Not asyncio.to_thread's default pool: a run holds its thread for its whole length, and that
    # pool has only cores+4 threads, so a handful of long runs would stall every other backend call.
    global _pool
    with _pool_lock:
        if _pool is None:
            size = max(32, settings.PODIUM_MAX_SANDBOXES * settings.PODIUM_RUNS_PER_ATTENDEE + 16)
            _pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="podium-backend")
        return _pool


async def in_thread(fn, /, *args, **kwargs):
    """Await a blocking call (a backend method) run in the backend thread pool."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_backend_pool(), functools.partial(fn, *args, **kwargs))


async def group_send(group: str, event: dict) -> None:
    """Send `event` to a group through the configured channel layer."""
    await get_channel_layer().group_send(group, event)


# -- accepting a run ---------------------------------------------------------------------------
def run_kind_for(*, block: CodeBlock) -> str | None:
    """What a Run of `block` does ("shell", "python", "build", "apply", "sql"), or None when it cannot run."""
    if not block.runnable:
        return None
    if block.action in ACTION_KINDS:
        return ACTION_KINDS[block.action]
    lexer = (block.lexer or "").lower()
    if block.action == "Run" and lexer in SHELL_LEXERS:
        return "shell"
    if block.action == "Run" and lexer in PYTHON_LEXERS:
        return "python"
    return None


def block_for_run(*, deck_slug: str, block_id: object) -> tuple[CodeBlock, str]:
    """The block `block_id` (like "s7b0") of the deck and its run kind; RunRefused saying why it cannot run."""
    parsed = _block_id_parse(block_id)
    if parsed is None:
        raise RunRefused("not-found", f"There is no block {str(block_id)[:40]!r} in this deck.")
    try:
        deck = deck_get(slug=deck_slug)
    except DeckNotFound:
        raise RunRefused("not-found", f"There is no deck called {deck_slug!r}.") from None
    except DeckFileError as exc:
        raise RunRefused("not-found", f"The deck {deck_slug!r} cannot be read: {exc}") from None
    slide, index = parsed
    block = deck.block(slide, index)
    if block is None:
        if not 1 <= slide <= len(deck.slides):
            where = f"this deck has slides 1 to {len(deck.slides)}"
        else:
            where = f"slide {slide} has {len(deck.slides[slide - 1].blocks)} code block(s)"
        raise RunRefused("not-found", f"There is no block {block_id} in this deck: {where}.")
    kind = run_kind_for(block=block)
    if kind is None:
        what = f"a {block.lexer} block" if block.lexer else "a plain text block"
        why = f"it is {what} without a Run button" if not block.runnable else f"Podium cannot run {what}"
        raise RunRefused("not-runnable", f"Block {block_id} on slide {slide} cannot be run: {why}.")
    return block, kind


def _block_id_parse(block_id: object) -> tuple[int, int] | None:
    if not isinstance(block_id, str) or not block_id.startswith("s") or "b" not in block_id or len(block_id) > 12:
        return None
    slide, _, index = block_id[1:].partition("b")
    if not (slide.isdigit() and index.isdigit() and slide.isascii() and index.isascii()):
        return None
    return int(slide), int(index)


def run_create(*, attendee: Attendee, deck_slug: str, block_id: object, code: object = None) -> Run:
    """Validate a click on Run and store the queued Run (the limits are named in each refusal).

    `code` is the attendee's edited text of the block, or None for the deck's
    own. Refuses (RunRefused) a block that does not exist or cannot run, code
    longer than PODIUM_RUN_CODE_MAX bytes, more than PODIUM_RUNS_PER_ATTENDEE
    runs at once, and a new sandbox past PODIUM_MAX_SANDBOXES.
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
        _sandbox_room_check(attendee=attendee)
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


def _sandbox_room_check(*, attendee: Attendee) -> None:
    """SandboxLimitReached / RunRefused when the attendee needs a new sandbox and none is left."""
    sandbox = sandbox_of(attendee=attendee)
    if sandbox is not None and sandbox.status in (Sandbox.Status.CREATING, Sandbox.Status.READY):
        return
    limit = settings.PODIUM_MAX_SANDBOXES
    if sandbox_live_count(exclude_attendee=attendee) >= limit:
        message = (
            f"All {limit} sandboxes of this server are in use (the limit PODIUM_MAX_SANDBOXES); "
            "ask the organiser to free or allow more."
        )
        raise RunRefused("limit", message)


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
    group = attendee_group(attendee.id)
    stream = RunStream(
        run_id=run_id,
        send=functools.partial(group_send, group),
        output_cap=settings.PODIUM_RUN_OUTPUT_CAP,
    )
    stop = _stops.setdefault(run_id, threading.Event())
    outcome: dict = {"status": Run.Status.ERROR, "message": "Something went wrong on the server; try again."}
    try:
        outcome = await _run_in_sandbox(run=run, attendee=attendee, options=options, stream=stream, stop=stop)
    except SandboxError as exc:
        log.warning("run %s: %s", run_id, exc)
        outcome = {"status": Run.Status.ERROR, "message": exc.user_message}
        # A reset (or a cancel) pulling the sandbox away is what the attendee asked for, not a failure.
        if stop.is_set() or await database_sync_to_async(_run_cancel_requested)(run_id=run_id):
            outcome = {"status": Run.Status.CANCELLED, "message": "Cancelled: the process was stopped."}
    except ImproperlyConfigured as exc:
        outcome = {"status": Run.Status.ERROR, "message": f"Sandboxes are not configured on this server: {exc}"}
    except Exception:
        log.exception("run %s failed", run_id)
    finally:
        _stops.pop(run_id, None)
        await stream.close()
    outcome.setdefault("output", stream.text())
    outcome["truncated"] = outcome.get("truncated", False) or stream.truncated
    finished = await database_sync_to_async(run_finish)(run_id=run_id, **outcome)
    if finished is not None:  # else a cancel or a reconcile ended it first, and said so
        await group_send(group, run_finished_event(run=finished, seq=stream.seq))


async def _run_in_sandbox(
    *, run: Run, attendee: Attendee, options: dict[str, str], stream: RunStream, stop: threading.Event
) -> dict:
    """Ensure the sandbox, run the code in it, and return how it ended (fields of `run_finish`)."""
    sandbox = await sandbox_ensure(attendee=attendee, progress=stream.progress)
    backend = await in_thread(backend_get)
    started = await database_sync_to_async(_run_mark_running)(run_id=str(run.id), sandbox=sandbox)
    if started is None:  # cancelled while the sandbox was being made
        return {"status": Run.Status.CANCELLED, "message": "Cancelled before it started."}
    stream.event({"type": "run.started", "run": str(run.id), "block": run.block_id})
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
        result = await in_thread(
            backend.execute, state=sandbox.state, request=request, on_output=stream.output, should_stop=stop.is_set
        )
    except SandboxNotFound:
        await database_sync_to_async(_sandbox_gone)(sandbox_id=sandbox.id, state=sandbox.state)
        raise
    finally:
        if watcher is not None:
            watcher.cancel()
    cancelled = await database_sync_to_async(_run_cancel_requested)(run_id=str(run.id))
    return run_outcome(result=result, cancelled=cancelled or stop.is_set())


def _block_options(run: Run) -> dict[str, str]:
    # Read from the deck when the run starts, so an edited block keeps its context and tag.
    try:
        block = deck_get(slug=run.deck_slug).block(run.slide, run.block_index)
    except (DeckNotFound, DeckFileError):
        return {}
    return {str(k): str(v) for k, v in (block.options if block else {}).items()}


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
        outcome.update(status=Run.Status.CANCELLED, message="Cancelled: the process was stopped.")
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
    return None if run is None else (run, run.attendee, _block_options(run))


def _run_mark_running(*, run_id: str, sandbox: Sandbox) -> Run | None:
    updated = Run.objects.filter(id=run_id, status=Run.Status.QUEUED, cancel_requested=False).update(
        status=Run.Status.RUNNING, sandbox=sandbox, started_at=timezone.now()
    )
    return Run.objects.get(id=run_id) if updated else None


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
) -> Run | None:
    """Store how the run ended: status, exit code, duration, the (capped) output and the sentence shown.

    Returns None, changing nothing, when the run had already ended (the first end stored wins).
    """
    with transaction.atomic():
        run = Run.objects.select_for_update().filter(id=run_id, status__in=Run.ACTIVE).first()
        if run is None:
            return None
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
    run.save(
        update_fields=["status", "exit_code", "output", "truncated", "error_message", "finished_at", "duration_ms"]
    )
    Sandbox.objects.filter(id=run.sandbox_id).update(last_used_at=now)
    return run


def run_finished_event(*, run: Run, seq: int | None = None) -> dict:
    """The `run.finished` message of a stored run (`seq`: number of output messages sent, when known)."""
    event = {
        "type": "run.finished",
        "run": str(run.id),
        "block": run.block_id,
        "status": run.status,
        "exit_code": run.exit_code,
        "duration_ms": run.duration_ms,
        "truncated": run.truncated,
        "message": run.error_message,
    }
    if seq is not None:
        event["seq"] = seq
    return event


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
            await group_send(attendee_group(attendee.id), run_finished_event(run=done))
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
        return _run_store_end(run, Run.Status.CANCELLED, None, "", False, "Cancelled before it started.")


# -- sandboxes -------------------------------------------------------------------------------
_ensure_locks: dict[tuple[int, uuid.UUID], asyncio.Lock] = {}


def _ensure_lock(attendee_id: uuid.UUID) -> asyncio.Lock:
    # One creation at a time per attendee in this process; keyed by loop too, as a lock belongs to its loop.
    key = (id(asyncio.get_running_loop()), attendee_id)
    return _ensure_locks.setdefault(key, asyncio.Lock())


async def sandbox_ensure(*, attendee: Attendee, progress) -> Sandbox:
    """The attendee's sandbox, running: created (or re-created after it vanished) when needed.

    `progress(message)` receives the backend's sentences while it creates.
    Raises SandboxLimitReached past PODIUM_MAX_SANDBOXES and the backend's
    SandboxError when it cannot make one (the row is then marked failed).
    """
    async with _ensure_lock(attendee.id):
        backend = await in_thread(backend_get)
        before = await database_sync_to_async(sandbox_of)(attendee=attendee)
        sandbox = await database_sync_to_async(_sandbox_claim)(attendee=attendee, backend=backend)
        spec = SandboxSpec(sandbox_id=sandbox.id.hex, attendee_id=attendee.id.hex, talk=attendee.deck_slug)
        try:
            state = await in_thread(backend.ensure, spec=spec, state=dict(sandbox.state), progress=progress)
        except SandboxError:
            await database_sync_to_async(_sandbox_mark)(sandbox_id=sandbox.id, status=Sandbox.Status.FAILED)
            raise
        if before is not None and before.status == Sandbox.Status.GONE:
            # Reaped (culled or vanished): bring back the attendee's work up to their last passed check.
            await progress_replay(attendee=attendee, backend=backend, sandbox_state=state, progress=progress)
        return await database_sync_to_async(_sandbox_mark)(
            sandbox_id=sandbox.id, status=Sandbox.Status.READY, state=state
        )


def _sandbox_claim(*, attendee: Attendee, backend: Backend) -> Sandbox:
    with transaction.atomic():
        sandbox = Sandbox.objects.select_for_update().filter(attendee=attendee).first()
        if sandbox is None or sandbox.status not in (Sandbox.Status.CREATING, Sandbox.Status.READY):
            try:
                _sandbox_room_check(attendee=attendee)
            except RunRefused as exc:
                raise SandboxLimitReached("max sandboxes reached", user_message=exc.message) from None
        if sandbox is None:
            try:
                with transaction.atomic():
                    return Sandbox.objects.create(
                        attendee=attendee, backend=backend.name, status=Sandbox.Status.CREATING
                    )
            except IntegrityError:  # another process made it just now
                return Sandbox.objects.get(attendee=attendee)
        if sandbox.backend != backend.name:
            # State written by another backend means nothing to this one: start afresh.
            sandbox.backend, sandbox.state = backend.name, {}
        if sandbox.status != Sandbox.Status.READY:
            sandbox.status = Sandbox.Status.CREATING
        sandbox.save(update_fields=["backend", "state", "status"])
        return sandbox


def _sandbox_gone(*, sandbox_id: uuid.UUID, state: dict) -> None:
    # Only if it still is the sandbox the run used: a reset may have made a new one meanwhile.
    with transaction.atomic():
        sandbox = Sandbox.objects.select_for_update().filter(id=sandbox_id).first()
        if sandbox is not None and sandbox.state == state:
            sandbox.status = Sandbox.Status.GONE
            sandbox.save(update_fields=["status"])


def _sandbox_mark(*, sandbox_id: uuid.UUID, status: str, state: dict | None = None) -> Sandbox:
    sandbox = Sandbox.objects.get(id=sandbox_id)
    sandbox.status, sandbox.last_used_at = status, timezone.now()
    if state is not None:
        sandbox.state = state
    sandbox.save(update_fields=["status", "state", "last_used_at"])
    return sandbox


async def sandbox_reset(*, attendee: Attendee) -> dict:
    """Throw the attendee's sandbox away and make a fresh one (their runs are cancelled first).

    Progress and the end go to the attendee's group as `sandbox.progress` and
    `sandbox.reset` messages; the latter is also returned.
    """
    group = attendee_group(attendee.id)
    for run in await database_sync_to_async(runs_active)(attendee=attendee):
        with contextlib.suppress(RunRefused):  # it ended meanwhile
            await run_cancel(attendee=attendee, run_id=run.id)
    stream = RunStream(run_id="", send=functools.partial(group_send, group), output_cap=0)
    event = {"type": "sandbox.reset", "status": "ok", "message": "Your sandbox is fresh."}
    # Asked for afresh: what ran before is never replayed into a later sandbox.
    await database_sync_to_async(progress_reset_mark)(attendee=attendee)
    try:
        async with _ensure_lock(attendee.id):
            backend = await in_thread(backend_get)
            sandbox = await database_sync_to_async(sandbox_of)(attendee=attendee)
            if sandbox is None or not sandbox.state or sandbox.backend != backend.name:
                event["message"] = "Your sandbox will be created fresh on your next run."
            else:
                spec = SandboxSpec(sandbox_id=sandbox.id.hex, attendee_id=attendee.id.hex, talk=attendee.deck_slug)
                state = await in_thread(backend.reset, spec=spec, state=dict(sandbox.state), progress=stream.progress)
                await database_sync_to_async(_sandbox_mark)(
                    sandbox_id=sandbox.id, status=Sandbox.Status.READY, state=state
                )
    except SandboxError as exc:
        log.warning("reset for attendee %s: %s", attendee.id, exc)
        event = {"type": "sandbox.reset", "status": "error", "message": exc.user_message}
    except ImproperlyConfigured as exc:
        event = {"type": "sandbox.reset", "status": "error", "message": f"Sandboxes are not configured: {exc}"}
    stream.event(event)
    await stream.close()
    return event
