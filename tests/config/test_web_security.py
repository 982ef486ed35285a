"""The web side's settings: the Content-Security-Policy, and production's HTTPS settings and `check --deploy`.

Production settings are read in a fresh process with PODIUM_ENV=production, as
an operator's environment sets them. The pages themselves under the policy:
tests/workshop/test_page_security.py and, in a browser, tests/browser/test_security.py.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys

from config.csp import content_security_policy
from tests.conftest import ROOT


def _directives(policy: str) -> dict[str, str]:
    return {part.split()[0]: " ".join(part.split()[1:]) for part in policy.split(";") if part.strip()}


def test_policy_runs_scripts_from_our_files_only():
    policy = _directives(content_security_policy(host="podium.example.org"))
    assert policy["script-src"] == "'self'"
    assert policy["default-src"] == "'self'"
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert policy["connect-src"] == "'self' ws://podium.example.org wss://podium.example.org"
    assert "unsafe-eval" not in content_security_policy(host=None)


def _settings_of(env: dict, *names: str) -> dict:
    """`names` of the settings a fresh process reads from `env` (over this one's, minus its own choices)."""
    base = {k: v for k, v in os.environ.items() if not re.match(r"(PODIUM_ENV|SECRET_KEY|SECURE_|SESSION_|DEBUG)", k)}
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({n: getattr(s, n, None) for n in %r}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code % (list(names),)],
        cwd=ROOT,
        env={**base, **env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


PRODUCTION = {
    "PODIUM_ENV": "production",
    "SECRET_KEY": secrets.token_urlsafe(60),
    "ALLOWED_HOSTS": "podium.example.org",
}
COOKIES = ("SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "DEBUG")


def test_production_sends_cookies_over_https_only_and_redirects_http(tmp_path):
    got = _settings_of({**PRODUCTION, "PODIUM_VAR_DIR": str(tmp_path)}, *COOKIES)
    assert got["SESSION_COOKIE_SECURE"] and got["CSRF_COOKIE_SECURE"] and got["SECURE_SSL_REDIRECT"]
    assert got["SECURE_HSTS_SECONDS"] >= 86400 and got["DEBUG"] is False


def test_development_and_plain_http_production_still_work_over_http(tmp_path):
    development = _settings_of({"PODIUM_ENV": "development", "PODIUM_VAR_DIR": str(tmp_path)}, *COOKIES)
    assert not development["SESSION_COOKIE_SECURE"] and not development["SECURE_SSL_REDIRECT"]
    assert development["SECURE_HSTS_SECONDS"] == 0
    plain = {"SESSION_COOKIE_SECURE": "0", "SECURE_SSL_REDIRECT": "0", "SECURE_HSTS_SECONDS": "0"}
    laptop = _settings_of({**PRODUCTION, **plain, "PODIUM_VAR_DIR": str(tmp_path)}, *COOKIES)
    assert (
        not laptop["SESSION_COOKIE_SECURE"] and not laptop["CSRF_COOKIE_SECURE"] and not laptop["SECURE_SSL_REDIRECT"]
    )


def test_proxy_header_is_trusted_only_when_asked(tmp_path):
    env = {**PRODUCTION, "PODIUM_VAR_DIR": str(tmp_path)}
    assert _settings_of(env, "SECURE_PROXY_SSL_HEADER")["SECURE_PROXY_SSL_HEADER"] is None
    behind = _settings_of({**env, "PODIUM_BEHIND_TLS_PROXY": "1"}, "SECURE_PROXY_SSL_HEADER")
    assert behind["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


def test_check_deploy_is_clean_in_production(tmp_path):
    """`manage.py check --deploy` finds nothing but the two HSTS choices left to the operator's domain."""
    base = {k: v for k, v in os.environ.items() if not re.match(r"(PODIUM_ENV|SECRET_KEY|SECURE_|SESSION_|DEBUG)", k)}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env={**base, **PRODUCTION, "PODIUM_VAR_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = set(re.findall(r"\((\w+\.[A-Z]\d+)\)", result.stdout + result.stderr))
    assert found <= {"security.W005", "security.W021"}, result.stdout + result.stderr


def test_metrics_are_answered_over_plain_http_in_production(rf, settings):
    """Prometheus scrapes /metrics over plain HTTP: answered, not redirected; pages still go to HTTPS. (/healthz and
    /readyz never reach Django: tests/ops/test_health.py.)"""
    from django.middleware.security import SecurityMiddleware

    settings.SECURE_SSL_REDIRECT = True
    middleware = SecurityMiddleware(lambda request: None)
    assert middleware.process_request(rf.get("/metrics")) is None
    assert middleware.process_request(rf.get("/decks/")).status_code == 301
