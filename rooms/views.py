"""The pages of joining a room: the join form, the wait list's page (and the status it polls), leaving.

Thin: `rooms.services` does the work; these turn its answers and refusals
into pages. A refusal is shown on the join form, in words, with what was
typed kept.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from config.ratelimit import RateLimited, client_address, rate_check, rate_hit
from rooms.errors import RoomError
from rooms.models import Member, Room
from rooms.selectors import member_of, room_by_code, wait_position
from rooms.services import member_leave, room_admit_waiting, room_join
from sandbox.identity import DISPLAY_NAME_KEY, attendee_for

WAIT_POLL_MS = 2000


def _deck_url(room: Room) -> str:
    return reverse("deck:audience", kwargs={"slug": room.deck_slug})


def _form(request: HttpRequest, *, code: str = "", error: str = "", notice: str = "", status: int = 200):
    name = request.POST.get("name") if request.method == "POST" else request.session.get(DISPLAY_NAME_KEY, "")
    context = {"code": code, "name": name or "", "error": error, "notice": notice}
    return render(request, "rooms/join.html", context, status=status)


@never_cache
def join_view(request: HttpRequest, code: str = "") -> HttpResponse:
    """GET: the join form (the code filled in when the address has it). POST: join, then the deck or the wait list."""
    if request.method != "POST":
        return _form(request, code=code or request.GET.get("code", ""))
    typed = request.POST.get("code", "")
    address, rate = client_address(request.META), settings.PODIUM_RATE_JOIN_CODES
    try:
        rate_check(action="join-code", key=address, rate=rate, what="join attempts with a wrong code")
    except RateLimited as exc:
        return _form(request, code=typed, error=exc.message, status=429)
    if not request.session.session_key:
        request.session.save()  # the attendee is this session: it needs its key now
    try:
        member, _ = room_join(code=typed, name=request.POST.get("name", ""), session=request.session, user=request.user)
    except RoomError as exc:
        if room_by_code(typed) is None:
            try:
                rate_hit(action="join-code", key=address, rate=rate, what="join attempts with a wrong code")
            except RateLimited as limited:
                return _form(request, code=typed, error=limited.message, status=429)
        return _form(request, code=typed, error=exc.message, status=400)
    return _after_join(member)


def _after_join(member: Member) -> HttpResponse:
    if member.status == Member.Status.ADMITTED:
        return redirect(_deck_url(member.room))
    return redirect("rooms:wait", code=member.room.code)


def _membership(request: HttpRequest, code: str) -> tuple[Room | None, Member | None]:
    room = room_by_code(code)
    if room is None or not request.session.session_key:
        return room, None
    attendee = attendee_for(session=request.session, deck_slug=room.deck_slug, user=request.user)
    return room, member_of(room=room, attendee=attendee)


def _status(room: Room, member: Member | None) -> dict:
    """Where the person stands, as the wait page shows it and polls it."""
    if not room.is_open:
        return {"status": "closed", "message": f"Room {room.code} is closed."}
    if member is None:
        return {"status": "none", "message": f"You have not joined room {room.code}."}
    if member.status == Member.Status.ADMITTED:
        return {"status": "admitted", "message": "You are in: the deck opens now.", "deckUrl": _deck_url(room)}
    if member.status == Member.Status.WAITING:
        position = wait_position(member=member)
        return {"status": "waiting", "position": position, "message": f"You are number {position} in line."}
    if member.status == Member.Status.REMOVED:
        return {"status": "removed", "message": f"The presenter removed you from room {room.code}."}
    return {"status": "left", "message": f"You are no longer in room {room.code} ({member.left_why})."}


@never_cache
def wait_view(request: HttpRequest, code: str) -> HttpResponse:
    """The wait list's page: the person's place in line, updated every WAIT_POLL_MS; the deck once admitted."""
    room, member = _membership(request, code)
    if room is None or member is None:
        return redirect("rooms:join-code", code=code)
    room_admit_waiting(room=room)
    member.refresh_from_db()
    status = _status(room, member)
    if status["status"] == "admitted":
        return redirect(status["deckUrl"])
    context = {
        "room": room,
        "member": member,
        "status": status,
        "config": {"statusUrl": reverse("rooms:status", kwargs={"code": room.code}), "pollMs": WAIT_POLL_MS},
    }
    return render(request, "rooms/wait.html", context)


@never_cache
def status_view(request: HttpRequest, code: str) -> JsonResponse:
    """JSON of where this browser stands in room `code` (the wait page polls it); lets in whoever may come in."""
    room, member = _membership(request, code)
    if room is None:
        return JsonResponse({"status": "none", "message": "No room has this code."}, status=404)
    if member is not None:
        room_admit_waiting(room=room)
        member.refresh_from_db()
    return JsonResponse(_status(room, member))


@require_POST
def leave_view(request: HttpRequest, code: str) -> HttpResponse:
    """Leave the room (the sandbox goes; progress stays); back to the join form, which says so."""
    room, member = _membership(request, code)
    if member is not None and member.status in Member.IN_ROOM:
        member_leave(member=member)
        return _form(request, code=room.code, notice=f"You left room {room.code}. Join again at any time.")
    return redirect("rooms:join-code", code=code)
