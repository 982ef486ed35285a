"""Helpers of the tests that drive a real deployment's shape: daphne without the embedded worker, separate
`runworker sandbox-runs` processes over Redis, real Docker sandboxes, and a real websocket client.

Imported by test modules (`from tests.sandbox.live_runs import ...`); each module makes its own fixture
from `live_deployment`.
"""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

from sandbox.protocol import frame_read
from tests.docker_helpers import docker_remove_labelled
from tests.live_server import PYTHON, ROOT, PodiumServer, live_server
from tests.sandbox.runs_support import RUNS_DECKS, SECURITY, SHELL, SLUG

WAIT = 60  # seconds for one message; a cold sandbox on a busy CI machine takes a while


@contextmanager
def live_deployment(tmp_path, docker_client, *, extra: dict[str, str]) -> Iterator[tuple[PodiumServer, dict]]:
    """daphne without the embedded worker, on a Redis database of its own (so no other test session's worker
    takes its runs), `extra` added to its environment; (server, its environment) for starting workers. Its
    sandboxes go afterwards."""
    instance = f"test-live-{random.randrange(16**8):08x}"
    env = {
        "REDIS_URL": f"redis://127.0.0.1:6379/{random.randrange(2, 16)}",
        "PODIUM_EMBEDDED_WORKER": "0",
        "PODIUM_SANDBOX_BACKEND": "docker",
        "PODIUM_SANDBOX_SECURITY": SECURITY,
        "PODIUM_INSTANCE": instance,
        **extra,
    }
    with live_server(tmp_path, slides=RUNS_DECKS, slug=SLUG, extra_env=env) as server:
        try:
            yield server, server.env
        finally:  # its sandboxes: containers, networks and volumes
            docker_remove_labelled(docker_client, label=f"podium.instance={instance}")


@contextmanager
def worker(env: dict, log) -> Iterator[subprocess.Popen]:
    """A `manage.py runworker sandbox-runs` process with `env`, its output to `log`; stopped on leaving."""
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


def runs_url(server: PodiumServer) -> str:
    return f"ws://127.0.0.1:{server.port}/ws/decks/{SLUG}/runs/"


def page_headers(server: PodiumServer, session: str) -> dict[str, str]:
    """What a browser's page sends with its websocket: its session cookie and Origin."""
    return {"Cookie": f"sessionid={session}", "Origin": server.base_url}


class Page:
    """An attendee's runs socket (a `websockets` client); every message kept in order, and how each came."""

    def __init__(self, socket) -> None:
        self.socket = socket
        self.log: list[dict] = []
        self.binary: list[bool] = []  # per message of `log`: whether it came in a binary frame

    async def wait_for(self, predicate, *, after: int = 0) -> dict:
        index = after
        while True:
            while index < len(self.log):
                if predicate(self.log[index]):
                    return self.log[index]
                index += 1
            frame = await asyncio.wait_for(self.socket.recv(), WAIT)
            self.log.append(frame_read(frame))
            self.binary.append(isinstance(frame, bytes))

    async def click(self, code: str) -> dict:
        """Run the shell block with `code`; the run.accepted or error that answers it."""
        mark = len(self.log)
        await self.socket.send(json.dumps({"type": "run", "block": SHELL, "code": code}))
        return await self.wait_for(lambda m: m["type"] in ("run.accepted", "error"), after=mark)

    def output(self, run_id: str) -> str:
        return "".join(m["data"] for m in self.log if m["type"] == "run.output" and m["run"] == run_id)
