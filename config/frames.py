"""One websocket text message for many sockets: the frame is built once and written to each connection.

Sent the ASGI way, every socket costs the same work again for the same text:
the consumer's `send`, the session middleware's check of the session, daphne's
reply handling, autobahn's UTF-8 encoding and framing (and its debug-log
arguments, formatted even when nobody logs), then Twisted's write buffer,
which registers the socket with the event loop and writes it on a later
turn of the loop, then unregisters it. At a thousand followers of a talk
that was most of a slide change (`config.fanout`).

A server's frame of a text message is the same bytes for every socket (no
mask, RFC 6455 §5.1), so `message_frame` builds it once and `FrameWriter.write`
puts it on each connection: straight into the kernel's socket buffer when
Twisted has nothing waiting for that socket (what Twisted would do a turn
later), else behind what is waiting, through Twisted, so a socket's messages
never overtake each other. A run's output (megabytes a second to one socket)
takes the same way as the parts of its frame (`binary_frame`), written with
one `sendmsg` and never joined: the ASGI way copied each byte three times more.

The writer of a socket comes from the `FrameWriters` ASGI middleware
(config/asgi.py), which recognises daphne's connection behind the `send` it
is given. Under another server, or a test's communicator, there is none and
callers send the ASGI way (`frame_writer` returns None).
"""

from __future__ import annotations

import functools
import struct
import time
from collections.abc import Callable

try:  # daphne is the server Podium ships with; without it every socket is sent the ASGI way
    from autobahn.websocket.protocol import WebSocketProtocol as _Autobahn
    from daphne.ws_protocol import WebSocketProtocol as _DaphneSocket
except ImportError:  # pragma: no cover
    _Autobahn = _DaphneSocket = None

SCOPE_KEY = "podium.frame_writer"
_TEXT_FIN = 0x81  # FIN, opcode 1 (text)
_BINARY_FIN = 0x82  # FIN, opcode 2 (binary)


def message_frame(message: str | bytes) -> bytes:
    """The unmasked, unfragmented websocket frame a server sends for `message`: a text frame for a str, a
    binary frame for bytes."""
    first, payload = (_TEXT_FIN, message.encode("utf-8")) if isinstance(message, str) else (_BINARY_FIN, message)
    return frame_header(first, len(payload)) + payload


def binary_frame(*parts: bytes) -> tuple[bytes, ...]:
    """The frame of a binary message made of `parts`, as its header and the parts: `FrameWriter.write` sends
    them with one system call, without joining them (a run's output is megabytes a second)."""
    return (frame_header(_BINARY_FIN, sum(map(len, parts))), *parts)


def frame_header(first: int, size: int) -> bytes:
    if size <= 125:
        return struct.pack("!BB", first, size)
    if size <= 0xFFFF:
        return struct.pack("!BBH", first, 126, size)
    return struct.pack("!BBQ", first, 127, size)


class FrameWriter:
    """Writes ready-made frames to one daphne websocket connection."""

    __slots__ = ("protocol",)

    def __init__(self, protocol) -> None:
        self.protocol = protocol

    def write(self, frame: bytes | tuple[bytes, ...]) -> bool:
        """Put `frame` (bytes, or the parts `binary_frame` gives) on the connection; False when it cannot take a
        ready-made frame (send it the ASGI way).

        A connection that is closing drops it, as daphne drops a send to a closed socket (True).
        """
        protocol = self.protocol
        if protocol._perMessageCompress is not None or protocol.send_queue:
            return False  # compressed frames differ per socket; autobahn's own queue must keep its order
        if protocol.state != _Autobahn.STATE_OPEN:
            return True
        parts = (frame,) if isinstance(frame, bytes) else frame
        transport = protocol.transport
        if (
            transport is None
            or not transport.connected
            or transport.disconnecting
            or getattr(transport, "TLS", False)
            or transport._tempDataBuffer
            or len(transport.dataBuffer) > transport.offset
        ):
            if transport is not None:
                transport.writeSequence(parts)  # behind what waits (or Twisted's TLS), in order
            return True
        try:
            sent = transport.socket.sendmsg(parts)
        except BlockingIOError:
            sent = 0
        except OSError:  # the peer went away: Twisted notices it on its own write and closes the connection
            sent = 0
        rest = _after(parts, sent)
        if rest:
            transport.writeSequence(rest)
        return True

    def take_binary(self, take: Callable[[bytes], bool] | None) -> None:
        """Offer the connection's binary messages to `take` as they arrive, on daphne's own turn of the loop;
        one that `take` returns False for (or any that has messages queued ahead of it, so none overtakes
        another) goes to the consumer the ASGI way. None: every message the ASGI way again.

        A keystroke then reaches the terminal with no queue, task or turn of the loop between (the terminal
        socket's direct typing, sandbox/terminal_consumers.py)."""
        protocol = self.protocol
        if take is None:
            protocol.__dict__.pop("onMessage", None)
            protocol.__dict__.pop("dataReceived", None)
            return
        queued = type(protocol).onMessage.__get__(protocol)
        parsed = type(protocol).dataReceived.__get__(protocol)

        def on_message(payload, is_binary: bool) -> None:
            if is_binary and not protocol.muted and not protocol.application_queue.qsize() and take(payload):
                protocol.last_ping = time.time()  # as daphne's own onMessage: the client is alive
                return
            queued(payload, is_binary)

        def data_received(data: bytes) -> None:
            # A read that is exactly one small binary frame, with autobahn between frames (a keystroke): read
            # here. Autobahn's parser costs more than the rest of an echo's way through this process (and its
            # debug line is formatted on every read, logged or not). Anything else is autobahn's to parse.
            payload = _small_binary(data) if not protocol.data and protocol.current_frame is None else None
            if payload is None or protocol.state != _Autobahn.STATE_OPEN or protocol.inside_message:
                parsed(data)
            else:
                on_message(payload, True)

        protocol.onMessage = on_message
        protocol.dataReceived = data_received


def _small_binary(data: bytes) -> bytes | None:
    """The payload when `data` is exactly one masked, final binary frame of 1 to 125 bytes (what a client sends
    for a keystroke, RFC 6455 §5.2), unmasked; None for anything else."""
    size = len(data) - 6
    if not 0 < size <= 125 or data[0] != _BINARY_FIN or data[1] != 0x80 | size:
        return None
    key = data[2:6] * (size // 4 + 1)
    return (int.from_bytes(data[6:], "big") ^ int.from_bytes(key[:size], "big")).to_bytes(size, "big")


def _after(parts: tuple[bytes, ...], sent: int) -> list[bytes]:
    """What of `parts` is left once their first `sent` bytes went out."""
    for index, part in enumerate(parts):
        if sent < len(part):
            return [part[sent:] if sent else part, *parts[index + 1 :]]
        sent -= len(part)
    return []


def frame_writer(scope: dict) -> FrameWriter | None:
    """The frame writer of the websocket `scope` belongs to, or None (send the ASGI way)."""
    return scope.get(SCOPE_KEY)


class FrameWriters:
    """ASGI middleware: gives a websocket's scope its `FrameWriter` when daphne serves it."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and _DaphneSocket is not None:
            # daphne hands each connection functools.partial(server.handle_reply, protocol)
            protocol = send.args[0] if isinstance(send, functools.partial) and send.args else None
            if isinstance(protocol, _DaphneSocket):
                scope = {**scope, SCOPE_KEY: FrameWriter(protocol)}
        return await self.app(scope, receive, send)
