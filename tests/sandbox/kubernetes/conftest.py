"""Fixtures of the KubernetesBackend tests: images on the test cluster's node, the backend, two attendees."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from django.test import override_settings

from sandbox.backends.config import KubernetesConfig
from sandbox.backends.kubernetes import KubernetesBackend
from tests.cluster.helpers import Cluster, cluster_wait_for
from tests.docker_helpers import docker_remove_labelled, material_images_on_host
from tests.sandbox.backend_runs import Ran, run
from tests.sandbox.kubernetes.helpers import MANIFESTS, ROOT, SECURITY, TALK, Attendee, spec_new


@pytest.fixture(scope="module")
def prepared(cluster: Cluster, docker_client, base_images) -> Iterator[Cluster]:
    """Images on the node's engine, settings pointing at the test cluster; every namespace of TALK deleted after."""
    from provision.registry import registry_fill
    from provision.workspace.build import workspace_image_build

    workspace_image_build(progress=print)
    registry_fill(progress=print)
    material_images_on_host(docker_client, base_images)
    with override_settings(
        PODIUM_KUBECONFIG=str(cluster.kubeconfig), PODIUM_SANDBOX_SECURITY=SECURITY, PODIUM_K8S_DOCKER=True
    ):
        try:
            yield cluster
        finally:
            cluster.kubectl("delete", "namespace", "-l", f"podium.talk={TALK}", "--wait=false", check=False)
            docker_remove_labelled(docker_client, label=f"podium.talk={TALK}")
            cluster_wait_for(
                lambda: cluster.kubectl("get", "namespace", "-l", f"podium.talk={TALK}", "-o", "name") == "",
                what=f"deleting every namespace labelled podium.talk={TALK}",
                timeout=180,
            )


@pytest.fixture(scope="module")
def backend(prepared) -> KubernetesBackend:
    return KubernetesBackend(config=KubernetesConfig.from_settings())


@pytest.fixture(scope="module")
def pair(backend) -> Iterator[tuple[Attendee, Attendee]]:
    """Two attendees' sandboxes, made at the same time as in a room (each from its own thread)."""
    specs = [spec_new(), spec_new()]
    states: dict[int, dict] = {}
    errors: list[BaseException] = []

    def make(index: int) -> None:
        try:
            states[index] = backend.ensure(spec=specs[index], state={}, progress=lambda message: None)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=make, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert not errors, errors
        yield Attendee(specs[0], states[0]), Attendee(specs[1], states[1])
    finally:
        for state in states.values():
            backend.destroy(state=state)


@pytest.fixture(scope="module")
def applied(backend, pair, prepared) -> dict[str, list[Ran]]:
    """Each attendee applies every manifest of k8s/ as one `apply` run, then waits for it to be up."""
    outputs: dict[str, list[Ran]] = {}
    for attendee in pair:
        outputs[attendee.namespace] = [
            run(backend, attendee.state, (ROOT / "k8s" / name).read_text(), kind="apply") for name in MANIFESTS
        ]
    for attendee in pair:
        waited = run(
            backend,
            attendee.state,
            "kubectl wait --for=condition=complete job/12factor-dbinit --timeout=400s && "
            "kubectl wait --for=condition=available deployment/mysql deployment/12factor --timeout=200s",
            timeout=650,
        )
        if waited.result.exit_code != 0:
            pytest.fail(
                f"the material did not come up in {attendee.namespace}:\n{waited.output}\n"
                + prepared.kubectl("-n", attendee.namespace, "get", "all,events", check=False),
                pytrace=False,
            )
    return outputs


@pytest.fixture
def make_sandbox(backend) -> Iterator[Callable[[], Attendee]]:
    """Fresh sandboxes for one test; destroyed afterwards."""
    made: list[Attendee] = []

    def make() -> Attendee:
        spec = spec_new()
        attendee = Attendee(spec, backend.ensure(spec=spec, state={}, progress=lambda message: None))
        made.append(attendee)
        return attendee

    yield make
    for attendee in made:
        backend.destroy(state=attendee.state)
