"""Pure builders for Kubernetes sandboxes: names, labels, the attendee's namespace and what goes in it.

Nothing here talks to a cluster: every function turns plain values into the
dicts the Kubernetes API takes (the shape `kubectl apply -f` reads), so tests
compare dicts, as KubeSpawner does for its pod spec. `sandbox/kube_access.py`
and `sandbox/backends/kubernetes.py` send them.

One namespace per sandbox holds everything of that attendee: a ResourceQuota
and a LimitRange (sizes from settings), the `workspace` ServiceAccount with a
Role and RoleBinding that reach nothing outside the namespace, a NetworkPolicy
letting only the namespace's own pods in, and - with the Kubernetes backend -
the workspace pod. Deleting the namespace deletes all of it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from docker.utils import parse_bytes

from sandbox.backends.base import RunRequest, SandboxSpec
from sandbox.backends.docker_spec import (
    LABEL_ATTENDEE,
    LABEL_INSTANCE,
    LABEL_MANAGED,
    LABEL_SANDBOX,
    LABEL_TALK,
    insecure_registry,
    run_command,
    run_environment,
    security_host_config,
)

LABEL_BACKEND = "podium.backend"  # "docker" or "kubernetes": which backend's sandbox the namespace belongs to

WORKSPACE = "workspace"  # the ServiceAccount, Role, RoleBinding and pod of the namespace
TOKEN_SECRET = "workspace-token"  # noqa: S105 - the Secret's name, not a password
QUOTA = "podium-quota"
LIMITS = "podium-limits"
ISOLATION = "podium-isolation"
WORKSPACE_CONTAINER = "workspace"
DOCKER_CONTAINER = "docker"

# Where the Docker sidecar's socket appears in the workspace container (the sidecar's /run, shared).
ENGINE_DIR = "/run/podium-engine"
DOCKER_HOST = f"unix://{ENGINE_DIR}/docker.sock"
WORKSPACE_MEMORY = "1Gi"  # the workspace container runs shells, kubectl and clients; builds run in the sidecar

ALL_VERBS = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]
READ_VERBS = ["get", "list", "watch"]

# Kinds whose controllers create pods at once: after an apply, their refusals (quota, limits) are looked up.
WORKLOAD_KINDS = ("deployment", "replicaset", "statefulset", "daemonset", "job")

_LABEL_VALUE = re.compile(r"[^A-Za-z0-9_.-]")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


@dataclass(frozen=True)
class NamespaceLimits:
    """What one attendee's namespace may use in total, as settings spell it (Kubernetes quantities)."""

    cpu: str = "6"
    memory: str = "8Gi"
    pods: int = 20


@dataclass(frozen=True)
class WorkspaceLimits:
    """Limits of the workspace pod's containers: Docker-style sizes from the PODIUM_SANDBOX_* settings."""

    memory: str = "2g"  # the Docker sidecar (it runs the attendee's builds and containers)
    cpus: float = 1.0  # each container
    pids: int = 1024  # the sidecar's inner engine keeps its containers below this (podium-entrypoint)
    disk: str = "10g"  # the inner engine's data volume; past it the kubelet evicts the pod


def namespace_name(*, sandbox_id: str, prefix: str = "podium-") -> str:
    """The sandbox's namespace, `<prefix><first 12 letters/digits of the id>`; ValueError when not a DNS label."""
    short = re.sub(r"[^a-z0-9]", "", sandbox_id.lower())[:12]
    name = f"{prefix}{short}"
    if not short or len(name) > 63 or not _DNS_LABEL.fullmatch(name):
        raise ValueError(
            f"namespace {name!r} (PODIUM_K8S_NAMESPACE_PREFIX={prefix!r}) is not a DNS label: "
            "lowercase letters, digits and '-', at most 63 characters"
        )
    return name


def label_value(text: str) -> str:
    """`text` as a valid label value: letters, digits, `-_.`, at most 63 characters, alphanumeric at both ends."""
    return _LABEL_VALUE.sub("-", text)[:63].strip("-_.")


def sandbox_labels(spec: SandboxSpec, *, backend: str) -> dict[str, str]:
    """Labels on the namespace and everything in it, so a restarted server finds them again."""
    return {
        LABEL_MANAGED: "1",
        LABEL_INSTANCE: label_value(spec.instance),
        LABEL_SANDBOX: label_value(spec.sandbox_id),
        LABEL_ATTENDEE: label_value(spec.attendee_id),
        LABEL_TALK: label_value(spec.talk),
        LABEL_BACKEND: backend,
    }


def managed_selector(*, instance: str, backend: str) -> str:
    """Label selector of every namespace one install's backend manages."""
    return f"{LABEL_MANAGED}=1,{LABEL_INSTANCE}={label_value(instance)},{LABEL_BACKEND}={backend}"


def namespace_object(*, spec: SandboxSpec, name: str, backend: str, privileged_workspace: bool) -> dict:
    """The attendee's namespace, labelled with sandbox, attendee, talk and install.

    The Pod Security label (enforced by clusters from 1.23 on; older ones ignore it) keeps
    attendees from creating privileged or host-mounting pods. A namespace whose own workspace pod
    runs a Docker engine with extra rights (privileged or the capability set) cannot have that
    rule, because it would refuse the workspace pod itself; there the Docker engine already is
    the trust boundary, as in the Docker backend.
    """
    level = "privileged" if privileged_workspace else "baseline"
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {**sandbox_labels(spec, backend=backend), "pod-security.kubernetes.io/enforce": level},
            "annotations": {"podium/talk": spec.talk, "podium/attendee": spec.attendee_id},
        },
    }


def resource_quota(*, spec: SandboxSpec, namespace: str, backend: str, limits: NamespaceLimits) -> dict:
    """The namespace's total: CPU, memory and pods (the workspace pod counts too); no NodePort or LoadBalancer,
    which would open ports outside the namespace."""
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
    """Only pods of the same namespace may connect to the namespace's pods (where the cluster's network
    plugin enforces policies; Podium itself reaches the workspace through the API, not the network)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": ISOLATION, "namespace": namespace, "labels": sandbox_labels(spec, backend=backend)},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"podSelector": {}}]}]},
    }


def namespace_objects(
    *, spec: SandboxSpec, namespace: str, backend: str, limits: NamespaceLimits, privileged_workspace: bool
) -> list[dict]:
    """Everything that makes an attendee's namespace, in the order to create it (namespace first)."""
    common = {"spec": spec, "namespace": namespace, "backend": backend}
    return [
        namespace_object(spec=spec, name=namespace, backend=backend, privileged_workspace=privileged_workspace),
        resource_quota(**common, limits=limits),
        limit_range(**common, limits=limits),
        service_account(**common),
        token_secret(**common),
        role(**common),
        role_binding(**common),
        network_policy(**common),
    ]


def docker_security(mode: str) -> tuple[dict, dict, list[dict], list[dict], dict]:
    """How the Docker sidecar gets the rights its engine needs, per PODIUM_SANDBOX_SECURITY.

    Returns (container securityContext, pod fields, extra volumes, extra volume mounts, pod
    annotations). "privileged" is `privileged: true`; "capabilities" is the set from DESIGN.md for
    clusters where privileged containers fail (every capability but SYS_RESOURCE, no seccomp or
    AppArmor filter, the node's cgroup tree writable so the inner engine can make cgroups);
    "sysbox" runs the pod with the sysbox-runc RuntimeClass, no privilege at all.
    Raises ValueError naming the accepted values.
    """
    security_host_config(mode)  # the same modes as the Docker backend; ValueError otherwise
    if mode == "privileged":
        return {"privileged": True}, {}, [], [], {}
    if mode == "capabilities":
        context = {
            "capabilities": {"add": ["ALL"], "drop": ["SYS_RESOURCE"]},
            "allowPrivilegeEscalation": True,
            "seccompProfile": {"type": "Unconfined"},
        }
        volumes = [{"name": "cgroup", "hostPath": {"path": "/sys/fs/cgroup", "type": "Directory"}}]
        mounts = [{"name": "cgroup", "mountPath": "/sys/fs/cgroup"}]
        annotations = {f"container.apparmor.security.beta.kubernetes.io/{DOCKER_CONTAINER}": "unconfined"}
        return context, {}, volumes, mounts, annotations
    return {}, {"runtimeClassName": "sysbox-runc"}, [], [], {"io.kubernetes.cri-o.userns-mode": "auto:size=65536"}


def workspace_pod(
    *,
    spec: SandboxSpec,
    namespace: str,
    image: str,
    limits: WorkspaceLimits,
    security: str,
    docker: bool,
    registry_mirror: str = "",
    pull_policy: str = "IfNotPresent",
) -> dict:
    """The attendee's workspace pod: the same image and runner as a Docker workspace.

    The `workspace` container is where runs are exec'd; it does nothing by itself (tini reaps
    what killed runs leave behind) and kubectl in it uses the pod's ServiceAccount, so it talks
    only to this namespace. With `docker`, a `docker` sidecar runs the image's own entrypoint (the
    inner Docker engine, as Educates does it); its /run is shared with the workspace container, whose
    DOCKER_HOST points at the socket there, so attendee code never runs in the container that has
    the extra rights.
    """
    labels = {**sandbox_labels(spec, backend="kubernetes"), "app.kubernetes.io/name": "podium-workspace"}
    cpu = f"{int(limits.cpus * 1000)}m"
    workspace = {
        "name": WORKSPACE_CONTAINER,
        "image": image,
        "imagePullPolicy": pull_policy,
        "command": ["/usr/bin/tini", "--", "sleep", "infinity"],
        "workingDir": "/workshop",
        "env": [{"name": "PODIUM_NAMESPACE", "value": namespace}],
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": cpu, "memory": WORKSPACE_MEMORY},
        },
    }
    pod_spec: dict = {
        "serviceAccountName": WORKSPACE,
        "automountServiceAccountToken": True,
        "enableServiceLinks": False,
        "hostname": "workshop",
        "terminationGracePeriodSeconds": 5,
        "restartPolicy": "Always",
        "containers": [workspace],
    }
    annotations: dict[str, str] = {}
    if docker:
        context, pod_fields, volumes, mounts, annotations = docker_security(security)
        workspace["env"].append({"name": "DOCKER_HOST", "value": DOCKER_HOST})
        workspace["volumeMounts"] = [{"name": "engine-run", "mountPath": ENGINE_DIR}]
        sidecar = {
            "name": DOCKER_CONTAINER,
            "image": image,
            "imagePullPolicy": pull_policy,
            "env": [
                {"name": "PODIUM_REGISTRY_MIRROR", "value": registry_mirror},
                {"name": "PODIUM_INSECURE_REGISTRY", "value": insecure_registry(registry_mirror)},
                {"name": "PODIUM_PIDS_LIMIT", "value": str(limits.pids)},
            ],
            "resources": {
                "requests": {"cpu": "100m", "memory": "256Mi"},
                "limits": {"cpu": cpu, "memory": str(parse_bytes(limits.memory))},
            },
            "volumeMounts": [
                {"name": "docker-data", "mountPath": "/var/lib/docker"},
                {"name": "engine-run", "mountPath": "/run"},
                *mounts,
            ],
        }
        if context:
            sidecar["securityContext"] = context
        pod_spec["containers"].append(sidecar)
        pod_spec["volumes"] = [
            {"name": "docker-data", "emptyDir": {"sizeLimit": str(parse_bytes(limits.disk))}},
            {"name": "engine-run", "emptyDir": {}},
            *volumes,
        ]
        pod_spec.update(pod_fields)
    metadata: dict = {"name": WORKSPACE, "namespace": namespace, "labels": labels}
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": pod_spec}


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


def exec_command(request: RunRequest) -> list[str]:
    """The exec command of one run in the workspace pod: the runner, with the run's environment set by `env`.

    An exec through the Kubernetes API has no environment of its own, so the code (base64, in chunks
    below the kernel's limit for one argument) travels as `env NAME=value` arguments, which `env`
    turns into the runner's environment before the runner starts.
    """
    settings = [f"{key}={value}" for key, value in run_environment(request).items()]
    return ["env", *settings, *run_command(kind=request.kind, run_id=request.run_id)]


def exec_exit_code(status: dict | None) -> int | None:
    """The exit code in an exec's status message (channel 3): 0 for Success, the ExitCode cause for a
    non-zero exit, None when there is none (the stream broke, or the command could not start)."""
    if not status:
        return None
    if status.get("status") == "Success":
        return 0
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message", ""))
            except ValueError:
                return None
    return None


def exec_status(raw: bytes) -> dict | None:
    """The status JSON of channel 3, or None when the bytes are not one."""
    try:
        value = json.loads(raw.decode("utf-8", "replace"))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def applied_workloads(output: str) -> list[tuple[str, str]]:
    """(kind, name) of every pod-making object `kubectl apply` reports as created or configured.

    Reads lines like `deployment.apps/12factor created`; "unchanged" objects are left out, their
    controllers made no new pods.
    """
    found = []
    for line in output.splitlines():
        match = re.fullmatch(r"\s*([a-z]+)(?:\.[a-z0-9.-]+)?/(\S+) (created|configured)\s*", line)
        if match and match.group(1) in WORKLOAD_KINDS:
            found.append((match.group(1), match.group(2)))
    return found


def workload_outcome(*, events: list[dict], workloads: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """What the controllers of just-applied workloads did: (refusal lines, names still without an answer).

    `events` are plain dicts with `kind` and `name` of the involved object, `reason` and `message`.
    A Deployment's pods are made by its ReplicaSet `<deployment>-<hash>`; the other kinds make
    their pods themselves. An answer is a SuccessfulCreate or FailedCreate event; every FailedCreate
    (a quota or a limit said no) becomes one line `kind/name: message`, each message once.
    """
    refusals: list[str] = []
    pending: list[str] = []
    for kind, name in workloads:
        if kind == "deployment":
            mine = [
                event
                for event in events
                if event.get("kind") == "ReplicaSet" and re.fullmatch(rf"{re.escape(name)}-[a-z0-9]+", event["name"])
            ]
        else:
            mine = [event for event in events if event.get("kind", "").lower() == kind and event.get("name") == name]
        answers = [event for event in mine if event.get("reason") in ("SuccessfulCreate", "FailedCreate")]
        if not answers:
            pending.append(name)
        for event in answers:
            if event["reason"] == "FailedCreate":
                line = f"{event['kind'].lower()}/{event['name']}: {event.get('message', '').strip()}"
                if line not in refusals:
                    refusals.append(line)
    return refusals, pending
