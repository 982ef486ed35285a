"""DockerBackend figures: cold sandbox create, idle memory per sandbox, exec latency, workspace build.

- create: `DockerBackend.ensure` of a new sandbox (network + volume + container start + inner
  dockerd answering), N times one after another.
- idle memory: each sandbox's cgroup memory usage (`memory.usage_in_bytes` on cgroup v1,
  `memory.current` on v2, as `docker stats` reads it) after the sandboxes sat idle for --idle seconds.
- exec latency of `true`: through the backend (`execute`: runner, pidfile, session, streamed output,
  exit code) against the baseline, a raw docker SDK exec (exec_create + exec_start + exec_inspect)
  of `true` in the same container; `exec_ratio` = backend p50 / raw p50.
- with --build: a no-cache build of the workspace image (the apt layer included) under a throwaway tag.

    .venv/bin/python bench/sandbox_docker.py [--sandboxes 3] [--execs 50] [--build]

The mode is PODIUM_SANDBOX_SECURITY (default userns; capabilities to compare the host-root mode).

Sandboxes are labelled podium.talk=bench-sandbox-docker and removed at the end.
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path

import common as bench

TALK = "bench-sandbox-docker"


def cgroup_memory_bytes(container_id: str) -> int | None:
    for path in (
        f"/sys/fs/cgroup/memory/docker/{container_id}/memory.usage_in_bytes",
        f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope/memory.current",
        f"/sys/fs/cgroup/docker/{container_id}/memory.current",
    ):
        try:
            return int(Path(path).read_text())
        except OSError:
            continue
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sandboxes", type=int, default=3)
    parser.add_argument("--execs", type=int, default=50)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds the sandboxes sit idle before measuring")
    parser.add_argument("--build", action="store_true", help="also time a no-cache workspace image build")
    args = parser.parse_args()

    bench.django_setup()
    from sandbox.backends.base import RunRequest
    from sandbox.backends.docker import DockerBackend

    backend = bench.backend_checked(DockerBackend())
    client = backend._engine()
    figures: dict[str, object] = {
        "security": os.environ.get("PODIUM_SANDBOX_SECURITY", "userns"),
        "load_avg_before": bench.load_average(),
    }
    sandboxes = bench.BenchSandboxes(backend=backend, talk=TALK)
    states = sandboxes.states
    try:
        figures.update(sandboxes.create(args.sandboxes, word="create"))

        time.sleep(args.idle)
        memory = [cgroup_memory_bytes(state["container_id"]) for state in states]
        stats = [client.api.stats(state["container"], stream=False)["memory_stats"].get("usage") for state in states]
        known = [value for value in memory if value]
        figures["idle_memory_mb_cgroup"] = round(sum(known) / len(known) / 1e6, 1) if known else None
        figures["idle_memory_mb_docker_stats"] = round(sum(stats) / len(stats) / 1e6, 1) if all(stats) else None

        state = states[0]
        backend_ms, raw_ms = [], []
        for index in range(args.execs + 3):
            request = RunRequest(run_id=uuid.uuid4().hex, kind="shell", code="true")
            started = time.perf_counter()
            result = backend.execute(state=state, request=request, on_output=lambda *_: None, should_stop=lambda: False)
            elapsed = (time.perf_counter() - started) * 1000
            assert result.exit_code == 0, result
            raw_s, _, exit_code = bench.raw_exec_total(client.api, state["container"], ["true"], stream=False)
            assert exit_code == 0
            if index >= 3:  # warm-up
                backend_ms.append(elapsed)
                raw_ms.append(raw_s * 1000)
        figures.update(bench.p50_p99("exec_true_backend_ms_{p}", backend_ms, digits=1))
        figures.update(bench.p50_p99("exec_true_raw_ms_{p}", raw_ms, digits=1))
        figures["exec_ratio"] = round(figures["exec_true_backend_ms_p50"] / figures["exec_true_raw_ms_p50"], 2)
    finally:
        sandboxes.destroy()

    if args.build:
        from provision.images import base_image_name
        from provision.workspace.build import context_write

        tag = "podium-bench/workspace:nocache"
        with tempfile.TemporaryDirectory() as folder:
            context_write(context=Path(folder), root=bench.ROOT)
            started = time.perf_counter()
            for _ in client.api.build(
                path=folder, tag=tag, buildargs={"BASE_IMAGE": base_image_name()}, nocache=True, rm=True, decode=True
            ):
                pass
            figures["build_nocache_s"] = round(time.perf_counter() - started, 1)
        figures["image_mb"] = round(client.images.get(tag).attrs["Size"] / 1e6)
        figures["image"] = backend.config.image
        client.images.remove(tag)
    figures["load_avg_after"] = bench.load_average()
    bench.figures_print(figures)


if __name__ == "__main__":
    main()
