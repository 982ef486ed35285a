"""The live views of a talk: the audience's page and the presenter's, each slide with its Run controls.

This is where the deck meets the sandbox: the slides, talk and presenter
rights come from the deck app, whether Run can work from the sandbox backend
(`workshop.run_controls`), and the two websocket addresses from the routes
that serve them (`config.routing.websocket_path`). The page scripts read all
of it from one JSON blob, `deck-config`.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache

from config.ratelimit import RateLimited, client_address, rate_check, rate_hit
from config.routing import websocket_path
from config.xterm import terminal_assets
from deck.consumers import FollowConsumer, ReloadConsumer
from deck.highlight import pygments_css
from deck.live_reload import reload_enabled
from deck.models import Talk
from deck.pages import deck_missing, deck_or_none, presenter_forbidden, slide_rows
from deck.parsed import Deck
from deck.selectors import deck_version, recording_of
from deck.services import presenter_allowed, presenter_grant, talk_get_or_create
from rooms.consumers import MemberConsumer
from rooms.pages import audience_elsewhere, presenter_room
from sandbox.consumers import RunConsumer
from sandbox.terminal_consumers import TerminalConsumer
from workshop.run_controls import XTERM_MISSING, run_unavailable, slide_html_with_runs


def _follow_config(*, slug: str, count: int, talk: Talk) -> dict:
    """Settings the page scripts read: where to follow, and where the talk stood when the page was made."""
    return {
        "slug": slug,
        "count": count,
        "followUrl": websocket_path(FollowConsumer, slug=talk.slug),
        "presenterUrl": reverse("deck:presenter", kwargs={"slug": slug}),
        "talk": {"slide": talk.current_slide, "live": talk.live, "blackout": talk.blackout},
    }


def _runs_config(request: HttpRequest, *, slug: str) -> dict:
    """What the runs scripts need: the runs websocket, whether Run can work (and why not), the terminal's files.

    Makes sure the browser has a session first: the runs socket knows the
    attendee only by the session cookie this response then sets.
    """
    if not request.session.session_key:
        request.session.save()
    return {
        "url": websocket_path(RunConsumer, slug=slug),
        "unavailable": run_unavailable(),
        "terminal": terminal_assets(),
        "terminalMissing": XTERM_MISSING,
    }


def _terminal_config(*, slug: str, runs: dict) -> dict | None:
    """What the terminal panel needs (static/podium/js/terminal/): its socket, xterm.js's files, and why it
    cannot work when it cannot (no sandboxes on this server); None without xterm.js."""
    if runs["terminal"] is None:
        return None
    return {
        "url": websocket_path(TerminalConsumer, slug=slug),
        "slug": slug,
        "assets": runs["terminal"],
        "unavailable": runs["unavailable"],
    }


def _reload_config(*, deck: Deck) -> dict | None:
    """Where the page hears that its deck file changed (`deck.live_reload`), and the version of the deck it
    shows (so a save between this response and the socket's connect still reloads it); None when off."""
    if not reload_enabled():
        return None
    return {"url": websocket_path(ReloadConsumer, slug=deck.slug), "version": deck_version(deck=deck)}


def _live_deck_page(
    request: HttpRequest, *, deck: Deck, talk: Talk, template: str, with_notes: bool, extra: dict | None = None
) -> HttpResponse:
    """A live view of the talk, audience or presenter: the slides with their Run controls, and the scripts' settings.

    Both views follow the same talk and run code the same way; only the presenter's page asks for the notes.
    """
    runs = _runs_config(request, slug=deck.slug)
    recording = recording_of(deck=deck)
    context = {
        "deck": deck,
        "slides": slide_rows(
            deck,
            with_notes=with_notes,
            slide_html=lambda slide: slide_html_with_runs(slide, unavailable=runs["unavailable"], recording=recording),
        ),
        "pygments_css": pygments_css(),
        "config": _follow_config(slug=deck.slug, count=len(deck.slides), talk=talk)
        | {"runs": runs, "reload": _reload_config(deck=deck), "terminal": _terminal_config(slug=deck.slug, runs=runs)}
        | (extra or {}),
        "runs": runs,
    }
    return render(request, template, context)


def _room_config(*, slug: str) -> dict:
    """Where an audience page hears its room (notes, help, the room closing): `rooms.consumers.MemberConsumer`."""
    return {"url": websocket_path(MemberConsumer, slug=slug)}


def audience_view(request: HttpRequest, slug: str) -> HttpResponse:
    """The deck as the room sees it: every slide in the page, one at a time, following the presenter.

    Presenter notes are left out of this page entirely. On a server without
    self-paced use, someone not admitted to the deck's room is sent to join it.
    """
    deck, reason = deck_or_none(slug)
    if deck is None:
        return deck_missing(request, slug=slug, reason=reason)
    elsewhere = audience_elsewhere(request, deck_slug=deck.slug)
    if elsewhere is not None:
        return redirect(elsewhere)
    talk = talk_get_or_create(deck_slug=deck.slug)
    return _live_deck_page(
        request,
        deck=deck,
        talk=talk,
        template="workshop/audience.html",
        with_notes=False,
        extra={"room": _room_config(slug=deck.slug)},
    )


@never_cache
def presenter_view(request: HttpRequest, slug: str) -> HttpResponse:
    """The presenter's screen: current and next slide, notes, timer, clock; moves drive every follower.

    `?token=` (the presenter link) grants this browser session the right to
    present, then redirects to the same address without the secret in it.
    Anyone else gets a 403 page telling how to get the link.
    """
    deck, reason = deck_or_none(slug)
    if deck is None:
        return deck_missing(request, slug=slug, reason=reason)
    talk = talk_get_or_create(deck_slug=deck.slug)
    token = request.GET.get("token")
    if token is not None:
        return _presenter_token_try(request, deck=deck, talk=talk, token=token)
    if not presenter_allowed(user=request.user, session=request.session, talk=talk):
        return presenter_forbidden(request, deck=deck, bad_token=False)
    return _live_deck_page(
        request,
        deck=deck,
        talk=talk,
        template="workshop/presenter.html",
        with_notes=True,
        extra={"room": presenter_room(deck_slug=deck.slug)},
    )


def _presenter_token_try(request: HttpRequest, *, deck: Deck, talk: Talk, token: str) -> HttpResponse:
    """Grant the session presenter rights when `token` is right, then drop the secret from the address.

    Wrong tokens are counted per client address (PODIUM_RATE_PRESENTER_TOKEN): past the limit every
    attempt, right or wrong, is refused until the window ends, so the token cannot be guessed by trying.
    """
    rate, address = settings.PODIUM_RATE_PRESENTER_TOKEN, client_address(request.META)
    try:
        rate_check(action="presenter-token", key=address, rate=rate, what="presenter-link attempts")
    except RateLimited as exc:
        return presenter_forbidden(request, deck=deck, bad_token=True, too_many=exc.message)
    if presenter_grant(session=request.session, talk=talk, token=token):
        query = request.GET.copy()
        query.pop("token")
        return redirect(request.path + (f"?{query.urlencode()}" if query else ""))
    try:
        rate_hit(action="presenter-token", key=address, rate=rate, what="presenter-link attempts")
    except RateLimited as exc:
        return presenter_forbidden(request, deck=deck, bad_token=True, too_many=exc.message)
    return presenter_forbidden(request, deck=deck, bad_token=True)
