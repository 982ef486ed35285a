"""KubernetesBackend against the test cluster: a namespace and a workspace pod per attendee.

Every namespace made here carries the label podium.talk=pytest-k8s-backend and is deleted after the
module (conftest.py). Namespaces and runs, reset and reaping, and what this cluster allows; the deck's
k8s/ manifests and the Docker backend's half are in test_kubernetes_backend_deck.py.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from datetime import timedelta

import pytest
from django.utils import timezone

from sandbox.backends.kubernetes import KubernetesBackend
from sandbox.errors import SandboxError, SandboxUnavailable
from tests.cluster.helpers import cluster_wait_for
from tests.sandbox.backend_runs import run
from tests.sandbox.kubernetes.helpers import (
    SMALL_DEPLOYMENT,
    TALK,
    namespace_gone,
    spec_new,
)

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


# --- namespaces and runs ----------------------------------------------------------------------------------


def test_two_attendees_get_two_namespaces_with_their_guard_rails(pair, prepared) -> None:
    first, second = pair

    assert first.namespace != second.namespace
    for attendee in pair:
        namespace = prepared.kubectl_json("get", "namespace", attendee.namespace)
        assert namespace["metadata"]["labels"]["podium.sandbox"] == attendee.spec.sandbox_id
        assert namespace["metadata"]["labels"]["podium.attendee"] == attendee.spec.attendee_id
        assert namespace["metadata"]["labels"]["podium.talk"] == TALK
        names = prepared.kubectl(
            "-n", attendee.namespace, "get", "resourcequota,limitrange,serviceaccount,role,rolebinding,networkpolicy",
            "-o", "name",
        ).split()  # fmt: skip
        assert {
            "resourcequota/podium-quota",
            "limitrange/podium-limits",
            "serviceaccount/workspace",
            "role.rbac.authorization.k8s.io/workspace",
            "rolebinding.rbac.authorization.k8s.io/workspace",
            "networkpolicy.networking.k8s.io/podium-isolation",
            "rolebinding.rbac.authorization.k8s.io/podium-pod-security",
        } <= set(names)
        # The workspace pod lives apart, named after the namespace, with no token of its own.
        assert prepared.kubectl("-n", attendee.namespace, "get", "pods", "-o", "name") == ""
        pod = prepared.kubectl_json("-n", "podium-workspaces", "get", "pod", attendee.namespace)
        assert pod["status"]["phase"] == "Running"
        assert [c["name"] for c in pod["spec"]["containers"]] == ["workspace", "docker"]
        assert (pod["spec"]["serviceAccountName"], pod["spec"]["automountServiceAccountToken"]) == (
            "podium-workspace",
            False,
        )


def test_ensure_of_a_ready_sandbox_returns_its_state(backend, pair) -> None:
    first, _ = pair

    assert backend.ensure(spec=first.spec, state=first.state, progress=lambda message: None) == first.state
    assert backend.poll(state=first.state) is None


def test_shell_run_streams_both_streams_in_order_with_the_exit_code(backend, pair) -> None:
    first, _ = pair
    # Written apart in time: the exec API carries stdout and stderr as separate streams between the
    # kubelet and the API server, so only writes a moment apart keep their order across streams.
    ran = run(backend, first.state, "echo one; sleep 0.3; echo two >&2; sleep 0.3; echo three; exit 3")

    assert ran.result.exit_code == 3
    assert [(stream, data.decode()) for stream, data in ran.chunks] == [
        ("stdout", "one\n"),
        ("stderr", "two\n"),
        ("stdout", "three\n"),
    ]


def test_cd_and_export_hold_between_runs_and_python_runs(backend, pair) -> None:
    first, _ = pair
    run(backend, first.state, "mkdir -p /tmp/k8s-cwd && cd /tmp/k8s-cwd && export GREETING=hello-k8s")

    later = run(backend, first.state, 'pwd; echo "$GREETING"')
    python = run(backend, first.state, "import os\nprint(os.getcwd(), 6 * 7)", kind="python")

    assert later.stream("stdout") == "/tmp/k8s-cwd\nhello-k8s\n"
    assert python.stream("stdout") == "/tmp/k8s-cwd 42\n"
    run(backend, first.state, "cd /workshop; unset GREETING")


def test_code_of_the_largest_allowed_size_runs(backend, pair) -> None:
    first, _ = pair
    code = "text = '" + "x" * (64 * 1024 - 40) + "'\nprint(len(text))\n"

    ran = run(backend, first.state, code, kind="python")

    assert ran.result.exit_code == 0, ran.output
    assert ran.stream("stdout") == f"{64 * 1024 - 40}\n"


def test_output_past_the_cap_is_dropped_and_the_run_still_ends_normally(backend, pair) -> None:
    first, _ = pair
    total = sum(len(str(number)) + 1 for number in range(1, 300_001))

    ran = run(backend, first.state, "seq 1 300000", output_cap=100_000)

    assert ran.result.exit_code == 0
    assert ran.result.truncated
    assert ran.result.output_bytes == total
    assert len(ran.output) == 100_000
    assert ran.output.startswith("1\n2\n3\n")


def test_cancel_kills_the_run_and_everything_it_started(backend, pair) -> None:
    first, _ = pair
    seen = threading.Event()

    ran = run(
        backend,
        first.state,
        "sleep 401 & echo started; sleep 402",
        should_stop=seen.is_set,
        on_output=lambda stream, data: seen.set(),
    )

    assert ran.result.cancelled and not ran.result.timed_out
    assert ran.result.exit_code != 0
    left = run(backend, first.state, "pgrep -f 'sleep 40[12]' || echo none")
    assert left.stream("stdout") == "none\n"


def test_cancel_from_another_thread_and_timeout_both_kill(backend, pair) -> None:
    first, _ = pair
    run_id = uuid.uuid4().hex
    stopped = threading.Event()

    def cancel_soon() -> None:
        while not stopped.is_set() and not backend.cancel(state=first.state, run_id=run_id):
            stopped.wait(0.2)

    canceller = threading.Thread(target=cancel_soon)
    canceller.start()
    try:
        cancelled = run(backend, first.state, "sleep 403", run_id=run_id)
    finally:
        stopped.set()
        canceller.join()
    timed_out = run(backend, first.state, "sleep 404", timeout=2)

    assert cancelled.result.exit_code == 137  # SIGKILL, from the second exec
    assert timed_out.result.timed_out
    left = run(backend, first.state, "pgrep -f 'sleep 40[34]' || echo none")
    assert left.stream("stdout") == "none\n"


def test_build_block_runs_in_the_docker_sidecar(backend, pair) -> None:
    first, _ = pair
    dockerfile = "FROM python:3.11-slim\nRUN python3 -c \"print('built in the sidecar')\"\n"

    built = run(backend, first.state, dockerfile, kind="build", timeout=300)
    listed = run(backend, first.state, "docker images --format '{{.Repository}}:{{.Tag}}' | sort")

    assert built.result.exit_code == 0, built.output
    assert "built in the sidecar" in built.output
    assert "python:3.11-slim" in listed.stream("stdout")  # pulled through the local mirror


# --- reset and reaping ---------------------------------------------------------------------------------------


def test_reset_deletes_the_namespace_with_everything_and_makes_a_fresh_one(backend, make_sandbox, prepared) -> None:
    attendee = make_sandbox()
    run(backend, attendee.state, SMALL_DEPLOYMENT.format(name="leftover", cpu="100m"), kind="apply")
    run(backend, attendee.state, "cd /tmp && kubectl create configmap note --from-literal=a=b")
    old_uid = prepared.kubectl_json("get", "namespace", attendee.namespace)["metadata"]["uid"]

    fresh = backend.reset(spec=attendee.spec, state=attendee.state, progress=lambda message: None)
    attendee.state = fresh

    assert fresh["namespace"] == attendee.namespace
    assert prepared.kubectl_json("get", "namespace", attendee.namespace)["metadata"]["uid"] != old_uid
    left = run(backend, fresh, "kubectl get deployments,configmaps -o name; pwd")
    assert "leftover" not in left.output and "configmap/note" not in left.output
    assert left.stream("stdout").strip().endswith("/workshop")


@pytest.mark.django_db
def test_culling_an_idle_sandbox_deletes_its_namespace(backend, make_sandbox, prepared) -> None:
    from sandbox.cull import sandbox_cull
    from sandbox.models import Attendee as AttendeeRow
    from sandbox.models import Sandbox

    attendee = make_sandbox()
    run(backend, attendee.state, SMALL_DEPLOYMENT.format(name="idle", cpu="100m"), kind="apply")
    row = Sandbox.objects.create(
        attendee=AttendeeRow.objects.create(deck_slug=TALK, session_key="cull"),
        backend=backend.name,
        state=attendee.state,
        status=Sandbox.Status.READY,
    )
    Sandbox.objects.filter(id=row.id).update(last_used_at=timezone.now() - timedelta(hours=3))

    report = sandbox_cull(idle_seconds=3600, backend=backend)

    assert report.culled == [row.id.hex]
    assert backend.poll(state=attendee.state) is not None  # not running: terminating, then missing
    cluster_wait_for(
        lambda: namespace_gone(prepared, attendee.namespace),
        what=f"namespace {attendee.namespace} being deleted with its Deployment",
        timeout=240,
    )


# --- what this cluster allows --------------------------------------------------------------------------------


def test_privileged_docker_sidecar_works_or_is_refused_with_a_sentence(backend, prepared) -> None:
    spec = spec_new()
    state = backend.state_by_name(spec=spec)
    privileged = KubernetesBackend(
        config=replace(backend.config, security="privileged", cluster=replace(backend.config.cluster, timeout=90))
    )
    refused: SandboxUnavailable | None = None
    try:
        try:
            state = privileged.ensure(spec=spec, state={}, progress=lambda message: None)
        except SandboxUnavailable as error:
            refused = error
        if refused is None:
            assert run(backend, state, "docker info --format '{{.ServerVersion}}'").result.exit_code == 0
        else:
            # These machines lack CAP_SYS_RESOURCE: runc cannot start privileged containers.
            assert "PODIUM_SANDBOX_SECURITY=privileged" in refused.user_message
            assert "capabilities" in refused.user_message
    finally:
        backend.destroy(state=state)


def test_a_build_block_without_a_docker_engine_says_so_before_running(backend, prepared) -> None:
    spec = spec_new()
    without_docker = KubernetesBackend(config=replace(backend.config, docker=False))
    state = without_docker.ensure(spec=spec, state={}, progress=lambda message: None)
    try:
        assert state["docker"] is False
        with pytest.raises(SandboxError) as raised:
            run(backend, state, "FROM python:3.11-slim\n", kind="build")
        assert "without a Docker engine" in raised.value.user_message
        listed = run(backend, state, "kubectl get pods -o name")
        assert (listed.result.exit_code, listed.stream("stdout")) == (0, "")  # the workspace pod is not in it
    finally:
        backend.destroy(state=state)


def test_describe_says_how_to_enter_and_remove_a_sandbox(backend) -> None:
    state = {"namespace": "podium-0123456789ab", "pod": "podium-0123456789ab", "docker": True}
    about = backend.describe(state=state)
    assert about.enter == "kubectl -n podium-workspaces exec -it podium-0123456789ab -- bash"
    assert about.remove == (
        "kubectl -n podium-workspaces delete pod,secret podium-0123456789ab; "
        "kubectl delete namespace podium-0123456789ab"
    )
    assert (about.namespace, about.engine) == ("podium-0123456789ab", True)
    assert backend.describe(state={**state, "docker": False}).engine is False
