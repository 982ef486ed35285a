"""Run → first output byte at a real websocket client, warm sandbox, against the raw docker SDK exec.

A real daphne server (bench/bench_server.py) with the bench deck; one attendee
(a browser-like session) clicks Run on the `echo hi` block over
/ws/decks/run-bench/runs/. The first run creates the sandbox (cold: network,
volume, container, inner dockerd); it is reported as `cold_first_run_s` and
not counted. Then N runs of `echo hi`, one after another, each timed from
sending {"type": "run"} to the first run.output message (`first_byte_*`), and
to run.finished (`finished_*`).

Baseline in the same run, in the same workspace container (found by its
labels podium.managed / podium.attendee through the docker SDK): a raw
exec_create + exec_start(stream) of `echo hi`, timed to its first output byte
(`raw_exec_*`), interleaved with the websocket runs so both see the same load.
`first_byte_p50_ratio` = first_byte_p50_ms / raw_exec_p50_ms.

    .venv/bin/python bench/run_latency.py [--runs 30]

Needs a Docker engine and the workspace image (`manage.py sandbox prepare`).
Removes its sandbox and stops daphne at the end, also on failure. Progress on
stderr; the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import bench_server as support
import common as bench


async def measure(server: support.BenchServer, runs: int) -> dict:
    async with support.attendee_warm(server) as attendee:
        cold = attendee.first_run
        first_byte, finished, raw_first, raw_total = [], [], [], []
        for index in range(runs):
            timing = await support.run_block(attendee.socket, support.BLOCK_ECHO, limit_s=60)
            if timing.end.get("status") != "ok" or timing.first_output is None:
                raise RuntimeError(f"run {index + 1} did not print and succeed: {timing.end}")
            first_byte.append(timing.first_output * 1000)
            finished.append(timing.finished * 1000)
            first, total = await asyncio.to_thread(
                bench.raw_first_byte, attendee.api, attendee.container, ["echo", "hi"]
            )
            raw_first.append(first * 1000)
            raw_total.append(total * 1000)
            if (index + 1) % 10 == 0:
                bench.say(f"{index + 1}/{runs}: last first byte {first_byte[-1]:.1f} ms, raw {raw_first[-1]:.1f} ms")

    figures = {
        "runs": runs,
        "session_via": server.session_via,
        "security": support.SECURITY,
        "cold_first_run_s": round(cold.first_output, 2),
        "cold_first_run_finished_s": round(cold.finished, 2),
        **bench.p50_p99("first_byte_{p}_ms", first_byte, digits=1),
        **bench.p50_p99("finished_{p}_ms", finished, digits=1),
        **bench.p50_p99("raw_exec_{p}_ms", raw_first, digits=1),
        "raw_exec_exit_p50_ms": round(bench.percentile(raw_total, 0.5), 1),
    }
    figures["first_byte_p50_ratio"] = round(figures["first_byte_p50_ms"] / figures["raw_exec_p50_ms"], 2)
    figures["first_byte_p99_ratio"] = round(figures["first_byte_p99_ms"] / figures["raw_exec_p99_ms"], 2)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="warm runs of `echo hi` measured (default 30)")
    args = parser.parse_args()
    if not 1 <= args.runs <= 1000:
        sys.exit("bench: --runs must be between 1 and 1000")
    support.figures_measured(measure, args.runs)


if __name__ == "__main__":
    main()
