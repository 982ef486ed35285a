"""Runs through a workspace's podium-agent on Docker: one attached exec per workspace and server process.

A `docker exec` per run costs a process start in the container runtime (tens of milliseconds) before the
run's code begins. Instead, this process execs `podium-agent` once per workspace container, keeps its stdin
and stdout open, and asks it for each run (agent_link.py holds the protocol and the run bookkeeping, shared
with the Kubernetes backend). This module is the Docker carrier: the attached exec's socket, whose output
Docker frames by stream, or, where the workspace has a link folder (docker_link.py), a socket of this host's
that the agent connects to: its output then bypasses the engine.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Iterator

import docker
import docker.errors

from sandbox.backends.agent_link import AGENT, HELLO_TIMEOUT, Agent, AgentMissing, Agents
from sandbox.backends.docker_link import LinkFolders, SocketLink, linked_exec

__all__ = ["AGENT", "Agents", "open_agent"]

DOCKER_HEADER = struct.Struct(">BxxxL")
READ_BUFFER = 256 * 1024  # bytes read from the agent's socket at once, at most


class DockerLink:
    """The agent's attached exec socket: stdin written raw, output in Docker's (stream, bytes) frames."""

    def __init__(self, raw) -> None:
        self.raw = raw

    def chunks(self) -> Iterator[tuple[int, bytes]]:
        return _docker_frames(self.raw)

    def send(self, data: bytes) -> None:
        self.raw.sendall(data)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.raw.close()


def open_agent(api: docker.APIClient, container: str, command: list[str], links: LinkFolders | None = None) -> Agent:
    """Exec `command` (the agent) in `container` with stdin open; AgentMissing when it cannot be used.

    With the container's link folder in `links`, the agent is asked to connect to a socket there, and speaks
    over it when it can."""

    def start(link: str | None):
        exec_id = api.exec_create(
            container, [*command, "--link", link] if link else command, stdin=True, stdout=True, stderr=True
        )["Id"]
        socket = api.exec_start(exec_id, socket=True)
        raw = getattr(socket, "_sock", socket)
        # The client's timeout is for one API call; this socket stays open for as long as the workspace lives,
        # and a run may print nothing for minutes. Waiting here is the reader thread's job.
        raw.settimeout(None)
        return raw

    try:
        raw, connection = linked_exec(links, container, start, timeout=HELLO_TIMEOUT)
    except docker.errors.APIError as error:
        raise AgentMissing(str(error), gone=error.status_code in (404, 409)) from None
    return Agent(DockerLink(raw) if connection is None else SocketLink(connection, raw), container)


def _docker_frames(raw) -> Iterator[tuple[int, bytes]]:
    """The (stream, bytes) frames of an attached exec without a TTY, read straight from its socket.

    Docker copies output in frames of a few KiB: reading up to READ_BUFFER bytes at once takes a fast
    run's output in a few large reads instead of two system calls per frame.
    """
    pending = bytearray()
    while True:
        chunk = raw.recv(READ_BUFFER)
        if not chunk:
            return
        pending += chunk
        start = 0
        while len(pending) - start >= DOCKER_HEADER.size:
            stream, size = DOCKER_HEADER.unpack_from(pending, start)
            end = start + DOCKER_HEADER.size + size
            if len(pending) < end:
                break
            yield stream, bytes(pending[start + DOCKER_HEADER.size : end])
            start = end
        del pending[:start]
