"""Live reload for authors: what a deck's open pages are told when its file (or a file it includes) changes.

`reload_state` says which version of the deck the server has now (a hash of
the cache key `deck.selectors` keeps: the deck file's and its includes'
modification times and sizes) and the deck's errors, each as file, line and
message. `deck.consumers.ReloadConsumer` asks it every RELOAD_POLL seconds
for each open page and sends a change; the page (static/podium/js/deck/reload.js)
reloads itself on the same slide, or shows the errors over the slides instead
of a broken deck. Off unless PODIUM_LIVE_RELOAD (on by default only in development).
"""

from __future__ import annotations

import hashlib

from django.conf import settings

from deck.errors import DeckFileError, DeckNotFound
from deck.selectors import deck_get, deck_version

RELOAD_POLL = 0.5  # seconds between two looks at the deck file, per open page


def reload_enabled() -> bool:
    """Whether pages may hear about changes of their deck file (PODIUM_LIVE_RELOAD)."""
    return bool(settings.PODIUM_LIVE_RELOAD)


def reload_state(*, slug: str) -> dict | None:
    """{"version", "errors": [{"file", "line", "message"}]} of deck `slug` now; None when there is no such deck.

    A file that cannot be read at all is one error at line 1. BLOCKS (reads, and parses when the file changed).
    """
    try:
        deck = deck_get(slug=slug)
    except DeckNotFound:
        return None
    except DeckFileError as exc:
        version = hashlib.sha256(str(exc).encode()).hexdigest()[:16]
        return {"version": version, "errors": [{"file": f"{slug}.md", "line": 1, "message": str(exc)}]}
    errors = [
        {"file": deck.path.name, "line": problem.line, "message": problem.message}
        for problem in deck.problems
        if problem.level == "error"
    ]
    return {"version": deck_version(deck=deck), "errors": errors}
