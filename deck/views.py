"""Pages of the deck app: the deck list, and per deck the print and asset views.

The live views of a talk (audience and presenter, with their Run buttons) are
the workshop app's (`workshop/views.py`): they need the sandbox, the deck does
not. Views stay thin: decks come from `deck.selectors`, presenter rights from
`deck.services`, and the 404/403 pages from `deck.pages`. A deck that does not
exist (or cannot be read) answers the 404 page with a sentence, never a traceback.
"""

from __future__ import annotations

import mimetypes
from pathlib import PurePosixPath

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import http_date

from deck.errors import DeckFileError, DeckNotFound
from deck.highlight import pygments_css
from deck.pages import deck_missing, deck_or_none, may_present, page_not_found, presenter_forbidden, slide_rows
from deck.selectors import deck_asset_path, deck_list

# What the asset view serves: media a slide can show. Anything else next to the deck
# (the deck's own .md with its presenter notes, scripts, dotfiles) stays private.
ASSET_KINDS = {"image", "video", "audio"}
# An asset opened directly (not through <img>) gets no scripts, no requests: an SVG stays a picture.
ASSET_CSP = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox"
TRUE_WORDS = {"1", "true", "yes", "on"}


def deck_list_view(request: HttpRequest) -> HttpResponse:
    """Every deck in the slides folder with its slide count and links to open, present and print it."""
    error = ""
    try:
        decks = deck_list()
    except DeckFileError as exc:
        decks, error = [], str(exc)
    rows = [
        {
            "deck": deck,
            "slide_count": len(deck.slides),
            "problems": [str(problem) for problem in deck.problems],
            "may_present": may_present(request, slug=deck.slug),
        }
        for deck in decks
    ]
    context = {"rows": rows, "error": error, "slides_dir": settings.PODIUM_SLIDES_DIR}
    return render(request, "deck/list.html", context)


def print_view(request: HttpRequest, slug: str) -> HttpResponse:
    """Every slide on its own landscape page, for the browser's print to PDF.

    `?notes=1` prints each slide's notes under it; notes are for the presenter,
    so that needs the same right as the presenter view.
    """
    deck, reason = deck_or_none(slug)
    if deck is None:
        return deck_missing(request, slug=slug, reason=reason)
    with_notes = request.GET.get("notes", "").lower() in TRUE_WORDS
    if with_notes and not may_present(request, slug=deck.slug):
        return presenter_forbidden(request, deck=deck, bad_token=False)
    context = {
        "deck": deck,
        "slides": slide_rows(deck, with_notes=with_notes),
        "with_notes": with_notes,
        "pygments_css": pygments_css(),
    }
    return render(request, "deck/print.html", context)


def asset_view(request: HttpRequest, slug: str, relpath: str) -> HttpResponse:
    """An image (or other media) a slide shows, from the deck's folder; 404 for anything else.

    `deck_asset_path` refuses paths that leave the deck's folder; this view also
    refuses hidden files and anything that is not image, video or audio.
    """
    missing = f"The deck “{slug}” has no picture called “{relpath}”."
    if any(part.startswith(".") for part in PurePosixPath(relpath).parts):
        return page_not_found(request, message=missing)
    try:
        path = deck_asset_path(slug=slug, relpath=relpath)
    except (DeckNotFound, DeckFileError):
        return page_not_found(request, message=missing)
    content_type, encoding = mimetypes.guess_type(path.name)
    if content_type is None or encoding is not None or content_type.split("/")[0] not in ASSET_KINDS:
        return page_not_found(request, message=missing)
    response = FileResponse(path.open("rb"), content_type=content_type)
    response["Last-Modified"] = http_date(path.stat().st_mtime)
    response["Content-Security-Policy"] = ASSET_CSP
    response["Cache-Control"] = "public, max-age=300"
    return response
