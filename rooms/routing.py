"""Websocket routes of the rooms app: an attendee page's room line, the presenter's dashboard, and the presenter
watching an attendee's terminal."""

from django.urls import path

from rooms.consumers import DashboardConsumer, MemberConsumer
from rooms.terminal_consumers import TerminalWatchConsumer

websocket_urlpatterns = [
    path("ws/decks/<str:slug>/room/", MemberConsumer.as_asgi()),
    path("ws/rooms/<str:code>/dashboard/", DashboardConsumer.as_asgi()),
    path("ws/rooms/<str:code>/terminal/<str:member>/", TerminalWatchConsumer.as_asgi()),
]
