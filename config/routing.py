"""Websocket routes of every app, gathered in one list, and the one way a page learns their addresses.

Each app's routing module says where its consumers listen; views never write
a websocket address again but ask `websocket_path(Consumer, slug=...)`, which
reverses the route that serves that consumer.
"""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse

from deck.routing import websocket_urlpatterns as deck_websockets
from rooms.routing import websocket_urlpatterns as rooms_websockets
from sandbox.routing import websocket_urlpatterns as sandbox_websockets

websocket_urlpatterns = [*deck_websockets, *sandbox_websockets, *rooms_websockets]
# The same list under the name Django's `reverse(urlconf=...)` looks for.
urlpatterns = websocket_urlpatterns


def websocket_path(consumer: type, **kwargs: str) -> str:
    """The path a page connects to for `consumer` (a Channels consumer class), e.g. "/ws/talks/intro/follow/".

    `kwargs` fill the route's parameters. Raises NoReverseMatch when no route serves the consumer.
    """
    for route in websocket_urlpatterns:
        if getattr(route.callback, "consumer_class", None) is consumer:
            return reverse(route.callback, urlconf=__name__, kwargs=kwargs)
    raise NoReverseMatch(f"no websocket route serves {consumer.__name__}")
