"""Talks, presenter rights and slide moves, through deck.services and `manage.py talk`."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.sessions.backends.db import SessionStore
from django.core.management import CommandError, call_command

from deck.errors import DeckNotFound
from deck.groups import talk_group
from deck.models import Talk
from deck.services import (
    SlideOutOfRange,
    presenter_allowed,
    presenter_grant,
    talk_blackout,
    talk_get,
    talk_get_or_create,
    talk_goto,
    talk_links,
    talk_presenter_token,
    talk_start,
    talk_token_reset,
)

FIXTURES = Path(__file__).parent / "fixtures" / "follow"
SLUG = "follow-demo"  # five slides

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def follow_decks(settings):
    settings.PODIUM_SLIDES_DIR = FIXTURES
    settings.PODIUM_PRESENTER_TOKEN = ""
    settings.PODIUM_BASE_URL = "http://127.0.0.1:8000"


def test_default_talk_is_created_once_with_the_deck_slug():
    talk = talk_get_or_create(deck_slug=SLUG)
    again = talk_get_or_create(deck_slug=SLUG)
    assert (talk.pk, talk.slug, talk.deck_slug) == (again.pk, SLUG, SLUG)
    assert talk.current_slide == 1
    assert not talk.live
    assert len(talk.presenter_token) >= 32


def test_tokens_differ_between_talks():
    first = talk_get_or_create(deck_slug=SLUG)
    other = Talk.objects.create(slug="second-showing", deck_slug=SLUG)
    assert first.presenter_token != other.presenter_token


def test_unknown_deck_creates_no_talk():
    with pytest.raises(DeckNotFound):
        talk_get_or_create(deck_slug="no-such-deck")
    with pytest.raises(DeckNotFound):
        talk_get(slug="no-such-deck")
    assert not Talk.objects.exists()


def test_talk_get_finds_a_named_talk_of_a_deck():
    named = Talk.objects.create(slug="monday-morning", deck_slug=SLUG)
    assert talk_get(slug="monday-morning").pk == named.pk
    assert talk_get(slug=SLUG).slug == SLUG


def test_right_token_grants_the_session_and_wrong_token_does_not():
    talk = talk_get_or_create(deck_slug=SLUG)
    session = SessionStore()
    for wrong in ["", "nope", talk.presenter_token[:-1], talk.presenter_token + "x", None]:
        assert presenter_grant(session=session, talk=talk, token=wrong) is False
    assert presenter_allowed(user=AnonymousUser(), session=session, talk=talk) is False

    assert presenter_grant(session=session, talk=talk, token=talk.presenter_token) is True
    session.save()
    # A fresh store reading the same session from the database, as the websocket does.
    assert presenter_allowed(user=AnonymousUser(), session=SessionStore(session.session_key), talk=talk) is True


def test_a_grant_is_per_talk():
    talk = talk_get_or_create(deck_slug=SLUG)
    other = Talk.objects.create(slug="other-showing", deck_slug=SLUG)
    session = SessionStore()
    assert presenter_grant(session=session, talk=talk, token=talk.presenter_token)
    assert presenter_allowed(user=None, session=session, talk=talk)
    assert not presenter_allowed(user=None, session=session, talk=other)


def test_grant_rotates_the_session_key():
    talk = talk_get_or_create(deck_slug=SLUG)
    session = SessionStore()
    session["seen"] = True
    session.save()
    planted = session.session_key
    assert presenter_grant(session=session, talk=talk, token=talk.presenter_token)
    session.save()
    assert session.session_key != planted
    assert not presenter_allowed(user=None, session=SessionStore(planted), talk=talk)


def test_resetting_the_token_revokes_old_links_and_sessions():
    talk = talk_get_or_create(deck_slug=SLUG)
    old_token = talk.presenter_token
    session = SessionStore()
    assert presenter_grant(session=session, talk=talk, token=old_token)

    talk_token_reset(talk=talk)
    talk = Talk.objects.get(pk=talk.pk)
    assert talk.presenter_token != old_token
    assert not presenter_allowed(user=None, session=session, talk=talk)
    assert not presenter_grant(session=SessionStore(), talk=talk, token=old_token)


def test_configured_token_replaces_the_stored_one(settings):
    settings.PODIUM_PRESENTER_TOKEN = "room-42-secret"
    talk = talk_get_or_create(deck_slug=SLUG)
    assert talk_presenter_token(talk=talk) == "room-42-secret"
    assert not presenter_grant(session=SessionStore(), talk=talk, token=talk.presenter_token)
    session = SessionStore()
    assert presenter_grant(session=session, talk=talk, token="room-42-secret")
    assert presenter_allowed(user=None, session=session, talk=talk)


def test_staff_users_drive_and_other_users_do_not():
    talk = talk_get_or_create(deck_slug=SLUG)
    staff = User.objects.create_user("presenter", is_staff=True)
    attendee = User.objects.create_user("attendee")
    former = User.objects.create_user("former", is_staff=True, is_active=False)
    assert presenter_allowed(user=staff, session=None, talk=talk)
    assert not presenter_allowed(user=attendee, session=None, talk=talk)
    assert not presenter_allowed(user=former, session=None, talk=talk)
    assert not presenter_allowed(user=AnonymousUser(), session=None, talk=talk)


def test_goto_saves_the_slide_and_makes_the_talk_live():
    talk = talk_get_or_create(deck_slug=SLUG)
    talk_goto(talk=talk, slide=5)
    stored = Talk.objects.get(pk=talk.pk)
    assert stored.current_slide == 5
    assert stored.live


@pytest.mark.parametrize("slide", [0, -1, 6, 10_000_000, True, 2.0, "3", None])
def test_goto_refuses_slides_the_deck_does_not_have(slide):
    talk = talk_get_or_create(deck_slug=SLUG)
    talk_goto(talk=talk, slide=2)
    with pytest.raises(SlideOutOfRange) as refused:
        talk_goto(talk=talk, slide=slide)
    assert refused.value.message
    assert Talk.objects.get(pk=talk.pk).current_slide == 2


def test_out_of_range_message_names_the_valid_range():
    talk = talk_get_or_create(deck_slug=SLUG)
    with pytest.raises(SlideOutOfRange, match="1 to 5"):
        talk_goto(talk=talk, slide=6)


def test_start_keeps_the_first_start_time():
    talk = talk_start(talk=talk_get_or_create(deck_slug=SLUG))
    first = talk.started_at
    assert first is not None
    assert talk_start(talk=Talk.objects.get(pk=talk.pk)).started_at == first


def test_blackout_is_remembered():
    talk = talk_get_or_create(deck_slug=SLUG)
    talk_blackout(talk=talk, on=True)
    assert Talk.objects.get(pk=talk.pk).blackout is True
    talk_blackout(talk=talk, on=False)
    assert Talk.objects.get(pk=talk.pk).blackout is False


def test_links_carry_the_token_only_for_the_presenter():
    talk = talk_get_or_create(deck_slug=SLUG)
    presenter, audience = talk_links(talk=talk, base_url="https://podium.example.org/")
    assert presenter == f"https://podium.example.org/decks/{SLUG}/presenter/?token={talk.presenter_token}"
    assert audience == f"https://podium.example.org/decks/{SLUG}/"


def test_talk_group_names_are_valid_channel_groups():
    from channels.layers import InMemoryChannelLayer

    layer = InMemoryChannelLayer()
    assert talk_group(SLUG) == "talk.follow-demo"
    for slug in [SLUG, "intro_docker.v2", "café-deck", "x" * 300, "with space"]:
        assert layer.require_valid_group_name(talk_group(slug))
    assert talk_group("café-deck") != talk_group("cafe-deck")


def test_talk_link_command_prints_both_links_and_creates_the_talk():
    out = StringIO()
    call_command("talk", "link", SLUG, "--base-url", "http://10.0.0.5:8000", stdout=out)
    talk = Talk.objects.get(slug=SLUG)
    lines = out.getvalue().splitlines()
    assert f"Presenter: http://10.0.0.5:8000/decks/{SLUG}/presenter/?token={talk.presenter_token}" in lines
    assert f"Audience:  http://10.0.0.5:8000/decks/{SLUG}/" in lines


def test_talk_reset_token_command_rotates_the_token():
    call_command("talk", "link", SLUG, stdout=StringIO())
    before = Talk.objects.get(slug=SLUG).presenter_token
    out = StringIO()
    call_command("talk", "reset-token", SLUG, stdout=out)
    after = Talk.objects.get(slug=SLUG).presenter_token
    assert after != before
    assert f"?token={after}" in out.getvalue()


def test_talk_command_names_a_missing_deck():
    with pytest.raises(CommandError, match="no deck 'nope'"):
        call_command("talk", "link", "nope", stdout=StringIO())
    assert not Talk.objects.exists()
