"""The presenter's pages of a room: open it from the presenter view, the dashboard, the join screen, the export;
each refused to everyone else."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.test import Client

from deck.services import talk_get_or_create, talk_presenter_token
from rooms.models import Member, Room
from rooms.services import room_open
from sandbox.models import Run
from tests.sandbox.runs_support import SLUG

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("runs_deck")]


@pytest.fixture
def presenter() -> Client:
    client = Client()
    token = talk_presenter_token(talk=talk_get_or_create(deck_slug=SLUG))
    assert client.get(f"/decks/{SLUG}/presenter/?token={token}").status_code == 302
    return client


def test_the_presenter_opens_a_room_from_the_presenter_view(presenter):
    page = presenter.get(f"/decks/{SLUG}/presenter/")
    assert "Open room" in page.text
    back = presenter.post(f"/decks/{SLUG}/room/open/")
    assert back.status_code == 302 and back.url == f"/decks/{SLUG}/presenter/"
    room = Room.objects.get()
    page = presenter.get(back.url)
    shown = f"{room.code[:3]}-{room.code[3:]}"
    assert f"Room {shown}" in page.text and f"/rooms/{room.code}/screen/" in page.text
    presenter.post(f"/decks/{SLUG}/room/open/")  # again: the open room stays the one
    assert Room.objects.count() == 1


@pytest.mark.parametrize("path", ["/rooms/{code}/", "/rooms/{code}/screen/", "/rooms/{code}/export.csv"])
def test_an_attendee_gets_the_presenter_only_page(path):
    room = room_open(deck_slug=SLUG)
    attendee = Client()
    attendee.post("/join/", {"code": room.code, "name": "Eve"})
    page = attendee.get(path.format(code=room.code))
    assert page.status_code == 403 and "Only the presenter" in page.text
    assert attendee.get(f"/rooms/{room.code}/count/").status_code == 403
    assert attendee.post(f"/decks/{SLUG}/room/open/").status_code == 403


def test_the_dashboard_and_the_join_screen(presenter):
    room = room_open(deck_slug=SLUG, capacity=1)
    shown = f"{room.code[:3]}-{room.code[3:]}"
    dashboard = presenter.get(f"/rooms/{room.code}/")
    assert dashboard.status_code == 200 and f'Room <span class="room-code">{shown}</span>' in dashboard.text
    assert f'"/ws/rooms/{room.code}/dashboard/"' in dashboard.text
    screen = presenter.get(f"/rooms/{room.code}/screen/")
    assert shown in screen.text and f"http://testserver/join/{room.code}/" in screen.text
    assert "<svg" in screen.text and "qr-code" in screen.text
    for name in ("Ada", "Bob"):
        Client().post("/join/", {"code": room.code, "name": name})
    assert presenter.get(f"/rooms/{room.code}/count/").json() == {
        "admitted": 1,
        "waiting": 1,
        "open": True,
        "locked": False,
    }


def test_the_export_has_a_line_per_attendee(presenter):
    room = room_open(deck_slug=SLUG)
    for name in ("Ada", "=HYPERLINK(evil)"):
        Client().post("/join/", {"code": room.code, "name": name})
    ada = Member.objects.get(name="Ada")
    for status in ("ok", "failed", "failed"):
        Run.objects.create(
            attendee=ada.attendee,
            deck_slug=SLUG,
            block_id="s2b0",
            slide=2,
            block_index=0,
            kind="shell",
            code="x",
            status=status,
        )
    answer = presenter.get(f"/rooms/{room.code}/export.csv")
    assert answer["Content-Disposition"] == f'attachment; filename="room-{room.code}-{SLUG}.csv"'
    rows = list(csv.DictReader(io.StringIO(answer.content.decode())))
    assert [row["name"] for row in rows] == ["Ada", "'=HYPERLINK(evil)"]  # no formula reaches a spreadsheet
    assert (rows[0]["runs"], rows[0]["failures"], rows[0]["steps_done"]) == ("3", "2", "1")
    summary = json.loads(presenter.get(f"/rooms/{room.code}/export.json").content)
    assert summary["room"] == room.code and summary["attendees"][0]["name"] == "Ada"
    assert set(summary["attendees"][0]) == {
        "name",
        "status",
        "steps_done",
        "steps",
        "runs",
        "failures",
        "help_requests",
        "minutes_in_room",
    }
