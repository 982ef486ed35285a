"""sample_app/load-db.sh against a real MariaDB, with the host's `mysql` client."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace

import pytest

from tests.material.conftest import SAMPLE_APP, Database, TcpProxy, clean_env, free_port

pytestmark = pytest.mark.mariadb

LOAD_DB = SAMPLE_APP / "load-db.sh"


@pytest.fixture(autouse=True)
def mysql_client() -> None:
    if shutil.which("mysql") is None:
        pytest.fail("load-db.sh needs the `mysql` client (Debian: apt-get install mariadb-client)")


def load_db(database: Database, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(LOAD_DB)],
        env=clean_env({**database.env(), **extra}),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_creates_the_database_and_loading_twice_leaves_the_same_rows(empty_database):
    first = load_db(empty_database)
    assert first.returncode == 0, first.stderr
    rows_after_first = empty_database.query("SELECT id, username, email FROM users ORDER BY id")

    second = load_db(empty_database)
    assert second.returncode == 0, second.stderr
    rows_after_second = empty_database.query("SELECT id, username, email FROM users ORDER BY id")

    assert rows_after_first == rows_after_second
    assert [row[1] for row in rows_after_second] == ["ada", "grace", "linus", "margaret"]
    assert f"into {empty_database.name}" in second.stdout
    assert "(4 users)" in second.stdout


def test_loading_again_keeps_rows_added_since(empty_database):
    assert load_db(empty_database).returncode == 0
    connection = empty_database.connect(database=empty_database.name, autocommit=True)
    try:
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO users (username, email) VALUES ('new', 'new@example.com')")
    finally:
        connection.close()

    assert load_db(empty_database).returncode == 0

    assert ("new",) in empty_database.query("SELECT username FROM users")
    assert empty_database.query("SELECT COUNT(*) FROM users") == [(5,)]


def test_gives_up_after_the_bounded_retries_with_a_clear_message(empty_database):
    port = free_port()

    result = load_db(replace(empty_database, host="127.0.0.1", port=port), DB_WAIT_ATTEMPTS="2", DB_WAIT_SECONDS="0")

    assert result.returncode != 0
    assert f"127.0.0.1:{port} did not answer after 2 attempts" in result.stderr
    assert "waiting for the database at" in result.stdout


def test_waits_for_a_database_that_comes_up_late(mariadb_server, empty_database):
    proxy = TcpProxy(target_host=mariadb_server.host, target_port=mariadb_server.port)
    late = replace(empty_database, host="127.0.0.1", port=proxy.port)
    # The database "starts" only once load-db.sh has said it is waiting.
    process = subprocess.Popen(
        ["bash", str(LOAD_DB)],
        env=clean_env({**late.env(), "DB_WAIT_ATTEMPTS": "30", "DB_WAIT_SECONDS": "1"}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first_line = process.stdout.readline()
        proxy.start()
        rest, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        proxy.stop()

    assert "waiting for the database at 127.0.0.1" in first_line
    assert process.returncode == 0, err
    assert "(4 users)" in rest
    assert len(empty_database.query("SELECT id FROM users")) == 4


@pytest.mark.parametrize("missing", ["DATABASE_HOST", "DATABASE_USER", "DATABASE_PASSWORD", "DATABASE_NAME"])
def test_a_missing_setting_is_named(missing):
    env = {"DATABASE_HOST": "127.0.0.1", "DATABASE_USER": "root", "DATABASE_PASSWORD": "", "DATABASE_NAME": "x"}
    del env[missing]

    result = subprocess.run(["bash", str(LOAD_DB)], env=clean_env(env), capture_output=True, text=True, timeout=30)

    assert result.returncode != 0
    assert f"missing environment variable {missing}" in result.stderr


def test_a_password_with_quotes_spaces_and_backslashes_works(mariadb_server, empty_database):
    user = f"podium_{empty_database.name[-8:]}"
    password = "a#b c\\nd'e\"f"
    admin = mariadb_server.connect(autocommit=True)
    try:
        with admin.cursor() as cursor:
            cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, password))
            cursor.execute(f"GRANT ALL ON `{empty_database.name}`.* TO %s@'%%'", (user,))
        result = load_db(replace(empty_database, user=user, password=password), DB_WAIT_ATTEMPTS="1")
    finally:
        with admin.cursor() as cursor:
            cursor.execute("DROP USER IF EXISTS %s@'%%'", (user,))
        admin.close()

    assert result.returncode == 0, result.stderr
    assert "(4 users)" in result.stdout
