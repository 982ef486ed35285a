"""The presenter's pages of a room: open one from the presenter view, the dashboard, the projected join screen,
the summary export. Each answers the 403 page to anyone but the deck's presenter."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from config.routing import websocket_path
from config.xterm import terminal_assets
from deck.markdown.macros import qr_svg
from deck.pages import deck_missing, deck_or_none, page_not_found, presenter_forbidden
from rooms.codes import code_shown
from rooms.consumers import DashboardConsumer
from rooms.errors import RoomError
from rooms.export import room_summary, room_summary_csv
from rooms.links import join_url
from rooms.models import Room
from rooms.pages import may_run_room
from rooms.selectors import room_by_code, room_counts
from rooms.services import room_open
from rooms.terminal_consumers import TerminalWatchConsumer

QR_SIZE = 480  # pixels: read from the back of a room when projected


def _room_or_refusal(request: HttpRequest, code: str) -> tuple[Room | None, HttpResponse | None]:
    room = room_by_code(code)
    if room is None:
        return None, page_not_found(request, message=f"No room has the code “{code[:12]}”.")
    if not may_run_room(request, deck_slug=room.deck_slug):
        deck, _ = deck_or_none(room.deck_slug)
        if deck is None:
            return None, deck_missing(request, slug=room.deck_slug)
        return None, presenter_forbidden(request, deck=deck, bad_token=False)
    return room, None


@require_POST
def room_open_view(request: HttpRequest, slug: str) -> HttpResponse:
    """ "Open room" in the presenter view: opens the deck's room (or finds the open one) and shows its dashboard."""
    deck, reason = deck_or_none(slug)
    if deck is None:
        return deck_missing(request, slug=slug, reason=reason)
    if not may_run_room(request, deck_slug=slug):
        return presenter_forbidden(request, deck=deck, bad_token=False)
    capacity = request.POST.get("capacity", "").strip()
    room = Room.objects.filter(deck_slug=slug, closed_at__isnull=True).first()
    if room is None:
        try:
            room = room_open(deck_slug=slug, capacity=int(capacity) if capacity.isdigit() else None)
        except RoomError as exc:
            return render(request, "rooms/refused.html", {"deck": deck, "message": exc.message}, status=400)
    # Back to the presenter view, which now shows the room (its dashboard and join screen are a click away).
    return redirect(reverse("deck:presenter", kwargs={"slug": slug}))


@never_cache
def dashboard_view(request: HttpRequest, code: str) -> HttpResponse:
    """The instructor's dashboard: the live roster, the stuck radar and the help queue (rooms/consumers.py)."""
    room, refusal = _room_or_refusal(request, code)
    if refusal is not None:
        return refusal
    config = {
        "url": websocket_path(DashboardConsumer, code=room.code),
        "code": room.code,
        "joinScreen": reverse("rooms:screen", kwargs={"code": room.code}),
        # Watching an attendee's terminal: the socket of member MEMBER, and xterm.js (None when not installed).
        "watchUrl": websocket_path(TerminalWatchConsumer, code=room.code, member="MEMBER"),
        "terminal": terminal_assets(),
    }
    address = join_url(room=room, base_url=request.build_absolute_uri("/"))
    context = {"room": room, "code_shown": code_shown(room.code), "join_url": address, "config": config}
    return render(request, "rooms/dashboard.html", context)


@never_cache
def join_screen_view(request: HttpRequest, code: str) -> HttpResponse:
    """The join screen to project: the code huge, the address, a QR code, and how many are in, kept live."""
    room, refusal = _room_or_refusal(request, code)
    if refusal is not None:
        return refusal
    address = join_url(room=room, base_url=request.build_absolute_uri("/"))
    config = {"countUrl": reverse("rooms:count", kwargs={"code": room.code}), "pollMs": 2000}
    qr = mark_safe(qr_svg(data=address, size=QR_SIZE))  # noqa: S308 - segno's own SVG of our own address
    context = {"room": room, "code_shown": code_shown(room.code), "address": address, "config": config, "qr": qr}
    return render(request, "rooms/join_screen.html", context)


@never_cache
def count_view(request: HttpRequest, code: str) -> JsonResponse:
    """How many are in the room and waiting (the join screen polls it); presenter only."""
    room, refusal = _room_or_refusal(request, code)
    if refusal is not None:
        return JsonResponse({"message": "Only the presenter sees the room."}, status=refusal.status_code)
    return JsonResponse(room_counts(room=room) | {"open": room.is_open, "locked": room.locked})


def export_view(request: HttpRequest, code: str, fmt: str) -> HttpResponse:
    """The room's summary as CSV or JSON, downloaded."""
    room, refusal = _room_or_refusal(request, code)
    if refusal is not None:
        return refusal
    name = f"room-{room.code}-{room.deck_slug}"
    if fmt == "csv":
        response = HttpResponse(room_summary_csv(room=room), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return response
    body = {"room": room.code, "deck": room.deck_slug, "attendees": room_summary(room=room)}
    response = HttpResponse(json.dumps(body, indent=2), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{name}.json"'
    return response
