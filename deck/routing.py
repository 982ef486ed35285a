"""Websocket routes of the deck app."""

from django.urls import path

from deck.consumers import FollowConsumer

websocket_urlpatterns = [
    path("ws/talks/<str:slug>/follow/", FollowConsumer.as_asgi()),
]
