"""The presenter's runs, live for the room: where a run's messages go, and the read-only copy followers get.

Every message of a run goes to its attendee's group (`attendee_group`). When
that attendee is the deck's presenter, the messages a follower needs to watch
the run — run.started, run.output, run.finished — are also copied to the
deck's `presenter_runs_group` as `presenter.run.started`, `presenter.run.output`
and `presenter.run.finished`. Followers only watch: their pages show the copy
in a panel of its own and never send anything about it. The setup status of
the presenter's sandbox stays theirs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sandbox.executor import group_send
from sandbox.groups import attendee_group, presenter_runs_group
from sandbox.models import Attendee

SHARED = ("run.started", "run.output", "run.finished")


def presenter_copy(event: dict) -> dict:
    """The follower's copy of one of the presenter's run messages: the same fields, type `presenter.<type>`."""
    return {**event, "type": f"presenter.{event['type']}"}


def run_sender(attendee: Attendee) -> Callable[[dict], Awaitable[None]]:
    """`send(event)` for the messages of `attendee`'s runs: to their group, and a copy to followers if presenting."""

    async def send(event: dict) -> None:
        await group_send(attendee_group(attendee.id), event)
        if attendee.is_presenter and event.get("type") in SHARED:
            await group_send(presenter_runs_group(attendee.deck_slug), presenter_copy(event))

    return send
