"""The shipped deck is a test: every runnable block and check passes in order on a fresh sandbox.

Runs `manage.py deck rehearse` for real: once on the Docker backend with the test
cluster configured (the attendee's workspace gets its own namespace, so the
Kubernetes half runs too), once on the Kubernetes backend (workspace pod with a
Docker engine beside it). No step may be skipped: a skip would hide a broken slide. The Docker run is
also compared with the deck's committed record (`--compare`): it must show no drift.
"""

from __future__ import annotations

import os
import re

import pytest

from tests.conftest import ROOT
from tests.docker_helpers import material_images_on_host
from tests.sandbox.runs_support import rehearse

DECK = ROOT / "slides" / "intro-docker-kubernetes.md"
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed, (\d+) skipped", re.MULTILINE)

pytestmark = [pytest.mark.docker, pytest.mark.cluster, pytest.mark.slow]


@pytest.fixture
def shipped_rehearsal(settings, docker_client, base_images, cluster):  # noqa: F811 - `cluster` is the fixture
    """The deck's images on the node, the test cluster configured; rehearsal leftovers removed afterwards."""
    from tests.docker_helpers import docker_remove_labelled

    material_images_on_host(docker_client, base_images)
    settings.PODIUM_KUBECONFIG = str(cluster.kubeconfig)
    settings.PODIUM_K8S_DOCKER = True
    yield
    label = f"podium.instance={settings.PODIUM_INSTANCE}-rehearsal"
    cluster.kubectl("delete", "namespace", "-l", label, "--wait=false", check=False)
    docker_remove_labelled(docker_client, label=label)


def assert_all_passed(status: int, out: str) -> None:
    summary = SUMMARY.search(out)
    assert summary, out
    passed, failed, skipped = map(int, summary.groups())
    assert (status, failed, skipped) == (0, 0, 0), out
    assert passed >= 30, out  # the whole story: Docker, Compose, Kubernetes, scaling, healing, and their checks


@pytest.mark.parametrize("backend", ["docker", "kubernetes"])
def test_the_shipped_deck_rehearses_with_no_failure_and_no_skip(settings, shipped_rehearsal, backend):
    # Docker: the default mode, userns. Kubernetes: its Docker sidecar has no userns mode, and plain
    # privileged pods fail on these machines (as `docker run --privileged` does).
    settings.PODIUM_SANDBOX_SECURITY = (
        (os.environ.get("PODIUM_SANDBOX_SECURITY") or "userns") if backend == "docker" else "capabilities"
    )
    # On Docker (the backend its record was made on), the rehearsal is also compared with the committed
    # record (slides/intro-docker-kubernetes.recorded.json): a deck or image that changed shows as drift.
    compare = ["--compare"] if backend == "docker" else []
    status, out, _ = rehearse(DECK, "--backend", backend, *compare)
    assert_all_passed(status, out)
    if compare:
        assert re.search(r"^No drift: \d+ steps match the record of", out, re.MULTILINE), out
