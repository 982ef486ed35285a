"""Websocket routes of the deck app."""

from django.urls import path

from deck.consumers import FollowConsumer, ReloadConsumer

websocket_urlpatterns = [
    path("ws/talks/<str:slug>/follow/", FollowConsumer.as_asgi()),
    path("ws/decks/<str:slug>/reload/", ReloadConsumer.as_asgi()),
]
