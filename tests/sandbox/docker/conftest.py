"""Fixtures of the DockerBackend tests: the prepared engine, a backend configured for this machine, sandboxes."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from sandbox.backends.base import SandboxSpec
from sandbox.backends.docker import DockerBackend
from tests.docker_helpers import docker_remove_labelled
from tests.sandbox.docker.helpers import TALK, config_for, spec_new


@pytest.fixture(scope="module")
def prepared(docker_client, base_images) -> Iterator[None]:
    """Workspace image built, local mirror filled; leftovers removed after."""
    from provision.registry import registry_fill
    from provision.workspace.build import workspace_image_build

    workspace_image_build(progress=print)
    registry_fill(progress=print)
    try:
        yield
    finally:
        docker_remove_labelled(docker_client, label=f"podium.talk={TALK}")


@pytest.fixture(scope="module")
def backend(prepared) -> DockerBackend:
    return DockerBackend(config=config_for())


@pytest.fixture(scope="module")
def shared(backend) -> Iterator[dict]:
    """One sandbox most tests share (each leaves it as it found it)."""
    state = backend.ensure(spec=spec_new(), state={}, progress=lambda message: None)
    yield state
    backend.destroy(state=state)


@pytest.fixture(scope="module")
def other(backend) -> Iterator[dict]:
    """A second attendee's sandbox."""
    state = backend.ensure(spec=spec_new(), state={}, progress=lambda message: None)
    yield state
    backend.destroy(state=state)


@pytest.fixture
def make_sandbox(backend, docker_client) -> Iterator[Callable[..., tuple[SandboxSpec, dict]]]:
    """Creates sandboxes for one test (with other limits, by SandboxLimits field); all destroyed afterwards."""
    made: list[dict] = []

    def make(**limits) -> tuple[SandboxSpec, dict]:
        spec = spec_new()
        state = DockerBackend(config=config_for(**limits)).ensure(spec=spec, state={}, progress=lambda message: None)
        made.append(state)
        return spec, state

    yield make
    for state in made:
        backend.destroy(state=state)
