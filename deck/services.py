"""Writes of the deck app: talks, presenter rights and the position every follower snaps to.

A Talk is found by slug; the presenter is a staff user or a browser session
that opened the presenter link (its secret token). Slide numbers are 1-based.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from django.conf import settings
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from deck.models import Talk, presenter_token_new
from deck.selectors import deck_get

_GRANT_SALT = "podium.deck.presenter-grant"


class SlideOutOfRange(ValueError):
    """A goto named a slide the deck does not have; `message` says which range is valid."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def talk_get_or_create(*, deck_slug: str) -> Talk:
    """The default talk of the deck `deck_slug` (talk slug == deck slug), created on first use.

    Raises `DeckNotFound` when no deck file has that slug, so no talk is ever
    created for a deck that does not exist.
    """
    deck_get(slug=deck_slug)
    talk, _ = Talk.objects.get_or_create(slug=deck_slug, defaults={"deck_slug": deck_slug})
    return talk


def talk_get(*, slug: str) -> Talk:
    """The talk `slug`: an existing talk, or else the default talk of the deck of that slug.

    Raises `DeckNotFound` when neither exists, or when the talk's deck file is
    gone, so followers are never attached to a deck nobody can show.
    """
    talk = Talk.objects.filter(slug=slug).first()
    if talk is None:
        return talk_get_or_create(deck_slug=slug)
    deck_get(slug=talk.deck_slug)
    return talk


def talk_presenter_token(*, talk: Talk) -> str:
    """The secret of the talk's presenter link: settings.PODIUM_PRESENTER_TOKEN when set, else the talk's own."""
    return settings.PODIUM_PRESENTER_TOKEN or talk.presenter_token


def talk_token_reset(*, talk: Talk) -> Talk:
    """Give the talk a new random presenter token; old links and the sessions they granted stop working.

    While settings.PODIUM_PRESENTER_TOKEN is set it still overrides the stored token.
    """
    talk.presenter_token = presenter_token_new()
    talk.save(update_fields=["presenter_token", "updated_at"])
    return talk


def talk_links(*, talk: Talk, base_url: str | None = None) -> tuple[str, str]:
    """The (presenter link, audience link) of a talk, absolute under `base_url` (default settings.PODIUM_BASE_URL).

    The presenter link carries the secret token: whoever opens it may drive the talk.
    """
    base = (base_url or settings.PODIUM_BASE_URL).rstrip("/")
    deck_path = f"{base}/decks/{quote(talk.deck_slug, safe='')}/"
    presenter = f"{deck_path}presenter/?{urlencode({'token': talk_presenter_token(talk=talk)})}"
    return presenter, deck_path


def _grant_key(talk: Talk) -> str:
    return f"podium.presenter.{talk.slug}"


def _grant_mark(talk: Talk) -> str:
    # The session keeps a keyed digest of the token rather than a flag, so rotating the
    # token (or changing PODIUM_PRESENTER_TOKEN) also revokes every session it granted.
    return salted_hmac(_GRANT_SALT, talk_presenter_token(talk=talk)).hexdigest()


def presenter_grant(*, session, talk: Talk, token: str) -> bool:
    """Record in `session` that it may drive `talk`, when `token` is the talk's presenter token.

    The comparison takes constant time. On success the session key is rotated
    (as a login does) so a session id planted beforehand does not inherit the
    right; the caller's session middleware (or `session.save()`) persists it.
    Returns whether the token was right; a wrong token changes nothing.
    """
    expected = talk_presenter_token(talk=talk)
    if not isinstance(token, str) or not token or not constant_time_compare(token, expected):
        return False
    session.cycle_key()
    session[_grant_key(talk)] = _grant_mark(talk)
    return True


def presenter_allowed(*, user, session, talk: Talk) -> bool:
    """Whether this user/session may drive `talk`: an active staff user, or a session granted by the token.

    `user` and `session` may be None (a connection without them is an audience member).
    """
    if user is not None and getattr(user, "is_active", False) and getattr(user, "is_staff", False):
        return True
    if session is None:
        return False
    granted = session.get(_grant_key(talk))
    return isinstance(granted, str) and constant_time_compare(granted, _grant_mark(talk))


def talk_start(*, talk: Talk) -> Talk:
    """Mark the talk live (a presenter is driving it); a talk already live keeps its start time."""
    if talk.started_at is None:
        talk.started_at = timezone.now()
        talk.save(update_fields=["started_at", "updated_at"])
    return talk


def talk_goto(*, talk: Talk, slide: int) -> Talk:
    """Move the talk to `slide` (1..number of slides of its deck) and save; the talk becomes live.

    Raises `SlideOutOfRange` for a number outside the deck (or not a whole
    number), and `DeckNotFound` when the deck file has gone.
    """
    if isinstance(slide, bool) or not isinstance(slide, int):
        raise SlideOutOfRange(f"The slide must be a whole number, not {slide!r}.")
    if slide < 1:
        raise SlideOutOfRange(f"There is no slide {slide}: slides are numbered from 1.")
    count = len(deck_get(slug=talk.deck_slug).slides)
    if slide > count:
        raise SlideOutOfRange(f"There is no slide {slide}: this deck has slides 1 to {count}.")
    talk.current_slide = slide
    talk.started_at = talk.started_at or timezone.now()
    talk.save(update_fields=["current_slide", "started_at", "updated_at"])
    return talk


def talk_blackout(*, talk: Talk, on: bool) -> Talk:
    """Blank (or un-blank) the audience screens of the talk, and remember it for late joiners."""
    talk.blackout = bool(on)
    talk.save(update_fields=["blackout", "updated_at"])
    return talk
