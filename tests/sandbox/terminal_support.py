"""Helpers of the terminal socket tests: a page's terminal panel as a websocket client that reads the screen.

Imported by test modules (`from tests.sandbox.terminal_support import ...`).
"""

from __future__ import annotations

import codecs
import json
import re
from contextlib import asynccontextmanager

from channels.testing import WebsocketCommunicator

from config.asgi import application
from tests.sandbox.runs_support import ORIGIN, SLUG, WAIT

# CSI / OSC / charset escape sequences: what is left is the text a person reads.
ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>]")


class TerminalPage:
    """One terminal panel's socket: JSON messages in `messages`, the output decoded in `output`."""

    def __init__(self, socket: WebsocketCommunicator, *, ack: bool = True) -> None:
        self.socket = socket
        self.ack = ack  # acknowledge output as a page does once it has shown it
        self.ack_every = 1  # as the page: acknowledge once this many bytes are shown (terminal.ready says)
        self._shown = 0
        self.messages: list[dict] = []
        self.raw = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._output = ""
        self.closed: int | None = None

    @property
    def printed(self) -> str:
        """Everything printed so far as it came, escape sequences included."""
        return self._output

    @property
    def text(self) -> str:
        """Everything printed so far without escape sequences, carriage returns removed."""
        return ESCAPES.sub("", self._output).replace("\r", "")

    async def send(self, **message) -> None:
        await self.socket.send_to(text_data=json.dumps(message))

    async def type(self, keys: str) -> None:
        await self.socket.send_to(bytes_data=keys.encode())

    async def receive(self, wait: float = WAIT) -> None:
        """One frame (raises TimeoutError after `wait` seconds without one)."""
        frame = await self.socket.receive_output(timeout=wait)
        if frame["type"] == "websocket.close":
            self.closed = frame.get("code", 1000)
            raise ConnectionError(f"closed with {self.closed}")
        if frame.get("bytes") is not None:
            self.raw += len(frame["bytes"])
            self._output += self._decoder.decode(frame["bytes"])
            if self.ack:
                self._shown += len(frame["bytes"])
                if self._shown >= self.ack_every:
                    await self.send(type="ack", bytes=self._shown)
                    self._shown = 0
        else:
            self.messages.append(json.loads(frame["text"]))

    async def until_text(self, pattern: str, *, after: int = 0) -> re.Match:
        """Receive until the screen's text (from character `after` on) matches the regex `pattern`."""
        while True:
            found = re.search(pattern, self.text[after:], re.MULTILINE)
            if found:
                return found
            try:
                await self.receive()
            except TimeoutError:
                raise AssertionError(f"{pattern!r} never showed; the screen ends with {self.text[-800:]!r}") from None

    async def until_message(self, kind: str) -> dict:
        """Receive until a JSON message of type `kind` came (the first one not looked at yet)."""
        seen = 0
        while True:
            for message in self.messages[seen:]:
                if message["type"] == kind:
                    self.messages.remove(message)
                    return message
            seen = len(self.messages)
            await self.receive()

    async def until_message_either(self, *kinds: str) -> dict:
        """Receive until a JSON message of one of `kinds` came."""
        while True:
            for message in self.messages:
                if message["type"] in kinds:
                    self.messages.remove(message)
                    return message
            await self.receive()

    async def command(self, line: str, answer: str) -> str:
        """Type `line` and Enter; the first match of `answer` (a regex with one group) printed after it."""
        mark = len(self.text)
        await self.type(line + "\r")
        return (await self.until_text(answer, after=mark)).group(1)

    async def silence(self, wait: float = 2.0) -> None:
        """Receive until nothing came for `wait` seconds."""
        while not await self.socket.receive_nothing(timeout=wait):
            await self.receive()


@asynccontextmanager
async def terminal(
    session_key: str | None,
    *,
    slug: str = SLUG,
    path: str = "",
    cols=80,
    rows=24,
    ack=True,
    open=True,
    tab: str | None = None,
    address: str | None = None,
):
    """A connected terminal socket of deck `slug`'s page with the session cookie `session_key`, opened and
    ready (unless `open` is false); `path` replaces the socket's address, `tab` is the browser tab the page
    names in "open", `address` the client's address (as daphne fills it)."""
    headers = [ORIGIN]
    if session_key:
        headers.append((b"cookie", f"sessionid={session_key}".encode()))
    socket = WebsocketCommunicator(application, path or f"/ws/decks/{slug}/terminal/", headers=headers)
    if address is not None:
        socket.scope["client"] = (address, 50000)
    connected, _ = await socket.connect(timeout=WAIT)
    assert connected
    page = TerminalPage(socket, ack=ack)
    try:
        if open:
            await page.send(type="open", cols=cols, rows=rows, **({"tab": tab} if tab else {}))
            ready = await page.until_message_either("terminal.ready", "terminal.ended")
            assert ready["type"] == "terminal.ready", ready
            page.ack_every = ready["ack_every"]
        yield page
    finally:
        await socket.disconnect(timeout=WAIT)
