"""`seq 1 2000000` streamed to a real websocket client, against raw docker SDK execs of the same command.

A real daphne server (bench/bench_server.py) with PODIUM_RUN_OUTPUT_CAP at 32 MiB,
so the whole 14.9 MB output streams; one attendee clicks Run on the
`seq 1 2000000` block over /ws/decks/run-bench/runs/. A first `echo hi` run
creates the sandbox and is not counted. Then --repeat times, interleaved in
the same workspace container (found by its labels through the docker SDK):

- `ws_*`: from sending {"type": "run"} to run.finished at the websocket
  client, with the bytes of run.output text it received (checked complete and
  in sequence); `ws_started_ms`, `ws_first_output_ms` and `ws_last_output_ms`
  say when run.started and the first and last run.output arrived;
- `raw_devnull_*`: raw exec of `sh -c 'seq 1 2000000 > /dev/null'` until its
  exit code (the command's own cost, no output moved);
- `raw_stream_*`: raw exec of `seq 1 2000000` streamed to this SDK client
  (exec_start stream+demux) until its exit code.

`server_cpu_ms_per_run`: the daphne process's CPU time (all its threads) during
the websocket runs, averaged; `client_cpu_ms_per_run` the same of this process
(the websocket client that stands for the page). Medians of the repeats otherwise;
`ws_vs_raw_stream_ratio` and `ws_vs_raw_devnull_ratio` compare total times.

    .venv/bin/python bench/run_throughput.py [--repeat 3]

Removes its sandbox and stops daphne at the end, also on failure. Progress on
stderr; the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time

import bench_server as support
import common as bench

LINES = 2_000_000
EXPECTED_BYTES = sum(len(str(n)) + 1 for n in range(1, LINES + 1))  # 14,888,896
OUTPUT_CAP = 32 * 1024 * 1024


async def measure(server: support.BenchServer, repeat: int) -> dict:
    server_cpu_s = client_cpu_s = 0.0
    async with support.attendee_warm(server) as attendee:
        api, container = attendee.api, attendee.container
        seq = ["seq", "1", str(LINES)]

        ws_s, ws_started, ws_first, ws_last, messages, devnull_s, stream_s = [], [], [], [], [], [], []
        for index in range(repeat):
            cpu_before, client_before = bench.process_cpu_s(server.process.pid), time.process_time()
            timing = await support.run_block(attendee.socket, support.BLOCK_SEQ, limit_s=300)
            server_cpu_s += bench.process_cpu_s(server.process.pid) - cpu_before
            client_cpu_s += time.process_time() - client_before
            if timing.end.get("status") != "ok" or timing.end.get("truncated"):
                raise RuntimeError(f"the seq run did not stream completely: {timing.end}")
            if timing.output_bytes != EXPECTED_BYTES or not timing.seq_ok:
                raise RuntimeError(
                    f"the client received {timing.output_bytes:,} bytes (expected {EXPECTED_BYTES:,}), "
                    f"sequence numbers {'in order' if timing.seq_ok else 'OUT OF ORDER'}"
                )
            ws_s.append(timing.finished)
            ws_started.append(timing.started)
            ws_first.append(timing.first_output)
            ws_last.append(timing.last_output)
            messages.append(timing.messages)
            seconds, _, code = await asyncio.to_thread(
                bench.raw_exec_total, api, container, ["sh", "-c", f"seq 1 {LINES} > /dev/null"], stream=False
            )
            if code != 0:
                raise RuntimeError(f"raw seq to /dev/null exited {code}")
            devnull_s.append(seconds)
            seconds, size, code = await asyncio.to_thread(bench.raw_exec_total, api, container, seq, stream=True)
            if code != 0 or size != EXPECTED_BYTES:
                raise RuntimeError(f"raw streamed seq exited {code} with {size:,} bytes")
            stream_s.append(seconds)
            bench.say(
                f"{index + 1}/{repeat}: websocket {ws_s[-1]:.2f} s in {messages[-1]} messages, "
                f"raw streamed {stream_s[-1]:.2f} s, raw to /dev/null {devnull_s[-1]:.2f} s"
            )

    ws, devnull, streamed = statistics.median(ws_s), statistics.median(devnull_s), statistics.median(stream_s)
    return {
        "repeat": repeat,
        "bytes": EXPECTED_BYTES,
        "session_via": server.session_via,
        "security": support.SECURITY,
        "ws_total_s": round(ws, 3),
        "ws_started_ms": round(statistics.median(ws_started) * 1000, 1),
        "ws_first_output_ms": round(statistics.median(ws_first) * 1000, 1),
        "ws_last_output_ms": round(statistics.median(ws_last) * 1000, 1),
        "ws_bytes_per_s": round(EXPECTED_BYTES / ws),
        "ws_mb_per_s": round(EXPECTED_BYTES / ws / 1e6, 2),
        "ws_messages": round(statistics.median(messages)),
        "server_cpu_ms_per_run": round(server_cpu_s / repeat * 1000, 1),
        "client_cpu_ms_per_run": round(client_cpu_s / repeat * 1000, 1),
        "raw_stream_total_s": round(streamed, 3),
        "raw_stream_mb_per_s": round(EXPECTED_BYTES / streamed / 1e6, 2),
        "raw_devnull_total_s": round(devnull, 3),
        "ws_vs_raw_stream_ratio": round(ws / streamed, 2),
        "ws_vs_raw_devnull_ratio": round(ws / devnull, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="measured rounds (default 3)")
    args = parser.parse_args()
    if not 1 <= args.repeat <= 20:
        sys.exit("bench: --repeat must be between 1 and 20")
    support.figures_measured(measure, args.repeat, extra_env={"PODIUM_RUN_OUTPUT_CAP": str(OUTPUT_CAP)})


if __name__ == "__main__":
    main()
