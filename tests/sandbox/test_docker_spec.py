"""The DockerBackend's pure spec builders: names, labels, security flags, create kwargs."""

from __future__ import annotations

import ipaddress

import pytest
from django.conf import settings

from sandbox.backends import docker_spec as spec_
from sandbox.backends.base import SandboxSpec

SPEC = SandboxSpec(sandbox_id="3f2a9c1e-77aa-4b1c-9d00-0123456789ab", attendee_id="att-1", talk="intro")
LIMITS = spec_.SandboxLimits(memory="512m", cpus=1.5, pids=256, disk="1g")


def test_names_use_the_first_twelve_characters_of_the_id():
    names = spec_.sandbox_names(SPEC.sandbox_id)
    assert names == spec_.SandboxNames(
        container="podium-sb-3f2a9c1e77aa", network="podium-net-3f2a9c1e77aa", volume="podium-docker-3f2a9c1e77aa"
    )


def test_a_sandbox_id_without_letters_or_digits_is_refused():
    with pytest.raises(ValueError, match="no letters or digits"):
        spec_.sandbox_names("---")


def test_labels_name_sandbox_attendee_and_talk():
    assert spec_.sandbox_labels(SPEC) == {
        "podium.sandbox": SPEC.sandbox_id,
        "podium.attendee": "att-1",
        "podium.talk": "intro",
        "podium.managed": "1",
        "podium.instance": settings.PODIUM_INSTANCE,
    }


def test_privileged_mode_is_plain_privileged():
    assert spec_.security_host_config("privileged") == {"Privileged": True}


def test_capabilities_mode_is_the_explicit_set_from_the_design():
    # What `--cap-add ALL --cap-drop SYS_RESOURCE --security-opt seccomp=unconfined --security-opt
    # apparmor=unconfined --security-opt systempaths=unconfined --cgroupns host -v /sys/fs/cgroup:...:rw`
    # sends to the engine (the CLI turns systempaths=unconfined into empty masked/read-only path lists).
    assert spec_.security_host_config("capabilities") == {
        "CapAdd": ["ALL"],
        "CapDrop": ["SYS_RESOURCE"],
        "SecurityOpt": ["seccomp=unconfined", "apparmor=unconfined"],
        "MaskedPaths": [],
        "ReadonlyPaths": [],
        "CgroupnsMode": "host",
        "Binds": ["/sys/fs/cgroup:/sys/fs/cgroup:rw"],
    }


def test_sysbox_mode_uses_the_runtime_without_privilege():
    assert spec_.security_host_config("sysbox") == {"Runtime": "sysbox-runc"}


def test_an_unknown_security_mode_names_the_accepted_ones():
    with pytest.raises(
        ValueError, match="PODIUM_SANDBOX_SECURITY=.root. is not one of userns, privileged, capabilities"
    ):
        spec_.security_host_config("root")


def test_container_spec_in_capabilities_mode():
    create = spec_.container_spec(
        spec=SPEC,
        image="podium/workspace:1",
        limits=LIMITS,
        security="capabilities",
        registry_mirror="http://172.17.0.1:5000",
    )
    assert create == {
        "image": "podium/workspace:1",
        "name": "podium-sb-3f2a9c1e77aa",
        "hostname": "workshop",
        "labels": spec_.sandbox_labels(SPEC),
        "detach": True,
        "environment": {
            "PODIUM_REGISTRY_MIRROR": "http://172.17.0.1:5000",
            "PODIUM_INSECURE_REGISTRY": "172.17.0.1:5000",
            "PODIUM_DISK_LIMIT_BYTES": str(1024**3),
            "PODIUM_DISK_CHECK_SECONDS": "30",
            "PODIUM_PIDS_LIMIT": "256",
        },
        "host_config": {
            "Init": True,
            "NetworkMode": "podium-net-3f2a9c1e77aa",
            "Memory": 512 * 1024**2,
            "MemorySwap": 512 * 1024**2,
            "NanoCpus": 1_500_000_000,
            "PidsLimit": 256,
            "Binds": ["podium-docker-3f2a9c1e77aa:/var/lib/docker:rw", "/sys/fs/cgroup:/sys/fs/cgroup:rw"],
            "CapAdd": ["ALL"],
            "CapDrop": ["SYS_RESOURCE"],
            "SecurityOpt": ["seccomp=unconfined", "apparmor=unconfined"],
            "MaskedPaths": [],
            "ReadonlyPaths": [],
            "CgroupnsMode": "host",
        },
        "networking_config": {"EndpointsConfig": {"podium-net-3f2a9c1e77aa": {}}},
    }


def test_container_spec_in_privileged_mode_mounts_only_the_engine_volume():
    create = spec_.container_spec(
        spec=SPEC, image="img", limits=LIMITS, security="privileged", registry_mirror="https://mirror.example"
    )
    host_config = create["host_config"]
    assert host_config["Privileged"] is True
    assert host_config["Binds"] == ["podium-docker-3f2a9c1e77aa:/var/lib/docker:rw"]
    assert "CapAdd" not in host_config and "CgroupnsMode" not in host_config
    # an https mirror needs no --insecure-registry
    assert create["environment"]["PODIUM_INSECURE_REGISTRY"] == ""


def test_network_kwargs_give_the_sandbox_its_own_subnet():
    assert spec_.network_kwargs(spec=SPEC, subnet="10.210.0.16/28") == {
        "name": "podium-net-3f2a9c1e77aa",
        "driver": "bridge",
        "labels": spec_.sandbox_labels(SPEC),
        "check_duplicate": True,
        "ipam": {"Driver": "default", "Config": [{"Subnet": "10.210.0.16/28", "Gateway": "10.210.0.17"}]},
    }


def test_volume_kwargs():
    assert spec_.volume_kwargs(spec=SPEC) == {
        "name": "podium-docker-3f2a9c1e77aa",
        "driver": "local",
        "labels": spec_.sandbox_labels(SPEC),
    }


def test_subnet_candidates_skip_the_taken_ones():
    candidates = spec_.subnet_candidates(pool="10.210.0.0/26", prefix=28, taken={"10.210.0.0/28", "10.210.0.32/28"})
    assert list(candidates) == ["10.210.0.16/28", "10.210.0.48/28"]


def test_the_default_pool_holds_four_thousand_sandbox_networks():
    candidates = list(spec_.subnet_candidates(taken=set()))
    assert len(candidates) == 4096 and len(set(candidates)) == 4096
    assert candidates[:2] == ["10.210.0.0/28", "10.210.0.16/28"] and candidates[-1] == "10.210.255.240/28"
    assert candidates == [str(net) for net in ipaddress.ip_network("10.210.0.0/16").subnets(new_prefix=28)]


def test_a_subnet_bigger_than_the_pool_is_refused_by_name():
    with pytest.raises(ValueError, match="/20 does not fit in the sandbox pool 10.210.0.0/24"):
        next(spec_.subnet_candidates(pool="10.210.0.0/24", prefix=20, taken=set()))


@pytest.mark.parametrize(
    ("mirror", "insecure"),
    [
        ("http://172.17.0.1:5000", "172.17.0.1:5000"),
        ("172.17.0.1:5000", "172.17.0.1:5000"),
        ("https://mirror.example", ""),
        ("", ""),
    ],
)
def test_insecure_registry_only_for_plain_http(mirror, insecure):
    assert spec_.insecure_registry(mirror) == insecure


def test_the_kubeconfig_archive_holds_a_private_kube_config():
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(spec_.kubeconfig_archive("apiVersion: v1\n"))) as tar:
        folder, config = tar.getmembers()
        assert (folder.name, folder.isdir(), folder.mode) == (".kube", True, 0o700)
        assert (config.name, config.mode) == (".kube/config", 0o600)
        assert tar.extractfile(config).read() == b"apiVersion: v1\n"


def test_userns_mode_keeps_default_capabilities_and_no_host_cgroups():
    assert spec_.security_host_config("userns") == {
        "CapDrop": ["NET_RAW", "MKNOD", "AUDIT_WRITE", "SETFCAP", "NET_BIND_SERVICE", "SYS_CHROOT"],
        "SecurityOpt": ["seccomp=unconfined", "apparmor=unconfined"],
        "MaskedPaths": [],
        "ReadonlyPaths": [],
        "CgroupnsMode": "private",
        "Devices": [{"PathOnHost": "/dev/net/tun", "PathInContainer": "/dev/net/tun", "CgroupPermissions": "rwm"}],
    }


def test_container_spec_in_userns_mode_names_the_sandboxs_host_uid_base():
    create = spec_.container_spec(
        spec=SPEC, image="podium/workspace:1", limits=LIMITS, security="userns", registry_mirror="", userns_base=231072
    )
    assert create["environment"]["PODIUM_USERNS_BASE"] == "231072"
    assert create["host_config"]["Binds"] == ["podium-docker-3f2a9c1e77aa:/var/lib/docker:rw"]  # no cgroup tree
    with pytest.raises(ValueError, match="host uid base from 100000"):
        spec_.container_spec(spec=SPEC, image="i", limits=LIMITS, security="userns", registry_mirror="")


def test_each_sandbox_network_gives_a_host_uid_range_of_its_own():
    assert spec_.userns_base(subnet="10.210.0.0/28") == 100000
    assert spec_.userns_base(subnet="10.210.0.16/28") == 100000 + 65536
    assert spec_.userns_base(subnet="10.210.255.240/28") == 100000 + 4095 * 65536
    with pytest.raises(ValueError, match="not a /28 of the sandbox pool"):
        spec_.userns_base(subnet="10.211.0.0/28")
    with pytest.raises(ValueError, match="too far"):
        spec_.userns_base(subnet="10.255.255.240/28", pool="10.0.0.0/8")


def test_the_kubeconfig_belongs_to_the_attendees_root():
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(spec_.kubeconfig_archive("apiVersion: v1", owner=165536))) as tar:
        assert {(m.name, m.uid, m.gid) for m in tar.getmembers()} == {
            (".kube", 165536, 165536),
            (".kube/config", 165536, 165536),
        }
