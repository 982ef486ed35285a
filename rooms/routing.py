"""Websocket routes of the rooms app: an attendee page's room line, and the presenter's dashboard."""

from django.urls import path

from rooms.consumers import DashboardConsumer, MemberConsumer

websocket_urlpatterns = [
    path("ws/decks/<str:slug>/room/", MemberConsumer.as_asgi()),
    path("ws/rooms/<str:code>/dashboard/", DashboardConsumer.as_asgi()),
]
