"""The rooms tests' websockets: an attendee page's room line and the presenter's dashboard, as Channels test clients."""

from __future__ import annotations

from contextlib import asynccontextmanager

from channels.testing import WebsocketCommunicator

from config.asgi import application
from tests.sandbox.runs_support import ORIGIN, SLUG, WAIT


class Socket:
    """A connected rooms websocket; every message received is kept in `log`, in order."""

    def __init__(self, socket: WebsocketCommunicator) -> None:
        self.socket = socket
        self.log: list[dict] = []

    async def send(self, **message) -> None:
        await self.socket.send_json_to(message)

    async def wait_for(self, predicate, *, after: int = 0) -> dict:
        index = after
        while True:
            while index < len(self.log):
                if predicate(self.log[index]):
                    return self.log[index]
                index += 1
            self.log.append(await self.socket.receive_json_from(timeout=WAIT))

    async def answer(self, **message) -> dict:
        """Send `message`; the first "done", "error" or "output" after it."""
        mark = len(self.log)
        await self.send(**message)
        return await self.wait_for(lambda m: m["type"] in ("done", "error", "output"), after=mark)

    async def board(self, predicate=lambda board: True) -> dict:
        """The first board (from the latest received on) for which `predicate` holds."""
        boards = [i for i, m in enumerate(self.log) if m["type"] == "board"]
        return await self.wait_for(lambda m: m["type"] == "board" and predicate(m), after=boards[-1] if boards else 0)


@asynccontextmanager
async def connected(path: str, session_key: str | None):
    headers = [ORIGIN]
    if session_key:
        headers.append((b"cookie", f"sessionid={session_key}".encode()))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    ok, _ = await communicator.connect(timeout=WAIT)
    assert ok
    try:
        yield Socket(communicator)
    finally:
        await communicator.disconnect(timeout=WAIT)


def room_line(session_key: str | None, slug: str = SLUG):
    """An attendee page's room websocket."""
    return connected(f"/ws/decks/{slug}/room/", session_key)


def dashboard(code: str, session_key: str | None):
    """The presenter's dashboard websocket of room `code`."""
    return connected(f"/ws/rooms/{code}/dashboard/", session_key)
