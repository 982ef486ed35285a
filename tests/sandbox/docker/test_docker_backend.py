"""DockerBackend against the real engine: workspace containers with their own Docker engine inside.

Every sandbox made here carries the label podium.talk=pytest-docker-backend and is removed after its
test (or module), pass or fail. The workspace image is built (cached) and the local registry mirror
filled before the first test (conftest.py); both are no-ops when already done.

Creating, inventory, reset and destroy, and `check`; runs are in test_docker_backend_runs.py, the
limits in test_docker_backend_limits.py.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

import docker.errors
import pytest

from sandbox.backends import runner
from sandbox.backends.config import DockerConfig
from sandbox.backends.docker import DockerBackend
from sandbox.errors import SandboxLimitReached, SandboxNotFound
from tests.docker_helpers import docker_remove_labelled
from tests.sandbox.backend_runs import run
from tests.sandbox.docker.helpers import (
    TALK,
    config_for,
    spec_new,
)

pytestmark = pytest.mark.docker


# --- creating ---------------------------------------------------------------------------------------------


def test_ensure_creates_a_labelled_sandbox_and_is_idempotent(backend, docker_client):
    spec = spec_new()
    messages: list[str] = []
    state = backend.ensure(spec=spec, state={}, progress=messages.append)
    try:
        assert "Starting the Docker engine inside your sandbox…" in messages
        assert messages[-1] == "Your sandbox is ready."
        container = docker_client.containers.get(state["container"])
        assert container.status == "running"
        assert container.labels["podium.sandbox"] == spec.sandbox_id
        assert container.labels["podium.attendee"] == spec.attendee_id
        assert container.labels["podium.talk"] == TALK
        assert container.labels["podium.managed"] == "1"
        network = docker_client.networks.get(state["network"])
        assert network.attrs["Labels"]["podium.sandbox"] == spec.sandbox_id
        assert list(network.attrs["Containers"]) == [container.id]  # a network of its own
        assert docker_client.volumes.get(state["volume"]).attrs["Labels"]["podium.sandbox"] == spec.sandbox_id
        assert backend.poll(state=state) is None

        again: list[str] = []
        assert backend.ensure(spec=spec, state=state, progress=again.append) == state
        assert again == []
        # a server that lost the state finds the same container again
        assert backend.ensure(spec=spec, state={}, progress=again.append)["container_id"] == state["container_id"]
    finally:
        backend.destroy(state=state)


def test_a_stopped_sandbox_starts_again_with_its_files(backend, docker_client, make_sandbox):
    spec, state = make_sandbox()
    assert run(backend, state, "echo kept > /root/note.txt").result.exit_code == 0
    docker_client.containers.get(state["container"]).stop(timeout=1)
    assert backend.poll(state=state) == "exited"

    state = backend.ensure(spec=spec, state=state, progress=lambda message: None)

    assert backend.poll(state=state) is None
    ran = run(backend, state, "cat /root/note.txt; docker info --format '{{.ServerVersion}}'")
    assert ran.result.exit_code == 0
    assert ran.output.startswith("kept\n")


def test_the_workspace_has_the_material_and_the_tools(backend, shared):
    ran = run(
        backend,
        shared,
        "pwd; ls /workshop/sample_app/Dockerfile; docker-compose version --short; kubectl version --client >/dev/null;"
        " curl --version >/dev/null; mysql --version >/dev/null; python3 --version",
    )
    assert ran.result.exit_code == 0, ran.output
    assert ran.output.startswith("/workshop\n/workshop/sample_app/Dockerfile\n")


def test_no_more_sandboxes_than_the_setting_allows(backend, docker_client, prepared):
    existing = len(docker_client.containers.list(all=True, filters={"label": "podium.managed=1"}))
    limited = DockerBackend(config=replace(backend.config, max_sandboxes=existing))
    with pytest.raises(SandboxLimitReached) as caught:
        limited.ensure(spec=spec_new(), state={}, progress=lambda message: None)
    assert f"maximum of {existing} sandboxes" in caught.value.user_message


# --- inventory, reset, destroy ------------------------------------------------------------------------------


def test_list_managed_finds_sandboxes_by_their_labels(backend, shared, other):
    found = {sandbox.state.get("container_id") for sandbox in backend.list_managed()}
    assert {shared["container_id"], other["container_id"]} <= found


def test_reset_gives_a_fresh_sandbox(backend, make_sandbox):
    spec, state = make_sandbox()
    run(backend, state, "touch /root/old-file; cd /tmp")

    fresh = backend.reset(spec=spec, state=state, progress=lambda message: None)

    assert fresh["container_id"] != state["container_id"]
    assert (
        run(backend, fresh, "pwd; test -e /root/old-file && echo present || echo absent").output
        == "/workshop\nabsent\n"
    )
    backend.destroy(state=fresh)


def test_destroy_removes_container_network_and_volume(backend, docker_client, prepared):
    spec = spec_new()
    state = backend.ensure(spec=spec, state={}, progress=lambda message: None)
    run(backend, state, "docker run -d --name web python:3.11-slim sleep 300")

    backend.destroy(state=state)

    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(state["container"])
    with pytest.raises(docker.errors.NotFound):
        docker_client.networks.get(state["network"])
    with pytest.raises(docker.errors.NotFound):
        docker_client.volumes.get(state["volume"])
    assert backend.poll(state=state) == "missing"
    assert spec.sandbox_id not in {sandbox.sandbox_id for sandbox in backend.list_managed()}
    backend.destroy(state=state)  # idempotent
    with pytest.raises(SandboxNotFound):
        run(backend, state, "echo hello")


# --- check ----------------------------------------------------------------------------------------------------


def test_check_passes_when_engine_and_image_are_there(backend):
    assert backend.check() is None


def test_check_names_a_missing_image_and_the_fix(backend):
    problem = DockerBackend(config=replace(backend.config, image="podium/absent-workspace:0")).check()
    assert "podium/absent-workspace:0 is not built yet" in problem
    assert "manage.py sandbox prepare" in problem


def test_check_names_a_wrong_security_setting(backend):
    problem = DockerBackend(config=replace(backend.config, security="root")).check()
    assert problem == "PODIUM_SANDBOX_SECURITY='root' is not one of userns, privileged, capabilities, sysbox."


def test_check_without_an_engine_says_how_to_start_one(monkeypatch, prepared):
    monkeypatch.setenv("DOCKER_HOST", "unix:///tmp/podium-no-engine-here.sock")
    problem = DockerBackend(config=config_for()).check()
    assert problem.startswith("No Docker engine answers at unix:///tmp/podium-no-engine-here.sock")
    assert "scripts/docker-up.sh" in problem


def test_list_managed_sees_only_this_install(docker_client, base_images):
    """Two Podium installs on one engine: reconciling one never lists (and so never removes) the other's sandboxes."""
    mine, theirs = uuid.uuid4().hex, uuid.uuid4().hex
    tag = f"podium.test={uuid.uuid4().hex}"
    try:
        for sandbox_id, instance in ((mine, "this-install"), (theirs, "other-install")):
            docker_client.containers.create(
                base_images["python"],
                ["true"],
                labels={
                    "podium.managed": "1",
                    "podium.instance": instance,
                    "podium.sandbox": sandbox_id,
                    tag.split("=")[0]: tag.split("=")[1],
                },
            )
        this_install = DockerBackend(config=replace(DockerConfig.from_settings(), instance="this-install"))
        listed = {found.sandbox_id for found in this_install.list_managed()}
        assert mine in listed
        assert theirs not in listed
    finally:
        docker_remove_labelled(docker_client, label=tag)


def test_describe_says_how_to_enter_and_remove_a_sandbox(backend):
    spec = spec_new()
    about = backend.describe(state=backend.state_by_name(spec=spec))
    names = backend.state_by_name(spec=spec)
    shell = " ".join(runner.as_attendee(["bash"], security=backend.config.security))  # userns: podium-enter bash
    assert about.enter == f"docker exec -it {names['container']} {shell}"
    assert about.remove == (
        f"docker rm -f {names['container']} && docker network rm {names['network']} && "
        f"docker volume rm {names['volume']}"
    )
    assert (about.engine, about.namespace) == (True, "")
