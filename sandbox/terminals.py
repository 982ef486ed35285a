"""An attendee's terminal: which sandbox it attaches to, its limits, and the bytes between the PTY and the page.

`terminal_attach` gives the attendee a terminal in their own sandbox (created first when they have none,
as a first run would); `terminal_watch` gives the presenter a read-only view of an attendee's open
session. Either returns a `TerminalPipe`, which carries the bytes:

- from the PTY to the page, with flow control: a reader thread stops reading the exec socket while the
  page has more than PODIUM_TERMINAL_WINDOW bytes it has not acknowledged, so a slow browser never grows
  the server's memory (the PTY then blocks the program that writes, as a slow terminal would);
- from the page to the PTY, each message at most PODIUM_TERMINAL_INPUT_MAX bytes;
- and it ends the terminal after PODIUM_TERMINAL_IDLE seconds without a keystroke.

The consumers (`sandbox.terminal_consumers`, `rooms.terminal_consumers`) only translate messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable

from channels.db import database_sync_to_async
from django.conf import settings

from sandbox.admission import sandbox_admission_check
from sandbox.backends import backend_get
from sandbox.backends.base import Terminal, TerminalRequest, TerminalStatus
from sandbox.errors import RunRefused, SandboxError, SandboxNotFound
from sandbox.executor import in_thread
from sandbox.limits import sandboxes_rate_hit
from sandbox.models import Attendee, Sandbox
from sandbox.sandboxes import sandbox_ensure, sandbox_gone_mark, sandbox_is_live
from sandbox.selectors import sandbox_of

MIN_SIZE, MAX_SIZE = 2, 1000  # columns and rows a page may ask for


def terminal_size(cols: object, rows: object) -> tuple[int, int]:
    """The (cols, rows) a page asked for, as whole numbers within reason; RunRefused "bad-request" otherwise."""
    if not all(isinstance(n, int) and not isinstance(n, bool) and MIN_SIZE <= n <= MAX_SIZE for n in (cols, rows)):
        raise RunRefused(
            "bad-request", f'Say the size in characters: {{"cols": 80, "rows": 24}} ({MIN_SIZE}-{MAX_SIZE}).'
        )
    return cols, rows


async def terminal_attach(
    *, attendee: Attendee, client: str, cols: int, rows: int, address: str, setup_status: Callable[[str], None]
) -> TerminalPipe:
    """A terminal in the attendee's own sandbox (made now when they have none), as a pipe not yet started.

    Refuses (RunRefused) what a run would refuse (the room's admission, the new-sandbox rate) and a terminal
    past PODIUM_TERMINALS_PER_ATTENDEE open at once; SandboxError when the sandbox cannot be made.
    """
    await database_sync_to_async(_admit)(attendee=attendee, address=address)
    sandbox = await sandbox_ensure(attendee=attendee, setup_status=setup_status, trust_ready=True)
    backend = await in_thread(backend_get)
    try:
        status = await in_thread(backend.terminal_status, state=sandbox.state)
    except SandboxNotFound:  # the ready row was trusted, and the sandbox had gone: make it again
        await database_sync_to_async(sandbox_gone_mark)(sandbox_id=sandbox.id, state=sandbox.state)
        sandbox = await sandbox_ensure(attendee=attendee, setup_status=setup_status)
        status = await in_thread(backend.terminal_status, state=sandbox.state)
    limit = settings.PODIUM_TERMINALS_PER_ATTENDEE
    if status.typing >= limit:
        raise RunRefused(
            "limit",
            f"You have {status.typing} terminal(s) open already, the most one attendee may have at once "
            f"(PODIUM_TERMINALS_PER_ATTENDEE={limit}). Close one, in another tab or window, and open this again.",
        )
    request = TerminalRequest(client=client, cols=cols, rows=rows, keep=settings.PODIUM_TERMINAL_KEEP)
    terminal = await in_thread(backend.terminal_open, state=sandbox.state, request=request)
    return TerminalPipe(terminal, idle=settings.PODIUM_TERMINAL_IDLE)


async def terminal_watch(*, attendee: Attendee, client: str, cols: int, rows: int) -> TerminalPipe:
    """A read-only view of the attendee's open terminal session (for the presenter), as a pipe not yet started.

    RunRefused "not-found" when the attendee has no sandbox or no terminal session open. Never idles out.
    """
    sandbox = await database_sync_to_async(sandbox_of)(attendee=attendee)
    if sandbox is None or sandbox.status != Sandbox.Status.READY or not sandbox.state:
        raise RunRefused("not-found", f"{attendee.display_name or 'This attendee'} has no sandbox yet.")
    backend = await in_thread(backend_get)
    request = TerminalRequest(client=client, cols=cols, rows=rows, watch=True, keep=settings.PODIUM_TERMINAL_KEEP)
    try:
        terminal = await in_thread(backend.terminal_open, state=sandbox.state, request=request)
    except SandboxNotFound:
        raise RunRefused("not-found", f"{attendee.display_name or 'This attendee'} has no terminal open.") from None
    return TerminalPipe(terminal, idle=0)


async def terminal_status_of(*, attendee: Attendee) -> TerminalStatus:
    """The attendee's terminal session as the sandbox has it (who is attached); empty without a sandbox."""
    sandbox = await database_sync_to_async(sandbox_of)(attendee=attendee)
    if sandbox is None or not sandbox.state:
        return TerminalStatus()
    backend = await in_thread(backend_get)
    try:
        return await in_thread(backend.terminal_status, state=sandbox.state)
    except SandboxError:
        return TerminalStatus()


def _admit(*, attendee: Attendee, address: str) -> None:
    sandbox_admission_check(attendee=attendee)
    if not sandbox_is_live(attendee=attendee):
        sandboxes_rate_hit(attendee=attendee, address=address)


class TerminalPipe:
    """One socket's terminal: output to `send` with flow control, input from the page, the idle timeout.

    `run(send)` returns how the terminal ended: "exited" (the shell ended, or the sandbox went) or "idle".
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
        self._typed = asyncio.Event()
        self._closed = False

    @property
    def unacknowledged(self) -> int:
        """Bytes sent to the page that it has not acknowledged yet (at most a window and one read more)."""
        return self._unacked

    async def run(self, send: Callable[[bytes], Awaitable[None]]) -> str:
        """Carry output to `send` until the terminal ends or idles out; returns "exited" or "idle"."""
        loop = asyncio.get_running_loop()
        reader = threading.Thread(target=self._read, args=(loop,), name="podium-terminal", daemon=True)
        reader.start()
        idle = asyncio.create_task(self._idle_watch()) if self.idle > 0 else None
        output = asyncio.create_task(self._forward(send))
        try:
            done, _ = await asyncio.wait([t for t in (idle, output) if t], return_when=asyncio.FIRST_COMPLETED)
            return "idle" if idle in done else "exited"
        finally:
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
            while not self._chunks.empty():  # what came meanwhile goes in one frame
                more = self._chunks.get_nowait()
                if more is None:
                    await send(b"".join(parts))
                    return
                parts.append(more)
            await send(b"".join(parts))

    async def _idle_watch(self) -> None:
        while True:
            self._typed.clear()
            try:
                await asyncio.wait_for(self._typed.wait(), timeout=self.idle)
            except TimeoutError:
                return

    def _read(self, loop: asyncio.AbstractEventLoop) -> None:
        # A thread of its own: the read blocks for as long as the terminal prints nothing.
        while True:
            self._may_read.wait()
            data = self.terminal.read()
            if not data:
                break
            with self._lock:
                self._unacked += len(data)
                if self._unacked >= self.window:
                    self._may_read.clear()  # the page lags: stop reading until it catches up
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

    async def type(self, data: bytes) -> None:
        """Send the page's keystrokes (or paste) to the PTY; RunRefused "too-large" past PODIUM_TERMINAL_INPUT_MAX."""
        limit = settings.PODIUM_TERMINAL_INPUT_MAX
        if len(data) > limit:
            raise RunRefused(
                "too-large",
                f"That paste is {len(data):,} bytes; the terminal takes at most {limit:,} at once "
                "(PODIUM_TERMINAL_INPUT_MAX). Paste it in parts, or put it in a file with a Run.",
            )
        self._typed.set()
        await in_thread(self.terminal.write, data)

    async def resize(self, *, cols: int, rows: int) -> None:
        """Resize the PTY (the shell and `tput cols` follow)."""
        await in_thread(self.terminal.resize, cols=cols, rows=rows)

    async def close(self) -> None:
        """Detach; the session lives on for PODIUM_TERMINAL_KEEP seconds. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._may_read.set()  # a reader paused for the page wakes, finds the socket closed and ends
        await in_thread(self.terminal.close)
