"""The instructor's view of a room, read in a handful of queries: the roster, the stuck radar, the help queue.

`room_board` is what the dashboard shows and what its socket sends again
whenever it changes. Times are sent as moments (ISO 8601), never as ages, so
an unchanged room is an unchanged board and the page counts ages itself.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models.functions import Right

from deck.errors import DeckFileError, DeckNotFound
from deck.selectors import deck_get
from rooms.groups import dashboard_group
from rooms.models import HelpRequest, Member, Room
from rooms.pool import pool_status
from rooms.radar import Stuck, error_line, radar_groups
from sandbox.models import Attendee, CheckRecord, Progress, Run, Sandbox

FAILED_RUNS = (Run.Status.FAILED, Run.Status.TIMED_OUT, Run.Status.ERROR)
OUTPUT_TAIL = 4000  # characters of a failed run's output read for the radar
ATTENTION = ("help", "failing", "sandbox", "waiting", "")  # what needs the presenter first


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def deck_steps(deck_slug: str) -> tuple[int, dict[str, int]]:
    """How many steps the deck has (runnable blocks and checks), and the slide of each step id."""
    try:
        deck = deck_get(slug=deck_slug)
    except (DeckNotFound, DeckFileError):
        return 0, {}
    slides: dict[str, int] = {}
    for slide in deck.slides:
        for block in slide.blocks:
            if block.runnable:
                slides[block.block_id] = slide.number
        for check in slide.checks:
            slides[check.check_id] = slide.number
    return len(slides), slides


def _last_runs(attendee_ids: list) -> dict:
    """{attendee id: {block id: (status, run id, created_at, slide)}} for the latest run of each block."""
    latest: dict = {}
    rows = Run.objects.filter(attendee_id__in=attendee_ids).order_by("-created_at")
    for attendee_id, block_id, status, run_id, created_at, slide in rows.values_list(
        "attendee_id", "block_id", "status", "id", "created_at", "slide"
    ).iterator():
        latest.setdefault(attendee_id, {}).setdefault(block_id, (status, run_id, created_at, slide))
    return latest


def boards_watching(attendee: Attendee) -> list[str]:
    """The dashboard group of the open room `attendee` is in (a watcher of `sandbox.watchers`); else none."""
    room_id = (
        Member.objects.filter(attendee=attendee, status__in=Member.IN_ROOM, room__closed_at__isnull=True)
        .values_list("room_id", flat=True)
        .first()
    )
    return [dashboard_group(room_id)] if room_id else []


def room_board(*, room: Room) -> dict:
    """Everything the dashboard shows of `room`; see the module docstring."""
    members = list(room.members.filter(status__in=Member.IN_ROOM).select_related("attendee"))
    ids = [member.attendee_id for member in members]
    total, step_slides = deck_steps(room.deck_slug)
    progress = {row.attendee_id: row for row in Progress.objects.filter(attendee_id__in=ids)}
    sandboxes = dict(Sandbox.objects.filter(attendee_id__in=ids).values_list("attendee_id", "status"))
    checks: dict = {}
    for record in CheckRecord.objects.filter(attendee_id__in=ids):
        checks.setdefault(record.attendee_id, []).append(record)
    runs = _last_runs(ids)
    hands = {
        hand.member_id: hand
        for hand in HelpRequest.objects.filter(member__room=room, status__in=HelpRequest.ACTIVE).order_by("created_at")
    }
    failed_runs = [
        run_id for per_block in runs.values() for status, run_id, _, _ in per_block.values() if status in FAILED_RUNS
    ]
    outputs = {
        row["id"]: row
        for row in Run.objects.filter(id__in=failed_runs).values(
            "id", "error_message", tail=Right("output", OUTPUT_TAIL)
        )
    }
    rows, stuck = [], []
    for member in members:
        row, member_stuck = _row(
            member,
            total=total,
            progress=progress.get(member.attendee_id),
            sandbox=sandboxes.get(member.attendee_id),
            runs=runs.get(member.attendee_id, {}),
            checks=checks.get(member.attendee_id, []),
            hand=hands.get(member.id),
            outputs=outputs,
            step_slides=step_slides,
        )
        rows.append(row)
        stuck.extend(member_stuck)
    rows.sort(key=_attention_order)
    groups = radar_groups(stuck)
    return {
        "room": _room_summary(room, rows),
        "roster": rows,
        "radar": [
            {
                "key": group.key,
                "step": group.step,
                "slide": group.slide,
                "kind": group.kind,
                "line": group.line,
                "count": group.count,
                "members": [{"id": one.member_id, "name": one.name} for one in group.members],
            }
            for group in groups
        ],
        "help": [_hand(hand, members) for hand in hands.values()],
    }


def _row(member, *, total, progress, sandbox, runs, checks, hand, outputs, step_slides) -> tuple[dict, list[Stuck]]:
    done = {block for block, (status, *_rest) in runs.items() if status == Run.Status.OK}
    done |= {record.check_id for record in checks if record.done}
    last = max(runs.items(), key=lambda item: item[1][2], default=None)
    stuck = []
    for block, (status, run_id, _, slide) in runs.items():
        if status in FAILED_RUNS:
            output = outputs.get(run_id, {})
            text = (output.get("tail") or "") or output.get("error_message", "")
            stuck.append(Stuck(str(member.id), member.name, block, slide, "run", error_line(text), text[-1500:]))
    for record in checks:
        if not record.done:
            slide = step_slides.get(record.check_id)
            stuck.append(
                Stuck(
                    str(member.id),
                    member.name,
                    record.check_id,
                    slide,
                    "check",
                    error_line(record.message),
                    record.message,
                )
            )
    seen = [member.joined_at, member.admitted_at, member.attendee.last_seen_at]
    seen += [progress.slide_at if progress else None, last[1][2] if last else None]
    attention = ""
    if hand is not None:
        attention = "help"
    elif last is not None and last[1][0] in FAILED_RUNS or any(not record.done for record in checks):
        attention = "failing"
    elif sandbox == Sandbox.Status.FAILED:
        attention = "sandbox"
    elif member.status == Member.Status.WAITING:
        attention = "waiting"
    row = {
        "id": str(member.id),
        "name": member.name,
        "status": member.status,
        "slide": progress.slide if progress and progress.slide_at else None,
        "stepsDone": len(done),
        "steps": total,
        "lastRun": (
            {"block": last[0], "slide": last[1][3], "status": last[1][0], "at": _iso(last[1][2])} if last else None
        ),
        "sandbox": sandbox or "none",
        "activeAt": _iso(max(moment for moment in seen if moment is not None)),
        "hand": {"id": str(hand.id), "status": hand.status, "since": _iso(hand.created_at)} if hand else None,
        "attention": attention,
    }
    return row, stuck


def _attention_order(row: dict) -> tuple:
    hand_since = row["hand"]["since"] if row["hand"] else ""
    return (ATTENTION.index(row["attention"]), hand_since, row["activeAt"] or "", row["name"].lower())


def _room_summary(room: Room, rows: list[dict]) -> dict:
    admitted = sum(1 for row in rows if row["status"] == Member.Status.ADMITTED)
    return {
        "code": room.code,
        "deck": room.deck_slug,
        "open": room.is_open,
        "locked": room.locked,
        "capacity": room.capacity,
        "admitted": admitted,
        "waiting": len(rows) - admitted,
        "pool": pool_status(room=room),
    }


def _hand(hand: HelpRequest, members: list[Member]) -> dict:
    name = next((member.name for member in members if member.id == hand.member_id), "")
    return {
        "id": str(hand.id),
        "member": str(hand.member_id),
        "name": name,
        "text": hand.text,
        "slide": hand.slide,
        "status": hand.status,
        "since": _iso(hand.created_at),
    }
