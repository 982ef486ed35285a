"""A room on the Kubernetes backend, on the test cluster: its warm pool is namespaces labelled with the room, primed
from the mirror; a joiner's first run is in the pooled namespace; the dashboard sees it fail; the presenter's reset
gives a fresh namespace; closing the room deletes every namespace it had."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from django.contrib.sessions.backends.db import SessionStore

from rooms.pool import pool_fill, pool_refills_wait, pool_status
from rooms.services import room_close, room_open
from sandbox.backends.kubernetes_spec import LABEL_ROOM
from sandbox.models import Sandbox
from tests.cluster.helpers import cluster_wait_for
from tests.rooms.room_support import joined
from tests.rooms.sockets import dashboard
from tests.sandbox.runs_support import SLUG, WAIT, new_session, page, presenter_session

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.cluster, pytest.mark.docker, pytest.mark.slow]

PRIMED = "python:3.11-slim"  # one of the workshop's images, in the mirror `sandbox prepare` fills
WHERE = "kubectl config view --minify -o jsonpath='{..namespace}'; echo"
FAILS = "echo 'Error from server (AlreadyExists): deployments.apps \"web-7f9c\" already exists' >&2; exit 1"
RESET = 300  # seconds: deleting a namespace with a workspace in it, then making a fresh one


def namespaces(cluster, selector: str) -> list[str]:
    """Live (not terminating) namespaces matching the label `selector`."""
    found = cluster.kubectl_json("get", "namespace", "-l", selector)["items"]
    return sorted(item["metadata"]["name"] for item in found if item["status"].get("phase") == "Active")


def row_of(board: dict, name: str) -> dict:
    return next(row for row in board["roster"] if row["name"] == name)


async def test_a_room_runs_on_kubernetes_from_pool_to_close(local_backend, kubernetes_backend, cluster):
    room = await database_sync_to_async(room_open)(deck_slug=SLUG, capacity=1, pool_size=1)
    report = await database_sync_to_async(pool_fill)(room=room, backend=kubernetes_backend, images=[PRIMED])
    assert report.failed == {} and len(report.made) == 1 and report.primed == report.made
    assert await database_sync_to_async(pool_status)(room=room) == {"size": 1, "ready": 1}
    [pooled] = await asyncio.to_thread(namespaces, cluster, f"{LABEL_ROOM}={room.code}")

    ada = await new_session()
    member = await database_sync_to_async(joined)(room, "Ada", SessionStore(session_key=ada))
    sandbox = await database_sync_to_async(Sandbox.objects.get)(attendee_id=member.attendee_id)
    assert sandbox.id.hex == report.made[0] and sandbox.state["namespace"] == pooled
    presenter = await presenter_session(SLUG)
    async with dashboard(room.code, presenter) as board_socket, page(ada) as me:
        # Ada's first run is in the pooled namespace, and the deck's image is already in her engine.
        end, _ = await me.run(f"{WHERE}; docker image inspect --format primed {PRIMED}")
        assert end["status"] == "ok", me.log
        assert me.text(end["run"]).split() == [pooled, "primed"]
        assert not [m for m in me.log if m["type"] == "sandbox.progress"]  # nothing was created for her

        end, _ = await me.run(FAILS)
        assert end["status"] == "failed"
        board = await board_socket.board(lambda b: b["radar"])
        assert row_of(board, "Ada")["sandbox"] == "ready" and row_of(board, "Ada")["lastRun"]["status"] == "failed"
        assert board["radar"][0]["count"] == 1 and "already exists" in board["radar"][0]["line"]

        # The presenter resets her sandbox: the cluster deletes her namespace and Podium makes a fresh one.
        old_uid = cluster.kubectl_json("get", "namespace", pooled)["metadata"]["uid"]
        said = await board_socket.answer(type="member.reset", member=str(member.id))
        assert said["message"] == "Resetting Ada's sandbox."
        reset = await me.wait_for(lambda m: m["type"] == "sandbox.reset", wait=RESET)
        assert reset["status"] == "ok", me.log
        assert cluster.kubectl_json("get", "namespace", pooled)["metadata"]["uid"] != old_uid
        end, _ = await me.run(f"{WHERE}; docker image ls -q {PRIMED} | wc -l")
        assert me.text(end["run"]).split() == [pooled, "0"]  # fresh: her namespace, an empty engine

    # The room is full (capacity 1, Ada in it): no place is left to pool for, so nothing more was made.
    await database_sync_to_async(pool_refills_wait)(WAIT)
    assert await asyncio.to_thread(namespaces, cluster, f"{LABEL_ROOM}={room.code}") == []  # the reset's is hers
    await database_sync_to_async(room_close)(room=room)
    cluster_wait_for(
        lambda: pooled not in namespaces(cluster, "podium.managed=1"),
        what=f"the room's namespace {pooled} to be deleted",
        timeout=RESET,
    )
