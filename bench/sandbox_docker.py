"""DockerBackend figures: cold sandbox create, idle memory per sandbox, exec latency, workspace build.

- create: `DockerBackend.ensure` of a new sandbox (network + volume + container start + inner
  dockerd answering), N times one after another.
- idle memory: each sandbox's cgroup memory usage (`memory.usage_in_bytes` on cgroup v1,
  `memory.current` on v2, as `docker stats` reads it) after the sandboxes sat idle for --idle seconds.
- exec latency of `true`: through the backend (`execute`: runner, pidfile, session, streamed output,
  exit code) against the baseline, a raw docker SDK exec (exec_create + exec_start + exec_inspect)
  of `true` in the same container; `exec_ratio` = backend p50 / raw p50.
- with --build: a no-cache build of the workspace image (the apt layer included) under a throwaway tag.

    PODIUM_SANDBOX_SECURITY=capabilities .venv/bin/python bench/sandbox_docker.py [--sandboxes 3] [--execs 50] [--build]

Sandboxes are labelled podium.talk=bench-sandbox-docker and removed at the end.
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

TALK = "bench-sandbox-docker"


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile of `samples`."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


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

    from sandbox.backends.base import RunRequest, SandboxSpec
    from sandbox.backends.docker import DockerBackend

    backend = DockerBackend()
    problem = backend.check()
    if problem:
        sys.exit(problem)
    client = backend._engine()
    figures: dict[str, object] = {
        "security": os.environ.get("PODIUM_SANDBOX_SECURITY", "privileged"),
        "load_avg_before": [round(value, 2) for value in os.getloadavg()],
    }
    states: list[dict] = []
    try:
        creates = []
        for _ in range(args.sandboxes):
            spec = SandboxSpec(sandbox_id=uuid.uuid4().hex, attendee_id="bench", talk=TALK)
            started = time.perf_counter()
            states.append(backend.ensure(spec=spec, state={}, progress=lambda message: None))
            creates.append(time.perf_counter() - started)
            print(f"create {len(creates)}: {creates[-1]:.2f} s", file=sys.stderr, flush=True)
        figures["create_s_p50"] = round(percentile(creates, 0.5), 3)
        figures["create_s_max"] = round(max(creates), 3)

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
            started = time.perf_counter()
            exec_id = client.api.exec_create(state["container"], ["true"])["Id"]
            client.api.exec_start(exec_id)
            exit_code = client.api.exec_inspect(exec_id)["ExitCode"]
            raw = (time.perf_counter() - started) * 1000
            assert exit_code == 0
            if index >= 3:  # warm-up
                backend_ms.append(elapsed)
                raw_ms.append(raw)
        figures["exec_true_backend_ms_p50"] = round(percentile(backend_ms, 0.5), 1)
        figures["exec_true_backend_ms_p99"] = round(percentile(backend_ms, 0.99), 1)
        figures["exec_true_raw_ms_p50"] = round(percentile(raw_ms, 0.5), 1)
        figures["exec_true_raw_ms_p99"] = round(percentile(raw_ms, 0.99), 1)
        figures["exec_ratio"] = round(figures["exec_true_backend_ms_p50"] / figures["exec_true_raw_ms_p50"], 2)
    finally:
        for state in states:
            backend.destroy(state=state)

    if args.build:
        from django.conf import settings

        from sandbox.images import base_image_name
        from sandbox.workspace.build import context_write

        tag = "podium-bench/workspace:nocache"
        with tempfile.TemporaryDirectory() as folder:
            context_write(context=Path(folder), root=ROOT)
            started = time.perf_counter()
            for _ in client.api.build(
                path=folder, tag=tag, buildargs={"BASE_IMAGE": base_image_name()}, nocache=True, rm=True, decode=True
            ):
                pass
            figures["build_nocache_s"] = round(time.perf_counter() - started, 1)
        figures["image_mb"] = round(client.images.get(tag).attrs["Size"] / 1e6)
        figures["image"] = settings.PODIUM_WORKSPACE_IMAGE
        client.images.remove(tag)
    figures["load_avg_after"] = [round(value, 2) for value in os.getloadavg()]
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
