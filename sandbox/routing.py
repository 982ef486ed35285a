"""Websocket routes of the sandbox app."""

from django.urls import path

from sandbox.consumers import RunConsumer
from sandbox.terminal_consumers import TerminalConsumer

websocket_urlpatterns = [
    path("ws/decks/<str:slug>/runs/", RunConsumer.as_asgi()),
    path("ws/decks/<str:slug>/terminal/", TerminalConsumer.as_asgi()),
]
