"""deploy/kubernetes/, offline: what `kubectl apply -k` would send, built by kubectl 1.20's kustomize and a
current one, valid against the Kubernetes 1.20 and 1.28 schemas, shaped as an operator expects, and a
ServiceAccount holding exactly the rights the Kubernetes sandbox backend uses. The real apply is
test_kubernetes_e2e.py."""

from __future__ import annotations

import subprocess

import kubernetes_validate
import pytest

from sandbox.backends import namespace_spec
from sandbox.backends import pod_security_spec as psec
from sandbox.backends.base import SandboxSpec
from tests.conftest import ROOT
from tests.deploy.kube_deploy import DEPLOY, OVERLAY, deploy_copy, find, kubectls, kustomize_build, rights

# kubernetes-validate's jsonschema calls are deprecated upstream; that says nothing about the manifests.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

KUBECTLS = kubectls()
VERSIONS = ("1.20.0", "1.28.0")  # the oldest and newest schemas kubernetes-validate ships
PODIUM = ("podium-web", "podium-worker", "podium-culler")  # the Deployments that run Podium's image

# What the backend does besides what it grants attendees (sandbox/backends/kube_access.py, kube_client.py,
# kubernetes*.py, pod_security.py); server-side apply needs create and patch.
MANAGEMENT = {
    ("", "namespaces"): {"get", "list", "create", "patch", "delete"},
    ("", "resourcequotas"): {"create", "patch"},
    ("", "limitranges"): {"create", "patch"},
    ("networking.k8s.io", "networkpolicies"): {"create", "patch"},
    ("rbac.authorization.k8s.io", "roles"): {"create", "patch"},
    ("rbac.authorization.k8s.io", "rolebindings"): {"create", "patch", "delete"},
}
LEVELS = ("baseline", "restricted", "privileged")


def rights_needed(prefix: str) -> set[tuple[str, str, str, str]]:
    """Every right the backend uses, for an install whose PODIUM_K8S_NAMESPACE_PREFIX is `prefix`."""
    spec = SandboxSpec(sandbox_id="0" * 32, attendee_id="a", talk="t")
    role = namespace_spec.role(spec=spec, namespace="any", backend="kubernetes")
    needed = rights(role["rules"])  # Kubernetes lets Podium grant only what it holds (RBAC escalation prevention)
    needed |= {(group, resource, verb, "*") for (group, resource), verbs in MANAGEMENT.items() for verb in verbs}
    needed.add(("", "serviceaccounts", "impersonate", namespace_spec.WORKSPACE))  # the pod security probe
    for level in LEVELS:  # PodSecurityPolicy clusters: its policies, and the ClusterRoles it binds
        policy, cluster_role = psec.psp_name(level, prefix=prefix), psec.psp_cluster_role_name(level, prefix=prefix)
        needed |= rights(psec.pod_security_cluster_role(level, prefix=prefix)["rules"])  # `use`
        needed |= {("policy", "podsecuritypolicies", verb, policy) for verb in ("create", "patch")}
        needed |= {("rbac.authorization.k8s.io", "clusterroles", verb, cluster_role) for verb in ("create", "patch")}
    return needed


@pytest.fixture(scope="module", params=sorted(KUBECTLS) or ["none"])
def kubectl(request):
    if not KUBECTLS:
        pytest.fail("No kubectl to build the kustomizations: run tests/cluster/build.sh, or install kubectl.")
    return KUBECTLS[request.param]


@pytest.fixture(scope="module")
def production(kubectl, tmp_path_factory) -> list[dict]:
    """deploy/kubernetes/ as an operator applies it (secret.env filled in)."""
    return kustomize_build(kubectl, deploy_copy(tmp_path_factory.mktemp("deploy")))


@pytest.fixture(scope="module")
def test_cluster(kubectl) -> list[dict]:
    return kustomize_build(kubectl, OVERLAY)


@pytest.mark.parametrize("version", VERSIONS)
def test_every_object_is_valid_for_old_and_current_kubernetes(production, version):
    for item in production:
        kubernetes_validate.validate(item, version, strict=True)


def test_the_test_clusters_overlay_is_valid_for_its_kubernetes(test_cluster):
    for item in test_cluster:  # with a PodSecurityPolicy: 1.20-1.24 only, like the cluster it is for
        kubernetes_validate.validate(item, "1.20.0", strict=True)


def test_it_deploys_podium_in_its_namespace_with_the_kubernetes_backend(production):
    kinds = sorted({item["kind"] for item in production})
    assert kinds == [
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "Deployment",
        "Job",
        "Namespace",
        "PersistentVolumeClaim",
        "Secret",
        "Service",
        "ServiceAccount",
    ]
    for item in production:
        if item["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
            assert item["metadata"]["namespace"] == "podium", item["metadata"]
    config = find(production, "ConfigMap", "podium")["data"]
    assert config["PODIUM_SANDBOX_BACKEND"] == "kubernetes" and config["PODIUM_KUBECONFIG"] == "in-cluster"
    assert config["PODIUM_EMBEDDED_WORKER"] == "0" and config["REDIS_URL"] == "redis://podium-redis:6379/0"
    assert "localhost" in config["ALLOWED_HOSTS"].split(",")  # the probes' Host
    secret = find(production, "Secret", "podium")
    assert set(secret["data"]) == {"SECRET_KEY", "PODIUM_DB_PASSWORD", "PODIUM_DB_ROOT_PASSWORD", "DATABASE_URL"} | {
        "PODIUM_METRICS_TOKEN"
    }
    web = find(production, "Service", "podium-web")["spec"]
    assert web["ports"] == [{"name": "http", "port": 80, "targetPort": "http"}]


def test_web_worker_culler_and_migrate_run_podiums_image_as_non_root_with_limits(production):
    web = find(production, "Deployment", "podium-web")
    assert web["spec"]["replicas"] == 2
    [container] = web["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert "command" not in container  # the image's own: daphne on :8000
    commands = {
        name: find(production, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]["command"]
        for name in ("podium-worker", "podium-culler")
    }
    assert commands == {
        "podium-worker": ["python", "manage.py", "runworker", "sandbox-runs"],
        "podium-culler": ["python", "manage.py", "sandbox", "cull", "--every", "60"],
    }
    migrate = find(production, "Job", "podium-migrate")["spec"]["template"]["spec"]
    assert migrate["containers"][0]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    for pod in [find(production, "Deployment", name)["spec"]["template"]["spec"] for name in PODIUM] + [migrate]:
        assert pod["securityContext"]["runAsNonRoot"] is True
        for each in pod["containers"] + pod.get("initContainers", []):
            assert each["image"] == "podium/server:1"
            assert each["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    for item in production:
        if item["kind"] in ("Deployment", "Job"):
            pod = item["spec"]["template"]["spec"]
            for each in pod["containers"] + pod.get("initContainers", []):
                assert set(each["resources"]) == {"requests", "limits"}, (item["metadata"]["name"], each["name"])
            # Only Podium's own pods carry the ServiceAccount's token.
            holds_token = pod.get("serviceAccountName") == "podium"
            assert holds_token == (item["metadata"]["name"] in PODIUM)
            assert holds_token or pod["automountServiceAccountToken"] is False


def test_the_service_account_holds_exactly_what_the_sandbox_backend_uses(production, test_cluster):
    binding = find(production, "ClusterRoleBinding", "podium-sandboxes")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "podium", "namespace": "podium"}]
    assert binding["roleRef"]["name"] == "podium-sandboxes"
    granted = rights(find(production, "ClusterRole", "podium-sandboxes")["rules"])
    assert granted == rights_needed("podium-")
    # The test cluster's install has a prefix of its own, and its ClusterRole follows it.
    config = find(test_cluster, "ConfigMap", "podium")["data"]
    assert config["PODIUM_K8S_NAMESPACE_PREFIX"] == "pk8s-"
    assert rights(find(test_cluster, "ClusterRole", "podium-sandboxes")["rules"]) == rights_needed("pk8s-")


def test_no_secret_is_committed():
    tracked = subprocess.run(
        ["git", "ls-files", str(DEPLOY)], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert "deploy/kubernetes/secret.env" not in tracked and "deploy/kubernetes/secret.env.example" in tracked
    example = dict(
        line.split("=", 1) for line in (DEPLOY / "secret.env.example").read_text().splitlines() if "=" in line
    )
    assert example["SECRET_KEY"] == "" and example["PODIUM_DB_PASSWORD"] == ""
    assert (DEPLOY / ".gitignore").read_text().split() == ["secret.env"]
