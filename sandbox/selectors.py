"""Reads of the run pipeline: an attendee's runs, counts the limits need.

Every read of a run takes the attendee, so a run id alone never reaches
someone else's run. The one exception is on purpose: the presenter's runs,
which followers watch (`presenter_runs_last`, `sandbox.broadcast`).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.utils import timezone

from sandbox.models import Attendee, Run, Sandbox

LIVE_SANDBOX = (Sandbox.Status.CREATING, Sandbox.Status.READY)
# How far back a follower's page shows the presenter's runs: today's talk, not last week's rehearsal.
PRESENTER_RUNS_SHOWN = timedelta(hours=12)


def run_get_for_attendee(*, attendee: Attendee, run_id: object) -> Run | None:
    """The attendee's run with id `run_id`, or None when it is not theirs, does not exist or is no id at all."""
    try:
        key = uuid.UUID(str(run_id))
    except (TypeError, ValueError, AttributeError):
        return None
    return Run.objects.filter(attendee=attendee, id=key).select_related("sandbox").first()


def run_last_per_block(*, attendee: Attendee, deck_slug: str) -> list[Run]:
    """The latest run of each block of the deck by this attendee, in slide and block order (for a page reload)."""
    return _last_per_block(Run.objects.filter(attendee=attendee, deck_slug=deck_slug))


def presenter_runs_last(*, deck_slug: str, since: timedelta = PRESENTER_RUNS_SHOWN) -> list[Run]:
    """The presenter's latest run of each block of the deck, in the last `since` (what a follower's reload shows)."""
    runs = Run.objects.filter(
        deck_slug=deck_slug, attendee__is_presenter=True, created_at__gte=timezone.now() - since
    ).exclude(status__in=Run.ACTIVE)
    return _last_per_block(runs)


def _last_per_block(runs) -> list[Run]:
    latest: dict[str, uuid.UUID] = {}
    # Ids first, newest first: the first run met for a block is its last one, and the
    # (up to 1 MiB) outputs of older runs are never loaded.
    for run_id, block_id in runs.order_by("-created_at").values_list("id", "block_id").iterator():
        latest.setdefault(block_id, run_id)
    chosen = Run.objects.filter(id__in=list(latest.values()))
    return sorted(chosen, key=lambda run: (run.slide, run.block_index))


def runs_active_count(*, attendee: Attendee) -> int:
    """How many of the attendee's runs are queued or running now."""
    return Run.objects.filter(attendee=attendee, status__in=Run.ACTIVE).count()


def runs_active(*, attendee: Attendee) -> list[Run]:
    """The attendee's queued or running runs, oldest first."""
    return list(Run.objects.filter(attendee=attendee, status__in=Run.ACTIVE).order_by("created_at"))


def sandbox_live_count(*, exclude_attendee: Attendee | None = None) -> int:
    """How many sandboxes exist or are being created (PODIUM_MAX_SANDBOXES counts these)."""
    sandboxes = Sandbox.objects.filter(status__in=LIVE_SANDBOX)
    if exclude_attendee is not None:
        sandboxes = sandboxes.exclude(attendee=exclude_attendee)
    return sandboxes.count()


def sandbox_of(*, attendee: Attendee) -> Sandbox | None:
    """The attendee's sandbox row, if one was ever made."""
    return Sandbox.objects.filter(attendee=attendee).first()
