"""`sandbox kind-up`: the commands it would run (provision/kind.py), and its answer on a machine without `kind`."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from provision import kind


def test_kind_up_plan_creates_builds_tags_and_loads(tmp_path: Path) -> None:
    plan = kind.kind_up_plan(
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
    plan = kind.kind_up_plan(
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
