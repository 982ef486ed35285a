"""How often an attendee may ask for the costly things: new sandboxes, runs, checks (rate limits).

Each refusal is a RunRefused "limit" whose message says when to try again
("Too many runs: try again in 12 s."). The counts are kept by
`config.ratelimit` in the cache, so all processes share them when Redis is
configured. The settings (PODIUM_RATE_*) are read on every call, so a test or
an operator's change applies at once.

A new sandbox (an attendee's first run, a run after theirs was reaped, a
reset) is counted twice: per attendee, and per client address, because a
client that drops its cookie becomes a new attendee. So is a terminal open
(each one an exec in the sandbox, whether a person or a script opens it).
"""

from __future__ import annotations

from django.conf import settings

from config.ratelimit import RateLimited, rate_hit
from sandbox.errors import RunRefused
from sandbox.models import Attendee


def _hit(*, action: str, key: str, rate: tuple[int, int], what: str, setting: str = "") -> None:
    try:
        rate_hit(action=action, key=key, rate=rate, what=what)
    except RateLimited as exc:
        if not setting:
            raise RunRefused("limit", exc.message) from None
        count, seconds = rate
        raise RunRefused(
            "limit", f"{exc.message.removesuffix('.')} (at most {count} in {seconds} s: {setting}={count}/{seconds})."
        ) from None


def runs_rate_hit(*, attendee: Attendee) -> None:
    """Count a run of the attendee; RunRefused "limit" past PODIUM_RATE_RUNS. Blocks on the cache."""
    _hit(action="runs", key=str(attendee.id), rate=settings.PODIUM_RATE_RUNS, what="runs")


def checks_rate_hit(*, attendee: Attendee) -> None:
    """Count a "Check my work" of the attendee; RunRefused "limit" past PODIUM_RATE_CHECKS. Blocks on the cache."""
    _hit(action="checks", key=str(attendee.id), rate=settings.PODIUM_RATE_CHECKS, what="checks")


def sandboxes_rate_hit(*, attendee: Attendee, address: str) -> None:
    """Count a new sandbox for the attendee at client `address`; RunRefused "limit" past either rate.

    PODIUM_RATE_SANDBOXES_PER_ATTENDEE and PODIUM_RATE_SANDBOXES_PER_ADDRESS.
    Blocks on the cache.
    """
    what = "new sandboxes"
    _hit(action="sandboxes-attendee", key=str(attendee.id), rate=settings.PODIUM_RATE_SANDBOXES_PER_ATTENDEE, what=what)
    _hit(action="sandboxes-address", key=address, rate=settings.PODIUM_RATE_SANDBOXES_PER_ADDRESS, what=what)


def terminals_rate_hit(*, attendee: Attendee, address: str) -> None:
    """Count a terminal open by the attendee at client `address`; RunRefused "limit", naming the setting, past
    PODIUM_RATE_TERMINALS_PER_ATTENDEE or PODIUM_RATE_TERMINALS_PER_ADDRESS. Blocks on the cache."""
    what = "terminal opens"
    _hit(
        action="terminals-attendee",
        key=str(attendee.id),
        rate=settings.PODIUM_RATE_TERMINALS_PER_ATTENDEE,
        what=what,
        setting="PODIUM_RATE_TERMINALS_PER_ATTENDEE",
    )
    _hit(
        action="terminals-address",
        key=address,
        rate=settings.PODIUM_RATE_TERMINALS_PER_ADDRESS,
        what=what,
        setting="PODIUM_RATE_TERMINALS_PER_ADDRESS",
    )
