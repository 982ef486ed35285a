"""A run's output on its way to the attendee: capped (OutputCap), and followed until the run ends (frames_follow).

`frames_follow` is the loop both real backends share.
A reader thread moves the run's (stream, bytes) frames into a queue as they arrive; the run's own thread
takes them from there, so it can check the deadline and `should_stop` between frames however quiet the
run is. When the deadline passes or the attendee cancels, `kill` is called (again each second: a kill sent
before the runner wrote its pidfile finds nothing) and the output is read until it closes, or for at most
KILL_GRACE seconds if something outlived the kills and holds it open.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sandbox.backends.base import OutputCallback, RunRequest, StopCheck
from sandbox.errors import SandboxError

log = logging.getLogger(__name__)

STOP_POLL = 0.25  # seconds between should_stop() checks while a run streams
KILL_GRACE = 5.0  # seconds a killed run gets to close its output before we stop reading
KILL_AGAIN = 1.0  # seconds between kills of a run whose output is still open
_END = object()

Frame = tuple[str, bytes]


class OutputCap:
    """A run's output on its way to `on_output`: streamed up to the request's output_cap, the rest counted and dropped.

    The process keeps running past the cap (a chatty `docker build` should not fail for it); the result
    says `truncated` and how many bytes were written in all.
    """

    def __init__(self, cap: int, on_output: OutputCallback) -> None:
        self.cap = cap
        self.on_output = on_output
        self.streamed = 0
        self.total = 0

    def write(self, stream: str, data: bytes) -> None:
        self.total += len(data)
        part = data[: max(self.cap - self.streamed, 0)]
        if part:
            self.streamed += len(part)
            self.on_output(stream, part)

    @property
    def truncated(self) -> bool:
        return self.total > self.cap


@dataclass(frozen=True)
class RunEnding:
    """Why the output ended: by itself (both False), the run's timeout, or the attendee's cancel."""

    timed_out: bool = False
    cancelled: bool = False


def frames_follow(
    frames: Iterable[Frame],
    *,
    request: RunRequest,
    kill: Callable[[], object],
    should_stop: StopCheck,
    on_frame: Callable[[str, bytes], None],
) -> RunEnding:
    """Hand each frame to `on_frame` in arrival order until the output ends; kill the run on timeout or cancel.

    A failure reading the frames is raised as SandboxError; any exception (including one from `on_frame`)
    kills the run first unless it was already killed. The caller closes the stream afterwards.
    """
    chunks: queue.SimpleQueue = queue.SimpleQueue()
    reader = threading.Thread(target=_drain, args=(frames, chunks), daemon=True, name=f"run-{request.run_id}")
    reader.start()
    deadline = time.monotonic() + request.timeout
    timed_out = cancelled = False
    killed_at: float | None = None
    last_kill = next_check = 0.0
    try:
        while True:
            now = time.monotonic()
            if killed_at is None:
                if now >= deadline:
                    timed_out = True
                elif now >= next_check:
                    next_check = now + STOP_POLL
                    cancelled = bool(should_stop())
                if timed_out or cancelled:
                    kill()
                    killed_at = last_kill = now
            elif now - killed_at > KILL_GRACE:
                log.warning("run %s: output still open %.0f s after the kill", request.run_id, KILL_GRACE)
                break
            elif now - last_kill >= KILL_AGAIN:
                kill()
                last_kill = now
            wait = STOP_POLL if killed_at is not None else max(0.01, min(STOP_POLL, deadline - now))
            try:
                item = chunks.get(timeout=wait)
            except queue.Empty:
                continue
            if item is _END:
                break
            if isinstance(item, BaseException):
                raise SandboxError(f"reading the output of run {request.run_id} failed: {item}") from item
            on_frame(*item)
    except BaseException:
        if killed_at is None:
            with contextlib.suppress(Exception):
                kill()
        raise
    return RunEnding(timed_out=timed_out, cancelled=cancelled and not timed_out)


def _drain(frames: Iterable[Frame], chunks: queue.SimpleQueue) -> None:
    """Reader thread: move the frames into the queue, then _END (after the error, if reading failed)."""
    try:
        for frame in frames:
            chunks.put(frame)
    except Exception as error:  # handed to the run's thread, which raises it (unless it closed the stream itself)
        chunks.put(error)
    finally:
        chunks.put(_END)
