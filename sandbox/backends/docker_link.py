"""A workspace's link folder: how its podium-agent reaches this server without the engine's exec stream.

Through an attached exec, every byte a run prints is copied by the container runtime's shim into a FIFO, by
dockerd out of it and into the exec's socket, and only then read here: a fast run's output spent most of its
way in those two processes (on two cores, `seq 1 2000000` took about three times as long through them as
through a socket). So each workspace container gets a folder of this host, `PODIUM_SANDBOX_LINKS/<container>`,
mounted read-only at LINK_MOUNT. To open an agent the server listens on a new socket in that folder and starts
the agent with `--link` and that socket's path: the agent connects, and its requests and frames then go over
that connection, straight between the two processes.

What the attendee can do with it, and what not:
- the folder is read-only inside the workspace (a mount the attendee's namespaces inherit locked, so it
  cannot be made writable): nothing they write lands on the host, and they can put no symlink there for the
  server to follow;
- the only sockets in it are this server's, for this workspace: each listens for one connection, for at most
  HELLO_TIMEOUT, and is removed once taken. Code of the attendee's that connects first only talks to the
  server as that workspace's agent would, which it could already do (the agent runs as the attendee); the
  server reads an agent's frames as untrusted (agent_link.py caps their size);
- another workspace's folder is not mounted in this one, and a user of this host who is neither root nor a
  sandbox's uid is refused (`workspace_peer`), should they find a socket in the moment it is listening.

A workspace created without the folder (before it existed, or with the setting empty), or an engine on
another machine (the folder is then made there, empty), leaves the agent nothing to connect to: it says so
and speaks over the exec's stdin and stdout, as before.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import select
import shutil
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

from sandbox.backends.docker_spec import USERNS_FIRST

log = logging.getLogger(__name__)

LINK_MOUNT = "/opt/podium-link"  # not under /run or /etc: the inner engine's rootlesskit copies those up
READ_BUFFER = 256 * 1024  # bytes read from the agent's connection at once, at most
PEER = struct.Struct("3i")  # SO_PEERCRED: pid, uid, gid, as this (the host's) user namespace sees them


class LinkFolders:
    """The link folders under `root` (PODIUM_SANDBOX_LINKS), one per workspace container; "" turns them off."""

    def __init__(self, root: str) -> None:
        self.root = Path(root).absolute() if root else None

    def bind(self, container: str) -> str | None:
        """Make `container`'s folder; the Binds entry mounting it read-only, or None without one."""
        if self.root is None:
            return None
        folder = self.root / container
        try:
            self.root.mkdir(mode=0o711, parents=True, exist_ok=True)
            folder.mkdir(mode=0o711, exist_ok=True)
            # Whatever the umask: the agent (an unprivileged uid) must reach its socket, and nobody needs to
            # list the folder (a socket's name is its one-time secret against other users of this host).
            folder.chmod(0o711)
        except OSError as error:
            log.warning("no link folder for %s (%s): its agent will speak through the engine", container, error)
            return None
        return f"{folder}:{LINK_MOUNT}:ro"

    def listen(self, container: str) -> tuple[socket.socket, str] | None:
        """A new socket listening in `container`'s folder and its path inside the workspace; None without one."""
        if self.root is None:
            return None
        folder = self.root / container
        if not folder.is_dir():
            return None
        name = f"agent-{secrets.token_hex(8)}.sock"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(folder / name))
            os.chmod(folder / name, 0o666)  # noqa: S103 - only this workspace sees it: its agent is another uid
            listener.listen(1)
        except OSError as error:
            listener.close()
            log.warning("no link socket for %s: %s", container, error)
            return None
        return listener, f"{LINK_MOUNT}/{name}"

    def remove(self, container: str) -> None:
        if self.root is not None:
            shutil.rmtree(self.root / container, ignore_errors=True)


def linked_exec(links: LinkFolders | None, container: str, start, *, timeout: float):
    """Start an exec whose process may connect back over `container`'s link folder: (the exec's socket, the
    process's connection or None).

    `start(link)` starts the exec, with `link` the path of a socket listening for it inside the workspace (None
    without a folder), and returns the exec's socket with no timeout. If it raises, the socket is gone too."""
    listening = links.listen(container) if links is not None else None
    try:
        raw = start(listening[1] if listening is not None else None)
    except BaseException:
        if listening is not None:
            listener_close(listening[0])
        raise
    return raw, accept(listening[0], raw, timeout) if listening is not None else None


def accept(listener: socket.socket, beside, timeout: float) -> socket.socket | None:
    """The agent's connection to `listener`, or None once `beside` (its exec's socket) says something first
    (the agent found no link and speaks there) or `timeout` passed. The socket file is gone either way.

    Only a workspace's process may be the agent: host root (the container's root outside userns mode) or a
    uid of the sandboxes' ranges (from USERNS_FIRST on). Another user of this host who found the socket in
    time is refused, and the wait goes on."""
    try:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([listener, beside], [], [], left)
            if listener in ready:
                connection, _ = listener.accept()
                if workspace_peer(connection):
                    connection.setblocking(True)
                    return connection
                connection.close()
                continue
            if ready:
                return None
        return None
    finally:
        listener_close(listener)


def listener_close(listener: socket.socket) -> None:
    """Stop listening and remove the socket's file: nothing more can connect."""
    with contextlib.suppress(OSError):
        os.unlink(listener.getsockname())
    listener.close()


def workspace_peer(connection: socket.socket) -> bool:
    """Whether the process at the other end of `connection` runs as root or as a sandbox's uid."""
    _, uid, _ = PEER.unpack(connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, PEER.size))
    if uid == 0 or uid >= USERNS_FIRST:
        return True
    log.warning("refused a link connection from uid %d: not a workspace's", uid)
    return False


class SocketLink:
    """An agent's connection over its link socket; its exec's socket is kept open beside it, unread."""

    def __init__(self, connection: socket.socket, exec_socket) -> None:
        self.connection = connection
        self.exec_socket = exec_socket

    def chunks(self) -> Iterator[tuple[int, bytes]]:
        while data := self.connection.recv(READ_BUFFER):
            yield 1, data

    def send(self, data: bytes) -> None:
        self.connection.sendall(data)

    def close(self) -> None:
        for end in (self.connection, self.exec_socket):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                end.close()
