"""A worker killed in the middle of a run, on a real deployment's shape: daphne and a separate
`runworker sandbox-runs` over Redis, a real Docker sandbox. The run ends as an error saying its worker
stopped (not "running" forever), what was left of it in the sandbox is killed, the sandbox is kept, and a
restarted worker runs the attendee's next block in it."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import websockets

from sandbox.reconcile import LOST
from tests.docker_helpers import docker_remove_labelled
from tests.live_server import PYTHON, ROOT, PodiumServer, live_server
from tests.sandbox.runs_support import RUNS_DECKS, SECURITY, SHELL, SLUG

pytestmark = [pytest.mark.docker, pytest.mark.redis, pytest.mark.slow]

WAIT = 60  # seconds for one message; a cold sandbox on a busy CI machine takes a while
BEAT = 0.5  # PODIUM_RUN_BEAT_SECONDS of this deployment: a run is lost after 4 silent beats
SLEEPER = "sleep 3600"
# Counts the processes in the sandbox running SLEEPER (no ps in the workspace image: read /proc).
SLEEPERS = (
    f"for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done | grep -c '^{SLEEPER} $' || true"
)


@pytest.fixture
def deployment(tmp_path, docker_client) -> Iterator[tuple[PodiumServer, dict]]:
    """daphne without the embedded worker, on a Redis database of its own (so no other test session's worker
    takes its runs); (server, its environment) for starting workers. Its sandboxes go afterwards."""
    instance = f"test-faults-{random.randrange(16**8):08x}"
    extra = {
        "REDIS_URL": f"redis://127.0.0.1:6379/{random.randrange(2, 16)}",
        "PODIUM_EMBEDDED_WORKER": "0",
        "PODIUM_SANDBOX_BACKEND": "docker",
        "PODIUM_SANDBOX_SECURITY": SECURITY,
        "PODIUM_RUN_BEAT_SECONDS": str(BEAT),
        "PODIUM_RUNS_PER_ATTENDEE": "1",
        "PODIUM_INSTANCE": instance,
    }
    with live_server(tmp_path, slides=RUNS_DECKS, slug=SLUG, extra_env=extra) as server:
        try:
            yield server, server.env
        finally:  # its sandboxes: containers, networks and volumes
            docker_remove_labelled(docker_client, label=f"podium.instance={instance}")


@contextmanager
def worker(env: dict, log) -> Iterator[subprocess.Popen]:
    process = subprocess.Popen(
        [str(PYTHON), "manage.py", "runworker", "sandbox-runs"], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def session_of(server: PodiumServer) -> str:
    """The `sessionid` the audience page gives a browser."""
    with urllib.request.urlopen(server.url(f"/decks/{SLUG}/"), timeout=60) as response:  # noqa: S310 - loopback
        for cookie in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = cookie.partition("=")
            if name.strip() == "sessionid":
                return rest.split(";", 1)[0]
    raise AssertionError("the audience page set no session cookie")


class Page:
    """An attendee's runs socket; every message kept in order."""

    def __init__(self, socket) -> None:
        self.socket = socket
        self.log: list[dict] = []

    async def wait_for(self, predicate, *, after: int = 0) -> dict:
        index = after
        while True:
            while index < len(self.log):
                if predicate(self.log[index]):
                    return self.log[index]
                index += 1
            self.log.append(json.loads(await asyncio.wait_for(self.socket.recv(), WAIT)))

    async def click(self, code: str) -> dict:
        """Run the shell block with `code`; the run.accepted or error that answers it."""
        mark = len(self.log)
        await self.socket.send(json.dumps({"type": "run", "block": SHELL, "code": code}))
        return await self.wait_for(lambda m: m["type"] in ("run.accepted", "error"), after=mark)

    def output(self, run_id: str) -> str:
        return "".join(m["data"] for m in self.log if m["type"] == "run.output" and m["run"] == run_id)


async def test_a_run_whose_worker_is_killed_ends_and_the_next_worker_runs_in_the_same_sandbox(deployment, tmp_path):
    server, env = deployment
    session = session_of(server)
    url = f"ws://127.0.0.1:{server.port}/ws/decks/{SLUG}/runs/"
    headers = {"Cookie": f"sessionid={session}", "Origin": server.base_url}
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
