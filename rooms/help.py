"""Help requests and the presenter's notes: an attendee raises a hand; the presenter answers, or writes to people.

Writes only; the sockets (`rooms.consumers`) tell the pages. A member has at
most one active request: asking again updates its words.
"""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone

from rooms.errors import RoomError
from rooms.models import HelpRequest, Member, Note, Room
from rooms.radar import error_line
from rooms.roster import room_board
from sandbox.models import Progress


def help_ask(*, member: Member, text: object = "") -> HelpRequest:
    """Raise the member's hand (or change the words of the hand already up)."""
    words = " ".join(str(text or "").split())
    if len(words) > HelpRequest.TEXT_MAX:
        raise RoomError(f"A help request may say at most {HelpRequest.TEXT_MAX} characters; this one has {len(words)}.")
    if member.status != Member.Status.ADMITTED or not member.room.is_open:
        raise RoomError("Only people in an open room can ask for help here.")
    progress = Progress.objects.filter(attendee_id=member.attendee_id).first()
    slide = progress.slide if progress is not None else None
    with transaction.atomic():
        Member.objects.select_for_update().filter(pk=member.pk).first()
        hand = HelpRequest.objects.filter(member=member, status__in=HelpRequest.ACTIVE).first()
        if hand is None:
            return HelpRequest.objects.create(member=member, text=words, slide=slide)
        hand.text, hand.slide, hand.updated_at = words, slide, timezone.now()
        hand.save(update_fields=["text", "slide", "updated_at"])
        return hand


def help_lower(*, member: Member) -> HelpRequest | None:
    """The member lowers their own hand (no longer stuck); the request is done."""
    hand = HelpRequest.objects.filter(member=member, status__in=HelpRequest.ACTIVE).first()
    if hand is not None:
        hand.status, hand.updated_at = HelpRequest.Status.DONE, timezone.now()
        hand.save(update_fields=["status", "updated_at"])
    return hand


def help_update(*, room: Room, help_id: object, status: object) -> HelpRequest:
    """The presenter (or a helper) marks a request of `room` "on-my-way" or "done"."""
    if status not in (HelpRequest.Status.ON_MY_WAY, HelpRequest.Status.DONE):
        raise RoomError('A help request becomes "on-my-way" or "done".')
    hand = HelpRequest.objects.filter(id=_uuid(help_id), member__room=room).select_related("member").first()
    if hand is None:
        raise RoomError("There is no such help request in this room.")
    hand.status, hand.updated_at = status, timezone.now()
    hand.save(update_fields=["status", "updated_at"])
    return hand


def note_send(*, room: Room, text: object, to: object) -> tuple[Note, list[Member]]:
    """Store a note of the presenter and whom it is for: `to` is "all", {"member": id} or {"step", "line"}
    (a radar group, worked out again now). Returns the note and its recipients (everyone in the room for "all")."""
    words = str(text or "").strip()
    if not words:
        raise RoomError("Write the note first.")
    if len(words) > Note.TEXT_MAX:
        raise RoomError(f"A note may hold at most {Note.TEXT_MAX} characters; this one has {len(words)}.")
    in_room = room.members.filter(status__in=Member.IN_ROOM)
    if to == "all":
        note = Note.objects.create(room=room, text=words, to_all=True)
        return note, list(in_room)
    if isinstance(to, dict) and "member" in to:
        recipients = list(in_room.filter(id=_uuid(to["member"])))
    elif isinstance(to, dict) and "step" in to:
        recipients = list(in_room.filter(id__in=_group_member_ids(room, to.get("step"), to.get("line"))))
    else:
        raise RoomError('Say whom the note is for: "all", {"member": id} or a radar group {"step", "line"}.')
    if not recipients:
        raise RoomError("Nobody in the room matches: they may have left, or fixed it meanwhile.")
    note = Note.objects.create(room=room, text=words)
    note.recipients.set(recipients)
    return note, recipients


def _group_member_ids(room: Room, step: object, line: object) -> list[str]:
    for group in room_board(room=room)["radar"]:
        if group["step"] == step and group["line"] == line:
            return [member["id"] for member in group["members"]]
    return []


def member_in_room(*, room: Room, member_id: object) -> Member:
    """The member `member_id` of `room` (in it now); RoomError when there is none."""
    member = room.members.filter(id=_uuid(member_id), status__in=Member.IN_ROOM).select_related("attendee").first()
    if member is None:
        raise RoomError("That person is not in this room (any more).")
    return member


def member_step_output(*, room: Room, member_id: object, step: object) -> dict:
    """The last output of one member's run of block `step` (read-only, for the presenter), or their check's answer."""
    member = member_in_room(room=room, member_id=member_id)
    run = member.attendee.runs.filter(block_id=str(step)).order_by("-created_at").first()
    if run is not None:
        text = run.output or run.error_message
        return {
            "member": str(member.id),
            "name": member.name,
            "step": run.block_id,
            "status": run.status,
            "exitCode": run.exit_code,
            "output": text[-20000:],
            "line": error_line(text),
        }
    record = member.attendee.check_records.filter(check_id=str(step)).first()
    if record is None:
        raise RoomError(f"{member.name} has no run or check of {str(step)[:20]} yet.")
    return {
        "member": str(member.id),
        "name": member.name,
        "step": record.check_id,
        "status": "ok" if record.done else "failed",
        "exitCode": None,
        "output": record.message,
        "line": error_line(record.message),
    }


def _uuid(value: object) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise RoomError("That id is not one of this room's.") from None
