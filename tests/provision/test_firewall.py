"""The sandbox firewall's rules, as pure lists: what a sandbox may reach on the host, and what it may not."""

from __future__ import annotations

import pytest

from provision.firewall import HostService, firewall_rules, kubeconfig_server, restore_input, url_endpoint

POOL = "10.210.0.0/16"
MIRROR = HostService("tcp", "172.17.0.1", 5000, "registry mirror")
DNS = [HostService("udp", "172.17.0.1", 53, "cluster DNS"), HostService("tcp", "172.17.0.1", 53, "cluster DNS")]
API = HostService("tcp", "172.17.0.1", 6443, "Kubernetes API")


def comment(why: str) -> list[str]:
    return ["-m", "comment", "--comment", f"podium: {why}"]


def test_sandboxes_reach_only_the_allowed_host_services_and_no_other_sandbox() -> None:
    rules = firewall_rules(subnets=[POOL], allowed=[*DNS, MIRROR, API])

    assert rules == [
        ["-A", "PODIUM-SANDBOX-INPUT", "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", *comment("replies"),
         "-j", "ACCEPT"],
        ["-A", "PODIUM-SANDBOX-INPUT", "-d", "172.17.0.1/32", "-p", "udp", "-m", "udp", "--dport", "53",
         *comment("cluster DNS"), "-j", "ACCEPT"],
        ["-A", "PODIUM-SANDBOX-INPUT", "-d", "172.17.0.1/32", "-p", "tcp", "-m", "tcp", "--dport", "53",
         *comment("cluster DNS"), "-j", "ACCEPT"],
        ["-A", "PODIUM-SANDBOX-INPUT", "-d", "172.17.0.1/32", "-p", "tcp", "-m", "tcp", "--dport", "5000",
         *comment("registry mirror"), "-j", "ACCEPT"],
        ["-A", "PODIUM-SANDBOX-INPUT", "-d", "172.17.0.1/32", "-p", "tcp", "-m", "tcp", "--dport", "6443",
         *comment("Kubernetes API"), "-j", "ACCEPT"],
        ["-A", "PODIUM-SANDBOX-INPUT", *comment("nothing else on this host"), "-j", "DROP"],
        ["-A", "PODIUM-SANDBOX-FORWARD", "-d", POOL, *comment("no sandbox reaches another"), "-j", "DROP"],
        ["-A", "PODIUM-SANDBOX-FORWARD", "-d", "169.254.0.0/16", *comment("no link-local services"), "-j", "DROP"],
        ["-A", "PODIUM-SANDBOX-FORWARD", "-m", "conntrack", "--ctstate", "DNAT",
         *comment("no Service or published port"), "-j", "DROP"],
        ["-A", "INPUT", "-s", POOL, "-j", "PODIUM-SANDBOX-INPUT"],
        ["-A", "DOCKER-USER", "-s", POOL, "-j", "PODIUM-SANDBOX-FORWARD"],
        ["-A", "FORWARD", "-s", POOL, "-j", "PODIUM-SANDBOX-FORWARD"],
    ]  # fmt: skip


def test_without_allowed_services_only_replies_pass_to_the_host() -> None:
    rules = firewall_rules(subnets=[POOL], allowed=[])

    input_rules = [rule for rule in rules if rule[1] == "PODIUM-SANDBOX-INPUT"]
    assert input_rules == [
        ["-A", "PODIUM-SANDBOX-INPUT", "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", *comment("replies"),
         "-j", "ACCEPT"],
        ["-A", "PODIUM-SANDBOX-INPUT", *comment("nothing else on this host"), "-j", "DROP"],
    ]  # fmt: skip


def test_every_subnet_is_jumped_from_and_kept_from_the_others() -> None:
    rules = firewall_rules(subnets=["10.210.0.0/16", "10.220.0.0/24"], allowed=[MIRROR])

    assert [rule for rule in rules if rule[1] in ("INPUT", "DOCKER-USER", "FORWARD")] == [
        ["-A", "INPUT", "-s", "10.210.0.0/16", "-j", "PODIUM-SANDBOX-INPUT"],
        ["-A", "DOCKER-USER", "-s", "10.210.0.0/16", "-j", "PODIUM-SANDBOX-FORWARD"],
        ["-A", "FORWARD", "-s", "10.210.0.0/16", "-j", "PODIUM-SANDBOX-FORWARD"],
        ["-A", "INPUT", "-s", "10.220.0.0/24", "-j", "PODIUM-SANDBOX-INPUT"],
        ["-A", "DOCKER-USER", "-s", "10.220.0.0/24", "-j", "PODIUM-SANDBOX-FORWARD"],
        ["-A", "FORWARD", "-s", "10.220.0.0/24", "-j", "PODIUM-SANDBOX-FORWARD"],
    ]
    forward_drops = [rule[3] for rule in rules if rule[1] == "PODIUM-SANDBOX-FORWARD" and rule[2] == "-d"]
    assert forward_drops == ["10.210.0.0/16", "10.220.0.0/24", "169.254.0.0/16"]


@pytest.mark.parametrize(
    ("subnets", "allowed", "problem"),
    [
        (["10.210.0.0/33"], [], "10.210.0.0/33"),
        ([POOL], [HostService("icmp", "172.17.0.1", 0, "ping")], "icmp"),
        ([POOL], [HostService("tcp", "registry.local", 5000, "mirror")], "registry.local"),
    ],
)
def test_a_bad_subnet_protocol_or_address_is_refused(subnets, allowed, problem) -> None:
    with pytest.raises(ValueError, match=problem):
        firewall_rules(subnets=subnets, allowed=allowed)


def test_the_restore_text_fills_only_podiums_chains_and_quotes_comments() -> None:
    text = restore_input(firewall_rules(subnets=[POOL], allowed=[MIRROR]))

    assert text.splitlines() == [
        "*filter",
        ":PODIUM-SANDBOX-INPUT - [0:0]",
        ":PODIUM-SANDBOX-FORWARD - [0:0]",
        '-A PODIUM-SANDBOX-INPUT -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "podium: replies" '
        "-j ACCEPT",
        '-A PODIUM-SANDBOX-INPUT -d 172.17.0.1/32 -p tcp -m tcp --dport 5000 -m comment --comment "podium: registry '
        'mirror" -j ACCEPT',
        '-A PODIUM-SANDBOX-INPUT -m comment --comment "podium: nothing else on this host" -j DROP',
        '-A PODIUM-SANDBOX-FORWARD -d 10.210.0.0/16 -m comment --comment "podium: no sandbox reaches another" -j DROP',
        '-A PODIUM-SANDBOX-FORWARD -d 169.254.0.0/16 -m comment --comment "podium: no link-local services" -j DROP',
        '-A PODIUM-SANDBOX-FORWARD -m conntrack --ctstate DNAT -m comment --comment "podium: no Service or published '
        'port" -j DROP',
        "COMMIT",
    ]


@pytest.mark.parametrize(
    ("url", "endpoint"),
    [
        ("https://172.17.0.1:6443", ("172.17.0.1", 6443)),
        ("https://kubernetes.example", ("kubernetes.example", 443)),
        ("http://172.17.0.1:5000", ("172.17.0.1", 5000)),
        ("172.17.0.1:5000", ("172.17.0.1", 5000)),
        ("172.17.0.1", ("172.17.0.1", 80)),
    ],
)
def test_url_endpoint_finds_host_and_port(url, endpoint) -> None:
    assert url_endpoint(url, default_port=5000) == endpoint


KUBECONFIG = """
apiVersion: v1
kind: Config
current-context: admin@podium
clusters:
- name: podium
  cluster: {server: "https://172.17.0.1:6443"}
- name: remote
  cluster: {server: "https://k8s.example:443"}
contexts:
- name: admin@podium
  context: {cluster: podium, user: admin}
- name: remote
  context: {cluster: remote, user: admin}
users:
- name: admin
  user: {token: abc}
"""


def test_kubeconfig_server_follows_the_current_or_chosen_context() -> None:
    assert kubeconfig_server(KUBECONFIG) == "https://172.17.0.1:6443"
    assert kubeconfig_server(KUBECONFIG, context="remote") == "https://k8s.example:443"
    assert kubeconfig_server(KUBECONFIG, context="missing") == ""
    assert kubeconfig_server("") == ""
