"""A worker killed in the middle of a run, on a real deployment's shape: daphne and a separate
`runworker sandbox-runs` over Redis, a real Docker sandbox. The run ends as an error saying its worker
stopped (not "running" forever), what was left of it in the sandbox is killed, the sandbox is kept, and a
restarted worker runs the attendee's next block in it."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator

import pytest
import websockets

from sandbox.reconcile import LOST
from tests.live_server import PodiumServer
from tests.sandbox.live_runs import WAIT, Page, live_deployment, page_headers, runs_url, session_of, worker

pytestmark = [pytest.mark.docker, pytest.mark.redis, pytest.mark.slow]

BEAT = 0.5  # PODIUM_RUN_BEAT_SECONDS of this deployment: a run is lost after 4 silent beats
SLEEPER = "sleep 3600"
# Counts the processes in the sandbox running SLEEPER (no ps in the workspace image: read /proc).
SLEEPERS = (
    f"for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done | grep -c '^{SLEEPER} $' || true"
)


@pytest.fixture
def deployment(tmp_path, docker_client) -> Iterator[tuple[PodiumServer, dict]]:
    """daphne and Redis without a worker yet; runs are lost after 4 silent beats of BEAT seconds."""
    extra = {"PODIUM_RUN_BEAT_SECONDS": str(BEAT), "PODIUM_RUNS_PER_ATTENDEE": "1"}
    with live_deployment(tmp_path, docker_client, extra=extra) as deployed:
        yield deployed


async def test_a_run_whose_worker_is_killed_ends_and_the_next_worker_runs_in_the_same_sandbox(deployment, tmp_path):
    server, env = deployment
    session = session_of(server)
    url, headers = runs_url(server), page_headers(server, session)
    with (tmp_path / "workers.log").open("ab") as log:
        async with websockets.connect(url, additional_headers=headers) as socket:
            page = Page(socket)
            with worker(env, log) as first:
                accepted = await page.click(f"hostname > /tmp/where; echo started; {SLEEPER}")
                assert accepted["type"] == "run.accepted", accepted
                lost_run = accepted["run"]
                await page.wait_for(lambda m: m["type"] == "run.output" and "started" in m["data"])
                first.send_signal(signal.SIGKILL)  # no goodbye: as a crash or an OOM kill would do it
                first.wait(timeout=30)

            # The attendee clicks Run again: refused while the run may still be alive, then (its worker silent
            # for 4 beats) the lost run ends and the new one is taken.
            for _ in range(int(WAIT / BEAT)):
                answer = await page.click(f"cat /tmp/where; hostname; {SLEEPERS}")
                if answer["type"] == "run.accepted":
                    break
                assert answer["code"] == "limit", answer
                await asyncio.sleep(BEAT)
            assert answer["type"] == "run.accepted", page.log
            ended = await page.wait_for(lambda m: m["type"] == "run.finished" and m["run"] == lost_run)
            assert ended["status"] == "error" and ended["message"] == LOST

            with worker(env, log):  # a restarted worker takes the queued run
                done = await page.wait_for(lambda m: m["type"] == "run.finished" and m["run"] == answer["run"])
            assert done["status"] == "ok", page.log
            written, here, sleepers = page.output(answer["run"]).split()
            assert written == here  # the same sandbox: the file the lost run wrote is there
            assert sleepers == "0"  # and what was left of the lost run was killed
