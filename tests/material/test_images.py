"""The 12factor images, built and run with plain Docker as the "Migrate to Docker" slides do.

Both images are built from the deck's base images (the local stand-ins on machines without a registry,
passed as build arguments exactly as a user would), then MySQL, the one-off dbinit and the app run on a
user-defined network with the settings of sample_app/compose.env, and GET /users through the published
port must return the rows dbinit loaded. Everything the tests start is removed afterwards, even on failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import docker.errors
import pytest

from tests.docker_helpers import DockerScope, container_logs, free_port, http_get_json, wait_for
from tests.material.conftest import SAMPLE_APP
from tests.material.material_support import compose_env, users_in_database

pytestmark = [pytest.mark.docker, pytest.mark.slow]

APP_IMAGE = "podium-test/12factor:latest"
DBINIT_IMAGE = "podium-test/12factor-dbinit:latest"


def build(client, *, dockerfile: str, tag: str, buildargs: dict[str, str]) -> Any:
    try:
        image, _ = client.images.build(
            path=str(SAMPLE_APP), dockerfile=dockerfile, tag=tag, buildargs=buildargs, rm=True, forcerm=True
        )
    except docker.errors.BuildError as error:
        log = "".join(chunk.get("stream", "") or chunk.get("error", "") for chunk in error.build_log)
        pytest.fail(f"docker build -f {dockerfile} failed: {error.msg}\n{log[-3000:]}", pytrace=False)
    return image


@pytest.fixture(scope="module")
def images(docker_client, base_images) -> dict[str, Any]:
    """Both material images, built from the deck's base images through build arguments."""
    return {
        "app": build(
            docker_client, dockerfile="Dockerfile", tag=APP_IMAGE, buildargs={"PYTHON_IMAGE": base_images["python"]}
        ),
        "dbinit": build(
            docker_client,
            dockerfile="Dockerfile.dbinit",
            tag=DBINIT_IMAGE,
            buildargs={"MYSQL_IMAGE": base_images["mysql"]},
        ),
    }


@dataclass
class Stack:
    mysql: Any
    dbinit: Any
    app: Any
    port: int
    env: dict[str, str]


@pytest.fixture(scope="module")
def stack(docker_client, base_images, images) -> Iterator[Stack]:
    """MySQL + dbinit + app on a user-defined network, the app published on a free host port."""
    scope = DockerScope(docker_client)
    env = compose_env()
    try:
        network = scope.network()
        mysql = scope.run(
            base_images["mysql"],
            what="mysql",
            network=network,
            aliases=[env["DATABASE_HOST"]],
            environment=env,
            volumes={scope.volume("mysql-data").name: {"bind": "/var/lib/mysql", "mode": "rw"}},
        )
        # dbinit waits for the database itself (load-db.sh's bounded retries), as in run_docker.
        dbinit = scope.run(DBINIT_IMAGE, what="dbinit", network=network, environment=env)
        status = dbinit.wait(timeout=180)
        assert status["StatusCode"] == 0, container_logs(dbinit, mysql)
        port = free_port()
        app = scope.run(APP_IMAGE, what="app", network=network, environment=env, ports={"5000/tcp": port})
        yield Stack(mysql=mysql, dbinit=dbinit, app=app, port=port, env=env)
    finally:
        scope.cleanup()


def test_get_users_through_the_published_port_returns_the_seeded_users(stack):
    url = f"http://127.0.0.1:{stack.port}/users"
    status, users = wait_for(
        lambda: (answer := http_get_json(url))[0] == 200 and answer,
        what=f"GET {url} answering 200",
        timeout=90,
        diagnose=lambda: container_logs(stack.app, stack.mysql),
    )
    assert users == users_in_database(stack.mysql, stack.env)
    assert {"id": 1, "name": "ada", "email": "ada@example.com"} in users
    assert "load-db: loaded" in stack.dbinit.logs().decode()
    # The app's own log has no errors (gunicorn once failed to write its control socket to a missing home).
    assert "[ERROR]" not in stack.app.logs().decode()


def test_app_healthcheck_turns_healthy(stack):
    def health() -> bool:
        stack.app.reload()
        return stack.app.attrs["State"].get("Health", {}).get("Status") == "healthy"

    wait_for(health, what="the app container's HEALTHCHECK reporting healthy", timeout=120, interval=1)


def test_app_runs_as_non_root(stack, images):
    assert images["app"].attrs["Config"]["User"] not in ("", "0", "root")
    uid = stack.app.exec_run(["id", "-u"]).output.decode().strip()
    assert uid.isdigit() and uid != "0"
    # The server process itself, not just an exec'd shell.
    status = stack.app.exec_run(["sh", "-c", "grep '^Uid:' /proc/1/status"]).output.decode().split()
    assert status[1] == uid


def test_app_image_exposes_5000_and_defines_a_healthcheck(images):
    config = images["app"].attrs["Config"]
    assert "5000/tcp" in config["ExposedPorts"]
    assert config["Healthcheck"]["Test"]
