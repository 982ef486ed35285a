"""/healthz and /readyz as a probe (compose's proxy, a kubelet) reads them: through the ASGI application that
daphne serves, with the container's address as the Host header and plain HTTP, in production settings too."""

from __future__ import annotations

import json

import pytest
from channels.testing import HttpCommunicator

from config.asgi import application
from sandbox.backends import backend_get

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("local_backend")]


async def probe(path: str, *, method: str = "GET", host: bytes = b"10.1.2.3:8000") -> tuple[int, dict, dict]:
    """(status, JSON body or {}, headers) of `path` asked as a probe asks: by address, over plain HTTP."""
    communicator = HttpCommunicator(application, method, path, headers=[(b"host", host)])
    response = await communicator.get_response(timeout=30)
    headers = {name.decode().lower(): value.decode() for name, value in response["headers"]}
    is_json = headers.get("content-type") == "application/json" and response["body"]
    return response["status"], (json.loads(response["body"]) if is_json else {}), headers


async def test_healthz_says_alive_without_asking_anything_else():
    status, body, headers = await probe("/healthz")
    assert status == 200 and body == {"status": "alive"}
    assert "no-cache" in headers["cache-control"]


async def test_readyz_checks_the_database_the_channel_layer_and_the_sandboxes():
    status, report, _ = await probe("/readyz")
    assert status == 200 and report["ready"] is True, report
    assert set(report["checks"]) == {"database", "channel_layer", "sandboxes"}
    assert all(check["ok"] and check["ms"] >= 0 for check in report["checks"].values())


async def test_probes_answer_an_unknown_host_and_plain_http_in_production(settings):
    # What a kubelet or HAProxy sends: the pod's address, no TLS. Other pages still refuse that host.
    settings.ALLOWED_HOSTS = ["podium.example.org"]
    settings.SECURE_SSL_REDIRECT = True
    for path in ("/healthz", "/readyz"):
        status, body, _ = await probe(path)
        assert status == 200 and body, (path, body)
    status, body, _ = await probe("/healthz", method="HEAD")
    assert status == 200 and body == {}
    page_status, _, _ = await probe("/")
    assert page_status == 400


async def test_readyz_is_503_and_says_why_when_the_sandbox_engine_does_not_answer(settings, monkeypatch, tmp_path):
    # A Docker backend pointed at an engine socket where nothing listens: the real SDK's real failure.
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    settings.PODIUM_SANDBOX_BACKEND = "docker"
    backend_get.cache_clear()
    try:
        status, report, _ = await probe("/readyz")
    finally:
        backend_get.cache_clear()
    assert status == 503 and report["ready"] is False
    assert report["checks"]["database"]["ok"] and report["checks"]["channel_layer"]["ok"]
    sandboxes = report["checks"]["sandboxes"]
    assert sandboxes["ok"] is False and "docker" in sandboxes["error"].lower(), sandboxes
