"""An attendee's terminal: which sandbox it attaches to, its limits, and the bytes between the PTY and the page.

`terminal_attach` gives the attendee a terminal in their own sandbox (created first when they have none,
as a first run would); `terminal_watch` gives the presenter a read-only view of an attendee's open
session. Either returns a `TerminalPipe` (`sandbox.terminal_pipe`), which carries the bytes both ways
with flow control, caps each input message at PODIUM_TERMINAL_INPUT_MAX bytes and ends the terminal after
PODIUM_TERMINAL_IDLE seconds without a keystroke.

The consumers (`sandbox.terminal_consumers`, `rooms.terminal_consumers`) only translate messages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from channels.db import database_sync_to_async
from django.conf import settings

from sandbox.admission import sandbox_admission_check
from sandbox.backends import backend_get
from sandbox.backends.base import TerminalRequest, TerminalStatus
from sandbox.errors import RunRefused, SandboxError, SandboxNotFound
from sandbox.executor import in_thread
from sandbox.limits import sandboxes_rate_hit, terminals_rate_hit
from sandbox.models import Attendee, Sandbox
from sandbox.sandboxes import sandbox_ensure, sandbox_gone_mark, sandbox_is_live
from sandbox.selectors import sandbox_of
from sandbox.terminal_pipe import TerminalPipe

MIN_SIZE, MAX_SIZE = 2, 1000  # columns and rows a page may ask for


def terminal_size(cols: object, rows: object) -> tuple[int, int]:
    """The (cols, rows) a page asked for, as whole numbers within reason; RunRefused "bad-request" otherwise."""
    if not all(isinstance(n, int) and not isinstance(n, bool) and MIN_SIZE <= n <= MAX_SIZE for n in (cols, rows)):
        raise RunRefused(
            "bad-request", f'Say the size in characters: {{"cols": 80, "rows": 24}} ({MIN_SIZE}-{MAX_SIZE}).'
        )
    return cols, rows


async def terminal_attach(
    *,
    attendee: Attendee,
    client: str,
    cols: int,
    rows: int,
    address: str,
    setup_status: Callable[[str], None],
    make_room: Callable[[], Awaitable[bool]] | None = None,
) -> TerminalPipe:
    """A terminal in the attendee's own sandbox (made now when they have none), as a pipe not yet started.

    Refuses (RunRefused) what a run would refuse (the room's admission, the new-sandbox rate), opens past
    PODIUM_RATE_TERMINALS_PER_* and a terminal past PODIUM_TERMINALS_PER_ATTENDEE open at once; SandboxError
    when the sandbox cannot be made. At that limit, `make_room` (when given) may end one of the attendee's
    attaches first (a dead page's): it returns True when it did, and the attaches are counted again.
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
    if status.typing >= limit and make_room is not None and await make_room():
        status = await in_thread(backend.terminal_status, state=sandbox.state)
    if status.typing >= limit:
        raise RunRefused(
            "limit",
            f"You have {status.typing} terminal{'' if status.typing == 1 else 's'} open already, the most one "
            "attendee may have at once "
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
    terminals_rate_hit(attendee=attendee, address=address)
    if not sandbox_is_live(attendee=attendee):
        sandboxes_rate_hit(attendee=attendee, address=address)
