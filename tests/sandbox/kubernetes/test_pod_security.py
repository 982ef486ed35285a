"""Pod security on the test cluster (1.20, PodSecurityPolicy plugin on), as the attendee, on both backends.

Every attempt is a block the attendee runs: YAML applied with their own namespace-scoped kubeconfig,
from a Kubernetes workspace pod or from a Docker workspace with PODIUM_KUBECONFIG set. Each attempt to
reach the node is refused, and the admission's own message reaches the run's output.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator

import pytest

from sandbox.backends.config import ClusterConfig, DockerConfig
from sandbox.backends.pod_security import pod_security_check
from tests.cluster.helpers import Cluster
from tests.sandbox.backend_runs import run
from tests.sandbox.kubernetes.helpers import spec_new

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

REFUSED = "is forbidden: PodSecurityPolicy: unable to admit pod"


def pod_yaml(name: str, *, pod: str = "", container: str = "") -> str:
    """A pod of the stand-in image with extra lines in its pod spec and its container."""
    return f"""\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
{pod}  containers:
    - name: main
      image: podium-standin/debian:bookworm
      imagePullPolicy: IfNotPresent
      command: ["sleep", "infinity"]
{container}"""


ATTEMPTS = {
    "privileged": (
        pod_yaml("privileged", container="      securityContext: {privileged: true}\n"),
        "Privileged containers are not allowed",
    ),
    "hostpath": (
        pod_yaml(
            "hostpath",
            pod="  volumes: [{name: host, hostPath: {path: /}}]\n",
            container="      volumeMounts: [{name: host, mountPath: /host}]\n",
        ),
        "hostPath volumes are not allowed to be used",
    ),
    "hostnetwork": (pod_yaml("hostnetwork", pod="  hostNetwork: true\n"), "Host network is not allowed to be used"),
    "hostpid": (pod_yaml("hostpid", pod="  hostPID: true\n"), "Host PID is not allowed to be used"),
    "hostipc": (pod_yaml("hostipc", pod="  hostIPC: true\n"), "Host IPC is not allowed to be used"),
    "capabilities": (
        pod_yaml("capabilities", container="      securityContext: {capabilities: {add: [SYS_ADMIN]}}\n"),
        'Invalid value: "SYS_ADMIN": capability may not be added',
    ),
    "nodeport": (
        """\
apiVersion: v1
kind: Service
metadata:
  name: nodeport
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80}]
""",
        "exceeded quota: podium-quota, requested: services.nodeports=1, used: services.nodeports=0, "
        "limited: services.nodeports=0",
    ),
}

ESCAPE_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: escape
spec:
  replicas: 1
  selector:
    matchLabels: {app: escape}
  template:
    metadata:
      labels: {app: escape}
    spec:
      hostPID: true
      volumes: [{name: host, hostPath: {path: /}}]
      containers:
        - name: main
          image: podium-standin/debian:bookworm
          imagePullPolicy: IfNotPresent
          command: ["sleep", "infinity"]
          securityContext: {privileged: true}
          volumeMounts: [{name: host, mountPath: /host}]
"""


@pytest.fixture(scope="module", params=["kubernetes", pytest.param("docker", marks=pytest.mark.docker)])
def attendee(request, backend, prepared) -> Iterator[tuple[object, dict]]:
    """(backend, state) of one attendee's sandbox: a Kubernetes workspace pod, or a Docker workspace whose
    kubeconfig reaches its own namespace on the same cluster."""
    if request.param == "kubernetes":
        chosen = backend
    else:
        from sandbox.backends.docker import DockerBackend

        chosen = DockerBackend(config=DockerConfig.from_settings())
    state = chosen.ensure(spec=spec_new(), state={}, progress=lambda message: None)
    assert state.get("namespace"), state
    try:
        yield chosen, state
    finally:
        chosen.destroy(state=state)


@pytest.mark.parametrize("attempt", sorted(ATTEMPTS))
def test_each_way_onto_the_node_is_refused_with_the_admission_message(attendee, prepared, attempt) -> None:
    backend, state = attendee
    manifest, message = ATTEMPTS[attempt]

    ran = run(backend, state, manifest, kind="apply")

    assert ran.result.exit_code != 0, ran.output
    assert message in ran.stream("stderr"), ran.output
    if attempt != "nodeport":
        assert f'pods "{attempt}" {REFUSED}' in ran.stream("stderr")
    kind = "service" if attempt == "nodeport" else "pod"
    assert prepared.kubectl("-n", state["namespace"], "get", kind, "--ignore-not-found", "-o", "name") == ""


def test_a_deployment_that_reaches_for_the_node_never_runs_a_pod_and_describe_says_why(attendee) -> None:
    backend, state = attendee

    ran = run(backend, state, ESCAPE_DEPLOYMENT, kind="apply")
    pods = run(backend, state, "kubectl get pods -l app=escape -o name")
    replicaset = run(backend, state, "kubectl describe replicaset -l app=escape")
    deployment = run(backend, state, "kubectl describe deployment escape")
    run(backend, state, "kubectl delete deployment escape")

    assert ran.result.exit_code == 0, ran.output  # the Deployment is accepted; its pods are not
    assert "deployment.apps/escape created" in ran.stream("stdout")
    if backend.name == "kubernetes":  # its Apply runs also read the controllers' refusals (kube_access)
        assert "Kubernetes did not start the pods of replicaset/escape-" in ran.stream("stderr")
        assert REFUSED in ran.stream("stderr")
    assert pods.stream("stdout") == ""
    assert "FailedCreate" in replicaset.output, replicaset.output
    for reason in ("Privileged containers are not allowed", "hostPath volumes are not allowed to be used"):
        assert reason in replicaset.output
    assert "Host PID is not allowed to be used" in replicaset.output
    assert "ReplicaFailure" in deployment.output and "FailedCreate" in deployment.output, deployment.output


def test_what_the_deck_needs_is_admitted_in_the_attendees_namespace(attendee) -> None:
    backend, state = attendee
    plain = pod_yaml("plain", container="      resources: {limits: {cpu: 50m, memory: 32Mi}}\n")

    ran = run(backend, state, plain, kind="apply")
    ready = run(backend, state, "kubectl wait --for=condition=ready pod/plain --timeout=90s")
    run(backend, state, "kubectl delete pod plain --wait=false")

    assert ran.result.exit_code == 0, ran.output
    assert ready.result.exit_code == 0, ready.output


def test_the_attendee_has_no_rights_in_the_workspaces_namespace(attendee) -> None:
    backend, state = attendee

    listed = run(backend, state, "kubectl get pods -n podium-workspaces")
    entered = run(backend, state, f"kubectl -n podium-workspaces exec {state['namespace']} -- true")

    assert listed.result.exit_code != 0 and "Forbidden" in listed.output
    assert entered.result.exit_code != 0 and "Forbidden" in entered.output


@pytest.fixture
def probe_config(prepared: Cluster) -> Iterator[ClusterConfig]:
    """The test cluster under a prefix of its own, so its probe namespace is this test's alone."""
    config = dataclasses.replace(ClusterConfig.from_settings(), namespace_prefix=f"podium-t{uuid.uuid4().hex[:6]}-")
    yield config
    prepared.kubectl("delete", "namespace", f"{config.namespace_prefix}policyprobe", "--wait=false", check=False)


def test_the_probe_finds_the_policy_enforced_and_refuses_a_cluster_that_lets_attendees_be_privileged(
    prepared, probe_config
) -> None:
    assert pod_security_check(probe_config, fresh=True) == pod_security_check(probe_config)
    assert pod_security_check(probe_config).engine == "psp"
    assert pod_security_check(probe_config).problem is None
    # An operator who granted every ServiceAccount the privileged policy (a common way to "fix" PSP).
    namespace = f"{probe_config.namespace_prefix}policyprobe"
    prepared.kubectl(
        "-n", namespace, "create", "rolebinding", "too-wide", "--clusterrole=podium:psp:privileged",
        f"--group=system:serviceaccounts:{namespace}",
    )  # fmt: skip

    refused = pod_security_check(probe_config, fresh=True)

    assert refused.engine == "psp"
    assert "does not refuse a privileged hostPath pod in an attendee's namespace" in (refused.problem or "")
    assert "PODIUM_K8S_POLICY_ENGINE=none" in refused.problem
    assert pod_security_check(dataclasses.replace(probe_config, policy_engine="none")).problem is None
