"""Reading and removing a workspace pod, and saying in a sentence why one cannot start.

Helpers of the Kubernetes backend. The workspace pod of the attendee namespace
`namespace` is the pod `namespace` in the workspaces namespace
(PODIUM_K8S_WORKSPACES_NAMESPACE), beside its kubeconfig Secret of the same
name; every call blocks, with the cluster's API timeout.
"""

from __future__ import annotations

import time

import urllib3.exceptions
from kubernetes.client import ApiException

from sandbox.backends import kubernetes_spec as kspec
from sandbox.backends.kube_access import KubeAccess
from sandbox.backends.kube_client import POLL, api_errors, api_message
from sandbox.errors import SandboxUnavailable

# Container states that will not get better by waiting: the pod is replaced and the error shown.
FATAL_WAITING = {
    "ErrImageNeverPull",
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
    "CrashLoopBackOff",
}
ENDED = ("Failed", "Succeeded")  # pod phases a workspace pod never comes back from


def namespace_exists(kube: KubeAccess, core, namespace: str) -> bool:
    """Whether the namespace exists (being deleted counts)."""
    with api_errors("reading your namespace"):
        try:
            core.read_namespace(namespace, _request_timeout=kube.api_timeout)
        except ApiException as error:
            if error.status == 404:
                return False
            raise
    return True


def pod_get(kube: KubeAccess, core, namespace: str):
    """The workspace pod of the attendee's `namespace`, or None."""
    with api_errors("reading your workspace pod"):
        try:
            return core.read_namespaced_pod(
                namespace, kube.config.workspaces_namespace, _request_timeout=kube.api_timeout
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise


def pod_create(kube: KubeAccess, core, body: dict) -> None:
    """Create the workspace pod `body`; one that exists already (a concurrent ensure) is fine."""
    deadline = time.monotonic() + kube.api_timeout
    while True:
        try:
            core.create_namespaced_pod(body["metadata"]["namespace"], body, _request_timeout=kube.api_timeout)
            return
        except ApiException as error:
            if error.status == 409:
                return
            # Before 1.24 the API refuses pods of a ServiceAccount whose token the controller has not
            # made yet (a new namespace's first moment), asking to retry.
            if "retry after the token" not in api_message(error) or time.monotonic() > deadline:
                with api_errors("starting your workspace pod"):
                    raise
        except (urllib3.exceptions.HTTPError, OSError):
            with api_errors("starting your workspace pod"):
                raise
        time.sleep(POLL)


def pod_delete(kube: KubeAccess, core, namespace: str, *, wait: bool) -> None:
    """Delete the workspace pod; with `wait`, until it is gone (up to the cluster timeout)."""
    with api_errors("removing your old workspace pod"):
        try:
            # A second of grace, not 0: a forced deletion drops the pod from the API before the node stopped it.
            core.delete_namespaced_pod(
                namespace, kube.config.workspaces_namespace, grace_period_seconds=1, _request_timeout=kube.api_timeout
            )
        except ApiException as error:
            if error.status != 404:
                raise
    deadline = time.monotonic() + kube.config.timeout
    while wait and pod_get(kube, core, namespace) is not None:
        if time.monotonic() > deadline:
            raise SandboxUnavailable(f"workspace pod of {namespace} still there after deletion")
        time.sleep(POLL)


def workspace_delete(kube: KubeAccess, core, namespace: str) -> None:
    """Delete the workspace pod of the attendee's `namespace` and its kubeconfig Secret, without waiting.
    Deleting the attendee's namespace does not take them: they live in the workspaces namespace, and an
    owner reference cannot cross namespaces."""
    pod_delete(kube, core, namespace, wait=False)
    with api_errors("removing your workspace's kubeconfig"):
        try:
            core.delete_namespaced_secret(
                namespace, kube.config.workspaces_namespace, _request_timeout=kube.api_timeout
            )
        except ApiException as error:
            if error.status != 404:
                raise


def pod_ready(pod) -> bool:
    """Running, Ready and not being deleted."""
    if pod.metadata.deletion_timestamp is not None or pod.status.phase != "Running":
        return False
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def pod_problem(pod, *, security: str) -> str | None:
    """A sentence when a container of the pod cannot start (wrong image, refused rights), else None."""
    for status in pod.status.container_statuses or []:
        waiting = status.state.waiting if status.state else None
        if waiting is None or waiting.reason not in FATAL_WAITING:
            continue
        detail = (waiting.message or "").strip()
        terminated = status.last_state.terminated if status.last_state else None
        if waiting.reason == "CrashLoopBackOff" and terminated is not None:
            detail = f"it exited with code {terminated.exit_code} {(terminated.message or '').strip()}".strip()
        if status.name == kspec.DOCKER_CONTAINER and waiting.reason in ("RunContainerError", "CrashLoopBackOff"):
            return (
                f"The cluster refused the Docker engine of your workspace (PODIUM_SANDBOX_SECURITY="
                f"{security}: {detail}). The operator can choose capabilities or sysbox, "
                "or PODIUM_K8S_DOCKER=0 for workspaces without Docker."
            )
        if waiting.reason in ("ErrImageNeverPull", "ErrImagePull", "ImagePullBackOff", "InvalidImageName"):
            return (
                f"The cluster cannot get the workspace image {status.image} ({waiting.reason}: {detail}). "
                "Load it into the cluster's nodes (`manage.py sandbox kind-up` does for kind) or push it to a "
                "registry the nodes reach."
            )
        return f"The {status.name} container of your workspace pod cannot start ({waiting.reason}: {detail})."
    return None


def pod_pending_reason(pod) -> str:
    """Why the scheduler has not placed the pod yet ("" when it has)."""
    for condition in pod.status.conditions or []:
        if condition.type == "PodScheduled" and condition.status != "True" and condition.message:
            return condition.message
    return ""
