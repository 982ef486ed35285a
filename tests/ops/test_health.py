"""/healthz and /readyz as a probe (compose, Kubernetes) reads them: status codes and the JSON detail."""

from __future__ import annotations

import pytest

from sandbox.backends import backend_get

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("local_backend")]


def test_healthz_says_alive_without_asking_anything_else(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "alive"}
    assert "no-cache" in response["Cache-Control"]


def test_readyz_checks_the_database_the_channel_layer_and_the_sandboxes(client):
    response = client.get("/readyz")
    report = response.json()
    assert response.status_code == 200 and report["ready"] is True, report
    assert set(report["checks"]) == {"database", "channel_layer", "sandboxes"}
    assert all(check["ok"] and check["ms"] >= 0 for check in report["checks"].values())


def test_readyz_is_503_and_says_why_when_the_sandbox_engine_does_not_answer(client, settings, monkeypatch, tmp_path):
    # A Docker backend pointed at an engine socket where nothing listens: the real SDK's real failure.
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    settings.PODIUM_SANDBOX_BACKEND = "docker"
    backend_get.cache_clear()
    try:
        response = client.get("/readyz")
    finally:
        backend_get.cache_clear()
    report = response.json()
    assert response.status_code == 503 and report["ready"] is False
    assert report["checks"]["database"]["ok"] and report["checks"]["channel_layer"]["ok"]
    sandboxes = report["checks"]["sandboxes"]
    assert sandboxes["ok"] is False and "docker" in sandboxes["error"].lower(), sandboxes
