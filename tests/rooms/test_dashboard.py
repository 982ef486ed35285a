"""The presenter's dashboard over its websocket: the live roster, the stuck radar, help, notes, acting on people;
and what an attendee cannot do with it. Runs go through the real runs websocket on the LocalBackend double."""

from __future__ import annotations

import asyncio
import threading

import pytest
from channels.db import database_sync_to_async
from django.contrib.sessions.backends.db import SessionStore

import rooms.consumers
from rooms.models import Member
from rooms.services import room_open
from tests.rooms.room_support import joined
from tests.rooms.sockets import dashboard, room_line
from tests.sandbox.runs_support import SLUG, WAIT, follower, new_session, page, presenter_session

pytestmark = [pytest.mark.django_db(transaction=True)]

FAILS = (
    "echo starting; echo 'docker: Error response from daemon: Conflict. The container name is in use by container"
    " {id}.' >&2; echo \"See 'docker run --help'.\" >&2"
)


@database_sync_to_async
def join(room, name: str, session_key: str) -> Member:
    return joined(room, name, SessionStore(session_key=session_key))


def row_of(board: dict, name: str) -> dict:
    return next(row for row in board["roster"] if row["name"] == name)


@pytest.fixture
async def room_of_two(local_backend):
    """An open room with Ada and Bob in it; (room, presenter key, {name: session key}, {name: member})."""
    room = await database_sync_to_async(room_open)(deck_slug=SLUG)
    keys = {"Ada": await new_session(), "Bob": await new_session()}
    members = {name: await join(room, name, key) for name, key in keys.items()}
    return room, await presenter_session(SLUG), keys, members


async def test_the_roster_shows_slides_steps_and_last_runs_as_they_change(room_of_two):
    room, presenter, keys, _ = room_of_two
    async with dashboard(room.code, presenter) as board_socket:
        board = await board_socket.board()
        assert {row["name"] for row in board["roster"]} == {"Ada", "Bob"}
        assert board["room"] | {} == board["room"] and board["room"]["admitted"] == 2
        assert row_of(board, "Ada")["lastRun"] is None and row_of(board, "Ada")["stepsDone"] == 0
        async with page(keys["Ada"]) as ada:
            end, _ = await ada.run()
            assert end["status"] == "ok"
            await ada.send(type="progress", slide=2)
            board = await board_socket.board(lambda b: row_of(b, "Ada")["slide"] == 2)
        ada_row = row_of(board, "Ada")
        assert ada_row["lastRun"]["block"] == "s2b0" and ada_row["lastRun"]["status"] == "ok"
        assert ada_row["stepsDone"] == 1 and ada_row["steps"] >= 2
        assert ada_row["sandbox"] == "ready" and row_of(board, "Bob")["sandbox"] == "none"


async def test_an_attendees_run_and_slide_reach_the_board_when_they_happen_not_at_the_next_poll(
    room_of_two, monkeypatch
):
    # With a poll that would come in an hour, only the announcements of the run and the slide can update the board.
    monkeypatch.setattr(rooms.consumers, "BOARD_SECONDS", 3600)
    room, presenter, keys, _ = room_of_two
    async with dashboard(room.code, presenter) as board_socket, page(keys["Ada"]) as ada:
        assert row_of(await board_socket.board(), "Ada")["lastRun"] is None
        end, _ = await ada.run(code="exit 3")
        assert end["status"] == "failed"
        board = await board_socket.board(lambda b: (row_of(b, "Ada")["lastRun"] or {}).get("status") == "failed")
        assert row_of(board, "Ada")["sandbox"] == "ready"
        await ada.send(type="progress", slide=3)
        assert row_of(await board_socket.board(lambda b: row_of(b, "Ada")["slide"] == 3), "Bob")["slide"] != 3


async def test_two_attendees_failing_the_same_way_are_one_radar_group(room_of_two):
    room, presenter, keys, members = room_of_two
    for name, container in (("Ada", "9f1c2d3e4b5a"), ("Bob", "0a1b2c3d4e5f6a7b")):
        async with page(keys[name]) as attendee:
            end, _ = await attendee.run(code=FAILS.format(id=container) + "; exit 125")
            assert end["status"] == "failed"
    async with dashboard(room.code, presenter) as board_socket:
        board = await board_socket.board(lambda b: b["radar"])
        assert len(board["radar"]) == 1
        group = board["radar"][0]
        assert group["count"] == 2 and group["step"] == "s2b0" and group["slide"] == 2
        assert "Conflict. The container name is in use by container <id>" in group["line"]
        assert {m["name"] for m in group["members"]} == {"Ada", "Bob"}
        assert all(row["attention"] == "failing" for row in board["roster"])
        # The presenter reads one person's output, then sends the group a hint.
        shown = await board_socket.answer(type="output", member=str(members["Bob"].id), step="s2b0")
        assert shown["type"] == "output" and "0a1b2c3d4e5f6a7b" in shown["output"] and shown["exitCode"] == 125
        async with room_line(keys["Ada"]) as ada_line, room_line(keys["Bob"]) as bob_line:
            said = await board_socket.answer(type="note", text="Remove the old container first", to=group)
            assert said == {"type": "done", "action": "note", "message": "Note sent to 2 attendee(s)."}
            for line in (ada_line, bob_line):
                assert (await line.wait_for(lambda m: m["type"] == "note"))["text"] == "Remove the old container first"


async def test_a_help_request_reaches_the_dashboard_and_is_cleared(room_of_two):
    room, presenter, keys, _ = room_of_two
    async with dashboard(room.code, presenter) as board_socket, room_line(keys["Bob"]) as bob:
        state = await bob.wait_for(lambda m: m["type"] == "room")
        assert state["code"] == room.code and state["name"] == "Bob" and state["hand"] is None
        await bob.send(type="help", text="my build fails")
        assert (await bob.wait_for(lambda m: m["type"] == "help"))["hand"]["status"] == "open"
        board = await board_socket.board(lambda b: b["help"])
        hand = board["help"][0]
        assert (hand["name"], hand["text"], hand["status"]) == ("Bob", "my build fails", "open")
        assert board["roster"][0]["name"] == "Bob" and board["roster"][0]["attention"] == "help"  # first in line
        await board_socket.send(type="help.update", help=hand["id"], status="on-my-way")
        mark = len(bob.log)
        assert (await bob.wait_for(lambda m: m["type"] == "help", after=mark))["hand"]["status"] == "on-my-way"
        await board_socket.send(type="help.update", help=hand["id"], status="done")
        assert (await bob.wait_for(lambda m: m["type"] == "help" and m["hand"] is None, after=mark))["hand"] is None
        assert (await board_socket.board(lambda b: not b["help"]))["help"] == []


async def test_the_presenter_can_message_everyone_remove_one_and_close_the_room(room_of_two):
    room, presenter, keys, members = room_of_two
    async with (
        dashboard(room.code, presenter) as board_socket,
        room_line(keys["Ada"]) as ada,
        room_line(keys["Bob"]) as bob,
    ):
        await board_socket.answer(type="note", text="Break: back at 11", to="all")
        for line in (ada, bob):
            assert (await line.wait_for(lambda m: m["type"] == "note"))["text"] == "Break: back at 11"
        removed = await board_socket.answer(type="member.remove", member=str(members["Bob"].id))
        assert removed["message"] == "Bob was removed."
        assert "removed you" in (await bob.wait_for(lambda m: m["type"] == "room.left"))["message"]
        closed = await board_socket.answer(type="room.close")
        assert closed["message"] == f"Room {room.code} is closed."
        said = await ada.wait_for(lambda m: m["type"] == "room.closed")
        assert said["selfPaced"] is True and "progress kept" in said["message"]


async def test_an_attendee_cannot_open_the_dashboard_or_act_on_anyone(room_of_two):
    room, _, keys, members = room_of_two
    async with dashboard(room.code, keys["Ada"]) as attempt:
        refused = await attempt.wait_for(lambda m: True)
        assert refused == {"type": "error", "code": "forbidden", "message": "Only the presenter sees the room."}
        assert await attempt.socket.receive_output(timeout=5) == {"type": "websocket.close", "code": 4403}
    async with dashboard(room.code, None) as anonymous:
        assert (await anonymous.wait_for(lambda m: True))["code"] == "forbidden"
    async with room_line(keys["Ada"]) as ada:
        await ada.wait_for(lambda m: m["type"] == "room")
        for attempt in (
            {"type": "note", "text": "hi", "to": "all"},
            {"type": "member.reset", "member": str(members["Bob"].id)},
            {"type": "member.remove", "member": str(members["Bob"].id)},
            {"type": "output", "member": str(members["Bob"].id), "step": "s2b0"},
        ):
            mark = len(ada.log)
            await ada.send(**attempt)
            answer = await ada.wait_for(lambda m: m["type"] in ("error", "output", "note"), after=mark)
            assert answer["type"] == "error" and answer["code"] == "bad-request", attempt
    bob = await database_sync_to_async(Member.objects.get)(pk=members["Bob"].pk)
    assert bob.status == Member.Status.ADMITTED


async def test_closing_a_room_whose_sandboxes_are_slow_to_go_holds_up_nobody(room_of_two, local_backend, monkeypatch):
    # The engine removing Ada's sandbox takes as long as the test says (a slow `docker rm` cannot be provoked
    # at will): meanwhile, a new follower of the talk must still get the current slide.
    room, presenter, keys, _ = room_of_two
    async with page(keys["Ada"]) as ada:
        assert (await ada.run())[0]["status"] == "ok"
    removing, go_on = threading.Event(), threading.Event()
    destroy = type(local_backend).destroy

    def slow_destroy(self, *, state: dict) -> None:
        removing.set()
        go_on.wait(3 * WAIT)
        destroy(self, state=state)

    monkeypatch.setattr(type(local_backend), "destroy", slow_destroy)
    try:
        async with dashboard(room.code, presenter) as board_socket:
            await board_socket.send(type="room.close")
            assert await asyncio.to_thread(removing.wait, WAIT)
            async with follower(slug=SLUG) as (_, hello):
                assert hello["type"] == "position"
            assert not go_on.is_set()  # Ada's sandbox was still being removed the whole time
            go_on.set()
            closed = await board_socket.wait_for(lambda m: m["type"] == "done")
            assert closed["message"] == f"Room {room.code} is closed."
    finally:
        go_on.set()
