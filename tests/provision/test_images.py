"""`manage.py sandbox prepare`: the deck's base images, pulled or built as local stand-ins.

The Docker tests build a complete set of stand-ins under a test-only prefix (so they never touch the
images other tests and the server use), from the cached debootstrap root filesystem, then check what a
workshop relies on: the labels, that a second prepare is a no-op, that the Python image runs Python and
that the MySQL stand-in starts, answers `mysqladmin ping` and creates MYSQL_DATABASE.
"""

from __future__ import annotations

import contextlib
import io
import uuid

import docker.errors
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from provision.images import STANDIN_LABEL, ImageMissing, apt_mirrors, image_for, standin_name
from tests.docker_helpers import container_logs, wait_for


def prepare(*args: str) -> str:
    out = io.StringIO()
    call_command("sandbox", "prepare", *args, stdout=out)
    return out.getvalue()


@pytest.fixture(scope="module")
def test_prefix(docker_client):
    """Stand-ins built by `sandbox prepare --offline` under a unique prefix; removed after the module."""
    prefix = f"podium-test-{uuid.uuid4().hex[:8]}/"
    # Official names no engine has, so --offline must build stand-ins even where the real images were pulled.
    names = {
        "PODIUM_STANDIN_PREFIX": prefix,
        "PODIUM_PYTHON_IMAGE": "podium-test-absent/python:3.11-slim",
        "PODIUM_MYSQL_IMAGE": "podium-test-absent/mysql:8",
    }
    with override_settings(**names):
        output = prepare("--offline")
        yield prefix, output
    for image in (f"{prefix}python:3.11-slim", f"{prefix}mysql:8", f"{prefix}debian:bookworm"):
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(image, force=True)


@pytest.mark.docker
@pytest.mark.slow
def test_prepare_offline_builds_both_images_labelled_as_standins(docker_client, test_prefix):
    prefix, output = test_prefix
    for name in (f"{prefix}python:3.11-slim", f"{prefix}mysql:8", f"{prefix}debian:bookworm"):
        labels = docker_client.images.get(name).labels
        assert labels[STANDIN_LABEL] == "true", name
        assert "stand-in" in labels["org.opencontainers.image.description"], name
    assert f"-> {prefix}python:3.11-slim (local stand-in" in output
    assert f"-> {prefix}mysql:8 (local stand-in" in output
    # Progress: one line per step, each with the elapsed seconds.
    assert "s] podium-test-absent/mysql:8: --offline, building the local stand-in" in output
    assert f"--build-arg PYTHON_IMAGE={prefix}python:3.11-slim" in output


@pytest.mark.docker
@pytest.mark.slow
def test_second_prepare_is_a_no_op_that_says_the_images_exist(docker_client, test_prefix):
    prefix, _ = test_prefix
    before = {name: docker_client.images.get(name).id for name in (f"{prefix}python:3.11-slim", f"{prefix}mysql:8")}
    with override_settings(
        PODIUM_STANDIN_PREFIX=prefix,
        PODIUM_PYTHON_IMAGE="podium-test-absent/python:3.11-slim",
        PODIUM_MYSQL_IMAGE="podium-test-absent/mysql:8",
    ):
        output = prepare("--offline")
        assert image_for("python") == f"{prefix}python:3.11-slim"
        assert image_for("podium-test-absent/mysql:8") == f"{prefix}mysql:8"
    assert f"stand-in {prefix}python:3.11-slim already in the engine; nothing to do" in output
    assert f"stand-in {prefix}mysql:8 already in the engine; nothing to do" in output
    assert "docker build" not in output
    assert {name: docker_client.images.get(name).id for name in before} == before


@pytest.mark.docker
@pytest.mark.slow
def test_python_standin_runs_python_and_pip(docker_client, test_prefix):
    prefix, _ = test_prefix
    out = docker_client.containers.run(
        f"{prefix}python:3.11-slim",
        ["sh", "-c", "python -c 'print(1+1)' && pip --version && python -m venv /tmp/venv && echo venv-ok"],
        remove=True,
    ).decode()
    assert out.splitlines()[0] == "2"
    assert "python 3.11" in out
    assert out.splitlines()[-1] == "venv-ok"


@pytest.mark.docker
@pytest.mark.slow
def test_mysql_standin_starts_answers_ping_and_creates_the_database(docker_scope, test_prefix):
    prefix, _ = test_prefix
    db = docker_scope.run(
        f"{prefix}mysql:8",
        what="mysql",
        environment={"MYSQL_ROOT_PASSWORD": "s3cret", "MYSQL_DATABASE": "workshop"},
    )

    def ping() -> bool:
        # Over TCP: the first-start initialisation runs a server without networking, so this means "ready".
        return db.exec_run(["mysqladmin", "-h", "127.0.0.1", "-uroot", "-ps3cret", "ping"]).exit_code == 0

    wait_for(ping, what="mysqladmin ping answering", timeout=90, diagnose=lambda: container_logs(db))
    result = db.exec_run(["mysql", "-h", "127.0.0.1", "-uroot", "-ps3cret", "-N", "-e", "SHOW DATABASES"])
    assert result.exit_code == 0, result.output
    assert "workshop" in result.output.decode().split()
    # The server runs as the mysql user, not root.
    uid = db.exec_run(["sh", "-c", "awk '/^Uid:/ {print $2}' /proc/1/status"]).output.decode().strip()
    assert uid == db.exec_run(["id", "-u", "mysql"]).output.decode().strip()
    assert uid != "0"
    # SIGTERM (docker stop) shuts it down cleanly.
    db.stop(timeout=30)
    db.reload()
    assert db.attrs["State"]["ExitCode"] == 0
    assert "Shutdown complete" in db.logs().decode()


@pytest.mark.docker
def test_image_for_names_the_command_to_run_when_nothing_is_prepared(docker_client):
    with (
        override_settings(
            PODIUM_STANDIN_PREFIX="podium-test-never-built/", PODIUM_PYTHON_IMAGE="podium-test-absent/x:1"
        ),
        pytest.raises(ImageMissing, match="manage.py sandbox prepare"),
    ):
        image_for("python")


def test_prepare_without_an_engine_says_to_run_docker_up(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    with pytest.raises(CommandError, match="scripts/docker-up.sh"):
        prepare("--offline")


def test_standin_names_drop_the_registry_and_namespace():
    with override_settings(PODIUM_STANDIN_PREFIX="podium-standin/"):
        assert standin_name("python:3.11-slim") == "podium-standin/python:3.11-slim"
        assert standin_name("docker.io/library/mysql:8") == "podium-standin/mysql:8"


def test_apt_mirrors_read_one_line_and_deb822_sources():
    deb822 = (
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\n"
        "Types: deb\nURIs: http://mirror.example/debian-security/\nSuites: bookworm-security\nComponents: main\n"
    )
    assert apt_mirrors(sources=[("debian.sources", deb822)]) == (
        "http://mirror.example/debian",
        "http://mirror.example/debian-security",
    )
    one_line = "# comment\ndeb [arch=amd64 signed-by=/k.gpg] http://other.example/debian bookworm main\n"
    assert apt_mirrors(sources=[("sources.list", one_line)]) == (
        "http://other.example/debian",
        "http://deb.debian.org/debian-security",
    )
    # Not a Debian host (or another repository only): the default mirrors.
    ubuntu = "deb http://archive.ubuntu.com/ubuntu jammy main\n"
    assert apt_mirrors(sources=[("sources.list", ubuntu)]) == (
        "http://deb.debian.org/debian",
        "http://deb.debian.org/debian-security",
    )
