"""KubernetesBackend: each sandbox is a namespace with a workspace pod, on any cluster a kubeconfig reaches.

The namespace (quota, limits, RBAC, network policy, pod security) comes from
`kube_access`, the pod spec from `kubernetes_spec` (pure). The pod lives apart from
everything the attendee creates, in the workspaces namespace (PODIUM_K8S_WORKSPACES_
NAMESPACE), named after the attendee's namespace, so the attendee's namespace never has to
allow what the pod's Docker sidecar needs. It runs the same image and the same in-sandbox
runner (`podium-run`) as a Docker workspace, so a block behaves the same on both backends:
kubectl in it uses a kubeconfig of the attendee namespace's ServiceAccount (mounted from a
Secret beside the pod) and reaches only that namespace; with PODIUM_K8S_DOCKER a Docker
engine runs beside it as a sidecar, where the cluster grants the rights
PODIUM_SANDBOX_SECURITY asks for.

A run goes through the pod's podium-agent, execed once per pod and server process
(kubernetes_agent.py): a line on its stdin starts the in-sandbox runner (runner.py) as an
exec would, and its output comes back framed, in the order the agent read it. A pod whose
agent cannot be used gets one exec of the runner per run (kubernetes_exec.py); there, each
stream keeps its order, but the kubelet sends stdout and stderr to the API server as
separate streams, so writes less than ~10 ms apart may arrive swapped (seen on 1.20).
`kubernetes.stream.stream` swaps a method on the ApiClient it is given, so each exec
gets an ApiClient of its own. Cancel and timeout are a second exec
(`podium-run kill RUN_ID`) that finds the run through its pidfile, so any server process
can cancel any run. Output past the cap is read and dropped while the process keeps
running, as in the Docker backend. After an `apply` run, controllers' refusals (a
Deployment whose pods exceed the quota is accepted, its pods are not) are looked up
and added to the output, so the attendee sees why no pod starts.

Configured with a `KubernetesConfig` (config.py), built once from the settings.
Every method blocks; callers use threads. Every API call has a timeout
(PODIUM_K8S_API_TIMEOUT); the exec's websocket connect, which the client cannot time
out, is bounded by waiting for it in a helper thread.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import time

import kubernetes.client
import urllib3.exceptions
from kubernetes.client import ApiException

from sandbox.backends import kubernetes_spec as kspec
from sandbox.backends import runner
from sandbox.backends.agent_link import Agents
from sandbox.backends.base import (
    Backend,
    ManagedSandbox,
    OutputCallback,
    ProgressCallback,
    RunRequest,
    RunResult,
    SandboxDescription,
    SandboxSpec,
    StopCheck,
)
from sandbox.backends.config import KubernetesConfig
from sandbox.backends.docker_engine import registry_mirror_url
from sandbox.backends.kube_access import KubeAccess
from sandbox.backends.kube_client import POLL, api_message
from sandbox.backends.kubernetes_agent import open_agent
from sandbox.backends.kubernetes_exec import ExecRefused, ExecSession, exec_collect, exec_open, exec_run
from sandbox.backends.kubernetes_pods import (
    namespace_exists,
    pod_create,
    pod_delete,
    pod_get,
    pod_pending_reason,
    pod_problem,
    pod_ready,
    workspace_delete,
)
from sandbox.backends.kubernetes_terminal import KubernetesTerminals
from sandbox.backends.run_output import OutputCap
from sandbox.errors import SandboxError, SandboxLimitReached, SandboxNotFound, SandboxNotStarted, SandboxUnavailable

log = logging.getLogger(__name__)

IN_CLUSTER_SERVER = "https://kubernetes.default.svc"  # the API server as a pod reaches it
READY_TIMEOUT = 60  # seconds for the sidecar's Docker engine to answer
APPLY_WATCH = 5.0  # seconds to wait for the controllers' answer after an apply
APPLY_OUTPUT_KEEP = 64 * 1024  # bytes of an apply's stdout kept to read what it created
NO_ENGINE = (
    "This sandbox runs on Kubernetes without a Docker engine (the server's PODIUM_K8S_DOCKER is off), "
    "so Docker blocks cannot run here."
)


class KubernetesBackend(KubernetesTerminals, Backend):
    """Sandboxes as namespaces with a workspace pod, on the cluster its config names (PODIUM_KUBECONFIG)."""

    name = "kubernetes"
    config_class = KubernetesConfig
    config: KubernetesConfig

    def __init__(self, *, config: KubernetesConfig | None = None) -> None:
        super().__init__(config=config)
        self.kube = KubeAccess(self.config.cluster)
        self._agents = Agents()  # runs go through each workspace pod's podium-agent (kubernetes_agent.py)

    # --- the contract -------------------------------------------------------------------------------

    def check(self) -> str | None:
        """None when sandboxes can be created; else what is missing (cluster, rights, setting) and how to fix it."""
        try:
            kspec.docker_security(self.config.security)
            self.kube.namespace_name_for("0" * 32)
        except ValueError as error:
            return f"{error}."
        except SandboxError as error:
            return error.user_message
        return self.kube.problem()

    def ensure(self, *, spec: SandboxSpec, state: dict, progress: ProgressCallback) -> dict:
        """Return the state of a ready workspace pod in the attendee's namespace, creating what is missing."""
        core = self._core()
        namespace = self.kube.namespace_name_for(spec.sandbox_id)
        if state.get("namespace") == namespace and state.get("pod_uid"):
            pod = pod_get(self.kube, core, namespace)
            if pod is not None and pod.metadata.uid == state["pod_uid"] and pod_ready(pod):
                return state
        if not namespace_exists(self.kube, core, namespace):
            self._limit_check()
        docker = self.config.docker
        started = time.monotonic()
        self.kube.namespace_provision(spec=spec, backend=self.name, progress=progress)
        pod_namespace = self.kube.workspaces_provision()
        # The attendee's kubectl, beside the pod: their namespace's ServiceAccount, reached in-cluster.
        kubeconfig = self.kube.namespace_kubeconfig(namespace=namespace, server=IN_CLUSTER_SERVER)
        self.kube.apply(
            kspec.workspace_kubeconfig_secret(
                spec=spec, namespace=namespace, pod_namespace=pod_namespace, kubeconfig=kubeconfig
            ),
            doing="storing your namespace's kubeconfig",
        )
        pod = pod_get(self.kube, core, namespace)
        if pod is not None and (
            pod.metadata.deletion_timestamp is not None or pod.status.phase in ("Failed", "Succeeded")
        ):
            pod_delete(self.kube, core, namespace, wait=True)
            pod = None
        if pod is None:
            progress("Starting your workspace pod…")
            self._pod_create(core, spec, namespace, docker)
        try:
            pod = self._wait_ready(core, namespace, progress)
            if docker:
                progress("Starting the Docker engine inside your sandbox…")
                self._engine_wait(namespace)
        except SandboxError:
            # A pod that cannot start (refused rights, missing image) goes, so the next try starts a fresh one.
            with contextlib.suppress(SandboxError):
                pod_delete(self.kube, core, namespace, wait=False)
            raise
        log.info("sandbox %s ready in %.1f s", namespace, time.monotonic() - started)
        progress("Your sandbox is ready.")
        return {
            "namespace": namespace,
            "pod": namespace,
            "pod_namespace": pod_namespace,
            "pod_uid": pod.metadata.uid,
            "docker": docker,
        }

    def poll(self, *, state: dict) -> str | None:
        """None while the workspace pod runs; "missing" when it or its namespace is gone; else its phase."""
        if not state.get("namespace"):
            return "missing"
        pod = pod_get(self.kube, self._core(), state["namespace"])
        if pod is None or (state.get("pod_uid") and pod.metadata.uid != state["pod_uid"]):
            return "missing"
        if pod.metadata.deletion_timestamp is not None:
            return "terminating"
        return None if pod.status.phase == "Running" else (pod.status.phase or "unknown").lower()

    def execute(
        self, *, state: dict, request: RunRequest, on_output: OutputCallback, should_stop: StopCheck
    ) -> RunResult:
        """Run one block through `podium-run` in the workspace container and stream its output in order."""
        namespace = _namespace_of(state)
        if request.kind == "build" and not state.get("docker"):
            raise SandboxError(f"build run {request.run_id} in {namespace} without engine", user_message=NO_ENGINE)
        started_wall = time.time()
        output = OutputCap(request.output_cap, on_output)
        kept = bytearray()  # an apply's stdout, to see which workloads it created

        def on_frame(stream_name: str, data: bytes) -> None:
            if request.kind == "apply" and stream_name == "stdout" and len(kept) < APPLY_OUTPUT_KEEP:
                kept.extend(data[: APPLY_OUTPUT_KEEP - len(kept)])
            output.write(stream_name, data)

        kill = functools.partial(self._kill, namespace, request.run_id)
        follow = {"request": request, "output": output, "on_frame": on_frame, "should_stop": should_stop, "kill": kill}
        result = self._agents.execute(namespace, functools.partial(open_agent, self.kube, namespace), **follow)
        if result is None:
            command = runner.env_command(request)
            result = exec_run(self._exec_open(namespace, kspec.WORKSPACE_CONTAINER, command), **follow)
        if request.kind == "apply" and not (result.timed_out or result.cancelled):
            before = output.total
            for line in self._refusals(namespace, kept.decode("utf-8", "replace"), started_wall):
                output.write("stderr", f"Kubernetes did not start the pods of {line}\n".encode())
            added = output.total - before
            result = dataclasses.replace(result, truncated=output.truncated, output_bytes=result.output_bytes + added)
        return result

    def cancel(self, *, state: dict, run_id: str) -> bool:
        """Kill the run's session in the workspace (from any process); True when something was killed."""
        if not state.get("namespace"):
            return False
        return self._kill(state["namespace"], run_id)

    def reset(self, *, spec: SandboxSpec, state: dict, progress: ProgressCallback) -> dict:
        """Delete the attendee's namespace with everything in it, and create it again with a fresh workspace."""
        progress("Removing your old sandbox…")
        namespace = state.get("namespace") or self.kube.namespace_name_for(spec.sandbox_id)
        self._agents.forget(namespace)
        workspace_delete(self.kube, self._core(), namespace)
        self.kube.namespace_delete(namespace=namespace)
        return self.ensure(spec=spec, state={}, progress=progress)

    def destroy(self, *, state: dict) -> None:
        """Delete the workspace pod and its kubeconfig Secret (they live in the workspaces namespace), then the
        attendee's namespace (the cluster deletes everything in it); missing ones are fine."""
        if state.get("namespace"):
            self._agents.forget(state["namespace"])
            workspace_delete(self.kube, self._core(), state["namespace"])
            self.kube.namespace_delete(namespace=state["namespace"])

    def list_managed(self) -> list[ManagedSandbox]:
        """Every sandbox namespace of this install (labels podium.managed, podium.instance, podium.backend)."""
        found = self.kube.namespaces_managed(backend=self.name, instance=self.config.instance)
        return [
            ManagedSandbox(sandbox_id=sandbox_id, state={"namespace": namespace, "pod": namespace})
            for sandbox_id, namespace in sorted(found.items())
        ]

    def describe(self, *, state: dict) -> SandboxDescription:
        """`kubectl exec` into the workspace pod; removing it and the namespace removes everything. Its code
        reaches its namespace, and Docker when the pod has the engine sidecar."""
        namespace = state.get("namespace", "")
        pods = self.config.cluster.workspaces_namespace
        enter = f"kubectl -n {pods} exec -it {namespace} -- bash" if namespace else ""
        remove = f"kubectl -n {pods} delete pod,secret {namespace}; kubectl delete namespace {namespace}"
        return SandboxDescription(
            enter=enter,
            remove=remove if namespace else "",
            namespace=namespace,
            cluster=True,
            engine=bool(state.get("docker")),
        )

    def state_by_name(self, *, spec: SandboxSpec) -> dict:
        """The namespace of `spec`'s sandbox: deleting it deletes everything ensure makes."""
        return {"namespace": self.kube.namespace_name_for(spec.sandbox_id)}

    # --- creating ----------------------------------------------------------------------------------------

    def _limit_check(self) -> None:
        count = self.kube.namespace_count(backend=self.name)
        if count >= self.config.max_sandboxes:
            raise SandboxLimitReached(
                f"{count} sandbox namespaces exist, PODIUM_MAX_SANDBOXES={self.config.max_sandboxes}",
                user_message=f"This server already runs its maximum of {self.config.max_sandboxes} sandboxes. "
                "Try again later, or ask the presenter.",
            )

    def _pod_create(self, core, spec: SandboxSpec, namespace: str, docker: bool) -> None:
        body = kspec.workspace_pod(
            spec=spec,
            namespace=namespace,
            image=self.config.image,
            limits=self.config.workspace_limits,
            security=self.config.security,
            docker=docker,
            registry_mirror=self._registry_mirror() if docker else "",
            pull_policy=self.config.pull_policy,
            pod_namespace=self.config.cluster.workspaces_namespace,
            runtime_class=self.config.runtime_class,
        )
        pod_create(self.kube, core, body)

    def _wait_ready(self, core, namespace: str, progress: ProgressCallback):
        deadline = time.monotonic() + self.config.cluster.timeout
        said_waiting = False
        while True:
            pod = pod_get(self.kube, core, namespace)
            if pod is None:
                raise SandboxNotFound(f"workspace pod of {namespace} vanished while starting")
            if pod_ready(pod):
                return pod
            problem = pod_problem(pod, security=self.config.security)
            if problem is not None:
                raise SandboxUnavailable(f"workspace pod of {namespace}: {problem}", user_message=problem)
            if time.monotonic() > deadline:
                why = pod_pending_reason(pod) or f"it is still {pod.status.phase}"
                raise SandboxUnavailable(
                    f"workspace pod of {namespace} not ready after {self.config.cluster.timeout:.0f} s: {why}",
                    user_message=f"Your workspace pod did not start within {self.config.cluster.timeout:.0f} s "
                    f"({why}). Reset your sandbox to try again; if that fails too, tell the presenter.",
                )
            if not said_waiting and pod_pending_reason(pod):
                progress(f"Waiting for the cluster: {pod_pending_reason(pod)}")
                said_waiting = True
            time.sleep(POLL)

    def _engine_wait(self, namespace: str) -> None:
        code, output = self._exec_collect(
            namespace, kspec.DOCKER_CONTAINER, runner.ready_command(timeout=READY_TIMEOUT), timeout=READY_TIMEOUT + 10
        )
        if code != 0:
            raise SandboxUnavailable(
                f"the Docker sidecar of {namespace} did not start: {output.strip()}",
                user_message="The Docker engine inside your sandbox did not start. Reset your sandbox to try again; "
                "if that fails too, tell the presenter.",
            )

    # --- runs ----------------------------------------------------------------------------------------------

    def _kill(self, namespace: str, run_id: str) -> bool:
        """Kill a run's session with a second exec; False when nothing was left to kill (or the exec failed)."""
        try:
            code, _ = self._exec_collect(
                namespace,
                kspec.WORKSPACE_CONTAINER,
                runner.kill_command(run_id=run_id),
                timeout=self.kube.api_timeout,
            )
        except SandboxError as error:
            log.warning("killing run %s in %s failed: %s", run_id, namespace, error)
            return False
        return code == 0

    def _refusals(self, namespace: str, output: str, since: float) -> list[str]:
        workloads = kspec.applied_workloads(output)
        try:
            return self.kube.workload_refusals(namespace=namespace, workloads=workloads, since=since, wait=APPLY_WATCH)
        except SandboxError as error:
            log.warning("reading the events of %s after an apply failed: %s", namespace, error)
            return []

    def _exec_open(self, namespace: str, container: str, command: list[str]) -> ExecSession:
        try:
            return exec_open(self.kube, namespace, container, command)
        except ExecRefused as refused:
            self._exec_failed(namespace, refused.error)
            raise  # not reached: _exec_failed always raises

    def _exec_failed(self, namespace: str, error: BaseException) -> None:
        """Raise the sandbox error an exec that could not start means: a gone pod, or the API's refusal."""
        if self.poll(state={"namespace": namespace}) is not None:
            raise SandboxNotStarted(f"exec in {namespace}: the workspace pod is not running ({error})")
        reason = api_message(error) if isinstance(error, ApiException) else str(error)
        if isinstance(error, (ApiException, urllib3.exceptions.HTTPError, OSError)):
            raise SandboxUnavailable(
                f"exec in {namespace} failed: {reason}",
                user_message="The Kubernetes cluster did not start your run. Try again in a moment.",
            ) from None
        raise SandboxError(f"exec in {namespace} failed: {reason}") from None

    def _exec_collect(self, namespace: str, container: str, command: list[str], *, timeout: float) -> tuple[int, str]:
        """Run a short command (readiness, kill) and return (exit code, stdout+stderr); -1 when it did not end."""
        return exec_collect(self._exec_open(namespace, container, command), timeout=timeout)

    # --- the cluster ---------------------------------------------------------------------------------------

    def _core(self) -> kubernetes.client.CoreV1Api:
        return kubernetes.client.CoreV1Api(self.kube.api())

    def _registry_mirror(self) -> str:
        """The mirror the Docker sidecar pulls through; "" when none can be found (no local engine to ask)."""
        try:
            return registry_mirror_url(mirror=self.config.registry_mirror, port=self.config.registry_port)
        except SandboxError:
            return ""


def _namespace_of(state: dict) -> str:
    if not state.get("namespace"):
        raise SandboxNotFound("the sandbox state names no namespace")
    return state["namespace"]
