"""The Kubernetes backend's terminal: an exec with a TTY of `podium-shell` in the workspace pod.

Like `kubectl exec -it`: the exec's websocket carries the keystrokes on channel 0, the TTY's output on channel
1, the end on channel 3 and the PTY's size on channel 4 ({"Width", "Height"}). An exec has no environment of
its own, so the terminal's goes in front of the command through `env`. Closing detaches through a second exec
(`podium-shell detach`), as on Docker.
"""

from __future__ import annotations

import contextlib
import json
import logging

from websocket import ABNF

from sandbox.backends import kubernetes_spec as kspec
from sandbox.backends import terminal_commands as commands
from sandbox.backends.base import Terminal, TerminalRequest, TerminalStatus
from sandbox.backends.kubernetes_exec import ExecRefused, ExecSession, exec_open
from sandbox.errors import SandboxError, SandboxNotFound

log = logging.getLogger(__name__)

STDIN, STDOUT, ERROR, RESIZE = 0, 1, 3, 4
DETACH_TIMEOUT = 15.0  # seconds


class KubernetesTerminal(Terminal):
    """One attached `podium-shell` exec with a TTY in a workspace pod."""

    def __init__(self, backend, namespace: str, request: TerminalRequest) -> None:
        self._backend, self._namespace, self._request = backend, namespace, request
        self._session: ExecSession = backend._terminal_exec(namespace, _with_env(request), tty=True)
        self._closed = False
        self.resize(cols=request.cols, rows=request.rows)

    def read(self) -> bytes:
        while True:
            try:
                frame = self._session.frame(timeout=None)
            except Exception:  # the socket was shut down by close()
                return b""
            if frame is None:
                return b""
            channel, data = frame
            if channel == STDOUT and data:
                return data
            if channel == ERROR:
                return b""

    def write(self, data: bytes) -> None:
        self._send(STDIN, data)

    def resize(self, *, cols: int, rows: int) -> None:
        with contextlib.suppress(SandboxError):
            self._send(RESIZE, json.dumps({"Width": cols, "Height": rows}).encode())

    def _send(self, channel: int, data: bytes) -> None:
        try:
            self._session.socket.send(bytes([channel]) + data, opcode=ABNF.OPCODE_BINARY)
        except Exception as error:  # websocket-client raises its own kinds as well as OSError
            raise SandboxError(f"writing to a terminal failed: {error}", user_message="The terminal ended.") from None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._session.close()
        try:
            self._backend._exec_collect(
                self._namespace,
                kspec.WORKSPACE_CONTAINER,
                commands.detach_command(self._request),
                timeout=DETACH_TIMEOUT,
            )
        except SandboxError as error:  # the pod is gone, and its session with it
            log.info("detaching a terminal in %s failed: %s", self._namespace, error)


class KubernetesTerminals:
    """The terminal half of KubernetesBackend (a mixin: it uses the backend's cluster access and execs)."""

    def terminal_open(self, *, state: dict, request: TerminalRequest) -> Terminal:
        """Attach to the workspace pod's terminal session with a TTY; see `Backend.terminal_open`."""
        namespace = state.get("namespace")
        if not namespace:
            raise SandboxNotFound("the sandbox state names no namespace")
        if request.watch and not self.terminal_status(state=state).session:
            raise SandboxNotFound("no terminal session to watch", user_message="This attendee has no terminal open.")
        return KubernetesTerminal(self, namespace, request)

    def terminal_status(self, *, state: dict) -> TerminalStatus:
        """The workspace pod's terminal session and its attaches; see `Backend.terminal_status`."""
        namespace = state.get("namespace")
        if not namespace:
            return TerminalStatus()
        code, output = self._exec_collect(
            namespace, kspec.WORKSPACE_CONTAINER, commands.status_command(), timeout=DETACH_TIMEOUT
        )
        return commands.status_parse(output) if code == 0 else TerminalStatus()

    def _terminal_exec(self, namespace: str, command: list[str], *, tty: bool) -> ExecSession:
        try:
            return exec_open(self.kube, namespace, kspec.WORKSPACE_CONTAINER, command, tty=tty)
        except ExecRefused as refused:
            self._exec_failed(namespace, refused.error)
            raise  # not reached: _exec_failed always raises


def _with_env(request: TerminalRequest) -> list[str]:
    variables = [f"{name}={value}" for name, value in commands.attach_environment(request).items()]
    return ["env", *variables, *commands.attach_command(request)]
