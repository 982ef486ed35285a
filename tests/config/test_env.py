"""Settings come from the environment; bad values name the variable."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import database_from_url, env_bool, env_int, env_list
from tests.conftest import ROOT


def test_sqlite_url_relative_and_absolute():
    assert database_from_url("sqlite:///podium.db")["NAME"] == "podium.db"
    assert database_from_url("sqlite:////var/lib/podium.db")["NAME"] == "/var/lib/podium.db"


def test_mysql_url_becomes_mysqlclient_settings():
    db = database_from_url("mysql://podium:s%40cret@db.example:3307/workshop?ssl_mode=REQUIRED")
    assert db["ENGINE"] == "django.db.backends.mysql"
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == (
        "podium",
        "s@cret",
        "db.example",
        "3307",
        "workshop",
    )
    assert db["OPTIONS"] == {"ssl_mode": "REQUIRED", "charset": "utf8mb4"}


def test_unknown_database_scheme_names_the_variable():
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL scheme 'postgres'"):
        database_from_url("postgres://x@y/z")


def test_bad_values_name_the_variable(monkeypatch):
    monkeypatch.setenv("PODIUM_X", "maybe")
    with pytest.raises(ImproperlyConfigured, match="PODIUM_X='maybe'"):
        env_bool("PODIUM_X")
    monkeypatch.setenv("PODIUM_X", "ten")
    with pytest.raises(ImproperlyConfigured, match="PODIUM_X='ten' is not a whole number"):
        env_int("PODIUM_X", 1)
    monkeypatch.setenv("PODIUM_X", " a, ,b ")
    assert env_list("PODIUM_X", []) == ["a", "b"]


def _settings_process(**env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "PODIUM_ENV", "DATABASE_URL", "REDIS_URL"}}
    full.update(env)
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.DATABASES['default']['ENGINE']); print(settings.CHANNEL_LAYERS['default']['BACKEND'])",
        ],
        cwd=ROOT,
        env={**full, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_without_secret_key():
    result = _settings_process(PODIUM_ENV="production", ALLOWED_HOSTS="podium.example")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when PODIUM_ENV=production" in result.stderr


def test_embedded_defaults_and_switches(tmp_path):
    plain = _settings_process(PODIUM_VAR_DIR=str(tmp_path))
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.split() == ["django.db.backends.sqlite3", "channels.layers.InMemoryChannelLayer"]
    switched = _settings_process(
        PODIUM_VAR_DIR=str(tmp_path), DATABASE_URL="mysql://root@127.0.0.1/podium", REDIS_URL="redis://127.0.0.1:6379/0"
    )
    assert switched.returncode == 0, switched.stderr
    assert switched.stdout.split() == ["django.db.backends.mysql", "channels_redis.core.RedisChannelLayer"]


def _asgi_start(mode: str) -> subprocess.CompletedProcess:
    """Import the ASGI app as daphne does, in a process of its own; what it logged."""
    full = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "PODIUM_ENV", "DATABASE_URL", "REDIS_URL"}}
    return subprocess.run(
        [sys.executable, "-c", "import config.asgi"],
        cwd=ROOT,
        env={**full, "DJANGO_SETTINGS_MODULE": "config.settings", "PODIUM_SANDBOX_SECURITY": mode},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("mode", ["capabilities", "privileged"])
def test_the_server_warns_at_start_when_sandboxes_are_host_root(mode):
    started = _asgi_start(mode)
    assert started.returncode == 0, started.stderr
    lines = [line for line in started.stderr.splitlines() if "sandbox security mode" in line]
    assert len(lines) == 1, started.stderr
    assert " WARNING podium " in lines[0]
    assert f"{mode}: HOST-ROOT-EQUIVALENT" in lines[0]


def test_the_server_says_its_sandbox_security_mode_at_start():
    started = _asgi_start("userns")
    assert started.returncode == 0, started.stderr
    lines = [line for line in started.stderr.splitlines() if "sandbox security mode" in line]
    assert len(lines) == 1, started.stderr
    assert " INFO podium " in lines[0]
    assert "userns: attendees are root only in a user namespace of their own" in lines[0]
    assert "HOST-ROOT" not in lines[0]
