"""What each sandbox backend is configured with: frozen dataclasses, built once from the settings.

A backend never reads `django.conf.settings`: `sandbox.backends.backend_get`
builds the configuration of the chosen backend once (`<Backend>.config_class.
from_settings()`) and hands it to the constructor, the way JupyterHub gives a
spawner its traits and Channels gives a layer its CONFIG. The helpers a
backend uses (`kube_access`, the spec builders) get the parts they need from
it. A test builds the object it wants directly, or with
`dataclasses.replace(Config.from_settings(), field=value)`.

Every field says which setting it comes from; config/settings.py and
.env.example document the settings themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings

from sandbox.backends.docker_spec import SUBNET_POOL, SandboxLimits
from sandbox.backends.kubernetes_spec import WorkspaceLimits
from sandbox.backends.namespace_spec import NamespaceLimits

IN_CLUSTER = "in-cluster"

# PODIUM_SANDBOX_SECURITY: what each mode guarantees, as the server says it at start (README "Security").
SECURITY_MODES = {
    "userns": "attendees are root only in a user namespace of their own (unprivileged host uids)",
    "sysbox": "attendees are root only in sysbox-runc's user namespace",
    "privileged": "HOST-ROOT-EQUIVALENT: code in any sandbox can take over this machine; for trusted rooms only",
    "capabilities": "HOST-ROOT-EQUIVALENT: code in any sandbox can take over this machine; for trusted rooms only",
}
HOST_ROOT_MODES = frozenset({"privileged", "capabilities"})


def security_line(mode: str) -> str:
    """One line saying what the sandbox security `mode` guarantees (start-up logs, scripts)."""
    known = ", ".join(SECURITY_MODES)
    return f"{mode}: {SECURITY_MODES.get(mode, f'unknown mode ({known})')}"


@dataclass(frozen=True)
class ClusterConfig:
    """The Kubernetes cluster attendees get a namespace on (sandbox/backends/kube_access.py), for both backends."""

    kubeconfig: str = ""  # PODIUM_KUBECONFIG: kubeconfig path(s), "in-cluster", or "" for no cluster
    context: str = ""  # PODIUM_K8S_CONTEXT: "" = the kubeconfig's current context
    server: str = ""  # PODIUM_K8S_SERVER: the API server as workspaces reach it ("" = the kubeconfig's)
    namespace_prefix: str = "podium-"  # PODIUM_K8S_NAMESPACE_PREFIX
    quota: NamespaceLimits = field(default_factory=NamespaceLimits)  # PODIUM_K8S_QUOTA_CPU, _MEMORY, _PODS
    timeout: float = 180.0  # PODIUM_K8S_TIMEOUT: seconds for a namespace or pod to be ready, or gone
    api_timeout: float = 30.0  # PODIUM_K8S_API_TIMEOUT: seconds for one API call
    pod_security: str = "baseline"  # PODIUM_K8S_POD_SECURITY: baseline or restricted, in attendees' namespaces
    pod_security_version: str = "v1.25"  # PODIUM_K8S_POD_SECURITY_VERSION: the standards' version labels pin
    policy_engine: str = "auto"  # PODIUM_K8S_POLICY_ENGINE: auto, psa, psp, or none (the operator's opt-out)
    workspaces_namespace: str = "podium-workspaces"  # PODIUM_K8S_WORKSPACES_NAMESPACE: where workspace pods live

    @property
    def configured(self) -> bool:
        """True when a cluster is named at all."""
        return bool(self.kubeconfig)

    @classmethod
    def from_settings(cls) -> ClusterConfig:
        """The cluster the settings name."""
        return cls(
            kubeconfig=settings.PODIUM_KUBECONFIG,
            context=settings.PODIUM_K8S_CONTEXT,
            server=settings.PODIUM_K8S_SERVER,
            namespace_prefix=settings.PODIUM_K8S_NAMESPACE_PREFIX,
            quota=NamespaceLimits(
                cpu=settings.PODIUM_K8S_QUOTA_CPU,
                memory=settings.PODIUM_K8S_QUOTA_MEMORY,
                pods=settings.PODIUM_K8S_QUOTA_PODS,
            ),
            timeout=settings.PODIUM_K8S_TIMEOUT,
            api_timeout=settings.PODIUM_K8S_API_TIMEOUT,
            pod_security=settings.PODIUM_K8S_POD_SECURITY,
            pod_security_version=settings.PODIUM_K8S_POD_SECURITY_VERSION,
            policy_engine=settings.PODIUM_K8S_POLICY_ENGINE,
            workspaces_namespace=settings.PODIUM_K8S_WORKSPACES_NAMESPACE,
        )


@dataclass(frozen=True)
class WorkspaceConfig:
    """What both real backends share: the attendee's workspace image, its rights and limits, and the mirror."""

    instance: str = "default"  # PODIUM_INSTANCE: sandboxes are labelled with it; list_managed finds only these
    image: str = "podium/workspace:1"  # PODIUM_WORKSPACE_IMAGE
    security: str = "userns"  # PODIUM_SANDBOX_SECURITY: userns, sysbox, or host root: privileged, capabilities
    limits: SandboxLimits = field(default_factory=SandboxLimits)  # PODIUM_SANDBOX_MEMORY, _CPUS, _PIDS, _DISK ...
    max_sandboxes: int = 50  # PODIUM_MAX_SANDBOXES: past it, ensure refuses to create one
    registry_mirror: str = ""  # PODIUM_REGISTRY_MIRROR: "" = the local mirror on the docker bridge's gateway
    registry_port: int = 5000  # PODIUM_REGISTRY_PORT: the local mirror's port
    cluster: ClusterConfig = field(default_factory=ClusterConfig)

    @property
    def workspace_limits(self) -> WorkspaceLimits:
        """The limits in the shape the Kubernetes pod spec takes."""
        return WorkspaceLimits(
            memory=self.limits.memory, cpus=self.limits.cpus, pids=self.limits.pids, disk=self.limits.disk
        )

    @classmethod
    def _settings_fields(cls) -> dict:
        return {
            "instance": settings.PODIUM_INSTANCE,
            "image": settings.PODIUM_WORKSPACE_IMAGE,
            "security": settings.PODIUM_SANDBOX_SECURITY,
            "limits": SandboxLimits(
                memory=settings.PODIUM_SANDBOX_MEMORY,
                cpus=settings.PODIUM_SANDBOX_CPUS,
                pids=settings.PODIUM_SANDBOX_PIDS,
                disk=settings.PODIUM_SANDBOX_DISK,
                disk_check_seconds=settings.PODIUM_SANDBOX_DISK_CHECK_SECONDS,
            ),
            "max_sandboxes": settings.PODIUM_MAX_SANDBOXES,
            "registry_mirror": settings.PODIUM_REGISTRY_MIRROR,
            "registry_port": settings.PODIUM_REGISTRY_PORT,
            "cluster": ClusterConfig.from_settings(),
        }


@dataclass(frozen=True)
class DockerConfig(WorkspaceConfig):
    """The Docker backend's configuration: the workspace, the pool its networks come from, and the cluster
    (when one is configured, each workspace also gets a namespace there)."""

    subnet_pool: str = SUBNET_POOL  # PODIUM_SANDBOX_SUBNET_POOL: the /28 sandbox networks are carved out of it
    links: str = ""  # PODIUM_SANDBOX_LINKS: the workspaces' link folders on this host ("" = none; docker_link.py)

    @classmethod
    def from_settings(cls) -> DockerConfig:
        """The Docker backend's configuration, from the settings."""
        return cls(
            **cls._settings_fields(),
            subnet_pool=settings.PODIUM_SANDBOX_SUBNET_POOL,
            links=settings.PODIUM_SANDBOX_LINKS,
        )


@dataclass(frozen=True)
class KubernetesConfig(WorkspaceConfig):
    """The Kubernetes backend's configuration: the workspace pod, and the cluster it runs on."""

    docker: bool = True  # PODIUM_K8S_DOCKER: a Docker engine sidecar beside the workspace container
    pull_policy: str = "IfNotPresent"  # PODIUM_K8S_IMAGE_PULL_POLICY
    runtime_class: str = ""  # PODIUM_K8S_RUNTIME_CLASS: the workspace pod's RuntimeClass ("" = the cluster's default)

    @classmethod
    def from_settings(cls) -> KubernetesConfig:
        """The Kubernetes backend's configuration, from the settings."""
        return cls(
            **cls._settings_fields(),
            docker=settings.PODIUM_K8S_DOCKER,
            pull_policy=settings.PODIUM_K8S_IMAGE_PULL_POLICY,
            runtime_class=settings.PODIUM_K8S_RUNTIME_CLASS,
        )


@dataclass(frozen=True)
class LocalConfig:
    """The local test double's configuration (sandbox/backends/local.py)."""

    env: str = "test"  # PODIUM_ENV: the double refuses to load unless it is "test"
    root: str = ""  # PODIUM_LOCAL_SANDBOX_ROOT: the folder of its sandboxes ("" = under the temporary folder)

    @classmethod
    def from_settings(cls) -> LocalConfig:
        """The local backend's configuration, from the settings."""
        return cls(env=settings.PODIUM_ENV, root=settings.PODIUM_LOCAL_SANDBOX_ROOT)
