"""Who is who: every browser session gets one Attendee per deck.

The identity is the Django session (a random key in a cookie, its data kept
on the server), so a client can prove it is an attendee only by holding that
attendee's cookie; no id it sends in a message is trusted.
"""

from __future__ import annotations

from django.utils import timezone

from deck.services import presenter_allowed, talk_get_or_create
from sandbox.models import Attendee

# Session key under which a page may store the name the attendee chose to show.
DISPLAY_NAME_KEY = "podium.display_name"


class NoSession(Exception):
    """The connection carries no valid session cookie (the page must be reloaded to get one)."""


def session_key_of(session) -> str | None:
    """The key of a session that really exists on the server, or None.

    A cookie naming a session the server does not know (expired, made up) is
    no identity: loading it leaves the store without a key.
    """
    if session is None or not getattr(session, "session_key", None):
        return None
    session.keys()  # loads the data; an unknown key is dropped by the store while loading
    return session.session_key or None


def attendee_for(*, session, deck_slug: str, user=None) -> Attendee:
    """The attendee of this session on the deck `deck_slug`, created on first use.

    The presenter flag is worked out again on every call from
    `deck.services.presenter_allowed` (a staff user, or a session granted by
    the presenter link), so resetting the presenter token also takes the flag
    away. Raises `NoSession` when the session is missing or unknown to the
    server, and `DeckNotFound` when no deck has that slug.
    """
    key = session_key_of(session)
    if key is None:
        raise NoSession("no valid session cookie")
    talk = talk_get_or_create(deck_slug=deck_slug)
    presenter = presenter_allowed(user=user, session=session, talk=talk)
    name = session.get(DISPLAY_NAME_KEY) or ""
    if not name and user is not None and getattr(user, "is_authenticated", False):
        name = user.get_username()
    attendee, created = Attendee.objects.get_or_create(
        session_key=key,
        deck_slug=deck_slug,
        defaults={"is_presenter": presenter, "display_name": str(name)[:80]},
    )
    if not created:
        attendee.is_presenter = presenter
        attendee.display_name = str(name)[:80] or attendee.display_name
        attendee.last_seen_at = timezone.now()
        attendee.save(update_fields=["is_presenter", "display_name", "last_seen_at"])
    return attendee
