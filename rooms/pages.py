"""What pages ask of rooms: where to send someone who may not follow the deck yet; who may run a room."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from deck.errors import DeckFileError, DeckNotFound
from deck.services import presenter_allowed, talk_get_or_create
from rooms.codes import code_shown
from rooms.models import Member
from rooms.selectors import membership_for, room_open_for_deck
from sandbox.identity import attendee_for


def audience_elsewhere(request: HttpRequest, *, deck_slug: str) -> str | None:
    """Where the audience page of `deck_slug` sends this browser instead, or None to show the deck.

    Only on servers without self-paced use (PODIUM_SELF_PACED off): there, the
    deck is for the presenter and admitted room members; someone waiting goes
    to their place in line, anyone else to the join form.
    """
    if settings.PODIUM_SELF_PACED:
        return None
    join = reverse("rooms:join")
    if not request.session.session_key:
        return join
    attendee = attendee_for(session=request.session, deck_slug=deck_slug, user=request.user)
    if attendee.is_presenter:
        return None
    member = membership_for(attendee=attendee)
    if member is None or not member.room.is_open:
        return join
    if member.status == Member.Status.ADMITTED:
        return None
    if member.status == Member.Status.WAITING:
        return reverse("rooms:wait", kwargs={"code": member.room.code})
    return reverse("rooms:join-code", kwargs={"code": member.room.code})


def may_run_room(request: HttpRequest, *, deck_slug: str) -> bool:
    """Whether this browser presents deck `deck_slug` (and so may open, watch and close its rooms)."""
    try:
        talk = talk_get_or_create(deck_slug=deck_slug)
    except (DeckNotFound, DeckFileError):
        return False
    return presenter_allowed(user=request.user, session=request.session, talk=talk)


def presenter_room(*, deck_slug: str) -> dict:
    """What the presenter view shows of the deck's room: its code and pages when one is open, else where to
    open one."""
    room = room_open_for_deck(deck_slug=deck_slug)
    if room is None:
        return {"open": False, "openUrl": reverse("rooms:open", kwargs={"slug": deck_slug})}
    return {
        "open": True,
        "code": code_shown(room.code),
        "dashboard": reverse("rooms:dashboard", kwargs={"code": room.code}),
        "screen": reverse("rooms:screen", kwargs={"code": room.code}),
    }
