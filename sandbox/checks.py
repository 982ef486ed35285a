"""Step checks in a sandbox: run a deck's `!check` command and say done / not yet, with a sentence.

A check is bash, run like a shell block (`podium-run shell`, so it sees the
attendee's working directory and exported variables) but it only looks: its
first line drops the runner's exit trap, so nothing it does to `cd` or
`export` is saved. Exit status 0 means done. The sentence shown is the
check's `message=` when it passes, else the last line it printed (see
`check_outcome`); a "not yet" also carries the deck's hints for the
failures in a row so far (`Check.hints_after`). "Check my work" (`check_run`, from the runs websocket)
checks in the attendee's existing sandbox and never creates one; the
rehearsal (`sandbox.rehearse`) calls `check_execute` on its own sandbox.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from channels.db import database_sync_to_async
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from deck.parsed import Check
from sandbox import protocol
from sandbox.backends import backend_get
from sandbox.backends.base import Backend, RunRequest, RunResult, StopCheck
from sandbox.blocks import deck_for_run
from sandbox.errors import RunRefused, SandboxError, SandboxNotFound
from sandbox.executor import group_send, in_thread
from sandbox.groups import attendee_group
from sandbox.models import Attendee, Sandbox
from sandbox.progress import check_record_store
from sandbox.sandboxes import sandbox_gone_mark
from sandbox.selectors import sandbox_of
from sandbox.watchers import activity_tell_soon

log = logging.getLogger(__name__)

# Undo the shell runner's "save cwd and exports on exit" (provision/workspace/shell-prelude.sh): a check only looks.
LOOK_ONLY = "trap - EXIT\n"
MESSAGE_MAX = 300
TAIL_BYTES = 64 * 1024


class OutputTail:
    """The last TAIL_BYTES of a run's output, per stream and interleaved, collected from `on_output`."""

    def __init__(self, limit: int = TAIL_BYTES) -> None:
        self.limit = limit
        self.chunks: list[tuple[str, bytes]] = []
        self.size = 0

    def add(self, stream: str, data: bytes) -> None:
        """Keep `data` (a chunk of `stream`), dropping the oldest chunks past the limit."""
        self.chunks.append((stream, data))
        self.size += len(data)
        while self.size > self.limit and len(self.chunks) > 1:
            self.size -= len(self.chunks.pop(0)[1])

    def text(self, stream: str | None = None) -> str:
        """What was kept of `stream` (both streams in arrival order when None), decoded as UTF-8."""
        data = b"".join(chunk for name, chunk in self.chunks if stream is None or name == stream)
        return data.decode("utf-8", "replace")

    def last_lines(self, count: int, stream: str | None = None) -> list[str]:
        """The last `count` non-empty lines of `stream` (or of both)."""
        lines = [line.rstrip() for line in self.text(stream).splitlines()]
        return [line for line in lines if line.strip()][-count:]


@dataclass(frozen=True)
class CheckResult:
    """How a check ended: done or not, the sentence to show, and what the command printed (the tail)."""

    check_id: str
    done: bool
    message: str
    exit_code: int | None = None
    timed_out: bool = False
    output: str = ""


def check_request(*, check: Check, timeout: float, run_id: str | None = None) -> RunRequest:
    """The backend request that runs `check` (a look-only shell run) under `timeout` seconds."""
    return RunRequest(
        run_id=run_id or f"check-{uuid.uuid4().hex[:16]}",
        kind="shell",
        code=LOOK_ONLY + check.command,
        timeout=timeout,
        output_cap=TAIL_BYTES,
    )


def check_outcome(*, check: Check, result: RunResult, output: OutputTail, timeout: float) -> CheckResult:
    """Done or not yet, and the sentence: for done, `message=` or else the last line printed, or "Done.";
    for not yet, the last line the check printed (stdout first, then stderr), or else its `message=` as the
    goal ("Not yet: …"), or else the exit code."""
    tail = output.text()
    if result.timed_out:
        seconds = f"{timeout:g} second{'' if timeout == 1 else 's'}"
        return CheckResult(
            check.check_id, False, f"Not yet: the check did not finish within {seconds}.", None, True, tail
        )
    printed = output.last_lines(1, "stdout") or output.last_lines(1, "stderr")
    if result.exit_code == 0:
        message = check.message or (printed[0] if printed else "Done.")
        return CheckResult(check.check_id, True, _short(message), 0, False, tail)
    if printed:
        message = printed[0]
    elif check.message:
        message = f"Not yet: {check.message}"
    else:
        message = f"Not yet: the check ended with exit code {result.exit_code}."
    return CheckResult(check.check_id, False, _short(message), result.exit_code, False, tail)


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_MAX else text[: MESSAGE_MAX - 1] + "…"


def check_execute(
    *, backend: Backend, state: dict, check: Check, timeout: float, should_stop: StopCheck = lambda: False
) -> CheckResult:
    """Run `check` in the sandbox `state` of `backend` and say how it went (BLOCKS; raises SandboxError)."""
    output = OutputTail()
    request = check_request(check=check, timeout=timeout)
    result = backend.execute(state=state, request=request, on_output=output.add, should_stop=should_stop)
    return check_outcome(check=check, result=result, output=output, timeout=timeout)


def check_find(*, deck_slug: str, check_id: object) -> Check:
    """The check `check_id` (`s7b0` for a block's, `s7` for a slide's) of the deck; RunRefused saying why not."""
    shown = str(check_id)[:40]
    if not isinstance(check_id, str) or not check_id:
        raise RunRefused("bad-request", 'Say which step to check: {"type": "check", "block": "s7b0"}.')
    check = deck_for_run(deck_slug=deck_slug).check(check_id)
    if check is None:
        raise RunRefused("not-found", f"There is no check for {shown!r} in this deck.")
    return check


async def check_run(*, attendee: Attendee, check: Check) -> dict:
    """Run `check` in the attendee's sandbox and send the `check.result` to their group (also returned).

    Never creates a sandbox: without a ready one the answer is "not yet",
    saying to run the step first. Never raises for a sandbox problem; the
    answer then says what went wrong.
    """
    try:
        result = await _check_in_sandbox(attendee=attendee, check=check)
    except Exception:
        log.exception("check %s for attendee %s failed", check.check_id, attendee.id)
        result = CheckResult(check.check_id, False, "Something went wrong on the server; try again.")
    hints: list[str] = []
    if result.exit_code is not None or result.timed_out:  # a real verdict, not "no sandbox" or an error
        record = await database_sync_to_async(check_record_store)(
            attendee=attendee, check_id=check.check_id, done=result.done, message=result.message
        )
        hints = check.hints_after(record.failures)
        activity_tell_soon(attendee=attendee, what="check")
    event = protocol.check_result(check_id=check.check_id, done=result.done, message=result.message, hints=hints)
    await group_send(attendee_group(attendee.id), event)
    return event


async def _check_in_sandbox(*, attendee: Attendee, check: Check) -> CheckResult:
    sandbox = await database_sync_to_async(sandbox_of)(attendee=attendee)
    try:
        backend = await in_thread(backend_get)
    except ImproperlyConfigured as exc:
        return CheckResult(check.check_id, False, f"Sandboxes are not configured on this server: {exc}")
    if sandbox is None or not sandbox.state or sandbox.backend != backend.name:
        return CheckResult(check.check_id, False, "Not yet: you have no sandbox yet. Run this step's code first.")
    if sandbox.status == Sandbox.Status.CREATING:
        return CheckResult(check.check_id, False, "Your sandbox is still being made; check again in a moment.")
    if sandbox.status != Sandbox.Status.READY:
        return CheckResult(check.check_id, False, "Not yet: your sandbox is gone. Run this step's code again first.")
    timeout = settings.PODIUM_RUN_TIMEOUT
    try:
        return await in_thread(check_execute, backend=backend, state=sandbox.state, check=check, timeout=timeout)
    except SandboxNotFound as exc:
        log.info("check %s for attendee %s: %s", check.check_id, attendee.id, exc)
        await database_sync_to_async(sandbox_gone_mark)(sandbox_id=sandbox.id, state=sandbox.state, only_if_ready=True)
        return CheckResult(check.check_id, False, f"Not yet: {exc.user_message}")
    except SandboxError as exc:
        log.warning("check %s for attendee %s: %s", check.check_id, attendee.id, exc)
        return CheckResult(check.check_id, False, exc.user_message)
