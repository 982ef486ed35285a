"""Writes of rooms: open, join, admit from the wait list, leave, remove, lock and close.

Every change of who is in a room happens with the room's row locked, so two
people joining at once cannot both take the last place. Sandboxes of people
who leave a room, are removed, or whose room closes are destroyed
(`sandbox.cull.sandboxes_destroy`: blocking, so these functions are called
from threads: sync views, management commands, `database_sync_to_async`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from deck.errors import DeckFileError, DeckNotFound
from deck.selectors import deck_get
from rooms.codes import code_new, code_problem, code_read
from rooms.errors import RoomError
from rooms.models import Member, Room
from rooms.pool import pool_drain, pool_refill_soon, pool_take
from rooms.selectors import last_active_at, member_of, members_admitted, members_waiting, room_open_for_deck
from sandbox.cull import sandboxes_destroy
from sandbox.identity import DISPLAY_NAME_KEY, attendee_for
from sandbox.models import Sandbox

NAME_MAX = 80
CODE_TRIES = 20


@dataclass
class RoomChange:
    """Who a change let in, who it let go, and sandboxes that could not be destroyed (id: why)."""

    admitted: list[Member] = field(default_factory=list)
    released: list[Member] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def room_open(
    *, deck_slug: str, capacity: int | None = None, idle_minutes: int | None = None, pool_size: int = 0
) -> Room:
    """Open a room for the deck `deck_slug` with a fresh join code. RoomError when the deck cannot be read,
    a number is not positive, or the deck already has an open room (one room per deck at a time)."""
    try:
        deck_get(slug=deck_slug)
    except DeckNotFound:
        raise RoomError(f"There is no deck called {deck_slug!r}.") from None
    except DeckFileError as exc:
        raise RoomError(f"The deck {deck_slug!r} cannot be read: {exc}") from None
    for what, value in (("capacity", capacity), ("idle minutes", idle_minutes)):
        if value is not None and value < 1:
            raise RoomError(f"The {what} must be 1 or more (got {value}).")
    if pool_size < 0:
        raise RoomError(f"The pool size must be 0 or more (got {pool_size}).")
    with transaction.atomic():
        existing = room_open_for_deck(deck_slug=deck_slug)
        if existing is not None:
            raise RoomError(f"Room {existing.code} is open for {deck_slug!r} already; close it first.")
        for _ in range(CODE_TRIES):
            try:
                with transaction.atomic():
                    return Room.objects.create(
                        deck_slug=deck_slug,
                        code=code_new(),
                        capacity=capacity,
                        idle_minutes=idle_minutes,
                        pool_size=pool_size,
                    )
            except IntegrityError:  # the code is taken: draw again
                continue
    raise RoomError("No free join code was found; try again.")


def _name_clean(name: object) -> str:
    text = " ".join(str(name or "").split())
    if not text:
        raise RoomError("Type the name to show the presenter (any name; you can change it later).")
    if len(text) > NAME_MAX:
        raise RoomError(f"A name may be at most {NAME_MAX} characters long; this one has {len(text)}.")
    return text


def _room_to_join(code: object) -> Room:
    typed = code_read(str(code or ""))
    problem = code_problem(typed)
    if problem:
        raise RoomError(problem)
    room = Room.objects.filter(code=typed).first()
    if room is None:
        raise RoomError(f"No room has the code {typed}: check it with the presenter.")
    if not room.is_open:
        raise RoomError(f"Room {typed} is closed.")
    return room


def room_join(*, code: object, name: object, session, user=None) -> tuple[Member, RoomChange]:
    """Join the room with join code `code` as `name`, for the browser `session`; the membership and what changed.

    Joining again while in the room only renames. A newcomer is admitted while
    the room has places and nobody waits, else waits in line. RoomError says
    why not: no such code, closed, locked, removed earlier, or a bad name.
    """
    clean = _name_clean(name)
    room = _room_to_join(code)
    session[DISPLAY_NAME_KEY] = clean
    attendee = attendee_for(session=session, deck_slug=room.deck_slug, user=user)
    with transaction.atomic():
        room = Room.objects.select_for_update().get(pk=room.pk)
        member = member_of(room=room, attendee=attendee)
        if member is not None and member.status == Member.Status.REMOVED:
            raise RoomError(f"The presenter removed you from room {room.code}.")
        if member is not None and member.status in Member.IN_ROOM:
            member.name = clean
            member.save(update_fields=["name"])
            return member, RoomChange()
        if room.locked:
            raise RoomError(f"Room {room.code} is locked: the presenter lets nobody else in for now.")
        if member is None:
            member = Member(room=room, attendee=attendee)
        member.name, member.status, member.joined_at = clean, Member.Status.WAITING, timezone.now()
        member.admitted_at = member.left_at = None
        member.left_why = ""
        member.save()
        change = _admit_waiting(room)
    _after(room, change)
    member.refresh_from_db()
    return member, change


def room_admit_waiting(*, room: Room) -> RoomChange:
    """Let in the first of the wait list while the room has places; idle members give theirs up first when
    the room has an idle time and someone waits. Called on every change and whenever a waiting page asks."""
    with transaction.atomic():
        room = Room.objects.select_for_update().get(pk=room.pk)
        change = _admit_waiting(room)
    _after(room, change)
    return change


def _admit_waiting(room: Room) -> RoomChange:
    change = RoomChange()
    if not room.is_open:
        return change
    waiting = members_waiting(room=room)
    if not waiting:
        return change
    now = timezone.now()
    admitted = members_admitted(room=room)
    free = len(waiting) if room.capacity is None else max(0, room.capacity - len(admitted))
    if free < len(waiting) and room.idle_minutes:
        cutoff = now - timedelta(minutes=room.idle_minutes)
        idle = sorted((last_active_at(member=m), m.joined_at, m) for m in admitted if last_active_at(member=m) < cutoff)
        for _, _, member in idle[: len(waiting) - free]:
            _member_end(member, status=Member.Status.LEFT, why=f"idle for over {room.idle_minutes} minutes", now=now)
            change.released.append(member)
            free += 1
    for member in waiting[:free]:
        member.status, member.admitted_at = Member.Status.ADMITTED, now
        member.save(update_fields=["status", "admitted_at"])
        change.admitted.append(member)
    return change


def _member_end(member: Member, *, status: str, why: str, now) -> None:
    member.status, member.left_at, member.left_why = status, now, why
    member.save(update_fields=["status", "left_at", "left_why"])


def member_leave(*, member: Member, why: str = "left") -> RoomChange:
    """The member leaves the room (their sandbox is destroyed); the first waiting takes the place."""
    return _member_out(member, status=Member.Status.LEFT, why=why)


def member_remove(*, member: Member) -> RoomChange:
    """The presenter removes the member: out of the room, sandbox destroyed, no joining this room again."""
    return _member_out(member, status=Member.Status.REMOVED, why="removed by the presenter")


def _member_out(member: Member, *, status: str, why: str) -> RoomChange:
    with transaction.atomic():
        room = Room.objects.select_for_update().get(pk=member.room_id)
        member = Member.objects.select_related("attendee").get(pk=member.pk)
        was_in = member.status in Member.IN_ROOM
        if member.status != Member.Status.REMOVED:
            _member_end(member, status=status, why=why, now=timezone.now())
        change = _admit_waiting(room)
    if was_in:
        change.released.append(member)
    _after(room, change)
    return change


def room_lock(*, room: Room, locked: bool) -> Room:
    """Lock the room (nobody new may join; the wait list stays) or unlock it."""
    Room.objects.filter(pk=room.pk).update(locked=locked)
    room.locked = locked
    return room


def room_close(*, room: Room) -> RoomChange:
    """Close the room: every membership ends, every member's sandbox is destroyed, progress and runs stay."""
    now = timezone.now()
    with transaction.atomic():
        room = Room.objects.select_for_update().get(pk=room.pk)
        if room.closed_at is None:
            room.closed_at = now
            room.save(update_fields=["closed_at"])
        change = RoomChange()
        for member in room.members.filter(status__in=Member.IN_ROOM).select_related("attendee"):
            _member_end(member, status=Member.Status.LEFT, why="the room closed", now=now)
            change.released.append(member)
    sandboxes = Sandbox.objects.filter(attendee__memberships__room=room).exclude(status=Sandbox.Status.GONE)
    change.failed = sandboxes_destroy(sandboxes=list(sandboxes)).failed
    change.failed.update(pool_drain(room=room))
    return change


def _after(room: Room, change: RoomChange) -> None:
    """What follows a change of who is in: the sandboxes of those let go are destroyed, those let in get a
    sandbox from the warm pool (which then fills again)."""
    _sandboxes_release(change)
    handed = [member for member in change.admitted if pool_take(member=member) is not None]
    if handed:
        pool_refill_soon(room=room)


def _sandboxes_release(change: RoomChange) -> None:
    """Destroy the sandboxes of the members the change let go."""
    if not change.released:
        return
    attendees = [member.attendee_id for member in change.released]
    sandboxes = Sandbox.objects.filter(attendee_id__in=attendees).exclude(status=Sandbox.Status.GONE)
    change.failed.update(sandboxes_destroy(sandboxes=list(sandboxes)).failed)
