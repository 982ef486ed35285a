"""Rooms: join codes, joining, capacity and the wait list, idle places, lock, remove, close."""

from __future__ import annotations

import re

import pytest

from rooms.codes import ALPHABET, code_problem, code_read
from rooms.errors import RoomError
from rooms.models import Member
from rooms.selectors import room_counts, wait_position
from rooms.services import member_leave, member_remove, room_admit_waiting, room_close, room_join, room_lock, room_open
from tests.rooms.room_support import browser, idle_since, joined
from tests.sandbox.runs_support import SLUG

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("runs_deck")]


def status_of(member: Member) -> str:
    member.refresh_from_db()
    return member.status


def test_a_room_gets_a_six_character_code_without_look_alikes():
    codes = set()
    for _ in range(30):
        room = room_open(deck_slug=SLUG)
        assert re.fullmatch(f"[{ALPHABET}]{{6}}", room.code)
        assert not set(room.code) & set("0O1IL")
        codes.add(room.code)
        room_close(room=room)
    assert len(codes) == 30


def test_one_open_room_per_deck_and_clear_refusals():
    room = room_open(deck_slug=SLUG, capacity=30)
    with pytest.raises(RoomError, match=f"Room {room.code} is open for 'runs-demo' already"):
        room_open(deck_slug=SLUG)
    with pytest.raises(RoomError, match="no deck called 'nope'"):
        room_open(deck_slug="nope")
    room_close(room=room)
    with pytest.raises(RoomError, match=r"capacity must be 1 or more \(got 0\)"):
        room_open(deck_slug=SLUG, capacity=0)
    assert room_open(deck_slug=SLUG).code != room.code


def test_codes_are_read_as_people_type_them():
    assert code_read(" abc-d2e ") == "ABCD2E"
    assert code_read("ab.cd 2e") == "ABCD2E"
    assert code_problem("ABCD2E") is None
    assert "6 characters" in code_problem("ABC")
    assert "have no 0, O" in code_problem("AB0OCD")
    assert "join code" in code_problem("")


def test_joining_by_code_in_any_case_admits_and_names():
    room = room_open(deck_slug=SLUG)
    session = browser()
    member, change = room_join(
        code=room.code.lower()[:3] + "-" + room.code.lower()[3:], name="  Ada  ", session=session
    )
    assert member.status == Member.Status.ADMITTED and member.name == "Ada"
    assert change.admitted == [member]
    assert member.attendee.display_name == "Ada" and member.attendee.deck_slug == SLUG
    # Joining again from the same browser renames and keeps the place.
    again, _ = room_join(code=room.code, name="Ada L.", session=session)
    assert again.pk == member.pk and again.name == "Ada L." and again.status == Member.Status.ADMITTED


@pytest.mark.parametrize(
    ("code", "name", "says"),
    [
        ("", "Ada", "Type the room's join code"),
        ("ZZZZZZ", "Ada", "No room has the code ZZZZZZ"),
        (None, "", "Type the name"),
        (None, "x" * 81, "at most 80 characters long; this one has 81"),
    ],
)
def test_a_bad_join_says_what_was_wrong(code, name, says):
    room = room_open(deck_slug=SLUG)
    with pytest.raises(RoomError, match=re.escape(says)):
        room_join(code=room.code if code is None else code, name=name, session=browser())
    assert room_counts(room=room) == {"admitted": 0, "waiting": 0}


def test_past_capacity_people_wait_in_order_and_are_admitted_as_places_free():
    room = room_open(deck_slug=SLUG, capacity=2)
    ada, bob = joined(room, "Ada"), joined(room, "Bob")
    cy, di = joined(room, "Cy"), joined(room, "Di")
    assert [m.status for m in (ada, bob)] == [Member.Status.ADMITTED] * 2
    assert (cy.status, wait_position(member=cy)) == (Member.Status.WAITING, 1)
    assert wait_position(member=di) == 2
    member_leave(member=bob)
    assert status_of(bob) == Member.Status.LEFT
    assert status_of(cy) == Member.Status.ADMITTED
    assert wait_position(member=Member.objects.get(pk=di.pk)) == 1
    assert room_counts(room=room) == {"admitted": 2, "waiting": 1}


def test_an_idle_member_gives_their_place_to_the_wait_list():
    room = room_open(deck_slug=SLUG, capacity=1, idle_minutes=5)
    ada = joined(room, "Ada")
    bob = joined(room, "Bob")
    assert status_of(bob) == Member.Status.WAITING  # Ada is active: she keeps her place
    idle_since(ada, minutes=6)
    change = room_admit_waiting(room=room)
    assert [m.pk for m in change.admitted] == [bob.pk]
    ada.refresh_from_db()
    assert (ada.status, ada.left_why) == (Member.Status.LEFT, "idle for over 5 minutes")


def test_a_locked_room_lets_nobody_new_in_but_keeps_its_members():
    room = room_open(deck_slug=SLUG)
    session = browser()
    joined(room, "Ada", session)
    room_lock(room=room, locked=True)
    with pytest.raises(RoomError, match=f"Room {room.code} is locked"):
        joined(room, "Bob")
    assert joined(room, "Ada again", session).status == Member.Status.ADMITTED
    room_lock(room=room, locked=False)
    assert joined(room, "Bob").status == Member.Status.ADMITTED


def test_a_removed_attendee_cannot_join_again():
    room = room_open(deck_slug=SLUG)
    session = browser()
    member = joined(room, "Mallory", session)
    member_remove(member=member)
    assert status_of(member) == Member.Status.REMOVED
    with pytest.raises(RoomError, match=f"removed you from room {room.code}"):
        joined(room, "Mallory", session)


def test_a_closed_room_ends_every_membership_and_takes_no_joins():
    room = room_open(deck_slug=SLUG, capacity=1)
    ada, bob = joined(room, "Ada"), joined(room, "Bob")
    room_close(room=room)
    for member in (ada, bob):
        member.refresh_from_db()
        assert (member.status, member.left_why) == (Member.Status.LEFT, "the room closed")
    with pytest.raises(RoomError, match=f"Room {room.code} is closed"):
        joined(room, "Cy")
