"""Fixtures for the workshop material: a real MariaDB, a scratch database, a TCP proxy.

The database is the machine's MariaDB (127.0.0.1:3306, root without a password;
override with TEST_MARIADB_HOST / TEST_MARIADB_PORT / TEST_MARIADB_USER /
TEST_MARIADB_PASSWORD). Every session works in its own throwaway database,
dropped at the end. Outside CI a missing server skips the `mariadb` tests; in
CI (CI=true) it fails them, because .ci/run starts one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pymysql
import pytest
from pymysql.constants import CLIENT

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_APP = ROOT / "sample_app"
K8S = ROOT / "k8s"


@dataclass(frozen=True)
class Database:
    """Where a test database is, in the app's own terms (DATABASE_* variables)."""

    host: str
    port: int
    user: str
    password: str
    name: str

    def env(self) -> dict[str, str]:
        return {
            "DATABASE_HOST": self.host,
            "DATABASE_PORT": str(self.port),
            "DATABASE_USER": self.user,
            "DATABASE_PASSWORD": self.password,
            "DATABASE_NAME": self.name,
        }

    def connect(self, *, database: str | None = None, **options) -> pymysql.Connection:
        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            database=database,
            connect_timeout=5,
            **options,
        )

    def query(self, sql: str) -> list[tuple]:
        connection = self.connect(database=self.name)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return list(cursor.fetchall())
        finally:
            connection.close()

    def drop(self) -> None:
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS `{self.name}`")
        finally:
            connection.close()


@pytest.fixture(scope="session")
def mariadb_server() -> Database:
    """The real MariaDB server, checked once; `name` is not created here."""
    server = Database(
        host=os.environ.get("TEST_MARIADB_HOST", "127.0.0.1"),
        port=int(os.environ.get("TEST_MARIADB_PORT", "3306")),
        user=os.environ.get("TEST_MARIADB_USER", "root"),
        password=os.environ.get("TEST_MARIADB_PASSWORD", ""),
        name="",
    )
    try:
        server.connect().close()
    except pymysql.MySQLError as exc:
        # Never a skip: scripts/services-up.sh (called by `make test`) starts one.
        pytest.fail(f"no MariaDB at {server.host}:{server.port} as {server.user}: {exc}; run scripts/services-up.sh")
    return server


def scratch_name(purpose: str) -> str:
    """A database name no other session or test uses."""
    return f"podium_test_{purpose}_{secrets.token_hex(4)}"


@pytest.fixture(scope="session")
def loaded_database(mariadb_server: Database) -> Iterator[Database]:
    """A throwaway database with sample_app/dbsetup.sql loaded, dropped after the session."""
    database = replace(mariadb_server, name=scratch_name("12factor"))
    connection = database.connect(client_flag=CLIENT.MULTI_STATEMENTS, autocommit=True)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{database.name}`")
            cursor.execute(f"USE `{database.name}`")
            cursor.execute((SAMPLE_APP / "dbsetup.sql").read_text())
            while cursor.nextset():
                pass
    finally:
        connection.close()
    yield database
    database.drop()


@pytest.fixture
def empty_database(mariadb_server: Database) -> Iterator[Database]:
    """A name for a database that does not exist yet; dropped after the test."""
    database = replace(mariadb_server, name=scratch_name("empty"))
    yield database
    database.drop()


def free_port() -> int:
    """A local TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class TcpProxy:
    """Forwards a local port to the real database, and can be stopped and restarted.

    Stopping closes the listening socket and every open connection, which is
    what a database going away looks like from the app's side of the wire.
    """

    def __init__(self, *, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone may not.
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def db_proxy(mariadb_server: Database) -> Iterator[TcpProxy]:
    """A started TcpProxy in front of the real MariaDB, stopped after the test."""
    proxy = TcpProxy(target_host=mariadb_server.host, target_port=mariadb_server.port)
    proxy.start()
    yield proxy
    proxy.stop()


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment without any DATABASE_* setting, plus `extra`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("DATABASE_")}
    env.update(extra)
    return env


def http_get(url: str) -> tuple[int, bytes]:
    """Status and body of a GET, also for 4xx/5xx answers."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_until_serving(process: subprocess.Popen, url: str, *, attempts: int = 100) -> None:
    """Poll `url` until the server answers at all; fail with its output if it dies first."""
    for _ in range(attempts):
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"server exited with {process.returncode}:\n{out}\n{err}")
        try:
            http_get(url)
            return
        except OSError:
            time.sleep(0.1)
    process.kill()
    out, err = process.communicate()
    pytest.fail(f"server never answered {url}:\n{out}\n{err}")


@pytest.fixture
def python_bin() -> str:
    """The interpreter running the tests (its venv has Flask, PyMySQL, gunicorn)."""
    return sys.executable
