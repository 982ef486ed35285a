"""Reads of rooms: a room by its code or deck, one attendee's membership, wait-list positions, activity."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Max

from rooms.codes import code_read
from rooms.models import Member, Room
from sandbox.models import Attendee


def room_by_code(code: str) -> Room | None:
    """The room whose join code is `code` as a person typed it (open or closed), or None."""
    return Room.objects.filter(code=code_read(code)).first()


def room_open_for_deck(*, deck_slug: str) -> Room | None:
    """The open room of deck `deck_slug`, if there is one."""
    return Room.objects.filter(deck_slug=deck_slug, closed_at__isnull=True).first()


def room_latest_for_deck(*, deck_slug: str) -> Room | None:
    """The deck's open room, else the one closed last."""
    return room_open_for_deck(deck_slug=deck_slug) or Room.objects.filter(deck_slug=deck_slug).first()


def member_of(*, room: Room, attendee: Attendee) -> Member | None:
    """The attendee's membership of `room`, whatever its status."""
    return Member.objects.filter(room=room, attendee=attendee).first()


def membership_for(*, attendee: Attendee) -> Member | None:
    """The attendee's membership of their deck's open room, else of the room of that deck they were last in."""
    return (
        Member.objects.filter(attendee=attendee)
        .select_related("room")
        .order_by("room__closed_at", "-room__opened_at")  # an open room (closed_at NULL) sorts first
        .first()
    )


def members_admitted(*, room: Room) -> list[Member]:
    return list(room.members.filter(status=Member.Status.ADMITTED).select_related("attendee"))


def members_waiting(*, room: Room) -> list[Member]:
    """The wait list, first in line first."""
    return list(room.members.filter(status=Member.Status.WAITING).order_by("joined_at", "id"))


def wait_position(*, member: Member) -> int | None:
    """1 for the first in line; None when `member` is not waiting."""
    if member.status != Member.Status.WAITING:
        return None
    ahead = member.room.members.filter(status=Member.Status.WAITING, joined_at__lt=member.joined_at).count()
    same_time = member.room.members.filter(
        status=Member.Status.WAITING, joined_at=member.joined_at, id__lt=member.id
    ).count()
    return ahead + same_time + 1


def room_counts(*, room: Room) -> dict[str, int]:
    """How many are admitted and how many wait."""
    counts = {"admitted": 0, "waiting": 0}
    for status in room.members.filter(status__in=Member.IN_ROOM).values_list("status", flat=True):
        counts[status] += 1
    return counts


def last_active_at(*, member: Member) -> datetime:
    """When the member last did something: joined or was admitted, opened a page, moved a slide, ran code."""
    attendee = member.attendee
    moments = [member.joined_at, member.admitted_at, attendee.last_seen_at]
    moments.append(attendee.runs.aggregate(last=Max("created_at"))["last"])
    progress = getattr(attendee, "progress", None)  # the reverse one-to-one raises an AttributeError when unset
    if progress is not None:
        moments.append(progress.slide_at)
    return max(moment for moment in moments if moment is not None)
