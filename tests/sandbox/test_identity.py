"""Who is who: one attendee per session and deck, the presenter recognised, nobody from a made-up cookie."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore

from deck.errors import DeckNotFound
from deck.services import presenter_grant, talk_get_or_create, talk_presenter_token, talk_token_reset
from sandbox.identity import DISPLAY_NAME_KEY, NoSession, attendee_for
from sandbox.models import Attendee
from tests.sandbox.runs_support import SLUG

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("runs_deck")]


def browser(**data) -> SessionStore:
    """A session as the audience page leaves it: saved, so it has a key the server knows."""
    session = SessionStore()
    session["seen"] = True
    session.update(data)
    session.save()
    return session


def reopened(session: SessionStore) -> SessionStore:
    """The same session as the next request (or a websocket) sees it: only the cookie's key."""
    return SessionStore(session_key=session.session_key)


def test_the_same_session_is_the_same_attendee_on_every_connection():
    session = browser()
    first = attendee_for(session=reopened(session), deck_slug=SLUG, user=None)
    again = attendee_for(session=reopened(session), deck_slug=SLUG, user=None)
    assert first.pk == again.pk and not first.is_presenter
    assert Attendee.objects.count() == 1


def test_different_sessions_are_different_attendees():
    assert attendee_for(session=browser(), deck_slug=SLUG).pk != attendee_for(session=browser(), deck_slug=SLUG).pk


def test_a_missing_or_made_up_session_is_nobody():
    for session in (None, SessionStore(), SessionStore(session_key="x" * 32)):
        with pytest.raises(NoSession):
            attendee_for(session=session, deck_slug=SLUG, user=None)
    assert not Attendee.objects.exists()


def test_an_unknown_deck_makes_no_attendee():
    with pytest.raises(DeckNotFound):
        attendee_for(session=browser(), deck_slug="no-such-deck", user=None)
    assert not Attendee.objects.exists()


def test_the_presenter_link_makes_the_presenter_and_a_token_reset_undoes_it(settings):
    settings.PODIUM_PRESENTER_TOKEN = ""
    talk = talk_get_or_create(deck_slug=SLUG)
    session = browser()
    assert presenter_grant(session=session, talk=talk, token=talk_presenter_token(talk=talk))
    session.save()
    presenter = attendee_for(session=reopened(session), deck_slug=SLUG, user=None)
    assert presenter.is_presenter
    talk_token_reset(talk=talk)
    assert not attendee_for(session=reopened(session), deck_slug=SLUG, user=None).is_presenter


def test_a_staff_user_is_the_presenter_and_shows_their_name():
    staff = User.objects.create_user("speaker", password="unused", is_staff=True)
    attendee = attendee_for(session=browser(), deck_slug=SLUG, user=staff)
    assert attendee.is_presenter and attendee.display_name == "speaker"


def test_the_display_name_comes_from_the_session():
    attendee = attendee_for(session=browser(**{DISPLAY_NAME_KEY: "Ada"}), deck_slug=SLUG, user=None)
    assert attendee.display_name == "Ada" and "Ada" in str(attendee)
