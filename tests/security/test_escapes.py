"""Escape attempts from inside real sandboxes, per security mode (issue 10, section 2).

One `python` run of escape_probe.py per mode, as the attendee's code runs, then one test per attempt.
userns (the default) must block every attempt. capabilities must show the escapes that make it host
root, so the suite proves it can see them: an attempt is never weakened to make a row pass.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sandbox.errors import SandboxError
from tests.provision.isolation_helpers import run
from tests.security import table
from tests.security.conftest import backend_for, sandbox_new

pytestmark = [pytest.mark.docker, pytest.mark.cluster, pytest.mark.slow]

PROBE = (Path(__file__).parent / "escape_probe.py").read_text()
# What makes capabilities mode host root on these machines; each must show as possible there. Not mknod:
# there even after the attempt allows the disk in its own devices.allow (v1), the open is refused (EPERM),
# as by a device filter on the cgroup v2 ("unified") side, which this attempt does not touch.
CAP_SYS_ADMIN = 21
CAPABILITIES_ESCAPES = {"caps", "core_pattern", "sysctl", "release_agent", "cgroup_other", "module"}


@pytest.fixture(scope="session")
def attempts(room, host_targets) -> dict[str, list[str]]:
    """{attempt: [status, detail]} from the attacker's sandbox of `room`'s mode."""
    params = {
        "victim_container_id": room.victim_container_id,
        "host_disk": host_targets.disk,
        "host_marker": host_targets.marker,
        "host_engine_id": host_targets.engine_id,
        "host_addresses": host_targets.addresses,
        "podium_targets": host_targets.podium_targets,
        "victim_targets": [f"{room.victim.address}:{port}" for port in (22, 80, 2375, 8080)]
        + [f"{room.victim.gateway}:{port}" for port in (22, 2375)],
    }
    code, output = run(room.backend, room.attacker, f"PARAMS = {params!r}\n{PROBE}", kind="python")
    assert code == 0, output
    results = json.loads(output.strip().splitlines()[-1])
    for attempt in table.ESCAPES:
        status, detail = results.get(attempt, ["error", "the probe reported nothing"])
        table.record(attempt, room.mode, f"**{status}**: {detail}" if status == "possible" else f"{status}: {detail}")
    return results


@pytest.mark.parametrize("attempt", list(table.ESCAPES))
def test_escape_attempt(room, attempts, attempt) -> None:
    status, detail = attempts.get(attempt, ["error", "the probe reported nothing"])
    if room.mode == "userns":
        assert status in ("blocked", "absent"), f"{table.ESCAPES[attempt]}: {status}: {detail}"
    elif room.mode == "capabilities":
        expected = ("possible",) if attempt in CAPABILITIES_ESCAPES else ("blocked", "absent")
        if attempt == "sysrq":
            expected = ("possible", "absent")  # host root opens it wherever the kernel has it
        assert status in expected, f"{table.ESCAPES[attempt]}: {status}: {detail}"
    else:  # privileged: host root by design, where it runs at all
        assert status != "error", detail


def test_kubectl_works_in_the_attendees_own_namespace(room, attempts) -> None:
    status, detail = attempts["kube_own"]
    assert status == "possible", f"kubectl get pods in the attendee's namespace failed: {detail}"


def test_the_attendees_root_is_an_unprivileged_host_uid_of_this_sandbox(rooms, docker_client) -> None:
    room = rooms("userns")
    code, output = run(room.backend, room.attacker, "sleep 0.1; cat /proc/self/uid_map; touch /workshop/owned")
    assert code == 0, output
    bases = [sandbox.state["userns_base"] for sandbox in (room.attacker, room.victim)]
    assert min(bases) >= 100000 and bases[0] != bases[1], bases  # a host uid range of each sandbox's own
    container = docker_client.containers.get(room.attacker.state["container"])
    owner = container.exec_run(["stat", "-c", "%u", "/workshop/owned"]).output.decode().strip()
    assert owner == str(bases[0])


def test_privileged_mode_is_host_root_or_refused_by_the_host(host_targets, docker_client, cluster) -> None:
    backend = backend_for("privileged", cluster)
    try:
        sandbox = sandbox_new(backend, docker_client)
    except SandboxError as error:
        # Hosts without CAP_SYS_RESOURCE (these test machines) make runc itself refuse --privileged.
        assert "unable to apply caps" in str(error), error
        table.mode_not_runnable("privileged", str(error).splitlines()[0][:160])
        return
    try:
        code, output = run(backend, sandbox, "cat /proc/self/uid_map; grep CapEff /proc/self/status")
        assert code == 0, output
        uid_map = output.split()[:3]
        sys_admin = bool(int(output.split("CapEff:")[1].split()[0], 16) & (1 << CAP_SYS_ADMIN))
        assert uid_map == ["0", "0", "4294967295"] and sys_admin, output  # host root, by design
        table.record("caps", "privileged", f"**possible**: uid_map {' '.join(uid_map)}, CAP_SYS_ADMIN held")
    finally:
        backend.destroy(state=sandbox.state)
