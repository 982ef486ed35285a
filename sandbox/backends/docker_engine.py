"""Small helpers over the docker SDK for the Docker backend: connecting, reading an exec, and errors.

`engine_errors` turns SDK failures into sandbox errors with a sentence for the
learner (docker-py's own split between the log's message and the user's).
`bridge_gateway` and `registry_mirror_url` say where the local registry mirror
listens, for the backends (run time) and for provision/registry.py (setup).
Every function that takes a client blocks on the Docker Engine API.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import time
from collections.abc import Iterator

import docker
import docker.errors
import requests.exceptions

from sandbox.backends.base import SandboxSpec
from sandbox.backends.docker_spec import SUBNET_PREFIX, network_kwargs, sandbox_names, subnet_candidates
from sandbox.errors import SandboxError, SandboxLimitReached, SandboxNotFound, SandboxNotStarted, SandboxUnavailable

API_TIMEOUT = 60  # seconds for one engine call (creating a container on a busy host can take a while)
EXIT_CODE_WAIT = 2.0  # seconds for the engine to record the exit code after the output ended
MIRROR_LOOKUP_TIMEOUT = 10  # seconds to ask the engine for its bridge when no client is at hand
DEFAULT_GATEWAY = "172.17.0.1"

ENGINE_FAILURES = (docker.errors.DockerException, requests.exceptions.RequestException)


def engine_connect(*, timeout: int = API_TIMEOUT) -> docker.DockerClient:
    """A client of the engine DOCKER_HOST points at, after a ping; SandboxUnavailable saying how to start one."""
    try:
        client = docker.from_env(timeout=timeout, max_pool_size=64)
        if client.api.base_url.startswith("http+docker://"):
            # A local socket (unix, npipe, ssh): no HTTP proxy or netrc applies, yet requests would look for
            # both in the environment and the home folder on every call, under the interpreter's lock.
            client.api.trust_env = False
        client.ping()
    except ENGINE_FAILURES as error:
        host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        message = (
            f"No Docker engine answers at {host}: run `make serve` as root, or scripts/docker-up.sh "
            "(it installs and starts Docker on Debian)."
        )
        raise SandboxUnavailable(f"{message} ({first_line(error)})", user_message=message) from None
    return client


def engine_problem(client: docker.DockerClient, *, mode: str, image: str) -> str | None:
    """What this engine lacks for sandboxes in security `mode` from `image`, as a sentence; None when nothing."""
    try:
        if mode == "sysbox" and "sysbox-runc" not in (client.info().get("Runtimes") or {}):
            return (
                "PODIUM_SANDBOX_SECURITY=sysbox needs the sysbox-runc runtime, which this Docker engine does not "
                "have: install Sysbox (https://github.com/nestybox/sysbox) or choose userns."
            )
        client.images.get(image)
    except docker.errors.ImageNotFound:
        return (
            f"The sandbox image {image} is not built yet: run "
            "`.venv/bin/python manage.py sandbox prepare` (about a minute after the base images)."
        )
    except ENGINE_FAILURES as error:
        return f"The Docker engine did not answer properly ({first_line(error)}); look at its log."
    return None


def bridge_gateway(client: docker.DockerClient) -> str:
    """The gateway of the engine's "bridge" network: the host as containers see it.

    Falls back to the first address of the bridge's subnet, then 172.17.0.1.
    """
    try:
        configs = (client.api.inspect_network("bridge").get("IPAM") or {}).get("Config") or []
    except docker.errors.APIError:
        configs = []
    for config in configs:
        if config.get("Gateway"):
            return config["Gateway"].split("/")[0]
        if config.get("Subnet") and ":" not in config["Subnet"]:
            return str(next(ipaddress.ip_network(config["Subnet"], strict=False).hosts()))
    return DEFAULT_GATEWAY


def registry_mirror_url(*, mirror: str, port: int, client: docker.DockerClient | None = None) -> str:
    """The mirror URL inner engines get: `mirror` (PODIUM_REGISTRY_MIRROR) when set, else the local mirror's
    http URL on the bridge's gateway and `port` (where provision/registry.py runs it). Without `client`, one
    is connected (SandboxUnavailable when no engine answers)."""
    if mirror:
        return mirror
    return f"http://{bridge_gateway(client or engine_connect(timeout=MIRROR_LOOKUP_TIMEOUT))}:{port}"


def network_ensure(client: docker.DockerClient, *, spec: SandboxSpec, pool: str) -> str:
    """Create the sandbox's private bridge network on the first free subnet of `pool` (unless it exists);
    returns its subnet, which also places the sandbox's host uid range (docker_spec.userns_base).

    Another sandbox may take a subnet between the listing and the create: the next one is tried.
    SandboxLimitReached when the pool has none left.
    """
    names = sandbox_names(spec.sandbox_id)
    with engine_errors("creating your network"):
        for net in client.api.networks(names=[names.network]):
            if net["Name"] == names.network:
                return _subnet_of(client, names.network)
        taken = {
            config.get("Subnet")
            for net in client.api.networks()
            for config in ((net.get("IPAM") or {}).get("Config") or [])
        }
        for subnet in subnet_candidates(pool=pool, taken=taken):
            try:
                client.networks.create(**network_kwargs(spec=spec, subnet=subnet))
                return subnet
            except docker.errors.APIError as error:
                message = str(error.explanation or error).lower()
                if "already exists" in message:
                    return _subnet_of(client, names.network)  # a concurrent ensure made it
                if "overlap" not in message:
                    raise
                # another sandbox took this subnet since we listed them; try the next one
    raise SandboxLimitReached(
        f"no free /{SUBNET_PREFIX} left in {pool} for a sandbox network",
        user_message="This server has no network left for another sandbox. Ask the presenter.",
    )


def _subnet_of(client: docker.DockerClient, network: str) -> str:
    configs = (client.api.inspect_network(network).get("IPAM") or {}).get("Config") or []
    return next((c["Subnet"] for c in configs if ":" not in c.get("Subnet", ":")), "")


def frames(stream) -> Iterator[tuple[str, bytes]]:
    """An exec's demultiplexed (stdout, stderr) pairs as (stream, bytes) frames."""
    for out, err in stream:
        if out:
            yield "stdout", out
        if err:
            yield "stderr", err


def exit_code(api: docker.APIClient, exec_id: str) -> int | None:
    """The exec's exit code; None if the process still runs (or the engine cannot say)."""
    # The output can end a moment before the engine records the exit.
    deadline = time.monotonic() + EXIT_CODE_WAIT
    while True:
        try:
            info = api.exec_inspect(exec_id)
        except ENGINE_FAILURES:
            return None
        if not info.get("Running") or time.monotonic() > deadline:
            return None if info.get("Running") else info.get("ExitCode")
        time.sleep(0.02)


def container_get(client: docker.DockerClient, name: str):
    """The container called `name`, or None."""
    try:
        return client.containers.get(name)
    except docker.errors.NotFound:
        return None


@contextlib.contextmanager
def engine_errors(doing: str, *, container: str | None = None, starting: bool = False) -> Iterator[None]:
    """Turn docker SDK failures into sandbox errors with a sentence for the learner.

    `starting`: the calls make a run's exec, so a sandbox found gone means nothing ran (SandboxNotStarted).
    """
    gone = SandboxNotStarted if starting else SandboxNotFound
    try:
        yield
    except docker.errors.NotFound as error:
        raise gone(f"{doing}: {first_line(error)}") from None
    except docker.errors.APIError as error:
        if error.status_code == 409 and container is not None:  # "container ... is not running"
            raise gone(
                f"{doing}: {first_line(error)}",
                user_message="Your sandbox had stopped; it will start again on your next run.",
            ) from None
        raise SandboxError(f"{doing}: {first_line(error)}") from None
    except ENGINE_FAILURES as error:
        raise SandboxUnavailable(
            f"{doing}: the Docker engine did not answer ({first_line(error)})",
            user_message="The Docker engine of this server did not answer. Try again in a moment.",
        ) from None


def first_line(error: object) -> str:
    """The first line of an error's text (the SDK's messages run on), or its class name."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
