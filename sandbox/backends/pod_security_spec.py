"""Pure builders of what keeps an attendee's pods off the node: Pod Security labels and PodSecurityPolicies.

An attendee's namespace enforces a Pod Security Standards level, "baseline"
(the default) or "restricted" (PODIUM_K8S_POD_SECURITY). Two engines can
enforce it, and which one a cluster has decides what Podium sends:

- Pod Security Admission (clusters from 1.23 on): the namespace's
  `pod-security.kubernetes.io/*` labels, pinned to a policy version;
- PodSecurityPolicy (1.20-1.24, with the admission plugin on): Podium's own
  policy of that level, which the namespace's ServiceAccounts may `use` through
  a RoleBinding in that namespace only (namespace_spec.pod_security_role_binding).

Workspace pods, whose Docker sidecar needs wide rights, live in a namespace of
their own where only their ServiceAccount may use the privileged policy. Nothing
here talks to a cluster; `pod_security.py` checks the engine with a real probe.
"""

from __future__ import annotations

from sandbox.backends.docker_spec import LABEL_MANAGED

LEVELS = ("baseline", "restricted")  # what PODIUM_K8S_POD_SECURITY may choose for attendees' namespaces
VERSION = "v1.25"  # the Pod Security Standards version the labels pin (PODIUM_K8S_POD_SECURITY_VERSION)
ENGINES = ("auto", "psa", "psp", "none")  # PODIUM_K8S_POLICY_ENGINE; "none" is the operator's explicit opt-out
PREFIX = "podium-"  # default of PODIUM_K8S_NAMESPACE_PREFIX, which names the policies and their ClusterRoles too
BINDING = "podium-pod-security"  # the RoleBinding that lets a namespace's pods use a PodSecurityPolicy

# Volume types every level allows; baseline adds every type that is not the node's own (hostPath).
_RESTRICTED_VOLUMES = [
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
]
_NETWORK_VOLUMES = [
    "awsElasticBlockStore",
    "azureDisk",
    "azureFile",
    "cephFS",
    "cinder",
    "fc",
    "flexVolume",
    "flocker",
    "gcePersistentDisk",
    "gitRepo",
    "glusterfs",
    "iscsi",
    "nfs",
    "photonPersistentDisk",
    "portworxVolume",
    "quobyte",
    "rbd",
    "scaleIO",
    "storageos",
    "vsphereVolume",
]
# The capabilities baseline lets a container add: the container runtime's defaults, nothing more.
BASELINE_CAPABILITIES = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
]


def level_check(level: str) -> str:
    """`level` when it is one attendees' namespaces may have; ValueError naming the setting otherwise."""
    if level not in LEVELS:
        raise ValueError(f"PODIUM_K8S_POD_SECURITY={level!r}: choose one of {', '.join(LEVELS)}")
    return level


def pod_security_labels(*, level: str, version: str) -> dict[str, str]:
    """Pod Security Admission labels: `level` enforced, warned about and audited, each pinned to `version`
    (e.g. "v1.25"), so a cluster upgrade does not change what attendees may create."""
    labels = {}
    for mode in ("enforce", "warn", "audit"):
        labels[f"pod-security.kubernetes.io/{mode}"] = level
        labels[f"pod-security.kubernetes.io/{mode}-version"] = version
    return labels


def psp_name(level: str, *, prefix: str = PREFIX) -> str:
    """Podium's PodSecurityPolicy of a level: podium-baseline, podium-restricted, podium-privileged (with the
    default `prefix`, PODIUM_K8S_NAMESPACE_PREFIX, which also names an install's cluster-wide objects)."""
    return f"{prefix}{level}"


def psp_cluster_role_name(level: str, *, prefix: str = PREFIX) -> str:
    """The ClusterRole that may `use` Podium's policy of `level` (bound per namespace, never cluster-wide):
    podium:psp:baseline with the default `prefix`."""
    return f"{prefix.rstrip('-')}:psp:{level}"


def pod_security_policy(level: str, *, prefix: str = PREFIX) -> dict:
    """The PodSecurityPolicy equivalent of a Pod Security Standards level (for clusters before 1.25).

    Baseline and restricted refuse privileged containers, the node's namespaces, ports and
    filesystem, added capabilities beyond the runtime's defaults, and unconfined seccomp; the one
    change they make to a pod is the runtime's default seccomp profile where it names none (a policy
    that lists profiles without a default refuses every such pod). No AppArmor annotations: a
    default AppArmor profile blocks every pod on nodes without AppArmor, and a list refuses pods
    that name none. "privileged" allows everything: only workspace pods get it.
    """
    metadata: dict = {"name": psp_name(level, prefix=prefix), "labels": {LABEL_MANAGED: "1"}}
    if level == "privileged":
        metadata["annotations"] = {"seccomp.security.alpha.kubernetes.io/allowedProfileNames": "*"}
        spec = {
            "privileged": True,
            "allowPrivilegeEscalation": True,
            "allowedCapabilities": ["*"],
            "volumes": ["*"],
            "hostNetwork": True,
            "hostPID": True,
            "hostIPC": True,
            "hostPorts": [{"min": 0, "max": 65535}],
            "allowedUnsafeSysctls": ["*"],
            "runAsUser": {"rule": "RunAsAny"},
            "seLinux": {"rule": "RunAsAny"},
            "supplementalGroups": {"rule": "RunAsAny"},
            "fsGroup": {"rule": "RunAsAny"},
        }
        return {"apiVersion": "policy/v1beta1", "kind": "PodSecurityPolicy", "metadata": metadata, "spec": spec}
    restricted = level_check(level) == "restricted"
    metadata["annotations"] = {
        "seccomp.security.alpha.kubernetes.io/allowedProfileNames": "runtime/default,docker/default",
        "seccomp.security.alpha.kubernetes.io/defaultProfileName": "runtime/default",
    }
    spec = {
        "privileged": False,
        "allowPrivilegeEscalation": not restricted,
        "allowedCapabilities": ["NET_BIND_SERVICE"] if restricted else BASELINE_CAPABILITIES,
        "volumes": _RESTRICTED_VOLUMES if restricted else _RESTRICTED_VOLUMES + _NETWORK_VOLUMES,
        "hostNetwork": False,
        "hostPID": False,
        "hostIPC": False,
        "runAsUser": {"rule": "MustRunAsNonRoot" if restricted else "RunAsAny"},
        "seLinux": {"rule": "RunAsAny"},
        "supplementalGroups": {"rule": "RunAsAny"},
        "fsGroup": {"rule": "RunAsAny"},
    }
    if restricted:
        spec["requiredDropCapabilities"] = ["ALL"]
    return {"apiVersion": "policy/v1beta1", "kind": "PodSecurityPolicy", "metadata": metadata, "spec": spec}


def pod_security_cluster_role(level: str, *, prefix: str = PREFIX) -> dict:
    """The right to `use` Podium's PodSecurityPolicy of `level`."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": psp_cluster_role_name(level, prefix=prefix), "labels": {LABEL_MANAGED: "1"}},
        "rules": [
            {
                "apiGroups": ["policy"],
                "resources": ["podsecuritypolicies"],
                "resourceNames": [psp_name(level, prefix=prefix)],
                "verbs": ["use"],
            }
        ],
    }


def cluster_policy_objects(*, level: str, prefix: str = PREFIX) -> list[dict]:
    """What a PodSecurityPolicy cluster needs once per install prefix: the attendees' policy, the workspaces'
    privileged one, and a ClusterRole to `use` each."""
    return [
        pod_security_policy(level, prefix=prefix),
        pod_security_cluster_role(level, prefix=prefix),
        pod_security_policy("privileged", prefix=prefix),
        pod_security_cluster_role("privileged", prefix=prefix),
    ]


def policy_engine_expected(*, version: tuple[int, int], psp_served: bool) -> str:
    """What should guard attendees' namespaces on a cluster of `version` (major, minor): "psa" from 1.23 on
    (Pod Security Admission is on by default from then), "psp" before when the cluster serves the
    PodSecurityPolicy API, else "none". Whether it really does is then probed (policy_probe_pod): the
    PodSecurityPolicy plugin is off by default, and nothing in the API says whether it is on."""
    if version >= (1, 23):
        return "psa"
    return "psp" if psp_served else "none"


def policy_probe_pod(*, namespace: str, hostile: bool) -> dict:
    """The dry-run probe of a namespace: `hostile`, a pod that baseline refuses on every count (privileged,
    the node's /, its network, PIDs and IPC, an added capability); else a plain pod every level admits."""
    container: dict = {
        "name": "probe",
        "image": "podium-policy-probe:never-pulled",
        "resources": {"limits": {"cpu": "10m", "memory": "16Mi"}},
    }
    spec: dict = {"automountServiceAccountToken": False, "containers": [container]}
    if hostile:
        container["securityContext"] = {"privileged": True, "capabilities": {"add": ["SYS_ADMIN"]}}
        container["volumeMounts"] = [{"name": "host", "mountPath": "/host"}]
        spec.update(hostNetwork=True, hostPID=True, hostIPC=True, volumes=[{"name": "host", "hostPath": {"path": "/"}}])
    else:
        container["securityContext"] = {
            "runAsNonRoot": True,
            "runAsUser": 65534,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"generateName": "podium-policy-probe-", "namespace": namespace},
        "spec": spec,
    }
