"""After a restart: sandboxes found again, vanished ones marked gone, orphans removed, dead runs ended."""

from __future__ import annotations

import shutil
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from django.core.management import call_command
from django.utils import timezone

from sandbox.models import Run
from sandbox.reconcile import INTERRUPTED, LOST, sandbox_reconcile
from tests.sandbox.runs_support import attendee_with_sandbox, managed_ids, orphan, page, running_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("local_backend")]


def test_reconcile_marks_vanished_sandboxes_gone_and_removes_orphans(local_backend):
    _, _, kept = attendee_with_sandbox(local_backend)
    _, _, vanished = attendee_with_sandbox(local_backend)
    shutil.rmtree(vanished.state["path"])  # its container went away while the server was down
    stray = orphan(local_backend)
    assert managed_ids(local_backend) == {kept.id.hex, stray}

    report = sandbox_reconcile()

    assert report.gone == [vanished.id.hex] and report.removed == [stray] and not report.skipped
    kept.refresh_from_db()
    vanished.refresh_from_db()
    assert (kept.status, vanished.status) == ("ready", "gone")
    assert managed_ids(local_backend) == {kept.id.hex}
    assert Path(kept.state["path"]).is_dir()
    # A second pass finds nothing more to do.
    again = sandbox_reconcile()
    assert (again.gone, again.removed, again.interrupted) == ([], [], [])


def test_reconcile_ends_runs_a_dead_server_left_running(local_backend, settings):
    settings.PODIUM_RUN_TIMEOUT = 60
    _, attendee, _ = attendee_with_sandbox(local_backend)
    dead = running_run(attendee, age=timedelta(hours=1))
    live = running_run(attendee, age=timedelta(seconds=5))  # may still be executing somewhere

    report = sandbox_reconcile()

    assert report.interrupted == [str(dead.id)]
    dead.refresh_from_db()
    live.refresh_from_db()
    assert (dead.status, dead.error_message) == ("error", INTERRUPTED)
    assert dead.finished_at is not None and live.status == "running"


def test_the_reconcile_command_says_what_it_did(local_backend):
    _, _, vanished = attendee_with_sandbox(local_backend)
    shutil.rmtree(vanished.state["path"])
    orphan(local_backend)
    out = StringIO()
    call_command("sandbox", "reconcile", stdout=out)
    assert out.getvalue().strip() == "1 sandbox(es) marked gone, 1 orphan(s) removed, 0 interrupted run(s) ended."


async def test_a_gone_sandbox_is_created_again_on_the_next_run(local_backend):
    key, _, sandbox = await database_sync_to_async(attendee_with_sandbox)(local_backend)
    shutil.rmtree(sandbox.state["path"])
    await database_sync_to_async(sandbox_reconcile)()
    async with page(key) as me:
        end, _ = await me.run("echo back again")
        assert end["status"] == "ok" and me.text(end["run"]) == "back again\n"
        assert any(m["type"] == "sandbox.progress" for m in me.log)
    await database_sync_to_async(sandbox.refresh_from_db)()
    assert sandbox.status == "ready" and Path(sandbox.state["path"]).is_dir()  # noqa: ASYNC240


async def test_an_open_page_hears_that_its_run_was_interrupted(local_backend):
    key, attendee, _ = await database_sync_to_async(attendee_with_sandbox)(local_backend)
    dead = await database_sync_to_async(running_run)(attendee, age=timedelta(hours=1))
    async with page(key) as me:
        await database_sync_to_async(sandbox_reconcile)()
        end = await me.finished(str(dead.id))
        assert end["status"] == "error" and end["message"] == INTERRUPTED


async def test_a_worker_reconciles_when_it_starts(local_backend, sandbox_worker):
    key, attendee, _ = await database_sync_to_async(attendee_with_sandbox)(local_backend)
    dead = await database_sync_to_async(running_run)(attendee, age=timedelta(hours=1))
    stray = await database_sync_to_async(orphan)(local_backend)
    async with page(key) as me:
        end, _ = await me.run("echo first run of a fresh worker")
        assert end["status"] == "ok"
        assert (await me.finished(str(dead.id)))["status"] == "error"
    assert stray not in await database_sync_to_async(managed_ids)(local_backend)


def test_the_culler_ends_runs_whose_worker_stopped_beating_and_only_those(local_backend, settings):
    settings.PODIUM_RUN_BEAT_SECONDS = 5
    settings.PODIUM_RUNS_PER_ATTENDEE = 3
    _, attendee, _ = attendee_with_sandbox(local_backend)
    silent = running_run(attendee, age=timedelta(seconds=30))
    beating = running_run(attendee, age=timedelta(seconds=30))
    never_claimed = running_run(attendee, age=timedelta(seconds=30))
    Run.objects.filter(id=silent.id).update(beat_at=timezone.now() - timedelta(seconds=21))  # 4 beats and more
    Run.objects.filter(id=beating.id).update(beat_at=timezone.now() - timedelta(seconds=5))
    out = StringIO()

    call_command("sandbox", "cull", stdout=out)

    assert "1 run(s) whose worker stopped ended." in out.getvalue()
    statuses = dict(Run.objects.values_list("id", "status"))
    assert (statuses[silent.id], statuses[beating.id], statuses[never_claimed.id]) == ("error", "running", "running")
    assert Run.objects.get(id=silent.id).error_message == LOST
