"""Idle reaping: sandboxes unused past the TTL are destroyed and marked gone; busy or recent ones stay."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from sandbox.cull import sandbox_cull
from sandbox.models import Run, Sandbox
from tests.sandbox.runs_support import attendee_with_sandbox, managed_ids, running_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("local_backend", "runs_deck")]


def idle_for(sandbox: Sandbox, seconds: int) -> None:
    Sandbox.objects.filter(id=sandbox.id).update(last_used_at=timezone.now() - timedelta(seconds=seconds))


def test_idle_sandbox_is_destroyed_and_marked_gone(local_backend, settings):
    settings.PODIUM_SANDBOX_IDLE_TTL = 600
    _, _, idle = attendee_with_sandbox(local_backend)
    _, _, recent = attendee_with_sandbox(local_backend)
    idle_for(idle, 601)
    idle_for(recent, 30)

    report = sandbox_cull()

    assert report.culled == [idle.id.hex] and report.failed == {}
    assert managed_ids(local_backend) == {recent.id.hex}
    idle.refresh_from_db()
    assert idle.status == Sandbox.Status.GONE and idle.state == {}
    recent.refresh_from_db()
    assert recent.status == Sandbox.Status.READY


def test_a_sandbox_with_a_running_run_is_never_culled(local_backend):
    _, attendee, busy = attendee_with_sandbox(local_backend)
    run = running_run(attendee, age=timedelta(seconds=5))
    Run.objects.filter(id=run.id).update(sandbox=busy)
    idle_for(busy, 10_000)

    assert sandbox_cull(idle_seconds=60).culled == []
    assert busy.id.hex in managed_ids(local_backend)


def test_cull_command_reports_what_it_removed(local_backend):
    _, _, idle = attendee_with_sandbox(local_backend)
    idle_for(idle, 120)
    out = StringIO()
    call_command("sandbox", "cull", "--idle", "60", stdout=out)
    assert "1 idle sandbox(es) removed." in out.getvalue()
    assert managed_ids(local_backend) == set()


def test_remove_all_takes_every_sandbox_busy_or_not(local_backend):
    # What an operator runs before taking a deployment down (deploy/kubernetes/README.md).
    _, attendee, busy = attendee_with_sandbox(local_backend)
    Run.objects.filter(id=running_run(attendee, age=timedelta(seconds=5)).id).update(sandbox=busy)
    _, _, idle = attendee_with_sandbox(local_backend)
    out = StringIO()
    call_command("sandbox", "remove-all", stdout=out)
    assert "2 sandbox(es) removed." in out.getvalue()
    assert managed_ids(local_backend) == set()
