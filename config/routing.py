"""Websocket routes of every app, gathered in one list."""

from deck.routing import websocket_urlpatterns as deck_websockets

websocket_urlpatterns = [*deck_websockets]
