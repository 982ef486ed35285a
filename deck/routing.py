"""Websocket routes of the deck app (filled in by the follow work)."""

websocket_urlpatterns: list = []
