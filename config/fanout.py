"""One channel-layer subscription per group and process, fanned out to that process's sockets.

A talk's followers all get the same message (the presenter's slide, the
presenter's run output). Joined to the group one by one, every follower costs
the channel layer a message of its own (a deep copy and a task each in the
in-memory layer, which also scans every channel on every receive; a Redis push
each in the Redis layer), and every delivery goes through that consumer's
dispatch, including Channels' hop to a thread to close old database
connections. At a thousand followers that is most of the time a slide change
takes.

Here the process subscribes once: the first local socket to join a group
opens a channel of the process's own in that group, one task reads it, renders
each message once (`render(event)` → a JSON-able dict, bytes to send as they
are in a binary frame, or None to drop it), encodes it once, and sends the same
frame to every local socket of the group, in the order the layer delivered the
messages. Under daphne the websocket frame itself is built once too and written
to each connection (`config.frames`), so a socket costs a write, not a trip
through the consumer, the session middleware, daphne, autobahn and Twisted's
write buffer. When the last local socket
leaves, the subscription goes. Senders are unchanged: they `group_send` to the
group as before, so sockets in other processes (Redis) get it through their
own process's subscription.

A join returns once the subscription is in the group, so a socket that joins
before reading state never misses a message sent after its read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from collections.abc import Callable

from channels.layers import get_channel_layer

from config.frames import FrameWriter, frame_writer, message_frame

log = logging.getLogger(__name__)

Render = Callable[[dict], dict | bytes | None]
REFRESH_SECONDS = 3600.0  # layers forget group members after a day (group_expiry); the subscription renews hourly


class _Fanout:
    """The subscription of one group in this process, and the sockets it serves."""

    def __init__(self, group: str, render: Render) -> None:
        self.group = group
        self.render = render
        self.layer = get_channel_layer()
        self.loop = asyncio.get_running_loop()
        self.sockets: dict = {}  # socket → its FrameWriter (None: sent the ASGI way), in the order they joined
        self.channel = ""
        self.tasks: list[asyncio.Task] = []

    def usable(self) -> bool:
        return self.loop is asyncio.get_running_loop() and self.layer is get_channel_layer() and not self.closed

    @property
    def closed(self) -> bool:
        return any(task.done() for task in self.tasks)

    async def open(self) -> None:
        self.channel = await self.layer.new_channel()
        await self.layer.group_add(self.group, self.channel)
        self.tasks = [
            asyncio.create_task(self._read(), name=f"fanout-{self.group}"),
            asyncio.create_task(self._renew(), name=f"fanout-renew-{self.group}"),
        ]

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.channel:
            with contextlib.suppress(Exception):
                await self.layer.group_discard(self.group, self.channel)

    async def _read(self) -> None:
        while True:
            event = await self.layer.receive(self.channel)
            try:
                message = self.render(event)
            except Exception:
                log.exception("fanout of %s: cannot render %r", self.group, event.get("type"))
                continue
            if message is None:
                continue
            await self._deliver(message if isinstance(message, bytes) else json.dumps(message))

    async def _deliver(self, message: str | bytes) -> None:
        """Send `message` to every socket: a text frame for a str, a binary frame for bytes."""
        frame = None
        for socket, writer in list(self.sockets.items()):
            try:
                if writer is not None:
                    if frame is None:
                        frame = message_frame(message)
                    if writer.write(frame):
                        continue
                if isinstance(message, bytes):
                    await socket.send(bytes_data=message)
                else:
                    await socket.send(text_data=message)
            except Exception:  # a socket closing meanwhile; it leaves on its own disconnect
                log.debug("fanout of %s: a send failed", self.group, exc_info=True)

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            await self.layer.group_add(self.group, self.channel)


_fanouts: dict[str, _Fanout] = {}
_locks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # event loop → its lock (tests run many loops)


def _guard() -> asyncio.Lock:
    return _locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())


async def fanout_join(group: str, socket, *, render: Render) -> None:
    """Deliver `group`'s messages to `socket` (a websocket consumer: `await socket.send(text_data=...)`, or bytes_data).

    Returns once this process's subscription to the group is in place.
    """
    async with _guard():
        fanout = _fanouts.get(group)
        if fanout is None or not fanout.usable():
            if fanout is not None:  # left over from another loop or layer (tests), or its reader died
                await fanout.close()
            fanout = _fanouts[group] = _Fanout(group, render)
            await fanout.open()
        writer: FrameWriter | None = frame_writer(getattr(socket, "scope", None) or {})
        fanout.sockets[socket] = writer


async def fanout_leave(group: str, socket) -> None:
    """Stop delivering `group`'s messages to `socket`; the last socket to leave ends the subscription."""
    async with _guard():
        fanout = _fanouts.get(group)
        if fanout is None:
            return
        fanout.sockets.pop(socket, None)
        if not fanout.sockets:
            del _fanouts[group]
            await fanout.close()


def fanout_sockets(group: str) -> int:
    """How many sockets of this process receive `group` through its subscription (0 when none)."""
    fanout = _fanouts.get(group)
    return len(fanout.sockets) if fanout is not None else 0


def fanout_groups(prefix: str = "") -> dict[str, int]:
    """{group: sockets of this process receiving it} for every subscribed group whose name starts with `prefix`."""
    return {group: len(fanout.sockets) for group, fanout in _fanouts.items() if group.startswith(prefix)}
