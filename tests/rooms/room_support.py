"""Helpers of the rooms tests: a browser session that joins a room, and backdating a member's activity."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone

from rooms.models import Member, Room
from rooms.services import room_join
from sandbox.models import Attendee


def browser() -> SessionStore:
    """A browser's session as the join page leaves it: saved, so the server knows its key."""
    session = SessionStore()
    session["seen"] = True
    session.save()
    return session


def joined(room: Room, name: str, session: SessionStore | None = None) -> Member:
    """`name` joins `room` from a browser of their own (or `session`); their membership."""
    session = session or browser()
    member, _ = room_join(code=room.code, name=name, session=session)
    session.save()
    return member


def idle_since(member: Member, minutes: int) -> None:
    """Make `member` look as if they did nothing for `minutes` (joined, admitted and last seen then)."""
    then = timezone.now() - timedelta(minutes=minutes)
    Member.objects.filter(pk=member.pk).update(joined_at=then, admitted_at=then)
    Attendee.objects.filter(pk=member.attendee_id).update(last_seen_at=then)
