"""A talk's followers in one process share one subscription to the talk's group (config.fanout): what each
follower sees is unchanged, in order, and the subscription goes with the last follower."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from channels.layers import get_channel_layer

from config.fanout import fanout_sockets
from deck.groups import talk_group
from tests.sandbox.runs_support import follower, presenter_session

FIXTURES = Path(__file__).parent / "fixtures" / "follow"
SLUG = "follow-demo"  # five slides
WAIT = 5

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def follow_decks(settings):
    settings.PODIUM_SLIDES_DIR = FIXTURES
    settings.PODIUM_PRESENTER_TOKEN = ""
    # The subscriptions are counted in the in-memory layer's own table (the Redis layer's cross-process
    # delivery is test_consumers.py's test_follow_crosses_processes_through_redis).
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def subscribed_channels() -> int:
    """Channels of this process in the talk's group of the in-memory layer."""
    return len(get_channel_layer().groups.get(talk_group(SLUG), {}))


async def test_many_followers_are_one_subscription_and_each_sees_every_goto_in_order():
    key = await presenter_session(SLUG)
    async with AsyncExitStack() as stack:
        presenter, _ = await stack.enter_async_context(follower(key, slug=SLUG))
        audience = [(await stack.enter_async_context(follower(slug=SLUG)))[0] for _ in range(30)]
        assert subscribed_channels() == 1 and fanout_sockets(talk_group(SLUG)) == 31

        slides = [2, 5, 3, 4, 1, 2]
        for slide in slides:  # sent back to back: nobody waits for the previous one to arrive
            await presenter.send_json_to({"type": "goto", "slide": slide})
        for socket in [presenter, *audience]:
            seen = [(await socket.receive_json_from(timeout=WAIT))["slide"] for _ in slides]
            assert seen == slides

        await audience[0].disconnect(timeout=WAIT)  # one leaves; the others are not disturbed
        audience = audience[1:]
        await presenter.send_json_to({"type": "blackout", "on": True})
        for socket in [presenter, *audience]:
            assert await socket.receive_json_from(timeout=WAIT) == {"type": "blackout", "on": True}
        assert fanout_sockets(talk_group(SLUG)) == 30
    # The last follower gone, so is the process's subscription.
    assert subscribed_channels() == 0 and fanout_sockets(talk_group(SLUG)) == 0


async def test_a_follower_of_an_unknown_deck_leaves_no_subscription_behind():
    async with follower(slug="no-such-deck") as (socket, hello):
        assert hello["code"] == "not-found"
    assert fanout_sockets(talk_group("no-such-deck")) == 0
    assert len(get_channel_layer().groups.get(talk_group("no-such-deck"), {})) == 0
