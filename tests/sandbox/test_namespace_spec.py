"""The pure builders of an attendee's namespace and its guard rails: what Podium would send, compared as dicts."""

from __future__ import annotations

import pytest

from sandbox.backends import namespace_spec as nspec
from tests.sandbox.kube_values import LABELS, NS, SPEC


def test_namespace_carries_the_labels_and_enforces_warns_and_audits_its_level_at_a_pinned_version() -> None:
    baseline = nspec.namespace_object(spec=SPEC, name=NS, backend="docker", level="baseline", version="v1.25")

    assert baseline == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": NS,
            "labels": {
                **LABELS,
                "podium.backend": "docker",
                "pod-security.kubernetes.io/enforce": "baseline",
                "pod-security.kubernetes.io/enforce-version": "v1.25",
                "pod-security.kubernetes.io/warn": "baseline",
                "pod-security.kubernetes.io/warn-version": "v1.25",
                "pod-security.kubernetes.io/audit": "baseline",
                "pod-security.kubernetes.io/audit-version": "v1.25",
            },
            "annotations": {"podium/talk": SPEC.talk, "podium/attendee": SPEC.attendee_id},
        },
    }
    restricted = nspec.namespace_object(spec=SPEC, name=NS, backend="kubernetes", level="restricted", version="v1.27")
    assert restricted["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert restricted["metadata"]["labels"]["pod-security.kubernetes.io/audit-version"] == "v1.27"


@pytest.mark.parametrize("level", ["privileged", "Baseline", ""])
def test_an_attendee_namespace_is_never_privileged(level: str) -> None:
    with pytest.raises(ValueError, match="PODIUM_K8S_POD_SECURITY"):
        nspec.namespace_object(spec=SPEC, name=NS, backend="kubernetes", level=level, version="v1.25")


def test_quota_bounds_cpu_memory_pods_and_opens_no_node_ports() -> None:
    limits = nspec.NamespaceLimits(cpu="4", memory="6Gi", pods=12)

    assert nspec.resource_quota(spec=SPEC, namespace=NS, backend="kubernetes", limits=limits) == {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "podium-quota", "namespace": NS, "labels": LABELS},
        "spec": {
            "hard": {
                "requests.cpu": "4",
                "limits.cpu": "4",
                "requests.memory": "6Gi",
                "limits.memory": "6Gi",
                "pods": "12",
                "services": "10",
                "services.nodeports": "0",
                "services.loadbalancers": "0",
                "persistentvolumeclaims": "5",
            }
        },
    }


def test_limit_range_gives_defaults_and_caps_one_container_at_the_quota() -> None:
    limits = nspec.NamespaceLimits(cpu="4", memory="6Gi", pods=12)

    assert nspec.limit_range(spec=SPEC, namespace=NS, backend="kubernetes", limits=limits) == {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": "podium-limits", "namespace": NS, "labels": LABELS},
        "spec": {
            "limits": [
                {
                    "type": "Container",
                    "default": {"cpu": "500m", "memory": "512Mi"},
                    "defaultRequest": {"cpu": "50m", "memory": "64Mi"},
                    "max": {"cpu": "4", "memory": "6Gi"},
                }
            ]
        },
    }


def test_role_is_namespaced_and_grants_nothing_about_rbac_or_the_guard_rails() -> None:
    role = nspec.role(spec=SPEC, namespace=NS, backend="kubernetes")
    binding = nspec.role_binding(spec=SPEC, namespace=NS, backend="kubernetes")

    assert role["kind"] == "Role" and role["metadata"]["namespace"] == NS
    granted = {
        (group, resource): set(rule["verbs"])
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    assert granted[("apps", "deployments")] >= {"create", "patch", "delete", "list"}
    assert granted[("", "pods/exec")] >= {"create"}
    assert granted[("", "configmaps")] >= {"create", "get"}
    assert granted[("batch", "jobs")] >= {"create"}
    for guard in [("", "resourcequotas"), ("", "limitranges"), ("networking.k8s.io", "networkpolicies")]:
        assert granted[guard] == {"get", "list", "watch"}
    assert granted[("", "replicationcontrollers")] == {"get", "list", "watch"}  # `kubectl get all` lists them
    assert not [key for key in granted if key[0] == "rbac.authorization.k8s.io" or key[1] == "namespaces"]
    assert binding == {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "workspace", "namespace": NS, "labels": LABELS},
        "subjects": [{"kind": "ServiceAccount", "name": "workspace", "namespace": NS}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "workspace"},
    }


def test_network_policy_lets_only_the_namespace_and_the_attendees_own_workspace_pod_in() -> None:
    own_workspace = {
        "namespaceSelector": {"matchLabels": {"podium.role": "workspaces"}},
        "podSelector": {"matchLabels": {"podium.sandbox": SPEC.sandbox_id}},
    }
    assert nspec.network_policy(spec=SPEC, namespace=NS, backend="kubernetes") == {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "podium-isolation", "namespace": NS, "labels": LABELS},
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {}}, own_workspace]}],
        },
    }


def test_token_secret_asks_the_cluster_for_the_service_accounts_token() -> None:
    assert nspec.token_secret(spec=SPEC, namespace=NS, backend="kubernetes") == {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/service-account-token",
        "metadata": {
            "name": "workspace-token",
            "namespace": NS,
            "labels": LABELS,
            "annotations": {"kubernetes.io/service-account.name": "workspace"},
        },
    }


def test_namespace_objects_come_namespace_first_and_all_live_in_it() -> None:
    objects = nspec.namespace_objects(
        spec=SPEC,
        namespace=NS,
        backend="kubernetes",
        limits=nspec.NamespaceLimits(),
        level="baseline",
        version="v1.25",
        engine="psa",
    )

    assert [item["kind"] for item in objects] == [
        "Namespace",
        "ResourceQuota",
        "LimitRange",
        "ServiceAccount",
        "Secret",
        "Role",
        "RoleBinding",
        "NetworkPolicy",
    ]
    assert all(item["metadata"]["namespace"] == NS for item in objects[1:])


def test_kubeconfig_reaches_only_the_namespace_with_the_service_account_token() -> None:
    assert nspec.service_account_kubeconfig(
        server="https://172.17.0.1:6443", ca_data="Q0E=", token="t0k3n", namespace=NS
    ) == {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "podium", "cluster": {"server": "https://172.17.0.1:6443", "certificate-authority-data": "Q0E="}}
        ],
        "users": [{"name": f"{NS}-workspace", "user": {"token": "t0k3n"}}],
        "contexts": [{"name": NS, "context": {"cluster": "podium", "user": f"{NS}-workspace", "namespace": NS}}],
        "current-context": NS,
        "preferences": {},
    }


def test_on_a_psp_cluster_the_namespace_binds_its_level_to_its_own_service_accounts_only() -> None:
    objects = nspec.namespace_objects(
        spec=SPEC,
        namespace=NS,
        backend="docker",
        limits=nspec.NamespaceLimits(),
        level="restricted",
        version="v1.25",
        engine="psp",
    )

    assert objects[-1] == {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "podium-pod-security", "namespace": NS, "labels": {**LABELS, "podium.backend": "docker"}},
        "subjects": [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": f"system:serviceaccounts:{NS}"}
        ],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "podium:psp:restricted"},
    }
