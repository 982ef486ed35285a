"""Network isolation of the Docker sandboxes: what an attendee's workspace container may reach.

Every workspace container sits on its own bridge network carved out of
PODIUM_SANDBOX_SUBNET_POOL (10.210.0.0/16 in /28s, see sandbox/backends/docker_spec.py).
Without these rules a workspace reaches every port of the host: each bridge's
gateway is a host address, so whatever listens on 0.0.0.0 (here a host service
on :2024), on the docker bridge (the kubelet on 172.17.0.1:10250), and even on
127.0.0.1 (Redis, MariaDB, PostgreSQL: kube-proxy sets route_localnet=1, so a
frame sent to 127.0.0.1 through the gateway is answered) is open to attendees,
who are root with every capability inside their workspace. `firewall_apply`
installs, with iptables:

    INPUT   -s <pool> -j PODIUM-SANDBOX-INPUT        (inserted first: nothing earlier can accept)
    PODIUM-SANDBOX-INPUT
        ctstate RELATED,ESTABLISHED -> ACCEPT  replies on connections the host opened, or that a rule
                                                below let in (a sandbox cannot open one by itself)
        tcp <bridge gateway>:5000  -> ACCEPT  the registry mirror inner engines pull the deck's images from
        udp+tcp <bridge gateway>:53 -> ACCEPT the cluster DNS (Service names inside the workspace)
        tcp <API server>:<port>    -> ACCEPT  kubectl, when PODIUM_KUBECONFIG's server is on this host
        everything else            -> DROP    any address of the host (every gateway, eth0, 127.0.0.1
                                              through route_localnet), any port, any protocol
    DOCKER-USER -s <pool> -j PODIUM-SANDBOX-FORWARD  (inserted first; FORWARD jumps there too)
    PODIUM-SANDBOX-FORWARD
        -d <pool>                  -> DROP    no sandbox reaches another, nor a pool address no network
                                              has (that one would leave through eth0). Docker's own
                                              DOCKER-ISOLATION chains already drop traffic between two
                                              existing bridges (measured: A -> B timed out before these
                                              rules); this rule also holds with --iptables=false
        -d 169.254.0.0/16          -> DROP    link-local services (a cloud's metadata endpoint hands out
                                              the machine's credentials)
        ctstate DNAT               -> DROP    any destination this host translated: a Kubernetes Service's
                                              cluster IP (kube-proxy marks such packets and its KUBE-FORWARD
                                              accepts them, whatever their source) or a port a host container
                                              publishes; a sandbox reaches nothing of the kind legitimately
        anything else returns to FORWARD, where Docker's rules forward it (the internet, the package
        index) and drop it on the way to docker0 (the host's containers, the test cluster's pods).

Forwarded packets are caught in DOCKER-USER, not FORWARD: Docker inserts each
new network's ACCEPT rules at the top of FORWARD, above a jump of ours, but
always evaluates DOCKER-USER first and never edits it.

Only packets whose source is in the pool are touched: the host's own traffic,
its Docker containers on docker0 and the cluster's pods are left alone. DROP
(not REJECT) so a blocked connection looks the same as an absent host. The
rules are rebuilt atomically (`iptables-restore --noflush` of the two chains)
and the jumps are checked before being inserted, so applying twice changes
nothing. Other tools insert rules at the top of the same chains later (kube-proxy
prepends KUBE-FORWARD, which accepts packets it marked for a Service, on its
first sync): `firewall_keep_first` moves Podium's jumps back above them, and
`sandbox cull --every` (which scripts/serve.sh runs) does so on every pass.
Limits, by design: IPv4 only (sandbox networks have no IPv6; an attendee
enabling it in their workspace gets link-local addresses only, and nothing on
the host listens on [::] today); the rules match the source address, which an
attendee (root in their workspace) can forge, but the host's answers then go to
the forged address, never back, so no connection opens; a connection opened
before the first apply lives until it closes; iptables rules do not survive a
reboot (`sandbox prepare`, which scripts/serve.sh runs on every start, installs
them again); a change of PODIUM_KUBECONFIG or the mirror takes effect at the
next `sandbox prepare`.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from django.conf import settings

from provision.registry import registry_address
from sandbox.backends.config import IN_CLUSTER, ClusterConfig
from sandbox.errors import SandboxError, SandboxUnavailable

CHAIN_INPUT = "PODIUM-SANDBOX-INPUT"
CHAIN_FORWARD = "PODIUM-SANDBOX-FORWARD"
# Where each chain is jumped to from (see the module docstring for DOCKER-USER); FORWARD's own jump only
# matters for an engine that does not manage iptables.
JUMPS = {CHAIN_INPUT: ("INPUT",), CHAIN_FORWARD: ("DOCKER-USER", "FORWARD")}
DOCKER_USER = "DOCKER-USER"
# Docker's own jumps that may stay above Podium's in FORWARD (see _jumps_first).
DOCKER_AHEAD = (DOCKER_USER, "DOCKER-ISOLATION-STAGE-1")
LINK_LOCAL = "169.254.0.0/16"
DEFAULT_GATEWAY = "172.17.0.1"
IPTABLES_TIMEOUT = 30  # seconds; `-w` waits for the xtables lock another tool (Docker, kube-proxy) holds

Progress = Callable[[str], None]


class FirewallError(SandboxUnavailable):
    """The sandbox firewall could not be installed; the message says why and what to do."""

    user_message = "The sandboxes' network isolation could not be set up on this server."


@dataclass(frozen=True)
class HostService:
    """A service on this host the sandboxes may reach: protocol ("tcp" or "udp"), address, port, and why."""

    protocol: str
    address: str
    port: int
    why: str


def firewall_rules(*, subnets: Iterable[str], allowed: Iterable[HostService]) -> list[list[str]]:
    """The iptables rules (filter table, `iptables -A` arguments) isolating sandboxes in `subnets`.

    First the contents of PODIUM-SANDBOX-INPUT (replies, then each of `allowed`, then DROP) and
    PODIUM-SANDBOX-FORWARD (no other sandbox, no link-local service), then the jumps from INPUT,
    DOCKER-USER and FORWARD for packets from each subnet. Addresses are spelled as `iptables -S`
    prints them, so an installed rule can be recognised. The module docstring says why each rule is there.
    """
    subnets = [str(ipaddress.ip_network(subnet)) for subnet in subnets]
    rules = [_rule(CHAIN_INPUT, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", why="replies", then="ACCEPT")]
    for service in allowed:
        if service.protocol not in ("tcp", "udp"):
            raise ValueError(f"protocol {service.protocol!r} is not tcp or udp")
        address = str(ipaddress.ip_address(service.address))
        rules.append(
            _rule(
                CHAIN_INPUT,
                *("-d", f"{address}/32", "-p", service.protocol, "-m", service.protocol),
                *("--dport", str(service.port)),
                why=service.why,
                then="ACCEPT",
            )
        )
    rules.append(_rule(CHAIN_INPUT, why="nothing else on this host", then="DROP"))
    for subnet in subnets:
        rules.append(_rule(CHAIN_FORWARD, "-d", subnet, why="no sandbox reaches another", then="DROP"))
    rules.append(_rule(CHAIN_FORWARD, "-d", LINK_LOCAL, why="no link-local services", then="DROP"))
    rules.append(
        _rule(CHAIN_FORWARD, "-m", "conntrack", "--ctstate", "DNAT", why="no Service or published port", then="DROP")
    )
    for subnet in subnets:
        rules += [["-A", parent, "-s", subnet, "-j", chain] for chain, parents in JUMPS.items() for parent in parents]
    return rules


def restore_input(rules: list[list[str]]) -> str:
    """The `iptables-restore --noflush` text that replaces the contents of Podium's chains with `rules`.

    Declaring a chain in the text creates it or empties it, inside one transaction: the chains are never
    seen half-filled. Rules of other chains (the jumps) are left out; `firewall_apply` inserts those.
    """
    lines = ["*filter", *(f":{chain} - [0:0]" for chain in JUMPS)]
    lines += [" ".join(_quoted(arg) for arg in rule) for rule in rules if rule[1] in JUMPS]
    return "\n".join([*lines, "COMMIT", ""])


def url_endpoint(url: str, *, default_port: int) -> tuple[str, int]:
    """(host, port) of a URL such as `https://172.17.0.1:6443` or a bare `172.17.0.1:5000`."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if not parts.hostname:
        raise ValueError(f"{url!r} names no host")
    port = parts.port or {"https": 443, "http": 80}.get(parts.scheme, default_port)
    return parts.hostname, port


def kubeconfig_server(text: str, *, context: str = "") -> str:
    """The API server URL a kubeconfig's `context` (default: its current-context) points at; "" if none."""
    config = yaml.safe_load(text) or {}
    name = context or config.get("current-context") or ""
    contexts = {item.get("name"): item.get("context") or {} for item in config.get("contexts") or []}
    clusters = {item.get("name"): item.get("cluster") or {} for item in config.get("clusters") or []}
    cluster = contexts.get(name, {}).get("cluster")
    return str(clusters.get(cluster, {}).get("server") or "")


def firewall_allowed(*, progress: Progress) -> list[HostService]:
    """The services on this host sandboxes may reach, from the settings: mirror, cluster DNS, Kubernetes API.

    The mirror and the DNS listen on the docker bridge's gateway. The API server counts only when its
    address is one of this host's own (not loopback: a workspace could not use that address anyway);
    a server elsewhere is reached through the normal route and needs no rule here.
    """
    try:
        gateway = registry_address().rsplit(":", 1)[0]
    except SandboxError:  # no engine yet: sandboxes will sit on its default bridge's gateway
        gateway = DEFAULT_GATEWAY
    allowed = [
        HostService("udp", gateway, 53, "cluster DNS"),
        HostService("tcp", gateway, 53, "cluster DNS"),
    ]
    mirror = settings.PODIUM_REGISTRY_MIRROR or f"{gateway}:{settings.PODIUM_REGISTRY_PORT}"
    allowed += _on_this_host(mirror, default_port=settings.PODIUM_REGISTRY_PORT, why="registry mirror")
    server = _kube_server(progress)
    if server:
        allowed += _on_this_host(server, default_port=443, why="Kubernetes API")
    return allowed


def firewall_apply(*, progress: Progress) -> list[list[str]]:
    """Install the rules isolating sandboxes (see the module docstring); idempotent; returns the rules.

    The pool is settings.PODIUM_SANDBOX_SUBNET_POOL, as the Docker backend's config has it. Needs root and
    iptables; raises FirewallError naming the fix (or PODIUM_SANDBOX_FIREWALL=0 for hosts whose
    operator manages the firewall).
    """
    if os.geteuid() != 0:
        raise FirewallError(
            "Installing the sandbox firewall (iptables) needs root: run `manage.py sandbox prepare` as root, "
            "or set PODIUM_SANDBOX_FIREWALL=0 if you manage this host's firewall yourself."
        )
    pool = settings.PODIUM_SANDBOX_SUBNET_POOL
    allowed = firewall_allowed(progress=progress)
    rules = firewall_rules(subnets=[pool], allowed=allowed)
    _iptables_restore(restore_input(rules))
    if _iptables("-S", DOCKER_USER, check=False).returncode != 0:
        _iptables("-N", DOCKER_USER)  # Docker keeps an existing DOCKER-USER, and jumps to it, when it starts
    jumps = [rule for rule in rules if rule[1] not in JUMPS]
    _jumps_prune(jumps)
    _jumps_first(jumps, progress=progress)
    reach = ", ".join(f"{s.address} {s.protocol}/{s.port} ({s.why})" for s in allowed)
    progress(f"sandbox firewall: sandboxes in {pool} reach {reach} on this host, nothing else, and no other sandbox")
    return rules


def firewall_keep_first(*, progress: Progress) -> list[str]:
    """Put Podium's jumps back first in INPUT, DOCKER-USER and FORWARD if another tool inserted rules above them.

    kube-proxy, for one, prepends its own jumps (KUBE-FORWARD accepts packets it marked for a Service) the
    first time it syncs, which may be after `sandbox prepare`. Cheap (three listings); the culler runs it on
    every pass. Does nothing when the firewall is not installed. Returns the chains it reordered.
    """
    if not firewall_installed():
        return []
    pool = settings.PODIUM_SANDBOX_SUBNET_POOL
    jumps = [rule for rule in firewall_rules(subnets=[pool], allowed=[]) if rule[1] not in JUMPS]
    return _jumps_first(jumps, progress=progress)


def firewall_remove(*, progress: Progress) -> None:
    """Take the sandbox firewall away again (for PODIUM_SANDBOX_FIREWALL=0 or a test): jumps, then chains."""
    if shutil.which("iptables") is None:
        return
    for rule in _jumps_installed():
        _iptables("-D", *rule[1:], check=False)
    for chain in JUMPS:
        _iptables("-F", chain, check=False)
        _iptables("-X", chain, check=False)
    progress("sandbox firewall: removed")


def firewall_installed() -> bool:
    """True when Podium's chains exist and INPUT jumps to them."""
    if shutil.which("iptables") is None or _iptables("-S", CHAIN_INPUT, check=False).returncode != 0:
        return False
    return any(rule[-1] == CHAIN_INPUT for rule in _jumps_installed())


# --- helpers ---------------------------------------------------------------------------------------------


def _rule(chain: str, *match: str, why: str, then: str) -> list[str]:
    return ["-A", chain, *match, "-m", "comment", "--comment", f"podium: {why}", "-j", then]


def _quoted(arg: str) -> str:
    # iptables-restore understands double quotes only; comments are the only arguments with spaces.
    return f'"{arg}"' if " " in arg else arg


def _on_this_host(url: str, *, default_port: int, why: str) -> list[HostService]:
    host, port = url_endpoint(url, default_port=default_port)
    try:
        address = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
    except OSError:
        return []
    if ipaddress.ip_address(address).is_loopback or not _is_local(address):
        return []
    return [HostService("tcp", address, port, why)]


def _is_local(address: str) -> bool:
    # Binding succeeds only to one of this host's own addresses.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((address, 0))
        except OSError:
            return False
    return True


def _kube_server(progress: Progress) -> str:
    """The API server URL workspaces use: PODIUM_K8S_SERVER, else the kubeconfig's (as the backends see it)."""
    cluster = ClusterConfig.from_settings()
    if not cluster.configured or cluster.kubeconfig == IN_CLUSTER:  # in a pod, the API server is not on this host
        return ""
    if cluster.server:
        return cluster.server
    for path in cluster.kubeconfig.split(os.pathsep):
        try:
            server = kubeconfig_server(Path(path).read_text(), context=cluster.context)
        except (OSError, yaml.YAMLError, AttributeError) as error:
            progress(f"sandbox firewall: cannot read the kubeconfig {path} ({error}); the Kubernetes API stays closed")
            continue
        if server:
            return server
    return ""


def _jumps_installed() -> list[list[str]]:
    """The rules jumping to one of Podium's chains, as `iptables -S` spells them."""
    found = []
    for parent in sorted({parent for parents in JUMPS.values() for parent in parents}):
        listing = _iptables("-S", parent, check=False).stdout
        for line in listing.splitlines():
            args = line.split()
            if len(args) > 2 and args[0] == "-A" and args[-2] == "-j" and args[-1] in JUMPS:
                found.append(args)
    return found


def _jumps_prune(wanted: list[list[str]]) -> None:
    """Delete jumps to Podium's chains that are not wanted (those of an older pool) or doubled."""
    seen: list[list[str]] = []
    for rule in _jumps_installed():
        if rule in wanted and rule not in seen:
            seen.append(rule)
        else:
            _iptables("-D", *rule[1:], check=False)


def _jumps_first(wanted: list[list[str]], *, progress: Progress) -> list[str]:
    """Make the `wanted` jumps the first rules of their parent chains, in one atomic iptables-restore.

    A chain already in order is not touched, so applying twice changes nothing. In FORWARD, Docker's
    jumps to DOCKER-USER and DOCKER-ISOLATION-STAGE-1 may stay above ours: Docker moves them back to
    the top whenever it creates a network (every new sandbox), DOCKER-USER starts with our jump
    itself, and the isolation chains only drop or return. Returns the chains it reordered.
    """
    lines: list[str] = []
    moved = []
    for parent in dict.fromkeys(rule[1] for rule in wanted):
        mine = [rule for rule in wanted if rule[1] == parent]
        listing = [line.split() for line in _iptables("-S", parent).stdout.splitlines() if line.startswith("-A ")]
        ahead = [rule for rule in listing if rule[-1] in DOCKER_AHEAD and len(rule) == 4] if parent == "FORWARD" else []
        head = [rule for rule in listing if rule not in ahead][: len(mine)]
        if sorted(head) == sorted(mine):
            continue
        moved.append(parent)
        lines += [" ".join(["-D", *rule[1:]]) for rule in mine if rule in listing]
        lines += [" ".join(["-I", parent, "1", *rule[2:]]) for rule in reversed(mine)]
    if lines:
        _iptables_restore("\n".join(["*filter", *lines, "COMMIT", ""]))
        progress(f"sandbox firewall: Podium's rules put back first in {', '.join(moved)}")
    return moved


def _iptables(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return _run(["iptables", "-w", *args], check=check)


def _iptables_restore(text: str) -> None:
    _run(["iptables-restore", "-w", "--noflush"], stdin=text, check=True)


def _run(command: list[str], *, stdin: str | None = None, check: bool) -> subprocess.CompletedProcess:
    if shutil.which(command[0]) is None:
        raise FirewallError(
            f"{command[0]} is not installed; the sandbox firewall needs it. Install it with `apt-get install "
            "iptables`, or set PODIUM_SANDBOX_FIREWALL=0 if you manage this host's firewall yourself."
        )
    try:
        result = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=IPTABLES_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise FirewallError(f"`{' '.join(command)}` did not finish within {IPTABLES_TIMEOUT} s.") from None
    if check and result.returncode != 0:
        # iptables-nft prefixes its answers with warnings about legacy tables; the error is the rest.
        said = " ".join(line for line in result.stderr.strip().splitlines() if not line.startswith("# Warning"))
        raise FirewallError(
            f"Installing the sandbox firewall failed: `{' '.join(command)}` said: "
            f"{said.rstrip('.') or f'exit {result.returncode}'}. Fix what it names, "
            "or set PODIUM_SANDBOX_FIREWALL=0 if you manage this host's firewall yourself."
        )
    return result
