"""A room's warm pool on the real Docker backend: sandboxes made and primed ahead, labelled with their room,
handed out to the first joiner without a new container, and removed from the engine when the room closes."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.contrib.sessions.backends.db import SessionStore

from rooms.pool import pool_fill, pool_refills_wait, pool_status
from rooms.services import room_close, room_open
from sandbox.backends.docker_spec import LABEL_ROOM
from sandbox.models import Sandbox
from tests.rooms.room_support import joined
from tests.sandbox.runs_support import SLUG, WAIT, new_session, page

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.docker]

PRIMED = "python:3.11-slim"  # one of the workshop's images, in the mirror `sandbox prepare` fills


def room_containers(docker_client, code: str) -> list[str]:
    return [c.name for c in docker_client.containers.list(all=True, filters={"label": f"{LABEL_ROOM}={code}"})]


async def test_a_primed_pool_sandbox_is_labelled_handed_out_and_removed_with_its_room(
    local_backend, docker_backend, docker_client
):
    room = await database_sync_to_async(room_open)(deck_slug=SLUG, capacity=1, pool_size=1)
    report = await database_sync_to_async(pool_fill)(room=room, backend=docker_backend, images=[PRIMED])
    assert report.failed == {} and len(report.made) == 1 and report.primed == report.made
    assert await database_sync_to_async(pool_status)(room=room) == {"size": 1, "ready": 1}
    [container] = room_containers(docker_client, room.code)

    ada = await new_session()
    member = await database_sync_to_async(joined)(room, "Ada", SessionStore(session_key=ada))
    sandbox = await database_sync_to_async(Sandbox.objects.get)(attendee_id=member.attendee_id)
    assert sandbox.id.hex == report.made[0] and sandbox.state["container"] == container
    async with page(ada) as me:
        # Ada's first run is in the pool's container, and the deck's image is already in its engine.
        end, _ = await me.run(f"docker image inspect --format primed {PRIMED}; hostname")
        assert end["status"] == "ok", me.log
        assert me.text(end["run"]).splitlines()[0] == "primed"
        assert not [m for m in me.log if m["type"] == "sandbox.progress"]  # nothing was created for her
    # The room is full (capacity 1, Ada in it): no place is left to pool for, so nothing was made again.
    await database_sync_to_async(pool_refills_wait)(WAIT)
    assert room_containers(docker_client, room.code) == [container]

    await database_sync_to_async(room_close)(room=room)
    assert room_containers(docker_client, room.code) == []
    assert docker_client.containers.list(all=True, filters={"name": container}) == []
