"""Database state of the run pipeline: who runs (Attendee), where (Sandbox), and what happened (Run).

Ids are random UUIDs, so an id seen in a browser says nothing about anyone
else's. A Sandbox row keeps the backend's small JSON state, which is how a
restarted server finds its sandboxes again (see sandbox/backends/base.py).
"""

from __future__ import annotations

import uuid

from django.db import models


class Attendee(models.Model):
    """One browser session following one deck (the presenter has one too).

    Bound to the Django session: whoever holds the session cookie is this
    attendee, and nothing a client sends can name another one.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    deck_slug = models.CharField(max_length=100, db_index=True)
    session_key = models.CharField(max_length=40)
    display_name = models.CharField(max_length=80, blank=True)
    is_presenter = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session_key", "deck_slug"], name="attendee_per_session_deck")]
        ordering = ["-last_seen_at"]

    def __str__(self) -> str:
        who = self.display_name or f"attendee {self.id.hex[:8]}"
        return f"{who} ({self.deck_slug}{', presenter' if self.is_presenter else ''})"


class Sandbox(models.Model):
    """The attendee's own sandbox: which backend made it and the state that backend needs to find it."""

    class Status(models.TextChoices):
        CREATING = "creating"
        READY = "ready"
        FAILED = "failed"
        GONE = "gone"  # its container vanished; the next run creates it again

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    attendee = models.OneToOneField(Attendee, on_delete=models.CASCADE, related_name="sandbox")
    backend = models.CharField(max_length=40)
    state = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CREATING)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(auto_now_add=True)
    create_ms = models.PositiveIntegerField(null=True, blank=True)  # how long the backend took to make it

    def __str__(self) -> str:
        return f"sandbox {self.id.hex[:12]} ({self.status})"


class Run(models.Model):
    """One click on Run: the code, where it ran, and how it ended (output capped at PODIUM_RUN_OUTPUT_CAP)."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        OK = "ok"
        FAILED = "failed"  # the code ended with a non-zero exit code
        TIMED_OUT = "timed_out"
        CANCELLED = "cancelled"
        ERROR = "error"  # Podium or the sandbox failed, not the code

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    attendee = models.ForeignKey(Attendee, on_delete=models.CASCADE, related_name="runs")
    sandbox = models.ForeignKey(Sandbox, on_delete=models.SET_NULL, null=True, blank=True, related_name="runs")
    deck_slug = models.CharField(max_length=100)
    block_id = models.CharField(max_length=20)
    slide = models.PositiveIntegerField()
    block_index = models.PositiveIntegerField()
    kind = models.CharField(max_length=10)
    code = models.TextField()
    edited = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    exit_code = models.IntegerField(null=True, blank=True)
    output = models.TextField(blank=True)
    truncated = models.BooleanField(default=False)
    error_message = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    beat_at = models.DateTimeField(null=True, blank=True)  # the executor's last sign of life (sandbox.liveness)
    first_output_ms = models.PositiveIntegerField(null=True, blank=True)  # from the click to the first output

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["attendee", "deck_slug", "block_id", "-created_at"], name="run_last_per_block"),
            models.Index(fields=["status", "created_at"], name="run_status"),
        ]

    def __str__(self) -> str:
        return f"run {self.id.hex[:8]} of {self.block_id} ({self.status})"

    @property
    def active(self) -> bool:
        """Whether the run is still queued or running."""
        return self.status in self.ACTIVE


class Progress(models.Model):
    """Where a self-paced attendee is in the deck, kept so a closed tab can come back to the same slide.

    `replay_from` is when their sandbox last started fresh (a reset): runs
    before it are not replayed into a recreated sandbox (see sandbox.progress).
    """

    attendee = models.OneToOneField(Attendee, on_delete=models.CASCADE, primary_key=True, related_name="progress")
    slide = models.PositiveIntegerField(default=1)
    slide_at = models.DateTimeField(null=True, blank=True)
    replay_from = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"progress of {self.attendee_id}: slide {self.slide}"


class CheckRecord(models.Model):
    """The latest answer of one step check ("Check my work") for one attendee; `passed_at`: when it last passed;
    `failures`: how many times in a row it said "not yet" (which of the check's hints to show)."""

    attendee = models.ForeignKey(Attendee, on_delete=models.CASCADE, related_name="check_records")
    check_id = models.CharField(max_length=20)
    done = models.BooleanField(default=False)
    message = models.TextField(blank=True)
    at = models.DateTimeField()
    passed_at = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["attendee", "check_id"], name="check_record_per_step")]

    def __str__(self) -> str:
        return f"check {self.check_id} of {self.attendee_id}: {'done' if self.done else 'not yet'}"
