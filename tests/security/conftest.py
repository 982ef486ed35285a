"""Fixtures of the attack suite: the host's targets, and per security mode two attendees' real sandboxes.

The escape and abuse tests run in every mode of `table.RUN_MODES`, and a sandbox that fails to start
there fails the suite. `privileged` has one test of its own (test_escapes.py): host root where the
host runs it, or refused by the host itself (these test machines), which the table records.
The table is printed at the end of the session and written to tests/artifacts/security-table.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import pytest
from django.test import override_settings

from sandbox.backends.base import SandboxSpec
from sandbox.backends.config import DockerConfig
from sandbox.backends.docker import DockerBackend
from sandbox.backends.docker_spec import SandboxLimits
from tests.conftest import ROOT
from tests.docker_helpers import docker_remove_labelled
from tests.provision.isolation_helpers import Sandbox, host_addresses, run, tcp_server
from tests.security import table

INSTANCE = f"pytest-security-{uuid.uuid4().hex[:8]}"
TALK = "pytest-security"
# A small soft disk limit, checked often, so the disk-fill attempt meets it within seconds.
LIMITS = SandboxLimits(disk="1g", disk_check_seconds=2)


@dataclass(frozen=True)
class HostTargets:
    """What the attempts aim at on the host."""

    marker: str  # in the command line of a process on the host
    engine_id: str  # the host Docker engine's ID
    disk: str  # major:minor of the host's disk
    addresses: list[str]
    podium_targets: list[str]  # host servers standing in for Podium's ports, on every host address


@dataclass(frozen=True)
class Room:
    """One security mode's backend, an attacker's sandbox and a victim's sandbox."""

    mode: str
    backend: DockerBackend
    attacker: Sandbox
    victim: Sandbox
    victim_container_id: str


@pytest.fixture(scope="session")
def host_targets(docker_client, base_images, cluster) -> Iterator[HostTargets]:
    """Workspace image built, the sandbox firewall installed as `sandbox prepare` does, host stand-ins running."""
    from provision.firewall import firewall_apply, firewall_installed, firewall_remove
    from provision.workspace.build import workspace_image_build

    workspace_image_build(progress=print)
    installed_before = firewall_installed()
    with override_settings(PODIUM_KUBECONFIG=str(cluster.kubeconfig)):
        firewall_apply(progress=print)
    marker = f"podium-security-marker-{uuid.uuid4().hex}"
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)", marker])
    device = os.stat("/var/lib/docker").st_dev
    try:
        with tcp_server("0.0.0.0") as everywhere, tcp_server("127.0.0.1") as loopback:
            addresses = host_addresses()
            yield HostTargets(
                marker=marker,
                engine_id=docker_client.info()["ID"],
                disk=f"{os.major(device)}:{os.minor(device)}",
                addresses=addresses,
                podium_targets=[f"{a}:{everywhere}" for a in addresses] + [f"{a}:{loopback}" for a in addresses],
            )
    finally:
        process.kill()
        if not installed_before:
            firewall_remove(progress=print)
        docker_remove_labelled(docker_client, label=f"podium.instance={INSTANCE}")


def sandbox_new(backend: DockerBackend, docker_client) -> Sandbox:
    """A new attendee's sandbox in `backend`'s mode, with its address on its private network."""
    spec = SandboxSpec(sandbox_id=uuid.uuid4().hex, attendee_id=uuid.uuid4().hex, talk=TALK, instance=INSTANCE)
    state = backend.ensure(spec=spec, state={}, progress=lambda message: None)
    network = docker_client.api.inspect_container(state["container"])["NetworkSettings"]["Networks"][state["network"]]
    return Sandbox(state=state, address=network["IPAddress"], gateway=network["Gateway"])


def backend_for(mode: str, cluster) -> DockerBackend:
    config = DockerConfig.from_settings()
    return DockerBackend(
        config=replace(
            config,
            security=mode,
            instance=INSTANCE,
            limits=LIMITS,
            cluster=replace(config.cluster, kubeconfig=str(cluster.kubeconfig), server=""),
        )
    )


@pytest.fixture(scope="session")
def rooms(host_targets, docker_client, cluster) -> Iterator[Callable[[str], Room]]:
    """`rooms(mode)`: two attendees in one security mode, made on first use and kept for the session."""
    made: dict[str, Room] = {}

    def room_in(mode: str) -> Room:
        if mode not in made:
            backend = backend_for(mode, cluster)
            victim = sandbox_new(backend, docker_client)
            attacker = sandbox_new(backend, docker_client)
            made[mode] = Room(
                mode, backend, attacker, victim, docker_client.api.inspect_container(victim.state["container"])["Id"]
            )
            code, output = run(backend, victim, "echo mine > /workshop/victim.txt")
            assert code == 0, output
        return made[mode]

    try:
        yield room_in
    finally:
        for room in made.values():
            for sandbox in (room.attacker, room.victim):
                room.backend.destroy(state=sandbox.state)


@pytest.fixture(scope="session", params=table.RUN_MODES)
def room(request, rooms) -> Room:
    """Two attendees in each security mode the suite attacks."""
    return rooms(request.param)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """The attack table, after everything else the session prints; also tests/artifacts/security-table.md."""
    if not table.CELLS:
        return
    terminalreporter.section("attack table (tests/security)")
    terminalreporter.write_line(table.markdown())
    table.write(ROOT / "tests" / "artifacts" / "security-table.md")
