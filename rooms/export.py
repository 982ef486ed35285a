"""A room's summary for after the workshop, as CSV and JSON: one line per person who was ever in it."""

from __future__ import annotations

import csv
import io

from django.db.models import Count, Q
from django.utils import timezone

from rooms.models import HelpRequest, Member, Room
from rooms.roster import FAILED_RUNS, deck_steps
from sandbox.models import CheckRecord, Run

COLUMNS = ("name", "status", "steps_done", "steps", "runs", "failures", "help_requests", "minutes_in_room")


def room_summary(*, room: Room) -> list[dict]:
    """Per member: name, where they stand, steps done of the deck's steps, runs, failed runs, help requests
    and minutes in the room (from joining to leaving, or to now)."""
    members = list(room.members.exclude(status=Member.Status.WAITING).order_by("joined_at"))
    ids = [member.attendee_id for member in members]
    total, _ = deck_steps(room.deck_slug)
    runs = {
        row["attendee_id"]: row
        for row in Run.objects.filter(attendee_id__in=ids, created_at__gte=room.opened_at)
        .values("attendee_id")
        .annotate(runs=Count("id"), failures=Count("id", filter=Q(status__in=FAILED_RUNS)))
    }
    ok_blocks: dict = {}
    for attendee_id, block_id in (
        Run.objects.filter(attendee_id__in=ids, status=Run.Status.OK).values_list("attendee_id", "block_id").distinct()
    ):
        ok_blocks.setdefault(attendee_id, set()).add(block_id)
    for attendee_id, check_id in CheckRecord.objects.filter(attendee_id__in=ids, done=True).values_list(
        "attendee_id", "check_id"
    ):
        ok_blocks.setdefault(attendee_id, set()).add(check_id)
    hands = dict(
        HelpRequest.objects.filter(member__room=room)
        .values("member_id")
        .annotate(n=Count("id"))
        .values_list("member_id", "n")
    )
    now = timezone.now()
    rows = []
    for member in members:
        counted = runs.get(member.attendee_id, {})
        start = member.admitted_at or member.joined_at
        end = member.left_at or room.closed_at or now
        rows.append(
            {
                "name": member.name,
                "status": member.status,
                "steps_done": len(ok_blocks.get(member.attendee_id, ())),
                "steps": total,
                "runs": counted.get("runs", 0),
                "failures": counted.get("failures", 0),
                "help_requests": hands.get(member.id, 0),
                "minutes_in_room": max(0, round((end - start).total_seconds() / 60)),
            }
        )
    return rows


def room_summary_csv(*, room: Room) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    for row in room_summary(room=room):
        # A name is the attendee's own text: never let a spreadsheet read it as a formula.
        name = row["name"]
        writer.writerow(row | {"name": f"'{name}" if name[:1] in "=+-@\t\r" else name})
    return out.getvalue()
