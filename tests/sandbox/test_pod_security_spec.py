"""The pure builders of pod security: PodSecurityPolicies per level, the right to use them, the engine choice and
the probe pods, compared as dicts."""

from __future__ import annotations

import pytest

from sandbox.backends import pod_security_spec as psec


def test_baseline_policy_refuses_the_node_and_sets_only_the_default_seccomp_profile() -> None:
    policy = psec.pod_security_policy("baseline")

    assert policy["apiVersion"] == "policy/v1beta1"
    assert policy["metadata"] == {
        "name": "podium-baseline",
        "labels": {"podium.managed": "1"},
        "annotations": {
            "seccomp.security.alpha.kubernetes.io/allowedProfileNames": "runtime/default,docker/default",
            "seccomp.security.alpha.kubernetes.io/defaultProfileName": "runtime/default",
        },
    }
    spec = policy["spec"]
    assert (spec["privileged"], spec["hostNetwork"], spec["hostPID"], spec["hostIPC"]) == (False, False, False, False)
    assert "hostPorts" not in spec and "allowedUnsafeSysctls" not in spec
    assert "hostPath" not in spec["volumes"] and "*" not in spec["volumes"]
    assert {"configMap", "secret", "emptyDir", "persistentVolumeClaim", "projected"} <= set(spec["volumes"])
    assert spec["allowedCapabilities"] == psec.BASELINE_CAPABILITIES
    assert not {"SYS_ADMIN", "NET_ADMIN", "NET_RAW", "SYS_PTRACE"} & set(spec["allowedCapabilities"])
    assert spec["runAsUser"] == {"rule": "RunAsAny"}
    assert "requiredDropCapabilities" not in spec


def test_restricted_policy_also_wants_non_root_and_every_capability_dropped() -> None:
    spec = psec.pod_security_policy("restricted")["spec"]

    assert spec["runAsUser"] == {"rule": "MustRunAsNonRoot"}
    assert spec["requiredDropCapabilities"] == ["ALL"]
    assert spec["allowedCapabilities"] == ["NET_BIND_SERVICE"]
    assert spec["allowPrivilegeEscalation"] is False
    assert "nfs" not in spec["volumes"]


def test_privileged_policy_is_for_workspaces_and_allows_everything() -> None:
    policy = psec.pod_security_policy("privileged")

    assert policy["spec"]["privileged"] is True
    assert policy["spec"]["volumes"] == ["*"]
    assert policy["metadata"]["annotations"] == {"seccomp.security.alpha.kubernetes.io/allowedProfileNames": "*"}


def test_each_policy_comes_with_a_cluster_role_to_use_it_and_nothing_else() -> None:
    assert [(item["kind"], item["metadata"]["name"]) for item in psec.cluster_policy_objects(level="baseline")] == [
        ("PodSecurityPolicy", "podium-baseline"),
        ("ClusterRole", "podium:psp:baseline"),
        ("PodSecurityPolicy", "podium-privileged"),
        ("ClusterRole", "podium:psp:privileged"),
    ]
    assert psec.pod_security_cluster_role("baseline")["rules"] == [
        {
            "apiGroups": ["policy"],
            "resources": ["podsecuritypolicies"],
            "resourceNames": ["podium-baseline"],
            "verbs": ["use"],
        }
    ]


def test_an_install_with_its_own_namespace_prefix_has_policies_of_its_own() -> None:
    # Two installs on one cluster (PODIUM_K8S_NAMESPACE_PREFIX) never share, nor delete, each other's policies.
    objects = psec.cluster_policy_objects(level="restricted", prefix="pk8s-")
    assert [item["metadata"]["name"] for item in objects] == [
        "pk8s-restricted",
        "pk8s:psp:restricted",
        "pk8s-privileged",
        "pk8s:psp:privileged",
    ]
    assert objects[1]["rules"][0]["resourceNames"] == ["pk8s-restricted"]


@pytest.mark.parametrize(
    ("version", "served", "engine"),
    [((1, 20), True, "psp"), ((1, 22), False, "none"), ((1, 23), True, "psa"), ((1, 30), False, "psa")],
)
def test_the_engine_expected_follows_the_clusters_version(version, served, engine) -> None:
    assert psec.policy_engine_expected(version=version, psp_served=served) == engine


def test_hostile_probe_breaks_every_baseline_rule_and_the_plain_one_none() -> None:
    hostile = psec.policy_probe_pod(namespace="podium-policyprobe", hostile=True)
    plain = psec.policy_probe_pod(namespace="podium-policyprobe", hostile=False)

    assert hostile["spec"]["hostNetwork"] and hostile["spec"]["hostPID"] and hostile["spec"]["hostIPC"]
    assert hostile["spec"]["volumes"] == [{"name": "host", "hostPath": {"path": "/"}}]
    assert hostile["spec"]["containers"][0]["securityContext"] == {
        "privileged": True,
        "capabilities": {"add": ["SYS_ADMIN"]},
    }
    assert "volumes" not in plain["spec"] and "hostNetwork" not in plain["spec"]
    assert plain["spec"]["containers"][0]["securityContext"]["runAsNonRoot"] is True
    assert (
        hostile["metadata"]
        == plain["metadata"]
        == {
            "generateName": "podium-policy-probe-",
            "namespace": "podium-policyprobe",
        }
    )


def test_an_unknown_level_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValueError, match="PODIUM_K8S_POD_SECURITY='strict'"):
        psec.pod_security_policy("strict")
