"""Helpers of the run pipeline tests: the fixture decks' names, sessions, a page's runs socket, sandboxes, waiting.

Imported by test modules (`from tests.sandbox.runs_support import ...`). The
fixtures that use them (`runs_deck`, `local_backend`, `sandbox_worker`...)
are in `tests/sandbox/conftest.py`.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from contextlib import asynccontextmanager
from datetime import timedelta
from io import StringIO
from pathlib import Path

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from django.core.management import CommandError, call_command
from django.utils import timezone

from config.asgi import application
from deck.services import presenter_grant, talk_get_or_create, talk_presenter_token
from sandbox import runs, watchers
from sandbox.backends.base import SandboxSpec
from sandbox.identity import attendee_for
from sandbox.models import Attendee, Run, Sandbox
from sandbox.protocol import frame_read
from sandbox.runs import run_create

FIXTURES = Path(__file__).parent / "fixtures"
RUNS_DECKS = FIXTURES / "runs"
SLUG = "runs-demo"
SHELL = "s2b0"  # !bash echo hello from the deck
PYTHON = "s3b0"  # !python print(...)
NOT_RUNNABLE = "s3b1"  # !yaml without kind:
CHECKS_DECKS = FIXTURES / "checks"
CHECKS_SLUG = "checks-demo"
MAKE_FILE = "s2b0"  # echo step > step.txt, checked by `test -f step.txt` (message "The file step.txt exists")
ORIGIN = (b"origin", b"http://127.0.0.1:8000")
# Generous: a busy 2-core machine, the Redis layer, or Docker may take a while. Never a speed assertion.
WAIT = 30
LOCAL = "sandbox.backends.local.LocalBackend"
# The default mode (userns); a CI that sets PODIUM_SANDBOX_SECURITY gets what it asked for.
SECURITY = os.environ.get("PODIUM_SANDBOX_SECURITY") or "userns"


@database_sync_to_async
def sandbox_states() -> list[dict]:
    """The backend state of every sandbox row (a sandbox never created has an empty one)."""
    return [row.state for row in Sandbox.objects.all() if row.state]


async def runs_settled() -> None:
    """Wait for the run tasks of this process to end (they do once their sandbox is destroyed), and for what
    they told the watchers."""
    pending = [task for task in runs._tasks if not task.done()]
    if pending:
        await asyncio.wait(pending, timeout=WAIT)
    pending = [task for task in watchers._telling if not task.done()]
    if pending:
        await asyncio.wait(pending, timeout=WAIT)


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

    async def wait_for(self, predicate, *, after: int = 0, wait: float = WAIT) -> dict:
        """The first message (from index `after` on) matching `predicate`, receiving more as needed (each within
        `wait` seconds)."""
        index = after
        while True:
            while index < len(self.log):
                if predicate(self.log[index]):
                    return self.log[index]
                index += 1
            self.log.append(frame_read(await self.socket.receive_from(timeout=wait)))

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


def assert_well_formed(messages: list[dict]) -> list[dict]:
    """accepted, then started, then the output numbered 1..n, then finished (with n); returns the outputs."""
    kinds = [m["type"] for m in messages]
    assert kinds[0] == "run.accepted", kinds
    assert kinds[-1] == "run.finished", kinds
    assert kinds.count("run.started") == 1, kinds
    outputs = [m for m in messages if m["type"] == "run.output"]
    assert kinds.index("run.started") < (kinds.index("run.output") if outputs else len(kinds)), kinds
    assert [m["seq"] for m in outputs] == list(range(1, len(outputs) + 1))
    assert messages[-1]["seq"] == len(outputs)
    return outputs


@database_sync_to_async
def stored(run_id: str) -> Run:
    """The run `run_id` as stored."""
    return Run.objects.get(id=run_id)


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


async def check(me: Page, block: str) -> dict:
    """Click "Check my work" on `block`; the check.result (or error) it is answered with."""
    mark = len(me.log)
    await me.send(type="check", block=block)
    return await me.wait_for(
        lambda m: (m["type"] == "check.result" and m["block"] == block) or m["type"] == "error", after=mark
    )


# -- sandboxes made straight through a backend, as a server before a restart left them ---------------------
def session_key() -> str:
    session = SessionStore()
    session["seen"] = True
    session.save()
    return session.session_key


def attendee_with_sandbox(backend) -> tuple[str, Attendee, Sandbox]:
    """An attendee whose sandbox exists, as a first run leaves it; returns (session key, attendee, sandbox)."""
    key = session_key()
    attendee = attendee_for(session=SessionStore(session_key=key), deck_slug=SLUG, user=None)
    sandbox = Sandbox.objects.create(attendee=attendee, backend=backend.name)
    spec = SandboxSpec(sandbox_id=sandbox.id.hex, attendee_id=attendee.id.hex, talk=SLUG)
    sandbox.state = backend.ensure(spec=spec, state={}, progress=lambda message: None)
    sandbox.status = Sandbox.Status.READY
    sandbox.save()
    return key, attendee, sandbox


def orphan(backend) -> str:
    """A sandbox the backend made for a row that no longer exists."""
    sandbox_id = uuid.uuid4().hex
    spec = SandboxSpec(sandbox_id=sandbox_id, attendee_id="gone", talk=SLUG)
    backend.ensure(spec=spec, state={}, progress=lambda message: None)
    return sandbox_id


def running_run(attendee: Attendee, *, age: timedelta) -> Run:
    """A run of the attendee marked running since `age` ago (as if an executor had it)."""
    run = run_create(attendee=attendee, deck_slug=SLUG, block_id=SHELL)
    Run.objects.filter(id=run.id).update(status=Run.Status.RUNNING, created_at=timezone.now() - age)
    return run


def managed_ids(backend) -> set[str]:
    """The ids of the sandboxes `backend` manages now."""
    return {found.sandbox_id for found in backend.list_managed()}


def rehearse(*args: str) -> tuple[int, str, str]:
    """Run `deck rehearse ARGS`; (exit status, standard output, standard error)."""
    out, err = StringIO(), StringIO()
    try:
        call_command("deck", "rehearse", *map(str, args), stdout=out, stderr=err)
    except CommandError as failed:
        err.write(str(failed))
        return failed.returncode, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


@database_sync_to_async
def presenter_session(slug: str) -> str:
    """A session that opened the presenter link of `slug`'s talk; returns its key."""
    talk = talk_get_or_create(deck_slug=slug)
    session = SessionStore()
    assert presenter_grant(session=session, talk=talk, token=talk_presenter_token(talk=talk))
    session.save()
    return session.session_key


@database_sync_to_async
def staff_session() -> tuple[str, int]:
    """A session logged in as a new staff user (the presenter by their account); its key and the user's id."""
    user = User.objects.create_user(f"speaker-{uuid.uuid4().hex[:8]}", password="first-password", is_staff=True)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return session.session_key, user.pk


@asynccontextmanager
async def follower(session_key: str | None = None, *, slug: str):
    """A connected browser following `slug`'s talk; yields (communicator, first message)."""
    headers = [ORIGIN]
    if session_key:
        headers.append((b"cookie", f"sessionid={session_key}".encode()))
    socket = WebsocketCommunicator(application, f"/ws/talks/{slug}/follow/", headers=headers)
    connected, _ = await socket.connect(timeout=WAIT)
    assert connected
    try:
        yield socket, await socket.receive_json_from(timeout=WAIT)
    finally:
        await socket.disconnect(timeout=WAIT)
