"""/metrics as Prometheus reads it: only for the operator, and figures that follow what happened."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.test import AsyncClient
from prometheus_client.parser import text_string_to_metric_families

from ops.access import REFUSED
from rooms.pool import pool_fill
from rooms.services import room_open
from tests.sandbox.runs_support import SLUG, follower, new_session, page

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("local_backend")]


def samples(text: str) -> dict[tuple, float]:
    """{(sample name, (label, value), ...): value} of a scrape."""
    return {
        (sample.name, *sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def scrape() -> dict[tuple, float]:
    response = await AsyncClient().get("/metrics")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return samples(response.content.decode())


def test_metrics_answer_the_tokens_bearer_and_the_configured_networks_only(client, settings):
    settings.PODIUM_METRICS_TOKEN = "s3cret-token"
    settings.PODIUM_METRICS_NETWORKS = "127.0.0.1/32, 10.20.0.0/16"
    stranger = client.get("/metrics", REMOTE_ADDR="192.0.2.7")
    assert stranger.status_code == 403 and stranger.content.decode() == REFUSED
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7", HTTP_AUTHORIZATION="Bearer s3cret-token").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.20.3.4").status_code == 200
    settings.PODIUM_METRICS_TOKEN = ""  # no token configured: "Bearer " alone opens nothing
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7", HTTP_AUTHORIZATION="Bearer ").status_code == 403


async def test_runs_sandboxes_pools_sockets_followers_and_loop_lag_are_counted(local_backend):
    room = await database_sync_to_async(room_open)(deck_slug=SLUG, capacity=5, pool_size=1)
    await sync_to_async(pool_fill)(room=room, backend=local_backend, prime=False)
    before = await scrape()
    assert before[("podium_pool_size", ("room", room.code))] == 1
    assert before[("podium_pool_ready", ("room", room.code))] == 1
    assert before[("podium_websockets", ("kind", "runs"))] == 0

    async with page(await new_session()) as me, follower(slug=SLUG):
        assert (await me.run("echo hi"))[0]["status"] == "ok"
        assert (await me.run("echo oops >&2; exit 4"))[0]["status"] == "failed"
        during = await scrape()
        assert during[("podium_websockets", ("kind", "runs"))] == 1
        assert during[("podium_websockets", ("kind", "follow"))] == 1
        assert during[("podium_followers", ("talk", SLUG))] == 1
    await asyncio.sleep(0.3)  # the lag sampler wakes every 0.1 s
    after = await scrape()

    finished = ("podium_runs_finished_total", ("kind", "shell"))
    assert after[(*finished, ("status", "ok"))] - before.get((*finished, ("status", "ok")), 0) == 1
    assert after[(*finished, ("status", "failed"))] - before.get((*finished, ("status", "failed")), 0) == 1
    assert after[("podium_runs_started_total", ("kind", "shell"))] >= 2
    assert after[("podium_run_first_output_seconds_count",)] >= 2
    assert after[("podium_run_duration_seconds_count",)] >= 2
    assert after[("podium_sandboxes", ("state", "ready"))] >= 2  # the attendee's and the pool's
    assert after[("podium_sandbox_create_seconds_count",)] >= 1
    assert after[("podium_runs_active", ("status", "queued"))] == 0
    assert after[("podium_websockets", ("kind", "runs"))] == 0 and ("podium_followers", ("talk", SLUG)) not in after
    assert after[("podium_event_loop_lag_seconds_count",)] >= 1
