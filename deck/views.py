"""Pages of the deck app: the deck list, and per deck the audience, presenter, print and asset views.

Views stay thin: decks come from `deck.selectors`, talks and presenter rights
from `deck.services`. A deck that does not exist (or cannot be read) answers
the 404 page with a sentence, never a traceback.
"""

from __future__ import annotations

import mimetypes
from pathlib import PurePosixPath
from urllib.parse import urlencode

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import http_date
from django.views.decorators.cache import never_cache

from deck.errors import DeckFileError, DeckNotFound
from deck.highlight import pygments_css
from deck.model import Deck
from deck.models import Talk
from deck.run_controls import XTERM_MISSING, run_unavailable, slide_html_with_runs, terminal_assets
from deck.selectors import deck_asset_path, deck_get, deck_list
from deck.services import presenter_allowed, presenter_grant, talk_get_or_create

# What the asset view serves: media a slide can show. Anything else next to the deck
# (the deck's own .md with its presenter notes, scripts, dotfiles) stays private.
ASSET_KINDS = {"image", "video", "audio"}
# An asset opened directly (not through <img>) gets no scripts, no requests: an SVG stays a picture.
ASSET_CSP = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox"
TRUE_WORDS = {"1", "true", "yes", "on"}


def _not_found(request: HttpRequest, *, message: str, detail: str = "") -> HttpResponse:
    """The 404 page with a sentence saying what was not found (and, when known, why)."""
    return render(request, "404.html", {"message": message, "detail": detail}, status=404)


def _deck_missing(request: HttpRequest, *, slug: str, reason: str = "") -> HttpResponse:
    """The 404 page for a deck slug that names no readable deck."""
    if reason:
        return _not_found(request, message=f"The deck “{slug}” could not be read.", detail=reason)
    return _not_found(request, message=f"There is no deck called “{slug}”.")


def _deck_or_none(slug: str) -> tuple[Deck | None, str]:
    """The deck `slug`, or (None, why) when there is none or its file cannot be read."""
    try:
        return deck_get(slug=slug), ""
    except DeckNotFound:
        return None, ""
    except DeckFileError as exc:
        return None, str(exc)


def _may_present(request: HttpRequest, *, slug: str) -> bool:
    """Whether this browser may open the presenter view of deck `slug`."""
    try:
        talk = talk_get_or_create(deck_slug=slug)
    except (DeckNotFound, DeckFileError):
        return False
    return presenter_allowed(user=request.user, session=request.session, talk=talk)


def _slide_rows(deck: Deck, *, with_notes: bool, runs: dict | None = None) -> list[dict]:
    """What the templates need of each slide; notes only when the page may show them.

    With `runs` (the pages that run code), runnable blocks carry their Run controls.
    """
    count = len(deck.slides)
    return [
        {
            "number": slide.number,
            "title": slide.title or f"Slide {slide.number}",
            "html": slide.html if runs is None else slide_html_with_runs(slide, unavailable=runs["unavailable"]),
            "notes_html": slide.notes_html if with_notes else "",
            "classes": " ".join(slide.classes),
            "footer": slide.footer or "",
            "is_section": slide.is_section,
            "label": f"Slide {slide.number} of {count}" + (f": {slide.title}" if slide.title else ""),
        }
        for slide in deck.slides
    ]


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
            "may_present": _may_present(request, slug=deck.slug),
        }
        for deck in decks
    ]
    context = {"rows": rows, "error": error, "slides_dir": settings.PODIUM_SLIDES_DIR}
    return render(request, "deck/list.html", context)


def _follow_config(*, slug: str, count: int, talk: Talk) -> dict:
    """Settings the page scripts read: where to follow, and where the talk stood when the page was made."""
    return {
        "slug": slug,
        "count": count,
        "followUrl": f"/ws/talks/{talk.slug}/follow/",
        "presenterUrl": reverse("deck:presenter", kwargs={"slug": slug}),
        "talk": {"slide": talk.current_slide, "live": talk.live, "blackout": talk.blackout},
    }


def _runs_config(request: HttpRequest, *, slug: str) -> dict:
    """What runs.js needs: the runs websocket, whether Run can work (and why not), the terminal's files.

    Makes sure the browser has a session first: the runs socket knows the
    attendee only by the session cookie this response then sets.
    """
    if not request.session.session_key:
        request.session.save()
    return {
        "url": f"/ws/decks/{slug}/runs/",
        "unavailable": run_unavailable(),
        "terminal": terminal_assets(),
        "terminalMissing": XTERM_MISSING,
    }


def _live_deck_page(request: HttpRequest, *, deck: Deck, talk: Talk, template: str, with_notes: bool) -> HttpResponse:
    """A live view of the talk, audience or presenter: the slides with their Run controls, and the scripts' settings.

    Both views follow the same talk and run code the same way; only the presenter's page asks for the notes.
    """
    runs = _runs_config(request, slug=deck.slug)
    context = {
        "deck": deck,
        "slides": _slide_rows(deck, with_notes=with_notes, runs=runs),
        "pygments_css": pygments_css(),
        "config": _follow_config(slug=deck.slug, count=len(deck.slides), talk=talk) | {"runs": runs},
        "runs": runs,
    }
    return render(request, template, context)


def audience_view(request: HttpRequest, slug: str) -> HttpResponse:
    """The deck as the room sees it: every slide in the page, one at a time, following the presenter.

    Presenter notes are left out of this page entirely.
    """
    deck, reason = _deck_or_none(slug)
    if deck is None:
        return _deck_missing(request, slug=slug, reason=reason)
    talk = talk_get_or_create(deck_slug=deck.slug)
    return _live_deck_page(request, deck=deck, talk=talk, template="deck/audience.html", with_notes=False)


@never_cache
def presenter_view(request: HttpRequest, slug: str) -> HttpResponse:
    """The presenter's screen: current and next slide, notes, timer, clock; moves drive every follower.

    `?token=` (the presenter link) grants this browser session the right to
    present, then redirects to the same address without the secret in it.
    Anyone else gets a 403 page telling how to get the link.
    """
    deck, reason = _deck_or_none(slug)
    if deck is None:
        return _deck_missing(request, slug=slug, reason=reason)
    talk = talk_get_or_create(deck_slug=deck.slug)
    token = request.GET.get("token")
    if token is not None:
        if presenter_grant(session=request.session, talk=talk, token=token):
            query = request.GET.copy()
            query.pop("token")
            return redirect(request.path + (f"?{query.urlencode()}" if query else ""))
        return _presenter_forbidden(request, deck=deck, bad_token=True)
    if not presenter_allowed(user=request.user, session=request.session, talk=talk):
        return _presenter_forbidden(request, deck=deck, bad_token=False)
    return _live_deck_page(request, deck=deck, talk=talk, template="deck/presenter.html", with_notes=True)


def _presenter_forbidden(request: HttpRequest, *, deck: Deck, bad_token: bool) -> HttpResponse:
    """The 403 page: who may present, and the command that prints the presenter link."""
    login_url = f"{settings.LOGIN_URL}?{urlencode({'next': request.get_full_path()})}"
    context = {"deck": deck, "bad_token": bad_token, "login_url": login_url}
    return render(request, "deck/presenter_forbidden.html", context, status=403)


def print_view(request: HttpRequest, slug: str) -> HttpResponse:
    """Every slide on its own landscape page, for the browser's print to PDF.

    `?notes=1` prints each slide's notes under it; notes are for the presenter,
    so that needs the same right as the presenter view.
    """
    deck, reason = _deck_or_none(slug)
    if deck is None:
        return _deck_missing(request, slug=slug, reason=reason)
    with_notes = request.GET.get("notes", "").lower() in TRUE_WORDS
    if with_notes and not _may_present(request, slug=deck.slug):
        return _presenter_forbidden(request, deck=deck, bad_token=False)
    context = {
        "deck": deck,
        "slides": _slide_rows(deck, with_notes=with_notes),
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
        return _not_found(request, message=missing)
    try:
        path = deck_asset_path(slug=slug, relpath=relpath)
    except (DeckNotFound, DeckFileError):
        return _not_found(request, message=missing)
    content_type, encoding = mimetypes.guess_type(path.name)
    if content_type is None or encoding is not None or content_type.split("/")[0] not in ASSET_KINDS:
        return _not_found(request, message=missing)
    response = FileResponse(path.open("rb"), content_type=content_type)
    response["Last-Modified"] = http_date(path.stat().st_mtime)
    response["Content-Security-Policy"] = ASSET_CSP
    response["Cache-Control"] = "public, max-age=300"
    return response
