"""Building the attendee's workspace image (settings.PODIUM_WORKSPACE_IMAGE).

The build context is assembled in a temporary folder: this folder's Dockerfile
and scripts, plus a copy of the repo's `sample_app/` and `k8s/` under
`material/` (they become /workshop in the sandbox). The image carries a label
with a hash of that context, so `workspace_image_build` is a no-op while
nothing changed and rebuilds (from the engine's layer cache, usually seconds)
when the material or the scripts did.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import docker
import docker.errors
from django.conf import settings

from provision.images import base_image_name, engine_client
from sandbox.errors import SandboxUnavailable

HERE = Path(__file__).resolve().parent
CONTEXT_FILES = (
    "Dockerfile",
    "podium-entrypoint",
    "podium-run",
    "podium-ready",
    "podium-engine",
    "podium-agent",
    "podium-enter.c",
    "podium-shell.c",
    "shell-prelude.sh",
    "terminal-rc.sh",
)
MATERIAL = ("sample_app", "k8s")
HASH_LABEL = "org.podium.workspace.context"
BUILD_TIMEOUT = 30 * 60  # seconds; the apt layer downloads ~100 MB of Debian packages


class WorkspaceBuildError(SandboxUnavailable):
    """The workspace image could not be built; the message carries the build's last lines."""

    user_message = "The sandbox image is not ready on this server."


def workspace_image_build(*, progress: Callable[[str], None], force: bool = False) -> str:
    """Build the workspace image when it is missing or its context changed; returns the image id.

    `progress` gets one line per build step (and a closing summary). `force` rebuilds even when the
    image is up to date (still using the engine's layer cache). Needs the base image
    (`manage.py sandbox prepare` builds it); raises WorkspaceBuildError with the fix otherwise.
    """
    client = engine_client(timeout=BUILD_TIMEOUT)
    tag = settings.PODIUM_WORKSPACE_IMAGE
    base = base_image_name()
    try:
        client.images.get(base)
    except docker.errors.ImageNotFound:
        raise WorkspaceBuildError(
            f"The workspace image is built on {base}, which is not in the Docker engine. "
            "Run `manage.py sandbox prepare --offline` first (it builds the base images)."
        ) from None
    with tempfile.TemporaryDirectory(prefix="podium-workspace-") as folder:
        context = Path(folder)
        context_write(context=context, root=Path(settings.BASE_DIR))
        digest = context_hash(context)
        current = _image_get(client, tag)
        if current is not None and not force and (current.labels or {}).get(HASH_LABEL) == digest:
            progress(f"{tag}: up to date ({current.attrs.get('Size', 0) / 1e6:.0f} MB)")
            return current.id
        progress(f"{tag}: docker build from {base} (first time: a few minutes for the Debian packages)")
        started = time.monotonic()
        image_id = _build(client=client, context=context, tag=tag, base=base, digest=digest, progress=progress)
    image = client.images.get(image_id)
    progress(f"{tag}: built in {time.monotonic() - started:.0f} s, {image.attrs.get('Size', 0) / 1e6:.0f} MB")
    if current is not None and current.id != image.id:
        # still used by a running sandbox: the engine keeps it until that sandbox is gone
        with contextlib.suppress(docker.errors.APIError):
            client.images.remove(current.id)
    return image.id


def context_write(*, context: Path, root: Path) -> None:
    """Fill `context` with the Dockerfile, the scripts, and the material copied from the repo at `root`."""
    for name in CONTEXT_FILES:
        shutil.copy2(HERE / name, context / name)
    material = context / "material"
    material.mkdir()
    for name in MATERIAL:
        source = root / name
        if source.is_dir():
            shutil.copytree(
                source, material / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
            )
        else:
            (material / name).mkdir()


def context_hash(context: Path) -> str:
    """A digest of every file's path, mode and bytes under `context`: equal digests, equal images."""
    digest = hashlib.sha256()
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(context)).encode() + b"\0")
        digest.update(f"{path.stat().st_mode & 0o777:o}".encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _build(
    *, client: docker.DockerClient, context: Path, tag: str, base: str, digest: str, progress: Callable[[str], None]
) -> str:
    last: list[str] = []
    image_id = None
    try:
        for chunk in client.api.build(
            path=str(context),
            tag=tag,
            buildargs={"BASE_IMAGE": base},
            labels={HASH_LABEL: digest},
            rm=True,
            forcerm=True,
            decode=True,
        ):
            if "error" in chunk:
                last.append(chunk["error"].strip())
                raise WorkspaceBuildError(_failure(tag, last))
            line = (chunk.get("stream") or "").rstrip()
            if line:
                last = (last + line.splitlines())[-20:]
                if line.startswith("Step "):
                    progress(f"{tag}: {line}")
            if "aux" in chunk and "ID" in chunk["aux"]:
                image_id = chunk["aux"]["ID"]
    except docker.errors.APIError as error:
        raise WorkspaceBuildError(_failure(tag, [*last, str(error)])) from None
    if image_id is None:
        raise WorkspaceBuildError(_failure(tag, last or ["the engine reported no image id"]))
    return image_id


def _failure(tag: str, lines: list[str]) -> str:
    tail = "\n".join(f"    {line}" for line in lines[-15:])
    return f"docker build of {tag} failed. Its last lines:\n{tail}"


def _image_get(client: docker.DockerClient, name: str):
    try:
        return client.images.get(name)
    except docker.errors.ImageNotFound:
        return None
