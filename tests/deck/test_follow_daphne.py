"""Followers of a talk under the real server (daphne), where the fan-out writes one ready-made frame to every
connection (config.frames): each of many followers sees every goto, in order, after its own first position;
one that leaves, or drops its connection without a word, does not disturb the others."""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import urllib.request
from pathlib import Path

import pytest
import websockets
from websockets.frames import Frame, Opcode

from config.frames import message_frame
from tests.live_server import live_server

FIXTURES = Path(__file__).parent / "fixtures" / "follow"
SLUG = "follow-demo"  # five slides
FOLLOWERS = 300
WAIT = 30


def presenter_cookie(link: str) -> str:
    """The session cookie a browser gets by opening the presenter link."""
    jar = http.cookiejar.CookieJar()
    urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar)).open(link, timeout=30).close()
    return next(cookie.value for cookie in jar if cookie.name == "sessionid")


async def open_follow(port: int, cookie: str | None = None):
    return await websockets.connect(
        f"ws://127.0.0.1:{port}/ws/talks/{SLUG}/follow/",
        origin=f"http://127.0.0.1:{port}",
        additional_headers={"Cookie": f"sessionid={cookie}"} if cookie else None,
        max_size=None,
        ping_interval=None,
    )


async def positions(socket, count: int) -> list[int]:
    return [json.loads(await asyncio.wait_for(socket.recv(), WAIT))["slide"] for _ in range(count)]


async def follow_many(port: int, cookie: str) -> None:
    presenter = await open_follow(port, cookie)
    assert json.loads(await asyncio.wait_for(presenter.recv(), WAIT))["presenter"] is True
    audience = []
    for first in range(0, FOLLOWERS, 50):
        audience += await asyncio.gather(*(open_follow(port) for _ in range(first, min(FOLLOWERS, first + 50))))
    assert {json.loads(await asyncio.wait_for(s.recv(), WAIT))["slide"] for s in audience} == {1}

    slides = [2, 5, 3, 4, 1, 2, 4, 3]
    for slide in slides:  # back to back: nobody waits for the previous one to arrive
        await presenter.send(json.dumps({"type": "goto", "slide": slide}))
    seen = await asyncio.gather(*(positions(socket, len(slides)) for socket in [presenter, *audience]))
    assert all(order == slides for order in seen)

    # One closes properly, one vanishes (its TCP connection aborted): the rest still get everything.
    await audience[0].close()
    audience[1].transport.abort()
    audience = audience[2:]
    for slide in [5, 1]:
        await presenter.send(json.dumps({"type": "goto", "slide": slide}))
    seen = await asyncio.gather(*(positions(socket, 2) for socket in audience))
    assert all(order == [5, 1] for order in seen)
    # A follower joining now starts on the current slide, then follows.
    late = await open_follow(port)
    assert json.loads(await asyncio.wait_for(late.recv(), WAIT))["slide"] == 1
    await presenter.send(json.dumps({"type": "goto", "slide": 3}))
    assert await positions(late, 1) == [3]
    await asyncio.gather(*(s.close() for s in [presenter, late, *audience]))


@pytest.mark.slow
def test_many_followers_under_daphne_each_see_every_goto_in_order(tmp_path):
    with live_server(tmp_path, slides=FIXTURES, slug=SLUG) as server:
        cookie = presenter_cookie(server.presenter_link)
        asyncio.run(follow_many(server.port, cookie))


@pytest.mark.parametrize("text", ["", "x" * 125, "x" * 126, "é" * 40000, "y" * 65536, "z" * 300_000])
def test_a_ready_made_frame_is_the_servers_frame_of_that_text(text):
    assert message_frame(text) == Frame(Opcode.TEXT, text.encode("utf-8")).serialize(mask=False)


@pytest.mark.parametrize("data", [b"", b"\x00" * 125, b"\xff" * 126, bytes(range(256)) * 300])
def test_bytes_get_the_servers_binary_frame(data):
    assert message_frame(data) == Frame(Opcode.BINARY, data).serialize(mask=False)
