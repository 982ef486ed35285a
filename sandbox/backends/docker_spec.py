"""Pure builders for the DockerBackend: names, labels, security flags and create specs.

Nothing here talks to the engine: every function turns plain values into the
dicts `docker.DockerClient` calls take, so tests compare dicts (JupyterHub's
KubeSpawner builds its pod spec the same way). `sandbox/backends/docker.py`
sends them.
"""

from __future__ import annotations

import io
import ipaddress
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from docker.utils import parse_bytes

from sandbox.backends.base import SandboxSpec

LABEL_SANDBOX = "podium.sandbox"
LABEL_ATTENDEE = "podium.attendee"
LABEL_TALK = "podium.talk"
LABEL_MANAGED = "podium.managed"
LABEL_INSTANCE = "podium.instance"
LABEL_ROOM = "podium.room"  # only on a room's warm pool sandboxes: the room's join code

DOCKER_DATA = "/var/lib/docker"

# "userns" is the default: the attendee's root is an unprivileged host uid (see security_host_config).
SECURITY_MODES = ("userns", "privileged", "capabilities", "sysbox")
# Modes in which code in a sandbox can become the host's root: opt-in, for rooms the operator trusts.
HOST_ROOT_MODES = ("privileged", "capabilities")

# userns mode: sandbox N of the subnet pool gets the host ids USERNS_FIRST + N * USERNS_SIZE .. + USERNS_SIZE-1,
# so no two live sandboxes share a host uid. Below USERNS_FIRST are the host's own accounts (podium-enter
# refuses any namespace mapping below it).
USERNS_FIRST = 100000
USERNS_SIZE = 65536

# The per-sandbox bridge networks are carved out of this range as /28s (4096 sandboxes); explicit subnets
# because the engine's default pools hold only ~30 networks. The inner engines use other ranges (see
# podium-entrypoint) so that the host's bridge gateway, where the registry mirror listens, stays reachable.
SUBNET_POOL = "10.210.0.0/16"
SUBNET_PREFIX = 28


@dataclass(frozen=True)
class SandboxNames:
    """What a sandbox's engine objects are called, derived from its id alone."""

    container: str
    network: str
    volume: str


@dataclass(frozen=True)
class SandboxLimits:
    """The resource limits of one workspace container, as the settings spell them (Docker-style sizes)."""

    memory: str = "2g"
    cpus: float = 1.0
    pids: int = 1024
    disk: str = "10g"
    disk_check_seconds: int = 30  # how often the workspace measures its disk use (a soft limit, see podium-entrypoint)


def sandbox_names(sandbox_id: str) -> SandboxNames:
    """Container, network and volume names of a sandbox: `podium-sb-<id[:12]>` and friends."""
    short = _short_id(sandbox_id)
    return SandboxNames(container=f"podium-sb-{short}", network=f"podium-net-{short}", volume=f"podium-docker-{short}")


def sandbox_labels(spec: SandboxSpec) -> dict[str, str]:
    """Labels on everything a sandbox owns, so a restarted server (or an operator) finds it again."""
    labels = {
        LABEL_SANDBOX: spec.sandbox_id,
        LABEL_ATTENDEE: spec.attendee_id,
        LABEL_TALK: spec.talk,
        LABEL_MANAGED: "1",
        LABEL_INSTANCE: spec.instance,
    }
    if spec.room:
        labels[LABEL_ROOM] = spec.room
    return labels


def security_host_config(mode: str) -> dict:
    """HostConfig fields giving the inner Docker engine the rights it needs, per PODIUM_SANDBOX_SECURITY.

    "privileged" is plain `--privileged`; "capabilities" is the explicit set for hosts where
    `--privileged` fails (no CAP_SYS_RESOURCE, see DESIGN.md): every capability but that one, no
    seccomp/AppArmor filter, no masked /proc paths (what the CLI's `systempaths=unconfined` means),
    the host's cgroup tree (the entrypoint nests the inner engine's containers under the workspace's
    own cgroup so they count against its limits); "sysbox" runs the container with the sysbox-runc
    runtime, which gives docker-in-docker without any privilege on the host. "privileged" and
    "capabilities" are host root for whoever runs code in the sandbox (see the README's Security).
    "userns" keeps Docker's default capabilities minus what nothing here needs (no SYS_ADMIN), a cgroup
    namespace of its own and no host cgroup mount. The filters are off and /proc unmasked only because
    the workspace creates namespaces and mounts inside a user namespace it owns (the kernel allows a
    proc mount there only where nothing is masked); /dev/net/tun is for slirp4netns. The engine and
    every attendee process then run as host uids from the sandbox's PODIUM_USERNS_BASE on, with no
    capability outside that namespace; the container's own root only starts it (podium-entrypoint).
    Raises ValueError naming the accepted values.
    """
    if mode == "userns":
        return {
            "CapDrop": ["NET_RAW", "MKNOD", "AUDIT_WRITE", "SETFCAP", "NET_BIND_SERVICE", "SYS_CHROOT"],
            "SecurityOpt": ["seccomp=unconfined", "apparmor=unconfined"],
            "MaskedPaths": [],
            "ReadonlyPaths": [],
            "CgroupnsMode": "private",
            "Devices": [{"PathOnHost": "/dev/net/tun", "PathInContainer": "/dev/net/tun", "CgroupPermissions": "rwm"}],
        }
    if mode == "privileged":
        return {"Privileged": True}
    if mode == "capabilities":
        return {
            "CapAdd": ["ALL"],
            "CapDrop": ["SYS_RESOURCE"],
            "SecurityOpt": ["seccomp=unconfined", "apparmor=unconfined"],
            "MaskedPaths": [],
            "ReadonlyPaths": [],
            "CgroupnsMode": "host",
            "Binds": ["/sys/fs/cgroup:/sys/fs/cgroup:rw"],
        }
    if mode == "sysbox":
        return {"Runtime": "sysbox-runc"}
    raise ValueError(f"PODIUM_SANDBOX_SECURITY={mode!r} is not one of {', '.join(SECURITY_MODES)}")


def container_spec(
    *,
    spec: SandboxSpec,
    image: str,
    limits: SandboxLimits,
    security: str,
    registry_mirror: str,
    userns_base: int = 0,
    link_bind: str | None = None,
) -> dict:
    """Keyword arguments of the low-level `APIClient.create_container` for a sandbox's workspace container.

    `host_config` is spelled in the Engine API's own keys (the SDK's helper cannot express the
    unmasked /proc paths). One container per sandbox with its own Docker engine inside; its
    /var/lib/docker is a named volume (the inner engine's overlay2 cannot sit on the container's own
    overlay); nothing else of the host is mounted except, in "capabilities" mode, the cgroup tree.
    Memory and swap share one limit so a hog meets the OOM killer instead of swapping the host.
    `userns_base` (userns mode, see `userns_base`) is the host uid the attendee's root becomes. `link_bind`
    mounts the workspace's link folder, read-only (docker_link.py).
    """
    names = sandbox_names(spec.sandbox_id)
    memory = parse_bytes(limits.memory)
    host_config = {
        "Init": True,  # docker-init reaps what killed runs leave behind
        "NetworkMode": names.network,
        "Memory": memory,
        "MemorySwap": memory,
        "NanoCpus": int(limits.cpus * 1_000_000_000),
        "PidsLimit": limits.pids,
        "Binds": [f"{names.volume}:{DOCKER_DATA}:rw"],
    }
    extra = security_host_config(security)
    host_config["Binds"] += extra.pop("Binds", []) + ([link_bind] if link_bind else [])
    host_config.update(extra)
    environment = {
        "PODIUM_REGISTRY_MIRROR": registry_mirror,
        "PODIUM_INSECURE_REGISTRY": insecure_registry(registry_mirror),
        "PODIUM_DISK_LIMIT_BYTES": str(parse_bytes(limits.disk)),
        "PODIUM_DISK_CHECK_SECONDS": str(limits.disk_check_seconds),
        "PODIUM_PIDS_LIMIT": str(limits.pids),
    }
    if security == "userns":
        if userns_base < USERNS_FIRST:
            raise ValueError(f"userns mode needs a host uid base from {USERNS_FIRST} on, not {userns_base}")
        environment["PODIUM_USERNS_BASE"] = str(userns_base)
    return {
        "image": image,
        "name": names.container,
        "hostname": "workshop",
        "labels": sandbox_labels(spec),
        "detach": True,
        "environment": environment,
        "host_config": host_config,
        "networking_config": {"EndpointsConfig": {names.network: {}}},
    }


def network_kwargs(*, spec: SandboxSpec, subnet: str) -> dict:
    """Keyword arguments of `client.networks.create` for a sandbox's private bridge network."""
    net = ipaddress.ip_network(subnet)
    return {
        "name": sandbox_names(spec.sandbox_id).network,
        "driver": "bridge",
        "labels": sandbox_labels(spec),
        "check_duplicate": True,
        "ipam": {
            "Driver": "default",
            "Config": [{"Subnet": str(net), "Gateway": str(next(net.hosts()))}],
        },
    }


def volume_kwargs(*, spec: SandboxSpec) -> dict:
    """Keyword arguments of `client.volumes.create` for the inner engine's data volume."""
    return {"name": sandbox_names(spec.sandbox_id).volume, "driver": "local", "labels": sandbox_labels(spec)}


def subnet_candidates(*, pool: str = SUBNET_POOL, prefix: int = SUBNET_PREFIX, taken: set[str]) -> Iterator[str]:
    """The pool's /prefix subnets not in `taken`, in order: the next sandbox network takes the first free one.

    Made one at a time as they are asked for: a creation needs the first few, and listing all 4096 of the
    default pool took a tenth of a second of pure Python (holding the interpreter's lock) per creation.
    """
    whole = ipaddress.ip_network(pool)
    if not whole.prefixlen <= prefix <= whole.max_prefixlen:
        raise ValueError(f"a /{prefix} does not fit in the sandbox pool {pool}")
    step, first = 1 << (whole.max_prefixlen - prefix), int(whole.network_address)
    address = type(whole.network_address)
    for index in range(whole.num_addresses // step):
        subnet = f"{address(first + index * step)}/{prefix}"
        if subnet not in taken:
            yield subnet


def userns_base(*, subnet: str, pool: str = SUBNET_POOL, prefix: int = SUBNET_PREFIX) -> int:
    """The first host uid of a sandbox's user namespace, from its network's place in the subnet pool.

    The network is the one allocation every live sandbox holds alone (network_ensure picks a free /28),
    so its index gives each sandbox a host id range of its own without another table; the container
    keeps the number in its environment for as long as it lives. ValueError past the host's 32-bit ids.
    """
    net, whole = ipaddress.ip_network(subnet), ipaddress.ip_network(pool)
    if not net.subnet_of(whole) or net.prefixlen != prefix:
        raise ValueError(f"{subnet} is not a /{prefix} of the sandbox pool {pool}")
    index = (int(net.network_address) - int(whole.network_address)) >> (32 - prefix)
    base = USERNS_FIRST + index * USERNS_SIZE
    if base + USERNS_SIZE > 2**32 - 1:
        raise ValueError(f"{subnet} is too far into {pool} for a user namespace of its own; use a smaller pool")
    return base


def insecure_registry(mirror: str) -> str:
    """The `host:port` an inner engine must treat as insecure for a plain-http mirror URL; "" otherwise."""
    if not mirror:
        return ""
    parts = urlsplit(mirror if "://" in mirror else f"http://{mirror}")
    return parts.netloc if parts.scheme == "http" else ""


def kubeconfig_archive(kubeconfig: str, *, owner: int = 0) -> bytes:
    """A tar archive holding `.kube/config` (0600, in a 0700 folder) for `put_archive` into /root.

    `owner` is the host uid/gid of the attendee's root: in userns mode the sandbox's base, else 0.
    """
    data = kubeconfig.encode()
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        folder = tarfile.TarInfo(".kube")
        folder.type, folder.mode = tarfile.DIRTYPE, 0o700
        folder.uid = folder.gid = owner
        tar.addfile(folder)
        entry = tarfile.TarInfo(".kube/config")
        entry.size, entry.mode = len(data), 0o600
        entry.uid = entry.gid = owner
        tar.addfile(entry, io.BytesIO(data))
    return archive.getvalue()


def _short_id(sandbox_id: str) -> str:
    short = re.sub(r"[^a-z0-9]", "", sandbox_id.lower())[:12]
    if not short:
        raise ValueError(f"sandbox id {sandbox_id!r} has no letters or digits to name containers with")
    return short
