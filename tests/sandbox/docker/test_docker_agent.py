"""Runs through the workspace's podium-agent: one attached agent per workspace serves every run; an agent that
dies is replaced by the next run; a workspace without one (an older image) still runs code, one exec per run."""

from __future__ import annotations

import threading
import time

import pytest

from sandbox.backends import runner
from sandbox.backends.docker_agent import AGENT
from tests.sandbox.backend_runs import run

pytestmark = pytest.mark.docker

# The agent's command line is its interpreter and its path (the counting shell's own mentions the path too).
AGENTS = (
    f"for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done "
    f"| grep -cE '^[^ ]*python3 {AGENT} (--link [^ ]+ )?$'"
)


def agents_in(docker_client, state: dict) -> int:
    """podium-agent processes in the workspace, counted from outside it."""
    result = docker_client.containers.get(state["container"]).exec_run(["sh", "-c", f"{AGENTS} || true"])
    return int(result.output.decode().split()[0])


def test_every_run_goes_through_one_agent_per_workspace(backend, make_sandbox, docker_client):
    _, state = make_sandbox()
    for number in range(5):
        ran = run(backend, state, f"echo run {number}; exit {number}")
        assert (ran.output, ran.result.exit_code) == (f"run {number}\n", number)
    assert agents_in(docker_client, state) == 1


def test_an_agent_that_dies_is_replaced_by_the_next_run(backend, make_sandbox, docker_client):
    _, state = make_sandbox()
    assert run(backend, state, "echo before").output == "before\n"
    container = docker_client.containers.get(state["container"])
    container.exec_run(["pkill", "-KILL", "-f", AGENT])
    assert agents_in(docker_client, state) == 0

    # Whether or not the death was noticed before it: the run goes to a new agent (one never started by the
    # lost agent is handed on), so it does not fail.
    after = run(backend, state, "echo after")
    assert (after.output, after.result.exit_code) == ("after\n", 0)
    assert agents_in(docker_client, state) == 1


def test_a_run_written_to_an_agent_that_dies_before_reading_it_runs_on_a_new_agent(
    backend, make_sandbox, docker_client
):
    # The agent is stopped (SIGSTOP), so the run's request waits unread in its stdin; then it is killed. The
    # agent never started that run: the run is handed to a new agent, once, instead of failing.
    _, state = make_sandbox()
    assert run(backend, state, "echo before").output == "before\n"
    container = docker_client.containers.get(state["container"])
    agent = backend._agents.get(state["container"], lambda: None)
    written = agent._next
    container.exec_run(["pkill", "-STOP", "-f", AGENT])

    results: list = []
    worker = threading.Thread(target=lambda: results.append(run(backend, state, "echo after; exit 3")))
    worker.start()
    while agent._next == written and worker.is_alive():  # until the request is in the stopped agent's stdin
        time.sleep(0.01)
    container.exec_run(["pkill", "-KILL", "-f", AGENT])
    worker.join(120)

    (after,) = results
    assert (after.output, after.result.exit_code) == ("after\n", 3)
    assert agents_in(docker_client, state) == 1


def test_a_run_whose_code_file_was_taken_away_fails_saying_so(backend, make_sandbox, docker_client):
    # The agent writes a run's code to a file and starts podium-run on it; a loop of the attendee's (in their
    # terminal, say) can remove it in between. podium-run then ran nothing and the run ended "ok".
    _, state = make_sandbox()
    command = runner.as_attendee(runner.run_command(kind="shell", run_id="taken"), security=backend.config.security)
    container = docker_client.containers.get(state["container"])
    result = container.exec_run(command, environment={"PODIUM_RUN_FILES": "agent"})
    assert result.exit_code == 2
    assert "podium-run: the code of run taken is gone from /run/podium/runs" in result.output.decode()


def test_a_workspace_without_an_agent_runs_code_one_exec_at_a_time(backend, make_sandbox, docker_client):
    _, state = make_sandbox()
    container = docker_client.containers.get(state["container"])
    container.exec_run(["rm", "-f", AGENT])  # as an image from before the agent
    backend._agents.forget(state["container"])
    container.exec_run(["pkill", "-KILL", "-f", AGENT])

    ran = run(backend, state, "echo still; exit 4")
    assert (ran.output, ran.result.exit_code) == ("still\n", 4)
    assert agents_in(docker_client, state) == 0


def test_a_run_silent_for_longer_than_the_engine_clients_timeout_still_ends_well(make_sandbox, prepared):
    # The agent's socket comes from the Docker client, whose timeout (60 s in service; 2 s here) is for one API
    # call. A run that prints nothing for longer must not be taken for a dead agent.
    from sandbox.backends.docker import DockerBackend
    from sandbox.backends.docker_engine import engine_connect

    _, state = make_sandbox()
    patient = DockerBackend()
    patient._client = engine_connect(timeout=2)
    ran = run(patient, state, "sleep 4; echo done")
    assert (ran.output, ran.result.exit_code) == ("done\n", 0)
