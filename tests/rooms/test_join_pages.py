"""The join form, the wait list's page and its status, leaving, and the deck page of a rooms-only server."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from rooms.models import Member, Room
from rooms.services import room_close, room_open
from tests.sandbox.runs_support import SLUG

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("runs_deck")]


def join(client: Client, code: str, name: str):
    return client.post("/join/", {"code": code, "name": name})


def test_the_join_form_fills_in_the_code_from_its_address():
    room = room_open(deck_slug=SLUG)
    page = Client().get(f"/join/{room.code}/")
    assert page.status_code == 200
    assert f'value="{room.code}"' in page.text
    assert "Your name" in page.text


def test_joining_opens_the_deck_and_a_full_room_shows_the_place_in_line():
    room = room_open(deck_slug=SLUG, capacity=1)
    ada, bob = Client(), Client()
    answer = join(ada, room.code.lower(), "Ada")
    assert answer.status_code == 302 and answer.url == f"/decks/{SLUG}/"
    answer = join(bob, room.code, "Bob")
    assert answer.url == f"/join/{room.code}/wait/"
    wait = bob.get(answer.url)
    assert "You are number 1 in line." in wait.text and "Waiting as <strong>Bob</strong>" in wait.text
    assert bob.get(f"/join/{room.code}/status/").json() == {
        "status": "waiting",
        "position": 1,
        "message": "You are number 1 in line.",
    }
    # Ada leaves: Bob's next poll lets him in and names the deck.
    left = ada.post(f"/join/{room.code}/leave/")
    assert f"You left room {room.code}" in left.text
    status = bob.get(f"/join/{room.code}/status/").json()
    assert status["status"] == "admitted" and status["deckUrl"] == f"/decks/{SLUG}/"
    assert bob.get(f"/join/{room.code}/wait/").url == f"/decks/{SLUG}/"


@pytest.mark.parametrize(
    ("code", "name", "says"),
    [
        ("ZZZZZZ", "Ada", "No room has the code ZZZZZZ"),
        ("OOPS", "Ada", "6 characters"),
        ("{code}", "", "Type the name"),
    ],
)
def test_a_refused_join_says_why_and_keeps_what_was_typed(code, name, says):
    room = room_open(deck_slug=SLUG)
    typed = code.format(code=room.code)
    page = join(Client(), typed, name)
    assert page.status_code == 400
    assert says in page.text and 'role="alert"' in page.text
    assert f'value="{typed}"' in page.text


def test_wrong_codes_from_one_address_are_limited(settings):
    settings.PODIUM_RATE_JOIN_CODES = (3, 600)
    room = room_open(deck_slug=SLUG)
    client = Client()
    for _ in range(3):
        assert join(client, "ZZZZZZ", "Eve").status_code == 400
    refused = join(client, room.code, "Eve")  # even the right code, until the window ends
    assert refused.status_code == 429 and "Too many join attempts with a wrong code" in refused.text
    assert not Member.objects.exists()


def test_a_closed_room_says_so_on_the_wait_page():
    room = room_open(deck_slug=SLUG, capacity=1)
    join(Client(), room.code, "Ada")
    bob = Client()
    join(bob, room.code, "Bob")
    room_close(room=room)
    assert bob.get(f"/join/{room.code}/status/").json()["status"] == "closed"
    assert "is closed" in join(Client(), room.code, "Cy").text


def test_a_rooms_only_server_sends_strangers_to_join_and_members_to_the_deck(settings):
    settings.PODIUM_SELF_PACED = False
    room = room_open(deck_slug=SLUG, capacity=1)
    stranger = Client()
    assert stranger.get(f"/decks/{SLUG}/").url == "/join/"
    ada, bob = Client(), Client()
    join(ada, room.code, "Ada")
    join(bob, room.code, "Bob")
    assert ada.get(f"/decks/{SLUG}/").status_code == 200
    assert bob.get(f"/decks/{SLUG}/").url == f"/join/{room.code}/wait/"
    settings.PODIUM_SELF_PACED = True
    assert stranger.get(f"/decks/{SLUG}/").status_code == 200


def command(*args: str) -> str:
    out = StringIO()
    call_command("room", *args, stdout=out)
    return out.getvalue()


def test_the_room_command_opens_shows_locks_and_closes(settings):
    settings.PODIUM_BASE_URL = "https://podium.example"
    said = command("open", SLUG, "--capacity", "1", "--idle-minutes", "10")
    room = Room.objects.get()
    assert f"Room {room.code} is open for {SLUG}." in said
    assert f"Join: https://podium.example/join/{room.code}/" in said
    assert "capacity 1; places free after 10 idle minutes." in said
    join(Client(), room.code, "Ada")
    join(Client(), room.code, "Bob")
    shown = command("show", room.code.lower())
    assert "1 in, 1 waiting" in shown and "Ada  in" in shown and "Bob  waiting #1" in shown
    assert "locked" in command("lock", room.code)
    assert "locked" in command("list")
    with pytest.raises(CommandError, match=f"Room {room.code} is open for 'runs-demo' already"):
        command("open", SLUG)
    assert "closed; 2 member(s) let go" in command("close", room.code)
    with pytest.raises(CommandError, match="No room has the code 'NOPE23'"):
        command("close", "NOPE23")
