"""The pure builders of Kubernetes sandboxes (names, labels, the workspace pod, exec answers), compared as dicts."""

from __future__ import annotations

import pytest

from sandbox.backends import kubernetes_spec as kspec
from tests.sandbox.kube_values import LABELS, NS, SPEC


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
            "name": NS,
            "namespace": "podium-workspaces",
            "labels": {**LABELS, "app.kubernetes.io/name": "podium-workspace"},
            "annotations": {"container.apparmor.security.beta.kubernetes.io/docker": "unconfined"},
        },
        "spec": {
            "serviceAccountName": "podium-workspace",
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "hostname": "workshop",
            "terminationGracePeriodSeconds": 5,
            "restartPolicy": "Always",
            "dnsConfig": {"searches": [f"{NS}.svc.cluster.local"]},
            "containers": [
                {
                    "name": "workspace",
                    "image": "podium/workspace:1",
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["/usr/bin/tini", "--", "sleep", "infinity"],
                    "workingDir": "/workshop",
                    "env": [
                        {"name": "PODIUM_NAMESPACE", "value": NS},
                        {"name": "KUBECONFIG", "value": "/var/run/podium/kube/config"},
                        {"name": "DOCKER_HOST", "value": "unix:///run/podium-engine/docker.sock"},
                    ],
                    "resources": {
                        "requests": {"cpu": "100m", "memory": "128Mi"},
                        "limits": {"cpu": "1500m", "memory": "1Gi"},
                    },
                    "volumeMounts": [
                        {"name": "kubeconfig", "mountPath": "/var/run/podium/kube", "readOnly": True},
                        {"name": "engine-run", "mountPath": "/run/podium-engine"},
                    ],
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
                {"name": "kubeconfig", "secret": {"secretName": NS, "defaultMode": 0o400}},
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
    assert [volume["name"] for volume in privileged["spec"]["volumes"]] == ["kubeconfig", "docker-data", "engine-run"]
    assert sysbox["spec"]["runtimeClassName"] == "sysbox-runc"
    assert "securityContext" not in sysbox["spec"]["containers"][1]
    assert sysbox["metadata"]["annotations"] == {"io.kubernetes.cri-o.userns-mode": "auto:size=65536"}
    assert [container["name"] for container in plain["spec"]["containers"]] == ["workspace"]
    assert plain["spec"]["containers"][0]["env"] == [
        {"name": "PODIUM_NAMESPACE", "value": NS},
        {"name": "KUBECONFIG", "value": "/var/run/podium/kube/config"},
    ]
    assert [volume["name"] for volume in plain["spec"]["volumes"]] == ["kubeconfig"]
    with pytest.raises(ValueError, match="privileged, capabilities, sysbox"):
        kspec.workspace_pod(**common, security="root", docker=True)


def test_runtime_class_setting_names_the_workspace_pods_runtime_and_wins_over_sysbox_mode() -> None:
    common = {"spec": SPEC, "namespace": NS, "image": "podium/workspace:1", "limits": kspec.WorkspaceLimits()}

    default = kspec.workspace_pod(**common, security="capabilities", docker=True)
    gvisor = kspec.workspace_pod(**common, security="capabilities", docker=True, runtime_class="gvisor")
    kata_sysbox = kspec.workspace_pod(**common, security="sysbox", docker=True, runtime_class="kata")
    plain = kspec.workspace_pod(**common, security="privileged", docker=False, runtime_class="gvisor")

    assert "runtimeClassName" not in default["spec"]
    assert gvisor["spec"] == {**default["spec"], "runtimeClassName": "gvisor"}
    assert kata_sysbox["spec"]["runtimeClassName"] == "kata"
    assert plain["spec"]["runtimeClassName"] == "gvisor"


def test_workspace_pod_lives_in_the_workspaces_namespace_named_after_the_attendees() -> None:
    pod = kspec.workspace_pod(
        spec=SPEC,
        namespace=NS,
        image="podium/workspace:1",
        limits=kspec.WorkspaceLimits(),
        security="privileged",
        docker=False,
        pod_namespace="room-workspaces",
        cluster_domain="example.internal",
    )

    assert (pod["metadata"]["name"], pod["metadata"]["namespace"]) == (NS, "room-workspaces")
    assert pod["spec"]["dnsConfig"] == {"searches": [f"{NS}.svc.example.internal"]}


def test_workspace_kubeconfig_secret_sits_beside_the_pod_under_the_same_name() -> None:
    assert kspec.workspace_kubeconfig_secret(
        spec=SPEC, namespace=NS, pod_namespace="podium-workspaces", kubeconfig="apiVersion: v1\n"
    ) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": NS, "namespace": "podium-workspaces", "labels": LABELS},
        "stringData": {"config": "apiVersion: v1\n"},
    }


def test_workspaces_namespace_is_privileged_for_its_own_service_account_only() -> None:
    psa = kspec.workspaces_namespace_objects(namespace="podium-workspaces", engine="psa")
    psp = kspec.workspaces_namespace_objects(namespace="podium-workspaces", engine="psp")
    labels = {"podium.managed": "1", "podium.role": "workspaces"}

    assert psa == [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": "podium-workspaces",
                "labels": {
                    **labels,
                    **{f"pod-security.kubernetes.io/{mode}": "privileged" for mode in ("enforce", "warn", "audit")},
                    **{f"pod-security.kubernetes.io/{mode}-version": "latest" for mode in ("enforce", "warn", "audit")},
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "podium-workspace", "namespace": "podium-workspaces", "labels": labels},
            "automountServiceAccountToken": False,
        },
    ]
    assert psp[:2] == psa
    assert psp[2] == {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "podium-pod-security", "namespace": "podium-workspaces", "labels": labels},
        "subjects": [{"kind": "ServiceAccount", "name": "podium-workspace", "namespace": "podium-workspaces"}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "podium:psp:privileged"},
    }


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
