"""Database state of rooms: a Room is one live session of a deck that people join with a code (a Member each).

A room admits at most `capacity` members at once; the others wait in the
order they joined. Closing a room ends every membership but keeps the
attendees, their runs and their progress (`sandbox.models`).
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from sandbox.models import Attendee


class Room(models.Model):
    """A live session of the deck `deck_slug`; open until `closed_at` is set. At most one is open per deck."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    deck_slug = models.CharField(max_length=100, db_index=True)
    code = models.CharField(max_length=6, unique=True)
    capacity = models.PositiveIntegerField(null=True, blank=True)  # None: no limit but the server's sandbox cap
    # An admitted member idle this long gives their place to the first on the wait list (None: never).
    idle_minutes = models.PositiveIntegerField(null=True, blank=True)
    pool_size = models.PositiveIntegerField(default=0)
    locked = models.BooleanField(default=False)
    opened_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]

    def __str__(self) -> str:
        return f"room {self.code} of {self.deck_slug}{'' if self.is_open else ' (closed)'}"

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class Member(models.Model):
    """One attendee in one room: their shown name and where they stand (waiting, admitted, left, removed)."""

    class Status(models.TextChoices):
        WAITING = "waiting"
        ADMITTED = "admitted"
        LEFT = "left"  # left, timed out idle, or the room closed; may join again
        REMOVED = "removed"  # removed by the presenter; may not join this room again

    IN_ROOM = (Status.WAITING, Status.ADMITTED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="members")
    attendee = models.ForeignKey(Attendee, on_delete=models.CASCADE, related_name="memberships")
    name = models.CharField(max_length=80)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.WAITING)
    joined_at = models.DateTimeField(default=timezone.now)  # the wait list's order
    admitted_at = models.DateTimeField(null=True, blank=True)
    left_at = models.DateTimeField(null=True, blank=True)
    left_why = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["room", "attendee"], name="member_per_room_attendee")]
        ordering = ["joined_at", "id"]

    def __str__(self) -> str:
        return f"{self.name} in {self.room.code} ({self.status})"


class HelpRequest(models.Model):
    """A raised hand: an attendee asked for help (with optional words); open, then someone is on the way, then done."""

    class Status(models.TextChoices):
        OPEN = "open"
        ON_MY_WAY = "on-my-way"
        DONE = "done"

    ACTIVE = (Status.OPEN, Status.ON_MY_WAY)
    TEXT_MAX = 500

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="help_requests")
    text = models.CharField(max_length=TEXT_MAX, blank=True)
    slide = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"help for {self.member.name} ({self.status})"


class Note(models.Model):
    """A message from the presenter: to one member, to a radar group's members, or to everyone in the room."""

    TEXT_MAX = 1000

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="notes")
    text = models.CharField(max_length=TEXT_MAX)
    to_all = models.BooleanField(default=False)
    recipients = models.ManyToManyField(Member, related_name="notes", blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"note in {self.room.code}: {self.text[:40]}"


class PoolSandbox(models.Model):
    """A sandbox made ahead of time for a room's warm pool, held by a placeholder attendee until handed out.

    The sandbox is an ordinary `Sandbox` row (so limits, reconcile and the cull count it); handing it out
    moves that row to the attendee who joined, and this row goes.
    """

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="pool")
    sandbox = models.OneToOneField("sandbox.Sandbox", on_delete=models.CASCADE, related_name="pool_slot")
    primed = models.BooleanField(default=False)  # the deck's images were pulled into its engine
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"pool sandbox {self.sandbox_id} of {self.room.code}"
