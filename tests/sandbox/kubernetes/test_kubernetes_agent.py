"""Runs through the workspace pod's podium-agent: one agent exec per pod and server process serves every run;
another server process cancels a run it did not start; an agent killed in the pod is replaced by the next
run; a pod without an agent (an older image) still runs code, one exec per run."""

from __future__ import annotations

import threading
import uuid

import pytest

from sandbox.backends import kubernetes_agent
from sandbox.backends.agent_link import AGENT
from sandbox.backends.config import KubernetesConfig
from sandbox.backends.kubernetes import KubernetesBackend
from tests.sandbox.backend_runs import run

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

# The agent's command line is its interpreter and its path (the counting shell's own mentions the path too).
AGENTS = (
    f"for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done | grep -c '^[^ ]*python3 {AGENT} $'"
)


def in_pod(cluster, backend: KubernetesBackend, state: dict, *command: str) -> str:
    """`command` run in the workspace container with an exec of its own (not through the backend)."""
    pods = backend.config.cluster.workspaces_namespace
    return cluster.kubectl("-n", pods, "exec", state["namespace"], "-c", "workspace", "--", *command, check=False)


def agents_in(cluster, backend: KubernetesBackend, state: dict) -> int:
    """podium-agent processes in the workspace pod, counted from outside the backend."""
    return int(in_pod(cluster, backend, state, "sh", "-c", f"{AGENTS} || true").split()[0])


def test_every_run_goes_through_one_agent_per_pod(backend, make_sandbox, prepared) -> None:
    state = make_sandbox().state
    for number in range(5):
        ran = run(backend, state, f"echo run {number}; echo err {number} >&2; exit {number}")
        assert (ran.stream("stdout"), ran.stream("stderr")) == (f"run {number}\n", f"err {number}\n")
        assert ran.result.exit_code == number
    assert agents_in(prepared, backend, state) == 1

    other = KubernetesBackend(config=KubernetesConfig.from_settings())  # another server process's backend
    assert run(other, state, "echo from the other").output == "from the other\n"
    assert agents_in(prepared, backend, state) == 2


def test_another_server_process_cancels_a_run_through_the_agent(backend, make_sandbox, prepared) -> None:
    state = make_sandbox().state
    other = KubernetesBackend(config=KubernetesConfig.from_settings())
    run_id = uuid.uuid4().hex
    started, stopped = threading.Event(), threading.Event()

    def cancel_once_started() -> None:
        started.wait()
        while not stopped.is_set() and not other.cancel(state=state, run_id=run_id):
            stopped.wait(0.2)

    canceller = threading.Thread(target=cancel_once_started)
    canceller.start()
    try:
        ran = run(
            backend,
            state,
            "sleep 411 & echo started; sleep 412",
            run_id=run_id,
            on_output=lambda stream, data: started.set(),
        )
    finally:
        started.set()
        stopped.set()
        canceller.join()

    assert ran.output == "started\n"
    assert ran.result.exit_code == 137  # SIGKILL to the run's whole process group
    left = run(backend, state, "pgrep -f 'sleep 41[12]' || echo none")
    assert left.stream("stdout") == "none\n"


def test_an_agent_killed_in_the_pod_is_replaced_by_the_next_run(backend, make_sandbox, prepared) -> None:
    state = make_sandbox().state
    run(backend, state, "cd /tmp && export KEPT=yes")
    in_pod(prepared, backend, state, "pkill", "-KILL", "-f", AGENT)
    assert agents_in(prepared, backend, state) == 0

    # Noticed or not before it, the death does not fail this run: one the lost agent never started is handed on.
    after = run(backend, state, 'echo "after $KEPT in $PWD"')
    assert (after.output, after.result.exit_code) == ("after yes in /tmp\n", 0)
    assert agents_in(prepared, backend, state) == 1


def test_a_pod_without_an_agent_runs_code_one_exec_at_a_time(make_sandbox, prepared, monkeypatch) -> None:
    monkeypatch.setattr(kubernetes_agent, "AGENT", "/usr/local/bin/podium-agent-of-a-newer-image")
    older = KubernetesBackend(config=KubernetesConfig.from_settings())
    state = make_sandbox().state

    ran = run(older, state, "echo still; echo warned >&2; exit 4")
    timed_out = run(older, state, "sleep 413", timeout=2)

    assert (ran.stream("stdout"), ran.stream("stderr"), ran.result.exit_code) == ("still\n", "warned\n", 4)
    assert timed_out.result.timed_out
    assert agents_in(prepared, older, state) == 0
    assert older._agents.get(state["namespace"], lambda: pytest.fail("asked again for an agent")) is None
