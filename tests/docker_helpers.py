"""Shared pytest fixtures for tests that use the real Docker engine (loaded by tests/conftest.py).

Nothing here skips: without an engine a test that asks for `docker_client` ERRORS, saying to run
scripts/docker-up.sh, because CI (.ci/run) starts one and a skipped Docker test would hide a broken setup.

Everything a test creates through `docker_scope` carries the label `podium.test=<uuid>` and is removed
after the test, pass or fail: containers (with their anonymous volumes), networks, volumes. Images are
not: tests tag them with stable names so the next run reuses the build cache.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

TEST_LABEL = "podium.test"
ENGINE_HINT = "Start one with `scripts/docker-up.sh` (as root); Docker tests are never skipped."


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """A docker SDK client for the local engine; the test errors (never skips) when none answers."""
    problem = None
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except docker.errors.DockerException as error:
        problem = str(error)
    if problem is not None:  # failed outside the except block, so the report is one sentence, not a chain
        pytest.fail(f"No Docker engine answers: {problem}. {ENGINE_HINT}", pytrace=False)
    yield client
    client.close()


class DockerScope:
    """Creates labelled containers, networks and volumes for one test, and removes them all afterwards."""

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client
        self.id = uuid.uuid4().hex
        self.labels = {TEST_LABEL: self.id}

    def name(self, what: str) -> str:
        """A name unique to this test, e.g. `podium-test-mysql-1a2b3c4d`."""
        return f"podium-test-{what}-{self.id[:8]}"

    def network(self, what: str = "net") -> Any:
        return self.client.networks.create(self.name(what), driver="bridge", labels=self.labels)

    def volume(self, what: str = "data") -> Any:
        return self.client.volumes.create(self.name(what), labels=self.labels)

    def run(self, image: str, *, what: str, network: Any = None, aliases: list[str] | None = None, **kwargs) -> Any:
        """`docker run -d` with this test's label; `aliases` are DNS names on `network`."""
        if network is not None:
            kwargs["network"] = network.name
            if aliases:
                kwargs["networking_config"] = {network.name: self.client.api.create_endpoint_config(aliases=aliases)}
        return self.client.containers.run(image, name=self.name(what), labels=self.labels, detach=True, **kwargs)

    def cleanup(self) -> None:
        docker_remove_labelled(self.client, label=f"{TEST_LABEL}={self.id}")


@pytest.fixture
def docker_scope(docker_client: docker.DockerClient) -> Iterator[DockerScope]:
    """A `DockerScope` for this test; what it created is removed at teardown, even when the test failed."""
    scope = DockerScope(docker_client)
    try:
        yield scope
    finally:
        scope.cleanup()


def docker_remove_labelled(client: docker.DockerClient, *, label: str) -> None:
    """Remove every container (with its anonymous volumes), then network, then volume carrying `label`.

    `label` is a filter like `podium.test=1234` or `com.docker.compose.project=name`. Errors are
    collected and raised at the end so one stuck object does not leave the others behind.
    """
    problems: list[str] = []
    for container in client.containers.list(all=True, filters={"label": label}):
        try:
            container.remove(force=True, v=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as error:
            problems.append(f"container {container.name}: {error}")
    for network in client.networks.list(filters={"label": label}):
        try:
            network.remove()
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as error:
            problems.append(f"network {network.name}: {error}")
    for volume in client.volumes.list(filters={"label": label}):
        try:
            volume.remove(force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as error:
            problems.append(f"volume {volume.name}: {error}")
    if problems:
        raise RuntimeError("Docker cleanup left things behind:\n" + "\n".join(problems))


def free_port() -> int:
    """A host TCP port nothing listens on right now, to publish a container port on."""
    with socket.socket() as probe:
        probe.bind(("0.0.0.0", 0))  # noqa: S104 - docker publishes on every interface
        return probe.getsockname()[1]


def http_get_json(url: str, *, timeout: float = 5) -> tuple[int, Any]:
    """Status and decoded JSON body of a GET (also for 4xx/5xx answers)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        body = error.read()
        with contextlib.suppress(ValueError):
            return error.code, json.loads(body)
        return error.code, body.decode(errors="replace")


def wait_for(check: Callable[[], Any], *, what: str, timeout: float, interval: float = 0.5, diagnose=None) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` (and `diagnose()`'s text) after `timeout`."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except Exception as error:  # the thing is not up yet; keep the reason for the message
            last_error = error
        else:
            if result:
                return result
        time.sleep(interval)
    details = f"\nlast error: {last_error!r}" if last_error else ""
    if diagnose is not None:
        details += "\n" + diagnose()
    pytest.fail(f"{what} did not happen within {timeout:.0f} s.{details}", pytrace=False)


def container_logs(*containers: Any, tail: int = 40) -> str:
    """The last lines of each container's log, for failure messages."""
    parts = []
    for container in containers:
        with contextlib.suppress(docker.errors.APIError):
            text = container.logs(tail=tail).decode(errors="replace")
            parts.append(f"--- {container.name} ---\n{text}")
    return "\n".join(parts)


@pytest.fixture(scope="session")
def base_images(docker_client: docker.DockerClient) -> dict[str, str]:
    """The base images to build the material from, by role ("python", "mysql"): official if present, else stand-ins.

    Runs `sandbox prepare --offline` first when they are missing (a no-op otherwise), so a fresh CI machine
    builds the stand-ins once here rather than failing.
    """
    from provision.images import deck_images, image_for, image_prepare_all

    image_prepare_all(offline=True, force=False, progress=print)
    return {role.role: image_for(role.role) for role in deck_images()}


def material_images_on_host(client: docker.DockerClient, base_images: dict[str, str]) -> None:
    """Build the workshop's images on the host engine, where the test cluster's kubelet finds them.

    A real cluster pulls them from a registry, and kind gets them through `kind load`; the test cluster
    runs its pods on this engine, so the images only need to be here, under the names the manifests use.
    """
    from provision.kind import MATERIAL_BUILDS

    material = Path(__file__).resolve().parent.parent / "sample_app"
    for tag, (dockerfile, argument, role) in MATERIAL_BUILDS.items():
        client.images.build(
            path=str(material), dockerfile=dockerfile, tag=tag, buildargs={argument: base_images[role]}, rm=True
        )
    if base_images["mysql"] != "mysql:8":  # the manifests run `mysql:8`; here that is the local stand-in
        client.images.get(base_images["mysql"]).tag("mysql", "8")


PODIUM_IMAGE = "podium/server:1"  # the root Dockerfile: web, worker, culler, migrate
INFRA_IMAGE = "podium/infra:1"  # deploy/compose/Dockerfile.infra: Redis (and the compose file's proxy, mirror)
SOURCE_LABEL = "org.podium.test.source"  # on images these tests build: the checkout they were built from


def source_stamp(root: Path) -> str:
    """A hash of what of the checkout goes into Podium's image, as it is now (committed or not); the folders
    .dockerignore leaves out (tests, bench, docs) do not count."""
    import hashlib
    import subprocess

    paths = ["--", ".", ":!tests", ":!bench", ":!docs"]

    def git(*args: str) -> bytes:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, check=True).stdout

    digest = hashlib.sha256(git("ls-files", "-s", *paths) + git("diff", "--binary", *paths))
    for name in sorted(git("ls-files", "--others", "--exclude-standard", "-z", *paths).split(b"\0")):
        if name and (root / name.decode()).is_file():
            digest.update(name + (root / name.decode()).read_bytes())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="session")
def podium_images(
    docker_client: docker.DockerClient, base_images: dict[str, str]
) -> dict[str, docker.models.images.Image]:
    """Podium's own images on the host engine (where the test cluster's kubelet and docker-compose find them),
    {"server": podium/server:1, "infra": podium/infra:1}, as image objects.

    podium/server:1 is built when missing (a clean CI machine) or built from another checkout than this one
    (its SOURCE_LABEL differs), so a test runs the code it sits beside; otherwise it is reused, and a test pays
    for the build (seconds to a minute with the layer cache) only when the code changed. podium/infra:1 (Debian
    packages only) is built when missing. Other checkouts on the machine may build the same tags: a test that
    keeps using an image for minutes should tag the returned image with a name of its own.
    """
    root = Path(__file__).resolve().parent.parent
    stamp = source_stamp(root)
    debian = "podium-standin/debian:bookworm" if base_images["python"].startswith("podium-standin/") else ""
    builds = {
        "server": (PODIUM_IMAGE, root, "Dockerfile", {"PYTHON_IMAGE": base_images["python"]}, {SOURCE_LABEL: stamp}),
        "infra": (INFRA_IMAGE, root / "deploy" / "compose", "Dockerfile.infra", {"DEBIAN_IMAGE": debian}, {}),
    }
    images = {}
    for role, (tag, context, dockerfile, arguments, labels) in builds.items():
        try:
            found = docker_client.images.get(tag)
        except docker.errors.ImageNotFound:
            found = None
        if found is None or any((found.labels or {}).get(key) != value for key, value in labels.items()):
            print(f"building {tag} from {context}")
            found, _ = docker_client.images.build(
                path=str(context),
                dockerfile=dockerfile,
                tag=tag,
                buildargs={key: value for key, value in arguments.items() if value},
                labels=labels,
                rm=True,
            )
        images[role] = found
    return images
