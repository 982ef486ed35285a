"""The 12factor app (sample_app/app.py) against a real MariaDB.

In-process through Flask's test client for the endpoints, and as real
processes (`python app.py`, and gunicorn with the Dockerfile's own CMD) for
start-up errors, request logging and SIGTERM.
"""

from __future__ import annotations

import importlib.util
import json
import re
import signal
import subprocess
import sys
from dataclasses import replace

import pytest

from tests.material.conftest import (
    SAMPLE_APP,
    Database,
    TcpProxy,
    clean_env,
    free_port,
    http_get,
    wait_until_serving,
)

pytestmark = pytest.mark.mariadb

SEEDED_USERS = [
    {"id": 1, "name": "ada", "email": "ada@example.com"},
    {"id": 2, "name": "grace", "email": "grace@example.com"},
    {"id": 3, "name": "linus", "email": "linus@example.com"},
    {"id": 4, "name": "margaret", "email": "margaret@example.com"},
]


def load_app_module():
    spec = importlib.util.spec_from_file_location("sample_app_12factor", SAMPLE_APP / "app.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


app_module = load_app_module()


def client_for(database: Database):
    config = app_module.config_from_env(database.env())
    return app_module.create_app(config).test_client()


def test_users_lists_the_rows_of_dbsetup_sql(loaded_database):
    response = client_for(loaded_database).get("/users")

    assert response.status_code == 200
    assert response.is_json
    assert response.get_json() == SEEDED_USERS


def test_users_follows_the_database_not_a_cache(loaded_database):
    client = client_for(loaded_database)
    connection = loaded_database.connect(database=loaded_database.name, autocommit=True)
    try:
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO users (id, username, email) VALUES (99, 'temp', 'temp@example.com')")
        assert {"id": 99, "name": "temp", "email": "temp@example.com"} in client.get("/users").get_json()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM users WHERE id = 99")
        connection.close()
    assert client.get("/users").get_json() == SEEDED_USERS


def test_version_answers_the_app_version(loaded_database):
    response = client_for(loaded_database).get("/version")

    assert response.status_code == 200
    assert response.get_json() == {"version": app_module.APP_VERSION}


def test_healthz_is_ok_while_the_database_answers(loaded_database):
    response = client_for(loaded_database).get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_no_database_listening_gives_503_json_not_a_traceback(loaded_database):
    nowhere = replace(loaded_database, host="127.0.0.1", port=free_port())
    client = client_for(nowhere)

    users = client.get("/users")
    health = client.get("/healthz")

    assert users.status_code == 503
    assert users.get_json()["error"] == "database unavailable"
    assert "Traceback" not in users.get_data(as_text=True)
    assert health.status_code == 503
    assert health.get_json()["status"] == "unavailable"


def test_a_database_without_the_users_table_gives_503_json(mariadb_server, empty_database):
    connection = mariadb_server.connect(autocommit=True)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{empty_database.name}`")
    finally:
        connection.close()

    response = client_for(empty_database).get("/users")

    assert response.status_code == 503
    assert "users" in response.get_json()["detail"]


def test_wrong_password_gives_503_json(loaded_database):
    response = client_for(replace(loaded_database, password="not-the-password")).get("/users")

    assert response.status_code == 503
    assert "denied" in response.get_json()["detail"].lower()


def test_the_app_recovers_when_the_database_comes_back(loaded_database, db_proxy: TcpProxy):
    client = client_for(replace(loaded_database, host="127.0.0.1", port=db_proxy.port))
    assert client.get("/users").status_code == 200

    db_proxy.stop()
    down = client.get("/users")
    assert down.status_code == 503
    assert down.get_json()["error"] == "database unavailable"
    assert client.get("/healthz").status_code == 503

    db_proxy.start()
    back = client.get("/users")
    assert back.status_code == 200
    assert back.get_json() == SEEDED_USERS
    assert client.get("/healthz").status_code == 200


def test_unknown_path_answers_json_404(loaded_database):
    response = client_for(loaded_database).get("/nope")

    assert response.status_code == 404
    assert response.get_json()["error"] == "not found"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DATABASE_USER": "root", "DATABASE_PASSWORD": "", "DATABASE_NAME": "x"}, "DATABASE_HOST"),
        ({"DATABASE_HOST": "h", "DATABASE_USER": "root", "DATABASE_NAME": "x"}, "DATABASE_PASSWORD"),
        (
            {
                "DATABASE_HOST": "h",
                "DATABASE_USER": "u",
                "DATABASE_PASSWORD": "",
                "DATABASE_NAME": "x",
                "DATABASE_PORT": "db",
            },
            "DATABASE_PORT",
        ),
    ],
)
def test_bad_config_stops_python_app_py_with_one_line_naming_the_variable(python_bin, env, named):
    result = subprocess.run(
        [python_bin, "app.py"], cwd=SAMPLE_APP, env=clean_env(env), capture_output=True, text=True, timeout=30
    )

    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert named in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_port_defaults_to_3306_and_an_empty_password_is_a_password():
    config = app_module.config_from_env(
        {"DATABASE_HOST": "mysql", "DATABASE_USER": "root", "DATABASE_PASSWORD": "", "DATABASE_NAME": "12factor"}
    )

    assert config.port == 3306
    assert config.password == ""


def test_python_app_py_logs_one_line_per_request_and_stops_cleanly_on_sigterm(python_bin, loaded_database):
    port = free_port()
    env = clean_env({**loaded_database.env(), "PORT": str(port), "HOST": "127.0.0.1"})
    process = subprocess.Popen(
        [python_bin, "app.py"], cwd=SAMPLE_APP, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_until_serving(process, f"http://127.0.0.1:{port}/version")
        status, body = http_get(f"http://127.0.0.1:{port}/users")
        assert status == 200
        assert json.loads(body) == SEEDED_USERS
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == 0, err
    request_lines = [line for line in out.splitlines() if re.search(r" GET /\S* \d{3} ", line)]
    assert any(" GET /users 200 " in line for line in request_lines), out
    # One line per request: the /version polls plus the one /users.
    assert sum(" GET /users " in line for line in request_lines) == 1
    assert "shutting down" in out
    assert "Traceback" not in err


def dockerfile_cmd() -> list[str]:
    """The CMD of sample_app/Dockerfile, as the image runs it."""
    for line in (SAMPLE_APP / "Dockerfile").read_text().splitlines():
        if line.startswith("CMD "):
            return json.loads(line.removeprefix("CMD "))
    raise AssertionError("sample_app/Dockerfile has no exec-form CMD line")


def gunicorn_command(python_bin: str, port: int) -> list[str]:
    """The Dockerfile's gunicorn command, bound to a free local port instead of 0.0.0.0:5000."""
    command = dockerfile_cmd()
    assert command[0] == "gunicorn"
    assert "0.0.0.0:5000" in command
    command = [f"127.0.0.1:{port}" if part == "0.0.0.0:5000" else part for part in command]
    return [python_bin, "-m", *command]


def test_gunicorn_as_in_the_image_serves_users_and_stops_on_sigterm(python_bin, loaded_database):
    port = free_port()
    process = subprocess.Popen(
        gunicorn_command(python_bin, port),
        cwd=SAMPLE_APP,
        env=clean_env(loaded_database.env()),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_serving(process, f"http://127.0.0.1:{port}/version")
        status, body = http_get(f"http://127.0.0.1:{port}/users")
        health, _ = http_get(f"http://127.0.0.1:{port}/healthz")
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=40)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert status == 200
    assert json.loads(body) == SEEDED_USERS
    assert health == 200
    assert process.returncode == 0, err
    assert " GET /users 200 " in out
    assert "Shutting down" in err  # gunicorn's own log: a graceful stop, not a kill


def test_gunicorn_as_in_the_image_refuses_to_start_without_config(python_bin):
    result = subprocess.run(
        gunicorn_command(python_bin, free_port()),
        cwd=SAMPLE_APP,
        env=clean_env({"DATABASE_USER": "root", "DATABASE_PASSWORD": "", "DATABASE_NAME": "x"}),
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "DATABASE_HOST" in lines[0]
