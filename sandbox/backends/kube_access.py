"""Attendee namespaces on a Kubernetes cluster, for both sandbox backends.

One attendee, one sandbox, both halves of the deck: the Kubernetes backend runs
the attendee's workspace pod in their namespace, and the Docker backend gives the
attendee's workspace container a kubeconfig for the same kind of namespace, so
`kubectl` in either reaches that namespace and nothing else.

`KubeAccess(config)` works on the cluster its `ClusterConfig` names (a
kubeconfig path, or "in-cluster"; "" means none). Before it makes an attendee's
namespace it asks `pod_security` how the cluster keeps attendees' pods off the
node, and refuses a cluster that does not. Objects come from `namespace_spec`
and are sent with server-side apply (one idempotent call each,
which also brings an existing namespace up to date with a changed
configuration). Every call blocks, with the config's API timeout; callers use
threads.
"""

from __future__ import annotations

import base64
import contextlib
import time
from collections.abc import Callable

import kubernetes.client
import urllib3.exceptions
import yaml
from kubernetes.client import ApiClient, ApiException

from sandbox.backends import kubernetes_spec as kspec
from sandbox.backends import namespace_spec
from sandbox.backends.base import SandboxSpec
from sandbox.backends.config import ClusterConfig
from sandbox.backends.kube_client import (
    POLL,
    api_client,
    api_client_new,
    api_errors,
    api_host,
    apply_object,
    reason,
)
from sandbox.backends.pod_security import PodSecurity, pod_security_check
from sandbox.errors import SandboxError, SandboxUnavailable


class KubeAccess:
    """The attendee namespaces on the cluster `config` names; every method blocks."""

    def __init__(self, config: ClusterConfig) -> None:
        self.config = config

    # --- the cluster ---------------------------------------------------------------------------------------------

    @property
    def configured(self) -> bool:
        """True when the config names a cluster (PODIUM_KUBECONFIG)."""
        return self.config.configured

    @property
    def api_timeout(self) -> float:
        """Seconds one ordinary API call may take (PODIUM_K8S_API_TIMEOUT)."""
        return self.config.api_timeout

    def api(self) -> ApiClient:
        """The shared API client for ordinary (non-streaming) calls (see kube_client.api_client)."""
        return api_client(self.config)

    def api_new(self) -> ApiClient:
        """A fresh API client of its own, for one streaming exec; close it after (see kube_client.api_client_new)."""
        return api_client_new(self.config)

    def server(self) -> str:
        """The API server address as workspaces reach it: PODIUM_K8S_SERVER, else the kubeconfig's own."""
        return self.config.server or api_host(self.config)

    def problem(self) -> str | None:
        """None when the cluster answers and lets Podium manage namespaces; else a sentence saying what to fix."""
        if not self.configured:
            return (
                "No Kubernetes cluster is configured: set PODIUM_KUBECONFIG (or KUBECONFIG) to a kubeconfig of a "
                "cluster this server reaches, e.g. one `manage.py sandbox kind-up` makes."
            )
        try:
            api = self.api()
            kubernetes.client.VersionApi(api).get_code(_request_timeout=min(self.api_timeout, 10))
            review = kubernetes.client.AuthorizationV1Api(api).create_self_subject_access_review(
                {
                    "apiVersion": "authorization.k8s.io/v1",
                    "kind": "SelfSubjectAccessReview",
                    "spec": {"resourceAttributes": {"verb": "create", "resource": "namespaces"}},
                },
                _request_timeout=self.api_timeout,
            )
        except SandboxError as error:
            return error.user_message
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as error:
            return (
                f"The Kubernetes cluster of PODIUM_KUBECONFIG={self.config.kubeconfig} does not answer "
                f"({reason(error)}); is it running, and is its address reachable from this server?"
            )
        if not review.status.allowed:
            return (
                f"The kubeconfig {self.config.kubeconfig} may not create namespaces on its cluster; Podium needs an "
                "identity that can (cluster-admin, or a ClusterRole for namespaces, quotas, RBAC and pods)."
            )
        return self.pod_security().problem

    # --- pod security --------------------------------------------------------------------------------------------

    def pod_security(self, *, fresh: bool = False) -> PodSecurity:
        """How the cluster guards attendees' namespaces (pod_security.py; cached, `fresh` probes again)."""
        return pod_security_check(self.config, fresh=fresh)

    def pod_security_engine(self) -> str:
        """ "psa", "psp" or "none" (opted out); SandboxUnavailable with the reason when the cluster would not keep
        attendees' pods off the node."""
        found = self.pod_security()
        if found.problem:
            raise SandboxUnavailable(f"pod security: {found.problem}", user_message=found.problem)
        return found.engine

    def workspaces_provision(self) -> str:
        """Create (or bring up to date) the namespace of the workspace pods; returns its name."""
        engine = self.pod_security_engine()
        namespace = self.config.workspaces_namespace
        for item in kspec.workspaces_namespace_objects(
            namespace=namespace, engine=engine, prefix=self.config.namespace_prefix
        ):
            self.apply(item, doing=f"creating the workspaces' {item['kind']}")
        return namespace

    def apply(self, item: dict, *, doing: str):
        """Server-side apply one object Podium owns (kube_client.apply_object)."""
        return apply_object(self.api(), self.api_timeout, item, doing=doing)

    # --- namespaces ----------------------------------------------------------------------------------------------

    def namespace_name_for(self, sandbox_id: str) -> str:
        """The namespace of a sandbox, with the configured prefix (PODIUM_K8S_NAMESPACE_PREFIX)."""
        try:
            return kspec.namespace_name(sandbox_id=sandbox_id, prefix=self.config.namespace_prefix)
        except ValueError as error:
            raise SandboxUnavailable(
                str(error), user_message=f"Sandboxes cannot be named on this server: {error}."
            ) from None

    def namespace_provision(self, *, spec: SandboxSpec, backend: str, progress: Callable[[str], None]) -> str:
        """Create (or bring up to date) the sandbox's namespace with quota, limits, RBAC, network policy and its
        pod security level (PODIUM_K8S_POD_SECURITY, by the cluster's engine).

        Idempotent. Refuses (SandboxUnavailable) a cluster that would not keep the attendee's pods off
        the node. When the namespace is still being deleted (a reset a moment ago), waits until it is
        gone, up to PODIUM_K8S_TIMEOUT, and creates it again. Returns the namespace's name.
        """
        engine = self.pod_security_engine()
        name = self.namespace_name_for(spec.sandbox_id)
        objects = namespace_spec.namespace_objects(
            spec=spec,
            namespace=name,
            backend=backend,
            limits=self.config.quota,
            level=self.config.pod_security,
            version=self.config.pod_security_version,
            engine=engine,
            prefix=self.config.namespace_prefix,
        )
        progress("Creating your Kubernetes namespace…")
        created = self.apply(objects[0], doing="creating your namespace")
        if created.metadata.deletion_timestamp is not None:
            progress("Waiting for your old namespace to be deleted…")
            self.namespace_wait_gone(namespace=name, timeout=self.config.timeout)
            self.apply(objects[0], doing="creating your namespace")
        for item in objects[1:]:
            self.apply(item, doing=f"creating the {item['kind']} of your namespace")
        return name

    def namespace_kubeconfig(self, *, namespace: str, server: str = "", timeout: float = 30.0) -> str:
        """A kubeconfig (YAML text) for the namespace's workspace ServiceAccount, reaching `server`
        (default: self.server()). Waits up to `timeout` s for the cluster to fill in the token."""
        api = kubernetes.client.CoreV1Api(self.api())
        deadline = time.monotonic() + timeout
        while True:
            with api_errors("reading your namespace's token"):
                secret = api.read_namespaced_secret(kspec.TOKEN_SECRET, namespace, _request_timeout=self.api_timeout)
            data = secret.data or {}
            if data.get("token") and data.get("ca.crt"):
                break
            if time.monotonic() > deadline:
                raise SandboxUnavailable(
                    f"the token of {namespace}/{kspec.TOKEN_SECRET} was not filled in within {timeout:.0f} s",
                    user_message="The cluster did not issue a token for your namespace; "
                    "is its controller-manager running?",
                )
            time.sleep(POLL)
        token = _b64decode(data["token"])
        config = namespace_spec.service_account_kubeconfig(
            server=server or self.server(), ca_data=data["ca.crt"], token=token, namespace=namespace
        )
        return yaml.safe_dump(config, sort_keys=False)

    def namespace_delete(self, *, namespace: str) -> bool:
        """Delete the namespace and everything in it, without waiting; False when it did not exist.

        The namespace goes first (from then on nothing new can be made in it, so a Deployment cannot
        replace its pods), then its pods are told to stop within a second rather than after their
        own grace period (30 s unless they say otherwise), so the namespace is gone in seconds. Not a
        forced deletion (grace 0): that would drop pods from the API before the node has stopped them.
        """
        api = kubernetes.client.CoreV1Api(self.api())
        with api_errors("deleting your namespace"):
            try:
                api.delete_namespace(namespace, propagation_policy="Background", _request_timeout=self.api_timeout)
            except ApiException as error:
                if error.status == 404:
                    return False
                raise
            with contextlib.suppress(ApiException):
                api.delete_collection_namespaced_pod(
                    namespace, grace_period_seconds=1, _request_timeout=self.api_timeout
                )
        return True

    def namespace_wait_gone(self, *, namespace: str, timeout: float) -> None:
        """Wait until the namespace no longer exists; SandboxUnavailable after `timeout` seconds.

        The cluster's namespace controller retries a namespace whose pods are still stopping with a
        growing delay (35 s after the last pod went was seen under load). Once no pod is left, a
        touch of the namespace (an annotation) makes the controller look again within seconds.
        """
        api = kubernetes.client.CoreV1Api(self.api())
        deadline = time.monotonic() + timeout
        while True:
            with api_errors("waiting for your old namespace to go"):
                try:
                    api.read_namespace(namespace, _request_timeout=self.api_timeout)
                    pods = api.list_namespaced_pod(namespace, limit=1, _request_timeout=self.api_timeout).items
                    if not pods:
                        api.patch_namespace(
                            namespace,
                            {"metadata": {"annotations": {"podium/deleting-since-pods-gone": f"{time.time():.0f}"}}},
                            _content_type="application/merge-patch+json",
                            _request_timeout=self.api_timeout,
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

    def namespaces_managed(self, *, backend: str, instance: str) -> dict[str, str]:
        """sandbox id -> namespace, for every namespace of the install `instance`'s `backend` not being deleted."""
        api = kubernetes.client.CoreV1Api(self.api())
        selector = kspec.managed_selector(instance=instance, backend=backend)
        with api_errors("listing the sandbox namespaces"):
            items = api.list_namespace(label_selector=selector, _request_timeout=self.api_timeout).items
        found = {}
        for item in items:
            sandbox_id = (item.metadata.labels or {}).get(kspec.LABEL_SANDBOX)
            if sandbox_id and item.metadata.deletion_timestamp is None:
                found[sandbox_id] = item.metadata.name
        return found

    def namespace_count(self, *, backend: str) -> int:
        """How many sandbox namespaces of `backend` exist on the cluster (every install's, as with containers)."""
        api = kubernetes.client.CoreV1Api(self.api())
        selector = f"{kspec.LABEL_MANAGED}=1,{kspec.LABEL_BACKEND}={backend}"
        with api_errors("counting the sandboxes"):
            return len(api.list_namespace(label_selector=selector, _request_timeout=self.api_timeout).items)

    def workload_refusals(
        self, *, namespace: str, workloads: list[tuple[str, str]], since: float, wait: float
    ) -> list[str]:
        """Why the cluster refused to make pods for workloads just applied (quota, limits), one line each.

        A Deployment or Job is accepted by the API even when its pods will not fit; the refusal comes a
        moment later as a FailedCreate event of its controller. This reads the namespace's events newer
        than `since` (a time.time()) until every workload has an answer, for at most `wait` seconds.
        """
        if not workloads:
            return []
        api = kubernetes.client.CoreV1Api(self.api())
        deadline = time.monotonic() + wait
        while True:
            with api_errors("reading your namespace's events"):
                items = api.list_namespaced_event(namespace, _request_timeout=self.api_timeout).items
            events = [_event_dict(item) for item in items if _event_time(item) >= since - 1]
            refusals, pending = kspec.workload_outcome(events=events, workloads=workloads)
            if not pending or time.monotonic() > deadline:
                return refusals
            time.sleep(POLL)


# --- helpers -------------------------------------------------------------------------------------------------


def _event_dict(item) -> dict:
    involved = item.involved_object
    return {"kind": involved.kind or "", "name": involved.name or "", "reason": item.reason, "message": item.message}


def _event_time(item) -> float:
    stamp = item.last_timestamp or item.event_time or item.metadata.creation_timestamp
    return stamp.timestamp() if stamp is not None else 0.0


def _b64decode(text: str) -> str:
    return base64.b64decode(text).decode("utf-8")
