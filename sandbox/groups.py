"""Names of the channel-layer groups and channels of the run pipeline, in one place."""

from __future__ import annotations

import uuid

# The fixed channel `manage.py runworker sandbox-runs` listens on.
WORKER_CHANNEL = "sandbox-runs"


def attendee_group(attendee_id: uuid.UUID | str) -> str:
    """The group every websocket of one attendee joins: `attendee.<hex id>`.

    Every event of the attendee's runs and sandbox goes to this group only, so
    a message can never reach another attendee's browser.
    """
    return f"attendee.{uuid.UUID(str(attendee_id)).hex}"
