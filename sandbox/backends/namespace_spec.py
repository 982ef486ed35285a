"""Pure builders of an attendee's Kubernetes namespace and what guards it, for both backends.

One namespace per sandbox holds everything the attendee creates: a
ResourceQuota and a LimitRange (sizes from the cluster configuration), the
`workspace` ServiceAccount with a Role and RoleBinding that reach nothing
outside the namespace, a NetworkPolicy letting only the namespace's own pods
(and the attendee's workspace pod) in, and the pod security level its pods
must meet (pod_security_spec.py). Nothing of Podium's own runs in it: the
Kubernetes backend's workspace pod lives in the workspaces namespace
(kubernetes_spec.py). Deleting the namespace deletes all of it. Nothing here talks to a cluster: every
function returns the dicts the API takes, so tests compare dicts;
`sandbox/backends/kube_access.py` sends them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.backends import pod_security_spec as psec
from sandbox.backends.base import SandboxSpec
from sandbox.backends.docker_spec import LABEL_SANDBOX
from sandbox.backends.kubernetes_spec import (
    ALL_VERBS,
    ISOLATION,
    LABEL_ROLE,
    LIMITS,
    QUOTA,
    READ_VERBS,
    ROLE_WORKSPACES,
    TOKEN_SECRET,
    WORKSPACE,
    label_value,
    sandbox_labels,
)


@dataclass(frozen=True)
class NamespaceLimits:
    """What one attendee's namespace may use in total, as settings spell it (Kubernetes quantities)."""

    cpu: str = "6"
    memory: str = "8Gi"
    pods: int = 20


def namespace_object(*, spec: SandboxSpec, name: str, backend: str, level: str, version: str) -> dict:
    """The attendee's namespace, labelled with sandbox, attendee, talk and install, and with the Pod Security
    level its pods must meet: "baseline" or "restricted", enforced, warned about and audited at the pinned
    policy `version` where the cluster has Pod Security Admission (1.23 on; older ones ignore the labels
    and get pod_security_role_binding). Podium's own workspace pod never runs here, so nothing needs more."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {
                **sandbox_labels(spec, backend=backend),
                **psec.pod_security_labels(level=psec.level_check(level), version=version),
            },
            "annotations": {"podium/talk": spec.talk, "podium/attendee": spec.attendee_id},
        },
    }


def resource_quota(*, spec: SandboxSpec, namespace: str, backend: str, limits: NamespaceLimits) -> dict:
    """The namespace's total: CPU, memory and pods of what the attendee creates; no NodePort or LoadBalancer
    Service, which would open a port on every node."""
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": QUOTA, "namespace": namespace, "labels": sandbox_labels(spec, backend=backend)},
        "spec": {
            "hard": {
                "requests.cpu": limits.cpu,
                "limits.cpu": limits.cpu,
                "requests.memory": limits.memory,
                "limits.memory": limits.memory,
                "pods": str(limits.pods),
                "services": "10",
                "services.nodeports": "0",
                "services.loadbalancers": "0",
                "persistentvolumeclaims": "5",
            }
        },
    }


def limit_range(*, spec: SandboxSpec, namespace: str, backend: str, limits: NamespaceLimits) -> dict:
    """Defaults for containers that state no resources (a quota on limits refuses those otherwise),
    and no single container larger than the whole quota."""
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": LIMITS, "namespace": namespace, "labels": sandbox_labels(spec, backend=backend)},
        "spec": {
            "limits": [
                {
                    "type": "Container",
                    "default": {"cpu": "500m", "memory": "512Mi"},
                    "defaultRequest": {"cpu": "50m", "memory": "64Mi"},
                    "max": {"cpu": limits.cpu, "memory": limits.memory},
                }
            ]
        },
    }


def service_account(*, spec: SandboxSpec, namespace: str, backend: str) -> dict:
    """The identity kubectl in the workspace uses."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": WORKSPACE, "namespace": namespace, "labels": sandbox_labels(spec, backend=backend)},
        "automountServiceAccountToken": True,
    }


def token_secret(*, spec: SandboxSpec, namespace: str, backend: str) -> dict:
    """A long-lived token of the ServiceAccount (filled in by the cluster's token controller), for the
    kubeconfig a Docker workspace gets. Asked for explicitly: clusters from 1.24 on no longer make one."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/service-account-token",
        "metadata": {
            "name": TOKEN_SECRET,
            "namespace": namespace,
            "labels": sandbox_labels(spec, backend=backend),
            "annotations": {"kubernetes.io/service-account.name": WORKSPACE},
        },
    }


def role(*, spec: SandboxSpec, namespace: str, backend: str) -> dict:
    """What the attendee may do in their namespace: the objects a workshop uses, read-only for the namespace's
    own guard rails (quota, limits, network policy) and nothing about RBAC, so they cannot widen their rights."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": WORKSPACE, "namespace": namespace, "labels": sandbox_labels(spec, backend=backend)},
        "rules": [
            {
                "apiGroups": [""],
                "resources": [
                    "pods",
                    "pods/log",
                    "pods/exec",
                    "pods/attach",
                    "pods/portforward",
                    "services",
                    "endpoints",
                    "configmaps",
                    "secrets",
                    "persistentvolumeclaims",
                    "serviceaccounts",
                ],
                "verbs": ALL_VERBS,
            },
            {
                "apiGroups": [""],
                "resources": ["events", "resourcequotas", "limitranges", "pods/status", "replicationcontrollers"],
                "verbs": READ_VERBS,
            },
            {
                "apiGroups": ["apps"],
                "resources": [
                    "deployments",
                    "deployments/scale",
                    "replicasets",
                    "replicasets/scale",
                    "statefulsets",
                    "statefulsets/scale",
                    "daemonsets",
                ],
                "verbs": ALL_VERBS,
            },
            {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": ALL_VERBS},
            {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": ALL_VERBS},
            {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": ALL_VERBS},
            {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"], "verbs": ALL_VERBS},
            {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": READ_VERBS},
            {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": READ_VERBS},
        ],
    }


def role_binding(*, spec: SandboxSpec, namespace: str, backend: str) -> dict:
    """The Role, given to the namespace's workspace ServiceAccount only."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": WORKSPACE, "namespace": namespace, "labels": sandbox_labels(spec, backend=backend)},
        "subjects": [{"kind": "ServiceAccount", "name": WORKSPACE, "namespace": namespace}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": WORKSPACE},
    }


def network_policy(*, spec: SandboxSpec, namespace: str, backend: str) -> dict:
    """Only pods of the same namespace, and the attendee's own workspace pod (in the workspaces namespace),
    may connect to the namespace's pods (where the cluster's network plugin enforces policies)."""
    workspace = {
        "namespaceSelector": {"matchLabels": {LABEL_ROLE: ROLE_WORKSPACES}},
        "podSelector": {"matchLabels": {LABEL_SANDBOX: label_value(spec.sandbox_id)}},
    }
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": ISOLATION, "namespace": namespace, "labels": sandbox_labels(spec, backend=backend)},
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {}}, workspace]}],
        },
    }


def pod_security_role_binding(
    *, spec: SandboxSpec, namespace: str, backend: str, level: str, prefix: str = psec.PREFIX
) -> dict:
    """On a PodSecurityPolicy cluster: every ServiceAccount of the attendee's namespace may use Podium's policy
    of `level`, in this namespace only. Bound to the group of the namespace's ServiceAccounts, not to the
    attendee: a Deployment's pods are created by the ReplicaSet controller, and the admission plugin admits
    a pod when its creator or the pod's own ServiceAccount may use a policy. `prefix` names the policy
    (PODIUM_K8S_NAMESPACE_PREFIX)."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {
            "name": psec.BINDING,
            "namespace": namespace,
            "labels": sandbox_labels(spec, backend=backend),
        },
        "subjects": [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": f"system:serviceaccounts:{namespace}"}
        ],
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": psec.psp_cluster_role_name(psec.level_check(level), prefix=prefix),
        },
    }


def namespace_objects(
    *,
    spec: SandboxSpec,
    namespace: str,
    backend: str,
    limits: NamespaceLimits,
    level: str,
    version: str,
    engine: str,
    prefix: str = psec.PREFIX,
) -> list[dict]:
    """Everything that makes an attendee's namespace, in the order to create it (namespace first).

    `engine` is what guards it on this cluster (pod_security.py): with "psp" the namespace also
    gets the RoleBinding to Podium's PodSecurityPolicy of `level`, named with `prefix`
    (PODIUM_K8S_NAMESPACE_PREFIX).
    """
    common = {"spec": spec, "namespace": namespace, "backend": backend}
    objects = [
        namespace_object(spec=spec, name=namespace, backend=backend, level=level, version=version),
        resource_quota(**common, limits=limits),
        limit_range(**common, limits=limits),
        service_account(**common),
        token_secret(**common),
        role(**common),
        role_binding(**common),
        network_policy(**common),
    ]
    if engine == "psp":
        objects.append(pod_security_role_binding(**common, level=level, prefix=prefix))
    return objects


def service_account_kubeconfig(*, server: str, ca_data: str, token: str, namespace: str) -> dict:
    """A kubeconfig for the namespace's workspace ServiceAccount: `kubectl` with it reaches that namespace only.

    `ca_data` is the cluster CA as base64 (the token Secret's `ca.crt`, as stored); `server` the API
    server address as the workspace reaches it.
    """
    user = f"{namespace}-{WORKSPACE}"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "podium", "cluster": {"server": server, "certificate-authority-data": ca_data}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": namespace, "context": {"cluster": "podium", "user": user, "namespace": namespace}}],
        "current-context": namespace,
        "preferences": {},
    }
