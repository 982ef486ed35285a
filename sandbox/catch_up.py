"""Catch me up: the attendee's sandbox reset, then every runnable block before their slide run in it, in order.

An attendee who joined late, or whose sandbox went wrong, asks to be caught
up to the slide they are on. `catch_up_begin` plans it (the deck's runnable
blocks of the slides before that one, in deck order: the deck's text, never
the attendee's edits), refuses what cannot be (a bad slide, nothing to run,
a catch-up already going on, the rate limits), and takes the attendee's
catch-up lease. `catch_up_run` then works in the background: it resets the
sandbox (`sandbox.resets`), and runs each block as a real Run (`run_create`,
then the run pipeline), so each step shows under its block, is stored, and
is counted by the same limits as a click; it stops at the first step that
does not succeed and says which. Progress and the end go to the attendee's
group as `catchup.progress` and `catchup.finished` (`sandbox.protocol`).

The lease, the step under way and a cancel request live in Django's cache,
which every process shares when Redis is configured (as the rate limits do):
a second press on another page, a cancel, or a reloaded page's `history`
may reach another web process than the one catching up. The process
catching up renews the lease every HEARTBEAT_SECONDS; one that died holds it
LEASE_SECONDS at most, so the attendee is never refused for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import uuid
from dataclasses import dataclass

from channels.db import database_sync_to_async
from django.conf import settings
from django.core.cache import cache

from sandbox import protocol
from sandbox.admission import sandbox_admission_check
from sandbox.blocks import deck_for_run, run_kind_for
from sandbox.errors import RunRefused
from sandbox.executor import group_send
from sandbox.groups import attendee_group
from sandbox.limits import sandboxes_rate_hit
from sandbox.models import Attendee, Run
from sandbox.resets import sandbox_reset
from sandbox.runs import run_cancel, run_create, run_dispatch, run_spawn
from sandbox.sandboxes import sandbox_is_live

log = logging.getLogger(__name__)

_PREFIX = "podium:catchup"
# How often a catch-up whose runs go to a separate worker looks whether the step's run has ended.
POLL_SECONDS = 0.25
# A step's run may first wait for its sandbox to be made; past its time limit and this, it is given up.
STEP_GRACE_SECONDS = 300
LEASE_SECONDS = 60
HEARTBEAT_SECONDS = 15

# Strong references: the event loop keeps only weak ones to tasks.
_tasks: set[asyncio.Task] = set()


@dataclass(frozen=True)
class CatchUpStep:
    """One block to run while catching up: step `number` of the plan, the block `block_id` of slide `slide`."""

    number: int
    block_id: str
    slide: int
    index: int  # the block's place among the slide's code blocks, 0-based (as in its id)
    action: str  # the word on its button: Run, Build, Apply, Query
    title: str  # its slide's title

    @property
    def label(self) -> str:
        """How a learner recognises it: `Build on slide 29 (12factor Docker file)`."""
        return f"{self.action} on slide {self.slide} ({self.title})"

    @property
    def named(self) -> str:
        """Which block it is, for a step that stopped: `Run of block 2 on slide 18 (Run with Docker : the app)`."""
        return f"{self.action} of block {self.index + 1} on slide {self.slide} ({self.title})"


# -- the plan and the lease --------------------------------------------------------------------
def catch_up_plan(*, deck_slug: str, slide: object) -> list[CatchUpStep]:
    """The runnable blocks of the slides before `slide`, in deck order; RunRefused when `slide` names no slide."""
    deck = deck_for_run(deck_slug=deck_slug)
    count = len(deck.slides)
    if isinstance(slide, bool) or not isinstance(slide, int) or not 1 <= slide <= count:
        raise RunRefused(
            "bad-request", f'Say which slide to catch up to, 1 to {count}: {{"type": "catchup", "slide": 7}}.'
        )
    steps: list[CatchUpStep] = []
    for before in deck.slides[: slide - 1]:
        for block in before.blocks:
            if run_kind_for(block=block) is not None:
                steps.append(
                    CatchUpStep(
                        number=len(steps) + 1,
                        block_id=block.block_id,
                        slide=before.number,
                        index=block.index,
                        action=block.action,
                        title=before.title,
                    )
                )
    return steps


def catch_up_begin(*, attendee: Attendee, deck_slug: str, slide: object, address: str = "") -> list[CatchUpStep]:
    """Validate a press of "Catch me up" on slide `slide` and take the attendee's lease; the steps to run.

    Refuses (RunRefused) a slide the deck does not have, a slide with no
    runnable block before it ("not-runnable"), an attendee not admitted, a
    catch-up of theirs already going on ("busy", saying which step it is
    at), and a reset past the new-sandbox rate limit ("limit"; a sandbox that
    does not exist yet is counted by the first step's run, as any first run).
    Blocks on the database and the cache.
    """
    if attendee.deck_slug != deck_slug:
        raise RunRefused("not-found", f"There is no deck called {deck_slug!r} here.")
    steps = catch_up_plan(deck_slug=deck_slug, slide=slide)
    if not steps:
        raise RunRefused("not-runnable", f"Nothing to catch up on: no slide before slide {slide} has code to run.")
    sandbox_admission_check(attendee=attendee)
    started = protocol.catchup_progress(step=0, total=len(steps), message="Catching up: resetting your sandbox…")
    state = {key: started[key] for key in ("step", "total", "message")}
    if not cache.add(_key(attendee.id), state, timeout=LEASE_SECONDS):
        going = catch_up_state(attendee=attendee)
        where = f" ({going['message']})" if going else ""
        raise RunRefused("busy", f"You are being caught up already{where}. Wait for it to finish, or cancel it.")
    try:
        if sandbox_is_live(attendee=attendee):  # the reset makes it afresh: counted as a new sandbox
            sandboxes_rate_hit(attendee=attendee, address=address)
    except RunRefused:
        catch_up_release(attendee=attendee)
        raise
    cache.delete(_key(attendee.id, "cancel"))
    return steps


def catch_up_state(*, attendee: Attendee) -> dict | None:
    """The attendee's catch-up going on, as {"step", "total", "message"}, or None. Blocks on the cache."""
    state = cache.get(_key(attendee.id))
    return {key: state.get(key) for key in ("step", "total", "message")} if isinstance(state, dict) else None


def catch_up_refuse_runs(*, attendee: Attendee) -> None:
    """RunRefused "busy" while the attendee is being caught up: a run of theirs would meddle with the steps."""
    state = catch_up_state(attendee=attendee)
    if state is not None:
        raise RunRefused(
            "busy", f"You are being caught up ({state['message']}). Wait for it to finish, or cancel it, then run."
        )


def catch_up_release(*, attendee: Attendee) -> None:
    """Give the attendee's lease back (catching up ended). Blocks on the cache."""
    cache.delete_many([_key(attendee.id), _key(attendee.id, "cancel")])


def _key(attendee_id: uuid.UUID, what: str = "lease") -> str:
    return f"{_PREFIX}:{what}:{attendee_id.hex}"


def _state_store(*, attendee: Attendee, state: dict) -> None:
    cache.set(_key(attendee.id), state, timeout=LEASE_SECONDS)


def _lease_renew(*, attendee: Attendee) -> None:
    cache.touch(_key(attendee.id), LEASE_SECONDS)
    cache.touch(_key(attendee.id, "cancel"), LEASE_SECONDS)


async def _heartbeat(*, attendee: Attendee) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT_SECONDS)
        await database_sync_to_async(_lease_renew)(attendee=attendee)


def _cancel_asked(*, attendee: Attendee) -> bool:
    return bool(cache.get(_key(attendee.id, "cancel")))


# -- cancel ------------------------------------------------------------------------------------
async def catch_up_cancel(*, attendee: Attendee) -> None:
    """Stop the attendee's catch-up, from any process: no further step starts, and the step running is cancelled.

    RunRefused "not-running" when they are not being caught up. The end
    (`catchup.finished`, "cancelled") comes from the process catching up.
    """
    state = await database_sync_to_async(catch_up_state)(attendee=attendee)
    if state is None:
        raise RunRefused("not-running", "You are not being caught up right now.")
    await database_sync_to_async(cache.set)(_key(attendee.id, "cancel"), True, timeout=LEASE_SECONDS)
    run_id = (await database_sync_to_async(cache.get)(_key(attendee.id)) or {}).get("run")
    if run_id:
        with contextlib.suppress(RunRefused):  # it ended meanwhile
            await run_cancel(attendee=attendee, run_id=run_id)


# -- the catch-up itself -----------------------------------------------------------------------
def catch_up_spawn(*, attendee: Attendee, steps: list[CatchUpStep], address: str = "") -> asyncio.Task:
    """Start `catch_up_run` as a task that outlives the socket that asked for it."""
    task = asyncio.create_task(catch_up_run(attendee=attendee, steps=steps, address=address))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return task


async def catch_up_run(*, attendee: Attendee, steps: list[CatchUpStep], address: str = "") -> dict:
    """Reset the attendee's sandbox, then run `steps` in order, each as a Run; returns the `catchup.finished` sent.

    Needs the lease `catch_up_begin` took, and gives it back at the end.
    Never raises: a reset that fails, a step refused (a limit), a step that
    fails, times out, or is cancelled, ends it with a sentence naming the step.
    """
    send = functools.partial(group_send, attendee_group(attendee.id))
    total = len(steps)
    heartbeat = asyncio.create_task(_heartbeat(attendee=attendee))
    try:
        await send(protocol.catchup_progress(step=0, total=total, message="Catching up: resetting your sandbox…"))
        reset = await sandbox_reset(attendee=attendee)
        if reset["status"] != "ok":
            end = protocol.catchup_finished(
                status="error", total=total, message=f"Catching up could not start: {reset['message']}"
            )
        else:
            end = await _steps_run(attendee=attendee, steps=steps, address=address, send=send)
    except Exception:
        log.exception("catching up attendee %s", attendee.id)
        end = protocol.catchup_finished(
            status="error", total=total, message="Something went wrong on the server while catching up; try again."
        )
    finally:
        heartbeat.cancel()
        await database_sync_to_async(catch_up_release)(attendee=attendee)
    await send(end)
    return end


async def _steps_run(*, attendee: Attendee, steps: list[CatchUpStep], address: str, send) -> dict:
    total = len(steps)
    for step in steps:
        where = {"total": total, "step": step.number, "block": step.block_id, "slide": step.slide}
        stopped = f"Catching up stopped at step {step.number} of {total}, {step.named}"
        if await database_sync_to_async(_cancel_asked)(attendee=attendee):
            return _cancelled(step, where)
        try:
            run = await database_sync_to_async(run_create)(
                attendee=attendee, deck_slug=attendee.deck_slug, block_id=step.block_id, address=address
            )
        except RunRefused as exc:
            return protocol.catchup_finished(status="failed", message=f"{stopped}: {exc.message}", **where)
        await send(protocol.run_accepted(run=run))  # ahead of the run's own messages, as for a click
        message = f"Catching up: step {step.number} of {total} — {step.label}"
        progress = protocol.catchup_progress(message=message, run=str(run.id), **where)
        await database_sync_to_async(_state_store)(
            attendee=attendee, state={key: progress[key] for key in ("step", "total", "message", "run")}
        )
        await send(progress)
        if await database_sync_to_async(_cancel_asked)(attendee=attendee):  # asked while it was being made
            with contextlib.suppress(RunRefused):
                await run_cancel(attendee=attendee, run_id=run.id)
        ended = await _run_to_end(run=run, attendee=attendee)
        if ended.status == Run.Status.CANCELLED:
            return _cancelled(step, where)
        if ended.status != Run.Status.OK:
            why = ended.error_message or "It did not succeed."
            return protocol.catchup_finished(status="failed", message=f"{stopped}: {why}", **where)
    last = steps[-1].slide
    plural = "" if total == 1 else "s"
    return protocol.catchup_finished(
        status="ok", total=total, message=f"You are caught up: {total} step{plural} ran, up to slide {last}."
    )


def _cancelled(step: CatchUpStep, where: dict) -> dict:
    before = "no step ran" if step.number == 1 else f"steps 1 to {step.number - 1} ran"
    message = f"Catching up cancelled at step {step.number} of {where['total']}, {step.named}: {before}."
    return protocol.catchup_finished(status="cancelled", message=message, **where)


async def _run_to_end(*, run: Run, attendee: Attendee) -> Run:
    """Execute the queued `run` through the run pipeline and return it as it ended."""
    if settings.PODIUM_EMBEDDED_WORKER:
        await run_spawn(run_id=str(run.id))
    else:
        await run_dispatch(run=run)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.PODIUM_RUN_TIMEOUT + STEP_GRACE_SECONDS
        while await database_sync_to_async(_run_active)(run_id=run.id):
            if loop.time() > deadline:  # its worker went away: give it up, as the limit would
                with contextlib.suppress(RunRefused):
                    await run_cancel(attendee=attendee, run_id=run.id)
                break
            await asyncio.sleep(POLL_SECONDS)
    return await database_sync_to_async(Run.objects.get)(id=run.id)


def _run_active(*, run_id: uuid.UUID) -> bool:
    return Run.objects.filter(id=run_id, status__in=Run.ACTIVE).exists()
