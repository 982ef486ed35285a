"""The Docker backend's terminal: a `docker exec` with a TTY of `podium-shell` in the workspace container.

The exec goes through the same entry as runs (`runner.as_attendee`: podium-enter in userns mode), so the
shell is the attendee's, in their namespaces, and sees the same files. Keys and output are raw bytes both
ways (a TTY has no stdout/stderr framing), over one of two ways:
- where the workspace has a link folder (docker_link.py), a socket this process listens on there: the
  attach hands it to the session holder, and a keystroke goes from here to the shell's PTY with no engine,
  runtime shim or exec PTY between (on two cores those were most of an echo's time);
- else, or when the attach cannot reach it, the hijacked exec socket, as `docker exec -it` does.
Resizing is the engine's exec resize either way: it sets the exec PTY's size and so sends SIGWINCH to the
attach, which tells the holder. The engine never ends an exec whose client went away, so closing detaches
through a second exec (`podium-shell detach`).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl

import docker
import docker.errors

from sandbox.backends import runner
from sandbox.backends import terminal_commands as commands
from sandbox.backends.agent_link import HELLO_TIMEOUT
from sandbox.backends.base import Terminal, TerminalRequest, TerminalStatus
from sandbox.backends.docker_engine import ENGINE_FAILURES, engine_errors, first_line
from sandbox.backends.docker_link import LinkFolders, linked_exec
from sandbox.errors import SandboxError, SandboxNotFound

log = logging.getLogger(__name__)

READ_SIZE = 64 * 1024


class DockerTerminal(Terminal):
    """One attached `podium-shell` exec with a TTY; `linked` when its bytes go over the link folder's socket."""

    def __init__(
        self,
        api: docker.APIClient,
        container: str,
        request: TerminalRequest,
        *,
        security: str,
        links: LinkFolders | None = None,
    ) -> None:
        self._api, self._container, self._request, self._security = api, container, request, security

        def start(link: str | None):
            command = runner.as_attendee(commands.attach_command(request, link=link), security=security)
            with engine_errors("opening your terminal", container=container, starting=True):
                self._exec_id = api.exec_create(
                    container,
                    command,
                    stdin=True,
                    stdout=True,
                    stderr=True,
                    tty=True,
                    environment=commands.attach_environment(request),
                )["Id"]
                hijacked = api.exec_start(self._exec_id, socket=True, tty=True)
            raw = getattr(hijacked, "_sock", hijacked)
            raw.settimeout(None)  # the client's timeout is for one API call; a terminal may print nothing for hours
            return raw

        # A typing attach connects first thing; when it cannot, it speaks on the TTY, which then has something
        # to read. A watch only reads, over the TTY.
        self._exec_socket, connection = linked_exec(
            None if request.watch else links, container, start, timeout=HELLO_TIMEOUT
        )
        self.linked = connection is not None
        self._socket = connection if connection is not None else self._exec_socket
        self._closed = False
        self.resize(cols=request.cols, rows=request.rows)

    def raw_socket(self) -> socket.socket | None:
        # A TLS socket may hold decrypted bytes the event loop would not see as readable: read it in a thread.
        return None if isinstance(self._socket, ssl.SSLSocket) else self._socket

    def read(self) -> bytes:
        try:
            return self._socket.recv(READ_SIZE)
        except OSError:
            return b""

    def write(self, data: bytes) -> None:
        try:
            self._socket.sendall(data)
        except OSError as error:
            raise SandboxError(
                f"typing into the terminal failed: {error}", user_message="The terminal ended."
            ) from None

    def resize(self, *, cols: int, rows: int) -> None:
        try:
            self._api.exec_resize(self._exec_id, height=rows, width=cols)
        except ENGINE_FAILURES as error:  # the exec just ended: nothing left to resize
            log.info("resizing a terminal in %s failed: %s", self._container, first_line(error))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for end in {self._socket, self._exec_socket}:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                end.close()
        command = runner.as_attendee(commands.detach_command(self._request), security=self._security)
        try:
            exec_id = self._api.exec_create(self._container, command)["Id"]
            self._api.exec_start(exec_id)
        except ENGINE_FAILURES as error:  # the sandbox is gone, and its session with it
            log.info("detaching a terminal in %s failed: %s", self._container, first_line(error))


class DockerTerminals:
    """The terminal half of DockerBackend (a mixin: it uses the backend's engine and security mode)."""

    def terminal_open(self, *, state: dict, request: TerminalRequest) -> Terminal:
        """Attach to the workspace's terminal session with a TTY; see `Backend.terminal_open`."""
        container = state.get("container")
        if not container:
            raise SandboxNotFound("the sandbox state names no container")
        if request.watch and not self.terminal_status(state=state).session:
            raise SandboxNotFound("no terminal session to watch", user_message="This attendee has no terminal open.")
        return DockerTerminal(self._engine().api, container, request, security=self.config.security, links=self._links)

    def terminal_status(self, *, state: dict) -> TerminalStatus:
        """The workspace's terminal session and its attaches; see `Backend.terminal_status`."""
        container = state.get("container")
        if not container:
            return TerminalStatus()
        api = self._engine().api
        command = runner.as_attendee(commands.status_command(), security=self.config.security)
        with engine_errors("asking about your terminal", container=container, starting=True):
            exec_id = api.exec_create(container, command)["Id"]
            output = api.exec_start(exec_id)
        return commands.status_parse(output.decode(errors="replace"))
