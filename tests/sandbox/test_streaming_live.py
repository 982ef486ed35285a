"""A large, fast output at a real websocket client, on a real deployment's shape: the page's socket in daphne,
the run in a separate `runworker sandbox-runs` process, its output crossing Redis, a real Docker sandbox.

Everything arrives, in order, numbered 1, 2, 3… with no gap, in binary frames (sandbox.protocol), and a
reload (`history`) shows the stored copy: the run's last lines.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import websockets

from tests.live_server import PodiumServer
from tests.sandbox.live_runs import Page, live_deployment, page_headers, runs_url, session_of, worker

pytestmark = [pytest.mark.docker, pytest.mark.redis, pytest.mark.slow]

LINES = 400_000  # 2.6 MB: fast enough that it leaves in many batches
STORED = 64 * 1024


@pytest.fixture
def deployment(tmp_path, docker_client) -> Iterator[tuple[PodiumServer, dict]]:
    extra = {"PODIUM_RUN_OUTPUT_CAP": str(8 * 1024 * 1024), "PODIUM_RUN_OUTPUT_STORED": str(STORED)}
    with live_deployment(tmp_path, docker_client, extra=extra) as deployed:
        yield deployed


async def test_a_large_fast_output_crosses_redis_to_the_page_whole_and_in_order(deployment, tmp_path):
    server, env = deployment
    expected = "".join(f"{n}\n" for n in range(1, LINES + 1))
    headers = page_headers(server, session_of(server))
    with (tmp_path / "worker.log").open("ab") as log, worker(env, log):
        async with websockets.connect(runs_url(server), additional_headers=headers) as socket:
            page = Page(socket)
            accepted = await page.click(f"seq 1 {LINES}; echo done >&2")
            assert accepted["type"] == "run.accepted", accepted
            run_id = accepted["run"]
            end = await page.wait_for(lambda m: m["type"] == "run.finished" and m["run"] == run_id)
            mark = len(page.log)
            await socket.send('{"type": "history"}')
            history = await page.wait_for(lambda m: m["type"] == "history", after=mark)

    assert (end["status"], end["exit_code"], end["truncated"]) == ("ok", 0, False)
    outputs = [
        (message, binary)
        for message, binary in zip(page.log, page.binary, strict=True)
        if message["type"] == "run.output" and message["run"] == run_id
    ]
    assert [message["seq"] for message, _ in outputs] == list(range(1, len(outputs) + 1))
    assert end["seq"] == len(outputs) > 2
    assert "".join(message["data"] for message, _ in outputs if message["stream"] == "stdout") == expected
    assert "".join(message["data"] for message, _ in outputs if message["stream"] == "stderr") == "done\n"
    assert all(binary for _, binary in outputs)
    others = [binary for message, binary in zip(page.log, page.binary, strict=True) if message["type"] != "run.output"]
    assert others and not any(others)  # every other message is a JSON text frame

    (stored,) = [run for run in history["runs"] if run["run"] == run_id]
    shown = stored["output"]  # what a reload shows: the last lines, whole
    assert (expected + "done\n").endswith(shown) and len(shown.encode()) <= STORED
    assert shown.endswith("done\n") and (expected + "done\n")[-len(shown) - 1] == "\n"
