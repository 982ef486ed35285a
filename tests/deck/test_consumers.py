"""The follow websocket, driven with real sessions through the whole ASGI stack (origin check, auth, routing)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from config.asgi import application
from deck.groups import talk_group
from deck.models import Talk
from deck.services import talk_goto, talk_token_reset
from tests.sandbox.runs_support import follower, new_session, presenter_session, staff_session

FIXTURES = Path(__file__).parent / "fixtures" / "follow"
SLUG = "follow-demo"  # five slides
ORIGIN = (b"origin", b"http://127.0.0.1:8000")
# Generous: under the Redis layer and a busy 2-core machine a hop can take a while. Never a speed assertion.
WAIT = 5

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def follow_decks(settings):
    settings.PODIUM_SLIDES_DIR = FIXTURES
    settings.PODIUM_PRESENTER_TOKEN = ""


@database_sync_to_async
def stored_slide(slug: str = SLUG) -> int:
    return Talk.objects.get(slug=slug).current_slide


async def test_followers_see_the_presenters_goto():
    key = await presenter_session(SLUG)
    async with (
        follower(key, slug=SLUG) as (presenter, hello),
        follower(slug=SLUG) as (alice, a0),
        follower(slug=SLUG) as (bob, b0),
    ):
        assert hello == {"type": "position", "slide": 1, "live": False, "presenter": True}
        assert a0 == b0 == {"type": "position", "slide": 1, "live": False, "presenter": False}

        await presenter.send_json_to({"type": "goto", "slide": 3})
        moved = {"type": "position", "slide": 3, "live": True}
        assert await alice.receive_json_from(timeout=WAIT) == moved
        assert await bob.receive_json_from(timeout=WAIT) == moved
        assert await presenter.receive_json_from(timeout=WAIT) == moved
    assert await stored_slide() == 3


async def test_late_joiner_lands_on_the_current_slide():
    key = await presenter_session(SLUG)
    async with follower(key, slug=SLUG) as (presenter, _):
        for slide in (2, 4):
            await presenter.send_json_to({"type": "goto", "slide": slide})
            assert (await presenter.receive_json_from(timeout=WAIT))["slide"] == slide
        async with follower(slug=SLUG) as (late, hello):
            assert hello == {"type": "position", "slide": 4, "live": True, "presenter": False}


async def test_forged_goto_from_an_audience_socket_moves_nothing():
    key = await presenter_session(SLUG)
    attendee = await new_session()
    async with (
        follower(key, slug=SLUG) as (presenter, _),
        follower(attendee, slug=SLUG) as (forger, _),
        follower(slug=SLUG) as (bystander, _),
    ):
        await forger.send_json_to({"type": "goto", "slide": 4})
        assert await forger.receive_json_from(timeout=WAIT) == {
            "type": "error",
            "code": "forbidden",
            "message": "Only the presenter can move this talk.",
        }
        await forger.send_json_to({"type": "blackout", "on": True})
        assert (await forger.receive_json_from(timeout=WAIT))["code"] == "forbidden"
        assert await stored_slide() == 1
        assert await bystander.receive_nothing(timeout=0.3)

        # The next thing the bystander hears is the real presenter, not the forger.
        await presenter.send_json_to({"type": "goto", "slide": 2})
        assert await bystander.receive_json_from(timeout=WAIT) == {"type": "position", "slide": 2, "live": True}
    assert await stored_slide() == 2


async def test_out_of_range_goto_is_refused():
    key = await presenter_session(SLUG)
    async with follower(key, slug=SLUG) as (presenter, _), follower(slug=SLUG) as (audience, _):
        for slide in (0, 6, -3, "2", 2.5, True, None):
            await presenter.send_json_to({"type": "goto", "slide": slide})
            refused = await presenter.receive_json_from(timeout=WAIT)
            assert refused["type"] == "error" and refused["code"] == "bad-request", slide
            assert refused["message"]
        await presenter.send_json_to({"type": "goto", "slide": 6})
        assert "1 to 5" in (await presenter.receive_json_from(timeout=WAIT))["message"]
        assert await stored_slide() == 1
        assert await audience.receive_nothing(timeout=0.3)


async def test_bad_messages_are_answered_not_fatal():
    key = await presenter_session(SLUG)
    async with follower(key, slug=SLUG) as (presenter, _):
        for frame in ("{not json", "[1, 2]", '"goto"', '{"type": "dance"}', "{}"):
            await presenter.send_to(text_data=frame)
            answer = await presenter.receive_json_from(timeout=WAIT)
            assert answer["type"] == "error" and answer["code"] == "bad-request", frame
        await presenter.send_to(bytes_data=b"\x00\x01")
        assert (await presenter.receive_json_from(timeout=WAIT))["code"] == "bad-request"
        # Still connected and still the presenter.
        await presenter.send_json_to({"type": "goto", "slide": 5})
        assert await presenter.receive_json_from(timeout=WAIT) == {"type": "position", "slide": 5, "live": True}


async def test_unknown_deck_closes_with_4404():
    socket = WebsocketCommunicator(application, "/ws/talks/no-such-deck/follow/", headers=[ORIGIN])
    connected, _ = await socket.connect(timeout=WAIT)
    assert connected
    error = await socket.receive_json_from(timeout=WAIT)
    assert error["type"] == "error" and error["code"] == "not-found"
    assert "no-such-deck" in error["message"]
    closed = await socket.receive_output(timeout=WAIT)
    assert closed == {"type": "websocket.close", "code": 4404}
    await socket.disconnect(code=4404, timeout=WAIT)  # the client acknowledges the close
    assert not await database_sync_to_async(Talk.objects.filter(slug="no-such-deck").exists)()


async def test_foreign_origin_is_rejected():
    socket = WebsocketCommunicator(
        application, f"/ws/talks/{SLUG}/follow/", headers=[(b"origin", b"http://evil.example.com")]
    )
    connected, _ = await socket.connect(timeout=WAIT)
    assert not connected


async def test_staff_user_is_the_presenter_without_a_token():
    key, _ = await staff_session()
    async with follower(key, slug=SLUG) as (speaker, hello), follower(slug=SLUG) as (audience, _):
        assert hello["presenter"] is True
        await speaker.send_json_to({"type": "goto", "slide": 2})
        assert await audience.receive_json_from(timeout=WAIT) == {"type": "position", "slide": 2, "live": True}


async def test_blackout_reaches_followers_and_late_joiners():
    key = await presenter_session(SLUG)
    async with follower(key, slug=SLUG) as (presenter, _), follower(slug=SLUG) as (audience, _):
        await presenter.send_json_to({"type": "blackout", "on": True})
        assert await audience.receive_json_from(timeout=WAIT) == {"type": "blackout", "on": True}
        assert await presenter.receive_json_from(timeout=WAIT) == {"type": "blackout", "on": True}
        async with follower(slug=SLUG) as (late, hello):
            assert hello["type"] == "position"
            assert await late.receive_json_from(timeout=WAIT) == {"type": "blackout", "on": True}
        await presenter.send_json_to({"type": "blackout", "on": "yes"})
        assert (await presenter.receive_json_from(timeout=WAIT))["code"] == "bad-request"


async def test_token_reset_takes_the_wheel_from_a_connected_presenter():
    key = await presenter_session(SLUG)
    async with follower(key, slug=SLUG) as (presenter, hello):
        assert hello["presenter"] is True
        talk = await database_sync_to_async(Talk.objects.get)(slug=SLUG)
        await database_sync_to_async(talk_token_reset)(talk=talk)
        await presenter.send_json_to({"type": "goto", "slide": 3})
        assert (await presenter.receive_json_from(timeout=WAIT))["code"] == "forbidden"
    assert await stored_slide() == 1


@pytest.mark.redis
async def test_follow_crosses_processes_through_redis(settings):
    """Presenter and followers on different worker processes: each process has its own RedisChannelLayer."""
    from channels_redis.core import RedisChannelLayer

    prefix = f"podium-test-{uuid.uuid4().hex[:8]}"
    # As config/settings.py: no socket timeout, or an idle socket's blocking receive fails after redis-py's 5 s.
    hosts = [{"address": "redis://127.0.0.1:6379/0", "socket_timeout": None}]
    config = {"hosts": hosts, "prefix": prefix, "expiry": 30}
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": config}}
    layer = get_channel_layer()
    assert isinstance(layer, RedisChannelLayer)
    # Another worker process: a separate layer (own connections) sharing only the Redis server.
    other_process = RedisChannelLayer(**config)
    watcher = await other_process.new_channel()
    await other_process.group_add(talk_group(SLUG), watcher)
    try:
        key = await presenter_session(SLUG)
        async with follower(key, slug=SLUG) as (presenter, _), follower(slug=SLUG) as (audience, _):
            await presenter.send_json_to({"type": "goto", "slide": 4})
            assert await audience.receive_json_from(timeout=WAIT) == {"type": "position", "slide": 4, "live": True}
            assert await asyncio.wait_for(other_process.receive(watcher), WAIT) == {
                "type": "talk.position",
                "slide": 4,
                "live": True,
            }

            # And the other way: a goto made on the other process reaches this one's followers.
            await database_sync_to_async(lambda: talk_goto(talk=Talk.objects.get(slug=SLUG), slide=2))()
            await other_process.group_send(talk_group(SLUG), {"type": "talk.position", "slide": 2, "live": True})
            assert await audience.receive_json_from(timeout=WAIT) == {"type": "position", "slide": 2, "live": True}
    finally:
        await other_process.flush()
        await other_process.close_pools()
        await layer.close_pools()
