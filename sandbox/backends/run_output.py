"""A run's output on its way to the attendee: capped (OutputCap), and followed until the run ends (frames_follow).

`frames_follow` is the loop both real backends share.
A reader thread moves the run's (stream, bytes) frames into a queue as they arrive; the run's own thread
takes them from there, so it can check the deadline and `should_stop` between frames however quiet the
run is. When the deadline passes or the attendee cancels, `kill` is called (again each second: a kill sent
before the runner wrote its pidfile finds nothing) and the output is read until it closes, or for at most
KILL_GRACE seconds if something outlived the kills and holds it open.

Past the output cap the stream is still read (the process keeps running, its exit code matters), but
at most PAST_CAP_RATE bytes a second, and the queue between the threads is bounded: a flood of output
then waits on its own full pipe inside the sandbox instead of costing the host's engine and this
process a core while other attendees run.

Two things must never stop the stream being read, because an exec whose output nobody reads keeps its
exit from being handled, and Docker then holds every later exec in that container (the kill included):
so the kills run in a thread of their own while the frames keep being taken, and once the run's thread
is done the reader goes on reading (and dropping, still at PAST_CAP_RATE) until the stream ends.
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
PAST_CAP_RATE = 1024 * 1024  # bytes a second read from a run whose output passed its cap
QUEUE_FRAMES = 64  # frames read ahead of the run's thread; the reader waits when they are not taken
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
    over_cap: Callable[[], bool] = lambda: False,
) -> RunEnding:
    """Hand each frame to `on_frame` in arrival order until the output ends; kill the run on timeout or cancel.

    `over_cap()` says whether the run's output passed its cap; from then on (until a kill) the frames are
    taken at PAST_CAP_RATE. A failure reading the frames is raised as SandboxError; any exception
    (including one from `on_frame`) kills the run first unless it was already killed. The caller closes
    the stream afterwards.
    """
    chunks: queue.Queue = queue.Queue(maxsize=QUEUE_FRAMES)
    done = threading.Event()
    reader = threading.Thread(target=_drain, args=(frames, chunks, done), daemon=True, name=f"run-{request.run_id}")
    reader.start()
    deadline = time.monotonic() + request.timeout
    timed_out = cancelled = False
    killed_at: float | None = None
    last_kill = next_check = 0.0
    pace = _Pace(PAST_CAP_RATE)
    killer = _Killer(kill, request.run_id)
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
                    killer.kill()
                    killed_at = last_kill = now
            elif now - killed_at > KILL_GRACE:
                log.warning("run %s: output still open %.0f s after the kill", request.run_id, KILL_GRACE)
                break
            elif now - last_kill >= KILL_AGAIN:
                killer.kill()
                last_kill = now
            wait = STOP_POLL if killed_at is not None else max(0.01, min(STOP_POLL, deadline - now))
            if killed_at is None and pace.due > now:  # over the cap: not yet time for the next frame
                time.sleep(min(pace.due - now, wait))
                continue
            try:
                item = chunks.get(timeout=wait)
            except queue.Empty:
                continue
            if item is _END:
                break
            if isinstance(item, BaseException):
                raise SandboxError(f"reading the output of run {request.run_id} failed: {item}") from item
            on_frame(*item)
            if over_cap():
                pace.took(len(item[1]), time.monotonic())
    except BaseException:
        if killed_at is None:
            killer.kill()
        raise
    finally:
        done.set()  # the reader stops queueing; it drains the rest of the stream itself
    return RunEnding(timed_out=timed_out, cancelled=cancelled and not timed_out)


class _Killer:
    """The run's `kill`, called in a thread of its own (one at a time), so the frames keep being taken meanwhile."""

    def __init__(self, kill: Callable[[], object], run_id: str) -> None:
        self._kill = kill
        self._run_id = run_id
        self._busy = threading.Lock()

    def kill(self) -> None:
        if self._busy.acquire(blocking=False):  # else a kill is still on its way: this one would add nothing
            threading.Thread(target=self._call, daemon=True, name=f"kill-{self._run_id}").start()

    def _call(self) -> None:
        try:
            self._kill()
        except Exception:  # noqa: BLE001 - logged; the run's thread goes on, and kills again a second later
            log.warning("run %s: the kill failed", self._run_id, exc_info=True)
        finally:
            self._busy.release()


class _Pace:
    """When the next frame may be taken, for a stream read at `rate` bytes a second (from its first frame on)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.since: float | None = None
        self.taken = 0
        self.due = 0.0

    def took(self, size: int, now: float) -> None:
        if self.since is None:
            self.since = now
        self.taken += size
        self.due = self.since + self.taken / self.rate


def _drain(frames: Iterable[Frame], chunks: queue.Queue, done: threading.Event) -> None:
    """Reader thread: move the frames into the queue, then _END (after the error, if reading failed).

    The queue is bounded: while the run's thread does not take frames, this thread stops reading, and the
    run's output waits in its pipe. Once the run's thread is `done`, it drops the rest of the stream.
    """
    try:
        for frame in frames:
            if not _put(chunks, frame, done):
                _drop_rest(frames)
                return
    except Exception as error:  # handed to the run's thread, which raises it (unless it closed the stream itself)
        _put(chunks, error, done)
    finally:
        _put(chunks, _END, done)


def _drop_rest(frames: Iterable[Frame]) -> None:
    """Read what is left of a stream nobody takes any more, at PAST_CAP_RATE, until it ends (or fails)."""
    with contextlib.suppress(Exception):
        for _, data in frames:
            time.sleep(len(data) / PAST_CAP_RATE)


def _put(chunks: queue.Queue, item: object, done: threading.Event) -> bool:
    """Put `item` in the queue, waiting while it is full; False when the run's thread finished first."""
    while not done.is_set():
        try:
            chunks.put(item, timeout=STOP_POLL)
            return True
        except queue.Full:
            continue
    return False
