"""Names of the channel-layer groups the deck app broadcasts to, in one place."""

from __future__ import annotations

import hashlib
import re

# Channels accepts only ASCII letters, digits, "-", "_" and "." in group names, shorter than 100 characters.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")


def talk_group(slug: str) -> str:
    """The group every follower of the talk `slug` joins: `talk.<slug>`.

    A slug Channels would refuse as a group name (a non-ASCII or very long file
    stem) is replaced by a digest of it, so every deck still gets its own group.
    """
    if _SAFE_NAME.match(slug):
        return f"talk.{slug}"
    return "talk.h" + hashlib.sha256(slug.encode("utf-8")).hexdigest()[:40]
