"""Runs through a workspace's podium-agent: one attached exec per workspace and server process.

A `docker exec` per run costs a process start in the container runtime (tens of milliseconds) before the
run's code begins. Instead, this process execs `podium-agent` once per workspace container, keeps its stdin
and stdout open, and asks it for each run; the agent forks `podium-run` as an exec would (see
provision/workspace/podium-agent for the framing). A reader thread per agent hands each run's frames to
that run's feed. An agent that dies (its container stopped, the engine restarted) fails the runs it had,
and the next run opens a new one. A workspace whose image has no agent is remembered, and its runs go
through one exec each, as before.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import struct
import threading
from collections.abc import Iterator

import docker
import docker.errors

from sandbox.backends import runner
from sandbox.backends.base import OutputCallback, RunRequest, RunResult, StopCheck
from sandbox.backends.run_output import OutputCap, frames_follow
from sandbox.errors import SandboxError

log = logging.getLogger(__name__)

AGENT = "/usr/local/bin/podium-agent"
HEADER = struct.Struct(">IBI")
DOCKER_HEADER = struct.Struct(">BxxxL")
STREAMS = {1: "stdout", 2: "stderr"}
END, FAILED, HELLO = 3, 4, 0
HELLO_TIMEOUT = 10.0  # seconds for a new agent to say it is there
READ_BUFFER = 256 * 1024  # bytes read from the agent's socket at once, at most


class AgentMissing(Exception):
    """The workspace has no agent (an older image) or it would not start: use one exec per run.

    `gone`: the container itself is missing or stopped (so nothing is learnt about its image).
    """

    def __init__(self, message: str, *, gone: bool = False) -> None:
        super().__init__(message)
        self.gone = gone


class RunFeed:
    """One run's frames as the agent sends them: (stream, bytes) until its end."""

    def __init__(self) -> None:
        self._items: queue.Queue = queue.Queue()
        self.exit_code: int | None = None
        self.output_bytes = 0

    def put(self, item) -> None:
        self._items.put(item)

    def frames(self) -> Iterator[tuple[str, bytes]]:
        while True:
            item = self._items.get()
            if isinstance(item, tuple):
                yield item
            elif isinstance(item, dict):
                self.exit_code, self.output_bytes = item.get("code"), int(item.get("bytes") or 0)
                return
            else:
                raise SandboxError(str(item))


class Agent:
    """An attached podium-agent in one container."""

    def __init__(self, api: docker.APIClient, container: str, command: list[str]) -> None:
        try:
            exec_id = api.exec_create(container, command, stdin=True, stdout=True, stderr=True)["Id"]
            self._socket = api.exec_start(exec_id, socket=True)
        except docker.errors.APIError as error:
            raise AgentMissing(str(error), gone=error.status_code in (404, 409)) from None
        self._raw = getattr(self._socket, "_sock", self._socket)
        # The client's timeout is for one API call; this socket stays open for as long as the workspace lives,
        # and a run may print nothing for minutes. Waiting here is the reader thread's job.
        self._raw.settimeout(None)
        self._write_lock = threading.Lock()
        self._feeds: dict[int, RunFeed] = {}
        self._next = 0
        self.dead: str | None = None
        self._hello = threading.Event()
        threading.Thread(target=self._read, name=f"agent-{container[:20]}", daemon=True).start()
        if not self._hello.wait(HELLO_TIMEOUT) or self.dead:
            self.close()
            raise AgentMissing(self.dead or "the agent did not answer")

    def start(self, *, kind: str, run_id: str, env: dict[str, str], cap: int) -> RunFeed:
        feed = RunFeed()
        with self._write_lock:
            if self.dead:
                raise SandboxError(f"the workspace's agent stopped: {self.dead}")
            self._next += 1
            self._feeds[self._next] = feed
            line = json.dumps({"id": self._next, "kind": kind, "run_id": run_id, "env": env, "cap": cap})
            try:
                self._raw.sendall(line.encode() + b"\n")
            except OSError as error:
                self._die(f"writing to it failed: {error}")
                raise SandboxError(f"the workspace's agent stopped: {error}") from None
        return feed

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._raw.close()

    def _read(self) -> None:
        # Docker cuts the agent's frames into pieces of its own: they are put together here, each byte
        # copied once into the buffer and once out of it.
        buffer = bytearray()
        try:
            for stream, data in _docker_frames(self._raw):
                if stream != 1:  # the agent's own stderr
                    log.warning("podium-agent: %s", data.decode(errors="replace").strip())
                    continue
                buffer += data
                start = 0
                while len(buffer) - start >= HEADER.size:
                    number, kind, size = HEADER.unpack_from(buffer, start)
                    end = start + HEADER.size + size
                    if len(buffer) < end:
                        break
                    self._dispatch(number, kind, bytes(buffer[start + HEADER.size : end]))
                    start = end
                del buffer[:start]
            self._die("its output ended")
        except OSError as error:
            self._die(f"reading it failed: {error}")

    def _dispatch(self, number: int, kind: int, payload: bytes) -> None:
        if kind == HELLO:
            self._hello.set()
            return
        feed = self._feeds.get(number)
        if feed is None:
            return
        if kind in STREAMS:
            feed.put((STREAMS[kind], payload))
        elif kind == END:
            del self._feeds[number]
            feed.put(json.loads(payload))
        elif kind == FAILED:
            del self._feeds[number]
            feed.put(payload.decode(errors="replace"))

    def _die(self, why: str) -> None:
        with self._write_lock:
            self.dead = self.dead or why
            feeds, self._feeds = self._feeds, {}
        self._hello.set()
        for feed in feeds.values():
            feed.put(f"the workspace's agent stopped: {why}")


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


class Agents:
    """This process's agents, one per container, opened on first use; containers without one remembered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._agents: dict[str, Agent] = {}
        self._without: set[str] = set()

    def get(self, api: docker.APIClient, container: str, command: list[str]) -> Agent | None:
        """The container's live agent (opened now if needed), or None when it has none."""
        with self._lock:
            agent = self._agents.get(container)
            if agent is not None and not agent.dead:
                return agent
            if container in self._without:
                return None
            try:
                agent = self._agents[container] = Agent(api, container, command)
            except AgentMissing as error:
                if not error.gone:
                    log.info("container %s has no podium-agent (%s): one exec per run", container, error)
                    self._without.add(container)
                self._agents.pop(container, None)
                return None
            return agent

    def forget(self, container: str) -> None:
        with self._lock:
            agent = self._agents.pop(container, None)
            self._without.discard(container)
        if agent is not None:
            agent.close()


def agent_execute(
    agent: Agent, *, request: RunRequest, on_output: OutputCallback, should_stop: StopCheck, kill
) -> RunResult:
    """Run `request` through `agent`: the same output cap, timeout, cancel and kill as one exec per run."""
    feed = agent.start(
        kind=request.kind,
        run_id=runner.safe_run_id(request.run_id),
        env=runner.run_environment(request),
        cap=request.output_cap,
    )
    output = OutputCap(request.output_cap, on_output)
    ending = frames_follow(
        feed.frames(),
        request=request,
        kill=kill,
        should_stop=should_stop,
        on_frame=output.write,
        over_cap=lambda: output.truncated,
    )
    return RunResult(
        exit_code=feed.exit_code,
        timed_out=ending.timed_out,
        cancelled=ending.cancelled,
        truncated=output.truncated,
        output_bytes=max(output.total, feed.output_bytes),
    )
