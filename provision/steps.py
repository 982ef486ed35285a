"""Running the long steps of host setup: docker CLI subprocesses whose lines are the progress, a clock, a lock.

Pull, import and build run the docker CLI in a subprocess: they are long,
their line-by-line output is the progress we show, a timeout is a plain
`kill`, and a failing step can be re-run by hand exactly as logged.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from sandbox.errors import SandboxUnavailable

Progress = Callable[[str], None]


class ImageError(SandboxUnavailable):
    """Preparing or finding an image failed; the message says what to do about it."""

    user_message = "The workshop's container images are not ready on this server."


class EngineUnavailable(ImageError):
    """No Docker engine answers."""

    user_message = "No Docker engine is running on this server."


class ImageMissing(ImageError):
    """Neither the official image nor its stand-in is in the engine."""


class Clock:
    """Prefixes each progress line with the seconds since prepare started."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        self.progress(f"[{time.monotonic() - self.started:6.1f}s] {message}")


def docker_cli() -> str:
    path = shutil.which("docker")
    if path is None:
        raise ImageError("The docker command is not installed; scripts/docker-up.sh installs it (Debian's docker.io).")
    return path


def stream_run(
    command: list[str], *, say: Clock, prefix: str, keep: Callable[[str], bool], timeout: float, what: str
) -> None:
    """Run a command, passing the lines `keep` selects to `say`; on failure raise with its last lines."""
    tail: collections.deque[str] = collections.deque(maxlen=25)
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, errors="replace"
    )
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    try:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.rstrip()
            if not line:
                continue
            tail.append(line)
            if keep(line):
                say(prefix + (line if len(line) <= 110 else line[:107] + "..."))
        code = process.wait()
    finally:
        timer.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
    if code != 0:
        why = f"was stopped after {timeout:.0f} s" if code == -9 else f"failed (exit code {code})"
        last = "\n".join(f"    {line}" for line in tail)
        raise ImageError(f"{what} {why}. Its last lines:\n{last}")


@contextlib.contextmanager
def prepare_lock(say: Clock, folder: Path) -> Iterator[None]:
    # Two prepares at once (the serve command and a test run) would debootstrap and build twice.
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "prepare.lock"
        handle = open(path, "w")  # noqa: SIM115 - held for the whole block
    except OSError:
        handle = open(Path(tempfile.gettempdir()) / "podium-prepare.lock", "w")  # noqa: SIM115
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("another `sandbox prepare` is running; waiting for it to finish")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield
