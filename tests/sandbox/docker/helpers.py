"""Helpers of the DockerBackend tests (fixtures are in conftest.py): names, configs, and attack probes."""

from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import replace

from sandbox.backends.base import SandboxSpec
from sandbox.backends.config import DockerConfig
from sandbox.backends.docker import DockerBackend
from tests.sandbox.backend_runs import Ran, run

TALK = "pytest-docker-backend"
# The default mode (userns); a CI that sets PODIUM_SANDBOX_SECURITY gets what it asked for.
SECURITY = os.environ.get("PODIUM_SANDBOX_SECURITY") or "userns"
# Small limits for the containment tests, so an attack reaches them in seconds.
SMALL = {"memory": "512m", "pids": 256}


def spec_new() -> SandboxSpec:
    return SandboxSpec(sandbox_id=uuid.uuid4().hex, attendee_id=uuid.uuid4().hex, talk=TALK)


def mem_available_bytes() -> int:
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no MemAvailable in /proc/meminfo")


def config_for(**limits) -> DockerConfig:
    """The configuration the tests' backends get: this machine's settings, SECURITY, and `limits` changed."""
    config = DockerConfig.from_settings()
    return replace(config, security=SECURITY, limits=replace(config.limits, **limits))


def no_process(backend: DockerBackend, state: dict, pattern: str) -> bool:
    """True when no process's command line matches `pattern`, bracketed ("[s]leep 1") so the check's own shell
    does not match itself."""
    ran = run(backend, state, f"pgrep -f '{pattern}' || echo none")
    return ran.output == "none\n"


def attack_while_other_answers(backend, attacked: dict, other: dict, **attack) -> tuple[Ran, list[Ran]]:
    """Run the attack in `attacked` while `other` keeps running `echo ok`; returns both sides' runs."""
    outcome: dict[str, Ran] = {}
    thread = threading.Thread(target=lambda: outcome.update(ran=run(backend, attacked, **attack)))
    thread.start()
    answers = []
    try:
        while thread.is_alive():
            answers.append(run(backend, other, "echo ok", timeout=60))
            time.sleep(0.3)
    finally:
        thread.join(120)
    return outcome["ran"], answers


def assert_healthy(backend: DockerBackend, docker_client, state: dict, answers: list[Ran]) -> None:
    assert answers, "the other sandbox was never asked"
    assert all(answer.output == "ok\n" and answer.result.exit_code == 0 for answer in answers)
    assert run(backend, state, "echo ok").output == "ok\n"
    assert docker_client.ping()
    assert mem_available_bytes() > 512 * 1024 * 1024
