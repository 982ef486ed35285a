"""Carrying one run's output from a backend thread to the attendee's browsers, in order, in few messages.

A backend calls `on_output` from the thread that runs it; the event loop must
not be touched from there, so each chunk is appended to a list under a lock,
and the loop is woken (`loop.call_soon_threadsafe`) only when the list was
empty: a fast run hands over many chunks per wake-up instead of one each. One
pump task empties the list and sends, so everything of a run leaves in the
order it was handed over.

Chunks of the same stream are batched: a message leaves at once when nothing
was sent for `interval` seconds (the first bytes of a run are never held
back), else when `interval` has passed or `chunk_max` bytes are waiting. Each
`run.output` message carries a sequence number, 1, 2, 3… with no gaps, and
text decoded as UTF-8 (a character split across chunks is kept whole; bytes
that are not UTF-8 become U+FFFD).

What is stored of the run (`text()`) is its last `stored_max` bytes: the
page's terminal shows the last lines of a long run, and a reload shows the
stored copy, so storing (and holding in memory) more than that would only
cost time at the run's end.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime

from django.utils import timezone

from sandbox import protocol

# Every message costs the same on its way (channel layer, consumer, JSON, websocket frame, the page's
# terminal write) however big: a fast run goes out in 256 KiB messages, a quarter as many as at 64 KiB.
CHUNK_MAX = 256 * 1024
INTERVAL = 0.05

_END = object()


class RunStream:
    """The ordered path of one run's events (output and the sandbox's setup status) to its group.

    `send(event)` delivers one event (a dict with a dotted "type"). Output past
    `output_cap` bytes is dropped and `truncated` set; `text()` is the end of what
    was sent, at most `stored_max` bytes (all of it by default).
    """

    def __init__(
        self,
        *,
        run_id: str,
        send: Callable[[dict], Awaitable[None]],
        output_cap: int,
        stored_max: int | None = None,
        chunk_max: int = CHUNK_MAX,
        interval: float = INTERVAL,
    ) -> None:
        self.run_id = run_id
        self.send = send
        self.output_cap = output_cap
        self.stored_max = output_cap if stored_max is None else stored_max
        self.chunk_max = chunk_max
        self.interval = interval
        self.seq = 0
        self.received = 0  # bytes kept (at most output_cap)
        self.truncated = False
        self._parts: deque[str] = deque()  # the last texts sent, holding at least stored_max bytes if sent
        self._parts_chars = 0
        self._parts_dropped = False
        self._decoders = {
            name: codecs.getincrementaldecoder("utf-8")(errors="replace") for name in ("stdout", "stderr")
        }
        self._loop = asyncio.get_running_loop()
        self._handed: list = []  # items handed over (from any thread), not yet taken by the pump
        self._handed_lock = threading.Lock()
        self._arrived = asyncio.Event()  # set on the loop when _handed has something
        self._taken: list = []  # items the pump took, oldest last (it pops from the end)
        self._stream: str | None = None
        self._buffer = bytearray()
        self._last_sent = float("-inf")
        self.first_output_at: datetime | None = None  # when the first output left for the browsers
        self._task = asyncio.create_task(self._pump())

    # -- called from backend threads ------------------------------------------------------------
    def output(self, stream: str, data: bytes) -> None:
        """Queue a chunk of output (the backend's `on_output`); safe to call from any thread."""
        self._hand_over(("output", stream, bytes(data)))

    def setup_status(self, message: str) -> None:
        """Queue a sentence of the sandbox's setup status (the backend's `progress` callback); safe from any thread."""
        self._hand_over(("event", protocol.setup_status(message=message)))

    def _hand_over(self, item: object) -> None:
        # Events and the end take this same path, so nothing overtakes what was handed over before it.
        with self._handed_lock:
            self._handed.append(item)
            if len(self._handed) > 1:  # the loop is already woken for the first one
                return
        # A loop that has gone away (server shutting down) has nobody left to tell.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._arrived.set)

    # -- called on the event loop -------------------------------------------------------------
    def event(self, event: dict) -> None:
        """Queue an event to leave after everything queued before it."""
        self._hand_over(("event", event))

    async def close(self) -> None:
        """Send what is still waiting (completing split characters) and stop the pump."""
        self._hand_over(_END)
        await self._task

    def text(self) -> str:
        """The output sent so far, both streams interleaved as it arrived: its last `stored_max` bytes.

        When the beginning was cut off, the text starts at a line's start (a
        character is never split).
        """
        text = "".join(self._parts)
        if not self._parts_dropped and len(text) <= self.stored_max // 4:  # at most 4 bytes a character
            return text
        data = text.encode()
        if not self._parts_dropped and len(data) <= self.stored_max:
            return text
        if self.stored_max == 0:
            return ""
        kept = data[-self.stored_max :]
        at_line = len(data) == len(kept) or data[-len(kept) - 1] == 0x0A
        text = kept.decode(errors="ignore")  # drops only a character cut in two at the start
        newline = -1 if at_line else text.find("\n")
        return text[newline + 1 :] if newline < len(text) - 1 else text

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
        while not self._taken and not self._take():
            if not self._buffer:
                await self._arrived.wait()
                continue
            due = self._last_sent + self.interval - self._loop.time()
            if due <= 0:
                return None
            try:
                await asyncio.wait_for(self._arrived.wait(), due)
            except TimeoutError:
                return None
        return self._taken.pop()

    def _take(self) -> bool:
        """Move what threads handed over to the pump's side; False when there was nothing."""
        self._arrived.clear()
        with self._handed_lock:
            handed, self._handed = self._handed, []
        handed.reverse()
        self._taken = handed + self._taken
        return bool(self._taken)

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
        data = self._buffer[:size]  # one copy (bytes(...) of it would be a second), and the rest moved up
        del self._buffer[:size]
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
        self._parts_chars += len(text)
        # A character is at least one byte: parts holding stored_max characters without the first hold enough.
        while len(self._parts) > 1 and self._parts_chars - len(self._parts[0]) >= self.stored_max:
            self._parts_chars -= len(self._parts.popleft())
            self._parts_dropped = True
        self._last_sent = self._loop.time()
        await self.send(protocol.run_output(run_id=self.run_id, seq=self.seq, stream=stream, data=text))
