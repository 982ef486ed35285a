"""KubernetesBackend against the test cluster: the deck's k8s/ manifests run in two attendees' namespaces,
and a Docker workspace gets a kubeconfig for its own namespace only."""

from __future__ import annotations

import json

import pytest

from sandbox.backends.config import DockerConfig
from tests.cluster.helpers import cluster_wait_for
from tests.sandbox.backend_runs import run
from tests.sandbox.kubernetes.helpers import (
    ROOT,
    SMALL_DEPLOYMENT,
    namespace_gone,
    spec_new,
)

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


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
    # The only credential in the workspace is the attendee namespace's kubeconfig: no pod token is mounted.
    view = "kubectl config view --raw -o jsonpath="

    listed = run(backend, first.state, f"kubectl get pods -n {second.namespace}")
    no_pod_token = run(backend, first.state, "test ! -e /var/run/secrets/kubernetes.io/serviceaccount/token")
    raw = run(
        backend,
        first.state,
        f"{view}'{{.clusters[0].cluster.certificate-authority-data}}' | base64 -d > /tmp/ca.crt && "
        f"curl -sS -o /dev/null -w '%{{http_code}}\\n' --cacert /tmp/ca.crt "
        f"-H \"Authorization: Bearer $({view}'{{.users[0].user.token}}')\" "
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
    assert no_pod_token.result.exit_code == 0
    assert raw.stream("stdout") == "403\n", raw.output
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


# --- the Docker backend's half -------------------------------------------------------------------------------


@pytest.mark.docker
def test_docker_workspace_gets_a_kubeconfig_for_its_own_namespace_only(prepared, docker_client) -> None:
    from sandbox.backends.docker import DockerBackend

    docker_backend = DockerBackend(config=DockerConfig.from_settings())
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
