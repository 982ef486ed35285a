"""A test double of a sandbox backend: each sandbox is a folder on THIS machine, each run a local subprocess.

Django's locmem mail backend is the model: it exists so the run pipeline's own
tests (ordering, sequence numbers, cancel plumbing, limits, forged ids) run in
a fraction of a second without a Docker engine. It has NO isolation at all:
code runs as the server's own user, on the server's own files. It therefore
refuses to load unless its config says PODIUM_ENV is "test".

Choose it with PODIUM_SANDBOX_BACKEND=sandbox.backends.local.LocalBackend.
Sandboxes live under PODIUM_LOCAL_SANDBOX_ROOT (a test sets it to a
temporary folder), else under the system temporary folder. It runs "shell"
(bash -c) and "python" blocks only, and keeps no shell state between runs.
Like the Docker backend, a run's pid lives in a file, so cancel works from any
process, and output past the cap is dropped while the process keeps running.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from sandbox.backends.base import (
    Backend,
    ManagedSandbox,
    OutputCallback,
    ProgressCallback,
    RunRequest,
    RunResult,
    SandboxDescription,
    SandboxSpec,
    StopCheck,
)
from sandbox.backends.config import LocalConfig
from sandbox.backends.run_output import OutputCap
from sandbox.errors import SandboxError, SandboxNotFound

MARKER = "podium-sandbox.json"  # the folder's "labels": which sandbox, attendee and talk it belongs to
READ_SIZE = 64 * 1024
POLL_SECONDS = 0.05


class LocalBackend(Backend):
    """Sandboxes as local folders and runs as local subprocesses; for tests only (no isolation)."""

    name = "local"
    config_class = LocalConfig
    config: LocalConfig

    def __init__(self, *, config: LocalConfig | None = None) -> None:
        super().__init__(config=config)
        if self.config.env != "test":
            raise ImproperlyConfigured(
                "The local sandbox backend runs code on this machine with no isolation, so it loads only "
                f"when PODIUM_ENV=test (it is {self.config.env!r}); use PODIUM_SANDBOX_BACKEND=docker."
            )

    # -- where things are -------------------------------------------------------------------
    @property
    def root(self) -> Path:
        """The folder holding every local sandbox."""
        return Path(self.config.root or Path(tempfile.gettempdir()) / "podium-local-sandboxes")

    def _folder(self, state: dict) -> Path:
        path = state.get("path")
        if not path or not (Path(path) / MARKER).is_file():
            raise SandboxNotFound(f"local sandbox folder {path!r} is missing")
        return Path(path)

    # -- the contract ----------------------------------------------------------------------
    def check(self) -> str | None:
        return None

    def ensure(self, *, spec: SandboxSpec, state: dict, progress: ProgressCallback) -> dict:
        with contextlib.suppress(SandboxNotFound):
            self._folder(state)
            return dict(state)
        progress("Creating your sandbox…")
        folder = Path(self.state_by_name(spec=spec)["path"])
        (folder / "work").mkdir(parents=True, exist_ok=True)
        (folder / "runs").mkdir(exist_ok=True)
        labels = {"sandbox": spec.sandbox_id, "attendee": spec.attendee_id, "talk": spec.talk}
        (folder / MARKER).write_text(json.dumps(labels))
        progress("Your sandbox is ready.")
        return self.state_by_name(spec=spec)

    def poll(self, *, state: dict) -> str | None:
        try:
            self._folder(state)
        except SandboxNotFound:
            return "missing"
        return None

    def execute(
        self, *, state: dict, request: RunRequest, on_output: OutputCallback, should_stop: StopCheck
    ) -> RunResult:
        folder = self._folder(state)
        if request.kind == "shell":
            argv = ["bash", "-c", request.code]
        elif request.kind == "python":
            argv = [sys.executable, "-c", request.code]
        else:
            raise SandboxError(
                f"local backend cannot run kind {request.kind!r}",
                user_message=f"The local test backend runs shell and python blocks only, not {request.kind}.",
            )
        pidfile = folder / "runs" / f"{request.run_id}.pid"
        process = None
        try:
            process = subprocess.Popen(
                argv,
                cwd=folder / "work",
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # its own process group, so a kill takes its children too
            )
            pidfile.write_text(str(process.pid))
        except FileNotFoundError:
            # A destroy (a reset) removed the folder between the check above and here: as a container
            # removed under a starting exec, the sandbox is gone, and nothing of the run may outlive it.
            if process is not None:
                _kill_group(process.pid)
                process.communicate()
            raise SandboxNotFound(f"local sandbox {folder} removed while run {request.run_id} started") from None
        try:
            return self._stream(process, request, on_output, should_stop)
        finally:
            pidfile.unlink(missing_ok=True)

    def cancel(self, *, state: dict, run_id: str) -> bool:
        try:
            pidfile = self._folder(state) / "runs" / f"{run_id}.pid"
            pgid = int(pidfile.read_text())
        except (SandboxNotFound, OSError, ValueError):
            return False
        return _kill_group(pgid)

    def reset(self, *, spec: SandboxSpec, state: dict, progress: ProgressCallback) -> dict:
        progress("Removing your old sandbox…")
        self.destroy(state=state)
        return self.ensure(spec=spec, state={}, progress=progress)

    def destroy(self, *, state: dict) -> None:
        path = state.get("path")
        if not path or not Path(path).is_dir():
            return
        for pidfile in (Path(path) / "runs").glob("*.pid"):
            with contextlib.suppress(OSError, ValueError):
                _kill_group(int(pidfile.read_text()))
        shutil.rmtree(path, ignore_errors=True)

    def list_managed(self) -> list[ManagedSandbox]:
        found = []
        if not self.root.is_dir():
            return found
        for marker in sorted(self.root.glob(f"*/{MARKER}")):
            try:
                labels = json.loads(marker.read_text())
            except (OSError, ValueError):
                continue
            state = {"path": str(marker.parent), "sandbox_id": labels.get("sandbox", "")}
            found.append(ManagedSandbox(sandbox_id=labels.get("sandbox", ""), state=state))
        return found

    def describe(self, *, state: dict) -> SandboxDescription:
        """No commands (the test double's folder is an implementation detail); its code reaches no cluster."""
        return SandboxDescription()

    def state_by_name(self, *, spec: SandboxSpec) -> dict:
        """The sandbox's folder, named after its id."""
        return {"path": str(self.root / uuid.UUID(spec.sandbox_id).hex), "sandbox_id": spec.sandbox_id}

    # -- streaming --------------------------------------------------------------------------
    def _stream(
        self, process: subprocess.Popen, request: RunRequest, on_output: OutputCallback, should_stop: StopCheck
    ) -> RunResult:
        chunks: queue.Queue[tuple[str, bytes | None]] = queue.Queue()
        readers = [
            threading.Thread(target=_read_pipe, args=(name, pipe, chunks), daemon=True)
            for name, pipe in (("stdout", process.stdout), ("stderr", process.stderr))
        ]
        for reader in readers:
            reader.start()
        deadline = time.monotonic() + request.timeout
        open_pipes, output = 2, OutputCap(request.output_cap, on_output)
        timed_out = cancelled = False
        # Until both pipes close: a child left in the background keeps them open, as in a terminal.
        while open_pipes:
            if not (timed_out or cancelled):
                if should_stop():
                    cancelled = True
                    _kill_group(process.pid)
                elif time.monotonic() > deadline:
                    timed_out = True
                    _kill_group(process.pid)
            try:
                stream, data = chunks.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            if data is None:
                open_pipes -= 1
                continue
            output.write(stream, data)
        code = process.wait()
        for reader in readers:
            reader.join()
        exit_code = 128 - code if code < 0 else code  # killed by signal N -> 128+N, as a shell reports it
        return RunResult(
            exit_code=exit_code,
            timed_out=timed_out,
            cancelled=cancelled,
            truncated=output.truncated,
            output_bytes=output.total,
        )


def _read_pipe(name: str, pipe, chunks: queue.Queue) -> None:
    """Move what a pipe delivers into `chunks` as it comes; (name, None) marks its end."""
    fd = pipe.fileno()
    try:
        while data := os.read(fd, READ_SIZE):
            chunks.put((name, data))
    finally:
        pipe.close()
        chunks.put((name, None))


def _kill_group(pgid: int) -> bool:
    """SIGKILL a whole process group; False when it no longer exists."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False
    return True
