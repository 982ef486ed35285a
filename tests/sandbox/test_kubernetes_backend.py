"""KubernetesBackend on the real test cluster (tests/cluster/): namespaces, workspace pods, the deck's k8s/.

Two attendees each get a namespace with a workspace pod and apply the repo's k8s/ manifests through
`apply` runs, as the `!yaml` blocks of the deck do. What they see is checked from inside their
workspaces (kubectl with the pod's ServiceAccount, curl through the app's Service), with the
admin kubeconfig only to diagnose failures. Every namespace made here carries the label
podium.talk=pytest-k8s-backend and is deleted at the end of the module, pass or fail; the
material images are built on the host engine, which is the cluster node's engine here.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import override_settings
from django.utils import timezone

from sandbox import kube_access
from sandbox.backends.base import SandboxSpec
from sandbox.backends.kubernetes import KubernetesBackend
from sandbox.errors import SandboxError, SandboxUnavailable
from tests.cluster.helpers import Cluster, cluster_wait_for
from tests.docker_helpers import docker_remove_labelled, material_images_on_host
from tests.sandbox.backend_runs import Ran, run

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
TALK = "pytest-k8s-backend"
# Privileged containers fail on these machines (as `docker run --privileged` does); a CI whose cluster
# allows them sets PODIUM_SANDBOX_SECURITY and gets what it asked for.
SECURITY = os.environ.get("PODIUM_SANDBOX_SECURITY") or "capabilities"
MANIFESTS = ["db-config.yaml", "db-secret.yaml", "mysql-deployment.yaml", "mysql-service.yaml"] + [
    "12factor-deployment.yaml",
    "12factor-service.yaml",
    "12factor-dbinit-job.yaml",
]
SMALL_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: main
          image: podium-standin/debian:bookworm
          imagePullPolicy: IfNotPresent
          command: ["sleep", "infinity"]
          resources:
            limits: {{cpu: "{cpu}", memory: 64Mi}}
"""


@dataclass
class Attendee:
    spec: SandboxSpec
    state: dict

    @property
    def namespace(self) -> str:
        return self.state["namespace"]


def spec_new() -> SandboxSpec:
    return SandboxSpec(sandbox_id=uuid.uuid4().hex, attendee_id=uuid.uuid4().hex, talk=TALK)


def namespace_gone(admin: Cluster, namespace: str) -> bool:
    return admin.kubectl("get", "namespace", namespace, "--ignore-not-found", "-o", "name") == ""


# --- fixtures ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prepared(cluster: Cluster, docker_client, base_images) -> Iterator[Cluster]:
    """Images on the node's engine, settings pointing at the test cluster; every namespace of TALK deleted after."""
    from sandbox.registry import registry_fill
    from sandbox.workspace.build import workspace_image_build

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
    return KubernetesBackend()


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
        } <= set(names)
        pod = prepared.kubectl_json("-n", attendee.namespace, "get", "pod", "workspace")
        assert pod["status"]["phase"] == "Running"
        assert [c["name"] for c in pod["spec"]["containers"]] == ["workspace", "docker"]


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


# --- the deck's k8s/ ---------------------------------------------------------------------------------------


def test_apply_shows_what_each_manifest_created(applied) -> None:
    for namespace, runs in applied.items():
        outputs = [ran.output.strip() for ran in runs]
        assert all(ran.result.exit_code == 0 for ran in runs), (namespace, outputs)
        assert outputs == [
            "configmap/db-config created",
            "secret/db-secret created",
            "deployment.apps/mysql created",
            "service/mysql created",
            "deployment.apps/12factor created",
            "service/twelvefactor created",
            "job.batch/12factor-dbinit created",
        ]


def test_users_answers_through_the_apps_service_with_the_rows_dbinit_loaded(backend, pair, applied) -> None:
    for attendee in pair:
        answer = run(backend, attendee.state, "curl -sS --max-time 10 http://twelvefactor:5000/users")
        rows = run(
            backend,
            attendee.state,
            "kubectl exec deploy/mysql -- sh -c "
            '\'mysql -uroot -p"$MYSQL_ROOT_PASSWORD" -N -B 12factor -e "SELECT username FROM users ORDER BY id"\'',
        )

        assert answer.result.exit_code == 0, answer.output
        users = json.loads(answer.stream("stdout"))
        names = rows.stream("stdout").split()
        assert names, rows.output
        assert [user["name"] for user in users] == names


def test_each_attendee_sees_only_their_own_pods(backend, pair, applied, prepared) -> None:
    listing = ["get", "pods", "-o", "custom-columns=NAME:.metadata.name,UID:.metadata.uid", "--no-headers"]
    for attendee, other in (pair, pair[::-1]):
        seen = run(backend, attendee.state, "kubectl " + " ".join(listing)).stream("stdout").splitlines()
        theirs = prepared.kubectl("-n", attendee.namespace, *listing).splitlines()
        others = prepared.kubectl("-n", other.namespace, *listing).splitlines()

        assert sorted(seen) == sorted(theirs)
        assert len([line for line in seen if line.startswith("12factor-")]) == 3  # 2 replicas + the dbinit pod
        assert not {line.split()[1] for line in seen} & {line.split()[1] for line in others}
        everywhere = run(backend, attendee.state, "kubectl get pods --all-namespaces")
        assert everywhere.result.exit_code != 0
        assert "Forbidden" in everywhere.output
    # What a learner types first: every kind `get all` lists is readable in their own namespace.
    everything = run(backend, pair[0].state, "kubectl get all")
    assert everything.result.exit_code == 0, everything.output
    assert "deployment.apps/12factor" in everything.output and "service/twelvefactor" in everything.output


def test_rbac_stops_one_attendee_from_reading_the_others_namespace(backend, pair) -> None:
    first, second = pair
    token = "/var/run/secrets/kubernetes.io/serviceaccount"

    listed = run(backend, first.state, f"kubectl get pods -n {second.namespace}")
    raw = run(
        backend,
        first.state,
        f"curl -sS -o /dev/null -w '%{{http_code}}\\n' --cacert {token}/ca.crt "
        f'-H "Authorization: Bearer $(cat {token}/token)" '
        f"https://kubernetes.default.svc/api/v1/namespaces/{second.namespace}/secrets",
    )
    foreign = run(
        backend,
        first.state,
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: intruder\n  namespace: {second.namespace}\n",
        kind="apply",
    )

    assert listed.result.exit_code == 1
    assert "Error from server (Forbidden)" in listed.output
    assert f'cannot list resource "pods" in API group "" in the namespace "{second.namespace}"' in listed.output
    assert raw.stream("stdout") == "403\n"
    assert foreign.result.exit_code != 0
    assert "Forbidden" in foreign.output


def test_quota_refuses_a_deployment_too_big_and_the_attendee_reads_why(backend, pair, applied) -> None:
    first, _ = pair

    ran = run(backend, first.state, SMALL_DEPLOYMENT.format(name="greedy", cpu="5"), kind="apply")
    pods = run(backend, first.state, "kubectl get pods -l app=greedy -o name")
    run(backend, first.state, "kubectl delete deployment greedy")

    assert ran.result.exit_code == 0  # the Deployment itself is accepted; its pods are not
    assert "deployment.apps/greedy created" in ran.stream("stdout")
    refusal = ran.stream("stderr")
    assert "Kubernetes did not start the pods of replicaset/greedy-" in refusal
    assert "exceeded quota: podium-quota" in refusal
    assert "limits.cpu" in refusal
    assert pods.stream("stdout") == ""


def test_list_managed_finds_both_namespaces_by_their_labels(backend, pair) -> None:
    found = {item.sandbox_id: item.state for item in backend.list_managed()}

    for attendee in pair:
        assert found[attendee.spec.sandbox_id]["namespace"] == attendee.namespace


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
    state = {"namespace": kube_access.namespace_name_for(spec.sandbox_id)}
    refused: SandboxUnavailable | None = None
    try:
        with override_settings(PODIUM_SANDBOX_SECURITY="privileged", PODIUM_K8S_TIMEOUT=90):
            try:
                state = backend.ensure(spec=spec, state={}, progress=lambda message: None)
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
    with override_settings(PODIUM_K8S_DOCKER=False):
        state = backend.ensure(spec=spec, state={}, progress=lambda message: None)
    try:
        assert state["docker"] is False
        with pytest.raises(SandboxError) as raised:
            run(backend, state, "FROM python:3.11-slim\n", kind="build")
        assert "without a Docker engine" in raised.value.user_message
        assert run(backend, state, "kubectl get pods -o name").stream("stdout") == "pod/workspace\n"
    finally:
        backend.destroy(state=state)


# --- the Docker backend's half -------------------------------------------------------------------------------


@pytest.mark.docker
def test_docker_workspace_gets_a_kubeconfig_for_its_own_namespace_only(prepared, docker_client) -> None:
    from sandbox.backends.docker import DockerBackend

    docker_backend = DockerBackend()
    spec = spec_new()
    state = docker_backend.ensure(spec=spec, state={}, progress=lambda message: None)
    try:
        namespace = state["namespace"]
        own = run(docker_backend, state, "kubectl get pods")
        system = run(docker_backend, state, "kubectl get pods -n kube-system")
        applied = run(docker_backend, state, (ROOT / "k8s" / "db-config.yaml").read_text(), kind="apply")

        assert own.result.exit_code == 0, own.output
        assert f"No resources found in {namespace} namespace." in own.output
        assert system.result.exit_code == 1
        assert "Error from server (Forbidden)" in system.output
        assert f'User "system:serviceaccount:{namespace}:workspace" cannot list resource "pods"' in system.output
        assert applied.stream("stdout") == "configmap/db-config created\n"
        assert prepared.kubectl("-n", namespace, "get", "configmap", "db-config", "-o", "name") == (
            "configmap/db-config\n"
        )
    finally:
        docker_backend.destroy(state=state)
    assert docker_client.containers.list(all=True, filters={"label": f"podium.sandbox={spec.sandbox_id}"}) == []
    cluster_wait_for(
        lambda: namespace_gone(prepared, state["namespace"]),
        what=f"namespace {state['namespace']} being deleted with the Docker sandbox",
        timeout=240,
    )
