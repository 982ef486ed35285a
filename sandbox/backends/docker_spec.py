"""Pure builders for the DockerBackend: names, labels, security flags and create specs.

Nothing here talks to the engine: every function turns plain values into the
dicts `docker.DockerClient` calls take, so tests compare dicts (JupyterHub's
KubeSpawner builds its pod spec the same way). `sandbox/backends/docker.py`
sends them.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from docker.utils import parse_bytes

from sandbox.backends.base import RUN_KINDS, RunRequest, SandboxSpec

LABEL_SANDBOX = "podium.sandbox"
LABEL_ATTENDEE = "podium.attendee"
LABEL_TALK = "podium.talk"
LABEL_MANAGED = "podium.managed"
LABEL_INSTANCE = "podium.instance"

RUNNER = "/usr/local/bin/podium-run"
READY = "/usr/local/bin/podium-ready"
DOCKER_DATA = "/var/lib/docker"

SECURITY_MODES = ("privileged", "capabilities", "sysbox")

# The per-sandbox bridge networks are carved out of this range as /28s (4096 sandboxes); explicit subnets
# because the engine's default pools hold only ~30 networks. The inner engines use other ranges (see
# podium-entrypoint) so that the host's bridge gateway, where the registry mirror listens, stays reachable.
SUBNET_POOL = "10.210.0.0/16"
SUBNET_PREFIX = 28

# A code text larger than this is split over several variables: one exec argument or variable may
# not exceed 128 KiB (MAX_ARG_STRLEN), and base64 grows text by a third.
ENV_CHUNK = 96 * 1024


@dataclass(frozen=True)
class SandboxNames:
    """What a sandbox's engine objects are called, derived from its id alone."""

    container: str
    network: str
    volume: str


@dataclass(frozen=True)
class SandboxLimits:
    """The resource limits of one workspace container, as settings spell them."""

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
    return {
        LABEL_SANDBOX: spec.sandbox_id,
        LABEL_ATTENDEE: spec.attendee_id,
        LABEL_TALK: spec.talk,
        LABEL_MANAGED: "1",
        LABEL_INSTANCE: spec.instance,
    }


def security_host_config(mode: str) -> dict:
    """HostConfig fields giving the inner Docker engine the rights it needs, per PODIUM_SANDBOX_SECURITY.

    "privileged" is plain `--privileged`; "capabilities" is the explicit set for hosts where
    `--privileged` fails (no CAP_SYS_RESOURCE, see DESIGN.md): every capability but that one, no
    seccomp/AppArmor filter, no masked /proc paths (what the CLI's `systempaths=unconfined` means),
    the host's cgroup tree (the entrypoint nests the inner engine's containers under the workspace's
    own cgroup so they count against its limits); "sysbox" runs the container with the sysbox-runc
    runtime, which gives docker-in-docker without any privilege on the host.
    Raises ValueError naming the accepted values.
    """
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
) -> dict:
    """Keyword arguments of the low-level `APIClient.create_container` for a sandbox's workspace container.

    `host_config` is spelled in the Engine API's own keys (the SDK's helper cannot express the
    unmasked /proc paths). One container per sandbox with its own Docker engine inside; its
    /var/lib/docker is a named volume (the inner engine's overlay2 cannot sit on the container's own
    overlay); nothing else of the host is mounted except, in "capabilities" mode, the cgroup tree.
    Memory and swap share one limit so a hog meets the OOM killer instead of swapping the host.
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
    host_config["Binds"] += extra.pop("Binds", [])
    host_config.update(extra)
    return {
        "image": image,
        "name": names.container,
        "hostname": "workshop",
        "labels": sandbox_labels(spec),
        "detach": True,
        "environment": {
            "PODIUM_REGISTRY_MIRROR": registry_mirror,
            "PODIUM_INSECURE_REGISTRY": insecure_registry(registry_mirror),
            "PODIUM_DISK_LIMIT_BYTES": str(parse_bytes(limits.disk)),
            "PODIUM_DISK_CHECK_SECONDS": str(limits.disk_check_seconds),
            "PODIUM_PIDS_LIMIT": str(limits.pids),
        },
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


def subnet_candidates(*, pool: str = SUBNET_POOL, prefix: int = SUBNET_PREFIX, taken: set[str]) -> list[str]:
    """The pool's /prefix subnets not in `taken`, in order: the next sandbox network takes the first free one."""
    return [str(net) for net in ipaddress.ip_network(pool).subnets(new_prefix=prefix) if str(net) not in taken]


def insecure_registry(mirror: str) -> str:
    """The `host:port` an inner engine must treat as insecure for a plain-http mirror URL; "" otherwise."""
    if not mirror:
        return ""
    parts = urlsplit(mirror if "://" in mirror else f"http://{mirror}")
    return parts.netloc if parts.scheme == "http" else ""


def run_command(*, kind: str, run_id: str) -> list[str]:
    """The exec command of one run: the in-sandbox runner with the run's kind and id."""
    if kind not in RUN_KINDS:
        raise ValueError(f"unknown run kind {kind!r}; expected one of {', '.join(RUN_KINDS)}")
    return [RUNNER, kind, safe_run_id(run_id)]


def kill_command(*, run_id: str) -> list[str]:
    """The exec command that kills a run's process group, found through the runner's pidfile."""
    return [RUNNER, "kill", safe_run_id(run_id)]


def run_environment(request: RunRequest) -> dict[str, str]:
    """The exec environment of a run: the code as base64 chunks and each block option as PODIUM_OPT_<KEY>.

    Passing the code in the environment (not on stdin) lets the exec stream be read-only and keeps the
    code out of `ps` output. Chunks are PODIUM_CODE_B64_000, _001 ... in order.
    """
    encoded = base64.b64encode(request.code.encode("utf-8")).decode("ascii")
    env = {
        f"PODIUM_CODE_B64_{index:03d}": encoded[start : start + ENV_CHUNK]
        for index, start in enumerate(range(0, max(len(encoded), 1), ENV_CHUNK))
    }
    for key, value in request.options.items():
        name = re.sub(r"[^A-Z0-9]", "_", key.upper())
        if name:
            env[f"PODIUM_OPT_{name}"] = value
    return env


def safe_run_id(run_id: str) -> str:
    """The run id as the runner accepts it (letters, digits, dash, underscore); ValueError otherwise."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", run_id):
        raise ValueError(f"run id {run_id!r} may only hold letters, digits, '-' and '_'")
    return run_id


def _short_id(sandbox_id: str) -> str:
    short = re.sub(r"[^a-z0-9]", "", sandbox_id.lower())[:12]
    if not short:
        raise ValueError(f"sandbox id {sandbox_id!r} has no letters or digits to name containers with")
    return short
