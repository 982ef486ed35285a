"""Network isolation of Docker sandboxes (provision/firewall.py), proven with two real sandboxes.

Attendee A probes, from their workspace and from a container of their own inner engine, attendee B's
sandbox (which serves on two ports) and the host (test servers of our own on every address and on
loopback only, plus the host's :2024 and the kubelet's :10250 when they run). Each probe first shows
the target answers where it should (B from inside B, the host from the host), so a refusal from A is
the firewall's doing. Connect timeouts are 3 s and probes run at once.

The `firewall` fixture installs the rules as `sandbox prepare` does (root needed), with a kubeconfig
whose server is on this host's bridge gateway, so the Kubernetes API port is one of the allowed ones;
it removes them afterwards unless they were installed before. Everything else made here carries the
label podium.talk=pytest-isolation and a PODIUM_INSTANCE of its own, and is removed afterwards.
"""

from __future__ import annotations

import ipaddress

import pytest

from provision.images import image_for
from tests.cluster.helpers import cluster_wait_for, web_service
from tests.provision.isolation_helpers import (
    HOST_SERVICE_PORT,
    INNER_IMAGE,
    KUBE_API_PORT,
    KUBELET_PORT,
    POOL,
    RAW_SYN,
    connects,
    host_addresses,
    host_connects,
    listening,
    probe,
    probe_inner,
    run,
)

pytestmark = pytest.mark.docker


# --- attendee A against attendee B ------------------------------------------------------------------------


def test_a_cannot_connect_to_bs_workspace(backend, sandbox_a, sandbox_b) -> None:
    targets = [f"{sandbox_b.address}:{port}" for port in (8080, 8081, 22, 2375)]

    reached = probe(backend, sandbox_a, targets)

    assert [target for target, answer in reached.items() if answer == "open"] == [], reached


def test_a_container_inside_a_cannot_reach_b_or_the_host_but_reaches_the_mirror(
    backend, sandbox_a, sandbox_b, host
) -> None:
    mirror = f"{host.bridge_gateway}:5000"
    forbidden = [
        f"{sandbox_b.address}:8080",
        f"{sandbox_b.address}:8081",
        f"{host.bridge_gateway}:{host.everywhere_port}",
    ]

    reached = probe_inner(backend, sandbox_a, [mirror, *forbidden])

    assert reached[mirror] == "open", reached  # the inner container has a network: the firewall is what stops it
    assert [target for target in forbidden if reached[target] == "open"] == [], reached


# --- attendee A against the host --------------------------------------------------------------------------


def test_a_cannot_reach_the_hosts_services_on_any_of_its_addresses(backend, sandbox_a, host) -> None:
    assert host_connects(host.bridge_gateway, host.everywhere_port)  # the test's server answers the host itself
    addresses = {*host_addresses(), sandbox_a.gateway, host.bridge_gateway}
    ports = (host.everywhere_port, HOST_SERVICE_PORT)
    targets = [f"{address}:{port}" for address in sorted(addresses) for port in ports]
    targets.append(f"{host.bridge_gateway}:{KUBELET_PORT}")
    # A sandbox address no network has is routed out through eth0 (where some networks answer anything).
    unused = ipaddress.ip_network(POOL)[-2]  # in the pool's last /28, which no test run gets to
    targets += [f"{unused}:{port}" for port in ports]

    reached = probe(backend, sandbox_a, targets)

    assert [target for target, answer in reached.items() if answer == "open"] == [], reached


def test_a_cannot_reach_the_hosts_loopback_services_through_its_gateway(backend, sandbox_a, host) -> None:
    code, output = run(backend, sandbox_a, RAW_SYN + f"print(syn('127.0.0.1', {host.loopback_port}))", kind="python")

    assert code == 0, output
    assert output.strip().splitlines()[-1] in ("no answer", "reset")


def test_a_reaches_the_mirror_the_cluster_dns_and_the_kubernetes_api(backend, sandbox_a, host) -> None:
    code, output = run(
        backend,
        sandbox_a,
        f"curl -fsS --max-time 3 http://{host.bridge_gateway}:5000/v2/ && docker pull -q {INNER_IMAGE}",
    )
    assert code == 0, output
    assert f"docker.io/library/{INNER_IMAGE}" in output

    with listening(host.bridge_gateway, KUBE_API_PORT), listening(host.bridge_gateway, 53):
        reached = probe(backend, sandbox_a, [f"{host.bridge_gateway}:{KUBE_API_PORT}", f"{host.bridge_gateway}:53"])

    assert set(reached.values()) == {"open"}, reached


@pytest.mark.cluster
def test_a_cannot_reach_workloads_in_the_cluster(backend, sandbox_a, cluster, cluster_namespace) -> None:
    """Another attendee's app in the cluster (the Docker backend gives each attendee a namespace there) is out of
    reach: neither its Service's cluster IP (kube-proxy would translate and accept it) nor its pod's address."""
    web = web_service(cluster, cluster_namespace, image=image_for("python"), command=["python3", "-m", "http.server"])
    targets = [f"{web.cluster_ip}:80", f"{web.pod_address}:{web.port}"]
    # The way in works: from this host, both answer once kube-proxy has the Service's endpoint.
    cluster_wait_for(
        lambda: all(connects(target) for target in targets), what=f"{targets} answering from the host", timeout=60
    )

    reached = probe(backend, sandbox_a, targets)

    assert "open" not in reached.values(), reached
