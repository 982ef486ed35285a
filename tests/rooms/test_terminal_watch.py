"""The presenter watches an attendee's terminal from the room dashboard: read-only, seen by the attendee, and
nobody else may (real DockerBackend)."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.contrib.sessions.backends.db import SessionStore

from rooms.services import room_open
from tests.rooms.room_support import joined
from tests.sandbox.runs_support import SLUG, new_session, presenter_session
from tests.sandbox.terminal_support import terminal

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("local_backend"), pytest.mark.docker]


@database_sync_to_async
def join(room, name: str, session_key: str):
    return joined(room, name, SessionStore(session_key=session_key))


def watch_path(code: str, member) -> str:
    return f"/ws/rooms/{code}/terminal/{member}/"


async def test_the_presenter_watches_read_only_and_the_attendee_sees_it(docker_backend):
    room = await database_sync_to_async(room_open)(deck_slug=SLUG)
    ada_key, bob_key = await new_session(), await new_session()
    ada, bob = await join(room, "Ada", ada_key), await join(room, "Bob", bob_key)
    presenter = await presenter_session(SLUG)

    # Nobody has a terminal yet: nothing to watch.
    async with terminal(presenter, path=watch_path(room.code, ada.id), open=False) as watch:
        await watch.send(type="open", cols=80, rows=24)
        ended = await watch.until_message("terminal.ended")
        assert ended["reason"] == "refused" and "no" in ended["message"]

    async with terminal(ada_key) as mine:
        await mine.command("echo before-watching", r"^(before-watching)$")
        async with terminal(presenter, path=watch_path(room.code, ada.id)) as watch:
            assert (await mine.until_message("terminal.watched"))["watching"] == 1
            await watch.until_text(r"^before-watching$")  # what was there already
            await mine.command("echo typed-$((20+3))", r"^(typed-23)$")
            await watch.until_text(r"^typed-23$")  # and what comes
            await watch.type("echo from-the-presenter\r")
            assert (await watch.until_message("error"))["code"] == "read-only"
        assert (await mine.until_message("terminal.watched"))["watching"] == 0
        assert "from-the-presenter" not in mine.text

        # Bob (an attendee, not the presenter) may not watch Ada; the presenter may name only a member of the
        # room (an attendee's id, a made-up one, is no member's).
        async with terminal(bob_key, path=watch_path(room.code, ada.id), open=False) as refused:
            ended = await refused.until_message("terminal.ended")
            assert ended["reason"] == "refused" and "Only the presenter" in ended["message"]
        for member in ("not-a-member", "00000000-0000-0000-0000-000000000000", str(bob.attendee_id)):
            async with terminal(presenter, path=watch_path(room.code, member), open=False) as refused:
                ended = await refused.until_message("terminal.ended")
                assert ended["reason"] == "refused" and "room" in ended["message"]


async def test_the_watchers_screen_has_the_attendees_size_from_the_start_and_after_each_resize(docker_backend):
    room = await database_sync_to_async(room_open)(deck_slug=SLUG)
    ada_key = await new_session()
    ada = await join(room, "Ada", ada_key)
    presenter = await presenter_session(SLUG)
    async with terminal(ada_key, cols=97, rows=31) as mine:
        await mine.command("echo sized", r"^(sized)$")
        # The presenter's dialog is another size: the server says the attendee's, before any output (what was
        # received up to "terminal.ready").
        async with terminal(presenter, path=watch_path(room.code, ada.id), cols=120, rows=40) as watch:
            assert watch.raw == 0
            size = await watch.until_message("terminal.size")
            assert (size["cols"], size["rows"]) == (97, 31)
            await watch.until_text(r"^sized$")
            await mine.send(type="resize", cols=61, rows=17)
            size = await watch.until_message("terminal.size")
            assert (size["cols"], size["rows"]) == (61, 17)
            assert await mine.command("tput cols; tput lines", r"^(\d+\n\d+)$") == "61\n17"
