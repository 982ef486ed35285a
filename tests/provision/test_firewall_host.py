"""The sandbox firewall on this host's iptables (provision/firewall.py): the host's own containers are left
alone, applying again changes nothing, Podium's rules stay first, and `sandbox prepare` installs them.

The `firewall` fixture (conftest.py) installs the rules as `sandbox prepare` does (root needed) and
removes them afterwards unless they were installed before.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import override_settings

from provision.firewall import (
    CHAIN_FORWARD,
    CHAIN_INPUT,
    firewall_apply,
    firewall_installed,
    firewall_keep_first,
    firewall_remove,
)
from provision.images import image_for
from tests.provision.isolation_helpers import (
    DOCKERS_OWN_JUMPS,
    POOL,
    PROBE,
    TALK,
    first_rule,
    iptables_listing,
    iptables_podium,
)

pytestmark = pytest.mark.docker


# --- the host's own containers, and applying again -------------------------------------------------------


def test_the_hosts_own_containers_are_left_alone(docker_client, firewall, host) -> None:

    target = f"{host.bridge_gateway}:{host.everywhere_port}"
    output = docker_client.containers.run(
        image_for("python"),
        ["python", "-c", PROBE + f"print(json.dumps(probe([{target!r}])))"],
        remove=True,
        labels={"podium.talk": TALK},
    )

    assert json.loads(output.decode().strip().splitlines()[-1]) == {target: "open"}


def test_applying_the_rules_again_changes_nothing(firewall) -> None:
    with override_settings(PODIUM_KUBECONFIG=str(firewall), PODIUM_K8S_SERVER=""):
        firewall_apply(progress=print)  # whatever inserted rules since the fixture applied them (kube-proxy does)
        before = iptables_podium()
        firewall_apply(progress=print)

    assert iptables_podium() == before
    assert [line for line in before if line.endswith(f"-j {CHAIN_INPUT}")] == [f"-A INPUT -s {POOL} -j {CHAIN_INPUT}"]
    assert sorted(line for line in before if line.endswith(f"-j {CHAIN_FORWARD}")) == [
        f"-A DOCKER-USER -s {POOL} -j {CHAIN_FORWARD}",
        f"-A FORWARD -s {POOL} -j {CHAIN_FORWARD}",
    ]
    # First where they are, so no earlier rule accepts a sandbox's packet.
    assert first_rule("INPUT") == f"-A INPUT -s {POOL} -j {CHAIN_INPUT}"
    assert first_rule("DOCKER-USER") == f"-A DOCKER-USER -s {POOL} -j {CHAIN_FORWARD}"


@pytest.fixture
def rules_inserted_above() -> Iterator[list[list[str]]]:
    """Rules another tool inserts at the top of INPUT and FORWARD after Podium's (as kube-proxy does on its first
    sync); they accept nothing (a port no one uses), and are deleted again afterwards."""
    foreign = [
        ["INPUT", "-p", "udp", "-m", "udp", "--dport", "9", "-m", "comment", "--comment", "podium test: foreign",
         "-j", "RETURN"],
        ["FORWARD", "-p", "udp", "-m", "udp", "--dport", "9", "-m", "comment", "--comment", "podium test: foreign",
         "-j", "RETURN"],
    ]  # fmt: skip
    for rule in foreign:
        subprocess.run(["iptables", "-w", "-I", rule[0], "1", *rule[1:]], check=True)
    try:
        yield foreign
    finally:
        for rule in foreign:
            subprocess.run(["iptables", "-w", "-D", *rule], check=False)


@pytest.mark.django_db
def test_rules_another_tool_inserts_above_podiums_are_put_back_below(firewall, rules_inserted_above) -> None:
    assert first_rule("INPUT").startswith("-A INPUT -p udp")
    said: list[str] = []

    with override_settings(PODIUM_SANDBOX_FIREWALL=True):
        call_command("sandbox", "cull", stdout=StringIO())  # each pass of the culler keeps the firewall first
        moved = firewall_keep_first(progress=said.append)

    assert first_rule("INPUT") == f"-A INPUT -s {POOL} -j {CHAIN_INPUT}"
    # Docker's own jumps may stay on top (it puts them back there with every new network); nothing else.
    forward = [line for line in iptables_listing("FORWARD") if line not in DOCKERS_OWN_JUMPS]
    assert forward[0] == f"-A FORWARD -s {POOL} -j {CHAIN_FORWARD}"
    assert forward[1].startswith("-A FORWARD -p udp")  # the other tool's rule is kept, below Podium's
    assert moved == [] and said == []  # already in order: nothing to do the second time
    assert len([line for line in iptables_podium() if line.endswith(f"-j {CHAIN_INPUT}")]) == 1


def test_sandbox_prepare_installs_the_rules(firewall) -> None:
    """Last in the module: takes the rules away and lets `manage.py sandbox prepare` put them back."""
    installed = iptables_podium()
    firewall_remove(progress=print)
    assert not firewall_installed()
    out = StringIO()

    with override_settings(PODIUM_SANDBOX_FIREWALL=True, PODIUM_KUBECONFIG=str(firewall), PODIUM_K8S_SERVER=""):
        call_command("sandbox", "prepare", "--offline", stdout=out)

    assert "sandbox firewall: sandboxes in" in out.getvalue()
    assert iptables_podium() == installed
