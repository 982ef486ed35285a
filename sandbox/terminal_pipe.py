"""The bytes of one terminal socket: from the PTY to the page with flow control, from the page to the PTY, and
the idle timeout.

Output is read in one of two ways, whichever the backend's terminal allows:
- from its raw socket on the event loop (`Terminal.raw_socket`, the Docker exec's): no thread between a
  keystroke and its echo;
- else by a thread of its own blocked in `Terminal.read` (the Kubernetes exec's websocket client).
Either way reading stops while the page has more than PODIUM_TERMINAL_WINDOW bytes it has not acknowledged,
and goes on once it has caught up to half of that: a slow browser never grows the server's memory, and the
PTY then holds up the program that writes, as a slow terminal would. The page acknowledges in steps of an
eighth of the window (`ack_every`), not every frame: a keystroke's echo then brings no ack to process, and
reading always resumes (what the page holds back is less than half a window).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable

from django.conf import settings

from sandbox.backends.base import Terminal
from sandbox.errors import RunRefused, SandboxError
from sandbox.executor import in_thread

READ_SIZE = 64 * 1024


class TerminalPipe:
    """One socket's terminal: output to `send` with flow control, input from the page, the idle timeout.

    `run(send)` returns how the terminal ended: "exited" (the shell ended, or the sandbox went) or "idle"
    (`idle` seconds without a keystroke; 0: never).
    """

    def __init__(self, terminal: Terminal, *, idle: float) -> None:
        self.terminal = terminal
        self.window = settings.PODIUM_TERMINAL_WINDOW
        self.idle = idle
        self._unacked = 0
        self._lock = threading.Lock()
        self._may_read = threading.Event()
        self._may_read.set()
        self._chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._typed_at = 0.0  # the event loop's time of the last keystroke
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._raw = terminal.raw_socket()
        self._reading = False  # raw mode: whether the loop watches the socket
        self._write: Callable[[bytes], bool] | None = None
        self._forwarding = False  # the forward task is sending
        self._typing = False  # raw mode: keys are on their way to the PTY through `type`

    @property
    def ack_every(self) -> int:
        """How many shown bytes the page may gather before it acknowledges them (an eighth of the window)."""
        return max(1, self.window // 8)

    @property
    def unacknowledged(self) -> int:
        """Bytes sent to the page that it has not acknowledged yet (at most a window and one read more)."""
        return self._unacked

    async def run(
        self, send: Callable[[bytes], Awaitable[None]], *, write: Callable[[bytes], bool] | None = None
    ) -> str:
        """Carry output to `send` until the terminal ends or idles out; returns "exited" or "idle".

        `write`, when given, puts output on the connection at once (False when it cannot): raw mode uses it
        for what it reads while nothing else is on its way, so an echo leaves without a task's turn."""
        self._loop = asyncio.get_running_loop()
        self._write = write
        if self._raw is not None:
            self._raw.setblocking(False)
            self._read_resume()
        else:
            threading.Thread(target=self._read_thread, name="podium-terminal", daemon=True).start()
        idle = asyncio.create_task(self._idle_watch()) if self.idle > 0 else None
        output = asyncio.create_task(self._forward(send))
        try:
            done, _ = await asyncio.wait([t for t in (idle, output) if t], return_when=asyncio.FIRST_COMPLETED)
            return "idle" if idle in done else "exited"
        finally:
            self._read_pause()
            for task in (idle, output):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    async def _forward(self, send: Callable[[bytes], Awaitable[None]]) -> None:
        while True:
            chunk = await self._chunks.get()
            if chunk is None:
                return
            parts = [chunk]
            self._forwarding = True  # until sent, later output must not overtake this
            try:
                while not self._chunks.empty():  # what came meanwhile goes in one frame
                    more = self._chunks.get_nowait()
                    if more is None:
                        await send(b"".join(parts))
                        return
                    parts.append(more)
                await send(b"".join(parts))
            finally:
                self._forwarding = False

    async def _idle_watch(self) -> None:
        # A keystroke only notes the time (nothing wakes per key); this sleeps until the time runs out from then.
        loop = asyncio.get_running_loop()
        self._typed_at = loop.time()
        while True:
            left = self._typed_at + self.idle - loop.time()
            if left <= 0:
                return
            await asyncio.sleep(left)

    # -- raw mode: the event loop reads the exec's socket -----------------------------------------------
    def _readable(self) -> None:
        try:
            data = self._raw.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._read_pause()
            self._chunks.put_nowait(None)
            return
        self._unacked += len(data)
        if self._unacked >= self.window:
            self._read_pause()  # the page lags: stop reading until it catches up
        if self._write is not None and not self._forwarding and self._chunks.empty() and self._write(data):
            return
        self._chunks.put_nowait(data)

    def _read_resume(self) -> None:
        if not self._reading and not self._closed and self._loop is not None:
            self._loop.add_reader(self._raw.fileno(), self._readable)
            self._reading = True

    def _read_pause(self) -> None:
        if self._reading and self._loop is not None:
            with contextlib.suppress(ValueError, OSError):  # a socket closed meanwhile
                self._loop.remove_reader(self._raw.fileno())
            self._reading = False

    # -- thread mode: a thread of its own blocks in Terminal.read ------------------------------------------
    def _read_thread(self) -> None:
        loop = self._loop
        while True:
            self._may_read.wait()
            data = self.terminal.read()
            if not data:
                break
            with self._lock:
                self._unacked += len(data)
                if self._unacked >= self.window:
                    self._may_read.clear()
            with contextlib.suppress(RuntimeError):  # the loop closed
                loop.call_soon_threadsafe(self._chunks.put_nowait, data)
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._chunks.put_nowait, None)

    def acknowledge(self, count: object) -> None:
        """The page has shown `count` more bytes; reading resumes once less than half a window is unshown."""
        if isinstance(count, bool) or not isinstance(count, int) or count <= 0:
            return
        with self._lock:
            self._unacked = max(0, self._unacked - count)
            if self._unacked <= self.window // 2:
                self._may_read.set()
                if self._raw is not None:
                    self._read_resume()

    def type_now(self, data: bytes) -> bool:
        """Type `data` at once, without a turn of the loop, when it can go to the PTY whole and in order (raw
        mode, nothing being typed the slow way, within the input cap); False: `type` it instead."""
        if self._raw is None or self._loop is None or self._closed or self._typing:
            return False
        if len(data) > settings.PODIUM_TERMINAL_INPUT_MAX:
            return False  # `type` says which limit it hit
        try:
            sent = self._raw.send(data)
        except OSError:  # full (`type` waits), or gone (`type` ends the terminal in words)
            return False
        self._typed_at = self._loop.time()
        if sent < len(data):  # the PTY's side is full: the rest the slow way, ahead of anything typed later
            self._typing = True
            task = self._loop.create_task(self.type(data[sent:]))
            task.add_done_callback(lambda done: done.cancelled() or done.exception())
        return True

    async def type(self, data: bytes) -> None:
        """Send the page's keystrokes (or paste) to the PTY; RunRefused "too-large" past PODIUM_TERMINAL_INPUT_MAX."""
        limit = settings.PODIUM_TERMINAL_INPUT_MAX
        if len(data) > limit:
            raise RunRefused(
                "too-large",
                f"That paste is {len(data):,} bytes; the terminal takes at most {limit:,} at once "
                "(PODIUM_TERMINAL_INPUT_MAX). Paste it in parts, or put it in a file with a Run.",
            )
        if self._loop is not None:
            self._typed_at = self._loop.time()
        if self._raw is not None and self._loop is not None:
            self._typing = True  # until sent: `type_now` must not overtake it
            try:
                await self._loop.sock_sendall(self._raw, data)
            except OSError as error:
                raise SandboxError(
                    f"typing into a terminal failed: {error}", user_message="The terminal ended."
                ) from None
            finally:
                self._typing = False
            return
        await in_thread(self.terminal.write, data)

    async def resize(self, *, cols: int, rows: int) -> None:
        """Resize the PTY (the shell and `tput cols` follow)."""
        await in_thread(self.terminal.resize, cols=cols, rows=rows)

    async def close(self) -> None:
        """Detach; the session lives on for PODIUM_TERMINAL_KEEP seconds. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._read_pause()
        self._may_read.set()  # a reader thread paused for the page wakes, finds the socket closed and ends
        await in_thread(self.terminal.close)
        if self._raw is not None:
            self._chunks.put_nowait(None)  # raw mode has no reader left to say the end
