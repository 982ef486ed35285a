"""The presenter watching an attendee's terminal, read-only, from the room dashboard.

/ws/rooms/<code>/terminal/<member id>/: only the deck's presenter (checked from the session, as the dashboard
does) may open it, and only for a member of that room; the member id names someone in the room, never a
sandbox. It follows the attendee's session output and never reaches its input (`sandbox.terminals.
terminal_watch`); the attendee's terminal sockets hear that they are watched (`terminal.watched`). The
protocol is the attendee's terminal's (`sandbox.terminal_protocol`), without typing, plus the attendee's
terminal size (`terminal.size`): first the one their PTY has, then each new one, so that the presenter's
screen is drawn at the attendee's size and a full-screen program (vim, top) looks as it does for them.
"""

from __future__ import annotations

import uuid

from channels.db import database_sync_to_async

from deck.errors import DeckFileError, DeckNotFound
from deck.services import presenter_allowed, talk_get_or_create
from rooms.errors import RoomError
from rooms.help import member_in_room
from rooms.protocol import CLOSE_FORBIDDEN, CLOSE_NOT_FOUND
from rooms.selectors import room_by_code
from sandbox import terminal_protocol as protocol
from sandbox.executor import in_thread
from sandbox.groups import terminal_group, terminal_watchers_group
from sandbox.terminal_consumers import TerminalSocket
from sandbox.terminal_pipe import TerminalPipe
from sandbox.terminal_registry import terminal_size_recorded
from sandbox.terminals import terminal_watch


def _watched_attendee(scope, code: str, member_id: str):
    """(attendee, refusal): the member's attendee when this session presents the room's deck."""
    room = room_by_code(code)
    if room is None:
        return None, (CLOSE_NOT_FOUND, f"No room has the code {code[:12]!r}.")
    try:
        talk = talk_get_or_create(deck_slug=room.deck_slug)
    except (DeckNotFound, DeckFileError):
        return None, (CLOSE_NOT_FOUND, "This room's deck is gone.")
    if not presenter_allowed(user=scope.get("user"), session=scope.get("session"), talk=talk):
        return None, (CLOSE_FORBIDDEN, "Only the presenter may watch an attendee's terminal.")
    try:
        member = member_in_room(room=room, member_id=member_id)
    except RoomError as exc:
        return None, (CLOSE_NOT_FOUND, exc.message)
    return member.attendee, None


class TerminalWatchConsumer(TerminalSocket):
    """One attendee's terminal as the presenter watches it."""

    read_only = True
    _told = False

    async def connect(self) -> None:
        kwargs = self.scope["url_route"]["kwargs"]
        await self.accept()  # first: the handshake never waits for a database thread; "open" comes after this
        attendee, refusal = await database_sync_to_async(_watched_attendee)(
            self.scope, kwargs["code"], kwargs["member"]
        )
        if refusal is not None:
            await self._refuse(*refusal)
            return
        self.attendee = attendee
        group = terminal_watchers_group(attendee.id)  # joined first: no resize is missed once the size is read
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups.append(group)  # websocket_disconnect leaves it for us

    async def _attach(self, *, cols: int, rows: int) -> TerminalPipe:
        pipe = await terminal_watch(attendee=self.attendee, client=uuid.uuid4().hex, cols=cols, rows=rows)
        self._told = True
        await self.channel_layer.group_send(terminal_group(self.attendee.id), {"type": "terminal.watched"})
        # Before any output: what the session replays is drawn at the attendee's size.
        size = await in_thread(terminal_size_recorded, attendee_id=self.attendee.id)
        if size is not None:
            await self._json(protocol.size(cols=size[0], rows=size[1]))
        return pipe

    async def terminal_resized(self, event: dict) -> None:
        """The attendee's terminal was given a new size: the presenter's screen follows."""
        if self._serving is not None:
            await self._json(protocol.size(cols=event["cols"], rows=event["rows"]))

    async def disconnect(self, code) -> None:
        await super().disconnect(code)
        if self._told:  # the watch has ended (the pipe is closed): the attendee's pages count again
            await self.channel_layer.group_send(terminal_group(self.attendee.id), {"type": "terminal.watched"})
