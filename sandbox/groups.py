"""Names of the channel-layer groups and channels of the run pipeline, in one place."""

from __future__ import annotations

import hashlib
import uuid

# The fixed channel `manage.py runworker sandbox-runs` listens on.
WORKER_CHANNEL = "sandbox-runs"


def attendee_group(attendee_id: uuid.UUID | str) -> str:
    """The group every websocket of one attendee joins: `attendee.<hex id>`.

    Every event of the attendee's runs and sandbox goes to this group only, so
    a message can never reach another attendee's browser.
    """
    return f"attendee.{uuid.UUID(str(attendee_id)).hex}"


def presenter_runs_group(deck_slug: str) -> str:
    """The group the followers' pages of one deck join: `presenter-runs.<digest of the slug>`.

    Only the presenter's runs are copied to it (`sandbox.broadcast`), as
    `presenter.run.*` messages; nothing of an attendee's ever is.
    """
    # A digest: a group name allows only ASCII letters, digits, "-", "_" and "." and under 100 of them.
    return f"presenter-runs.{hashlib.sha256(deck_slug.encode()).hexdigest()[:32]}"


def terminal_group(attendee_id: uuid.UUID | str) -> str:
    """The group an attendee's terminal sockets join: `terminal.<hex id>`; they hear there when someone
    starts or stops watching (`terminal.watched`)."""
    return f"terminal.{uuid.UUID(str(attendee_id)).hex}"


def terminal_watchers_group(attendee_id: uuid.UUID | str) -> str:
    """The group the presenter's watch sockets of one attendee's terminal join: `terminal-watch.<hex id>`; they
    hear there each new size of the attendee's terminal (`terminal.resized`)."""
    return f"terminal-watch.{uuid.UUID(str(attendee_id)).hex}"
