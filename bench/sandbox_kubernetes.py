"""KubernetesBackend figures: namespace + workspace ready time, exec first-byte latency against a raw client exec.

- ready: `KubernetesBackend.ensure` of a new sandbox (namespace, quota, limits, ServiceAccount and token,
  Role/RoleBinding, NetworkPolicy, workspace pod Running and Ready, the Docker sidecar's engine answering),
  N times one after another; then one `reset` (namespace deleted, gone, made again).
- exec first byte: `execute` of `echo x` through the backend (own ApiClient, websocket, runner, pidfile,
  session), time until on_output first fires and until the result; against the baseline, a raw
  `kubernetes.stream.stream` exec of `echo x` in the same pod with the client's own reading
  (`update`/`read_stdout`), alternating one with the other; `exec_ratio` = backend p50 / raw p50 (first
  byte), `exec_total_ratio` the same for the whole run (to its result / to the raw exec's end).

    PODIUM_KUBECONFIG=/var/lib/podium-cluster/admin.kubeconfig PODIUM_SANDBOX_SECURITY=capabilities \\
        .venv/bin/python bench/sandbox_kubernetes.py [--sandboxes 3] [--execs 30] [--no-docker]

Without PODIUM_KUBECONFIG, the test cluster's admin kubeconfig (tests/cluster/up.sh) is used when it is up.
Namespaces are labelled podium.talk=bench-sandbox-kubernetes and deleted at the end.
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from pathlib import Path

import common as bench

TALK = "bench-sandbox-kubernetes"
CLUSTER_ENV = Path(os.environ.get("PODIUM_CLUSTER_DIR", "/var/lib/podium-cluster")) / "cluster.env"


def test_cluster_kubeconfig() -> str:
    """The test cluster's admin kubeconfig from its cluster.env, or "" when there is none."""
    if not CLUSTER_ENV.is_file():
        return ""
    for line in CLUSTER_ENV.read_text().splitlines():
        if line.startswith("PODIUM_TEST_KUBECONFIG="):
            return line.split("=", 1)[1]
    return ""


def raw_first_byte_ms(api_client, pods: str, pod: str) -> tuple[float, float]:
    """A plain client exec of `echo x` in the workspace pod `pod` of the namespace `pods`: ms to the first
    stdout byte, and to the end."""
    import kubernetes.client
    from kubernetes.stream import stream

    core = kubernetes.client.CoreV1Api(api_client)
    started = time.perf_counter()
    client = stream(
        core.connect_get_namespaced_pod_exec,
        pod,
        pods,
        container="workspace",
        command=["echo", "x"],
        stdin=False,
        stdout=True,
        stderr=True,
        tty=False,
        _preload_content=False,
    )
    first = None
    while client.is_open():
        client.update(timeout=5)
        if first is None and client.peek_stdout():
            first = time.perf_counter()
    ended = time.perf_counter()
    assert client.returncode == 0
    client.close()
    return ((first or ended) - started) * 1000, (ended - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sandboxes", type=int, default=3)
    parser.add_argument("--execs", type=int, default=30)
    parser.add_argument("--no-docker", action="store_true", help="workspace pods without the Docker sidecar")
    args = parser.parse_args()

    if not os.environ.get("PODIUM_KUBECONFIG"):
        os.environ["PODIUM_KUBECONFIG"] = test_cluster_kubeconfig()
    if args.no_docker:
        os.environ["PODIUM_K8S_DOCKER"] = "0"
    bench.django_setup()
    from sandbox.backends.base import RunRequest
    from sandbox.backends.kubernetes import KubernetesBackend

    backend = bench.backend_checked(KubernetesBackend())
    figures: dict[str, object] = {
        "security": backend.config.security,
        "docker_sidecar": backend.config.docker,
        "load_avg_before": bench.load_average(),
    }
    sandboxes = bench.BenchSandboxes(backend=backend, talk=TALK)
    states = sandboxes.states
    try:
        figures.update(sandboxes.create(args.sandboxes, word="ready"))

        state = states[0]
        raw_client = backend.kube.api_new()
        backend_first, backend_total, raw_first, raw_total = [], [], [], []
        for index in range(args.execs + 3):
            marks: list[float] = []
            request = RunRequest(run_id=uuid.uuid4().hex, kind="shell", code="echo x")
            started = time.perf_counter()
            result = backend.execute(
                state=state,
                request=request,
                on_output=lambda stream, data, marks=marks: marks.append(time.perf_counter()),
                should_stop=lambda: False,
            )
            ended = time.perf_counter()
            assert result.exit_code == 0 and marks, result
            first_raw, total_raw = raw_first_byte_ms(
                raw_client, backend.kube.config.workspaces_namespace, state["namespace"]
            )
            if index >= 3:  # warm-up
                backend_first.append((marks[0] - started) * 1000)
                backend_total.append((ended - started) * 1000)
                raw_first.append(first_raw)
                raw_total.append(total_raw)
        raw_client.close()
        for name, samples in (
            ("exec_first_byte_backend_ms", backend_first),
            ("exec_first_byte_raw_ms", raw_first),
            ("exec_total_backend_ms", backend_total),
            ("exec_total_raw_ms", raw_total),
        ):
            figures.update(bench.p50_p99(name + "_{p}", samples, digits=1))
        figures["exec_ratio"] = round(
            figures["exec_first_byte_backend_ms_p50"] / figures["exec_first_byte_raw_ms_p50"], 2
        )
        figures["exec_total_ratio"] = round(figures["exec_total_backend_ms_p50"] / figures["exec_total_raw_ms_p50"], 2)

        started = time.perf_counter()
        states[0] = backend.reset(spec=sandboxes.specs[0], state=states[0], progress=lambda message: None)
        figures["reset_s"] = round(time.perf_counter() - started, 3)
    finally:
        sandboxes.destroy()
        started = time.perf_counter()
        for state in states:
            backend.kube.namespace_wait_gone(namespace=state["namespace"], timeout=180)
        figures["namespaces_gone_s"] = round(time.perf_counter() - started, 3)
    figures["load_avg_after"] = bench.load_average()
    bench.figures_print(figures)


if __name__ == "__main__":
    main()
