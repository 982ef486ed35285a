"""Execs in a workspace pod through the API server: opening one, and reading its channels as frames.

An exec is a websocket: channel 1 stdout, 2 stderr, 3 the status with the exit
code. `kubernetes.stream.stream` swaps a method on the ApiClient it is given,
so each exec gets an ApiClient of its own, and its connect, which the client
cannot time out, is bounded by waiting for it in a helper thread. Every
function blocks; callers use threads.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator

import kubernetes.client
from kubernetes.stream import stream as k8s_stream
from websocket import ABNF, WebSocketConnectionClosedException, WebSocketTimeoutException

from sandbox.backends import kubernetes_spec as kspec
from sandbox.backends.base import RunRequest, RunResult, StopCheck
from sandbox.backends.kube_access import KubeAccess
from sandbox.backends.run_output import OutputCap, frames_follow
from sandbox.errors import SandboxUnavailable

log = logging.getLogger(__name__)


class ExecRefused(Exception):  # noqa: N818 - a wrapper, not an error of its own
    """The exec could not start; `error` is what the Kubernetes client raised."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def exec_open(
    kube: KubeAccess, namespace: str, container: str, command: list[str], *, tty: bool = False, stdin: bool = False
) -> ExecSession:
    """Open an exec websocket in the workspace pod with an ApiClient of its own; the connect is bounded by
    the API timeout (SandboxUnavailable). ExecRefused carries the client's error when the connect failed.
    With `tty`, the exec has a TTY and stdin (channel 0 in, 1 out, 4 resize), as `kubectl exec -it`; with
    `stdin` alone, stdin (channel 0) and no TTY, stdout and stderr apart, as `kubectl exec -i`."""
    api = kube.api_new()
    core = kubernetes.client.CoreV1Api(api)
    outcome: dict = {}
    done = threading.Event()
    lock = threading.Lock()

    def connect() -> None:
        try:
            outcome["client"] = k8s_stream(
                core.connect_get_namespaced_pod_exec,
                namespace,  # the workspace pod is named after the attendee's namespace
                kube.config.workspaces_namespace,
                container=container,
                command=command,
                stdin=tty or stdin,
                stdout=True,
                stderr=not tty,
                tty=tty,
                binary=True,
                _preload_content=False,
            )
        except BaseException as error:  # handed to the caller's thread
            outcome["error"] = error
        with lock:
            done.set()
            if outcome.get("abandoned"):
                close_quietly(outcome.get("client"), api)

    threading.Thread(target=connect, daemon=True, name=f"exec-connect-{namespace}").start()
    timeout = kube.api_timeout
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
        raise ExecRefused(outcome["error"])
    return ExecSession(api=api, client=outcome["client"])


class ExecSession:
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
        close_quietly(self.client, self.api)


def exec_frames(session: ExecSession) -> Iterator[tuple[str, bytes]]:
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


def exec_run(
    session: ExecSession, *, request: RunRequest, output: OutputCap, on_frame, should_stop: StopCheck, kill
) -> RunResult:
    """Follow a run's own exec of the runner to its end (run_output.frames_follow) and close it: each output frame
    goes to `on_frame`, which writes it to `output`; the exit code comes from the status channel."""
    status: dict | None = None

    def on_exec_frame(stream_name: str, data: bytes) -> None:
        nonlocal status
        if stream_name == "status":
            status = kspec.exec_status(data)
        else:
            on_frame(stream_name, data)

    try:
        ending = frames_follow(
            exec_frames(session),
            request=request,
            kill=kill,
            should_stop=should_stop,
            on_frame=on_exec_frame,
            over_cap=lambda: output.truncated,
        )
    finally:
        session.close()
    exit_code = kspec.exec_exit_code(status)
    if exit_code is None and status is not None:
        log.warning("run %s: exec status without an exit code: %s", request.run_id, status)
    return RunResult(
        exit_code=exit_code,
        timed_out=ending.timed_out,
        cancelled=ending.cancelled,
        truncated=output.truncated,
        output_bytes=output.total,
    )


def close_quietly(client, api) -> None:
    """Close an exec's websocket at once (no close handshake: a reader thread may be blocked on it, and a
    shutdown is what wakes it) and its ApiClient."""
    websocket = getattr(client, "sock", None)
    with contextlib.suppress(Exception):
        websocket.sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(Exception):
        websocket.shutdown()
    with contextlib.suppress(Exception):
        api.close()


def exec_collect(session: ExecSession, *, timeout: float) -> tuple[int, str]:
    """Read a short command's exec to its end (at most `timeout` seconds) and close it: (exit code,
    stdout+stderr), the code -1 when it did not end."""
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
