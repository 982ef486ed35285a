"""Where people join a room: the join page's address, with the code in it (what a QR code would hold)."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from rooms.models import Room


def join_url(*, room: Room, base_url: str | None = None) -> str:
    """The full address of the room's join page (PODIUM_BASE_URL unless `base_url` is given)."""
    base = (base_url or settings.PODIUM_BASE_URL).rstrip("/")
    return base + reverse("rooms:join-code", kwargs={"code": room.code})
