"""Live reload for authors, server side: the reload websocket tells a page the deck's version and each change,
with the deck's errors as file, line and message; it is off unless PODIUM_LIVE_RELOAD."""

from __future__ import annotations

import os

import pytest
from channels.testing import WebsocketCommunicator

from config.asgi import application
from tests.sandbox.runs_support import ORIGIN

SLUG = "views-demo"
WAIT = 30  # seconds: generous on a busy machine, never a speed assertion

pytestmark = pytest.mark.django_db(transaction=True)


def reload_socket(slug: str = SLUG) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, f"/ws/decks/{slug}/reload/", headers=[ORIGIN])


async def test_a_page_hears_the_version_then_each_change_with_its_errors(settings, decks):
    settings.PODIUM_LIVE_RELOAD = True
    path = decks / f"{SLUG}.md"
    socket = reload_socket()
    connected, _ = await socket.connect()
    assert connected
    first = await socket.receive_json_from(timeout=WAIT)
    assert first["type"] == "deck.version" and first["errors"] == []

    text = path.read_text(encoding="utf-8")
    path.write_text(text + "\n---\n\n# Broken\n\n```check\n```\n", encoding="utf-8")
    os.utime(path, ns=(1, 1))  # a new stamp even where the file system's clock is coarse
    changed = await socket.receive_json_from(timeout=WAIT)
    line = len((text + "\n---\n\n# Broken\n\n").splitlines()) + 1
    assert changed["type"] == "deck.changed" and changed["version"] != first["version"]
    assert changed["errors"] == [
        {
            "file": f"{SLUG}.md",
            "line": line,
            "message": "a !check needs a command on the lines after it (bash; exit status 0 means the step is done)",
        }
    ]

    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(2, 2))
    fixed = await socket.receive_json_from(timeout=WAIT)
    assert (fixed["type"], fixed["errors"]) == ("deck.changed", [])
    await socket.disconnect()


async def test_off_unless_switched_on(settings, decks):
    settings.PODIUM_LIVE_RELOAD = False
    socket = reload_socket()
    connected, _ = await socket.connect()
    assert connected
    assert (await socket.receive_output(timeout=WAIT))["code"] == 4403
    await socket.disconnect()


async def test_an_unknown_deck_is_closed_for_good(settings, decks):
    settings.PODIUM_LIVE_RELOAD = True
    socket = reload_socket("no-such-deck")
    await socket.connect()
    assert (await socket.receive_output(timeout=WAIT))["code"] == 4404
    await socket.disconnect()


def test_the_page_settings_say_where_to_listen_only_when_on(settings, decks, client):
    settings.PODIUM_LIVE_RELOAD = False
    assert client.get(f"/decks/{SLUG}/").context["config"]["reload"] is None
    settings.PODIUM_LIVE_RELOAD = True
    reload = client.get(f"/decks/{SLUG}/").context["config"]["reload"]
    assert reload["url"] == f"/ws/decks/{SLUG}/reload/" and len(reload["version"]) == 16
