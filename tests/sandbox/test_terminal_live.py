"""The terminal socket under daphne, as a page uses it, on a real Docker sandbox: keys go from daphne's connection
straight to the shell (config/frames.py `take_binary`, TerminalPipe.type_now), and whatever way each key takes,
none overtakes another; what the direct way cannot take (a paste over the cap) is still answered in words.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import string
from collections.abc import Iterator

import pytest
import websockets
from django.conf import settings

from tests.docker_helpers import docker_remove_labelled
from tests.live_server import PodiumServer, live_server
from tests.sandbox.live_runs import page_headers, session_of
from tests.sandbox.runs_support import RUNS_DECKS, SECURITY, SLUG

pytestmark = [pytest.mark.docker]

WAIT = 60  # seconds for one message; a cold sandbox on a busy CI machine takes a while


@pytest.fixture(scope="module")
def server(tmp_path_factory, docker_client) -> Iterator[PodiumServer]:
    instance = f"test-terminal-live-{random.randrange(16**8):08x}"
    env = {"PODIUM_SANDBOX_BACKEND": "docker", "PODIUM_SANDBOX_SECURITY": SECURITY, "PODIUM_INSTANCE": instance}
    try:
        with live_server(tmp_path_factory.mktemp("terminal-live"), slides=RUNS_DECKS, slug=SLUG, extra_env=env) as s:
            yield s
    finally:
        docker_remove_labelled(docker_client, label=f"podium.instance={instance}")


class Screen:
    """A terminal socket's output as text lines (escape sequences out), and its JSON messages."""

    def __init__(self, socket) -> None:
        self.socket = socket
        self.raw = b""
        self.messages: list[dict] = []

    def lines(self) -> str:
        text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", self.raw.decode(errors="replace"))
        return text.replace("\r\n", "\n").replace("\r", "\n")

    async def until(self, found) -> None:
        """Read until `found(self)` holds (each message within WAIT seconds)."""
        while not found(self):
            frame = await asyncio.wait_for(self.socket.recv(), WAIT)
            if isinstance(frame, bytes):
                self.raw += frame
                await self.socket.send(json.dumps({"type": "ack", "bytes": len(frame)}))
            else:
                self.messages.append(json.loads(frame))


async def _opened(server: PodiumServer) -> tuple[object, Screen]:
    socket = await websockets.connect(
        f"ws://127.0.0.1:{server.port}/ws/decks/{SLUG}/terminal/",
        additional_headers=page_headers(server, session_of(server)),
    )
    await socket.send(json.dumps({"type": "open", "cols": 200, "rows": 40}))
    screen = Screen(socket)
    await screen.until(lambda s: any(m["type"] in ("terminal.ready", "terminal.ended") for m in s.messages))
    assert screen.messages[-1]["type"] == "terminal.ready", screen.messages
    await screen.until(lambda s: re.search(r"[#$] *$", s.lines()))  # the prompt
    return socket, screen


async def test_keys_sent_faster_than_the_shell_reads_them_arrive_whole_and_in_order(server):
    socket, screen = await _opened(server)
    try:
        line = "".join(random.choice(string.ascii_letters + string.digits) for _ in range(1500))
        resize = json.dumps({"type": "resize", "cols": 200, "rows": 40})
        for index, key in enumerate(f"echo {line}"):  # one frame per key, as fast as the client sends them
            if index % 100 == 0:  # messages the consumer handles (in a thread): the keys behind them queue up
                await socket.send(resize)
                await socket.send(resize)
            await socket.send(key.encode())
        await socket.send(b"\r")
        await screen.until(lambda s: f"\n{line}\n" in s.lines())
    finally:
        await socket.close()


async def test_a_paste_over_the_cap_is_refused_in_words_and_typing_goes_on(server):
    socket, screen = await _opened(server)
    try:
        await socket.send(b"x" * (settings.PODIUM_TERMINAL_INPUT_MAX + 1))
        await screen.until(lambda s: any(m["type"] == "error" for m in s.messages))
        error = next(m for m in screen.messages if m["type"] == "error")
        assert error["code"] == "too-large" and "PODIUM_TERMINAL_INPUT_MAX" in error["message"]
        for key in "echo after-$((40+2))\r":
            await socket.send(key.encode())
        await screen.until(lambda s: "\nafter-42\n" in s.lines())
    finally:
        await socket.close()
