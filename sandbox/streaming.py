"""Carrying one run's output from a backend thread to the attendee's browsers, in order, in few messages.

A backend calls `on_output` from the thread that runs it; the event loop must
not be touched from there, so each chunk crosses with
`loop.call_soon_threadsafe` into an asyncio queue. One pump task empties the
queue and sends, so everything of a run leaves in the order it happened.

Chunks of the same stream are batched: a message leaves at once when nothing
was sent for `interval` seconds (the first bytes of a run are never held
back), else when `interval` has passed or `chunk_max` bytes are waiting. Each
`run.output` message carries a sequence number, 1, 2, 3… with no gaps, and
text decoded as UTF-8 (a character split across chunks is kept whole; bytes
that are not UTF-8 become U+FFFD).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime

from django.utils import timezone

from sandbox import protocol

CHUNK_MAX = 64 * 1024
INTERVAL = 0.05

_END = object()


class RunStream:
    """The ordered path of one run's events (output and the sandbox's setup status) to its group.

    `send(event)` delivers one event (a dict with a dotted "type"). Output past
    `output_cap` bytes is dropped and `truncated` set; `text()` is what was sent.
    """

    def __init__(
        self,
        *,
        run_id: str,
        send: Callable[[dict], Awaitable[None]],
        output_cap: int,
        chunk_max: int = CHUNK_MAX,
        interval: float = INTERVAL,
    ) -> None:
        self.run_id = run_id
        self.send = send
        self.output_cap = output_cap
        self.chunk_max = chunk_max
        self.interval = interval
        self.seq = 0
        self.received = 0  # bytes kept (at most output_cap)
        self.truncated = False
        self._parts: list[str] = []
        self._decoders = {
            name: codecs.getincrementaldecoder("utf-8")(errors="replace") for name in ("stdout", "stderr")
        }
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue = asyncio.Queue()
        self._stream: str | None = None
        self._buffer = bytearray()
        self._last_sent = float("-inf")
        self.first_output_at: datetime | None = None  # when the first output left for the browsers
        self._task = asyncio.create_task(self._pump())

    # -- called from backend threads ------------------------------------------------------------
    def output(self, stream: str, data: bytes) -> None:
        """Queue a chunk of output (the backend's `on_output`); safe to call from any thread."""
        self._threadsafe(("output", stream, bytes(data)))

    def setup_status(self, message: str) -> None:
        """Queue a sentence of the sandbox's setup status (the backend's `progress` callback); safe from any thread."""
        self._threadsafe(("event", protocol.setup_status(message=message)))

    def _threadsafe(self, item: object) -> None:
        # A loop that has gone away (server shutting down) has nobody left to tell.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    # -- called on the event loop -------------------------------------------------------------
    # These queue through call_soon as well: the loop runs callbacks in the order they were
    # scheduled, so an event or the end never overtakes output a thread handed over before.
    def event(self, event: dict) -> None:
        """Queue an event to leave after everything queued before it."""
        self._loop.call_soon(self._queue.put_nowait, ("event", event))

    async def close(self) -> None:
        """Send what is still waiting (completing split characters) and stop the pump."""
        self._loop.call_soon(self._queue.put_nowait, _END)
        await self._task

    def text(self) -> str:
        """All output sent so far, both streams interleaved as it arrived."""
        return "".join(self._parts)

    async def _pump(self) -> None:
        while True:
            item = await self._next()
            if item is None:  # the batch waited long enough
                await self._flush()
                continue
            if item is _END:
                await self._flush()
                await self._flush_decoders()
                return
            if item[0] == "event":
                await self._flush()
                await self.send(item[1])
                continue
            _, stream, data = item
            data = self._cap(data)
            if not data:
                continue
            if self._stream != stream:
                await self._flush()
                self._stream = stream
            self._buffer += data
            while len(self._buffer) >= self.chunk_max:
                await self._flush(limit=self.chunk_max)

    async def _next(self) -> object | None:
        """The next queued item, or None when the waiting batch is due before one arrives."""
        with contextlib.suppress(asyncio.QueueEmpty):
            return self._queue.get_nowait()
        if not self._buffer:
            return await self._queue.get()
        due = self._last_sent + self.interval - self._loop.time()
        if due <= 0:
            return None
        try:
            return await asyncio.wait_for(self._queue.get(), due)
        except TimeoutError:
            return None

    def _cap(self, data: bytes) -> bytes:
        room = self.output_cap - self.received
        if len(data) > room:
            self.truncated = True
            data = data[: max(room, 0)]
        self.received += len(data)
        return data

    async def _flush(self, limit: int | None = None) -> None:
        if not self._buffer or self._stream is None:
            return
        size = len(self._buffer) if limit is None else limit
        data, self._buffer = bytes(self._buffer[:size]), self._buffer[size:]
        await self._emit(self._stream, self._decoders[self._stream].decode(data))

    async def _flush_decoders(self) -> None:
        for stream, decoder in self._decoders.items():
            await self._emit(stream, decoder.decode(b"", final=True))

    async def _emit(self, stream: str, text: str) -> None:
        if not text:
            return
        self.seq += 1
        if self.first_output_at is None:
            self.first_output_at = timezone.now()
        self._parts.append(text)
        self._last_sent = self._loop.time()
        await self.send(protocol.run_output(run_id=self.run_id, seq=self.seq, stream=stream, data=text))
