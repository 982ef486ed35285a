"""Websocket routes of the sandbox app."""

from django.urls import path

from sandbox.consumers import RunConsumer

websocket_urlpatterns = [
    path("ws/decks/<str:slug>/runs/", RunConsumer.as_asgi()),
]
