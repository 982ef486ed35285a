"""Rate limits counted in Django's cache: fixed windows, a refusal that says when to retry, shared by processes."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid

import pytest
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured

from config.env import env_rate
from config.ratelimit import RateLimited, client_address, rate_check, rate_hit
from tests.conftest import ROOT

REDIS = "redis://127.0.0.1:6379/0"


def test_rates_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("PODIUM_RATE_X", "30/60")
    assert env_rate("PODIUM_RATE_X", "1/1") == (30, 60)
    for off in ("off", "0", "OFF"):
        monkeypatch.setenv("PODIUM_RATE_X", off)
        assert env_rate("PODIUM_RATE_X", "1/1") == (0, 1)
    monkeypatch.delenv("PODIUM_RATE_X")
    assert env_rate("PODIUM_RATE_X", "5/600") == (5, 600)
    for bad in ("30", "30/0", "a/60", "-1/60", "30/60/2"):
        monkeypatch.setenv("PODIUM_RATE_X", bad)
        with pytest.raises(ImproperlyConfigured, match="PODIUM_RATE_X=.* is not a rate: write N/SECONDS"):
            env_rate("PODIUM_RATE_X", "1/1")


def test_the_nth_plus_one_is_refused_with_the_seconds_left():
    key = uuid.uuid4().hex
    for _ in range(3):
        rate_hit(action="test", key=key, rate=(3, 3600), what="tries")
    with pytest.raises(RateLimited) as refused:
        rate_hit(action="test", key=key, rate=(3, 3600), what="tries")
    assert re.fullmatch(r"Too many tries: try again in \d+ s\.", refused.value.message)
    assert 1 <= refused.value.retry_after <= 3600
    with pytest.raises(RateLimited):
        rate_check(action="test", key=key, rate=(3, 3600), what="tries")
    rate_hit(action="test", key="someone else", rate=(3, 3600), what="tries")  # counted apart
    rate_hit(action="other", key=key, rate=(3, 3600), what="tries")  # another action, apart too


def test_off_never_refuses():
    for _ in range(50):
        rate_hit(action="test", key="k", rate=(0, 1), what="tries")


def test_client_address_from_a_scope_or_a_request():
    assert client_address({"client": ("203.0.113.9", 4711)}) == "203.0.113.9"
    assert client_address({"REMOTE_ADDR": "198.51.100.2"}) == "198.51.100.2"
    assert client_address({}) == ""


@pytest.mark.redis
def test_with_redis_every_process_shares_the_counts(settings, tmp_path, monkeypatch):
    """Two hits here and one in another process use up a limit of 3 (the cache is Redis, as with REDIS_URL)."""
    monkeypatch.setattr("config.ratelimit._PREFIX", "podium:rate")  # as the other process has it (the key is new)
    # Django's setting_changed handler gives the cache handler the new setting.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS}}
    assert caches["default"].__class__.__name__ == "RedisCache"
    key = uuid.uuid4().hex
    for _ in range(2):
        rate_hit(action="shared", key=key, rate=(3, 3600), what="tries")
    code = (
        "import django; django.setup(); from config.ratelimit import rate_hit; "
        f"rate_hit(action='shared', key={key!r}, rate=(3, 3600), what='tries')"
    )
    other = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "REDIS_URL": REDIS,
            "PODIUM_ENV": "test",
            "PODIUM_VAR_DIR": str(tmp_path),
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert other.returncode == 0, other.stderr
    with pytest.raises(RateLimited):
        rate_hit(action="shared", key=key, rate=(3, 3600), what="tries")
