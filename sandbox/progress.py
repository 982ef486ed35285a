"""A self-paced attendee's progress: their slide, their passed checks, and their work replayed into a new sandbox.

What is stored: the slide they are on (`Progress`, written when the page
says so, throttled by the consumer), the latest answer of each step check
(`CheckRecord`, written by `sandbox.checks.check_run` when the check really
ran), and their runs (the `Run` rows the pipeline keeps anyway). A reaped
sandbox (culled or vanished: its row is "gone") is recreated on the next run
and `progress_replay` runs again, in the order they first ran, the
attendee's successful runs up to the moment their last check passed — so
the new sandbox holds the state that check saw. Runs from before a reset of
the sandbox are never replayed: the attendee asked to start afresh.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from sandbox.backends.base import Backend, RunRequest
from sandbox.blocks import block_options_of
from sandbox.errors import SandboxError
from sandbox.executor import in_thread
from sandbox.models import Attendee, CheckRecord, Progress, Run

log = logging.getLogger(__name__)


# -- writes ----------------------------------------------------------------------------------
def progress_slide_store(*, attendee: Attendee, slide: object) -> int | None:
    """Store the slide the attendee is on (a positive integer); returns it, or None when `slide` is no slide number."""
    if isinstance(slide, bool) or not isinstance(slide, int) or not 1 <= slide <= 100_000:
        return None
    Progress.objects.update_or_create(attendee=attendee, defaults={"slide": slide, "slide_at": timezone.now()})
    return slide


def check_record_store(*, attendee: Attendee, check_id: str, done: bool, message: str) -> CheckRecord:
    """Store the latest answer of the attendee's check `check_id`; a pass also moves `passed_at` (the replay's end)
    and sets the count of failures in a row back to 0, a "not yet" adds one to it."""
    now = timezone.now()
    CheckRecord.objects.get_or_create(attendee=attendee, check_id=check_id, defaults={"at": now})
    with transaction.atomic():
        record = CheckRecord.objects.select_for_update().get(attendee=attendee, check_id=check_id)
        record.done, record.message, record.at = done, message, now
        record.failures = 0 if done else record.failures + 1
        if done:
            record.passed_at = now
        record.save()
    return record


def progress_reset_mark(*, attendee: Attendee) -> None:
    """Note that the attendee's sandbox was reset now: nothing run before is replayed into a later sandbox."""
    Progress.objects.update_or_create(attendee=attendee, defaults={"replay_from": timezone.now()})


# -- reads -----------------------------------------------------------------------------------
def progress_of(*, attendee: Attendee) -> dict:
    """The stored progress a page shows again: {"slide": n or None, "checks": {check id: {done, message, at}}}."""
    progress = Progress.objects.filter(attendee=attendee).first()
    checks = {
        record.check_id: {"done": record.done, "message": record.message, "at": record.at.isoformat()}
        for record in CheckRecord.objects.filter(attendee=attendee).order_by("check_id")
    }
    slide = progress.slide if progress is not None and progress.slide_at is not None else None
    return {"slide": slide, "checks": checks}


def progress_replay_plan(*, attendee: Attendee) -> list[Run]:
    """The runs to replay into a recreated sandbox: successful ones, oldest first, up to the last passed check.

    Empty when no check ever passed (since the last reset): without a check
    there is no known-good state to restore.
    """
    progress = Progress.objects.filter(attendee=attendee).first()
    since = progress.replay_from if progress is not None else None
    checks = CheckRecord.objects.filter(attendee=attendee, passed_at__isnull=False)
    if since is not None:
        checks = checks.filter(passed_at__gt=since)
    until = checks.aggregate(last=Max("passed_at"))["last"]
    if until is None:
        return []
    runs = Run.objects.filter(attendee=attendee, deck_slug=attendee.deck_slug, status=Run.Status.OK)
    runs = runs.filter(finished_at__lte=until)
    if since is not None:
        runs = runs.filter(created_at__gt=since)
    return list(runs.order_by("created_at"))


# -- the replay ------------------------------------------------------------------------------
async def progress_replay(
    *, attendee: Attendee, backend: Backend, sandbox_state: dict, setup_status: Callable[[str], None]
) -> int:
    """Run the attendee's replay plan in the just-recreated sandbox `sandbox_state`; returns how many steps ran ok.

    Each step is announced through `setup_status` ("Restoring your work:
    step 3 of 7"), with the sandbox's other setup sentences. A step that does
    not succeed again ends the replay with a sentence saying which; never
    raises for a sandbox problem, so the run that recreated the sandbox still
    goes ahead.
    """
    plan = await database_sync_to_async(progress_replay_plan)(attendee=attendee)
    total = len(plan)
    for number, run in enumerate(plan, start=1):
        setup_status(f"Restoring your work: step {number} of {total}")
        request = RunRequest(
            run_id=f"replay-{run.id.hex[:16]}",
            kind=run.kind,
            code=run.code,
            options=await database_sync_to_async(block_options_of)(run=run),
            timeout=settings.PODIUM_RUN_TIMEOUT,
            output_cap=settings.PODIUM_RUN_OUTPUT_CAP,
        )
        try:
            result = await in_thread(
                backend.execute,
                state=sandbox_state,
                request=request,
                on_output=lambda stream, data: None,
                should_stop=lambda: False,
            )
        except SandboxError as exc:
            log.warning("replay of run %s for attendee %s: %s", run.id, attendee.id, exc)
            setup_status(f"Restoring your work stopped at step {number} of {total}: {exc.user_message}")
            return number - 1
        if result.exit_code != 0 or result.timed_out:
            why = "it ran out of time" if result.timed_out else f"it ended with exit code {result.exit_code}"
            setup_status(f"Restoring your work stopped at step {number} of {total} (block {run.block_id}): {why}.")
            return number - 1
    if total:
        setup_status(f"Your work is restored: {total} step{'' if total == 1 else 's'} replayed.")
    return total
