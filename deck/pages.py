"""What every page of a deck shares, whichever app serves it: the deck or why there is none, the 404 and
403 pages, whether this browser may present, and each slide as the templates need it.

The deck app's own views (list, print, assets) and the workshop's live views
(audience, presenter) are built from these, so a missing deck or a refused
presenter reads the same everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from deck.errors import DeckFileError, DeckNotFound
from deck.parsed import Deck, Slide
from deck.selectors import deck_get
from deck.services import presenter_allowed, talk_get_or_create


def page_not_found(request: HttpRequest, *, message: str, detail: str = "") -> HttpResponse:
    """The 404 page with a sentence saying what was not found (and, when known, why)."""
    return render(request, "404.html", {"message": message, "detail": detail}, status=404)


def deck_missing(request: HttpRequest, *, slug: str, reason: str = "") -> HttpResponse:
    """The 404 page for a deck slug that names no readable deck."""
    if reason:
        return page_not_found(request, message=f"The deck “{slug}” could not be read.", detail=reason)
    return page_not_found(request, message=f"There is no deck called “{slug}”.")


def deck_or_none(slug: str) -> tuple[Deck | None, str]:
    """The deck `slug`, or (None, why) when there is none or its file cannot be read."""
    try:
        return deck_get(slug=slug), ""
    except DeckNotFound:
        return None, ""
    except DeckFileError as exc:
        return None, str(exc)


def may_present(request: HttpRequest, *, slug: str) -> bool:
    """Whether this browser may open the presenter view of deck `slug`."""
    try:
        talk = talk_get_or_create(deck_slug=slug)
    except (DeckNotFound, DeckFileError):
        return False
    return presenter_allowed(user=request.user, session=request.session, talk=talk)


def presenter_forbidden(request: HttpRequest, *, deck: Deck, bad_token: bool, too_many: str = "") -> HttpResponse:
    """The 403 page: who may present, and the command that prints the presenter link.

    `too_many` is the sentence of a refused attempt (too many wrong presenter links): the page is then a 429.
    """
    login_url = f"{settings.LOGIN_URL}?{urlencode({'next': request.get_full_path()})}"
    context = {"deck": deck, "bad_token": bad_token, "too_many": too_many, "login_url": login_url}
    return render(request, "deck/presenter_forbidden.html", context, status=429 if too_many else 403)


def slide_rows(deck: Deck, *, with_notes: bool, slide_html: Callable[[Slide], str] | None = None) -> list[dict]:
    """What the templates need of each slide; notes only when the page may show them.

    `slide_html` gives a slide's HTML when the page shows more than the parser
    made (the live views put Run controls in runnable blocks); by default, the slide's own HTML.
    """
    count = len(deck.slides)
    return [
        {
            "number": slide.number,
            "title": slide.title or f"Slide {slide.number}",
            "html": slide.html if slide_html is None else slide_html(slide),
            "notes_html": slide.notes_html if with_notes else "",
            "classes": " ".join(slide.classes),
            "footer": slide.footer or "",
            "is_section": slide.is_section,
            "label": f"Slide {slide.number} of {count}" + (f": {slide.title}" if slide.title else ""),
        }
        for slide in deck.slides
    ]
