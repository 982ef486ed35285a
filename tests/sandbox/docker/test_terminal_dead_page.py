"""A page that stops answering (a laptop off the conference Wi-Fi) holds a terminal on a real daphne, run as
every deployment runs it (no ping options: daphne's own 20 s / 30 s), with a real Docker sandbox and
PODIUM_TERMINALS_PER_ATTENDEE=1. Its terminal stops counting: at once when the same browser tab opens a new
socket, and by itself once daphne's ping went unanswered, so the attendee's next open is not refused.

The silent page is a raw TCP client that completes the websocket handshake, opens its terminal, then never
reads again: it answers no ping, as a page whose network vanished.
"""

from __future__ import annotations

import base64
import json
import os
import random
import socket
import struct
import time
from collections.abc import Iterator

import pytest

from tests.docker_helpers import docker_remove_labelled
from tests.live_server import PodiumServer, live_server
from tests.sandbox.live_runs import session_of
from tests.sandbox.runs_support import RUNS_DECKS, SECURITY, SLUG

pytestmark = [pytest.mark.docker, pytest.mark.slow]

WAIT = 180  # seconds for one answer: a cold sandbox on a busy 2-core machine takes a while
# daphne pings a socket 20 s after its last frame and drops it 30 s later without a pong (checked every 2 s);
# then the attach is detached. Past this, the dead page's terminal would still count: the test fails.
DROPPED_WITHIN = 150


@pytest.fixture(scope="module")
def server(tmp_path_factory, docker_client) -> Iterator[PodiumServer]:
    instance = f"test-deadpage-{random.randrange(16**8):08x}"
    extra = {
        "PODIUM_SANDBOX_BACKEND": "docker",
        "PODIUM_SANDBOX_SECURITY": SECURITY,
        "PODIUM_INSTANCE": instance,
        "PODIUM_TERMINALS_PER_ATTENDEE": "1",
        "PODIUM_RATE_TERMINALS_PER_ATTENDEE": "off",  # the retries below are not what is tested
    }
    with live_server(tmp_path_factory.mktemp("dead-page"), slides=RUNS_DECKS, slug=SLUG, extra_env=extra) as server:
        try:
            yield server
        finally:
            docker_remove_labelled(docker_client, label=f"podium.instance={instance}")


class RawPage:
    """A terminal socket over a plain TCP connection: it reads only when told to, and never answers a ping."""

    def __init__(self, server: PodiumServer, session: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET /ws/decks/{SLUG}/terminal/ HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                f"Sec-WebSocket-Key: {key}\r\nOrigin: {server.base_url}\r\nCookie: sessionid={session}\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += self._read(1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def _read(self, count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise ConnectionError("the server closed the connection")
            data += chunk
        return data

    def send_json(self, message: dict) -> None:
        payload = json.dumps(message).encode()
        assert len(payload) < 126
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        self.sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)

    def next_json(self) -> dict:
        """The next JSON message (output, pings and other frames are skipped, never answered)."""
        while True:
            first, second = self._read(2)
            length = second & 0x7F
            if length == 126:
                length = struct.unpack(">H", self._read(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self._read(8))[0]
            payload = self._read(length)
            if first & 0x0F == 0x8:
                raise ConnectionError("the server closed the websocket")
            if first & 0x0F == 0x1:
                return json.loads(payload)

    def open(self, tab: str | None = None) -> dict:
        """Open the terminal; the "terminal.ready" or "terminal.ended" that answers."""
        self.send_json({"type": "open", "cols": 80, "rows": 24, **({"tab": tab} if tab else {})})
        while True:
            message = self.next_json()
            if message["type"] in ("terminal.ready", "terminal.ended"):
                return message

    def close(self) -> None:
        self.sock.close()


def test_the_same_tabs_new_socket_takes_over_a_silent_pages_terminal_at_once(server):
    session = session_of(server)
    silent = RawPage(server, session)
    assert silent.open(tab="tab-of-the-laptop")["type"] == "terminal.ready"
    # The network vanished: the silent page reads nothing from here on. The tab's page reconnects at once,
    # long before daphne's ping could have found the old socket dead.
    again = RawPage(server, session)
    try:
        answer = again.open(tab="tab-of-the-laptop")
        assert answer["type"] == "terminal.ready", answer
        # What the old socket was told, had anyone been there to read it.
        assert silent.next_json()["reason"] == "replaced"
    finally:
        again.close()
        silent.close()


def test_a_silent_pages_terminal_stops_counting_once_daphnes_ping_goes_unanswered(server):
    session = session_of(server)
    silent = RawPage(server, session)
    assert silent.open()["type"] == "terminal.ready"
    pages = [silent]
    try:
        deadline = time.monotonic() + DROPPED_WITHIN
        while True:  # another tab of the attendee: refused while the silent one counts, then let in
            page = RawPage(server, session)
            pages.append(page)
            answer = page.open()
            if answer["type"] == "terminal.ready":
                break
            assert "PODIUM_TERMINALS_PER_ATTENDEE=1" in answer["message"], answer
            assert time.monotonic() < deadline, "the silent page's terminal still counts"
            time.sleep(2)
        assert len(pages) > 2, "the first open after the silent page's was not refused: the limit was not met"
    finally:
        for page in pages:
            page.close()
