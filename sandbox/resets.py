"""A sandbox reset: the attendee's runs cancelled, their sandbox thrown away and made fresh.

Nothing of the old sandbox is replayed into the new one (a reset is asked
for afresh). The setup status and the end reach every open page of the
attendee as `sandbox.progress` and `sandbox.reset`.
"""

from __future__ import annotations

import contextlib
import functools
import logging

from channels.db import database_sync_to_async
from django.core.exceptions import ImproperlyConfigured

from sandbox import protocol
from sandbox.backends import backend_get
from sandbox.creations import creation_turn
from sandbox.errors import RunRefused, SandboxError
from sandbox.executor import group_send, in_thread
from sandbox.groups import attendee_group
from sandbox.models import Attendee, Sandbox
from sandbox.progress import progress_reset_mark
from sandbox.runs import run_cancel
from sandbox.sandboxes import ensure_lock, sandbox_mark, sandbox_spec
from sandbox.selectors import runs_active, sandbox_of
from sandbox.streaming import RunStream
from sandbox.watchers import activity_tell_soon

log = logging.getLogger(__name__)


async def sandbox_reset(*, attendee: Attendee) -> dict:
    """Throw the attendee's sandbox away and make a fresh one (their runs are cancelled first).

    The setup status and the end go to the attendee's group as
    `sandbox.progress` and `sandbox.reset` messages; the latter is also returned.
    """
    group = attendee_group(attendee.id)
    for run in await database_sync_to_async(runs_active)(attendee=attendee):
        with contextlib.suppress(RunRefused):  # it ended meanwhile
            await run_cancel(attendee=attendee, run_id=run.id)
    stream = RunStream(run_id="", send=functools.partial(group_send, group), output_cap=0)
    status, message = "ok", "Your sandbox is fresh."
    # Asked for afresh: what ran before is never replayed into a later sandbox.
    await database_sync_to_async(progress_reset_mark)(attendee=attendee)
    try:
        async with ensure_lock(attendee.id):
            backend = await in_thread(backend_get)
            sandbox = await database_sync_to_async(sandbox_of)(attendee=attendee)
            if sandbox is None or not sandbox.state or sandbox.backend != backend.name:
                message = "Your sandbox will be created fresh on your next run."
            else:
                spec = sandbox_spec(attendee=attendee, sandbox=sandbox)
                async with creation_turn(say=stream.setup_status):  # a few at a time per process
                    state = await in_thread(
                        backend.reset, spec=spec, state=dict(sandbox.state), progress=stream.setup_status
                    )
                await database_sync_to_async(sandbox_mark)(
                    sandbox_id=sandbox.id, status=Sandbox.Status.READY, state=state
                )
    except SandboxError as exc:
        log.warning("reset for attendee %s: %s", attendee.id, exc)
        status, message = "error", exc.user_message
    except ImproperlyConfigured as exc:
        status, message = "error", f"Sandboxes are not configured: {exc}"
    event = protocol.sandbox_reset(status=status, message=message)
    stream.event(event)
    await stream.close()
    activity_tell_soon(attendee=attendee, what="sandbox")
    return event
