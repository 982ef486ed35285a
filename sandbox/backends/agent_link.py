"""The server's half of the podium-agent protocol, whatever carries it (a Docker attach, a Kubernetes exec).

A server process starts `podium-agent` once per workspace and keeps its stdin and stdout open; a run is a
line on its stdin and frames on its stdout (provision/workspace/podium-agent describes both). The carrier
is a `Link`: `chunks()` yields the agent's output as (stream, bytes) pieces cut anywhere (stream 1 its
stdout, anything else its own diagnostics, logged), `send(bytes)` writes to its stdin (OSError when it
cannot), `close()` ends it. `Agent` puts the frames together in a reader thread and hands each run's
frames to that run's `RunFeed`; an agent whose link ends fails the runs it had, and `Agents` opens a new
one for the next run. A run the lost agent had not started yet (version 2 agents say when each starts) is
given to the new agent, once (`Agents.execute`): the first run after an agent died (killed, or its exec
stream closed by the kubelet after hours idle) no longer fails for it. A workspace whose agent would not
start is remembered, and its runs go through one exec each. `agent_execute` runs a request through an agent
with the same cap, timeout, cancel and kill as an exec per run (run_output.py).
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import struct
import threading
from collections.abc import Callable, Iterator
from typing import Protocol

from sandbox.backends import runner
from sandbox.backends.base import RunRequest, RunResult, StopCheck
from sandbox.backends.run_output import OutputCap, frames_follow
from sandbox.errors import SandboxError

log = logging.getLogger(__name__)

AGENT = "/usr/local/bin/podium-agent"
HEADER = struct.Struct(">IBI")
STREAMS = {1: "stdout", 2: "stderr"}
END, FAILED, STARTED, HELLO = 3, 4, 5, 0
HELLO_TIMEOUT = 10.0  # seconds for a new agent to say it is there
# The agent's frames are at most 256 KiB; anything in the workspace could write to its link, so a frame
# announcing more ends that agent instead of growing this process's memory.
FRAME_MAX = 1024 * 1024


class AgentMissing(Exception):
    """The workspace has no agent (an older image) or it would not start: use one exec per run.

    `gone`: the workspace itself is missing or stopped (so nothing is learnt about its image).
    """

    def __init__(self, message: str, *, gone: bool = False) -> None:
        super().__init__(message)
        self.gone = gone


class AgentStopped(SandboxError):
    """The agent stopped before it started the run: nothing of it ran, and a new agent may take it."""


class Link(Protocol):
    def chunks(self) -> Iterator[tuple[int, bytes]]: ...

    def send(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class RunFeed:
    """One run's frames as the agent sends them: (stream, bytes) until its end."""

    def __init__(self) -> None:
        self._items: queue.Queue = queue.Queue()
        self.exit_code: int | None = None
        self.output_bytes = 0
        self.started = False  # the agent said it started the run (or sent something of it)

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
            elif isinstance(item, AgentStopped):
                raise item
            else:
                raise SandboxError(str(item))


class Agent:
    """A running podium-agent in one workspace, reached through `link`; waits for its hello (AgentMissing)."""

    def __init__(self, link: Link, name: str) -> None:
        self._link = link
        self._write_lock = threading.Lock()
        self._feeds: dict[int, RunFeed] = {}
        self._next = 0
        self.dead: str | None = None
        self.says_starts = False  # a version 2 agent, which says when it started each run
        self._hello = threading.Event()
        threading.Thread(target=self._read, name=f"agent-{name[:20]}", daemon=True).start()
        if not self._hello.wait(HELLO_TIMEOUT) or self.dead:
            self.close()
            raise AgentMissing(self.dead or "the agent did not answer")

    def start(self, *, kind: str, run_id: str, env: dict[str, str], cap: int) -> RunFeed:
        feed = RunFeed()
        with self._write_lock:
            if self.dead:
                raise AgentStopped(f"the workspace's agent stopped: {self.dead}")
            self._next += 1
            self._feeds[self._next] = feed
            line = json.dumps({"id": self._next, "kind": kind, "run_id": run_id, "env": env, "cap": cap})
            try:
                self._link.send(line.encode() + b"\n")
            except OSError as error:
                self._die(f"writing to it failed: {error}", locked=True)
                raise AgentStopped(f"the workspace's agent stopped: {error}") from None
        return feed

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._link.close()

    def _read(self) -> None:
        # The carrier cuts the agent's frames into pieces of its own: they are put together here, each byte
        # copied once into the buffer and once out of it (through a view: slicing the buffer would copy twice).
        buffer = bytearray()
        try:
            for stream, data in self._link.chunks():
                if stream != 1:  # the agent's own stderr, or how its exec ended
                    log.warning("podium-agent: %s", data.decode(errors="replace").strip())
                    continue
                buffer += data
                with memoryview(buffer) as view:
                    start = self._dispatch_all(view)
                del buffer[:start]
            self._die("its output ended")
        except Exception as error:  # noqa: BLE001 - sockets and websocket clients raise kinds of their own
            self._die(f"reading it failed: {error}")
            self.close()  # an agent that broke the protocol gets nothing more

    def _dispatch_all(self, view: memoryview) -> int:
        """Dispatch the whole frames at the start of `view`; how many bytes they took."""
        start = 0
        while len(view) - start >= HEADER.size:
            number, kind, size = HEADER.unpack_from(view, start)
            if size > FRAME_MAX:
                raise SandboxError(f"a frame of {size:,} bytes, over the {FRAME_MAX:,} an agent sends")
            end = start + HEADER.size + size
            if len(view) < end:
                break
            self._dispatch(number, kind, bytes(view[start + HEADER.size : end]))
            start = end
        return start

    def _dispatch(self, number: int, kind: int, payload: bytes) -> None:
        if kind == HELLO:
            version = payload.rsplit(b" ", 1)[-1]
            self.says_starts = version.isdigit() and int(version) >= 2
            self._hello.set()
            return
        feed = self._feeds.get(number)
        if feed is None:
            return
        feed.started = True  # whatever comes of a run (STARTED says only that), it was started
        if kind in STREAMS:
            feed.put((STREAMS[kind], payload))
        elif kind == END:
            del self._feeds[number]
            feed.put(json.loads(payload))
        elif kind == FAILED:
            del self._feeds[number]
            feed.put(payload.decode(errors="replace"))

    def _die(self, why: str, *, locked: bool = False) -> None:
        with contextlib.nullcontext() if locked else self._write_lock:
            self.dead = self.dead or why
            feeds, self._feeds = self._feeds, {}
        self._hello.set()
        for feed in feeds.values():
            if self.says_starts and not feed.started:
                feed.put(AgentStopped(f"the workspace's agent stopped before it started the run: {why}"))
            else:
                feed.put(f"the workspace's agent stopped: {why}")


class Agents:
    """This process's agents, one per workspace, opened on first use; workspaces without one remembered.

    An agent is opened under its workspace's own lock: a workspace whose agent is slow to answer (up to the
    API timeout and HELLO_TIMEOUT) holds up only its own runs, not the other attendees'."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._opening: dict[str, threading.Lock] = {}
        self._agents: dict[str, Agent] = {}
        self._without: set[str] = set()

    def get(self, workspace: str, open_agent: Callable[[], Agent]) -> Agent | None:
        """The workspace's live agent (`open_agent()` now if needed), or None when it has none."""
        with self._lock:
            opening = self._opening.setdefault(workspace, threading.Lock())
        with opening:
            with self._lock:
                agent = self._agents.get(workspace)
                if agent is not None and not agent.dead:
                    return agent
                self._agents.pop(workspace, None)
                if workspace in self._without:
                    return None
            try:
                agent = open_agent()
            except AgentMissing as error:
                if not error.gone:
                    log.info("workspace %s has no podium-agent (%s): one exec per run", workspace, error)
                    with self._lock:
                        self._without.add(workspace)
                return None
            with self._lock:
                self._agents[workspace] = agent
            return agent

    def execute(self, workspace: str, open_agent: Callable[[], Agent], **follow) -> RunResult | None:
        """`agent_execute` through the workspace's agent, or None when it has none (run it another way).

        A run the agent stopped before starting (AgentStopped) goes to a new agent, once."""
        agent = self.get(workspace, open_agent)
        if agent is None:
            return None
        try:
            return agent_execute(agent, **follow)
        except AgentStopped as error:
            log.info("workspace %s: %s; the run goes to a new agent", workspace, error)
        agent = self.get(workspace, open_agent)  # the stopped one is dead: a new one
        return None if agent is None else agent_execute(agent, **follow)

    def forget(self, workspace: str) -> None:
        with self._lock:
            agent = self._agents.pop(workspace, None)
            self._without.discard(workspace)
            self._opening.pop(workspace, None)
        if agent is not None:
            agent.close()


def agent_execute(
    agent: Agent,
    *,
    request: RunRequest,
    output: OutputCap,
    should_stop: StopCheck,
    kill,
    on_frame: Callable[[str, bytes], None] | None = None,
) -> RunResult:
    """Run `request` through `agent`: the same output cap, timeout, cancel and kill as one exec per run.

    Each frame goes to `on_frame` (by default `output.write`), which writes it to `output`."""
    feed = agent.start(
        kind=request.kind,
        run_id=runner.safe_run_id(request.run_id),
        env=runner.run_environment(request),
        cap=request.output_cap,
    )

    def kill_started():
        # Nothing to kill in a run the agent has not started; a kill sent anyway could reach the same run id
        # handed to a new agent meanwhile (Agents.execute). A kill that comes too soon is sent again later.
        return None if agent.says_starts and not feed.started else kill()

    try:
        ending = frames_follow(
            feed.frames(),
            request=request,
            kill=kill_started,
            should_stop=should_stop,
            on_frame=on_frame or output.write,
            over_cap=lambda: output.truncated,
        )
    except SandboxError as error:
        if isinstance(error.__cause__, AgentStopped):  # read from the feed in frames_follow's reader thread
            raise error.__cause__ from None
        raise
    return RunResult(
        exit_code=feed.exit_code,
        timed_out=ending.timed_out,
        cancelled=ending.cancelled,
        truncated=output.truncated,
        output_bytes=max(output.total, feed.output_bytes),
    )
