"""The agent registry both backends share: an agent slow to open holds up only its own workspace's runs."""

from __future__ import annotations

import threading

from sandbox.backends.agent_link import Agent, AgentMissing, Agents


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
