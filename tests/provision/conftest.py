"""Fixtures of the network isolation tests: the firewall installed on this host, two attendees' sandboxes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from django.test import override_settings

from provision.firewall import firewall_apply, firewall_installed, firewall_remove
from sandbox.backends.config import DockerConfig
from sandbox.backends.docker import DockerBackend
from tests.docker_helpers import docker_remove_labelled
from tests.provision.isolation_helpers import (
    INNER_IMAGE,
    INSTANCE,
    KUBE_API_PORT,
    SECURITY,
    TALK,
    Host,
    Sandbox,
    run,
    sandbox_new,
    tcp_server,
)


@pytest.fixture(scope="module")
def prepared(docker_client, base_images) -> Iterator[None]:
    """Workspace image built, local mirror filled, this module's settings; its sandboxes removed after."""
    from provision.registry import registry_fill
    from provision.workspace.build import workspace_image_build

    with override_settings(PODIUM_SANDBOX_SECURITY=SECURITY, PODIUM_INSTANCE=INSTANCE):
        workspace_image_build(progress=print)
        registry_fill(progress=print)
        try:
            yield
        finally:
            docker_remove_labelled(docker_client, label=f"podium.talk={TALK}")


@pytest.fixture(scope="module")
def host(prepared) -> Iterator[Host]:
    """The docker bridge's gateway and the test's own servers on the host."""
    from provision.registry import registry_address

    with tcp_server("0.0.0.0") as everywhere, tcp_server("127.0.0.1") as loopback:
        yield Host(
            bridge_gateway=registry_address().rsplit(":", 1)[0],
            everywhere_port=everywhere,
            loopback_port=loopback,
        )


@pytest.fixture(scope="module")
def firewall(host, tmp_path_factory) -> Iterator[Path]:
    """The rules `sandbox prepare` installs, with the Kubernetes API on the bridge gateway allowed; yields the
    kubeconfig naming that API server."""
    kubeconfig = Path(tmp_path_factory.mktemp("kube")) / "config"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
        f"clusters:\n- name: test\n  cluster: {{server: 'https://{host.bridge_gateway}:{KUBE_API_PORT}'}}\n"
        "contexts:\n- name: test\n  context: {cluster: test, user: test}\n"
        "users:\n- name: test\n  user: {token: test}\n"
    )
    installed_before = firewall_installed()
    with override_settings(PODIUM_KUBECONFIG=str(kubeconfig), PODIUM_K8S_SERVER=""):
        firewall_apply(progress=print)
    try:
        yield kubeconfig
    finally:
        if not installed_before:
            firewall_remove(progress=print)


@pytest.fixture(scope="module")
def backend(prepared) -> DockerBackend:
    return DockerBackend(config=replace(DockerConfig.from_settings(), security=SECURITY, instance=INSTANCE))


@pytest.fixture(scope="module")
def sandbox_a(backend, firewall, docker_client) -> Iterator[Sandbox]:
    sandbox = sandbox_new(backend, docker_client)
    yield sandbox
    backend.destroy(state=sandbox.state)


@pytest.fixture(scope="module")
def sandbox_b(backend, firewall, docker_client) -> Iterator[Sandbox]:
    """Attendee B's sandbox, serving on :8080 (a detached process) and :8081 (a container of its inner engine).

    In capabilities mode they listen on B's workspace address; in userns mode in the network namespace of
    B's engine (slirp4netns, no port forwarded), which B's workspace address does not reach at all."""
    sandbox = sandbox_new(backend, docker_client)
    code, output = run(
        backend,
        sandbox,
        "(setsid python3 -m http.server 8080 >/dev/null 2>&1 &)\n"
        f"docker run -d --name web -p 8081:8000 {INNER_IMAGE} python -m http.server 8000\n"
        "for _ in $(seq 100); do\n"
        "  curl -fs -o /dev/null --max-time 1 http://127.0.0.1:8080/ &&"
        " curl -fs -o /dev/null --max-time 1 http://127.0.0.1:8081/ && exit 0\n"
        "  sleep 0.2\ndone\nexit 1\n",
    )
    assert code == 0, f"B's servers did not answer inside B:\n{output}"
    yield sandbox
    backend.destroy(state=sandbox.state)
