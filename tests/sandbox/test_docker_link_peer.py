"""Who may answer a workspace's link socket (sandbox/backends/docker_link.py), tried on this host: another user
of the host who connects first is refused, and the workspace's own agent (here root) still gets through."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.backends.docker_link import LINK_MOUNT, LinkFolders, accept

HOST_USER = 1000  # an ordinary account of a host: below the sandboxes' uids (USERNS_FIRST)


def connect_as(uid: int, path: str) -> int:
    """Connect to `path` from a child process running as `uid`; the parent keeps the connection's other end open
    only as long as the child lives, so the child sends one byte and waits to be told to go."""
    ready_read, ready_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: become `uid`, connect, say so, wait for the parent to end it
        try:
            os.setgid(uid)
            os.setuid(uid)
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            client.connect(path)
            os.write(ready_write, b"1")
            client.recv(1)  # until the server closes it
        finally:
            os._exit(0)
    os.close(ready_write)
    assert os.read(ready_read, 1) == b"1", (
        f"no connection as uid {uid}: becoming another user takes root, as make test runs"
    )
    os.close(ready_read)
    return pid


@pytest.fixture
def root() -> Iterator[Path]:
    """A folder another user can pass through, as PODIUM_SANDBOX_LINKS is (pytest's own are 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="podium-links-"))
    folder.chmod(0o711)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_another_host_user_is_refused_and_the_agent_still_connects(root):
    links = LinkFolders(str(root))
    assert links.bind("podium-sb-test") == f"{root}/podium-sb-test:{LINK_MOUNT}:ro"
    listener, inside = links.listen("podium-sb-test")
    path = str(root / "podium-sb-test" / inside.rsplit("/", 1)[1])

    intruder = connect_as(HOST_USER, path)  # first in the backlog
    agent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    agent.connect(path)  # as root: the container's root outside userns mode
    agent.settimeout(10)
    quiet, _ = socket.socketpair()  # the exec's socket, which says nothing

    connection = accept(listener, quiet, 10)

    assert connection is not None
    connection.sendall(b"x")
    assert agent.recv(1) == b"x"  # the connection kept is the agent's, not the intruder's
    assert os.waitpid(intruder, 0)[1] == 0  # the intruder's was closed: its recv returned
    assert not os.path.exists(path)  # the socket is gone once taken
