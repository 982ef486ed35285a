"""A room's warm pool on the LocalBackend double: filled within the room's places, handed out at admission
(database only) and at a first run, filled again, drained when the room closes; the deck's images derived."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from django.contrib.sessions.backends.db import SessionStore

from deck.selectors import deck_get
from rooms.models import PoolSandbox
from rooms.pool import deck_images, pool_fill, pool_refills_wait, pool_status
from rooms.services import room_close, room_open
from sandbox.models import Attendee, Sandbox
from tests.rooms.room_support import joined
from tests.sandbox.runs_support import SLUG, WAIT, managed_ids, new_session, page

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("local_backend")]


def filled(room, **options):
    return pool_fill(room=room, prime=False, **options)


async def pool_refilled(room) -> dict:
    """The pool's status once the refill threads of this process are done (SQLite in memory, as the tests
    use it, locks a whole table while another connection writes: nothing reads beside them)."""
    await asyncio.to_thread(pool_refills_wait, WAIT)
    return await database_sync_to_async(pool_status)(room=room)


def test_the_shipped_deck_names_the_images_its_builds_start_from(settings):
    settings.PODIUM_SLIDES_DIR = settings.BASE_DIR / "slides"
    images = deck_images(deck_get(slug="intro-docker-kubernetes"))
    assert "mysql:8" in images
    assert any(image.startswith("python:") for image in images)
    assert not {"12factor:1.0", "12factor-dbinit:1.0", "scratch"} & set(images)


async def test_a_pool_is_filled_and_handed_out_at_admission_then_filled_again(local_backend):
    room = await database_sync_to_async(room_open)(deck_slug=SLUG, pool_size=2)
    report = await database_sync_to_async(filled)(room)
    assert len(report.made) == 2 and report.failed == {}
    assert await database_sync_to_async(pool_status)(room=room) == {"size": 2, "ready": 2}
    pooled = set(report.made)
    assert managed_ids(local_backend) == pooled

    ada = await new_session()
    member = await database_sync_to_async(joined)(room, "Ada", SessionStore(session_key=ada))
    sandbox = await database_sync_to_async(Sandbox.objects.get)(attendee_id=member.attendee_id)
    assert sandbox.id.hex in pooled and sandbox.status == Sandbox.Status.READY
    assert await pool_refilled(room) == {"size": 2, "ready": 2}  # filled again in the background
    async with page(ada) as ada_page:
        end, messages = await ada_page.run()
    assert end["status"] == "ok"
    assert not [m for m in ada_page.log if m["type"] == "sandbox.progress" and "Creating" in m["message"]]
    assert await database_sync_to_async(Sandbox.objects.filter(attendee_id=member.attendee_id).count)() == 1


async def test_a_member_admitted_before_the_pool_was_ready_gets_one_at_the_first_run(local_backend):
    # One place: once Ada is in, the pool has no place to fill again (no refill thread beside the run).
    room = await database_sync_to_async(room_open)(deck_slug=SLUG, capacity=1, pool_size=1)
    ada = await new_session()
    await database_sync_to_async(joined)(room, "Ada", SessionStore(session_key=ada))  # pool still empty
    report = await database_sync_to_async(filled)(room)
    async with page(ada) as ada_page:
        end, _ = await ada_page.run()
    assert end["status"] == "ok"
    owner = await database_sync_to_async(lambda: Sandbox.objects.get(id=report.made[0]).attendee.session_key)()
    assert owner == ada


def test_the_pool_stays_within_the_room_s_places(local_backend):
    room = room_open(deck_slug=SLUG, capacity=2, pool_size=5)
    assert len(filled(room).made) == 2
    joined(room, "Ada")
    joined(room, "Bob")
    assert PoolSandbox.objects.filter(room=room).count() == 0  # both handed out
    assert filled(room).made == []  # two admitted: no place left for a pool sandbox


def test_closing_the_room_drains_its_pool(local_backend):
    room = room_open(deck_slug=SLUG, pool_size=2)
    filled(room)
    holders = list(PoolSandbox.objects.values_list("sandbox__attendee_id", flat=True))
    change = room_close(room=room)
    assert change.failed == {}
    assert managed_ids(local_backend) == set()
    assert not Attendee.objects.filter(pk__in=holders).exists()
    assert not PoolSandbox.objects.exists()
