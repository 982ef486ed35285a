"""Helpers of the network isolation tests (fixtures are in conftest.py): probes, test servers, iptables listings."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings

from sandbox.backends.base import RunRequest, SandboxSpec
from sandbox.backends.docker import DockerBackend

TALK = "pytest-isolation"
INSTANCE = f"pytest-isolation-{uuid.uuid4().hex[:8]}"
# The default mode (userns); a CI that sets PODIUM_SANDBOX_SECURITY gets what it asked for.
SECURITY = os.environ.get("PODIUM_SANDBOX_SECURITY") or "userns"
KUBE_API_PORT = 6443
HOST_SERVICE_PORT = 2024  # some host service on 0.0.0.0 on these machines; not for attendees
KUBELET_PORT = 10250  # the test cluster's kubelet on the bridge gateway; not for attendees
INNER_IMAGE = "python:3.11-slim"  # comes from the mirror into an inner engine
POOL = settings.PODIUM_SANDBOX_SUBNET_POOL

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
# kube-proxy sets). Prints "answered" (a SYN-ACK: the service accepted), "reset" or "no answer". In userns
# mode the frame reaches slirp4netns, whose own 127.0.0.1 is the workspace container's: it answers RST.
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
            return "answered" if packet[header + 13] & 0x12 == 0x12 else "reset"
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


def sandbox_new(backend: DockerBackend, docker_client) -> Sandbox:
    spec = SandboxSpec(sandbox_id=uuid.uuid4().hex, attendee_id=uuid.uuid4().hex, talk=TALK)
    state = backend.ensure(spec=spec, state={}, progress=lambda message: None)
    network = docker_client.api.inspect_container(state["container"])["NetworkSettings"]["Networks"][state["network"]]
    return Sandbox(state=state, address=network["IPAddress"], gateway=network["Gateway"])
