"""Network isolation of Docker sandboxes (sandbox/firewall.py), proven with two real sandboxes.

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

import base64
import contextlib
import ipaddress
import json
import os
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from sandbox.backends.base import RunRequest, SandboxSpec
from sandbox.backends.docker import DockerBackend
from sandbox.backends.docker_spec import SUBNET_POOL
from sandbox.firewall import (
    CHAIN_FORWARD,
    CHAIN_INPUT,
    firewall_apply,
    firewall_installed,
    firewall_keep_first,
    firewall_remove,
)
from sandbox.images import image_for
from tests.cluster.helpers import cluster_wait_for, web_service
from tests.docker_helpers import docker_remove_labelled

pytestmark = pytest.mark.docker

TALK = "pytest-isolation"
INSTANCE = f"pytest-isolation-{uuid.uuid4().hex[:8]}"
# These machines refuse --privileged; a CI that sets PODIUM_SANDBOX_SECURITY gets what it asked for.
SECURITY = os.environ.get("PODIUM_SANDBOX_SECURITY") or "capabilities"
KUBE_API_PORT = 6443
HOST_SERVICE_PORT = 2024  # some host service on 0.0.0.0 on these machines; not for attendees
KUBELET_PORT = 10250  # the test cluster's kubelet on the bridge gateway; not for attendees
INNER_IMAGE = "python:3.11-slim"  # comes from the mirror into an inner engine
POOL = getattr(settings, "PODIUM_SANDBOX_SUBNET_POOL", SUBNET_POOL)

# TCP connects to every "host:port" given, at once; prints {target: "open" | "timeout" | "refused" | ...}.
PROBE = """
import json, socket
from concurrent.futures import ThreadPoolExecutor

def connect(target):
    host, port = target.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
        return "open"
    except TimeoutError:
        return "timeout"
    except ConnectionRefusedError:
        return "refused"
    except OSError as error:
        return error.strerror or type(error).__name__

def probe(targets):
    with ThreadPoolExecutor(len(targets)) as pool:
        return dict(zip(targets, pool.map(connect, targets)))
"""

# One TCP SYN to DST:PORT as a raw Ethernet frame to the default gateway, as a root attendee can send
# it: a frame for 127.0.0.1 is answered by the host's loopback services when route_localnet=1 (which
# kube-proxy sets). Prints "answered" or "no answer".
RAW_SYN = """
import random, socket, struct, subprocess, time

def checksum(data):
    data += b"\\0" * (len(data) % 2)
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF

def syn(dst, dport):
    route = subprocess.run(["ip", "-4", "route", "show", "default"], capture_output=True, text=True).stdout.split()
    gateway, dev = route[2], route[4]
    try:
        socket.create_connection((gateway, 9), timeout=1).close()  # fills the neighbour table
    except OSError:
        pass
    neigh = subprocess.run(["ip", "neigh", "show", gateway], capture_output=True, text=True).stdout.split()
    gateway_mac = bytes.fromhex(neigh[neigh.index("lladdr") + 1].replace(":", ""))
    own_mac = bytes.fromhex(open(f"/sys/class/net/{dev}/address").read().strip().replace(":", ""))
    address = subprocess.run(["ip", "-4", "-o", "addr", "show", dev], capture_output=True, text=True).stdout
    src = address.split()[3].split("/")[0]
    sport = random.randint(20000, 60000)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, random.getrandbits(32), 0, 5 << 4, 0x02, 64240, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 1, 0, 64, 6, 0, socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    raw.bind((dev, 0))
    raw.settimeout(0.5)
    raw.send(gateway_mac + own_mac + b"\\x08\\x00" + ip + tcp)
    deadline = time.time() + 3
    while time.time() < deadline:
        try:
            packet = raw.recv(65535)[14:]
        except TimeoutError:
            continue
        header = (packet[0] & 15) * 4
        if packet[9] == 6 and struct.unpack("!HH", packet[header:header + 4]) == (dport, sport):
            return "answered"
    return "no answer"
"""


@dataclass(frozen=True)
class Sandbox:
    """One attendee's sandbox: backend state, its workspace address and its network's gateway (a host address)."""

    state: dict
    address: str
    gateway: str


@dataclass(frozen=True)
class Host:
    """What the probes aim at on the host."""

    bridge_gateway: str  # the docker bridge's gateway: mirror, cluster DNS, Kubernetes API
    everywhere_port: int  # a test server on 0.0.0.0, like the host's :2024
    loopback_port: int  # a test server on 127.0.0.1 only, like Redis or MariaDB


def run(backend: DockerBackend, sandbox: Sandbox, code: str, *, kind: str = "shell") -> tuple[int | None, str]:
    """Run `code` in the sandbox; (exit code, stdout and stderr together)."""
    chunks: list[bytes] = []
    request = RunRequest(run_id=uuid.uuid4().hex, kind=kind, code=code, options={}, timeout=120, output_cap=1024 * 1024)
    result = backend.execute(
        state=sandbox.state, request=request, on_output=lambda _, data: chunks.append(data), should_stop=lambda: False
    )
    return result.exit_code, b"".join(chunks).decode("utf-8", "replace")


def probe(backend: DockerBackend, sandbox: Sandbox, targets: list[str]) -> dict[str, str]:
    """What A's workspace gets when it connects to each target."""
    code, output = run(backend, sandbox, PROBE + f"print(json.dumps(probe({targets!r})))", kind="python")
    assert code == 0, output
    return json.loads(output.strip().splitlines()[-1])


def probe_inner(backend: DockerBackend, sandbox: Sandbox, targets: list[str]) -> dict[str, str]:
    """What a container of the sandbox's own inner engine gets when it connects to each target."""
    script = base64.b64encode((PROBE + f"print(json.dumps(probe({targets!r})))").encode()).decode()
    code, output = run(
        backend,
        sandbox,
        f"docker run --rm {INNER_IMAGE} python -c \"import base64; exec(base64.b64decode('{script}'))\"",
    )
    assert code == 0, output
    return json.loads(output.strip().splitlines()[-1])


def connects(target: str) -> bool:
    """True when a TCP connection from this host to "address:port" opens."""
    address, port = target.rsplit(":", 1)
    try:
        socket.create_connection((address, int(port)), timeout=3).close()
    except OSError:
        return False
    return True


def host_addresses() -> list[str]:
    """Every IPv4 address of the host but loopback, now (other sandboxes' gateways come and go)."""
    listing = json.loads(subprocess.run(["ip", "-j", "-4", "addr"], capture_output=True, text=True, check=True).stdout)
    return [info["local"] for link in listing for info in link.get("addr_info", []) if info["local"][:4] != "127."]


def host_connects(address: str, port: int) -> bool:
    try:
        socket.create_connection((address, port), timeout=3).close()
    except OSError:
        return False
    return True


@contextlib.contextmanager
def tcp_server(address: str, port: int = 0) -> Iterator[int]:
    """A TCP server on the host that accepts and closes connections; yields its port."""
    server = socket.create_server((address, port))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                server.accept()[0].close()

    thread = threading.Thread(target=serve, daemon=True, name=f"isolation-server-{address}")
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=2)
        server.close()


@contextlib.contextmanager
def listening(address: str, port: int) -> Iterator[None]:
    """Something listens on address:port: the real service when there is one, else a stand-in for the test."""
    with contextlib.ExitStack() as stack:
        with contextlib.suppress(OSError):  # in use: the real service (the API server, the cluster DNS) runs here
            stack.enter_context(tcp_server(address, port))
        yield


def iptables_podium() -> list[str]:
    """Podium's rules and the jumps to them, as `iptables -S` lists them (wherever Docker moved the jumps)."""
    listing = subprocess.run(["iptables", "-w", "-S"], capture_output=True, text=True, check=True).stdout
    return [line for line in listing.splitlines() if "PODIUM-" in line]


DOCKERS_OWN_JUMPS = ("-A FORWARD -j DOCKER-USER", "-A FORWARD -j DOCKER-ISOLATION-STAGE-1")


def iptables_listing(chain: str) -> list[str]:
    listing = subprocess.run(["iptables", "-w", "-S", chain], capture_output=True, text=True, check=True).stdout
    return [line for line in listing.splitlines() if line.startswith("-A ")]


def first_rule(chain: str) -> str:
    return iptables_listing(chain)[0]


# --- fixtures ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prepared(docker_client, base_images) -> Iterator[None]:
    """Workspace image built, local mirror filled, this module's settings; its sandboxes removed after."""
    from sandbox.registry import registry_fill
    from sandbox.workspace.build import workspace_image_build

    with override_settings(PODIUM_SANDBOX_SECURITY=SECURITY, PODIUM_INSTANCE=INSTANCE):
        workspace_image_build(progress=print)
        registry_fill(progress=print)
        try:
            yield
        finally:
            docker_remove_labelled(docker_client, label=f"podium.talk={TALK}")


@pytest.fixture(scope="module")
def host(prepared) -> Iterator[Host]:
    """The docker bridge's gateway and the test's own servers on the host."""
    from sandbox.registry import registry_address

    with tcp_server("0.0.0.0") as everywhere, tcp_server("127.0.0.1") as loopback:
        yield Host(
            bridge_gateway=registry_address().rsplit(":", 1)[0],
            everywhere_port=everywhere,
            loopback_port=loopback,
        )


@pytest.fixture(scope="module")
def firewall(host, tmp_path_factory) -> Iterator[Path]:
    """The rules `sandbox prepare` installs, with the Kubernetes API on the bridge gateway allowed; yields the
    kubeconfig naming that API server."""
    kubeconfig = Path(tmp_path_factory.mktemp("kube")) / "config"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
        f"clusters:\n- name: test\n  cluster: {{server: 'https://{host.bridge_gateway}:{KUBE_API_PORT}'}}\n"
        "contexts:\n- name: test\n  context: {cluster: test, user: test}\n"
        "users:\n- name: test\n  user: {token: test}\n"
    )
    installed_before = firewall_installed()
    with override_settings(PODIUM_KUBECONFIG=str(kubeconfig), PODIUM_K8S_SERVER=""):
        firewall_apply(progress=print)
    try:
        yield kubeconfig
    finally:
        if not installed_before:
            firewall_remove(progress=print)


@pytest.fixture(scope="module")
def backend(prepared) -> DockerBackend:
    return DockerBackend()


def sandbox_new(backend: DockerBackend, docker_client) -> Sandbox:
    spec = SandboxSpec(sandbox_id=uuid.uuid4().hex, attendee_id=uuid.uuid4().hex, talk=TALK)
    state = backend.ensure(spec=spec, state={}, progress=lambda message: None)
    network = docker_client.api.inspect_container(state["container"])["NetworkSettings"]["Networks"][state["network"]]
    return Sandbox(state=state, address=network["IPAddress"], gateway=network["Gateway"])


@pytest.fixture(scope="module")
def sandbox_a(backend, firewall, docker_client) -> Iterator[Sandbox]:
    sandbox = sandbox_new(backend, docker_client)
    yield sandbox
    backend.destroy(state=sandbox.state)


@pytest.fixture(scope="module")
def sandbox_b(backend, firewall, docker_client) -> Iterator[Sandbox]:
    """Attendee B's sandbox, serving on :8080 (a detached process) and :8081 (a container of its inner engine)."""
    sandbox = sandbox_new(backend, docker_client)
    code, output = run(
        backend,
        sandbox,
        "(setsid python3 -m http.server 8080 >/dev/null 2>&1 &)\n"
        f"docker run -d --name web -p 8081:8000 {INNER_IMAGE} python -m http.server 8000\n"
        "for _ in $(seq 100); do\n"
        f"  curl -fs -o /dev/null --max-time 1 http://{sandbox.address}:8080/ &&"
        f" curl -fs -o /dev/null --max-time 1 http://{sandbox.address}:8081/ && exit 0\n"
        "  sleep 0.2\ndone\nexit 1\n",
    )
    assert code == 0, f"B's servers did not answer inside B:\n{output}"
    yield sandbox
    backend.destroy(state=sandbox.state)


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
    assert output.strip().splitlines()[-1] == "no answer"


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
