"""What the tests of deploy/kubernetes/ share: building the kustomizations, and reading RBAC rules as single rights.

Building needs a kubectl (its built-in kustomize): the test cluster's own (1.20, kustomize v2.0.3, the
oldest the manifests promise to work with) when tests/cluster/build.sh has made it, and the machine's
`kubectl` on PATH (a current one). No cluster is needed to build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.conftest import ROOT

DEPLOY = ROOT / "deploy" / "kubernetes"
OVERLAY = DEPLOY / "overlays" / "test-cluster"
CLUSTER_KUBECTL = Path(os.environ.get("PODIUM_K8S_CACHE", "/var/cache/podium/k8s-1.20.2")) / "bin" / "kubectl"

# The values a fresh secret.env gets in tests (deploy/kubernetes/secret.env.example names the keys).
SECRET_VALUES = {
    "SECRET_KEY": "manifest-test-only",
    "PODIUM_DB_PASSWORD": "0123abcd",
    "PODIUM_DB_ROOT_PASSWORD": "4567ef01",
    "DATABASE_URL": "mysql://podium:0123abcd@podium-db:3306/podium",
    "PODIUM_METRICS_TOKEN": "",
}


def kubectls() -> dict[str, Path]:
    """The kubectls on this machine that can build a kustomization, by a short name ("1.20", "path")."""
    found = {}
    if CLUSTER_KUBECTL.exists():
        found["1.20"] = CLUSTER_KUBECTL
    on_path = shutil.which("kubectl")
    if on_path:
        found["path"] = Path(on_path)
    return found


def kustomize_build(kubectl: Path, folder: Path) -> list[dict]:
    """`kubectl kustomize folder`, as objects; AssertionError with kustomize's message when it refuses."""
    result = subprocess.run(
        [str(kubectl), "kustomize", str(folder)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"{kubectl} kustomize {folder}:\n{result.stderr}"
    return [item for item in yaml.safe_load_all(result.stdout) if item]


def deploy_copy(target: Path) -> Path:
    """deploy/kubernetes/ copied to `target`, with a secret.env from the example, as an operator prepares it."""
    copy = target / "kubernetes"
    shutil.copytree(DEPLOY, copy, ignore=shutil.ignore_patterns("secret.env"))
    lines = []
    for line in (DEPLOY / "secret.env.example").read_text().splitlines():
        key = line.split("=", 1)[0]
        lines.append(f"{key}={SECRET_VALUES[key]}" if key in SECRET_VALUES else line)
    (copy / "secret.env").write_text("\n".join(lines) + "\n")
    return copy


def find(objects: list[dict], kind: str, name: str) -> dict:
    """The object of `kind` called `name` (generated names keep their hash suffix: matched by prefix)."""
    for item in objects:
        if item["kind"] == kind and (
            item["metadata"]["name"] == name or item["metadata"]["name"].startswith(name + "-")
        ):
            return item
    raise AssertionError(f"no {kind} {name} in {[(o['kind'], o['metadata']['name']) for o in objects]}")


def rights(rules: list[dict]) -> set[tuple[str, str, str, str]]:
    """RBAC rules as single rights (API group, resource, verb, resource name or "*")."""
    found = set()
    for rule in rules:
        for group in rule.get("apiGroups", []):
            for resource in rule.get("resources", []):
                for verb in rule["verbs"]:
                    for name in rule.get("resourceNames") or ["*"]:
                        found.add((group, resource, verb, name))
    return found
