"""The operator's endpoints: /healthz (alive), /readyz (able to serve, with the detail), /metrics (Prometheus)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from ops.access import REFUSED, metrics_allowed
from ops.health import readiness


@never_cache
def healthz_view(request: HttpRequest) -> JsonResponse:
    """200 while the process answers at all (a liveness probe: nothing else is asked)."""
    return JsonResponse({"status": "alive"})


@never_cache
async def readyz_view(request: HttpRequest) -> JsonResponse:
    """200 when the database, the channel layer and the sandboxes answer; else 503. The JSON says which and why."""
    report = await readiness()
    return JsonResponse(report, status=200 if report["ready"] else 503)


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    """The metrics in Prometheus' text format, for the token's bearer or the metrics networks only."""
    if not metrics_allowed(request):
        return HttpResponse(REFUSED, status=403, content_type="text/plain; charset=utf-8")
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
