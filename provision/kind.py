"""A kind cluster for laptops: what `manage.py sandbox kind-up` runs (`kind_up_plan` is pure; `kind_up` runs it).

kind (Kubernetes in Docker) gives a laptop the cluster for the Kubernetes half
of the deck. The plan creates the cluster (or reuses it), builds the two
sample_app images the deck's k8s/ manifests run, and loads them, MySQL and the
workspace image into the kind node.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml
from django.conf import settings

from provision.images import engine_client, image_for
from provision.registry import registry_address
from sandbox.errors import SandboxError

# The images pods of the deck's k8s/ manifests run, and how kind-up makes the two built from sample_app/
# (tag -> Dockerfile, the build argument naming its base image, that base image's role in provision.images).
MATERIAL_BUILDS = {
    "12factor:1.0": ("Dockerfile", "PYTHON_IMAGE", "python"),
    "12factor-dbinit:1.0": ("Dockerfile.dbinit", "MYSQL_IMAGE", "mysql"),
}


@dataclass(frozen=True)
class KindPlan:
    """What `manage.py sandbox kind-up` runs, in order, and the kubeconfig it leaves."""

    commands: list[list[str]]
    kubeconfig: Path
    config_text: str


def kind_config(*, api_address: str) -> str:
    """A kind cluster config whose API server listens on `api_address` (the docker bridge's gateway), so
    Docker workspaces reach it as well as this server does."""
    return yaml.safe_dump(
        {
            "kind": "Cluster",
            "apiVersion": "kind.x-k8s.io/v1alpha4",
            "networking": {"apiServerAddress": api_address, "apiServerPort": 6443},
        },
        sort_keys=False,
    )


def kind_up_plan(
    *,
    kind: str,
    docker: str,
    name: str,
    kubeconfig: Path,
    config_path: Path,
    exists: bool,
    api_address: str,
    base_images: dict[str, str],
    mysql_official: str,
    workspace_image: str,
    material: Path,
) -> KindPlan:
    """The commands that make a kind cluster ready for the workshop (pure: nothing runs here).

    Create the cluster (or, when it exists, export its kubeconfig), build the two sample_app images
    the k8s/ manifests run from the deck's base images (`base_images` by role, as
    `provision.images.image_for` answers), give a stand-in MySQL the official name the manifests use,
    and load those and the workspace image into the kind node.
    """
    commands: list[list[str]] = []
    if exists:
        commands.append([kind, "export", "kubeconfig", "--name", name, "--kubeconfig", str(kubeconfig)])
    else:
        commands.append(
            [
                kind,
                "create",
                "cluster",
                "--name",
                name,
                "--kubeconfig",
                str(kubeconfig),
                "--config",
                str(config_path),
                "--wait",
                "120s",
            ]
        )
    if base_images["mysql"] != mysql_official:
        commands.append([docker, "tag", base_images["mysql"], mysql_official])
    for tag, (dockerfile, argument, role) in MATERIAL_BUILDS.items():
        commands.append(
            [
                docker,
                "build",
                "-t",
                tag,
                "--build-arg",
                f"{argument}={base_images[role]}",
                "-f",
                str(material / dockerfile),
                str(material),
            ]
        )
    images = [workspace_image, mysql_official, *MATERIAL_BUILDS]
    commands.append([kind, "load", "docker-image", "--name", name, *images])
    return KindPlan(commands=commands, kubeconfig=kubeconfig, config_text=kind_config(api_address=api_address))


class KindError(Exception):
    """kind-up cannot go on; the message says why and what to do."""


def kind_up(*, name: str, kubeconfig: str, progress: Callable[[str], None]) -> Path:
    """Create (or reuse) the kind cluster `name` ready for the workshop; returns the kubeconfig it wrote.

    `kubeconfig` is where to write it ("" = var/kind-<name>.kubeconfig). Raises KindError without
    `kind` on PATH, without an engine or the base images, or when a step fails (its output is above).
    """
    kind = shutil.which("kind")
    if kind is None:
        raise KindError(
            "`kind` is not on PATH, so no cluster can be created here. Install kind "
            "(https://kind.sigs.k8s.io/docs/user/quick-start/#installation) and run `manage.py sandbox kind-up` "
            "again, or use any cluster you have: set PODIUM_KUBECONFIG to its kubeconfig and "
            "PODIUM_SANDBOX_BACKEND=kubernetes."
        )
    docker = shutil.which("docker") or "docker"
    try:
        client = engine_client()
        base_images = {role: image_for(role) for role in ("python", "mysql")}
    except SandboxError as error:
        raise KindError(str(error)) from None
    address = registry_address(client=client).rsplit(":", 1)[0]  # the docker bridge's gateway
    exists = (
        name in subprocess.run([kind, "get", "clusters"], capture_output=True, text=True, timeout=60).stdout.split()
    )
    target = Path(kubeconfig) if kubeconfig else Path(settings.VAR_DIR) / f"kind-{name}.kubeconfig"
    target.parent.mkdir(parents=True, exist_ok=True)
    config_path = target.with_suffix(".kind.yaml")
    plan = kind_up_plan(
        kind=kind,
        docker=docker,
        name=name,
        kubeconfig=target,
        config_path=config_path,
        exists=exists,
        api_address=address,
        base_images=base_images,
        mysql_official=settings.PODIUM_MYSQL_IMAGE,
        workspace_image=settings.PODIUM_WORKSPACE_IMAGE,
        material=Path(settings.BASE_DIR) / "sample_app",
    )
    config_path.write_text(plan.config_text)
    for command in plan.commands:
        progress("$ " + " ".join(command))
        if subprocess.run(command, stdin=subprocess.DEVNULL, timeout=30 * 60).returncode != 0:
            raise KindError(f"`{' '.join(command)}` failed; its output is above.")
    return target
