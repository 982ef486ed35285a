"""Names of the channel-layer groups of rooms, in one place.

A member's pages join their member group and their room's group; a
dashboard joins its room's dashboard group. A note for one member goes to
that member's group only, so it can never reach anyone else's page.
"""

from __future__ import annotations

import uuid


def room_group(room_id: uuid.UUID | str) -> str:
    """Every page of every member of the room (broadcast notes, the room closing)."""
    return f"room.{uuid.UUID(str(room_id)).hex}"


def member_group(member_id: uuid.UUID | str) -> str:
    """Every page of one member (a note for them, their help request's state, their removal)."""
    return f"room-member.{uuid.UUID(str(member_id)).hex}"


def dashboard_group(room_id: uuid.UUID | str) -> str:
    """The presenter's dashboards of the room (told to read the board again)."""
    return f"room-dashboard.{uuid.UUID(str(room_id)).hex}"
