"""Who gets a sandbox once rooms exist: tried over the real runs websocket, sandboxes on the LocalBackend double.

The LocalBackend runs code as plain processes in a folder per sandbox; these
tests are about who is let in, which is the same for every backend (the
engine-level check that closing a room removes its containers is in
test_close_on_the_engine.py).
"""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from django.contrib.sessions.backends.db import SessionStore

from rooms.models import Member
from rooms.services import member_remove, room_close, room_open
from sandbox.models import Progress, Run
from tests.rooms.room_support import joined
from tests.sandbox.runs_support import SLUG, WAIT, managed_ids, new_session, page, presenter_session

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("local_backend")]


@database_sync_to_async
def join(room, name: str, session_key: str) -> Member:
    return joined(room, name, SessionStore(session_key=session_key))


async def slide_stored(attendee_id) -> int | None:
    """The attendee's stored slide, once the page's report of it reached the database (within WAIT)."""
    for _ in range(WAIT * 10):
        progress = await database_sync_to_async(Progress.objects.filter(attendee_id=attendee_id).first)()
        if progress is not None:
            return progress.slide
        await asyncio.sleep(0.1)
    return None


@pytest.fixture
def rooms_only(settings):
    """A server for a room of strangers: no sandbox without a room."""
    settings.PODIUM_SELF_PACED = False


async def test_without_self_paced_only_admitted_members_and_the_presenter_run_code(rooms_only):
    room = await database_sync_to_async(room_open)(deck_slug=SLUG, capacity=1)
    stranger, ada, bob = await new_session(), await new_session(), await new_session()
    await join(room, "Ada", ada)
    await join(room, "Bob", bob)  # past capacity: waits
    async with page(stranger) as outsider:
        refused = await outsider.error(type="run", block="s2b0")
        assert refused["code"] == "not-admitted"
        assert "Join the room to run code" in refused["message"]
    async with page(bob) as waiting:
        refused = await waiting.error(type="run", block="s2b0")
        assert refused["message"] == f"You are number 1 on the wait list of room {room.code}."
    async with page(ada) as admitted:
        end, _ = await admitted.run()
        assert end["status"] == "ok"
    async with page(await presenter_session(SLUG)) as presenter:
        end, _ = await presenter.run()
        assert end["status"] == "ok"


async def test_a_reset_is_refused_too_when_not_admitted(rooms_only):
    await database_sync_to_async(room_open)(deck_slug=SLUG)
    async with page(await new_session()) as outsider:
        mark = len(outsider.log)
        await outsider.send(type="reset")
        answer = await outsider.wait_for(lambda m: m["type"] == "sandbox.reset", after=mark)
        assert answer["status"] == "error" and "Join the room" in answer["message"]


async def test_self_paced_servers_let_anyone_run_but_not_someone_removed(settings):
    settings.PODIUM_SELF_PACED = True
    room = await database_sync_to_async(room_open)(deck_slug=SLUG)
    mallory = await new_session()
    member = await join(room, "Mallory", mallory)
    async with page(await new_session()) as passerby:
        end, _ = await passerby.run()
        assert end["status"] == "ok"
    await database_sync_to_async(member_remove)(member=member)
    async with page(mallory) as removed:
        refused = await removed.error(type="run", block="s2b0")
        assert refused == {
            "type": "error",
            "code": "not-admitted",
            "message": f"The presenter removed you from room {room.code}.",
            "block": "s2b0",
        }


async def test_closing_a_room_destroys_its_sandboxes_and_keeps_progress(local_backend, rooms_only):
    room = await database_sync_to_async(room_open)(deck_slug=SLUG)
    ada = await new_session()
    member = await join(room, "Ada", ada)
    async with page(ada) as admitted:
        end, _ = await admitted.run()
        await admitted.send(type="progress", slide=3)
        assert await slide_stored(member.attendee_id) == 3
    assert end["status"] == "ok"
    assert len(managed_ids(local_backend)) == 1
    change = await database_sync_to_async(room_close)(room=room)
    assert change.failed == {}
    assert managed_ids(local_backend) == set()
    assert await database_sync_to_async(Run.objects.filter(status="ok").count)() == 1
    async with page(ada) as after:
        refused = await after.error(type="run", block="s2b0")
        assert refused["message"] == (
            f"Room {room.code} is closed, and this server runs code only for people in a room."
        )
    assert await slide_stored(member.attendee_id) == 3
