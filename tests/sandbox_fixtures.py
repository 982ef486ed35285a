"""Fixtures of every test that runs code: the runs fixture deck, and the sandbox backend a test runs on.

Registered for the whole suite in tests/conftest.py (the sandbox and the rooms tests use them).
"""

from __future__ import annotations

import asyncio

import pytest

from sandbox.backends import backend_get
from tests.sandbox.runs_support import LOCAL, RUNS_DECKS, SECURITY, runs_settled, sandbox_states


@pytest.fixture
def runs_deck(settings):
    """The runs fixture deck, and runs executed inside the test process unless a test says otherwise."""
    settings.PODIUM_SLIDES_DIR = RUNS_DECKS
    settings.PODIUM_PRESENTER_TOKEN = ""
    settings.PODIUM_EMBEDDED_WORKER = True


@pytest.fixture
async def local_backend(settings, tmp_path, runs_deck):
    """The LocalBackend test double, its sandboxes in a folder of this test only.

    Afterwards every sandbox is destroyed (killing what still runs) and the
    run tasks still going are awaited, so nothing outlives the test.
    """
    settings.PODIUM_ENV = "test"
    settings.PODIUM_SANDBOX_BACKEND = LOCAL
    settings.PODIUM_LOCAL_SANDBOX_ROOT = str(tmp_path / "sandboxes")
    backend_get.cache_clear()
    backend = backend_get()
    yield backend
    for found in backend.list_managed():
        backend.destroy(state=found.state)
    await runs_settled()
    backend_get.cache_clear()


@pytest.fixture
async def docker_backend(settings):
    """The real DockerBackend for one test, in place of the LocalBackend (request it after `local_backend`).

    An engine or image that is missing fails the test with the backend's own sentence: CI starts both.
    Every sandbox the test made is destroyed afterwards.
    """
    settings.PODIUM_SANDBOX_BACKEND = "docker"
    settings.PODIUM_SANDBOX_SECURITY = SECURITY
    async for backend in _backend_in_use():
        yield backend


@pytest.fixture
async def kubernetes_backend(settings, cluster):
    """The real KubernetesBackend on the test cluster for one test (request it after `local_backend`).

    The workspace image is built on the node's engine and the registry mirror filled first (no-ops when
    done). Every sandbox the test made is destroyed afterwards.
    """
    from provision.registry import registry_fill
    from provision.workspace.build import workspace_image_build

    await asyncio.to_thread(workspace_image_build, progress=print)
    await asyncio.to_thread(registry_fill, progress=print)
    settings.PODIUM_SANDBOX_BACKEND = "kubernetes"
    settings.PODIUM_KUBECONFIG = str(cluster.kubeconfig)
    # Its Docker sidecar has no userns mode, and privileged containers fail on these machines.
    settings.PODIUM_SANDBOX_SECURITY = SECURITY.replace("userns", "") or "capabilities"
    settings.PODIUM_K8S_DOCKER = True
    async for backend in _backend_in_use():
        yield backend


async def _backend_in_use():
    """The configured backend, checked; afterwards every sandbox row's sandbox is destroyed."""
    backend_get.cache_clear()
    backend = backend_get()
    problem = await asyncio.to_thread(backend.check)
    if problem:
        pytest.fail(problem)
    yield backend
    for state in await sandbox_states():
        await asyncio.to_thread(backend.destroy, state=state)
    backend_get.cache_clear()
