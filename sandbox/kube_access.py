"""Attendee namespaces on the configured Kubernetes cluster, for both sandbox backends.

One attendee, one sandbox, both halves of the deck: the Kubernetes backend runs
the attendee's workspace pod in their namespace, and the Docker backend gives the
attendee's workspace container a kubeconfig for the same kind of namespace, so
`kubectl` in either reaches that namespace and nothing else.

The cluster is the one settings.PODIUM_KUBECONFIG names (a kubeconfig path, or
"in-cluster"); "" means none. Objects come from `backends.kubernetes_spec` and
are sent with server-side apply (one idempotent call each, which also brings an
existing namespace up to date with changed settings). Every call blocks, with
settings.PODIUM_K8S_API_TIMEOUT as its timeout; callers use threads.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import kubernetes.client
import kubernetes.config
import urllib3.exceptions
import yaml
from django.conf import settings
from kubernetes.client import ApiClient, ApiException

from sandbox.backends import kubernetes_spec as kspec
from sandbox.backends.base import SandboxSpec
from sandbox.errors import SandboxError, SandboxNotFound, SandboxUnavailable

FIELD_MANAGER = "podium"
APPLY_PATCH = "application/apply-patch+yaml"
POLL = 0.25  # seconds between looks while waiting for the cluster
IN_CLUSTER = "in-cluster"

# The images pods of the deck's k8s/ manifests run, and how kind-up makes the two built from sample_app/
# (tag -> Dockerfile, the build argument naming its base image, that base image's role in sandbox.images).
MATERIAL_BUILDS = {
    "12factor:1.0": ("Dockerfile", "PYTHON_IMAGE", "python"),
    "12factor-dbinit:1.0": ("Dockerfile.dbinit", "MYSQL_IMAGE", "mysql"),
}

# kind -> (API class, server-side-apply method, namespaced?)
_APPLY = {
    "Namespace": (kubernetes.client.CoreV1Api, "patch_namespace", False),
    "ResourceQuota": (kubernetes.client.CoreV1Api, "patch_namespaced_resource_quota", True),
    "LimitRange": (kubernetes.client.CoreV1Api, "patch_namespaced_limit_range", True),
    "ServiceAccount": (kubernetes.client.CoreV1Api, "patch_namespaced_service_account", True),
    "Secret": (kubernetes.client.CoreV1Api, "patch_namespaced_secret", True),
    "Role": (kubernetes.client.RbacAuthorizationV1Api, "patch_namespaced_role", True),
    "RoleBinding": (kubernetes.client.RbacAuthorizationV1Api, "patch_namespaced_role_binding", True),
    "NetworkPolicy": (kubernetes.client.NetworkingV1Api, "patch_namespaced_network_policy", True),
}

_clients_lock = threading.Lock()
_clients: dict[tuple, tuple[kubernetes.client.Configuration, ApiClient]] = {}


# --- the cluster ---------------------------------------------------------------------------------------------


def cluster_configured() -> bool:
    """True when settings name a cluster (PODIUM_KUBECONFIG)."""
    return bool(settings.PODIUM_KUBECONFIG)


def api_timeout() -> float:
    """Seconds one ordinary API call may take (settings.PODIUM_K8S_API_TIMEOUT)."""
    return settings.PODIUM_K8S_API_TIMEOUT


def cluster_api() -> ApiClient:
    """The shared API client for ordinary (non-streaming) calls to the configured cluster.

    Reloaded when the kubeconfig file or the settings change. Raises SandboxUnavailable with a
    sentence when no cluster is configured or the kubeconfig cannot be read.
    """
    return _client_entry()[1]


def cluster_api_new() -> ApiClient:
    """A fresh API client of its own, for one streaming exec: `kubernetes.stream.stream` swaps a method on
    the client it is given, so a client shared with other threads must never be used for it. Close it after."""
    return ApiClient(_client_entry()[0])


def cluster_server() -> str:
    """The API server address as workspaces reach it: PODIUM_K8S_SERVER, else the kubeconfig's own."""
    return settings.PODIUM_K8S_SERVER or _client_entry()[0].host


def cluster_problem() -> str | None:
    """None when the cluster answers and lets Podium manage namespaces; else a sentence saying what to fix."""
    if not cluster_configured():
        return (
            "No Kubernetes cluster is configured: set PODIUM_KUBECONFIG (or KUBECONFIG) to a kubeconfig of a cluster "
            "this server reaches, e.g. one `manage.py sandbox kind-up` makes."
        )
    try:
        api = cluster_api()
        kubernetes.client.VersionApi(api).get_code(_request_timeout=min(api_timeout(), 10))
        review = kubernetes.client.AuthorizationV1Api(api).create_self_subject_access_review(
            {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": {"verb": "create", "resource": "namespaces"}},
            },
            _request_timeout=api_timeout(),
        )
    except SandboxError as error:
        return error.user_message
    except (ApiException, urllib3.exceptions.HTTPError, OSError) as error:
        return (
            f"The Kubernetes cluster of PODIUM_KUBECONFIG={settings.PODIUM_KUBECONFIG} does not answer "
            f"({_reason(error)}); is it running, and is its address reachable from this server?"
        )
    if not review.status.allowed:
        return (
            f"The kubeconfig {settings.PODIUM_KUBECONFIG} may not create namespaces on its cluster; Podium needs an "
            "identity that can (cluster-admin, or a ClusterRole for namespaces, quotas, RBAC and pods)."
        )
    return None


# --- namespaces ----------------------------------------------------------------------------------------------


def namespace_name_for(sandbox_id: str) -> str:
    """The namespace of a sandbox, with the configured prefix (PODIUM_K8S_NAMESPACE_PREFIX)."""
    try:
        return kspec.namespace_name(sandbox_id=sandbox_id, prefix=settings.PODIUM_K8S_NAMESPACE_PREFIX)
    except ValueError as error:
        raise SandboxUnavailable(
            str(error), user_message=f"Sandboxes cannot be named on this server: {error}."
        ) from None


def namespace_limits() -> kspec.NamespaceLimits:
    """The namespace quota the settings ask for."""
    return kspec.NamespaceLimits(
        cpu=settings.PODIUM_K8S_QUOTA_CPU, memory=settings.PODIUM_K8S_QUOTA_MEMORY, pods=settings.PODIUM_K8S_QUOTA_PODS
    )


def namespace_provision(
    *, spec: SandboxSpec, backend: str, privileged_workspace: bool, progress: Callable[[str], None]
) -> str:
    """Create (or bring up to date) the sandbox's namespace with quota, limits, RBAC and network policy.

    Idempotent. When the namespace is still being deleted (a reset a moment ago), waits until it is
    gone, up to PODIUM_K8S_TIMEOUT, and creates it again. Returns the namespace's name.
    """
    api = cluster_api()
    name = namespace_name_for(spec.sandbox_id)
    objects = kspec.namespace_objects(
        spec=spec,
        namespace=name,
        backend=backend,
        limits=namespace_limits(),
        privileged_workspace=privileged_workspace,
    )
    progress("Creating your Kubernetes namespace…")
    created = _apply(api, objects[0], doing="creating your namespace")
    if created.metadata.deletion_timestamp is not None:
        progress("Waiting for your old namespace to be deleted…")
        namespace_wait_gone(namespace=name, timeout=settings.PODIUM_K8S_TIMEOUT)
        _apply(api, objects[0], doing="creating your namespace")
    for item in objects[1:]:
        _apply(api, item, doing=f"creating the {item['kind']} of your namespace")
    return name


def namespace_kubeconfig(*, namespace: str, server: str = "", timeout: float = 30.0) -> str:
    """A kubeconfig (YAML text) for the namespace's workspace ServiceAccount, reaching `server`
    (default: cluster_server()). Waits up to `timeout` s for the cluster to fill in the token."""
    api = kubernetes.client.CoreV1Api(cluster_api())
    deadline = time.monotonic() + timeout
    while True:
        with api_errors("reading your namespace's token"):
            secret = api.read_namespaced_secret(kspec.TOKEN_SECRET, namespace, _request_timeout=api_timeout())
        data = secret.data or {}
        if data.get("token") and data.get("ca.crt"):
            break
        if time.monotonic() > deadline:
            raise SandboxUnavailable(
                f"the token of {namespace}/{kspec.TOKEN_SECRET} was not filled in within {timeout:.0f} s",
                user_message="The cluster did not issue a token for your namespace; is its controller-manager running?",
            )
        time.sleep(POLL)
    token = _b64decode(data["token"])
    config = kspec.service_account_kubeconfig(
        server=server or cluster_server(), ca_data=data["ca.crt"], token=token, namespace=namespace
    )
    return yaml.safe_dump(config, sort_keys=False)


def namespace_delete(*, namespace: str) -> bool:
    """Delete the namespace and everything in it, without waiting; False when it did not exist.

    The namespace goes first (from then on nothing new can be made in it, so a Deployment cannot
    replace its pods), then its pods are told to stop within a second rather than after their
    own grace period (30 s unless they say otherwise), so the namespace is gone in seconds. Not a
    forced deletion (grace 0): that would drop pods from the API before the node has stopped them.
    """
    api = kubernetes.client.CoreV1Api(cluster_api())
    with api_errors("deleting your namespace"):
        try:
            api.delete_namespace(namespace, propagation_policy="Background", _request_timeout=api_timeout())
        except ApiException as error:
            if error.status == 404:
                return False
            raise
        with contextlib.suppress(ApiException):
            api.delete_collection_namespaced_pod(namespace, grace_period_seconds=1, _request_timeout=api_timeout())
    return True


def namespace_wait_gone(*, namespace: str, timeout: float) -> None:
    """Wait until the namespace no longer exists; SandboxUnavailable after `timeout` seconds.

    The cluster's namespace controller retries a namespace whose pods are still stopping with a
    growing delay (35 s after the last pod went was seen under load). Once no pod is left, a
    touch of the namespace (an annotation) makes the controller look again within seconds.
    """
    api = kubernetes.client.CoreV1Api(cluster_api())
    deadline = time.monotonic() + timeout
    while True:
        with api_errors("waiting for your old namespace to go"):
            try:
                api.read_namespace(namespace, _request_timeout=api_timeout())
                pods = api.list_namespaced_pod(namespace, limit=1, _request_timeout=api_timeout()).items
                if not pods:
                    api.patch_namespace(
                        namespace,
                        {"metadata": {"annotations": {"podium/deleting-since-pods-gone": f"{time.time():.0f}"}}},
                        _content_type="application/merge-patch+json",
                        _request_timeout=api_timeout(),
                    )
            except ApiException as error:
                if error.status == 404:
                    return
                raise
        if time.monotonic() > deadline:
            raise SandboxUnavailable(
                f"namespace {namespace} was still terminating after {timeout:.0f} s",
                user_message="Your old Kubernetes namespace is taking long to delete; try again in a minute.",
            )
        time.sleep(1.0)


def namespaces_managed(*, backend: str) -> dict[str, str]:
    """sandbox id -> namespace, for every namespace of this install's `backend` not being deleted."""
    api = kubernetes.client.CoreV1Api(cluster_api())
    selector = kspec.managed_selector(instance=settings.PODIUM_INSTANCE, backend=backend)
    with api_errors("listing the sandbox namespaces"):
        items = api.list_namespace(label_selector=selector, _request_timeout=api_timeout()).items
    found = {}
    for item in items:
        sandbox_id = (item.metadata.labels or {}).get(kspec.LABEL_SANDBOX)
        if sandbox_id and item.metadata.deletion_timestamp is None:
            found[sandbox_id] = item.metadata.name
    return found


def namespace_count(*, backend: str) -> int:
    """How many sandbox namespaces of `backend` exist on the cluster (every install's, as with containers)."""
    api = kubernetes.client.CoreV1Api(cluster_api())
    selector = f"{kspec.LABEL_MANAGED}=1,{kspec.LABEL_BACKEND}={backend}"
    with api_errors("counting the sandboxes"):
        return len(api.list_namespace(label_selector=selector, _request_timeout=api_timeout()).items)


def workload_refusals(*, namespace: str, workloads: list[tuple[str, str]], since: float, wait: float) -> list[str]:
    """Why the cluster refused to make pods for workloads just applied (quota, limits), one line each.

    A Deployment or Job is accepted by the API even when its pods will not fit; the refusal comes a
    moment later as a FailedCreate event of its controller. This reads the namespace's events newer
    than `since` (a time.time()) until every workload has an answer, for at most `wait` seconds.
    """
    if not workloads:
        return []
    api = kubernetes.client.CoreV1Api(cluster_api())
    deadline = time.monotonic() + wait
    while True:
        with api_errors("reading your namespace's events"):
            items = api.list_namespaced_event(namespace, _request_timeout=api_timeout()).items
        events = [_event_dict(item) for item in items if _event_time(item) >= since - 1]
        refusals, pending = kspec.workload_outcome(events=events, workloads=workloads)
        if not pending or time.monotonic() > deadline:
            return refusals
        time.sleep(POLL)


# --- kind, for laptops ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KindPlan:
    """What `manage.py sandbox kind-up` runs, in order, and the kubeconfig it leaves."""

    commands: list[list[str]]
    kubeconfig: Path
    config_text: str


def kind_config(*, api_address: str) -> str:
    """A kind cluster config whose API server listens on `api_address` (the docker bridge's gateway), so
    Docker workspaces reach it as well as this server does."""
    return yaml.safe_dump(
        {
            "kind": "Cluster",
            "apiVersion": "kind.x-k8s.io/v1alpha4",
            "networking": {"apiServerAddress": api_address, "apiServerPort": 6443},
        },
        sort_keys=False,
    )


def kind_up_plan(
    *,
    kind: str,
    docker: str,
    name: str,
    kubeconfig: Path,
    config_path: Path,
    exists: bool,
    api_address: str,
    base_images: dict[str, str],
    mysql_official: str,
    workspace_image: str,
    material: Path,
) -> KindPlan:
    """The commands that make a kind cluster ready for the workshop (pure: nothing runs here).

    Create the cluster (or, when it exists, export its kubeconfig), build the two sample_app images
    the k8s/ manifests run from the deck's base images (`base_images` by role, as
    `sandbox.images.image_for` answers), give a stand-in MySQL the official name the manifests use,
    and load those and the workspace image into the kind node.
    """
    commands: list[list[str]] = []
    if exists:
        commands.append([kind, "export", "kubeconfig", "--name", name, "--kubeconfig", str(kubeconfig)])
    else:
        commands.append(
            [
                kind,
                "create",
                "cluster",
                "--name",
                name,
                "--kubeconfig",
                str(kubeconfig),
                "--config",
                str(config_path),
                "--wait",
                "120s",
            ]
        )
    if base_images["mysql"] != mysql_official:
        commands.append([docker, "tag", base_images["mysql"], mysql_official])
    for tag, (dockerfile, argument, role) in MATERIAL_BUILDS.items():
        commands.append(
            [
                docker,
                "build",
                "-t",
                tag,
                "--build-arg",
                f"{argument}={base_images[role]}",
                "-f",
                str(material / dockerfile),
                str(material),
            ]
        )
    images = [workspace_image, mysql_official, *MATERIAL_BUILDS]
    commands.append([kind, "load", "docker-image", "--name", name, *images])
    return KindPlan(commands=commands, kubeconfig=kubeconfig, config_text=kind_config(api_address=api_address))


# --- helpers -------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def api_errors(doing: str) -> Iterator[None]:
    """Turn Kubernetes client failures into sandbox errors with a sentence for the learner."""
    try:
        yield
    except ApiException as error:
        if error.status == 404:
            raise SandboxNotFound(f"{doing}: {_reason(error)}") from None
        if error.status in (401, 403):
            raise SandboxUnavailable(
                f"{doing}: {_reason(error)}",
                user_message=f"The cluster refused Podium while {doing}: {_reason(error)}",
            ) from None
        if error.status == 0 or error.status >= 500:
            raise SandboxUnavailable(
                f"{doing}: the Kubernetes API did not answer properly ({_reason(error)})",
                user_message="The Kubernetes cluster did not answer. Try again in a moment.",
            ) from None
        raise SandboxError(f"{doing}: {_reason(error)}") from None
    except (urllib3.exceptions.HTTPError, OSError) as error:
        raise SandboxUnavailable(
            f"{doing}: the Kubernetes API did not answer ({_reason(error)})",
            user_message="The Kubernetes cluster did not answer. Try again in a moment.",
        ) from None


def api_message(error: ApiException) -> str:
    """The apiserver's own message in an error answer (its Status object), else the HTTP reason."""
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        message = json.loads(error.body).get("message")
        if message:
            return message
    return f"{error.status} {error.reason}".strip()


def _apply(api: ApiClient, item: dict, *, doing: str):
    api_class, method, namespaced = _APPLY[item["kind"]]
    call = getattr(api_class(api), method)
    args = (item["metadata"]["name"], item["metadata"]["namespace"]) if namespaced else (item["metadata"]["name"],)
    with api_errors(doing):
        return call(
            *args,
            item,
            field_manager=FIELD_MANAGER,
            force=True,
            _content_type=APPLY_PATCH,
            _request_timeout=api_timeout(),
        )


def _client_entry() -> tuple[kubernetes.client.Configuration, ApiClient]:
    source = settings.PODIUM_KUBECONFIG
    if not source:
        raise SandboxUnavailable(
            "PODIUM_KUBECONFIG is empty",
            user_message="No Kubernetes cluster is configured on this server (PODIUM_KUBECONFIG).",
        )
    try:
        stamp = tuple(Path(path).stat().st_mtime for path in source.split(os.pathsep)) if source != IN_CLUSTER else ()
    except OSError as error:
        raise SandboxUnavailable(
            f"PODIUM_KUBECONFIG={source}: {error}",
            user_message=f"The kubeconfig {source} (PODIUM_KUBECONFIG) cannot be read: {error.strerror}.",
        ) from None
    key = (source, settings.PODIUM_K8S_CONTEXT, stamp)
    with _clients_lock:
        if key in _clients:
            return _clients[key]
        configuration = kubernetes.client.Configuration()
        configuration.retries = 1  # one more try for a dropped keep-alive connection; a dead cluster fails fast
        try:
            if source == IN_CLUSTER:
                kubernetes.config.load_incluster_config(client_configuration=configuration)
            else:
                kubernetes.config.load_kube_config(
                    config_file=source,
                    context=settings.PODIUM_K8S_CONTEXT or None,
                    client_configuration=configuration,
                    persist_config=False,
                )
        except (kubernetes.config.ConfigException, OSError, ValueError, yaml.YAMLError) as error:
            raise SandboxUnavailable(
                f"loading PODIUM_KUBECONFIG={source}: {error}",
                user_message=f"The kubeconfig {source} (PODIUM_KUBECONFIG) is not usable: {error}.",
            ) from None
        _clients.clear()  # an older client may still be in use by another thread: left to the garbage collector
        _clients[key] = (configuration, ApiClient(configuration))
        return _clients[key]


def _event_dict(item) -> dict:
    involved = item.involved_object
    return {"kind": involved.kind or "", "name": involved.name or "", "reason": item.reason, "message": item.message}


def _event_time(item) -> float:
    stamp = item.last_timestamp or item.event_time or item.metadata.creation_timestamp
    return stamp.timestamp() if stamp is not None else 0.0


def _b64decode(text: str) -> str:
    return base64.b64decode(text).decode("utf-8")


def _reason(error: object) -> str:
    if isinstance(error, ApiException):
        return api_message(error)
    if isinstance(error, urllib3.exceptions.MaxRetryError) and error.reason is not None:
        error = error.reason
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
