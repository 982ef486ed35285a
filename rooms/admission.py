"""The rooms' word on who may have a sandbox (registered with `sandbox.admission` when Django starts).

Admitted members of an open room run code; someone the presenter removed
does not. Anyone else (waiting, left, never joined, in a closed room) may
only when the server allows self-paced use (PODIUM_SELF_PACED, the
single-user laptop's default). The presenter always may.
"""

from __future__ import annotations

from django.conf import settings

from rooms.models import Member
from rooms.pool import pool_refill_soon, pool_take
from rooms.selectors import membership_for, wait_position
from sandbox.models import Attendee, Sandbox


def sandbox_admission(attendee: Attendee) -> str | None:
    """None when the attendee may have a sandbox, else the sentence saying why not and what to do."""
    if attendee.is_presenter:
        return None
    member = membership_for(attendee=attendee)
    room = member.room if member is not None else None
    if member is not None and room.is_open:
        if member.status == Member.Status.ADMITTED:
            return None
        if member.status == Member.Status.REMOVED:
            return f"The presenter removed you from room {room.code}."
        if not settings.PODIUM_SELF_PACED and member.status == Member.Status.WAITING:
            return f"You are number {wait_position(member=member)} on the wait list of room {room.code}."
        if not settings.PODIUM_SELF_PACED:
            return f"You left room {room.code}: join it again to run code."
    if settings.PODIUM_SELF_PACED:
        return None
    if room is not None and not room.is_open:
        return f"Room {room.code} is closed, and this server runs code only for people in a room."
    return "Join the room to run code: open /join/ and type the code the presenter shows."


def sandbox_from_pool(attendee: Attendee) -> Sandbox | None:
    """A first sandbox for an admitted member, from their room's warm pool (then filled again), or None."""
    member = membership_for(attendee=attendee)
    if member is None or member.status != Member.Status.ADMITTED or not member.room.is_open:
        return None
    sandbox = pool_take(member=member)
    if sandbox is not None:
        pool_refill_soon(room=member.room)
    return sandbox
