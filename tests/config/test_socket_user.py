"""A websocket's user is looked up lazily, in a database thread (config.socket_user): no handshake waits for the
one thread that short database calls share, and the user is still who Django's session says.

Through the whole ASGI stack (origin check, session, user, routing) with real sessions in the test database.
"""

from __future__ import annotations

import asyncio
import threading
from contextlib import AsyncExitStack, asynccontextmanager

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User

from config.asgi import application
from tests.sandbox.runs_support import ORIGIN, SLUG, WAIT, follower, frame_read, new_session, staff_session

pytestmark = pytest.mark.django_db(transaction=True)


@asynccontextmanager
async def shared_thread_busy():
    """The one thread short database calls share, held by a call that ends only when the block is left: what a
    write stuck behind a database lock does to it (SQLite waits up to 5 s, MariaDB longer)."""
    started, release = threading.Event(), threading.Event()

    def long_call() -> None:
        started.set()
        release.wait(120)

    held = asyncio.create_task(database_sync_to_async(long_call)())
    assert await asyncio.to_thread(started.wait, WAIT), "the shared database thread never took the call"
    try:
        yield
    finally:
        release.set()
        await held


async def _open(stack: AsyncExitStack, path: str, session_key: str) -> WebsocketCommunicator:
    socket = WebsocketCommunicator(
        application, path, headers=[ORIGIN, (b"cookie", f"sessionid={session_key}".encode())]
    )
    connected, _ = await socket.connect(timeout=WAIT)
    assert connected, f"{path}: the handshake was not answered while the shared database thread was busy"
    stack.push_async_callback(socket.disconnect, timeout=WAIT)
    return socket


async def test_every_socket_of_a_page_opens_while_the_shared_database_thread_is_busy(local_backend):
    presenter_key, _ = await staff_session()
    attendee_key = await new_session()
    async with AsyncExitStack() as stack:
        async with shared_thread_busy():
            # The presenter view goes live: its follow socket opens and says the slide, and the staff user is
            # found (in a pool thread) to be the presenter.
            presenter, hello = await stack.enter_async_context(follower(presenter_key, slug=SLUG))
            assert hello["type"] == "position"
            assert hello["presenter"] is True
            # and drives: an audience page that joins sees the move.
            audience, _ = await stack.enter_async_context(follower(attendee_key, slug=SLUG))
            await presenter.send_json_to({"type": "goto", "slide": 2})
            assert await audience.receive_json_from(timeout=WAIT) == {"type": "position", "slide": 2, "live": True}
            # The attendee page's other sockets open too (their work waits, not their handshakes).
            runs = await _open(stack, f"/ws/decks/{SLUG}/runs/", attendee_key)
            room = await _open(stack, f"/ws/decks/{SLUG}/room/", attendee_key)
            await _open(stack, f"/ws/decks/{SLUG}/terminal/", attendee_key)
            await runs.send_json_to({"type": "history"})
        # Once the thread is free, what waited is answered, in order.
        assert frame_read(await runs.receive_from(timeout=WAIT))["type"] == "history"
        assert (await room.receive_json_from(timeout=WAIT))["type"] == "room"


async def test_a_staff_session_from_before_a_password_change_no_longer_presents(runs_deck):
    key, user_id = await staff_session()
    async with follower(key, slug=SLUG) as (_, hello):
        assert hello["presenter"] is True

    @database_sync_to_async
    def password_change() -> None:
        user = User.objects.get(pk=user_id)
        user.set_password("second-password")
        user.save()

    await password_change()
    async with follower(key, slug=SLUG) as (speaker, hello):
        assert hello["presenter"] is False
        await speaker.send_json_to({"type": "goto", "slide": 2})
        assert (await speaker.receive_json_from(timeout=WAIT))["code"] == "forbidden"


async def test_an_inactive_staff_user_does_not_present(runs_deck):
    key, user_id = await staff_session()
    await database_sync_to_async(User.objects.filter(pk=user_id).update)(is_active=False)
    async with follower(key, slug=SLUG) as (_, hello):
        assert hello["presenter"] is False
