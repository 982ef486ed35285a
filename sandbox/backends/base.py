"""The contract every sandbox backend fulfils (JupyterHub's Spawner is the model).

A backend turns a small JSON-able *state* dict into a running sandbox and runs
commands in it. The run pipeline stores that state on the `Sandbox` row, so a
restarted server finds its sandboxes again: the backend never keeps anything
about a sandbox only in memory. Every method here BLOCKS (it talks to the
Docker Engine or Kubernetes API); async callers run them in a thread
(`asyncio.to_thread`) and never on the event loop.

Chosen by `settings.PODIUM_SANDBOX_BACKEND` (a dotted path or a short name,
see `sandbox.backends.backend_get`), which builds the backend's configuration
once (`config_class.from_settings()`, see sandbox/backends/config.py) and
passes it in: a backend reads its `config`, never the settings.
"""

from __future__ import annotations

import abc
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.conf import settings

from sandbox.errors import SandboxUnavailable


@dataclass(frozen=True)
class SandboxSpec:
    """Who a sandbox is for; the backend labels what it creates with these."""

    sandbox_id: str  # stable id of the Sandbox row (uuid hex)
    attendee_id: str
    talk: str  # the talk or deck slug
    # Which Podium install owns it, so two installs sharing one engine or cluster never
    # reconcile away each other's sandboxes.
    # The pipeline's own default: the backend's config.instance says which sandboxes list_managed finds.
    instance: str = field(default_factory=lambda: settings.PODIUM_INSTANCE)
    room: str = ""  # the join code of the room whose warm pool made it, if one did (labelled podium.room)


@dataclass(frozen=True)
class RunRequest:
    """One run: what to execute and under which limits."""

    run_id: str
    kind: str  # one of deck.run_kinds.RUN_KINDS
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


@dataclass(frozen=True)
class TerminalRequest:
    """One terminal socket's attach to the sandbox's terminal session (see `Backend.terminal_open`).

    `client` names this attach (letters, digits, "-", "_"), so closing it detaches this one only;
    `watch` attaches read-only; `keep` is how long the session outlives its last attach, in seconds.
    """

    client: str
    cols: int = 80
    rows: int = 24
    watch: bool = False
    keep: float = 300.0


@dataclass(frozen=True)
class TerminalStatus:
    """The sandbox's terminal session: whether it exists, and who is attached (typing, and read-only)."""

    session: bool = False
    typing: int = 0
    watching: int = 0


class Terminal(abc.ABC):
    """An attached PTY in a sandbox. Every method BLOCKS; `read` is meant for a thread of its own."""

    @abc.abstractmethod
    def read(self) -> bytes:
        """The next bytes the terminal printed, as they come; b"" once it ended (the shell exited, or closed)."""

    @abc.abstractmethod
    def write(self, data: bytes) -> None:
        """Type `data` (keystrokes, a paste). Raises SandboxError when the terminal is gone."""

    @abc.abstractmethod
    def resize(self, *, cols: int, rows: int) -> None:
        """Make the PTY `cols` x `rows`: the programs in it get SIGWINCH and `tput cols` says `cols`."""

    @abc.abstractmethod
    def close(self) -> None:
        """Detach (the session lives on for the request's `keep` seconds, then ends). Idempotent; never raises."""

    def raw_socket(self) -> socket.socket | None:
        """The socket carrying the PTY's raw bytes both ways, when there is one (then a caller may read and
        write it on an event loop instead of calling `read` and `write`); None (this default) otherwise."""
        return None


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


@dataclass(frozen=True)
class SandboxDescription:
    """What a person (or a rehearsal) needs to know about one sandbox, so nobody reads its state keys.

    `enter` and `remove` are shell commands an operator can paste ("" when there is none); `namespace`
    is the Kubernetes namespace its code reaches ("" when none), `cluster` whether a cluster is
    configured at all, and `engine` whether its code can use Docker.
    """

    enter: str = ""
    remove: str = ""
    namespace: str = ""
    cluster: bool = False
    engine: bool = True


class Backend(abc.ABC):
    """A way of giving each attendee their own sandbox."""

    #: short name shown to operators ("docker", "kubernetes")
    name: str = "abstract"
    #: the frozen dataclass this backend is configured with; it has a `from_settings()` classmethod
    config_class: ClassVar[type]

    def __init__(self, *, config: Any = None) -> None:
        """Keep `config` (an instance of `config_class`); without one, build it from the settings now."""
        self.config = config if config is not None else self.config_class.from_settings()

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

    @abc.abstractmethod
    def describe(self, *, state: dict) -> SandboxDescription:
        """How to get into the sandbox of `state` and remove it by hand, and what its code can reach. Pure."""

    def terminal_open(self, *, state: dict, request: TerminalRequest) -> Terminal:
        """Attach to the sandbox's terminal session (a shell with a PTY, started in the directory and with the
        exports runs left), creating it when there is none; with `request.watch`, read-only, and
        SandboxNotFound when there is no session to watch. Raises SandboxUnavailable on a backend without
        terminals (this default)."""
        raise SandboxUnavailable(
            f"the {self.name} backend has no terminal", user_message="This server's sandboxes have no terminal."
        )

    def terminal_status(self, *, state: dict) -> TerminalStatus:
        """Whether the sandbox has a terminal session and how many attaches it has (see `terminal_open`)."""
        return TerminalStatus()

    @abc.abstractmethod
    def state_by_name(self, *, spec: SandboxSpec) -> dict:
        """The state naming everything `ensure` would make for `spec`, from names alone (no I/O), so that
        `destroy` can remove what an interrupted `ensure` left."""
