"""The loop both real backends follow a run's output with: cap, order, timeout, cancel, a broken stream.

The frames come from plain generators here (the Docker and Kubernetes tests drive the same loop with real
engines); what is checked is what an attendee would see: which output arrives, and why the run ended.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from sandbox.backends import run_output
from sandbox.backends.base import RunRequest
from sandbox.backends.run_output import OutputCap, frames_follow
from sandbox.errors import SandboxError


def request(**limits) -> RunRequest:
    return RunRequest(run_id="r1", kind="shell", code="", **limits)


def test_output_past_the_cap_is_counted_and_dropped() -> None:
    seen: list[tuple[str, bytes]] = []
    output = OutputCap(10, lambda stream, data: seen.append((stream, data)))

    for stream, data in [("stdout", b"12345"), ("stderr", b"6789"), ("stdout", b"abcdef"), ("stdout", b"gh")]:
        output.write(stream, data)

    assert seen == [("stdout", b"12345"), ("stderr", b"6789"), ("stdout", b"a")]
    assert output.total == 17
    assert output.truncated


def test_output_exactly_at_the_cap_is_not_truncated() -> None:
    output = OutputCap(4, lambda stream, data: None)
    output.write("stdout", b"abcd")
    assert output.total == 4 and not output.truncated


def test_frames_arrive_in_order_and_the_run_ends_by_itself() -> None:
    seen: list[tuple[str, bytes]] = []
    kills: list[float] = []
    frames = [("stdout", b"one\n"), ("stderr", b"two\n"), ("stdout", b"three\n")]

    ending = frames_follow(
        iter(frames),
        request=request(),
        kill=lambda: kills.append(1),
        should_stop=lambda: False,
        on_frame=lambda *f: seen.append(f),
    )

    assert seen == frames
    assert not ending.timed_out and not ending.cancelled
    assert kills == []


def endless(stop: threading.Event) -> Iterator[tuple[str, bytes]]:
    """A run that prints a line every 50 ms until it is killed."""
    while not stop.is_set():
        yield "stdout", b"tick\n"
        time.sleep(0.05)


def test_a_run_past_its_timeout_is_killed_and_says_so() -> None:
    killed = threading.Event()
    started = time.monotonic()

    ending = frames_follow(
        endless(killed),
        request=request(timeout=0.3),
        kill=killed.set,
        should_stop=lambda: False,
        on_frame=lambda *f: None,
    )

    assert ending.timed_out and not ending.cancelled
    assert killed.is_set()
    assert time.monotonic() - started < 5  # ended when the kill closed the output, not after the grace period


def test_a_cancelled_run_is_killed_and_not_reported_as_timed_out() -> None:
    killed = threading.Event()
    seen: list[bytes] = []

    ending = frames_follow(
        endless(killed),
        request=request(timeout=60),
        kill=killed.set,
        should_stop=lambda: len(seen) >= 3,
        on_frame=lambda stream, data: seen.append(data),
    )

    assert ending.cancelled and not ending.timed_out
    assert killed.is_set()


def test_a_broken_stream_is_an_error_naming_the_run_and_the_run_is_killed() -> None:
    kills: list[int] = []

    def broken() -> Iterator[tuple[str, bytes]]:
        yield "stdout", b"partial"
        raise ConnectionResetError("connection reset by peer")

    with pytest.raises(SandboxError, match="reading the output of run r1 failed: connection reset by peer"):
        frames_follow(
            broken(),
            request=request(),
            kill=lambda: kills.append(1),
            should_stop=lambda: False,
            on_frame=lambda *f: None,
        )
    assert kills == [1]


def flood(stop: threading.Event, pulled: list[int]) -> Iterator[tuple[str, bytes]]:
    """A run that writes 64 KiB frames as fast as it is read (`yes`), counting what was read, until killed."""
    chunk = b"y\n" * 32 * 1024
    while not stop.is_set():
        pulled[0] += len(chunk)
        yield "stdout", chunk


def test_a_flood_past_the_cap_is_read_at_the_paced_rate_and_still_times_out(monkeypatch) -> None:
    # Without pacing this loop pulls gigabytes a second; with it, what a flood costs the server is bounded.
    monkeypatch.setattr(run_output, "PAST_CAP_RATE", 256 * 1024)
    killed = threading.Event()
    pulled = [0]
    output = OutputCap(100_000, lambda stream, data: None)
    started = time.monotonic()

    ending = frames_follow(
        flood(killed, pulled),
        request=request(timeout=1.0),
        kill=killed.set,
        should_stop=lambda: False,
        on_frame=output.write,
        over_cap=lambda: output.truncated,
    )

    elapsed = time.monotonic() - started
    assert ending.timed_out and output.truncated
    read_ahead = (run_output.QUEUE_FRAMES + 2) * 64 * 1024  # the bounded queue, the frame in hand, the reader's
    # After the kill the rest is read at full speed until the output closes: a few frames here.
    assert pulled[0] <= 100_000 + 256 * 1024 * elapsed + read_ahead + 8 * 64 * 1024, pulled[0]


def test_a_run_that_ends_while_its_reader_waits_on_a_full_queue_lets_the_reader_go() -> None:
    stop = threading.Event()
    pulled = [0]

    def refuse(stream: str, data: bytes) -> None:
        raise RuntimeError("the page went away")

    with pytest.raises(RuntimeError):
        frames_follow(
            flood(stop, pulled),
            request=request(),
            kill=stop.set,
            should_stop=lambda: False,
            on_frame=refuse,
        )
    time.sleep(0.6)  # longer than the reader's wait on a full queue
    assert not [t for t in threading.enumerate() if t.name == "run-r1"]


class _Engine:
    """A flood as Docker serves it: the kill's own exec does not return until the flood's stream has been read
    on (an exec whose output nobody reads holds the container's later execs), and after the kill the stream
    still carries what was buffered, then ends."""

    BUFFERED = 200  # frames still in the pipes when the kill lands

    def __init__(self) -> None:
        self.read_after_kill = 0
        self.killing = threading.Event()
        self.killed = threading.Event()

    def frames(self) -> Iterator[tuple[str, bytes]]:
        while not self.killed.is_set():
            if self.killing.is_set():
                self.read_after_kill += 1
            yield "stdout", b"y\n" * 2048
        for _ in range(self.BUFFERED):
            yield "stdout", b"y\n" * 2048

    def kill(self) -> None:
        self.killing.set()
        deadline = time.monotonic() + 10
        while self.read_after_kill < run_output.QUEUE_FRAMES + 10 and time.monotonic() < deadline:
            time.sleep(0.01)
        self.killed.set()


def test_a_flood_past_its_timeout_is_killed_while_its_output_is_still_read() -> None:
    engine = _Engine()
    ended: list[run_output.RunEnding] = []
    follow = threading.Thread(
        target=lambda: ended.append(
            frames_follow(
                engine.frames(),
                request=request(timeout=0.5),
                kill=engine.kill,
                should_stop=lambda: False,
                on_frame=lambda *frame: None,
                over_cap=lambda: True,  # read at PAST_CAP_RATE: the queue between the threads fills up
            )
        ),
        daemon=True,
    )
    follow.start()
    follow.join(timeout=20)
    # The kill could only land because the frames kept being taken while it was on its way.
    assert engine.killed.is_set() and engine.read_after_kill >= run_output.QUEUE_FRAMES + 10
    assert ended and ended[0].timed_out
