"""Run → first output byte at a real websocket client, warm sandbox, against the raw docker SDK exec.

A real daphne server (bench/_support.py) with the bench deck; one attendee
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
import json
import sys

import _support as bench


async def measure(server: bench.BenchServer, runs: int) -> dict:
    session_key = await asyncio.to_thread(server.session_cookie)
    socket_ = await server.runs_socket(session_key)
    try:
        attendee = await asyncio.to_thread(server.attendee_of, session_key)
        bench.say(f"session via {server.session_via}; attendee {attendee[:12]}; cold first run (creates the sandbox)")
        cold = await bench.run_block(socket_, bench.BLOCK_ECHO)
        if cold.end.get("status") != "ok":
            raise RuntimeError(f"the first run did not succeed: {cold.end}; daphne log:\n{server.log_tail()}")
        bench.say(f"cold first run: {cold.first_output:.2f} s to first byte ({'; '.join(cold.progress)})")
        api = bench.docker_api()
        container = await asyncio.to_thread(bench.workspace_container, attendee_id=attendee)

        first_byte, finished, raw_first, raw_total = [], [], [], []
        for index in range(runs):
            timing = await bench.run_block(socket_, bench.BLOCK_ECHO, limit_s=60)
            if timing.end.get("status") != "ok" or timing.first_output is None:
                raise RuntimeError(f"run {index + 1} did not print and succeed: {timing.end}")
            first_byte.append(timing.first_output * 1000)
            finished.append(timing.finished * 1000)
            first, total = await asyncio.to_thread(bench.raw_first_byte, api, container, ["echo", "hi"])
            raw_first.append(first * 1000)
            raw_total.append(total * 1000)
            if (index + 1) % 10 == 0:
                bench.say(f"{index + 1}/{runs}: last first byte {first_byte[-1]:.1f} ms, raw {raw_first[-1]:.1f} ms")
    finally:
        await socket_.close()

    def ms(samples: list[float], fraction: float) -> float:
        return round(bench.percentile(samples, fraction), 1)

    figures = {
        "runs": runs,
        "session_via": server.session_via,
        "security": bench.SECURITY,
        "cold_first_run_s": round(cold.first_output, 2),
        "cold_first_run_finished_s": round(cold.finished, 2),
        "first_byte_p50_ms": ms(first_byte, 0.5),
        "first_byte_p99_ms": ms(first_byte, 0.99),
        "finished_p50_ms": ms(finished, 0.5),
        "finished_p99_ms": ms(finished, 0.99),
        "raw_exec_p50_ms": ms(raw_first, 0.5),
        "raw_exec_p99_ms": ms(raw_first, 0.99),
        "raw_exec_exit_p50_ms": ms(raw_total, 0.5),
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
    load_before = bench.load_average()
    with bench.BenchServer() as server:
        figures = asyncio.run(measure(server, args.runs))
    figures["load_avg_before"] = load_before
    figures["load_avg_after"] = bench.load_average()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
