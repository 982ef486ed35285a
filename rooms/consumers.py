"""The rooms websockets: an attendee page's line to its room, and the presenter's live dashboard.

Who is asking comes from the session cookie only. The dashboard re-checks
the presenter right on every action (a token reset takes it away at once)
and reads the board again every BOARD_SECONDS, sending it only when it
changed: runs and checks happen in other processes too, and the database
is where they all meet. The protocol is in `rooms.protocol`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import timezone

from config.websocket import BadFrame, DirectDispatch, frame_json
from deck.errors import DeckFileError, DeckNotFound
from deck.services import presenter_allowed, talk_get_or_create
from rooms import protocol
from rooms.errors import RoomError
from rooms.groups import dashboard_group, member_group, room_group
from rooms.help import help_ask, help_lower, help_update, member_in_room, member_step_output, note_send
from rooms.models import HelpRequest, Member, Room
from rooms.roster import room_board
from rooms.selectors import membership_for, room_by_code
from rooms.services import member_remove, room_close, room_lock
from sandbox.executor import db_long
from sandbox.identity import NoSession, attendee_for
from sandbox.resets import sandbox_reset

BOARD_SECONDS = 1.0  # the longest a board goes unread (changes nobody announced: a cull, a sandbox lost)
BOARD_MIN_SECONDS = 0.25  # the shortest time between two reads: a room all finishing a step at once is one read
FORWARD = "rooms.forward"  # a group event carrying a message for the pages as it is

# Strong references to the resets the presenter started, which outlive the socket that asked.
_background: set[asyncio.Task] = set()


async def _tell(group: str, channel_layer, message: dict) -> None:
    await channel_layer.group_send(group, {"type": FORWARD, "message": message})


class _JsonSocket(DirectDispatch, AsyncJsonWebsocketConsumer):
    """A bad frame is answered, never a dropped socket; no message waits for the shared database thread."""

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs) -> None:
        try:
            content = frame_json(text_data=text_data, bytes_data=bytes_data)
        except BadFrame as exc:
            await self.send_json(protocol.error(code="bad-request", message=exc.message))
            return
        await self.receive_json(content)

    async def rooms_forward(self, event: dict) -> None:
        await self.send_json(event["message"])


class MemberConsumer(_JsonSocket):
    """One attendee page of a deck, at /ws/decks/<slug>/room/: their room's notes, their hand."""

    member: Member | None = None

    async def connect(self) -> None:
        slug = self.scope["url_route"]["kwargs"]["slug"]
        await self.accept()
        try:
            self.member = await database_sync_to_async(_membership)(self.scope, slug)
        except (NoSession, DeckNotFound, DeckFileError):
            self.member = None
        if self.member is None:
            await self.send_json(protocol.room_state(code="", name="", status="none", hand=None))
            return
        for group in (room_group(self.member.room_id), member_group(self.member.id)):
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups.append(group)
        hand = await database_sync_to_async(_hand_of)(self.member)
        await self.send_json(
            protocol.room_state(code=self.member.room.code, name=self.member.name, status=self.member.status, hand=hand)
        )

    async def receive_json(self, content: dict, **kwargs) -> None:
        kind = content.get("type")
        if self.member is None:
            await self.send_json(protocol.error(code="not-found", message="You are not in a room on this deck."))
            return
        try:
            if kind == "help":
                hand = await database_sync_to_async(help_ask)(member=self.member, text=content.get("text"))
            elif kind == "help.lower":
                hand = await database_sync_to_async(help_lower)(member=self.member)
            else:
                await self.send_json(protocol.error(code="bad-request", message='Send "help" or "help.lower".'))
                return
        except RoomError as exc:
            await self.send_json(protocol.error(code="refused", message=exc.message))
            return
        await _tell(member_group(self.member.id), self.channel_layer, protocol.help_state(hand=hand))
        await self.channel_layer.group_send(dashboard_group(self.member.room_id), {"type": "board.stale"})


def _membership(scope, slug: str) -> Member | None:
    attendee = attendee_for(session=scope.get("session"), deck_slug=slug, user=scope.get("user"))
    member = membership_for(attendee=attendee)
    if member is None or not member.room.is_open or member.status not in Member.IN_ROOM:
        return None
    return member


def _hand_of(member: Member) -> HelpRequest | None:
    return HelpRequest.objects.filter(member=member, status__in=HelpRequest.ACTIVE).first()


class DashboardConsumer(_JsonSocket):
    """The presenter's dashboard of one room, at /ws/rooms/<code>/dashboard/."""

    room: Room | None = None
    _sent: str = ""
    _loop: asyncio.Task | None = None
    _stale: asyncio.Event

    async def connect(self) -> None:
        code = self.scope["url_route"]["kwargs"]["code"]
        await self.accept()
        self.room = await database_sync_to_async(room_by_code)(code)
        if self.room is None:
            await self.send_json(protocol.error(code="not-found", message=f"No room has the code {code[:12]!r}."))
            await self.close(code=protocol.CLOSE_NOT_FOUND)
            return
        if not await self._presenter():
            await self.send_json(protocol.error(code="forbidden", message="Only the presenter sees the room."))
            await self.close(code=protocol.CLOSE_FORBIDDEN)
            self.room = None
            return
        group = dashboard_group(self.room.id)
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups.append(group)
        self._stale = asyncio.Event()
        self._loop = asyncio.create_task(self._board_loop())

    async def disconnect(self, code) -> None:
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop

    async def _presenter(self) -> bool:
        def allowed() -> bool:
            talk = talk_get_or_create(deck_slug=self.room.deck_slug)
            return presenter_allowed(user=self.scope.get("user"), session=self.scope.get("session"), talk=talk)

        try:
            return await database_sync_to_async(allowed)()
        except (DeckNotFound, DeckFileError):
            return False

    async def _board_loop(self) -> None:
        # The board is read again when something announced a change (an attendee's run, check, slide or reset;
        # a hand; the presenter's own action), at most every BOARD_MIN_SECONDS, and otherwise every BOARD_SECONDS.
        loop = asyncio.get_running_loop()
        while True:
            self._stale.clear()  # before reading: a change announced during the read is read next time
            began = loop.time()
            await self._board_send()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stale.wait(), timeout=BOARD_SECONDS)
            rest = BOARD_MIN_SECONDS - (loop.time() - began)
            if rest > 0:
                await asyncio.sleep(rest)

    async def _board_send(self) -> None:
        def read() -> dict:
            self.room.refresh_from_db()
            return room_board(room=self.room)

        board = await db_long(read)()
        text = json.dumps(board, sort_keys=True)
        if text != self._sent:
            self._sent = text
            await self.send_json(protocol.board(board))

    async def board_stale(self, event: dict) -> None:
        self._stale.set()

    attendee_changed = board_stale  # sandbox.watchers: one of the room's attendees ran, checked, moved or reset

    async def receive_json(self, content: dict, **kwargs) -> None:
        if self.room is None:
            return
        if not await self._presenter():
            await self.send_json(protocol.error(code="forbidden", message="Only the presenter can do this."))
            return
        kind = content.get("type")
        actions = {
            "help.update": self._help_update,
            "note": self._note,
            "member.reset": self._member_reset,
            "member.remove": self._member_remove,
            "room.lock": self._room_lock,
            "room.close": self._room_close,
            "output": self._output,
        }
        action = actions.get(kind)
        if action is None:
            said = ", ".join(f'"{name}"' for name in actions)
            await self.send_json(
                protocol.error(code="bad-request", message=f"Unknown message type; send one of {said}.")
            )
            return
        try:
            await action(content)
        except RoomError as exc:
            await self.send_json(protocol.error(code="refused", message=exc.message))
            return
        self._stale.set()

    async def _help_update(self, content: dict) -> None:
        hand = await database_sync_to_async(help_update)(
            room=self.room, help_id=content.get("help"), status=content.get("status")
        )
        await _tell(member_group(hand.member_id), self.channel_layer, protocol.help_state(hand=hand))

    async def _note(self, content: dict) -> None:
        note, recipients = await database_sync_to_async(note_send)(
            room=self.room, text=content.get("text"), to=content.get("to")
        )
        message = protocol.note(text=note.text, at=note.created_at.isoformat())
        if note.to_all:
            await _tell(room_group(self.room.id), self.channel_layer, message)
        else:
            for member in recipients:
                await _tell(member_group(member.id), self.channel_layer, message)
        said = "everyone" if note.to_all else f"{len(recipients)} attendee(s)"
        await self.send_json(protocol.done(action="note", message=f"Note sent to {said}."))

    async def _member_reset(self, content: dict) -> None:
        member = await database_sync_to_async(member_in_room)(room=self.room, member_id=content.get("member"))
        task = asyncio.create_task(sandbox_reset(attendee=member.attendee))
        _background.add(task)
        task.add_done_callback(_background.discard)
        notice = protocol.note(text="The presenter reset your sandbox: it starts fresh.", at=timezone.now().isoformat())
        await _tell(member_group(member.id), self.channel_layer, notice)
        await self.send_json(protocol.done(action="member.reset", message=f"Resetting {member.name}'s sandbox."))

    async def _member_remove(self, content: dict) -> None:
        member = await database_sync_to_async(member_in_room)(room=self.room, member_id=content.get("member"))
        await db_long(member_remove)(member=member)
        message = protocol.room_left(message=f"The presenter removed you from room {self.room.code}.")
        await _tell(member_group(member.id), self.channel_layer, message)
        await self.send_json(protocol.done(action="member.remove", message=f"{member.name} was removed."))

    async def _room_lock(self, content: dict) -> None:
        on = content.get("on") is True
        await database_sync_to_async(room_lock)(room=self.room, locked=on)
        said = "locked: nobody new may join" if on else "open to new people again"
        await self.send_json(protocol.done(action="room.lock", message=f"Room {self.room.code} is {said}."))

    async def _room_close(self, content: dict) -> None:
        change = await db_long(room_close)(room=self.room)
        message = protocol.room_closed(code=self.room.code, self_paced=settings.PODIUM_SELF_PACED)
        await _tell(room_group(self.room.id), self.channel_layer, message)
        failed = f"; {len(change.failed)} sandbox(es) could not be removed" if change.failed else ""
        await self.send_json(protocol.done(action="room.close", message=f"Room {self.room.code} is closed{failed}."))

    async def _output(self, content: dict) -> None:
        shown = await database_sync_to_async(member_step_output)(
            room=self.room, member_id=content.get("member"), step=content.get("step")
        )
        await self.send_json({"type": "output", **shown})
