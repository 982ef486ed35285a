"""A room's warm pool on the LocalBackend double: filled within the room's places, handed out at admission
(database only) and at a first run, filled again, drained when the room closes; the deck's images derived."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.utils import timezone

from deck.selectors import deck_get
from rooms.models import PoolSandbox
from rooms.pool import deck_images, pool_fill, pool_refills_wait, pool_status
from rooms.services import room_close, room_open
from sandbox.cull import sandbox_cull
from sandbox.errors import SandboxError
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
    # Read once the refill her join started is done (see pool_refilled): filled again in the background.
    assert await pool_refilled(room) == {"size": 2, "ready": 2}
    sandbox = await database_sync_to_async(Sandbox.objects.get)(attendee_id=member.attendee_id)
    assert sandbox.id.hex in pooled and sandbox.status == Sandbox.Status.READY
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


def test_the_idle_cull_leaves_a_waiting_pool_alone(local_backend):
    room = room_open(deck_slug=SLUG, capacity=2, pool_size=2)  # full once Ada is in: no refill beside the cull
    pooled = set(filled(room).made)
    member = joined(room, "Ada")  # handed one of them: hers is an attendee's sandbox like any other
    hers = Sandbox.objects.get(attendee_id=member.attendee_id)
    Sandbox.objects.update(last_used_at=timezone.now() - timedelta(hours=3))
    report = sandbox_cull(idle_seconds=3600)
    assert report.culled == [hers.id.hex]
    assert managed_ids(local_backend) == pooled - {hers.id.hex}


def test_a_pool_sandbox_that_failed_to_be_made_leaves_nothing_behind(local_backend, monkeypatch):
    # A failing engine cannot be provoked on the LocalBackend: its ensure is made to fail once, after making
    # its folder, as a Docker ensure that dies half-way leaves a container behind.
    room = room_open(deck_slug=SLUG, capacity=1, pool_size=1)
    ensure = local_backend.ensure

    def half_made(**kwargs):
        ensure(**kwargs)
        raise SandboxError("the engine went away")

    monkeypatch.setattr(local_backend, "ensure", half_made)
    report = filled(room, backend=local_backend)
    assert list(report.failed.values()) == ["the engine went away"]
    monkeypatch.undo()
    again = filled(room, backend=local_backend)
    assert len(again.made) == 1 and again.failed == {}
    assert managed_ids(local_backend) == set(again.made)  # the half-made one is gone from the backend
    assert Sandbox.objects.count() == 1 and Attendee.objects.count() == 1  # and from the database


def test_closing_the_room_while_its_pool_is_being_filled_leaves_nothing(local_backend, monkeypatch):
    room = room_open(deck_slug=SLUG, pool_size=1)
    ensure = local_backend.ensure
    made, carry_on = threading.Event(), threading.Event()

    def slow(**kwargs):
        state = ensure(**kwargs)  # the sandbox exists; storing its state is still to come
        made.set()
        carry_on.wait(WAIT)
        return state

    monkeypatch.setattr(local_backend, "ensure", slow)
    fill = threading.Thread(target=lambda: (filled(room, backend=local_backend), connection.close()))
    fill.start()
    assert made.wait(WAIT)
    change = room_close(room=room)  # destroys the half-made sandbox by name
    assert change.failed == {} and managed_ids(local_backend) == set()
    carry_on.set()
    fill.join(WAIT)
    assert managed_ids(local_backend) == set()
    assert not Sandbox.objects.exists() and not Attendee.objects.exists()
