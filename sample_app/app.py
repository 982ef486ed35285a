"""The 12factor sample app: a very small Flask API over a MySQL `users` table.

Everything it needs to know about its database comes from the environment
(DATABASE_HOST, DATABASE_PORT, DATABASE_USER, DATABASE_PASSWORD, DATABASE_NAME),
it logs one line per request to stdout, and it keeps answering - with a 503 -
while the database is away. In the image it is served by gunicorn
(`gunicorn 'app:create_app()'`); `python app.py` runs Flask's development server.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import pymysql
from flask import Flask, g, jsonify, request
from pymysql.cursors import DictCursor
from werkzeug.exceptions import HTTPException

APP_VERSION = "1.0"
REQUIRED_SETTINGS = ("DATABASE_HOST", "DATABASE_USER", "DATABASE_PASSWORD", "DATABASE_NAME")

log = logging.getLogger("12factor")


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class DatabaseConfig:
    host: str
    port: int
    user: str
    password: str
    name: str


def config_from_env(environ: Mapping[str, str] = os.environ) -> DatabaseConfig:
    """Read the database settings from the environment (factor III: config).

    DATABASE_PASSWORD may be empty but must be set, so a forgotten variable is
    never mistaken for "no password". Raises ConfigError naming what is wrong.
    """
    missing = [name for name in REQUIRED_SETTINGS if name not in environ]
    if missing:
        noun = "variable" if len(missing) == 1 else "variables"
        raise ConfigError(
            f"missing environment {noun} {', '.join(missing)} (database settings come only from the environment)"
        )
    raw_port = environ.get("DATABASE_PORT", "3306")
    if not raw_port.isdigit() or not 0 < int(raw_port) < 65536:
        raise ConfigError(f"DATABASE_PORT must be a port number, got {raw_port!r}")
    return DatabaseConfig(
        host=environ["DATABASE_HOST"],
        port=int(raw_port),
        user=environ["DATABASE_USER"],
        password=environ["DATABASE_PASSWORD"],
        name=environ["DATABASE_NAME"],
    )


@contextmanager
def database_cursor(config: DatabaseConfig) -> Iterator[DictCursor]:
    """A cursor on a fresh connection, closed afterwards.

    One connection per request keeps the app stateless (factor VI): nothing
    goes stale while the database restarts, so the app recovers by itself.
    """
    connection = pymysql.connect(
        host=config.host,
        port=config.port,
        user=config.user,
        password=config.password,
        database=config.name,
        charset="utf8mb4",
        cursorclass=DictCursor,
        connect_timeout=3,
        read_timeout=10,
        write_timeout=10,
    )
    try:
        with connection.cursor() as cursor:
            yield cursor
    finally:
        connection.close()


def database_error_text(exc: pymysql.MySQLError) -> str:
    """The server's or driver's sentence, without the numeric code tuple."""
    if len(exc.args) >= 2:
        return str(exc.args[1])
    return str(exc) or type(exc).__name__


def logging_setup() -> None:
    """Send the app's log to stdout, one line per event (factor XI: logs are a stream)."""
    if log.handlers:
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def create_app(config: DatabaseConfig | None = None) -> Flask:
    """Build the Flask app; without a config it is read from the environment.

    A missing setting stops the process with one line naming the variable,
    which is what gunicorn (--preload) and `python app.py` print at start.
    """
    if config is None:
        try:
            config = config_from_env()
        except ConfigError as exc:
            sys.exit(f"12factor: {exc}")
    logging_setup()
    app = Flask(__name__)
    app.json.sort_keys = False  # keep {"id", "name", "email"} in that order

    @app.before_request
    def request_started() -> None:
        g.started = time.perf_counter()
        g.problem = ""

    @app.after_request
    def request_logged(response):
        elapsed_ms = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        problem = f" - {g.problem}" if g.get("problem") else ""
        log.info(
            "%s %s %s %s %.1fms%s",
            request.remote_addr,
            request.method,
            request.full_path.rstrip("?"),
            response.status_code,
            elapsed_ms,
            problem,
        )
        return response

    @app.errorhandler(pymysql.MySQLError)
    def database_unavailable(exc: pymysql.MySQLError):
        g.problem = f"database error: {database_error_text(exc)}"
        body = {"error": "database unavailable", "detail": database_error_text(exc)}
        return jsonify(body), 503

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return jsonify({"error": (exc.name or "error").lower(), "detail": exc.description}), exc.code or 500

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception):
        # Never a traceback page: the client gets JSON, the log gets one line.
        g.problem = f"unexpected {type(exc).__name__}: {exc}"
        return jsonify({"error": "internal error"}), 500

    @app.get("/users")
    def users_index():
        with database_cursor(config) as cursor:
            cursor.execute("SELECT id, username, email FROM users ORDER BY id")
            rows = cursor.fetchall()
        return jsonify([{"id": row["id"], "name": row["username"], "email": row["email"]} for row in rows])

    @app.get("/version")
    def print_ver():
        return jsonify({"version": APP_VERSION})

    @app.get("/healthz")
    def healthz():
        # Kubernetes' readiness probe and Docker's HEALTHCHECK: ready only
        # when the database answers, so no traffic reaches a useless pod.
        try:
            with database_cursor(config) as cursor:
                cursor.execute("SELECT 1")
        except pymysql.MySQLError as exc:
            g.problem = f"database error: {database_error_text(exc)}"
            return jsonify({"status": "unavailable", "detail": database_error_text(exc)}), 503
        return jsonify({"status": "ok"})

    return app


def stop_on_sigterm(signum: int, frame: object) -> None:
    """Turn SIGTERM (docker stop, Kubernetes) into a clean exit of the dev server.

    As PID 1 in a container the kernel ignores an unhandled SIGTERM (docker stop
    then waits and kills), elsewhere it ends the process without cleanup;
    raising SystemExit lets the server close its socket and finish requests in
    flight (factor IX: disposability).
    """
    log.info("SIGTERM received, shutting down")
    raise SystemExit(0)


def main() -> None:
    """Run the development server, as `python app.py` in the seed deck."""
    app = create_app()
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    # The app logs its own request line; Werkzeug's would be a second one.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # All interfaces: inside a container, localhost is unreachable from outside.
    host = os.environ.get("HOST", "0.0.0.0")  # noqa: S104
    port = int(os.environ.get("PORT", "5000"))
    log.info("12factor %s listening on %s:%s", APP_VERSION, host, port)
    app.run(host=host, port=port)


if __name__ == "__main__":
    main()
