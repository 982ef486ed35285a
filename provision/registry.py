"""The local registry mirror the sandboxes' inner Docker engines pull from.

A room of attendees each running `docker pull python:3.11-slim` in their own
engine must not each download it (conference Wi-Fi), and these machines cannot
download it at all. So the host runs Debian's `docker-registry` on the docker
bridge's gateway address (172.17.0.1:5000 usually: reachable from every
workspace container, not from the network), `registry_fill` pushes the deck's
base images into it as `library/python:3.11-slim` etc., and every inner engine
starts with `--registry-mirror http://172.17.0.1:5000`: a plain `docker pull
python:3.11-slim` then comes from the host's disk.

The host engine would refuse to push to a plain-http registry that is not on
127.0.0.0/8 (unless its daemon config says otherwise), so `registry_fill`
pushes through a short-lived loopback forwarder to the same registry.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import docker.errors
from django.conf import settings

from provision.images import deck_images, engine_client, image_for
from sandbox.backends import docker_engine
from sandbox.errors import SandboxUnavailable

REGISTRY_ROOT = Path("/var/lib/podium-registry")
REGISTRY_LOG = Path("/var/log/podium-registry.log")
START_TIMEOUT = 15.0  # seconds for a fresh registry to answer
PUSH_TIMEOUT = 30 * 60

Progress = Callable[[str], None]


class RegistryError(SandboxUnavailable):
    """The local registry mirror could not be started or filled; the message says why and what to do."""

    user_message = "The local image mirror for the sandboxes is not ready on this server."


def registry_address(*, client: docker.DockerClient | None = None) -> str:
    """`HOST:PORT` of the local mirror: the gateway of the engine's "bridge" network and PODIUM_REGISTRY_PORT.

    The gateway is the host as seen from containers; listening there keeps the registry off the
    outside network. Falls back to the first address of the bridge's subnet, then 172.17.0.1.
    """
    return f"{docker_engine.bridge_gateway(client or engine_client())}:{settings.PODIUM_REGISTRY_PORT}"


def registry_mirror_url(*, client: docker.DockerClient | None = None) -> str:
    """The mirror URL inner engines get: PODIUM_REGISTRY_MIRROR, else the local mirror's http URL.

    The backends compute the same from their configuration (sandbox.backends.docker_engine).
    """
    if settings.PODIUM_REGISTRY_MIRROR:
        return settings.PODIUM_REGISTRY_MIRROR
    return docker_engine.registry_mirror_url(
        mirror="", port=settings.PODIUM_REGISTRY_PORT, client=client or engine_client()
    )


def registry_answers(address: str, *, timeout: float = 2.0) -> bool:
    """True when a Docker registry (API v2) answers at `HOST:PORT`."""
    try:
        with urllib.request.urlopen(f"http://{address}/v2/", timeout=timeout) as response:  # noqa: S310 - http only
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def registry_ensure(*, progress: Progress) -> str:
    """Make sure the local mirror runs (starting Debian's `docker-registry` if needed); returns `HOST:PORT`.

    Idempotent: when a registry already answers it only says so. Data lives in
    /var/lib/podium-registry, the log in /var/log/podium-registry.log; the process is detached (its
    own session) so it outlives the command that started it. With PODIUM_REGISTRY_MIRROR set the
    operator runs the mirror: it is only checked. Raises RegistryError naming the fix.
    """
    if settings.PODIUM_REGISTRY_MIRROR:
        progress(f"registry mirror: PODIUM_REGISTRY_MIRROR={settings.PODIUM_REGISTRY_MIRROR} (run by the operator)")
        return settings.PODIUM_REGISTRY_MIRROR.split("://", 1)[-1].rstrip("/")
    address = registry_address()
    if registry_answers(address):
        progress(f"registry mirror: answering at {address}")
        return address
    binary = shutil.which("docker-registry")
    if binary is None:
        raise RegistryError(
            "Debian's docker-registry is not installed; it serves the workshop's images to the sandboxes. "
            "Install it with `apt-get install docker-registry` (scripts/docker-up.sh does), then try again."
        )
    config = _config_write(address)
    progress(f"registry mirror: starting docker-registry on {address} (data in {REGISTRY_ROOT})")
    try:
        log = open(REGISTRY_LOG, "ab")  # noqa: SIM115 - handed to the child process
    except OSError:
        log = open(REGISTRY_ROOT / "registry.log", "ab")  # noqa: SIM115
    with log:
        process = subprocess.Popen(
            [binary, "serve", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    (REGISTRY_ROOT / "registry.pid").write_text(f"{process.pid}\n")
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if registry_answers(address, timeout=1.0):
            progress(f"registry mirror: ready at {address}")
            return address
        if process.poll() is not None:
            break
        time.sleep(0.2)
    if process.poll() is None:
        process.kill()
    raise RegistryError(
        f"docker-registry did not answer at {address} within {START_TIMEOUT:.0f} s. "
        f"The end of {log.name} says why:\n{_tail(Path(log.name))}"
    )


def registry_fill(*, images: list[str] | None = None, progress: Progress) -> list[str]:
    """Push the deck's base images into the local mirror; returns the `HOST:PORT/repo:tag` names now served.

    `images` are official names (default: settings.PODIUM_PYTHON_IMAGE and PODIUM_MYSQL_IMAGE); each
    is pushed from the image `provision.images.image_for` picks (the official one, or its local
    stand-in) as `library/python:3.11-slim` etc., the name under which a mirror serves Docker Hub's
    `python:3.11-slim`. Layers already in the mirror are not sent again, so a second fill is quick.
    """
    if settings.PODIUM_REGISTRY_MIRROR:
        progress("registry mirror: PODIUM_REGISTRY_MIRROR is set; fill that mirror yourself")
        return []
    address = registry_ensure(progress=progress)
    client = engine_client(timeout=PUSH_TIMEOUT)
    names = images if images is not None else [role.official for role in deck_images()]
    served = []
    with _loopback_forwarder(address) as local:
        for official in names:
            repository, tag = mirror_repository(official)
            source = image_for(official)
            progress(f"registry mirror: pushing {source} as {address}/{repository}:{tag}")
            started = time.monotonic()
            _push(client=client, source=source, target=f"{local}/{repository}", tag=tag)
            progress(f"registry mirror: {repository}:{tag} pushed in {time.monotonic() - started:.1f} s")
            served.append(f"{address}/{repository}:{tag}")
    return served


def mirror_repository(official: str) -> tuple[str, str]:
    """(repository, tag) a Docker Hub mirror serves an image as: `python:3.11-slim` -> ("library/python", "3.11-slim").

    Raises RegistryError for names a Docker Hub mirror cannot serve (another registry's host, a digest).
    """
    name, _, tag = official.rpartition(":")
    if not name or "/" in tag:
        name, tag = official, "latest"
    if "@" in official:
        raise RegistryError(f"{official}: a digest-pinned image cannot be served by the mirror; use a tag")
    parts = name.split("/")
    if parts[0] in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        parts = parts[1:]
    elif len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        raise RegistryError(f"{official}: only Docker Hub images go through a registry mirror, not {parts[0]}'s")
    if len(parts) == 1:
        parts = ["library", *parts]
    return "/".join(parts), tag


def _push(*, client: docker.DockerClient, source: str, target: str, tag: str) -> None:
    image = client.images.get(source)
    image.tag(target, tag=tag)
    try:
        for chunk in client.api.push(target, tag=tag, stream=True, decode=True):
            if "error" in chunk:
                raise RegistryError(f"docker push {target}:{tag} failed: {chunk['error'].strip()}")
    except docker.errors.APIError as error:
        raise RegistryError(f"docker push {target}:{tag} failed: {error.explanation or error}") from None
    finally:
        with contextlib.suppress(docker.errors.APIError):
            client.images.remove(f"{target}:{tag}")  # only the temporary name; the image stays


def _config_write(address: str) -> Path:
    try:
        (REGISTRY_ROOT / "data").mkdir(parents=True, exist_ok=True)
        config = REGISTRY_ROOT / "config.yml"
        config.write_text(
            "# Written by Podium (provision/registry.py); rewritten on every start.\n"
            "version: 0.1\n"
            "log:\n  level: warn\n  fields:\n    service: podium-registry\n"
            "storage:\n"
            f"  filesystem:\n    rootdirectory: {REGISTRY_ROOT / 'data'}\n"
            "  delete:\n    enabled: true\n"
            "  cache:\n    blobdescriptor: inmemory\n"
            f"http:\n  addr: {address}\n"
        )
    except OSError as error:
        raise RegistryError(
            f"Cannot write the registry's folder {REGISTRY_ROOT} ({error.strerror}); "
            "run `manage.py sandbox prepare` as root once."
        ) from None
    return config


@contextlib.contextmanager
def _loopback_forwarder(address: str) -> Iterator[str]:
    """A TCP forwarder 127.0.0.1:<free port> -> address while the block runs; yields its `HOST:PORT`."""
    host, port = address.rsplit(":", 1)
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(256 * 1024):
                sink.sendall(chunk)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def connection(client_side: socket.socket) -> None:
        try:
            upstream = socket.create_connection((host, int(port)), timeout=10)
        except OSError:
            client_side.close()
            return
        client_side.settimeout(None)
        upstream.settimeout(None)
        back = threading.Thread(target=pipe, args=(upstream, client_side), daemon=True)
        back.start()
        pipe(client_side, upstream)
        back.join()
        upstream.close()
        client_side.close()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                client_side, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=connection, args=(client_side,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True, name="podium-registry-forwarder")
    thread.start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=2)
        listener.close()


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return f"    ({path} cannot be read)"
    return "\n".join(f"    {line}" for line in text)


def registry_pid() -> int | None:
    """The pid of the docker-registry `registry_ensure` started, when that process still runs."""
    try:
        pid = int((REGISTRY_ROOT / "registry.pid").read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid
