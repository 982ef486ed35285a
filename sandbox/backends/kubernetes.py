"""KubernetesBackend: each sandbox is a namespace with a workspace pod, on any cluster a kubeconfig reaches.

The namespace (quota, limits, RBAC, network policy) comes from `sandbox.kube_access`,
the pod spec from `kubernetes_spec` (pure). The pod runs the same image and the same
in-sandbox runner (`podium-run`) as a Docker workspace, so a block behaves the same on
both backends: kubectl in it uses the pod's ServiceAccount and reaches only the
attendee's namespace; with PODIUM_K8S_DOCKER a Docker engine runs beside it as a
sidecar, where the cluster grants the rights PODIUM_SANDBOX_SECURITY asks for.

A run is one exec through the API server (a websocket: channel 1 stdout, 2 stderr,
3 the status with the exit code), read frame by frame and handed on in arrival order.
Each stream keeps its order; across the two, the order is what the API delivers: the
kubelet sends them to the API server as separate streams, so writes to stdout and
stderr less than ~10 ms apart may arrive swapped (seen on 1.20).
`kubernetes.stream.stream` swaps a method on the ApiClient it is given, so each exec
gets an ApiClient of its own. Cancel and timeout are a second exec
(`podium-run kill RUN_ID`) that finds the run through its pidfile, so any server process
can cancel any run. Output past the cap is read and dropped while the process keeps
running, as in the Docker backend. After an `apply` run, controllers' refusals (a
Deployment whose pods exceed the quota is accepted, its pods are not) are looked up
and added to the output, so the attendee sees why no pod starts.

Every method blocks; callers use threads. Every API call has a timeout
(PODIUM_K8S_API_TIMEOUT); the exec's websocket connect, which the client cannot time
out, is bounded by waiting for it in a helper thread.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator

import kubernetes.client
import urllib3.exceptions
from django.conf import settings
from kubernetes.client import ApiException
from kubernetes.stream import stream as k8s_stream
from websocket import ABNF, WebSocketConnectionClosedException, WebSocketTimeoutException

from sandbox import kube_access
from sandbox.backends import docker_spec
from sandbox.backends import kubernetes_spec as kspec
from sandbox.backends.base import (
    Backend,
    ManagedSandbox,
    OutputCallback,
    ProgressCallback,
    RunRequest,
    RunResult,
    SandboxSpec,
    StopCheck,
)
from sandbox.backends.run_output import OutputCap, frames_follow
from sandbox.errors import SandboxError, SandboxLimitReached, SandboxNotFound, SandboxUnavailable

log = logging.getLogger(__name__)

READY_TIMEOUT = 60  # seconds for the sidecar's Docker engine to answer
APPLY_WATCH = 5.0  # seconds to wait for the controllers' answer after an apply
APPLY_OUTPUT_KEEP = 64 * 1024  # bytes of an apply's stdout kept to read what it created
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
NO_ENGINE = (
    "This sandbox runs on Kubernetes without a Docker engine (the server's PODIUM_K8S_DOCKER is off), "
    "so Docker blocks cannot run here."
)


class KubernetesBackend(Backend):
    """Sandboxes as namespaces with a workspace pod, on the cluster settings.PODIUM_KUBECONFIG names."""

    name = "kubernetes"

    # --- the contract -------------------------------------------------------------------------------

    def check(self) -> str | None:
        """None when sandboxes can be created; else what is missing (cluster, rights, setting) and how to fix it."""
        try:
            kspec.docker_security(settings.PODIUM_SANDBOX_SECURITY)
            kube_access.namespace_name_for("0" * 32)
        except ValueError as error:
            return f"{error}."
        except SandboxError as error:
            return error.user_message
        return kube_access.cluster_problem()

    def ensure(self, *, spec: SandboxSpec, state: dict, progress: ProgressCallback) -> dict:
        """Return the state of a ready workspace pod in the attendee's namespace, creating what is missing."""
        core = self._core()
        namespace = kube_access.namespace_name_for(spec.sandbox_id)
        if state.get("namespace") == namespace and state.get("pod_uid"):
            pod = _pod_get(core, namespace)
            if pod is not None and pod.metadata.uid == state["pod_uid"] and _pod_ready(pod):
                return state
        if not _namespace_exists(core, namespace):
            self._limit_check()
        docker = settings.PODIUM_K8S_DOCKER
        started = time.monotonic()
        kube_access.namespace_provision(
            spec=spec,
            backend=self.name,
            privileged_workspace=docker and settings.PODIUM_SANDBOX_SECURITY != "sysbox",
            progress=progress,
        )
        pod = _pod_get(core, namespace)
        if pod is not None and (
            pod.metadata.deletion_timestamp is not None or pod.status.phase in ("Failed", "Succeeded")
        ):
            _pod_delete(core, namespace, wait=True)
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
            # A pod that cannot start (refused rights, missing image) goes, so the next try uses current settings.
            with contextlib.suppress(SandboxError):
                _pod_delete(core, namespace, wait=False)
            raise
        log.info("sandbox %s ready in %.1f s", namespace, time.monotonic() - started)
        progress("Your sandbox is ready.")
        return {"namespace": namespace, "pod": kspec.WORKSPACE, "pod_uid": pod.metadata.uid, "docker": docker}

    def poll(self, *, state: dict) -> str | None:
        """None while the workspace pod runs; "missing" when it or its namespace is gone; else its phase."""
        if not state.get("namespace"):
            return "missing"
        pod = _pod_get(self._core(), state["namespace"])
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
        session = self._exec_open(namespace, kspec.WORKSPACE_CONTAINER, kspec.exec_command(request))
        output = OutputCap(request.output_cap, on_output)
        status: dict | None = None
        kept = bytearray()  # an apply's stdout, to see which workloads it created

        def on_frame(stream_name: str, data: bytes) -> None:
            nonlocal status
            if stream_name == "status":
                status = kspec.exec_status(data)
                return
            if request.kind == "apply" and stream_name == "stdout" and len(kept) < APPLY_OUTPUT_KEEP:
                kept.extend(data[: APPLY_OUTPUT_KEEP - len(kept)])
            output.write(stream_name, data)

        try:
            ending = frames_follow(
                _frames(session),
                request=request,
                kill=lambda: self._kill(namespace, request.run_id),
                should_stop=should_stop,
                on_frame=on_frame,
            )
        finally:
            session.close()
        exit_code = kspec.exec_exit_code(status)
        if exit_code is None and status is not None:
            log.warning("run %s: exec status without an exit code: %s", request.run_id, status)
        if request.kind == "apply" and not (ending.timed_out or ending.cancelled):
            for line in self._refusals(namespace, kept.decode("utf-8", "replace"), started_wall):
                output.write("stderr", f"Kubernetes did not start the pods of {line}\n".encode())
        return RunResult(
            exit_code=exit_code,
            timed_out=ending.timed_out,
            cancelled=ending.cancelled,
            truncated=output.truncated,
            output_bytes=output.total,
        )

    def cancel(self, *, state: dict, run_id: str) -> bool:
        """Kill the run's session in the workspace (from any process); True when something was killed."""
        if not state.get("namespace"):
            return False
        return self._kill(state["namespace"], run_id)

    def reset(self, *, spec: SandboxSpec, state: dict, progress: ProgressCallback) -> dict:
        """Delete the attendee's namespace with everything in it, and create it again with a fresh workspace."""
        progress("Removing your old sandbox…")
        namespace = state.get("namespace") or kube_access.namespace_name_for(spec.sandbox_id)
        kube_access.namespace_delete(namespace=namespace)
        return self.ensure(spec=spec, state={}, progress=progress)

    def destroy(self, *, state: dict) -> None:
        """Delete the namespace (the cluster then deletes everything in it); a missing one is fine."""
        if state.get("namespace"):
            kube_access.namespace_delete(namespace=state["namespace"])

    def list_managed(self) -> list[ManagedSandbox]:
        """Every sandbox namespace of this install (labels podium.managed, podium.instance, podium.backend)."""
        found = kube_access.namespaces_managed(backend=self.name)
        return [
            ManagedSandbox(sandbox_id=sandbox_id, state={"namespace": namespace, "pod": kspec.WORKSPACE})
            for sandbox_id, namespace in sorted(found.items())
        ]

    # --- creating ----------------------------------------------------------------------------------------

    def _limit_check(self) -> None:
        count = kube_access.namespace_count(backend=self.name)
        if count >= settings.PODIUM_MAX_SANDBOXES:
            raise SandboxLimitReached(
                f"{count} sandbox namespaces exist, PODIUM_MAX_SANDBOXES={settings.PODIUM_MAX_SANDBOXES}",
                user_message=f"This server already runs its maximum of {settings.PODIUM_MAX_SANDBOXES} sandboxes. "
                "Try again later, or ask the presenter.",
            )

    def _pod_create(self, core, spec: SandboxSpec, namespace: str, docker: bool) -> None:
        body = kspec.workspace_pod(
            spec=spec,
            namespace=namespace,
            image=settings.PODIUM_WORKSPACE_IMAGE,
            limits=kspec.WorkspaceLimits(
                memory=settings.PODIUM_SANDBOX_MEMORY,
                cpus=settings.PODIUM_SANDBOX_CPUS,
                pids=settings.PODIUM_SANDBOX_PIDS,
                disk=settings.PODIUM_SANDBOX_DISK,
            ),
            security=settings.PODIUM_SANDBOX_SECURITY,
            docker=docker,
            registry_mirror=_registry_mirror() if docker else "",
            pull_policy=settings.PODIUM_K8S_IMAGE_PULL_POLICY,
        )
        deadline = time.monotonic() + kube_access.api_timeout()
        while True:
            try:
                core.create_namespaced_pod(namespace, body, _request_timeout=kube_access.api_timeout())
                return
            except ApiException as error:
                message = kube_access.api_message(error)
                if error.status == 409:
                    return  # a concurrent ensure made it first
                if error.status == 403 and "exceeded quota" in message:
                    raise SandboxLimitReached(
                        f"workspace pod of {namespace}: {message}",
                        user_message="Your workspace pod does not fit in your namespace's quota (PODIUM_K8S_QUOTA_CPU, "
                        "PODIUM_K8S_QUOTA_MEMORY, PODIUM_K8S_QUOTA_PODS); tell the presenter: " + message,
                    ) from None
                # Before 1.24 the API refuses pods of a ServiceAccount whose token the controller has not
                # made yet (a new namespace's first moment), asking to retry.
                if "retry after the token" not in message or time.monotonic() > deadline:
                    with kube_access.api_errors("starting your workspace pod"):
                        raise
            except (urllib3.exceptions.HTTPError, OSError):
                with kube_access.api_errors("starting your workspace pod"):
                    raise
            time.sleep(kube_access.POLL)

    def _wait_ready(self, core, namespace: str, progress: ProgressCallback):
        deadline = time.monotonic() + settings.PODIUM_K8S_TIMEOUT
        said_waiting = False
        while True:
            pod = _pod_get(core, namespace)
            if pod is None:
                raise SandboxNotFound(f"workspace pod of {namespace} vanished while starting")
            if _pod_ready(pod):
                return pod
            problem = _pod_problem(pod)
            if problem is not None:
                raise SandboxUnavailable(f"workspace pod of {namespace}: {problem}", user_message=problem)
            if time.monotonic() > deadline:
                why = _pod_pending_reason(pod) or f"it is still {pod.status.phase}"
                raise SandboxUnavailable(
                    f"workspace pod of {namespace} not ready after {settings.PODIUM_K8S_TIMEOUT:.0f} s: {why}",
                    user_message=f"Your workspace pod did not start within {settings.PODIUM_K8S_TIMEOUT:.0f} s "
                    f"({why}). Reset your sandbox to try again; if that fails too, tell the presenter.",
                )
            if not said_waiting and _pod_pending_reason(pod):
                progress(f"Waiting for the cluster: {_pod_pending_reason(pod)}")
                said_waiting = True
            time.sleep(kube_access.POLL)

    def _engine_wait(self, namespace: str) -> None:
        code, output = self._exec_collect(
            namespace, kspec.DOCKER_CONTAINER, [docker_spec.READY, str(READY_TIMEOUT)], timeout=READY_TIMEOUT + 10
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
                docker_spec.kill_command(run_id=run_id),
                timeout=kube_access.api_timeout(),
            )
        except SandboxError as error:
            log.warning("killing run %s in %s failed: %s", run_id, namespace, error)
            return False
        return code == 0

    def _refusals(self, namespace: str, output: str, since: float) -> list[str]:
        workloads = kspec.applied_workloads(output)
        try:
            return kube_access.workload_refusals(
                namespace=namespace, workloads=workloads, since=since, wait=APPLY_WATCH
            )
        except SandboxError as error:
            log.warning("reading the events of %s after an apply failed: %s", namespace, error)
            return []

    def _exec_open(self, namespace: str, container: str, command: list[str]) -> _ExecSession:
        """Open an exec websocket with an ApiClient of its own; the connect is bounded by the API timeout."""
        api = kube_access.cluster_api_new()
        core = kubernetes.client.CoreV1Api(api)
        outcome: dict = {}
        done = threading.Event()
        lock = threading.Lock()

        def connect() -> None:
            try:
                outcome["client"] = k8s_stream(
                    core.connect_get_namespaced_pod_exec,
                    kspec.WORKSPACE,
                    namespace,
                    container=container,
                    command=command,
                    stdin=False,
                    stdout=True,
                    stderr=True,
                    tty=False,
                    binary=True,
                    _preload_content=False,
                )
            except BaseException as error:  # handed to the caller's thread
                outcome["error"] = error
            with lock:
                done.set()
                if outcome.get("abandoned"):
                    _close_quietly(outcome.get("client"), api)

        threading.Thread(target=connect, daemon=True, name=f"exec-connect-{namespace}").start()
        timeout = kube_access.api_timeout()
        if not done.wait(timeout):
            with lock:
                if not done.is_set():
                    outcome["abandoned"] = True
                    raise SandboxUnavailable(
                        f"exec in {namespace}: no answer within {timeout:.0f} s",
                        user_message="The Kubernetes cluster did not answer. Try again in a moment.",
                    )
        if "error" in outcome:
            api.close()
            self._exec_failed(namespace, outcome["error"])
        return _ExecSession(api=api, client=outcome["client"])

    def _exec_failed(self, namespace: str, error: BaseException) -> None:
        """Raise the sandbox error an exec that could not start means: a gone pod, or the API's refusal."""
        if self.poll(state={"namespace": namespace}) is not None:
            raise SandboxNotFound(f"exec in {namespace}: the workspace pod is not running ({error})")
        reason = kube_access.api_message(error) if isinstance(error, ApiException) else str(error)
        if isinstance(error, (ApiException, urllib3.exceptions.HTTPError, OSError)):
            raise SandboxUnavailable(
                f"exec in {namespace} failed: {reason}",
                user_message="The Kubernetes cluster did not start your run. Try again in a moment.",
            ) from None
        raise SandboxError(f"exec in {namespace} failed: {reason}") from None

    def _exec_collect(self, namespace: str, container: str, command: list[str], *, timeout: float) -> tuple[int, str]:
        """Run a short command (readiness, kill) and return (exit code, stdout+stderr); -1 when it did not end."""
        session = self._exec_open(namespace, container, command)
        output = bytearray()
        status: dict | None = None
        deadline = time.monotonic() + timeout
        try:
            while (left := deadline - time.monotonic()) > 0:
                frame = session.frame(timeout=left)
                if frame is None:
                    break
                channel, data = frame
                if channel == 3:
                    status = kspec.exec_status(data)
                elif channel in (1, 2):
                    output += data
        except WebSocketTimeoutException:
            pass
        finally:
            session.close()
        code = kspec.exec_exit_code(status)
        return (-1 if code is None else code), output.decode("utf-8", "replace")

    # --- the cluster ---------------------------------------------------------------------------------------

    def _core(self) -> kubernetes.client.CoreV1Api:
        return kubernetes.client.CoreV1Api(kube_access.cluster_api())


class _ExecSession:
    """One exec's websocket and the ApiClient that opened it; frames come out as (channel, bytes)."""

    def __init__(self, *, api, client) -> None:
        self.api = api
        self.client = client
        self.socket = client.sock

    def frame(self, *, timeout: float | None) -> tuple[int, bytes] | None:
        """The next data frame, None when the stream ended; WebSocketTimeoutException after `timeout` s."""
        self.socket.settimeout(timeout)
        while True:
            try:
                opcode, frame = self.socket.recv_data_frame(True)
            except WebSocketConnectionClosedException:
                return None
            if opcode == ABNF.OPCODE_CLOSE:
                return None
            if opcode in (ABNF.OPCODE_BINARY, ABNF.OPCODE_TEXT) and len(frame.data) > 1:
                data = frame.data if isinstance(frame.data, bytes) else frame.data.encode()
                return data[0], data[1:]
            # else: a channel's opening frame (its number alone), a ping, or a pong

    def close(self) -> None:
        _close_quietly(self.client, self.api)


def _frames(session: _ExecSession) -> Iterator[tuple[str, bytes]]:
    """The exec's stdout, stderr and status channels as (stream, bytes) frames, in arrival order."""
    names = {1: "stdout", 2: "stderr", 3: "status"}
    while True:
        # No read timeout: the run's own timeout kills it, which ends the stream.
        frame = session.frame(timeout=None)
        if frame is None:
            return
        channel, data = frame
        if channel in names:
            yield names[channel], data


def _close_quietly(client, api) -> None:
    """Close an exec's websocket at once (no close handshake: a reader thread may be blocked on it, and a
    shutdown is what wakes it) and its ApiClient."""
    websocket = getattr(client, "sock", None)
    with contextlib.suppress(Exception):
        websocket.sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(Exception):
        websocket.shutdown()
    with contextlib.suppress(Exception):
        api.close()


def _namespace_of(state: dict) -> str:
    if not state.get("namespace"):
        raise SandboxNotFound("the sandbox state names no namespace")
    return state["namespace"]


def _namespace_exists(core, namespace: str) -> bool:
    with kube_access.api_errors("reading your namespace"):
        try:
            core.read_namespace(namespace, _request_timeout=kube_access.api_timeout())
        except ApiException as error:
            if error.status == 404:
                return False
            raise
    return True


def _pod_get(core, namespace: str):
    with kube_access.api_errors("reading your workspace pod"):
        try:
            return core.read_namespaced_pod(kspec.WORKSPACE, namespace, _request_timeout=kube_access.api_timeout())
        except ApiException as error:
            if error.status == 404:
                return None
            raise


def _pod_delete(core, namespace: str, *, wait: bool) -> None:
    with kube_access.api_errors("removing your old workspace pod"):
        try:
            # A second of grace, not 0: a forced deletion drops the pod from the API before the node stopped it.
            core.delete_namespaced_pod(
                kspec.WORKSPACE, namespace, grace_period_seconds=1, _request_timeout=kube_access.api_timeout()
            )
        except ApiException as error:
            if error.status != 404:
                raise
    deadline = time.monotonic() + settings.PODIUM_K8S_TIMEOUT
    while wait and _pod_get(core, namespace) is not None:
        if time.monotonic() > deadline:
            raise SandboxUnavailable(f"workspace pod of {namespace} still there after deletion")
        time.sleep(kube_access.POLL)


def _pod_ready(pod) -> bool:
    if pod.metadata.deletion_timestamp is not None or pod.status.phase != "Running":
        return False
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def _pod_problem(pod) -> str | None:
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
                f"{settings.PODIUM_SANDBOX_SECURITY}: {detail}). The operator can choose capabilities or sysbox, "
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


def _pod_pending_reason(pod) -> str:
    for condition in pod.status.conditions or []:
        if condition.type == "PodScheduled" and condition.status != "True" and condition.message:
            return condition.message
    return ""


def _registry_mirror() -> str:
    from sandbox.registry import registry_mirror_url  # needs a Docker engine unless the operator set one

    try:
        return registry_mirror_url()
    except SandboxError:
        return ""
