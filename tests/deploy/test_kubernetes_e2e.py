"""Podium deployed on the test cluster with `kubectl apply -k` (kubectl 1.20), as an operator deploys it.

deploy/kubernetes/overlays/test-cluster is applied; once web has 2 ready replicas, an attendee (a websocket
client with the session cookie the audience page gives) runs the shipped deck's `kubectl config
get-contexts` block through the web Service: web -> Redis -> worker -> a workspace pod the worker made through
the cluster API with the podium ServiceAccount. The output names the attendee's own namespace, and a file
the run wrote is in that workspace pod. Then the deployment is taken down as deploy/kubernetes/README.md
says, and nothing of it is left: no namespace, no cluster-wide object.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
import uuid

import pytest
import websockets
import yaml

from deck.selectors import deck_get
from sandbox.protocol import frame_read
from tests.cluster.helpers import Cluster, KubectlError, cluster_wait_for
from tests.deploy.kube_deploy import OVERLAY, deploy_copy

pytestmark = [pytest.mark.cluster, pytest.mark.docker, pytest.mark.slow]

SLUG = "intro-docker-kubernetes"
INSTANCE = "podium-e2e"  # PODIUM_INSTANCE, PODIUM_K8S_NAMESPACE_PREFIX and the rest: the overlay's
PREFIX = "pk8s-"
READY = 420  # seconds: images are local, but migrations and five deployments share two busy cores
WAIT = 240  # seconds for one message on the runs socket: the first run makes the namespace and the pod
GONE = 300  # seconds for the namespaces to be deleted
IMAGE_TAG = "k8s-e2e"  # podium/server:1 as this checkout built it, under a tag no other checkout rebuilds

# What Podium makes on the cluster by itself (the manifests make the rest): cluster-wide, named with its prefix.
RUNTIME_NAMESPACES = [f"{PREFIX}workspaces", f"{PREFIX}policyprobe"]
RUNTIME_POLICIES = [f"{PREFIX}baseline", f"{PREFIX}privileged"]
RUNTIME_CLUSTER_ROLES = [f"{PREFIX.rstrip('-')}:psp:baseline", f"{PREFIX.rstrip('-')}:psp:privileged"]


def shell_block(needle: str) -> str:
    """The id of the shipped deck's shell block whose code starts with `needle`."""
    for slide in deck_get(slug=SLUG).slides:
        for block in slide.blocks:
            if block.run_kind == "shell" and block.text.startswith(needle):
                return block.block_id
    raise AssertionError(f"the shipped deck has no shell block starting with {needle!r}")


def podium_left(cluster: Cluster) -> dict[str, list[str]]:
    """Everything of this deployment still on the cluster (Terminating namespaces count), by kind."""

    def names(*args: str) -> list[str]:
        return sorted(item["metadata"]["name"] for item in cluster.kubectl_json("get", *args)["items"])

    namespaces = names("namespace")
    return {
        "namespaces": [n for n in namespaces if n == "podium" or n.startswith(PREFIX)],
        "labelled namespaces": names("namespace", "-l", f"podium.instance={INSTANCE}"),
        "policies": [n for n in names("podsecuritypolicy") if n.startswith(PREFIX) or n == "podium-e2e-app"],
        "cluster roles": [
            n for n in names("clusterrole") if n in ("podium-sandboxes", "podium-e2e-app-psp") or n.startswith("pk8s:")
        ],
        "cluster role bindings": [n for n in names("clusterrolebinding") if n == "podium-sandboxes"],
        "part-of labelled": names("clusterrole,clusterrolebinding,namespace", "-l", "app.kubernetes.io/part-of=podium"),
    }


def take_down(cluster: Cluster, overlay=OVERLAY) -> None:
    """deploy/kubernetes/README.md's "Take it down", for this overlay: the sandboxes first (while Podium still has
    its rights), then the manifests, then what Podium made cluster-wide. Missing pieces are fine."""
    try:
        cluster.kubectl(
            "-n", "podium", "exec", "deploy/podium-culler", "--", "python", "manage.py", "sandbox", "remove-all",
            timeout=300,
        )  # fmt: skip
    except KubectlError as error:
        print(f"sandbox remove-all: {error}")  # not deployed, or already gone: its namespaces go below anyway
        for namespace in cluster_names(cluster, "namespace", "-l", f"podium.instance={INSTANCE}"):
            cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
    cluster.kubectl("delete", "-k", str(overlay), "--ignore-not-found", "--wait=false", timeout=300, check=False)
    cluster.kubectl("delete", "namespace", *RUNTIME_NAMESPACES, "--ignore-not-found", "--wait=false", check=False)
    cluster.kubectl("delete", "podsecuritypolicy", *RUNTIME_POLICIES, "--ignore-not-found", check=False)
    cluster.kubectl("delete", "clusterrole", *RUNTIME_CLUSTER_ROLES, "--ignore-not-found", check=False)


def cluster_names(cluster: Cluster, *args: str) -> list[str]:
    return [item["metadata"]["name"] for item in cluster.kubectl_json("get", *args)["items"]]


def diagnose(cluster: Cluster) -> str:
    """Pods, events and the logs of Podium's pods: what an operator looks at when it does not come up."""
    parts = [cluster.kubectl("-n", "podium", "get", "pods,jobs", "-o", "wide", check=False)]
    parts.append(cluster.kubectl("-n", "podium", "get", "events", "--sort-by=.lastTimestamp", check=False)[-3000:])
    for component in ("web", "worker", "migrate"):
        logs = cluster.kubectl(
            "-n", "podium", "logs", "-l", f"app.kubernetes.io/component={component}", "--all-containers",
            "--tail=30", check=False,
        )  # fmt: skip
        parts.append(f"--- {component} ---\n{logs}")
    return "\n".join(parts)


def overlay_with_this_checkouts_image(tmp_path, server) -> str:
    """The test-cluster overlay, in a copy of deploy/kubernetes/ whose podium/server image is `server`, tagged
    IMAGE_TAG: other checkouts on the machine rebuild podium/server:1 from their code while this test runs."""
    server.tag("podium/server", IMAGE_TAG)
    overlay = deploy_copy(tmp_path) / "overlays" / "test-cluster"
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    kustomization["images"].append({"name": "podium/server", "newTag": IMAGE_TAG})
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return str(overlay)


@pytest.fixture
def deployed(cluster: Cluster, podium_images, tmp_path):
    """The overlay applied with the cluster's own kubectl (1.20) and web ready; taken down afterwards, pass or fail.
    Yields (web's ClusterIP, the overlay applied)."""
    take_down(cluster)  # the remains of an interrupted run
    cluster_wait_for(
        lambda: not any(podium_left(cluster).values()), what="an earlier run's deployment to go", timeout=GONE
    )
    overlay = overlay_with_this_checkouts_image(tmp_path, podium_images["server"])
    cluster.kubectl("apply", "-k", overlay, timeout=300)
    try:
        cluster_wait_for(
            lambda: (
                cluster.kubectl_json("-n", "podium", "get", "deployment", "podium-web")["status"].get("readyReplicas")
                == 2
            ),
            what="web with 2 ready replicas (readiness: /readyz, the cluster included)",
            timeout=READY,
            diagnose=lambda: diagnose(cluster),
        )
        yield cluster.kubectl_json("-n", "podium", "get", "service", "podium-web")["spec"]["clusterIP"], overlay
    finally:
        take_down(cluster, overlay)


class Page:
    """An attendee's runs socket; every message kept in order."""

    def __init__(self, socket) -> None:
        self.socket = socket
        self.log: list[dict] = []

    async def run(self, block: str, code: str | None = None) -> tuple[dict, str]:
        """Run `block` (with `code` as the attendee edited it); its run.finished and its output."""
        message = {"type": "run", "block": block} | ({"code": code} if code is not None else {})
        await self.socket.send(json.dumps(message))
        accepted = await self.wait_for(lambda m: m["type"] in ("run.accepted", "error"))
        assert accepted["type"] == "run.accepted", accepted
        run = accepted["run"]
        end = await self.wait_for(lambda m: m["type"] == "run.finished" and m["run"] == run)
        output = "".join(m["data"] for m in self.log if m["type"] == "run.output" and m["run"] == run)
        return end, output

    async def wait_for(self, predicate) -> dict:
        index = 0
        while True:
            while index < len(self.log):
                if predicate(self.log[index]):
                    return self.log.pop(index)
                index += 1
            self.log.append(frame_read(await asyncio.wait_for(self.socket.recv(), WAIT)))


def session_of(base_url: str) -> str:
    """The `sessionid` the audience page gives a browser."""
    with urllib.request.urlopen(f"{base_url}/decks/{SLUG}/", timeout=60) as response:  # noqa: S310 - the cluster
        for cookie in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = cookie.partition("=")
            if name.strip() == "sessionid":
                return rest.split(";", 1)[0]
    raise AssertionError("the audience page set no session cookie")


async def test_podium_deployed_with_kubectl_apply_k_runs_an_attendees_block_in_their_namespace(cluster, deployed):
    address, overlay = deployed
    base_url = f"http://{address}"
    session = await asyncio.to_thread(session_of, base_url)
    headers = {"Cookie": f"sessionid={session}", "Origin": base_url}
    proof = uuid.uuid4().hex
    async with websockets.connect(f"ws://{address}/ws/decks/{SLUG}/runs/", additional_headers=headers) as socket:
        page = Page(socket)
        contexts, output = await page.run(shell_block("kubectl config get-contexts"))
        assert contexts["status"] == "ok", page.log
        edited, where = await page.run(
            shell_block("kubectl config get-contexts"), f"echo {proof} > /tmp/proof; hostname"
        )
        assert edited["status"] == "ok", page.log

    # The attendee's namespace: this install's only one, labelled with the backend; their kubectl's context.
    [namespace] = cluster_names(cluster, "namespace", "-l", f"podium.instance={INSTANCE},podium.backend=kubernetes")
    assert namespace.startswith(PREFIX)
    [current] = [line for line in output.splitlines() if line.startswith("*")]
    assert current.split()[1] == namespace and current.split()[-1] == namespace  # context and namespace columns
    # The run happened in the workspace pod Podium made for that namespace.
    pod = cluster.kubectl_json("-n", f"{PREFIX}workspaces", "get", "pod", namespace)
    assert pod["metadata"]["labels"]["podium.instance"] == INSTANCE
    assert cluster.kubectl("-n", f"{PREFIX}workspaces", "exec", namespace, "--", "cat", "/tmp/proof").strip() == proof
    assert where.strip().splitlines()[-1] == pod["spec"]["hostname"]

    take_down(cluster, overlay)
    cluster_wait_for(
        lambda: not any(podium_left(cluster).values()),
        what="every namespace and cluster-wide object of the deployment to be deleted",
        timeout=GONE,
        diagnose=lambda: json.dumps(podium_left(cluster), indent=1),
    )
