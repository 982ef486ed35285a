"""Pure builders for Kubernetes sandboxes: names, labels, the workspace pod, and reading an exec's answers.

Nothing here talks to a cluster: every function turns plain values into the
dicts the Kubernetes API takes (the shape `kubectl apply -f` reads), so tests
compare dicts, as KubeSpawner does for its pod spec. The attendee's namespace
and its guard rails are built in namespace_spec.py; `kube_access.py` and
`kubernetes.py` send them. Workspace pods live in the workspaces namespace
(PODIUM_K8S_WORKSPACES_NAMESPACE), apart from everything attendees create.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from docker.utils import parse_bytes

from sandbox.backends import pod_security_spec as psec
from sandbox.backends.base import SandboxSpec
from sandbox.backends.docker_spec import (
    LABEL_ATTENDEE,
    LABEL_INSTANCE,
    LABEL_MANAGED,
    LABEL_ROOM,
    LABEL_SANDBOX,
    LABEL_TALK,
    insecure_registry,
    security_host_config,
)

LABEL_BACKEND = "podium.backend"  # "docker" or "kubernetes": which backend's sandbox the namespace belongs to
LABEL_ROLE = "podium.role"  # on the workspaces namespace: ROLE_WORKSPACES
ROLE_WORKSPACES = "workspaces"

WORKSPACES_NAMESPACE = "podium-workspaces"  # default of PODIUM_K8S_WORKSPACES_NAMESPACE
WORKSPACES_ACCOUNT = "podium-workspace"  # the ServiceAccount of workspace pods: no Role, no token
KUBECONFIG_DIR = "/var/run/podium/kube"  # where the workspace container finds its attendee's kubeconfig

WORKSPACE = "workspace"  # the ServiceAccount, Role and RoleBinding of the attendee's namespace
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
    labels = {
        LABEL_MANAGED: "1",
        LABEL_INSTANCE: label_value(spec.instance),
        LABEL_SANDBOX: label_value(spec.sandbox_id),
        LABEL_ATTENDEE: label_value(spec.attendee_id),
        LABEL_TALK: label_value(spec.talk),
        LABEL_BACKEND: backend,
    }
    if spec.room:
        labels[LABEL_ROOM] = label_value(spec.room)
    return labels


def managed_selector(*, instance: str, backend: str) -> str:
    """Label selector of every namespace one install's backend manages."""
    return f"{LABEL_MANAGED}=1,{LABEL_INSTANCE}={label_value(instance)},{LABEL_BACKEND}={backend}"


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
    if mode == "userns":  # the sidecar would need /proc unmasked and /dev/net/tun, which pods cannot ask for
        raise ValueError(
            "PODIUM_SANDBOX_SECURITY=userns is the Docker backend's mode; the Kubernetes backend's Docker "
            "sidecar needs sysbox (or PODIUM_K8S_RUNTIME_CLASS), PODIUM_K8S_DOCKER=0, or the host-root "
            "modes privileged or capabilities"
        )
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
    pod_namespace: str = WORKSPACES_NAMESPACE,
    runtime_class: str = "",
    cluster_domain: str = "cluster.local",
) -> dict:
    """The attendee's workspace pod: the same image and runner as a Docker workspace.

    It lives in the workspaces namespace `pod_namespace`, named after the attendee's namespace
    `namespace`, never in the attendee's namespace: its Docker sidecar's rights would otherwise have
    to be granted to everything the attendee creates there. The `workspace` container is where runs
    are exec'd; it does nothing by itself (tini reaps what killed runs leave behind). kubectl in it
    uses the kubeconfig of the attendee namespace's ServiceAccount (the Secret workspace_kubeconfig_secret
    makes), so it talks only to that namespace; the pod's own ServiceAccount has no rights and no
    token. Short Service names resolve in the attendee's namespace, as from a pod there. With
    `docker`, a `docker` sidecar runs the image's own entrypoint (the inner Docker engine, as
    Educates does it); its /run is shared with the workspace container, whose DOCKER_HOST points at
    the socket there, so attendee code never runs in the container that has the extra rights.
    `runtime_class` (PODIUM_K8S_RUNTIME_CLASS) runs the pod with that RuntimeClass (gVisor, Kata,
    sysbox), in place of sysbox mode's own "sysbox-runc".
    """
    labels = {**sandbox_labels(spec, backend="kubernetes"), "app.kubernetes.io/name": "podium-workspace"}
    cpu = f"{int(limits.cpus * 1000)}m"
    workspace = {
        "name": WORKSPACE_CONTAINER,
        "image": image,
        "imagePullPolicy": pull_policy,
        "command": ["/usr/bin/tini", "--", "sleep", "infinity"],
        "workingDir": "/workshop",
        "env": [
            {"name": "PODIUM_NAMESPACE", "value": namespace},
            {"name": "KUBECONFIG", "value": f"{KUBECONFIG_DIR}/config"},
        ],
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": cpu, "memory": WORKSPACE_MEMORY},
        },
        "volumeMounts": [{"name": "kubeconfig", "mountPath": KUBECONFIG_DIR, "readOnly": True}],
    }
    pod_spec: dict = {
        "serviceAccountName": WORKSPACES_ACCOUNT,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "hostname": "workshop",
        "terminationGracePeriodSeconds": 5,
        "restartPolicy": "Always",
        "dnsConfig": {"searches": [f"{namespace}.svc.{cluster_domain}"]},
        "containers": [workspace],
        "volumes": [{"name": "kubeconfig", "secret": {"secretName": namespace, "defaultMode": 0o400}}],
    }
    annotations: dict[str, str] = {}
    if docker:
        context, pod_fields, volumes, mounts, annotations = docker_security(security)
        workspace["env"].append({"name": "DOCKER_HOST", "value": DOCKER_HOST})
        workspace["volumeMounts"].append({"name": "engine-run", "mountPath": ENGINE_DIR})
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
        pod_spec["volumes"] += [
            {"name": "docker-data", "emptyDir": {"sizeLimit": str(parse_bytes(limits.disk))}},
            {"name": "engine-run", "emptyDir": {}},
            *volumes,
        ]
        pod_spec.update(pod_fields)
    if runtime_class:
        pod_spec["runtimeClassName"] = runtime_class
    metadata: dict = {"name": namespace, "namespace": pod_namespace, "labels": labels}
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": pod_spec}


def workspace_kubeconfig_secret(*, spec: SandboxSpec, namespace: str, pod_namespace: str, kubeconfig: str) -> dict:
    """The attendee namespace's kubeconfig (YAML text) as a Secret beside the workspace pod, which mounts it."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": namespace,
            "namespace": pod_namespace,
            "labels": sandbox_labels(spec, backend="kubernetes"),
        },
        "stringData": {"config": kubeconfig},
    }


def workspaces_namespace_objects(*, namespace: str, engine: str, prefix: str = psec.PREFIX) -> list[dict]:
    """The namespace of every attendee's workspace pod, with its Docker sidecar.

    Attendees have no rights in it. Its pods run as WORKSPACES_ACCOUNT, a ServiceAccount without
    any Role or token; on a PodSecurityPolicy cluster only that ServiceAccount may use the
    privileged policy (named with `prefix`, PODIUM_K8S_NAMESPACE_PREFIX), and only in this namespace (PSA:
    the namespace is labelled privileged). Every install on the cluster shares it, so it carries no install's
    label.
    """
    labels = {LABEL_MANAGED: "1", LABEL_ROLE: ROLE_WORKSPACES}
    objects: list[dict] = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": namespace,
                "labels": {**labels, **psec.pod_security_labels(level="privileged", version="latest")},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": WORKSPACES_ACCOUNT, "namespace": namespace, "labels": labels},
            "automountServiceAccountToken": False,
        },
    ]
    if engine == "psp":
        objects.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": psec.BINDING, "namespace": namespace, "labels": labels},
                "subjects": [{"kind": "ServiceAccount", "name": WORKSPACES_ACCOUNT, "namespace": namespace}],
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": psec.psp_cluster_role_name("privileged", prefix=prefix),
                },
            }
        )
    return objects


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
