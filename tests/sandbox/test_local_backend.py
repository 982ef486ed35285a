"""The LocalBackend test double: never loaded outside tests, where it would run code without isolation."""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from sandbox.backends import backend_get
from sandbox.backends.base import RunRequest, SandboxSpec
from sandbox.backends.local import LocalBackend
from sandbox.errors import SandboxNotFound
from tests.sandbox.runs_support import LOCAL


def test_the_local_backend_refuses_to_load_outside_tests(settings):
    settings.PODIUM_ENV = "development"
    with pytest.raises(ImproperlyConfigured, match="no isolation.*PODIUM_ENV=test"):
        LocalBackend()
    settings.PODIUM_SANDBOX_BACKEND = LOCAL
    backend_get.cache_clear()
    try:
        with pytest.raises(ImproperlyConfigured, match="PODIUM_ENV=test"):
            backend_get()
    finally:
        backend_get.cache_clear()


def test_a_run_starting_while_its_sandbox_is_removed_finds_it_gone_and_leaves_nothing(settings, tmp_path):
    # The race a reset makes (CI flake of test_reset_gives_a_fresh_sandbox): the sandbox was there when the
    # run looked, and its folder is gone when the run writes its pid. As with a container removed under a
    # starting exec, the run ends with SandboxNotFound (a reset turns that into "cancelled").
    settings.PODIUM_ENV = "test"
    settings.PODIUM_LOCAL_SANDBOX_ROOT = str(tmp_path)
    backend = LocalBackend()
    spec = SandboxSpec(sandbox_id=uuid.uuid4().hex, attendee_id=uuid.uuid4().hex, talk="t")
    state = backend.ensure(spec=spec, state={}, progress=print)
    shutil.rmtree(Path(state["path"]) / "runs")  # removed half way, as rmtree does
    marker = tmp_path / "still-running"
    request = RunRequest(
        run_id="r1", kind="shell", code=f"sleep 2; touch {marker}", options={}, timeout=10, output_cap=1000
    )
    with pytest.raises(SandboxNotFound, match="removed while run r1 started"):
        backend.execute(state=state, request=request, on_output=lambda stream, data: None, should_stop=lambda: False)
    time.sleep(2.5)
    assert not marker.exists()  # the started process was killed, not left behind
