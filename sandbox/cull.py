"""Idle reaping: sandboxes nobody used for a while are destroyed (JupyterHub's idle culler is the model).

Lifecycle policy lives here, apart from the backends: the policy is "no run
for PODIUM_SANDBOX_IDLE_TTL seconds and none running now". A culled sandbox's
row is marked gone, so the attendee's next run creates a fresh one; their runs
and outputs stay in the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from sandbox.admission import sandboxes_kept
from sandbox.backends import backend_get
from sandbox.backends.base import Backend, SandboxSpec
from sandbox.errors import SandboxError
from sandbox.models import Run, Sandbox


@dataclass
class CullReport:
    """Which sandboxes were destroyed, and which could not be (with the reason)."""

    culled: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def sandboxes_idle(*, idle_seconds: int | None = None) -> list[Sandbox]:
    """Sandboxes unused for `idle_seconds` (default PODIUM_SANDBOX_IDLE_TTL) with no run queued or running."""
    ttl = settings.PODIUM_SANDBOX_IDLE_TTL if idle_seconds is None else idle_seconds
    cutoff = timezone.now() - timedelta(seconds=ttl)
    busy = Run.objects.filter(status__in=[Run.Status.QUEUED, Run.Status.RUNNING]).values("sandbox_id")
    return list(
        Sandbox.objects.filter(last_used_at__lt=cutoff)
        .exclude(status=Sandbox.Status.GONE)
        .exclude(id__in=busy)
        .exclude(id__in=sandboxes_kept())  # e.g. a room's warm pool (sandbox.admission)
        .select_related("attendee")
    )


def sandbox_cull(*, idle_seconds: int | None = None, backend: Backend | None = None) -> CullReport:
    """Destroy every idle sandbox (blocking: call it in a thread) and mark its row gone."""
    return sandboxes_destroy(sandboxes=sandboxes_idle(idle_seconds=idle_seconds), backend=backend)


def sandboxes_destroy(*, sandboxes: list[Sandbox], backend: Backend | None = None) -> CullReport:
    """Destroy these sandboxes (blocking: call it in a thread) and mark their rows gone; the attendee's next
    run makes a fresh one. One that cannot be destroyed is reported, and the others are still destroyed."""
    report = CullReport()
    if not sandboxes:
        return report
    backend = backend or backend_get()
    for sandbox in sandboxes:
        try:
            backend.destroy(state=_state_to_destroy(sandbox, backend))
        except SandboxError as error:
            report.failed[sandbox.id.hex] = str(error)
            continue
        Sandbox.objects.filter(id=sandbox.id).update(status=Sandbox.Status.GONE, state={})
        report.culled.append(sandbox.id.hex)
    return report


def sandboxes_remove_all(*, backend: Backend | None = None) -> CullReport:
    """Destroy every sandbox of this install, busy or not (blocking): what `sandbox cull` does on its way out
    with PODIUM_SANDBOXES_ON_STOP=remove, so that stopping Podium leaves none of its sandboxes behind. Rows are
    marked gone (runs, progress and rooms stay); sandboxes no row knows are destroyed too."""
    backend = backend or backend_get()
    report = sandboxes_destroy(sandboxes=list(Sandbox.objects.exclude(status=Sandbox.Status.GONE)), backend=backend)
    for found in backend.list_managed():
        try:
            backend.destroy(state=found.state)
        except SandboxError as error:
            report.failed[found.sandbox_id] = str(error)
        else:
            report.culled.append(found.sandbox_id)
    return report


def _state_to_destroy(sandbox: Sandbox, backend: Backend) -> dict:
    """The sandbox's stored state, plus (for one of this backend's) the names its parts would have: a sandbox
    still being created has no state stored yet, but may have a container, network or namespace already."""
    if sandbox.backend != backend.name:
        return sandbox.state or {}
    spec = SandboxSpec(sandbox_id=sandbox.id.hex, attendee_id=sandbox.attendee_id.hex, talk="")
    return {**backend.state_by_name(spec=spec), **(sandbox.state or {})}
