"""How late the event loop of this process runs what is due: the lag every socket of the process feels.

A task sleeps SAMPLE_SECONDS again and again and measures how much later
than asked it woke up; anything that blocks the loop (a synchronous call in a
consumer, a long computation) shows up as lag. Started with the first request
or socket of the process (`looplag_start`), on that request's loop.
"""

from __future__ import annotations

import asyncio
import collections
import time

from prometheus_client import Histogram

SAMPLE_SECONDS = 0.1
RECENT = 600  # samples kept for `looplag_recent` (one minute)

LAG = Histogram(
    "podium_event_loop_lag_seconds",
    "How much later than due this process's event loop woke a sleeping task.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
_recent: collections.deque[float] = collections.deque(maxlen=RECENT)
_task: asyncio.Task | None = None


def looplag_start() -> None:
    """Start sampling on the running loop, unless it already is (called on every request; cheap)."""
    global _task
    if _task is not None and not _task.done() and _task.get_loop() is asyncio.get_running_loop():
        return
    _task = asyncio.get_running_loop().create_task(_sample(), name="podium-looplag")


async def _sample() -> None:
    while True:
        asked = time.perf_counter()
        await asyncio.sleep(SAMPLE_SECONDS)
        lag = max(0.0, time.perf_counter() - asked - SAMPLE_SECONDS)
        LAG.observe(lag)
        _recent.append(lag)


def looplag_recent() -> dict[str, float]:
    """p50, p99 and max of the last minute's lag, in milliseconds (zeros before the first sample)."""
    samples = sorted(_recent)
    if not samples:
        return {"p50_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0, "samples": 0}

    def rank(fraction: float) -> float:
        return round(samples[min(len(samples) - 1, int(fraction * len(samples)))] * 1000, 2)

    return {"p50_ms": rank(0.5), "p99_ms": rank(0.99), "max_ms": round(samples[-1] * 1000, 2), "samples": len(samples)}
