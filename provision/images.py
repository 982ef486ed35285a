"""The container images the deck's material builds on, and how they get into the engine.

The workshop's Dockerfiles start `FROM ${PYTHON_IMAGE}` and `FROM ${MYSQL_IMAGE}`
(official `python:3.11-slim` and `mysql:8` by default). Where a registry
answers, `image_prepare_all` pulls those. These machines have none, so it
builds local stand-ins instead: a Debian bookworm root filesystem from
debootstrap (cached under settings.PODIUM_IMAGE_CACHE_DIR), `docker import`ed
as `podium-standin/debian:bookworm`, then `scripts/images/python/` and
`scripts/images/mysql/` built on it. Stand-ins carry the label
`org.podium.standin=true`; `image_for` tells callers which image to pass as
the build argument.

Reads (is the engine up, which images exist, their labels) use the docker SDK:
structured answers and typed errors, no output parsing, fast enough for the
< 2 s no-op. Pull, import and build run the docker CLI (steps.py).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
from django.conf import settings

from provision.apt_sources import BASE_SUITE, apt_mirrors
from provision.steps import (
    Clock,
    EngineUnavailable,
    ImageError,
    ImageMissing,
    Progress,
    docker_cli,
    prepare_lock,
    stream_run,
)

__all__ = ["EngineUnavailable", "ImageError", "ImageMissing", "apt_mirrors"]  # here for callers of this module

STANDIN_LABEL = "org.podium.standin"
STANDIN_FOR_LABEL = "org.podium.standin.for"
# Debian bookworm's Python: the stand-in is this version whatever its tag says.
STANDIN_PYTHON_VERSION = "3.11"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")

ENGINE_TIMEOUT = 10  # seconds for one engine API call
REGISTRY_PROBE_TIMEOUT = 10  # seconds to decide whether a registry answers at all
PULL_TIMEOUT = 20 * 60  # a real pull on a slow link may take minutes
BUILD_TIMEOUT = 20 * 60
ROOTFS_TIMEOUT = 10 * 60


@dataclass(frozen=True)
class ImageRole:
    """One image the deck needs: its role (which recipe builds a stand-in) and its official name."""

    role: str  # "python" or "mysql": the folder under scripts/images/
    official: str  # e.g. "python:3.11-slim", from settings

    @property
    def standin(self) -> str:
        return standin_name(self.official)


@dataclass(frozen=True)
class ImageChoice:
    """Which image will be used for one role, after prepare (or as found)."""

    role: str
    official: str
    image: str  # the name to build from: the official one or the stand-in
    standin: bool
    size_bytes: int
    action: str = "present"  # "present", "pulled" or "built"

    def describe(self) -> str:
        kind = "local stand-in" if self.standin else "official image"
        return f"{self.official} -> {self.image} ({kind}, {self.size_bytes / 1e6:.0f} MB)"


def deck_images() -> list[ImageRole]:
    """The images the shipped deck's material builds on, named by the settings."""
    return [
        ImageRole(role="python", official=settings.PODIUM_PYTHON_IMAGE),
        ImageRole(role="mysql", official=settings.PODIUM_MYSQL_IMAGE),
    ]


def standin_name(official: str) -> str:
    """The local stand-in's name for an official image: `python:3.11-slim` -> `podium-standin/python:3.11-slim`.

    A registry host or namespace in the official name is dropped (`docker.io/library/python:3.11-slim`
    and `python:3.11-slim` share one stand-in).
    """
    return settings.PODIUM_STANDIN_PREFIX + official.rsplit("/", 1)[-1]


def base_image_name() -> str:
    """The debootstrapped Debian image every stand-in is built on."""
    return f"{settings.PODIUM_STANDIN_PREFIX}debian:{BASE_SUITE}"


def engine_client(*, timeout: int = ENGINE_TIMEOUT) -> docker.DockerClient:
    """A docker SDK client for an engine that answers, or `EngineUnavailable` saying how to start one."""
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except docker.errors.DockerException as error:
        host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        raise EngineUnavailable(
            f"No Docker engine answers at {host} ({_first_line(error)}). "
            "Start one with scripts/docker-up.sh (as root; it installs Docker on Debian if needed), then try again."
        ) from None
    return client


def image_for(name: str) -> str:
    """The image to build from for one of the deck's base images: the official one if present, else the stand-in.

    `name` is the official name as in the settings (`settings.PODIUM_PYTHON_IMAGE`, e.g. "python:3.11-slim") or
    its role ("python", "mysql"). Use the answer as the build argument: `--build-arg PYTHON_IMAGE=<answer>`.
    Raises `ImageMissing` (run `manage.py sandbox prepare`) when neither is there, `EngineUnavailable` without engine.
    """
    role = _role_for(name)
    choice = _choice_found(client=engine_client(), role=role)
    if choice is None:
        raise ImageMissing(
            f"Neither {role.official} nor its stand-in {role.standin} is in the Docker engine. "
            "Run `manage.py sandbox prepare` (add --offline on machines without a registry)."
        )
    return choice.image


def image_status_all() -> list[ImageChoice | None]:
    """For each image the deck needs, which one is in the engine now (None: neither). Builds nothing."""
    client = engine_client()
    return [_choice_found(client=client, role=role) for role in deck_images()]


def image_prepare_all(*, offline: bool, force: bool, progress: Progress) -> list[ImageChoice]:
    """Make sure every image the deck needs is in the engine: keep what is there, else pull, else build a stand-in.

    `offline` skips trying a registry. `force` redoes everything: pulls again, or re-runs debootstrap and
    rebuilds the stand-ins. `progress` receives one line per step, prefixed with the elapsed seconds.
    Returns the image chosen for each role. Raises `ImageError` (and subclasses) with a message naming the fix.
    """
    say = Clock(progress)
    client = engine_client()
    job = _Job(client=client, offline=offline, force=force, say=say)
    with prepare_lock(say, Path(settings.PODIUM_IMAGE_CACHE_DIR)):
        choices = [_prepare_one(job=job, role=role) for role in deck_images()]
    for choice in choices:
        say(choice.describe())
    return choices


# --- the steps ------------------------------------------------------------------------------------------------


@dataclass
class _Job:
    client: docker.DockerClient
    offline: bool
    force: bool
    say: Clock
    base_done: bool = False


def _prepare_one(*, job: _Job, role: ImageRole) -> ImageChoice:
    if not job.force:
        found = _choice_found(client=job.client, role=role)
        if found is not None:
            what = "stand-in" if found.standin else "official image"
            job.say(f"{role.official}: {what} {found.image} already in the engine; nothing to do")
            return found
    if job.offline:
        job.say(f"{role.official}: --offline, building the local stand-in {role.standin}")
    else:
        reachable, reason = _registry_answers(name=role.official)
        if reachable:
            _pull(job=job, name=role.official)
            return _choice_of(client=job.client, role=role, name=role.official, action="pulled")
        job.say(f"{role.official}: no registry answers ({reason}); building the local stand-in {role.standin}")
    _ensure_base(job=job)
    _build_standin(job=job, role=role)
    return _choice_of(client=job.client, role=role, name=role.standin, action="built")


def _registry_answers(*, name: str) -> tuple[bool, str]:
    # Asking the engine for the image's manifest is quick and tells "no registry" from "slow download";
    # a pull itself then gets all the time it needs.
    try:
        with contextlib.closing(docker.from_env(timeout=REGISTRY_PROBE_TIMEOUT)) as probe:
            probe.api.inspect_distribution(name)
    except docker.errors.APIError as error:
        return False, _first_line(error.explanation or error)
    except Exception as error:  # a timeout surfaces as a requests exception
        return False, _first_line(error)
    return True, ""


def _pull(*, job: _Job, name: str) -> None:
    job.say(f"{name}: pulling from the registry")
    stream_run(
        [docker_cli(), "pull", name],
        say=job.say,
        prefix=f"{name}: ",
        keep=lambda line: line.startswith(("Status:", "Digest:")) or line.endswith("Pull complete"),
        timeout=PULL_TIMEOUT,
        what=f"docker pull {name}",
    )


def _ensure_base(*, job: _Job) -> None:
    if job.base_done:
        return
    base = base_image_name()
    if not job.force and _image_get(client=job.client, name=base) is not None:
        job.say(f"{base}: already in the engine")
        job.base_done = True
        return
    rootfs = Path(settings.PODIUM_IMAGE_CACHE_DIR) / f"debian-{BASE_SUITE}-minbase.tar"
    if job.force or not rootfs.exists():
        _make_rootfs(job=job, rootfs=rootfs)
    else:
        job.say(f"{base}: using the cached root filesystem {rootfs}")
    job.say(f"{base}: docker import {rootfs}")
    old = _image_get(client=job.client, name=base)
    description = f"Local stand-in for the official debian:{BASE_SUITE} image (debootstrap minbase), by Podium."
    changes = [
        'CMD ["bash"]',
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        f'LABEL {STANDIN_LABEL}="true" {STANDIN_FOR_LABEL}="debian:{BASE_SUITE}" '
        f'org.opencontainers.image.description="{description}"',
    ]
    command = [docker_cli(), "import"]
    for change in changes:
        command += ["--change", change]
    stream_run(
        [*command, str(rootfs), base],
        say=job.say,
        prefix="",
        keep=lambda line: False,
        timeout=600,
        what=f"docker import of {rootfs} (if that file is damaged, run prepare again with --force)",
    )
    _remove_replaced(job=job, old=old, name=base)
    job.base_done = True


def _make_rootfs(*, job: _Job, rootfs: Path) -> None:
    if os.geteuid() != 0:
        raise ImageError(
            f"Building the stand-in images needs a Debian root filesystem, made with debootstrap, which needs root. "
            f"Run `manage.py sandbox prepare --offline` as root once (it caches the result in {rootfs.parent})."
        )
    if shutil.which("debootstrap") is None:
        raise ImageError(
            "debootstrap is not installed; it builds the Debian base of the stand-in images. "
            "Install it with `apt-get install debootstrap` (scripts/docker-up.sh does), then try again."
        )
    try:
        rootfs.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ImageError(f"Cannot create the image cache folder {rootfs.parent}: {error.strerror}.") from None
    mirror, security = apt_mirrors()
    script = Path(settings.BASE_DIR) / "scripts" / "images" / "debian-rootfs.sh"
    stream_run(
        [str(script), str(rootfs), mirror, security],
        say=job.say,
        prefix=f"{base_image_name()}: ",
        keep=lambda line: True,
        timeout=ROOTFS_TIMEOUT,
        what="scripts/images/debian-rootfs.sh",
    )


def _build_standin(*, job: _Job, role: ImageRole) -> None:
    recipe = Path(settings.BASE_DIR) / "scripts" / "images" / role.role
    if role.role == "python":
        wanted = re.match(r"(\d+\.\d+)", role.official.rsplit(":", 1)[-1]) if ":" in role.official else None
        if wanted and wanted.group(1) != STANDIN_PYTHON_VERSION:
            job.say(
                f"{role.official}: note: the stand-in has Debian {BASE_SUITE}'s Python {STANDIN_PYTHON_VERSION}, "
                f"not {wanted.group(1)}"
            )
    old = _image_get(client=job.client, name=role.standin)
    job.say(f"{role.standin}: docker build {recipe.relative_to(settings.BASE_DIR)}")
    with tempfile.TemporaryDirectory(prefix="podium-standin-") as context:
        shutil.copytree(recipe, context, dirs_exist_ok=True)
        # The host's CA bundle goes into the image (see scripts/images/python/Dockerfile).
        bundle = Path(context) / "host-ca-bundle.crt"
        bundle.write_bytes(HOST_CA_BUNDLE.read_bytes() if HOST_CA_BUNDLE.exists() else b"")
        stream_run(
            [
                docker_cli(),
                "build",
                "--tag",
                role.standin,
                "--build-arg",
                f"BASE_IMAGE={base_image_name()}",
                "--build-arg",
                f"OFFICIAL_IMAGE={role.official}",
                context,
            ],
            say=job.say,
            prefix=f"{role.standin}: ",
            keep=_is_build_step,
            timeout=BUILD_TIMEOUT,
            what=f"docker build of {role.standin}",
        )
    _remove_replaced(job=job, old=old, name=role.standin)


def _is_build_step(line: str) -> bool:
    # "Step 3/7 : RUN ..." (classic builder) or "#6 [2/4] RUN ..." (BuildKit, plain progress).
    return bool(re.match(r"Step \d+/\d+ : |#\d+ \[[^\]]*\d+/\d+\] ", line))


def _remove_replaced(*, job: _Job, old, name: str) -> None:
    # After --force the previous image is left untagged; drop it unless a container still uses it.
    if old is None:
        return
    new = _image_get(client=job.client, name=name)
    if new is not None and new.id != old.id:
        with contextlib.suppress(docker.errors.APIError):
            job.client.images.remove(old.id)


# --- engine reads -------------------------------------------------------------------------------------------------


def _role_for(name: str) -> ImageRole:
    for role in deck_images():
        if name in (role.role, role.official):
            return role
    known = ", ".join(f"{r.official} ({r.role})" for r in deck_images())
    raise ImageMissing(f"{name!r} is not one of the deck's base images: {known}.")


def _image_get(*, client: docker.DockerClient, name: str):
    try:
        return client.images.get(name)
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.APIError as error:
        raise ImageError(f"The Docker engine could not inspect {name}: {_first_line(error)}") from None


def _choice_found(*, client: docker.DockerClient, role: ImageRole) -> ImageChoice | None:
    # The official name wins when present (pulled, or tagged by someone on purpose); the label says what it is.
    for name in (role.official, role.standin):
        if _image_get(client=client, name=name) is not None:
            return _choice_of(client=client, role=role, name=name, action="present")
    return None


def _choice_of(*, client: docker.DockerClient, role: ImageRole, name: str, action: str) -> ImageChoice:
    image = _image_get(client=client, name=name)
    if image is None:
        raise ImageError(f"{name} should be in the engine after it was {action}, but it is not.")
    return ImageChoice(
        role=role.role,
        official=role.official,
        image=name,
        standin=(image.labels or {}).get(STANDIN_LABEL) == "true",
        size_bytes=int(image.attrs.get("Size") or 0),
        action=action,
    )


def _first_line(error: object) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
