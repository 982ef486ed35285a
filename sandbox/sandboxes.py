"""An attendee's sandbox row and its backend sandbox kept in step: ensure, claim, the room check, marks.

`sandbox_ensure` is how a run gets a running sandbox: it claims the row
(creating it, within PODIUM_MAX_SANDBOXES), has the backend create or check
the sandbox in a thread, replays the attendee's work into a sandbox that was
reaped (`sandbox.progress.progress_replay`), and marks the row ready. One
creation at a time per attendee in a process (`ensure_lock`), and a few at a
time in all (`sandbox.creations`, measured from the turn); the row's
status says the rest: creating, ready, failed, or gone (reaped or vanished:
the next run creates it again).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from sandbox.admission import sandbox_supplied
from sandbox.backends import backend_get
from sandbox.backends.base import Backend, SandboxSpec
from sandbox.creations import creation_turn
from sandbox.errors import RunRefused, SandboxError, SandboxLimitReached
from sandbox.executor import in_thread
from sandbox.models import Attendee, Sandbox
from sandbox.progress import progress_replay
from sandbox.selectors import sandbox_live_count, sandbox_of

_ensure_locks: dict[tuple[int, uuid.UUID], asyncio.Lock] = {}


def ensure_lock(attendee_id: uuid.UUID) -> asyncio.Lock:
    """The lock that lets one creation or reset of the attendee's sandbox go on at a time in this process."""
    # Keyed by loop too, as a lock belongs to its loop.
    key = (id(asyncio.get_running_loop()), attendee_id)
    return _ensure_locks.setdefault(key, asyncio.Lock())


def sandbox_spec(*, attendee: Attendee, sandbox: Sandbox) -> SandboxSpec:
    """What the backend needs to make (or find again) the attendee's sandbox `sandbox`."""
    return SandboxSpec(sandbox_id=sandbox.id.hex, attendee_id=attendee.id.hex, talk=attendee.deck_slug)


async def sandbox_ensure(
    *, attendee: Attendee, setup_status: Callable[[str], None], trust_ready: bool = False
) -> Sandbox:
    """The attendee's sandbox, running: created (or re-created after it vanished) when needed.

    `setup_status(sentence)` receives the backend's sentences while it
    creates (and the replay's, when the sentences restore a reaped
    sandbox's work); it may be called from a backend thread. Raises
    SandboxLimitReached past PODIUM_MAX_SANDBOXES and the backend's
    SandboxError when it cannot make one (the row is then marked failed).
    With `trust_ready`, a row marked ready (and no creation or reset going
    on) is returned as it is, without asking the backend.
    """
    backend = await in_thread(backend_get)
    lock = ensure_lock(attendee.id)
    if trust_ready and not lock.locked():
        # Warm: a ready row is trusted without asking the backend (an inspect per run); a run that then finds
        # the sandbox gone comes back with trust_ready=False before anything ran (sandbox.runs).
        row = await database_sync_to_async(sandbox_of)(attendee=attendee)
        if row is not None and row.status == Sandbox.Status.READY and row.state and row.backend == backend.name:
            return row
    async with lock:
        before = await database_sync_to_async(sandbox_of)(attendee=attendee)
        sandbox = await database_sync_to_async(_sandbox_claim)(attendee=attendee, backend=backend)
        spec = sandbox_spec(attendee=attendee, sandbox=sandbox)
        # Making one (not checking a ready one) waits for a turn among the process's creations.
        making = sandbox.status != Sandbox.Status.READY
        try:
            async with creation_turn(say=setup_status) if making else contextlib.nullcontext():
                began = time.monotonic()
                state = await in_thread(backend.ensure, spec=spec, state=dict(sandbox.state), progress=setup_status)
        except SandboxError:
            await database_sync_to_async(sandbox_mark)(sandbox_id=sandbox.id, status=Sandbox.Status.FAILED)
            raise
        if before is not None and before.status == Sandbox.Status.GONE:
            # Reaped (culled or vanished): bring back the attendee's work up to their last passed check.
            await progress_replay(attendee=attendee, backend=backend, sandbox_state=state, setup_status=setup_status)
        made_ms = int((time.monotonic() - began) * 1000) if sandbox.status != Sandbox.Status.READY else None
        return await database_sync_to_async(sandbox_mark)(
            sandbox_id=sandbox.id, status=Sandbox.Status.READY, state=state, create_ms=made_ms
        )


def sandbox_is_live(*, attendee: Attendee) -> bool:
    """Whether the attendee has a sandbox made or being made (a run then needs no new one)."""
    sandbox = sandbox_of(attendee=attendee)
    return sandbox is not None and sandbox.status in (Sandbox.Status.CREATING, Sandbox.Status.READY)


def sandbox_room_check(*, attendee: Attendee) -> None:
    """RunRefused "limit" when the attendee needs a new sandbox and PODIUM_MAX_SANDBOXES are in use."""
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


def _sandbox_claim(*, attendee: Attendee, backend: Backend) -> Sandbox:
    with transaction.atomic():
        sandbox = Sandbox.objects.select_for_update().filter(attendee=attendee).first()
        if sandbox is None:
            supplied = sandbox_supplied(attendee=attendee)  # e.g. from a room's warm pool: already ready
            if supplied is not None and supplied.backend == backend.name:
                return supplied
        if sandbox is None or sandbox.status not in (Sandbox.Status.CREATING, Sandbox.Status.READY):
            try:
                sandbox_room_check(attendee=attendee)
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


def sandbox_mark(
    *, sandbox_id: uuid.UUID, status: str, state: dict | None = None, create_ms: int | None = None
) -> Sandbox:
    """Store the sandbox's new status (and backend state, and how long making it took, when given) and that it
    was used now."""
    sandbox = Sandbox.objects.get(id=sandbox_id)
    sandbox.status, sandbox.last_used_at = status, timezone.now()
    if state is not None:
        sandbox.state = state
    if create_ms is not None:
        sandbox.create_ms = create_ms
    sandbox.save(update_fields=["status", "state", "last_used_at", "create_ms"])
    return sandbox


def sandbox_gone_mark(*, sandbox_id: uuid.UUID, state: dict, only_if_ready: bool = False) -> None:
    """Mark the sandbox gone after its backend said it does not exist, if it still is the one with `state`.

    A reset may have made a new one meanwhile (another state): that one is
    left alone. A run marks it gone whatever its status; a check
    (`only_if_ready`) only when it is still ready, never one being created
    or one that failed.
    """
    with transaction.atomic():
        sandbox = Sandbox.objects.select_for_update().filter(id=sandbox_id).first()
        if sandbox is None or sandbox.state != state:
            return
        if only_if_ready and sandbox.status != Sandbox.Status.READY:
            return
        sandbox.status = Sandbox.Status.GONE
        sandbox.save(update_fields=["status"])
