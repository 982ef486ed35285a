"""The terminal websocket: a shell in the attendee's own sandbox, live in the page.

Who is asking comes from the session cookie only (`sandbox.identity`); nothing a client sends names a
sandbox or an attendee, so a socket can only ever attach to its own attendee's sandbox. The work is done by
`sandbox.terminals`; the protocol is in `sandbox.terminal_protocol`. `TerminalSocket` is shared with the
presenter's read-only view (`rooms.terminal_consumers`).

A socket that stops answering (a laptop that left the Wi-Fi) stops counting against the attendee's terminals
when daphne drops it: it pings a socket that sent nothing for 20 s and drops it 30 s later without a pong (its
--ping-interval and --ping-timeout, on by default in every way Podium runs daphne). Sooner than that, the same
browser tab's next socket (the page reconnecting, a reload) takes its attach over (`terminal_registry`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import uuid

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import DatabaseError

from config.frames import frame_writer, message_frame
from config.ratelimit import client_address
from config.websocket import BadFrame, DirectDispatch, frame_json
from deck.errors import DeckFileError, DeckNotFound
from sandbox import terminal_protocol as protocol
from sandbox.errors import RunRefused, SandboxError
from sandbox.executor import in_thread
from sandbox.groups import terminal_group, terminal_watchers_group
from sandbox.identity import NoSession, attendee_for
from sandbox.models import Attendee
from sandbox.protocol import CLOSE_NO_SESSION, CLOSE_NOT_FOUND
from sandbox.terminal_pipe import TerminalPipe
from sandbox.terminal_registry import (
    terminal_size_record,
    terminal_tab,
    terminal_tab_hold,
    terminal_tab_holder,
    terminal_tab_release,
)
from sandbox.terminals import terminal_attach, terminal_size, terminal_status_of

# How long a tab's new socket waits for its old one to detach (a docker or kubectl exec) before it goes on.
TAKE_OVER_WAIT = 15


class TerminalSocket(DirectDispatch, AsyncWebsocketConsumer):
    """What both terminal sockets share: framing, open/resize/ack, the pipe's life, the end in words.

    A subclass sets `attendee` in `connect` (None refuses everything) and says how to attach (`_attach`).
    """

    attendee: Attendee | None = None
    pipe: TerminalPipe | None = None
    read_only = False
    _serving: asyncio.Task | None = None
    _gone = False
    _replaced = False  # a newer socket of the same tab took this one's attach over
    _size: tuple[int, int] = (80, 24)  # the size the page last asked for

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._attach_tried = asyncio.Event()  # set once the attach is made, or was refused
        self._detaching: asyncio.Future | None = None

    async def _detach(self) -> None:
        """Close the pipe (detach in the sandbox); every caller returns once that is done, not just the first."""
        if self.pipe is None:
            return
        if self._detaching is None:
            self._detaching = asyncio.ensure_future(self.pipe.close())
        await asyncio.shield(self._detaching)

    async def _attach(self, *, cols: int, rows: int) -> TerminalPipe:
        raise NotImplementedError

    async def __call__(self, scope, receive, send) -> None:
        # As Channels' AsyncConsumer.__call__, but for how messages come in. Channels awaits the page's and the
        # channel layer's through one dispatcher that wraps every receive in a task of its own and wakes through
        # asyncio.wait: a loop turn more per keystroke, and a keystroke waits while a group message is handled.
        # Here each source has a loop of its own that awaits it directly (each keeps its order).
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        sources = [receive]
        if self.channel_layer is not None:
            self.channel_name = await self.channel_layer.new_channel()
            self.channel_receive = functools.partial(self.channel_layer.receive, self.channel_name)
            sources.append(self.channel_receive)
        self.base_send = send
        loops = [asyncio.ensure_future(self._dispatch_each(source)) for source in sources]
        try:
            done, _ = await asyncio.wait(loops, return_when=asyncio.FIRST_COMPLETED)
            for loop in done:
                if not loop.cancelled() and not isinstance(loop.exception(), StopConsumer | None):
                    raise loop.exception()
        finally:
            for loop in loops:
                loop.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopConsumer):
                    await loop

    async def _dispatch_each(self, receive) -> None:
        while True:
            await self.dispatch(await receive())

    async def _resized(self, *, cols: int, rows: int) -> None:
        """The PTY was just given this size (by this socket's open or resize)."""

    async def _refuse(self, code: int, message: str) -> None:
        # A refusal says why in words, then closes (the socket is accepted first thing in `connect`).
        await self._json(protocol.ended(reason="refused", message=message))
        await self.close(code=code)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs) -> None:
        if self.attendee is None:
            return
        if text_data is None and bytes_data is not None:
            await self._typed(bytes_data)
            return
        try:
            content = frame_json(text_data=text_data, bytes_data=bytes_data)
        except BadFrame as exc:
            await self._error("bad-request", f"{exc.message} Send {protocol.CLIENT_TYPES_SAID}.")
            return
        kind = content.get("type")
        try:
            if kind == "open":
                await self._open(content)
            elif kind == "resize":
                cols, rows = terminal_size(content.get("cols"), content.get("rows"))
                if self.read_only:
                    pass
                elif self.pipe is not None:
                    await self.pipe.resize(cols=cols, rows=rows)
                    await self._resized(cols=cols, rows=rows)
                else:  # still attaching (the panel settled its size meanwhile): the PTY gets it once attached
                    self._size = (cols, rows)
            elif kind == "ack":
                if self.pipe is not None:
                    self.pipe.acknowledge(content.get("bytes"))
            else:
                await self._error(
                    "bad-request", f"Unknown message type {str(kind)[:40]!r}: send {protocol.CLIENT_TYPES_SAID}."
                )
        except RunRefused as exc:
            await self._error(exc.code, exc.message)

    async def _typed(self, data: bytes) -> None:
        if self.read_only:
            await self._error("read-only", "This terminal is read-only: you are watching.")
            return
        if self.pipe is None:
            await self._error("bad-request", 'Open the terminal first: {"type": "open", "cols": 80, "rows": 24}.')
            return
        try:
            await self.pipe.type(data)
        except RunRefused as exc:
            await self._error(exc.code, exc.message)
        except SandboxError:
            pass  # the terminal just ended: its end is on its way to the page

    async def _open(self, content: dict) -> None:
        cols, rows = terminal_size(content.get("cols"), content.get("rows"))
        if self._serving is not None:
            await self._error("bad-request", "This terminal is open already.")
            return
        self._size = (cols, rows)  # now: a resize that comes before the task runs must not be overwritten
        self._serving = asyncio.create_task(self._serve(cols=cols, rows=rows))

    async def _serve(self, *, cols: int, rows: int) -> None:
        try:
            await self._serve_attached(cols=cols, rows=rows)
        except DatabaseError as error:  # a task of its own: DirectDispatch never sees what it raises
            # Not attached, or detached again: the page's socket closes with 4503 and it opens again by itself.
            if not self._gone:
                await self._database_refused("open", error, opening=True)

    async def _serve_attached(self, *, cols: int, rows: int) -> None:
        try:
            pipe = await self._attach(cols=cols, rows=rows)
        except RunRefused as exc:
            await self._end("refused", exc.message)
            return
        except SandboxError as exc:
            await self._end("refused", exc.user_message)
            return
        finally:
            self._attach_tried.set()
        self.pipe = pipe
        if self._gone or self._replaced:  # the page left, or its tab's newer socket came, meanwhile
            await self._detach()
            if self._replaced:
                await self._end("replaced", protocol.ended_message("replaced"))
            return
        try:
            if self._size != (cols, rows) and not self.read_only:
                await pipe.resize(cols=self._size[0], rows=self._size[1])
                await self._resized(cols=self._size[0], rows=self._size[1])
            status = await terminal_status_of(attendee=self.attendee)
            await self._json(protocol.ready(watching=status.watching, ack_every=pipe.ack_every))
            writer = frame_writer(self.scope) if not self.read_only else None
            if writer is not None:  # keys straight from daphne's connection to the PTY (config/frames.py)
                writer.take_binary(pipe.type_now)
            reason = await pipe.run(self._output, write=self._output_now)
        finally:  # whatever happened, this attach ends: it no longer counts against the attendee's limit
            if (writer := frame_writer(self.scope)) is not None:
                writer.take_binary(None)
            await self._detach()
        if self._replaced:
            reason = "replaced"
        message = protocol.ended_message(reason, idle=settings.PODIUM_TERMINAL_IDLE, keep=settings.PODIUM_TERMINAL_KEEP)
        await self._end(reason, message)

    async def _output(self, data: bytes) -> None:
        if not self._output_now(data):
            await self.send(bytes_data=data)

    def _output_now(self, data: bytes) -> bool:
        """Put output straight onto daphne's connection when it has nothing waiting (config/frames.py), so an
        echo leaves on this turn of the loop; False when it must go the ASGI way."""
        if self._gone:
            return True  # nothing more goes to a socket that was closed
        writer = frame_writer(self.scope)
        return writer is not None and writer.write(message_frame(data))

    async def _end(self, reason: str, message: str) -> None:
        if self._gone:
            return
        await self._json(protocol.ended(reason=reason, message=message))
        await self.close(code=1000)
        self._gone = True  # nothing more goes to a socket that was closed

    async def disconnect(self, code) -> None:
        self._gone = True
        if self.pipe is not None:
            await self._detach()  # its reader ends, and so does _serve
        if self._serving is not None and self.pipe is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._serving, timeout=10)

    async def _error(self, code: str, message: str) -> None:
        await self._json(protocol.error(code=code, message=message))

    async def _json(self, message: dict) -> None:
        if not self._gone:
            await self.send(text_data=json.dumps(message))


class TerminalConsumer(TerminalSocket):
    """One attendee's terminal panel on one deck's page, at /ws/decks/<slug>/terminal/."""

    tab: str | None = None  # the browser tab the page named in "open"
    _released: asyncio.Event | None = None

    async def connect(self) -> None:
        deck_slug = self.scope["url_route"]["kwargs"]["slug"]
        self.address = client_address(self.scope)
        # Accepted first: the handshake never waits for a database thread; "open" is handled once this returns.
        await self.accept()
        try:
            self.attendee = await database_sync_to_async(attendee_for)(
                session=self.scope.get("session"), deck_slug=deck_slug, user=self.scope.get("user")
            )
        except NoSession:
            await self._refuse(
                CLOSE_NO_SESSION, "This page has no Podium session: reload it (cookies must be allowed)."
            )
            return
        except (DeckNotFound, DeckFileError):
            await self._refuse(CLOSE_NOT_FOUND, f"There is no deck called {deck_slug!r}.")
            return
        group = terminal_group(self.attendee.id)
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups.append(group)  # websocket_disconnect leaves it for us

    async def _open(self, content: dict) -> None:
        tab = terminal_tab(content.get("tab"))
        if self._serving is None:
            self.tab = tab
        await super()._open(content)

    async def _attach(self, *, cols: int, rows: int) -> TerminalPipe:
        loop = asyncio.get_running_loop()

        def setup_status(message: str) -> None:  # called from a backend thread
            loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._json(protocol.status(message=message))))

        taking_over = self.tab is not None and await self._take_over()
        pipe = await terminal_attach(
            attendee=self.attendee,
            client=uuid.uuid4().hex,
            cols=cols,
            rows=rows,
            address=self.address,
            setup_status=setup_status,
            make_room=self._taken_over if taking_over else None,
        )
        try:
            if self.tab is not None:
                await in_thread(
                    terminal_tab_hold, attendee_id=self.attendee.id, tab=self.tab, channel=self.channel_name
                )
            await self._resized(cols=cols, rows=rows)
        except BaseException:
            await pipe.close()
            raise
        return pipe

    async def _take_over(self) -> bool:
        """Ask the socket that holds this tab's earlier attach (its page is gone, or a copy of the tab has it)
        to detach; True when there is one (see `_taken_over`)."""
        holder = await in_thread(terminal_tab_holder, attendee_id=self.attendee.id, tab=self.tab)
        if holder is None or holder == self.channel_name:
            return False
        self._released = asyncio.Event()
        await self.channel_layer.send(holder, {"type": "terminal.take_over", "by": self.channel_name})
        return True

    async def _taken_over(self) -> bool:
        """Wait (only when the attendee is at their limit) until the earlier attach has detached; True if it did.
        A holder whose process died never answers (its exec ended with that process): after a while, go on."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._released.wait(), timeout=TAKE_OVER_WAIT)
        return self._released.is_set()

    async def terminal_take_over(self, event: dict) -> None:
        """A newer socket of this page's tab takes the attach over: detach, say so, and tell it when done."""
        self._replaced = True
        if self._serving is not None:
            with contextlib.suppress(TimeoutError):  # an attach being made is closed as soon as it is
                await asyncio.wait_for(self._attach_tried.wait(), timeout=TAKE_OVER_WAIT)
        await self._detach()  # detached in the sandbox: it no longer counts
        await self.channel_layer.send(event["by"], {"type": "terminal.released"})

    async def terminal_released(self, event: dict) -> None:
        """The earlier socket of this tab has detached (see `_take_over`)."""
        if self._released is not None:
            self._released.set()

    async def _resized(self, *, cols: int, rows: int) -> None:
        # A watcher draws at the attendee's size: the one it finds when it starts, then each new one.
        await in_thread(terminal_size_record, attendee_id=self.attendee.id, cols=cols, rows=rows)
        await self.channel_layer.group_send(
            terminal_watchers_group(self.attendee.id), {"type": "terminal.resized", "cols": cols, "rows": rows}
        )

    async def disconnect(self, code) -> None:
        await super().disconnect(code)
        if self.tab is not None and self.attendee is not None and not self._replaced:
            await in_thread(terminal_tab_release, attendee_id=self.attendee.id, tab=self.tab, channel=self.channel_name)

    async def terminal_watched(self, event: dict) -> None:
        """Someone started or stopped watching: say how many watch now (as the sandbox counts them)."""
        if self.pipe is not None:
            status = await terminal_status_of(attendee=self.attendee)
            await self._json(protocol.watched(watching=status.watching))
