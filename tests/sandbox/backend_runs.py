"""Running one block straight through a backend's `execute`, as the worker does: the tests' shared helper."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sandbox.backends.base import Backend, RunRequest, RunResult


@dataclass
class Ran:
    """A finished run: how it ended and every chunk it streamed, in order."""

    result: RunResult
    chunks: list[tuple[str, bytes]]

    @property
    def output(self) -> str:
        return b"".join(data for _, data in self.chunks).decode("utf-8", "replace")

    def stream(self, name: str) -> str:
        return b"".join(data for stream, data in self.chunks if stream == name).decode("utf-8", "replace")


def run(
    backend: Backend,
    state: dict,
    code: str,
    *,
    kind: str = "shell",
    timeout: float = 120,
    output_cap: int = 1024 * 1024,
    options: dict | None = None,
    run_id: str | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    on_output: Callable[[str, bytes], None] | None = None,
) -> Ran:
    """Run `code` in the sandbox `state` names; every chunk is kept (and handed to `on_output` too)."""
    chunks: list[tuple[str, bytes]] = []

    def collect(stream: str, data: bytes) -> None:
        chunks.append((stream, data))
        if on_output is not None:
            on_output(stream, data)

    request = RunRequest(
        run_id=run_id or uuid.uuid4().hex,
        kind=kind,
        code=code,
        options=options or {},
        timeout=timeout,
        output_cap=output_cap,
    )
    result = backend.execute(state=state, request=request, on_output=collect, should_stop=should_stop)
    return Ran(result=result, chunks=chunks)
