"""The terminal panel on the Kubernetes backend, on the test cluster: a real daphne, headless Chromium.

The same flow as test_terminal.py's first test: a Run moves to /tmp, the terminal opens there, `echo
$((6*7))` prints 42, a narrower window narrows `tput cols`, a reload finds the same shell and its
scrollback. Every namespace the server made is deleted afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.test import override_settings

from tests.browser.conftest import PodiumServer
from tests.browser.run_deck import docker_podium
from tests.browser.terminal_page import DECKS, SLUG, people, terminal_flow

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.cluster, pytest.mark.slow]


@pytest.fixture(scope="module")
def terminal_server(tmp_path_factory, docker_client, cluster) -> Iterator[PodiumServer]:
    from provision.registry import registry_fill
    from provision.workspace.build import workspace_image_build
    from sandbox.backends import backend_build

    workspace_image_build(progress=print)
    registry_fill(progress=print)
    security = (os.environ.get("PODIUM_SANDBOX_SECURITY") or "userns").replace("userns", "") or "capabilities"
    extra = {
        "PODIUM_SANDBOX_BACKEND": "kubernetes",
        "PODIUM_KUBECONFIG": str(cluster.kubeconfig),
        "PODIUM_SANDBOX_SECURITY": security,
        "PODIUM_K8S_DOCKER": "1",
    }
    tmp = tmp_path_factory.mktemp("terminal-k8s-live")
    with docker_podium(
        tmp, docker_client, name="browser-terminal-k8s", slides=DECKS, slug=SLUG, extra_env=extra
    ) as server:
        try:
            yield server
        finally:
            with override_settings(
                PODIUM_KUBECONFIG=str(cluster.kubeconfig), PODIUM_INSTANCE=server.env["PODIUM_INSTANCE"]
            ):
                backend = backend_build("kubernetes")
                for found in backend.list_managed():
                    backend.destroy(state=found.state)


def test_the_terminal_on_kubernetes_opens_where_runs_left_off_and_comes_back(chromium, terminal_server, artifacts_dir):
    with people(chromium) as person:
        terminal_flow(person(), terminal_server, artifacts_dir, "terminal-kubernetes")
