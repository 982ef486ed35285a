"""DockerBackend against the real engine: workspace containers with their own Docker engine inside.

Every sandbox made here carries the label podium.talk=pytest-docker-backend and is removed after its
test (or module), pass or fail. The workspace image is built (cached) and the local registry mirror
filled before the first test (conftest.py); both are no-ops when already done.

Containment: a fork bomb, a memory hog, an endless loop and a full disk each stop at their limit while
another attendee's sandbox keeps answering.
"""

from __future__ import annotations

import pytest

from tests.docker_helpers import wait_for
from tests.sandbox.backend_runs import Ran, run
from tests.sandbox.docker.helpers import (
    SMALL,
    assert_healthy,
    attack_while_other_answers,
    no_process,
)

pytestmark = pytest.mark.docker


# --- containment ----------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_fork_bomb_is_stopped_by_the_pids_limit(backend, docker_client, make_sandbox, other):
    _, attacked = make_sandbox(**SMALL)

    bomb, answers = attack_while_other_answers(backend, attacked, other, code=":(){ :|:& };:", timeout=8)

    assert "fork: retry: Resource temporarily unavailable" in bomb.output
    # The run ends either at its timeout or, when the bomb's first shell manages to exit, at once: the
    # runner then kills what it left behind. Either way nothing of it may survive.
    assert_healthy(backend, docker_client, attacked, answers)
    assert no_process(backend, attacked, "[:][(][)]")


@pytest.mark.slow
def test_a_memory_hog_is_stopped_by_the_memory_limit(backend, docker_client, make_sandbox, other):
    _, attacked = make_sandbox(**SMALL)
    hog = "chunks = []\nwhile True:\n    chunks.append('x' * 10_000_000)\n"

    ran, answers = attack_while_other_answers(backend, attacked, other, code=hog, kind="python", timeout=60)

    assert ran.result.exit_code == 137  # SIGKILL from the OOM killer
    assert ran.result.timed_out is False
    assert_healthy(backend, docker_client, attacked, answers)


@pytest.mark.slow
def test_a_container_started_inside_is_held_by_the_sandbox_memory_limit(backend, docker_client, make_sandbox, other):
    _, attacked = make_sandbox(**SMALL)
    hog = "python3 -c \"chunks = []\nwhile True: chunks.append('x' * 10_000_000)\""

    ran, answers = attack_while_other_answers(
        backend, attacked, other, code=f"docker run --rm python:3.11-slim {hog}", timeout=90
    )

    assert ran.result.exit_code == 137, ran.output
    assert_healthy(backend, docker_client, attacked, answers)


@pytest.mark.slow
def test_an_infinite_loop_is_stopped_by_the_timeout(backend, docker_client, make_sandbox, other):
    _, attacked = make_sandbox(**SMALL)

    ran, answers = attack_while_other_answers(backend, attacked, other, code="while :; do :; done", timeout=3)

    assert ran.result.timed_out is True
    assert_healthy(backend, docker_client, attacked, answers)
    assert no_process(backend, attacked, "[w]hile :")


@pytest.mark.slow
def test_past_the_disk_limit_runs_are_refused_until_reset(backend, make_sandbox):
    spec, state = make_sandbox(disk="50m", disk_check_seconds=1)
    assert run(backend, state, "head -c 60000000 /dev/zero > /root/big").result.exit_code == 0

    def refused() -> Ran | None:
        ran = run(backend, state, "echo hello")
        return ran if ran.result.exit_code != 0 else None

    refusal = wait_for(refused, what="a run refused for disk use", timeout=30)
    assert refusal.stream("stderr").startswith("Your sandbox uses 6")
    assert "over its limit of 52 MB. Reset your sandbox" in refusal.output

    fresh = backend.reset(spec=spec, state=state, progress=lambda message: None)
    try:
        assert run(backend, fresh, "echo hello").output == "hello\n"
    finally:
        backend.destroy(state=fresh)
