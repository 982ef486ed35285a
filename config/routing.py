"""Websocket routes of every app, gathered in one list."""

from deck.routing import websocket_urlpatterns as deck_websockets
from sandbox.routing import websocket_urlpatterns as sandbox_websockets

websocket_urlpatterns = [*deck_websockets, *sandbox_websockets]
