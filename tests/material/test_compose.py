"""The 12factor stack through `docker-compose` (Debian's 1.29), as the "Docker compose" slide runs it.

`docker-compose up -d --build` in sample_app/ with the base images pointed at the deck's base images
(PYTHON_IMAGE / MYSQL_IMAGE, the local stand-ins on machines without a registry), a project name of its
own (-p) and a free host port (APP_PORT), then GET /users must return the rows dbinit loaded.
`docker-compose down -v` runs whatever happens, and a sweep by the project's label removes anything left.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid

import pytest

from tests.docker_helpers import docker_remove_labelled, free_port, http_get_json, wait_for
from tests.material.conftest import SAMPLE_APP
from tests.material.material_support import compose_env, users_in_database

pytestmark = [pytest.mark.docker, pytest.mark.slow]

PROJECT_LABEL = "com.docker.compose.project"


class Compose:
    """`docker-compose -p PROJECT ...` in sample_app/, with the test's environment."""

    def __init__(self, *, project: str, env: dict[str, str]) -> None:
        self.project = project
        self.env = {**os.environ, **env}
        self.binary = shutil.which("docker-compose")
        if self.binary is None:
            pytest.fail("docker-compose is not installed; scripts/docker-up.sh installs it.", pytrace=False)

    def __call__(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.binary, "--ansi", "never", "-p", self.project, *args],
            cwd=SAMPLE_APP,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def check(self, *args: str, timeout: float = 120) -> str:
        result = self(*args, timeout=timeout)
        if result.returncode != 0:
            logs = self("logs", "--tail", "30").stdout
            output = f"{result.stdout}\n{result.stderr}\n{logs}"
            pytest.fail(f"docker-compose {' '.join(args)} failed ({result.returncode}):\n{output}", pytrace=False)
        return result.stdout


def test_compose_up_serves_the_seeded_users_and_down_removes_everything(docker_client, base_images):
    project = f"podiumtest{uuid.uuid4().hex[:8]}"
    port = free_port()
    compose = Compose(
        project=project,
        env={"PYTHON_IMAGE": base_images["python"], "MYSQL_IMAGE": base_images["mysql"], "APP_PORT": str(port)},
    )
    label = f"{PROJECT_LABEL}={project}"
    removed = False
    try:
        compose.check("up", "-d", "--build", timeout=900)

        url = f"http://127.0.0.1:{port}/users"
        status, users = wait_for(
            lambda: (answer := http_get_json(url))[0] == 200 and answer,
            what=f"GET {url} answering 200",
            timeout=120,
            diagnose=lambda: compose("logs", "--tail", "30").stdout,
        )
        [mysql] = docker_client.containers.list(filters={"label": [label, "com.docker.compose.service=mysql"]})
        assert users == users_in_database(mysql, compose_env())
        assert {"id": 1, "name": "ada", "email": "ada@example.com"} in users

        # The one-off dbinit ran to completion before the app started.
        [dbinit] = docker_client.containers.list(
            all=True, filters={"label": [label, "com.docker.compose.service=dbinit"]}
        )
        assert dbinit.attrs["State"]["ExitCode"] == 0
        assert "load-db: loaded" in dbinit.logs().decode()
        # The published port is the one asked for through APP_PORT.
        [app] = docker_client.containers.list(filters={"label": [label, "com.docker.compose.service=app"]})
        bindings = app.attrs["NetworkSettings"]["Ports"]["5000/tcp"]
        assert str(port) in {binding["HostPort"] for binding in bindings}, json.dumps(bindings)

        compose.check("down", "-v", "--remove-orphans", timeout=180)
        removed = True
        assert docker_client.containers.list(all=True, filters={"label": label}) == []
        assert docker_client.networks.list(filters={"label": label}) == []
        assert docker_client.volumes.list(filters={"label": label}) == []
    finally:
        if not removed:
            compose("down", "-v", "--remove-orphans", timeout=180)
        docker_remove_labelled(docker_client, label=label)
