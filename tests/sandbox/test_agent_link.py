"""The agent registry both backends share: an agent slow to open holds up only its own workspace's runs; a run
a lost agent never started goes to a new one."""

from __future__ import annotations

import json
import queue
import threading

import pytest

from sandbox.backends.agent_link import END, HEADER, HELLO, STARTED, Agent, AgentMissing, Agents, AgentStopped
from sandbox.backends.base import RunRequest, RunResult
from sandbox.backends.run_output import OutputCap
from sandbox.errors import SandboxError


def agent_ready() -> Agent:
    agent = Agent.__new__(Agent)  # the registry only looks at `dead`
    agent.dead = None
    return agent


def test_a_workspace_whose_agent_is_slow_to_open_does_not_hold_up_another():
    agents = Agents()
    opening, release = threading.Event(), threading.Event()

    def open_slowly() -> Agent:
        opening.set()
        release.wait()
        return agent_ready()

    slow = threading.Thread(target=agents.get, args=("slow", open_slowly))
    slow.start()
    try:
        opening.wait()
        other = agent_ready()
        got: list[Agent | None] = []
        fast = threading.Thread(target=lambda: got.append(agents.get("other", lambda: other)))
        fast.start()
        fast.join(30)  # bounds a deadlock; the other workspace needs no wait of its own
        assert got == [other]
    finally:
        release.set()
        slow.join()


def test_a_workspace_without_an_agent_is_remembered_and_a_gone_one_is_not():
    agents = Agents()
    asked: list[str] = []

    def missing(gone: bool):
        def open_agent() -> Agent:
            asked.append("gone" if gone else "missing")
            raise AgentMissing("no agent here", gone=gone)

        return open_agent

    assert agents.get("old image", missing(False)) is None
    assert agents.get("old image", missing(False)) is None
    assert agents.get("stopped", missing(True)) is None
    assert agents.get("stopped", missing(True)) is None
    assert asked == ["missing", "gone", "gone"]


# -- an agent lost between the server's write and the agent's read ---------------------------------------------
# Scripted links stand in for the agent's exec stream: an agent that dies in exactly the moment after a run was
# written to it, before it read it, cannot be provoked on purpose in a real container (the Docker and Kubernetes
# tests kill a real agent, and the next run then succeeds whichever side of that moment it lands on).
class ScriptedLink:
    """An agent's stream: says hello as `version`; then answers each request line as `answer` says."""

    def __init__(self, version: int, answer) -> None:
        self.frames: queue.Queue = queue.Queue()
        self.answer = answer
        self.requests: list[dict] = []
        self.frames.put((1, HEADER.pack(0, HELLO, 14) + f"podium-agent {version}".encode()))

    def chunks(self):
        while (item := self.frames.get()) is not None:
            yield item

    def send(self, data: bytes) -> None:
        request = json.loads(data)
        self.requests.append(request)
        for kind, payload in self.answer(request):
            if kind is None:  # the agent's stream ends here
                self.frames.put(None)
                return
            self.frames.put((1, HEADER.pack(request["id"], kind, len(payload)) + payload))

    def close(self) -> None:
        self.frames.put(None)


def runs_fine(request: dict):
    yield STARTED, b""
    yield 1, f"ran {request['run_id']}\n".encode()
    yield END, b'{"code": 0, "bytes": 8}'


def dies_before_starting(request: dict):
    yield None, b""


def dies_after_starting(request: dict):
    yield STARTED, b""
    yield None, b""


def execute(agents: Agents, links: list[ScriptedLink], kills: list[str] | None = None) -> tuple[RunResult, str]:
    opened = iter(links)
    printed = bytearray()
    output = OutputCap(1 << 20, lambda stream, data: printed.extend(data))
    try:
        result = agents.execute(
            "workspace",
            lambda: Agent(next(opened), "workspace"),
            request=RunRequest(run_id="r1", kind="shell", code="echo"),
            output=output,
            should_stop=lambda: False,
            kill=lambda: (kills if kills is not None else []).append("r1"),
        )
    finally:
        for thread in threading.enumerate():  # a kill is sent from a thread of its own: let it finish
            if thread.name == "kill-r1":
                thread.join()
    return result, printed.decode()


def test_a_run_the_lost_agent_never_started_goes_to_a_new_agent():
    lost, fresh = ScriptedLink(2, dies_before_starting), ScriptedLink(2, runs_fine)
    kills: list[str] = []
    result, printed = execute(Agents(), [lost, fresh], kills)
    assert (result.exit_code, printed) == (0, "ran r1\n")
    assert len(lost.requests) == len(fresh.requests) == 1
    assert kills == []  # a kill of the first try could have reached the run handed on under the same id


def test_a_run_the_lost_agent_had_started_is_not_run_again():
    started, spare = ScriptedLink(2, dies_after_starting), ScriptedLink(2, runs_fine)
    kills: list[str] = []
    with pytest.raises(SandboxError, match="agent stopped") as raised:
        execute(Agents(), [started, spare], kills)
    assert not isinstance(raised.value, AgentStopped)
    assert spare.requests == []
    assert kills == ["r1"]  # what the started run left behind is killed


def test_an_agent_that_does_not_say_when_runs_start_is_never_retried():
    # Version 1 agents (older images) send no STARTED: whether the run began is unknown, so it fails once.
    old, spare = ScriptedLink(1, dies_before_starting), ScriptedLink(1, runs_fine)
    with pytest.raises(SandboxError, match="agent stopped"):
        execute(Agents(), [old, spare])
    assert spare.requests == []


# -- an agent's frames are untrusted --------------------------------------------------------------------------
class HugeFrameLink(ScriptedLink):
    """What a workspace's code would send if it could write into the agent's link (it cannot reach the link's
    socket; this stands in for that): a header announcing 2 GiB, whose payload never comes."""

    def send(self, data: bytes) -> None:
        request = json.loads(data)
        self.requests.append(request)
        self.frames.put((1, HEADER.pack(request["id"], STARTED, 0)))
        self.frames.put((1, HEADER.pack(request["id"], 1, 2**31)))
        self.closed = threading.Event()

    def close(self) -> None:
        super().close()
        if hasattr(self, "closed"):
            self.closed.set()


def test_an_agent_announcing_a_frame_over_the_cap_is_dropped_at_once():
    link = HugeFrameLink(2, runs_fine)
    with pytest.raises(SandboxError, match=r"a frame of 2,147,483,648 bytes, over the 1,048,576"):
        execute(Agents(), [link])
    assert link.closed.wait(30)  # and its link is closed: nothing more is read from it
