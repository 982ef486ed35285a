"""Pytest fixtures for tests that use the test Kubernetes cluster (tests/cluster/up.sh).

`cluster` (session): makes sure the cluster is up, running up.sh when it is not, and exports the
admin kubeconfig's path as PODIUM_TEST_KUBECONFIG. A cluster this fixture started is stopped with
down.sh at the end of the session (set PODIUM_CLUSTER_KEEP=1 to leave it running); one that was
already up (`make cluster-up`) is left alone. Nothing here skips: when the cluster cannot start,
the test errors with up.sh's own explanation, because CI can start it.

`cluster_namespace`: a fresh namespace for one test, deleted afterwards.

tests/cluster/conftest.py loads these; another test folder can too, with
`from tests.cluster.helpers import cluster, cluster_namespace  # noqa: F401` in its conftest.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SCRIPTS = Path(__file__).resolve().parent
UP_TIMEOUT = 45 * 60  # the first run on a machine also compiles Kubernetes (10-25 min on 2 shared cores)


class KubectlError(Exception):
    """kubectl exited non-zero; the message holds the command and its stderr.

    A plain Exception (not pytest.fail) so that `cluster_wait_for` can retry a command that fails
    until the cluster has caught up, e.g. a Service's DNS name in its first second.
    """


@dataclass(frozen=True)
class Cluster:
    """The running test cluster: where its kubeconfig and matching kubectl are."""

    kubeconfig: Path
    kubectl_path: Path
    server: str
    node_ip: str

    @property
    def cache_dir(self) -> Path:
        return self.kubeconfig.parent / "kubectl-cache"

    def kubectl(self, *args: str, stdin: str | None = None, timeout: float = 60, check: bool = True) -> str:
        """Run kubectl with the admin kubeconfig and return its stdout; raise KubectlError (with stderr) on error."""
        result = subprocess.run(
            # The discovery cache stays in the cluster's work dir, not in ~/.kube.
            [str(self.kubectl_path), "--kubeconfig", str(self.kubeconfig), "--cache-dir", str(self.cache_dir), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise KubectlError(f"kubectl {' '.join(args)} failed (exit {result.returncode}):\n{result.stderr.strip()}")
        return result.stdout

    def kubectl_json(self, *args: str) -> Any:
        """`kubectl ... -o json`, decoded."""
        return json.loads(self.kubectl(*args, "-o", "json"))

    def apply(self, manifest: dict, *, namespace: str) -> None:
        """Apply one object (a dict) into `namespace`."""
        self.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(manifest))


def cluster_env(path: Path) -> dict[str, str]:
    """The KEY=value lines up.sh writes to <cluster dir>/cluster.env."""
    values = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            values[key] = value
    return values


def _run_script(name: str, *args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPTS / name), *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """The test cluster, started for this session when it is not up yet (see the module docstring)."""
    was_up = _run_script("up.sh", "--check", timeout=60).returncode == 0
    if not was_up:
        started = _run_script("up.sh", timeout=UP_TIMEOUT)
        if started.returncode != 0:
            output = (started.stdout + started.stderr).strip().splitlines()
            pytest.fail(
                "The test cluster did not start (tests/cluster/up.sh, as root):\n" + "\n".join(output[-30:]),
                pytrace=False,
            )
    cluster_dir = Path(os.environ.get("PODIUM_CLUSTER_DIR", "/var/lib/podium-cluster"))
    env = cluster_env(cluster_dir / "cluster.env")
    os.environ["PODIUM_TEST_KUBECONFIG"] = env["PODIUM_TEST_KUBECONFIG"]
    try:
        yield Cluster(
            kubeconfig=Path(env["PODIUM_TEST_KUBECONFIG"]),
            kubectl_path=Path(env["PODIUM_CLUSTER_KUBECTL"]),
            server=env["PODIUM_CLUSTER_SERVER"],
            node_ip=env["PODIUM_CLUSTER_NODE_IP"],
        )
    finally:
        if not was_up and os.environ.get("PODIUM_CLUSTER_KEEP") != "1":
            _run_script("down.sh", "--quiet", timeout=300)


@pytest.fixture
def cluster_namespace(cluster: Cluster) -> Iterator[str]:
    """A namespace of its own for one test (`podium-test-<8 hex>`), deleted with everything in it afterwards."""
    name = f"podium-test-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", name)
    # Pods are refused until the namespace's default ServiceAccount exists.
    cluster_wait_for(
        lambda: cluster.kubectl("-n", name, "get", "serviceaccount", "default", "-o", "name", check=False),
        what=f"the default ServiceAccount of namespace {name}",
        timeout=60,
    )
    try:
        yield name
    finally:
        cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def cluster_wait_for(check: Callable[[], Any], *, what: str, timeout: float, diagnose=None) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` (and `diagnose()`'s text) after `timeout`."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except Exception as error:  # not there yet; keep the reason for the message
            last_error = error
        else:
            if result:
                return result
        time.sleep(0.5)
    details = f"\nlast error: {last_error!r}" if last_error else ""
    if diagnose is not None:
        details += "\n" + diagnose()
    pytest.fail(f"{what} did not happen within {timeout:.0f} s.{details}", pytrace=False)


def pod(name: str, image: str, command: list[str], **container: object) -> dict:
    """A one-container pod that never pulls (no registry can be reached here)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": name, "image": image, "imagePullPolicy": "Never", "command": command, **container}],
        },
    }


def pod_ready(cluster: Cluster, namespace: str, name: str, timeout: float = 120) -> dict:
    """Wait until the pod is Ready and return it; on failure show its events and status."""

    def ready() -> dict | None:
        item = cluster.kubectl_json("-n", namespace, "get", "pod", name)
        conditions = {c["type"]: c["status"] for c in item["status"].get("conditions", [])}
        return item if conditions.get("Ready") == "True" else None

    return cluster_wait_for(
        ready,
        what=f"pod {namespace}/{name} becoming Ready",
        timeout=timeout,
        diagnose=lambda: cluster.kubectl("-n", namespace, "describe", "pod", name, check=False),
    )


@dataclass(frozen=True)
class WebService:
    """A web server pod behind a Service named "web" on port 80: its cluster IP and the pod's own address."""

    cluster_ip: str
    pod_address: str
    port: int  # the pod's port


def web_service(cluster: Cluster, namespace: str, *, image: str, command: list[str], port: int = 8000) -> WebService:
    """Start `command` (serving HTTP on `port`) in pod "web" behind Service "web"; wait until the pod is Ready."""
    web = pod(
        "web",
        image,
        command,
        ports=[{"name": "http", "containerPort": port}],
        readinessProbe={"tcpSocket": {"port": port}, "periodSeconds": 1},
    )
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": "http"}]},
    }
    cluster.apply(web, namespace=namespace)
    cluster.apply(service, namespace=namespace)
    pod_address = pod_ready(cluster, namespace, "web")["status"]["podIP"]
    cluster_ip = cluster.kubectl_json("-n", namespace, "get", "service", "web")["spec"]["clusterIP"]
    return WebService(cluster_ip=cluster_ip, pod_address=pod_address, port=port)
