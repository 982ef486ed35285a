"""The pure builders of Kubernetes sandboxes: what Podium would send to the cluster, compared as dicts.

Also `sandbox kind-up`: the commands it would run, and its answer on a machine without `kind`.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from sandbox import kube_access
from sandbox.backends import kubernetes_spec as kspec
from sandbox.backends.base import RunRequest, SandboxSpec

SPEC = SandboxSpec(
    sandbox_id="0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    attendee_id="9a8b7c6d5e4f30211203f4e5d6c7b8a9",
    talk="intro-docker-kubernetes",
    instance="test",
)
NS = "podium-0f1e2d3c4b5a"
LABELS = {
    "podium.managed": "1",
    "podium.instance": "test",
    "podium.sandbox": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "podium.attendee": "9a8b7c6d5e4f30211203f4e5d6c7b8a9",
    "podium.talk": "intro-docker-kubernetes",
    "podium.backend": "kubernetes",
}


def test_namespace_is_the_prefix_and_twelve_characters_of_the_sandbox_id() -> None:
    assert kspec.namespace_name(sandbox_id=SPEC.sandbox_id) == NS
    assert kspec.namespace_name(sandbox_id="0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0", prefix="ws-") == "ws-0f1e2d3c4b5a"


@pytest.mark.parametrize("prefix", ["Podium-", "podium_", "x" * 60])
def test_a_prefix_that_makes_no_dns_label_is_refused_naming_the_setting(prefix: str) -> None:
    with pytest.raises(ValueError, match="PODIUM_K8S_NAMESPACE_PREFIX"):
        kspec.namespace_name(sandbox_id=SPEC.sandbox_id, prefix=prefix)


def test_label_values_are_cut_to_what_kubernetes_accepts() -> None:
    assert kspec.label_value("a talk/with spaces") == "a-talk-with-spaces"
    assert kspec.label_value("-" + "x" * 70) == "x" * 62
    assert kspec.managed_selector(instance="test", backend="docker") == (
        "podium.managed=1,podium.instance=test,podium.backend=docker"
    )


def test_namespace_carries_the_labels_and_refuses_privileged_pods_unless_its_workspace_needs_them() -> None:
    strict = kspec.namespace_object(spec=SPEC, name=NS, backend="docker", privileged_workspace=False)

    assert strict == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": NS,
            "labels": {**LABELS, "podium.backend": "docker", "pod-security.kubernetes.io/enforce": "baseline"},
            "annotations": {"podium/talk": SPEC.talk, "podium/attendee": SPEC.attendee_id},
        },
    }
    relaxed = kspec.namespace_object(spec=SPEC, name=NS, backend="kubernetes", privileged_workspace=True)
    assert relaxed["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"


def test_quota_bounds_cpu_memory_pods_and_opens_no_node_ports() -> None:
    limits = kspec.NamespaceLimits(cpu="4", memory="6Gi", pods=12)

    assert kspec.resource_quota(spec=SPEC, namespace=NS, backend="kubernetes", limits=limits) == {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "podium-quota", "namespace": NS, "labels": LABELS},
        "spec": {
            "hard": {
                "requests.cpu": "4",
                "limits.cpu": "4",
                "requests.memory": "6Gi",
                "limits.memory": "6Gi",
                "pods": "12",
                "services": "10",
                "services.nodeports": "0",
                "services.loadbalancers": "0",
                "persistentvolumeclaims": "5",
            }
        },
    }


def test_limit_range_gives_defaults_and_caps_one_container_at_the_quota() -> None:
    limits = kspec.NamespaceLimits(cpu="4", memory="6Gi", pods=12)

    assert kspec.limit_range(spec=SPEC, namespace=NS, backend="kubernetes", limits=limits) == {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": "podium-limits", "namespace": NS, "labels": LABELS},
        "spec": {
            "limits": [
                {
                    "type": "Container",
                    "default": {"cpu": "500m", "memory": "512Mi"},
                    "defaultRequest": {"cpu": "50m", "memory": "64Mi"},
                    "max": {"cpu": "4", "memory": "6Gi"},
                }
            ]
        },
    }


def test_role_is_namespaced_and_grants_nothing_about_rbac_or_the_guard_rails() -> None:
    role = kspec.role(spec=SPEC, namespace=NS, backend="kubernetes")
    binding = kspec.role_binding(spec=SPEC, namespace=NS, backend="kubernetes")

    assert role["kind"] == "Role" and role["metadata"]["namespace"] == NS
    granted = {
        (group, resource): set(rule["verbs"])
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    assert granted[("apps", "deployments")] >= {"create", "patch", "delete", "list"}
    assert granted[("", "pods/exec")] >= {"create"}
    assert granted[("", "configmaps")] >= {"create", "get"}
    assert granted[("batch", "jobs")] >= {"create"}
    for guard in [("", "resourcequotas"), ("", "limitranges"), ("networking.k8s.io", "networkpolicies")]:
        assert granted[guard] == {"get", "list", "watch"}
    assert granted[("", "replicationcontrollers")] == {"get", "list", "watch"}  # `kubectl get all` lists them
    assert not [key for key in granted if key[0] == "rbac.authorization.k8s.io" or key[1] == "namespaces"]
    assert binding == {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "workspace", "namespace": NS, "labels": LABELS},
        "subjects": [{"kind": "ServiceAccount", "name": "workspace", "namespace": NS}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "workspace"},
    }


def test_network_policy_lets_only_the_namespace_in() -> None:
    assert kspec.network_policy(spec=SPEC, namespace=NS, backend="kubernetes") == {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "podium-isolation", "namespace": NS, "labels": LABELS},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"podSelector": {}}]}]},
    }


def test_token_secret_asks_the_cluster_for_the_service_accounts_token() -> None:
    assert kspec.token_secret(spec=SPEC, namespace=NS, backend="kubernetes") == {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/service-account-token",
        "metadata": {
            "name": "workspace-token",
            "namespace": NS,
            "labels": LABELS,
            "annotations": {"kubernetes.io/service-account.name": "workspace"},
        },
    }


def test_namespace_objects_come_namespace_first_and_all_live_in_it() -> None:
    objects = kspec.namespace_objects(
        spec=SPEC, namespace=NS, backend="kubernetes", limits=kspec.NamespaceLimits(), privileged_workspace=True
    )

    assert [item["kind"] for item in objects] == [
        "Namespace",
        "ResourceQuota",
        "LimitRange",
        "ServiceAccount",
        "Secret",
        "Role",
        "RoleBinding",
        "NetworkPolicy",
    ]
    assert all(item["metadata"]["namespace"] == NS for item in objects[1:])


def test_workspace_pod_with_a_docker_sidecar_in_capabilities_mode() -> None:
    pod = kspec.workspace_pod(
        spec=SPEC,
        namespace=NS,
        image="podium/workspace:1",
        limits=kspec.WorkspaceLimits(memory="2g", cpus=1.5, pids=512, disk="10g"),
        security="capabilities",
        docker=True,
        registry_mirror="http://172.17.0.1:5000",
    )

    assert pod == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "workspace",
            "namespace": NS,
            "labels": {**LABELS, "app.kubernetes.io/name": "podium-workspace"},
            "annotations": {"container.apparmor.security.beta.kubernetes.io/docker": "unconfined"},
        },
        "spec": {
            "serviceAccountName": "workspace",
            "automountServiceAccountToken": True,
            "enableServiceLinks": False,
            "hostname": "workshop",
            "terminationGracePeriodSeconds": 5,
            "restartPolicy": "Always",
            "containers": [
                {
                    "name": "workspace",
                    "image": "podium/workspace:1",
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["/usr/bin/tini", "--", "sleep", "infinity"],
                    "workingDir": "/workshop",
                    "env": [
                        {"name": "PODIUM_NAMESPACE", "value": NS},
                        {"name": "DOCKER_HOST", "value": "unix:///run/podium-engine/docker.sock"},
                    ],
                    "resources": {
                        "requests": {"cpu": "100m", "memory": "128Mi"},
                        "limits": {"cpu": "1500m", "memory": "1Gi"},
                    },
                    "volumeMounts": [{"name": "engine-run", "mountPath": "/run/podium-engine"}],
                },
                {
                    "name": "docker",
                    "image": "podium/workspace:1",
                    "imagePullPolicy": "IfNotPresent",
                    "env": [
                        {"name": "PODIUM_REGISTRY_MIRROR", "value": "http://172.17.0.1:5000"},
                        {"name": "PODIUM_INSECURE_REGISTRY", "value": "172.17.0.1:5000"},
                        {"name": "PODIUM_PIDS_LIMIT", "value": "512"},
                    ],
                    "resources": {
                        "requests": {"cpu": "100m", "memory": "256Mi"},
                        "limits": {"cpu": "1500m", "memory": str(2 * 1024**3)},
                    },
                    "volumeMounts": [
                        {"name": "docker-data", "mountPath": "/var/lib/docker"},
                        {"name": "engine-run", "mountPath": "/run"},
                        {"name": "cgroup", "mountPath": "/sys/fs/cgroup"},
                    ],
                    "securityContext": {
                        "capabilities": {"add": ["ALL"], "drop": ["SYS_RESOURCE"]},
                        "allowPrivilegeEscalation": True,
                        "seccompProfile": {"type": "Unconfined"},
                    },
                },
            ],
            "volumes": [
                {"name": "docker-data", "emptyDir": {"sizeLimit": str(10 * 1024**3)}},
                {"name": "engine-run", "emptyDir": {}},
                {"name": "cgroup", "hostPath": {"path": "/sys/fs/cgroup", "type": "Directory"}},
            ],
        },
    }


def test_privileged_and_sysbox_sidecars_and_a_pod_without_docker() -> None:
    common = {"spec": SPEC, "namespace": NS, "image": "podium/workspace:1", "limits": kspec.WorkspaceLimits()}

    privileged = kspec.workspace_pod(**common, security="privileged", docker=True)
    sysbox = kspec.workspace_pod(**common, security="sysbox", docker=True)
    plain = kspec.workspace_pod(**common, security="privileged", docker=False)

    assert privileged["spec"]["containers"][1]["securityContext"] == {"privileged": True}
    assert "annotations" not in privileged["metadata"]
    assert [volume["name"] for volume in privileged["spec"]["volumes"]] == ["docker-data", "engine-run"]
    assert sysbox["spec"]["runtimeClassName"] == "sysbox-runc"
    assert "securityContext" not in sysbox["spec"]["containers"][1]
    assert sysbox["metadata"]["annotations"] == {"io.kubernetes.cri-o.userns-mode": "auto:size=65536"}
    assert [container["name"] for container in plain["spec"]["containers"]] == ["workspace"]
    assert plain["spec"]["containers"][0]["env"] == [{"name": "PODIUM_NAMESPACE", "value": NS}]
    assert "volumes" not in plain["spec"]
    with pytest.raises(ValueError, match="privileged, capabilities, sysbox"):
        kspec.workspace_pod(**common, security="root", docker=True)


def test_kubeconfig_reaches_only_the_namespace_with_the_service_account_token() -> None:
    assert kspec.service_account_kubeconfig(
        server="https://172.17.0.1:6443", ca_data="Q0E=", token="t0k3n", namespace=NS
    ) == {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "podium", "cluster": {"server": "https://172.17.0.1:6443", "certificate-authority-data": "Q0E="}}
        ],
        "users": [{"name": f"{NS}-workspace", "user": {"token": "t0k3n"}}],
        "contexts": [{"name": NS, "context": {"cluster": "podium", "user": f"{NS}-workspace", "namespace": NS}}],
        "current-context": NS,
        "preferences": {},
    }


def test_exec_command_hands_the_code_to_the_runner_through_env() -> None:
    request = RunRequest(run_id="run-1", kind="apply", code="kind: ConfigMap\n", options={"file": "x.yaml"})

    command = kspec.exec_command(request)

    encoded = base64.b64encode(b"kind: ConfigMap\n").decode()
    assert command == [
        "env",
        f"PODIUM_CODE_B64_000={encoded}",
        "PODIUM_OPT_FILE=x.yaml",
        "/usr/local/bin/podium-run",
        "apply",
        "run-1",
    ]


def test_long_code_is_split_below_the_kernels_limit_for_one_argument() -> None:
    request = RunRequest(run_id="r", kind="shell", code="x" * 200_000)

    arguments = kspec.exec_command(request)[1:-3]

    assert len(arguments) == 3
    assert all(len(argument) < 128 * 1024 for argument in arguments)
    joined = "".join(argument.split("=", 1)[1] for argument in arguments)
    assert base64.b64decode(joined) == b"x" * 200_000


def test_exit_code_from_the_exec_status_channel() -> None:
    failure = {
        "status": "Failure",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": "3"}]},
    }

    assert kspec.exec_exit_code({"metadata": {}, "status": "Success"}) == 0
    assert kspec.exec_exit_code(failure) == 3
    assert kspec.exec_exit_code({"status": "Failure", "message": "container not found"}) is None
    assert kspec.exec_exit_code(None) is None
    assert kspec.exec_status(b'{"status":"Success"}') == {"status": "Success"}
    assert kspec.exec_status(b"not json") is None


def test_applied_workloads_are_read_from_kubectl_apply_output() -> None:
    output = (
        "configmap/db-config created\n"
        "deployment.apps/mysql created\n"
        "service/mysql unchanged\n"
        "deployment.apps/12factor configured\n"
        "job.batch/12factor-dbinit created\n"
        "deployment.apps/old unchanged\n"
    )

    assert kspec.applied_workloads(output) == [
        ("deployment", "mysql"),
        ("deployment", "12factor"),
        ("job", "12factor-dbinit"),
    ]


def test_refusals_are_matched_to_their_workload_and_reported_once() -> None:
    quota = 'pods "greedy-5d8f-x" is forbidden: exceeded quota: podium-quota'
    events = [
        {"kind": "Deployment", "name": "greedy", "reason": "ScalingReplicaSet", "message": "Scaled up"},
        {"kind": "ReplicaSet", "name": "greedy-5d8f", "reason": "FailedCreate", "message": f"Error creating: {quota}"},
        {"kind": "ReplicaSet", "name": "greedy-5d8f", "reason": "FailedCreate", "message": f"Error creating: {quota}"},
        {"kind": "Job", "name": "greedy-init", "reason": "SuccessfulCreate", "message": "Created pod: greedy-init-z"},
    ]

    refusals, pending = kspec.workload_outcome(
        events=events, workloads=[("deployment", "greedy"), ("job", "greedy-init"), ("deployment", "web")]
    )

    assert refusals == [f"replicaset/greedy-5d8f: Error creating: {quota}"]
    assert pending == ["web"]


def test_kind_up_plan_creates_builds_tags_and_loads(tmp_path: Path) -> None:
    plan = kube_access.kind_up_plan(
        kind="kind",
        docker="docker",
        name="podium",
        kubeconfig=tmp_path / "kubeconfig",
        config_path=tmp_path / "kind.yaml",
        exists=False,
        api_address="172.17.0.1",
        base_images={"python": "podium-standin/python:3.11-slim", "mysql": "podium-standin/mysql:8"},
        mysql_official="mysql:8",
        workspace_image="podium/workspace:1",
        material=Path("/repo/sample_app"),
    )

    assert plan.commands == [
        ["kind", "create", "cluster", "--name", "podium", "--kubeconfig", str(tmp_path / "kubeconfig"),
         "--config", str(tmp_path / "kind.yaml"), "--wait", "120s"],
        ["docker", "tag", "podium-standin/mysql:8", "mysql:8"],
        ["docker", "build", "-t", "12factor:1.0", "--build-arg", "PYTHON_IMAGE=podium-standin/python:3.11-slim",
         "-f", "/repo/sample_app/Dockerfile", "/repo/sample_app"],
        ["docker", "build", "-t", "12factor-dbinit:1.0", "--build-arg", "MYSQL_IMAGE=podium-standin/mysql:8",
         "-f", "/repo/sample_app/Dockerfile.dbinit", "/repo/sample_app"],
        ["kind", "load", "docker-image", "--name", "podium",
         "podium/workspace:1", "mysql:8", "12factor:1.0", "12factor-dbinit:1.0"],
    ]  # fmt: skip
    assert plan.config_text == (
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnetworking:\n"
        "  apiServerAddress: 172.17.0.1\n  apiServerPort: 6443\n"
    )


def test_kind_up_reuses_an_existing_cluster_and_official_images(tmp_path: Path) -> None:
    plan = kube_access.kind_up_plan(
        kind="/opt/kind",
        docker="docker",
        name="podium",
        kubeconfig=tmp_path / "kubeconfig",
        config_path=tmp_path / "kind.yaml",
        exists=True,
        api_address="127.0.0.1",
        base_images={"python": "python:3.11-slim", "mysql": "mysql:8"},
        mysql_official="mysql:8",
        workspace_image="podium/workspace:1",
        material=Path("/repo/sample_app"),
    )

    assert plan.commands[0] == [
        "/opt/kind",
        "export",
        "kubeconfig",
        "--name",
        "podium",
        "--kubeconfig",
        str(tmp_path / "kubeconfig"),
    ]
    assert not [command for command in plan.commands if command[1] == "tag"]


def test_kind_up_without_kind_says_how_to_get_a_cluster(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no `kind` on PATH

    with pytest.raises(CommandError) as raised:
        call_command("sandbox", "kind-up")

    message = str(raised.value)
    assert "`kind` is not on PATH" in message
    assert "https://kind.sigs.k8s.io" in message
    assert "PODIUM_KUBECONFIG" in message
