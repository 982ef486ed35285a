"""The Kubernetes API client of a configured cluster, and the sandbox errors its failures become.

`api_client(config)` loads the kubeconfig a `ClusterConfig` names (or the
in-cluster one) once and reuses the client until the file changes; every
call made with it blocks, with the config's API timeout; callers use threads.
`api_errors` turns client failures into SandboxError with a sentence for the
learner, as `docker.py` does for the engine. `apply_object` sends one object
Podium owns with server-side apply.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import kubernetes.client
import kubernetes.config
import kubernetes.dynamic
import urllib3.exceptions
import yaml
from kubernetes.client import ApiClient, ApiException

from sandbox.backends.config import IN_CLUSTER, ClusterConfig
from sandbox.errors import SandboxError, SandboxNotFound, SandboxUnavailable

POLL = 0.25  # seconds between looks while waiting for the cluster
FIELD_MANAGER = "podium"
APPLY_PATCH = "application/apply-patch+yaml"

# kind -> (API class, server-side-apply method, namespaced?)
_APPLY = {
    "Namespace": (kubernetes.client.CoreV1Api, "patch_namespace", False),
    "ResourceQuota": (kubernetes.client.CoreV1Api, "patch_namespaced_resource_quota", True),
    "LimitRange": (kubernetes.client.CoreV1Api, "patch_namespaced_limit_range", True),
    "ServiceAccount": (kubernetes.client.CoreV1Api, "patch_namespaced_service_account", True),
    "Secret": (kubernetes.client.CoreV1Api, "patch_namespaced_secret", True),
    "Role": (kubernetes.client.RbacAuthorizationV1Api, "patch_namespaced_role", True),
    "RoleBinding": (kubernetes.client.RbacAuthorizationV1Api, "patch_namespaced_role_binding", True),
    "ClusterRole": (kubernetes.client.RbacAuthorizationV1Api, "patch_cluster_role", False),
    "NetworkPolicy": (kubernetes.client.NetworkingV1Api, "patch_namespaced_network_policy", True),
}

_clients_lock = threading.Lock()
_clients: dict[tuple, tuple[kubernetes.client.Configuration, ApiClient]] = {}


def api_client(config: ClusterConfig) -> ApiClient:
    """The shared API client for ordinary (non-streaming) calls to the cluster `config` names.

    Reloaded when the kubeconfig file changes. Raises SandboxUnavailable with a sentence when no
    cluster is configured or the kubeconfig cannot be read.
    """
    return _client_entry(config)[1]


def api_client_new(config: ClusterConfig) -> ApiClient:
    """A fresh API client of its own, for one streaming exec: `kubernetes.stream.stream` swaps a method on
    the client it is given, so a client shared with other threads must never be used for it. Close it after."""
    return ApiClient(_client_entry(config)[0])


def api_client_as(config: ClusterConfig, user: str) -> ApiClient:
    """A fresh API client that impersonates `user` (Podium's identity needs the `impersonate` right); close it
    after. The apiserver adds the groups of an impersonated ServiceAccount by itself."""
    return ApiClient(_client_entry(config)[0], header_name="Impersonate-User", header_value=user)


def api_host(config: ClusterConfig) -> str:
    """The API server address the kubeconfig names."""
    return _client_entry(config)[0].host


@contextlib.contextmanager
def api_errors(doing: str) -> Iterator[None]:
    """Turn Kubernetes client failures into sandbox errors with a sentence for the learner."""
    try:
        yield
    except ApiException as error:
        if error.status == 404:
            raise SandboxNotFound(f"{doing}: {reason(error)}") from None
        if error.status in (401, 403):
            raise SandboxUnavailable(
                f"{doing}: {reason(error)}",
                user_message=f"The cluster refused Podium while {doing}: {reason(error)}",
            ) from None
        if error.status == 0 or error.status >= 500:
            raise SandboxUnavailable(
                f"{doing}: the Kubernetes API did not answer properly ({reason(error)})",
                user_message="The Kubernetes cluster did not answer. Try again in a moment.",
            ) from None
        raise SandboxError(f"{doing}: {reason(error)}") from None
    except (urllib3.exceptions.HTTPError, OSError) as error:
        raise SandboxUnavailable(
            f"{doing}: the Kubernetes API did not answer ({reason(error)})",
            user_message="The Kubernetes cluster did not answer. Try again in a moment.",
        ) from None


def api_message(error: ApiException) -> str:
    """The apiserver's own message in an error answer (its Status object), else the HTTP reason."""
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        message = json.loads(error.body).get("message")
        if message:
            return message
    return f"{error.status} {error.reason}".strip()


def reason(error: object) -> str:
    """One line saying why a call failed: the apiserver's message, or the connection error's first line."""
    if isinstance(error, ApiException):
        return api_message(error)
    if isinstance(error, urllib3.exceptions.MaxRetryError) and error.reason is not None:
        error = error.reason
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def apply_object(api: ApiClient, timeout: float, item: dict, *, doing: str):
    """Server-side apply one object Podium owns (a kind of _APPLY, or a PodSecurityPolicy); returns the object
    as the cluster stored it. Raises the sandbox errors of `api_errors(doing)`."""
    if item["kind"] == "PodSecurityPolicy":  # policy/v1beta1 is gone from the typed client: the dynamic one
        with api_errors(doing):
            resource = kubernetes.dynamic.DynamicClient(api).resources.get(
                api_version=item["apiVersion"], kind=item["kind"]
            )
            return resource.server_side_apply(
                body=item,
                name=item["metadata"]["name"],
                field_manager=FIELD_MANAGER,
                force_conflicts=True,
                _request_timeout=timeout,
            )
    api_class, method, namespaced = _APPLY[item["kind"]]
    call = getattr(api_class(api), method)
    args = (item["metadata"]["name"], item["metadata"]["namespace"]) if namespaced else (item["metadata"]["name"],)

    def apply():
        return call(
            *args, item, field_manager=FIELD_MANAGER, force=True, _content_type=APPLY_PATCH, _request_timeout=timeout
        )

    with api_errors(doing):
        try:
            return apply()
        except ApiException as error:
            # A binding's roleRef cannot change (e.g. PODIUM_K8S_POD_SECURITY changed): replace the binding.
            if error.status != 422 or "cannot change roleRef" not in api_message(error):
                raise
            getattr(api_class(api), method.replace("patch_", "delete_"))(*args, _request_timeout=timeout)
            return apply()


def _client_entry(config: ClusterConfig) -> tuple[kubernetes.client.Configuration, ApiClient]:
    source = config.kubeconfig
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
    key = (source, config.context, stamp)
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
                    context=config.context or None,
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
