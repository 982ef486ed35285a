"""/healthz and /readyz, answered in front of Django: an ASGI middleware.

Probes name the container by its address (HAProxy's checks, a kubelet's `httpGet` to the pod's IP) and speak
plain HTTP, so through Django they would meet the ALLOWED_HOSTS check (400) and, in production, the HTTPS
redirect (301). They say nothing secret, so they are answered here, for any host and scheme, before either.
"""

from __future__ import annotations

import json

from ops.health import readiness

PROBES = ("/healthz", "/readyz")


async def probe_answer(path: str) -> tuple[int, dict]:
    """(status, JSON body) of a probe: /healthz is 200 while the process answers at all (nothing else is
    asked); /readyz is 200 when the database, the channel layer and the sandboxes answer, else 503."""
    if path == "/healthz":
        return 200, {"status": "alive"}
    report = await readiness()
    return (200 if report["ready"] else 503), report


class Probes:
    """ASGI middleware: GET or HEAD of a probe path is answered here; everything else goes on to `app`."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] not in PROBES or scope["method"] not in ("GET", "HEAD"):
            return await self.app(scope, receive, send)
        status, report = await probe_answer(scope["path"])
        body = json.dumps(report).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-cache, no-store, must-revalidate, max-age=0"),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
