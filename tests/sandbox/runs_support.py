"""Shared pieces of the run pipeline tests: the fixture deck, sessions, a page's runs socket, a worker.

Imported by test modules (`from tests.sandbox.runs_support import ...`); the
fixtures are plain pytest fixtures, pulled in by importing them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from channels.worker import Worker
from django.contrib.sessions.backends.db import SessionStore

from config.asgi import application
from sandbox import services
from sandbox.backends import backend_get
from sandbox.groups import WORKER_CHANNEL
from sandbox.models import Sandbox
from sandbox.worker import SandboxWorker

FIXTURES = Path(__file__).parent / "fixtures"
SLUG = "runs-demo"
SHELL = "s2b0"  # !bash echo hello from the deck
PYTHON = "s3b0"  # !python print(...)
NOT_RUNNABLE = "s3b1"  # !yaml without kind:
ORIGIN = (b"origin", b"http://127.0.0.1:8000")
# Generous: a busy 2-core machine, the Redis layer, or Docker may take a while. Never a speed assertion.
WAIT = 30
LOCAL = "sandbox.backends.local.LocalBackend"
# These machines refuse --privileged; a CI that sets PODIUM_SANDBOX_SECURITY gets what it asked for.
SECURITY = os.environ.get("PODIUM_SANDBOX_SECURITY") or "capabilities"


@pytest.fixture
def runs_deck(settings):
    """The fixture deck, and runs executed inside the test process unless a test says otherwise."""
    settings.PODIUM_SLIDES_DIR = FIXTURES
    settings.PODIUM_PRESENTER_TOKEN = ""
    settings.PODIUM_EMBEDDED_WORKER = True


@pytest.fixture
async def local_backend(settings, tmp_path, runs_deck):
    """The LocalBackend test double, its sandboxes in a folder of this test only.

    Afterwards every sandbox is destroyed (killing what still runs) and the
    run tasks still going are awaited, so nothing outlives the test.
    """
    settings.PODIUM_ENV = "test"
    settings.PODIUM_SANDBOX_BACKEND = LOCAL
    settings.PODIUM_LOCAL_SANDBOX_ROOT = str(tmp_path / "sandboxes")
    backend_get.cache_clear()
    backend = backend_get()
    yield backend
    for found in backend.list_managed():
        backend.destroy(state=found.state)
    await runs_settled()
    backend_get.cache_clear()


@pytest.fixture
async def docker_backend(settings):
    """The real DockerBackend for one test, in place of the LocalBackend (request it after `local_backend`).

    An engine or image that is missing fails the test with the backend's own sentence: CI starts both.
    Every sandbox the test made is destroyed afterwards.
    """
    settings.PODIUM_SANDBOX_BACKEND = "docker"
    settings.PODIUM_SANDBOX_SECURITY = SECURITY
    backend_get.cache_clear()
    backend = backend_get()
    problem = await asyncio.to_thread(backend.check)
    if problem:
        pytest.fail(problem)
    yield backend
    for state in await sandbox_states():
        await asyncio.to_thread(backend.destroy, state=state)
    backend_get.cache_clear()


@database_sync_to_async
def sandbox_states() -> list[dict]:
    """The backend state of every sandbox row (a sandbox never created has an empty one)."""
    return [row.state for row in Sandbox.objects.all() if row.state]


async def runs_settled() -> None:
    """Wait for the run tasks of this process to end (they do once their sandbox is destroyed)."""
    pending = [task for task in services._tasks if not task.done()]
    if pending:
        await asyncio.wait(pending, timeout=WAIT)


@pytest.fixture
async def sandbox_worker(settings):
    """A `runworker sandbox-runs` equivalent on this test's loop: runs go through the channel layer to it."""
    settings.PODIUM_EMBEDDED_WORKER = False
    SandboxWorker.reconciled = False
    worker = Worker(application=application, channels=[WORKER_CHANNEL], channel_layer=get_channel_layer())
    task = asyncio.create_task(worker.handle())
    yield worker
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    for instance in list(worker.application_instances.values()):
        instance["future"].cancel()


@database_sync_to_async
def new_session() -> str:
    """A browser's session, as the audience page leaves it; returns its key (the cookie's value)."""
    session = SessionStore()
    session["seen"] = True
    session.save()
    return session.session_key


class Page:
    """One open page's runs websocket; every message received is kept in `log`, in order."""

    def __init__(self, socket: WebsocketCommunicator) -> None:
        self.socket = socket
        self.log: list[dict] = []

    async def send(self, **message) -> None:
        await self.socket.send_json_to(message)

    async def wait_for(self, predicate, *, after: int = 0) -> dict:
        """The first message (from index `after` on) matching `predicate`, receiving more as needed."""
        index = after
        while True:
            while index < len(self.log):
                if predicate(self.log[index]):
                    return self.log[index]
                index += 1
            self.log.append(await self.socket.receive_json_from(timeout=WAIT))

    async def error(self, **message) -> dict:
        """Send `message` and return the error it is answered with."""
        mark = len(self.log)
        await self.send(**message)
        return await self.wait_for(lambda m: m["type"] == "error", after=mark)

    async def start(self, code: str | None = None, block: str = SHELL) -> str:
        """Click Run on `block` (with edited `code`), return the run id once accepted."""
        mark = len(self.log)
        message = {"type": "run", "block": block}
        if code is not None:
            message["code"] = code
        await self.send(**message)
        accepted = await self.wait_for(lambda m: m["type"] in ("run.accepted", "error"), after=mark)
        assert accepted["type"] == "run.accepted", accepted
        return accepted["run"]

    async def finished(self, run_id: str) -> dict:
        return await self.wait_for(lambda m: m["type"] == "run.finished" and m["run"] == run_id)

    async def run(self, code: str | None = None, block: str = SHELL) -> tuple[dict, list[dict]]:
        """Run and wait for the end; returns (run.finished, every message of that run in order)."""
        run_id = await self.start(code, block)
        end = await self.finished(run_id)
        return end, self.of(run_id)

    def of(self, run_id: str) -> list[dict]:
        return [m for m in self.log if m.get("run") == run_id]

    def text(self, run_id: str, stream: str | None = None) -> str:
        return "".join(
            m["data"]
            for m in self.of(run_id)
            if m["type"] == "run.output" and (stream is None or m["stream"] == stream)
        )


@asynccontextmanager
async def page(session_key: str | None, slug: str = SLUG):
    """A connected runs socket of the page of deck `slug`, with the session cookie `session_key`."""
    headers = [ORIGIN]
    if session_key:
        headers.append((b"cookie", f"sessionid={session_key}".encode()))
    socket = WebsocketCommunicator(application, f"/ws/decks/{slug}/runs/", headers=headers)
    connected, _ = await socket.connect(timeout=WAIT)
    assert connected
    try:
        yield Page(socket)
    finally:
        await socket.disconnect(timeout=WAIT)


def process_alive(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie (a killed child nobody reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def until(predicate, what: str) -> None:
    """Wait (at most WAIT seconds) until `predicate()` is true; fail naming `what` otherwise."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while not predicate():
        assert loop.time() < deadline, f"still waiting for: {what}"
        await asyncio.sleep(0.05)
