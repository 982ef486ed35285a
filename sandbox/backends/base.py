"""The contract every sandbox backend fulfils (JupyterHub's Spawner is the model).

A backend turns a small JSON-able *state* dict into a running sandbox and runs
commands in it. The run pipeline stores that state on the `Sandbox` row, so a
restarted server finds its sandboxes again: the backend never keeps anything
about a sandbox only in memory. Every method here BLOCKS (it talks to the
Docker Engine or Kubernetes API); async callers run them in a thread
(`asyncio.to_thread`) and never on the event loop.

Chosen by `settings.PODIUM_SANDBOX_BACKEND` (a dotted path or a short name,
see `sandbox.backends.backend_get`).
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings

# What a run does, decided by the block's lexer (see deck/model.py CodeBlock.action):
# "shell" (bash lines in the attendee's persistent shell), "python" (python -),
# "build" (docker build of a Dockerfile text), "apply" (kubectl apply -f -), "sql" (mysql client).
RUN_KINDS = ("shell", "python", "build", "apply", "sql")


@dataclass(frozen=True)
class SandboxSpec:
    """Who a sandbox is for; the backend labels what it creates with these."""

    sandbox_id: str  # stable id of the Sandbox row (uuid hex)
    attendee_id: str
    talk: str  # the talk or deck slug
    # Which Podium install owns it, so two installs sharing one engine or cluster never
    # reconcile away each other's sandboxes.
    instance: str = field(default_factory=lambda: settings.PODIUM_INSTANCE)


@dataclass(frozen=True)
class RunRequest:
    """One run: what to execute and under which limits."""

    run_id: str
    kind: str  # one of RUN_KINDS
    code: str
    options: dict[str, str] = field(default_factory=dict)  # block options: context, tag, file ...
    timeout: float = 120.0  # seconds, then the process group is killed
    output_cap: int = 1024 * 1024  # bytes streamed/stored; past it, output is dropped and the process keeps running


@dataclass(frozen=True)
class RunResult:
    """How a run ended."""

    exit_code: int | None
    timed_out: bool = False
    cancelled: bool = False
    truncated: bool = False
    output_bytes: int = 0  # everything the process wrote, streamed or not


# on_output(stream, data): stream is "stdout" or "stderr"; data is raw bytes in order.
OutputCallback = Callable[[str, bytes], None]
# progress(message): a sentence for the learner while a sandbox is being created.
ProgressCallback = Callable[[str], None]
# should_stop(): polled while a run streams; True means "cancel now".
StopCheck = Callable[[], bool]


@dataclass(frozen=True)
class ManagedSandbox:
    """A sandbox the backend found by its labels (for reconciling after a restart)."""

    sandbox_id: str
    state: dict


class Backend(abc.ABC):
    """A way of giving each attendee their own sandbox."""

    #: short name shown to operators ("docker", "kubernetes")
    name: str = "abstract"

    def __init__(self, *, options: dict | None = None) -> None:
        self.options = dict(options or {})

    @abc.abstractmethod
    def check(self) -> str | None:
        """None when the backend can create sandboxes; else a sentence saying what is missing and how to fix it."""

    @abc.abstractmethod
    def ensure(self, *, spec: SandboxSpec, state: dict, progress: ProgressCallback) -> dict:
        """Make sure the sandbox described by `state` runs (creating it when `state` is empty or it vanished).

        Returns the new state to store. Idempotent: calling it on a running
        sandbox returns quickly with the same state. Reports steps through
        `progress` while it creates. Raises SandboxUnavailable / SandboxLimitReached.
        """

    @abc.abstractmethod
    def poll(self, *, state: dict) -> str | None:
        """Like Popen.poll: None while the sandbox runs, else a short reason it does not ("missing", "exited")."""

    @abc.abstractmethod
    def execute(
        self, *, state: dict, request: RunRequest, on_output: OutputCallback, should_stop: StopCheck
    ) -> RunResult:
        """Run `request` in the sandbox, calling `on_output` with chunks in order as they arrive.

        Blocks until the process ends, the timeout kills it, or `should_stop`
        turns true (then the process and its children are killed in the
        sandbox before returning). Raises SandboxNotFound when the sandbox is gone.
        """

    @abc.abstractmethod
    def cancel(self, *, state: dict, run_id: str) -> bool:
        """Kill the run's process group in the sandbox, from any process. True if something was killed."""

    @abc.abstractmethod
    def reset(self, *, spec: SandboxSpec, state: dict, progress: ProgressCallback) -> dict:
        """Throw the sandbox away and create a fresh one; returns the new state."""

    @abc.abstractmethod
    def destroy(self, *, state: dict) -> None:
        """Remove the sandbox and everything it owns (containers, volumes, networks). Idempotent."""

    @abc.abstractmethod
    def list_managed(self) -> list[ManagedSandbox]:
        """Every sandbox this backend created that still exists, found by labels."""
