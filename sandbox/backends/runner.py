"""The in-sandbox runner protocol: how a run is started in a workspace, and how it is killed.

Both real backends run the same image (provision/workspace/) and talk to the
same runner, `podium-run`, through an exec: the Docker backend with a
`docker exec`, the Kubernetes backend with an exec through the API server.
This module is the server's half of that protocol; the script itself is
provision/workspace/podium-run.

    podium-run KIND RUN_ID   start a run. The code travels in the exec's environment as base64 chunks
                             PODIUM_CODE_B64_000, _001 ... (not on stdin, so the exec stream is read-only
                             and the code stays out of `ps`); each block option as PODIUM_OPT_<KEY>.
    podium-run kill RUN_ID   a second exec: kill the run's session and everything it started, found
                             through the pidfile the runner wrote, so any server process can cancel any
                             run. Exit 0: killed something, 1: nothing left, 3: no such run.
    podium-ready SECONDS     wait until the workspace's Docker engine answers; exit 0 when it does.
    podium-enter CMD...      userns mode (Docker backend): what runs or kills for the attendee goes
                             through this launcher (provision/workspace/podium-enter.c), which enters
                             the workspace's user namespace; the exec itself starts as the host's root.

Pure: nothing here talks to an engine or a cluster.
"""

from __future__ import annotations

import base64
import re

from deck.run_kinds import RUN_KINDS
from sandbox.backends.base import RunRequest

RUNNER = "/usr/local/bin/podium-run"
READY = "/usr/local/bin/podium-ready"
ENTER = "/usr/local/bin/podium-enter"

# A code text larger than this is split over several variables: one exec argument or variable may
# not exceed 128 KiB (MAX_ARG_STRLEN), and base64 grows text by a third.
ENV_CHUNK = 96 * 1024


def run_command(*, kind: str, run_id: str) -> list[str]:
    """The exec command of one run: the in-sandbox runner with the run's kind and id."""
    if kind not in RUN_KINDS:
        raise ValueError(f"unknown run kind {kind!r}; expected one of {', '.join(RUN_KINDS)}")
    return [RUNNER, kind, safe_run_id(run_id)]


def kill_command(*, run_id: str) -> list[str]:
    """The exec command that kills a run's process group, found through the runner's pidfile."""
    return [RUNNER, "kill", safe_run_id(run_id)]


def as_attendee(command: list[str], *, security: str) -> list[str]:
    """`command` as the attendee runs it: behind podium-enter in userns mode, unchanged in the other modes."""
    return [ENTER, *command] if security == "userns" else command


def ready_command(*, timeout: float) -> list[str]:
    """The exec command that waits up to `timeout` seconds for the workspace's Docker engine to answer."""
    return [READY, str(timeout)]


def run_environment(request: RunRequest) -> dict[str, str]:
    """The exec environment of a run: the code as base64 chunks and each block option as PODIUM_OPT_<KEY>.

    Passing the code in the environment (not on stdin) lets the exec stream be read-only and keeps the
    code out of `ps` output. Chunks are PODIUM_CODE_B64_000, _001 ... in order.
    """
    encoded = base64.b64encode(request.code.encode("utf-8")).decode("ascii")
    env = {
        f"PODIUM_CODE_B64_{index:03d}": encoded[start : start + ENV_CHUNK]
        for index, start in enumerate(range(0, max(len(encoded), 1), ENV_CHUNK))
    }
    for key, value in request.options.items():
        name = re.sub(r"[^A-Z0-9]", "_", key.upper())
        if name:
            env[f"PODIUM_OPT_{name}"] = value
    return env


def env_command(request: RunRequest) -> list[str]:
    """The run's command for an exec that has no environment of its own (Kubernetes): the runner behind `env`.

    The code (base64, in chunks below the kernel's limit for one argument) travels as `env NAME=value`
    arguments, which `env` turns into the runner's environment before the runner starts.
    """
    assignments = [f"{key}={value}" for key, value in run_environment(request).items()]
    return ["env", *assignments, *run_command(kind=request.kind, run_id=request.run_id)]


def safe_run_id(run_id: str) -> str:
    """The run id as the runner accepts it (letters, digits, dash, underscore); ValueError otherwise."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", run_id):
        raise ValueError(f"run id {run_id!r} may only hold letters, digits, '-' and '_'")
    return run_id
