"""Fixtures of the sandbox tests: the checks deck, an attendee, a sandbox worker, rehearsals on Docker.

The runs deck and the sandbox backends a test runs on (`runs_deck`,
`local_backend`, `docker_backend`) are shared with the rooms tests, in
`tests/sandbox_fixtures.py`. Helpers that are not fixtures (a page's runs
socket, sessions, waiting) are in `tests/sandbox/runs_support.py`; fixture
decks under `fixtures/<topic>/`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os

import pytest
from channels.layers import get_channel_layer
from channels.worker import Worker
from django.contrib.sessions.backends.db import SessionStore

from config.asgi import application
from sandbox.backends import backend_get
from sandbox.groups import WORKER_CHANNEL
from sandbox.identity import attendee_for
from sandbox.worker import SandboxWorker
from tests.docker_helpers import docker_remove_labelled
from tests.sandbox.runs_support import (
    CHECKS_DECKS,
    SLUG,
    session_key,
)


@pytest.fixture
def checks_deck(settings, runs_deck):
    """The checks fixture deck, on top of the run pipeline's test settings."""
    settings.PODIUM_SLIDES_DIR = CHECKS_DECKS


@pytest.fixture
def attendee(db, runs_deck):
    """An attendee of the runs fixture deck, as a first visit with a session makes one (no websocket)."""
    return attendee_for(session=SessionStore(session_key=session_key()), deck_slug=SLUG, user=None)


@pytest.fixture
async def sandbox_worker(settings):
    """A `runworker sandbox-runs` equivalent on this test's loop: runs go through the channel layer to it."""
    settings.PODIUM_EMBEDDED_WORKER = False
    SandboxWorker.reconciled = False
    worker = Worker(application=application, channels=[WORKER_CHANNEL], channel_layer=get_channel_layer())
    task = asyncio.create_task(worker.handle())
    yield worker
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    for instance in list(worker.application_instances.values()):
        instance["future"].cancel()


@pytest.fixture
def docker_rehearsal(settings, docker_client):
    """Rehearsals on the real engine; whatever a rehearsal left (a kept sandbox, a failure) is removed afterwards."""
    settings.PODIUM_SANDBOX_BACKEND = "docker"
    settings.PODIUM_SANDBOX_SECURITY = os.environ.get("PODIUM_SANDBOX_SECURITY") or "userns"
    settings.PODIUM_KUBECONFIG = ""
    backend_get.cache_clear()
    yield docker_client
    docker_remove_labelled(docker_client, label=f"podium.instance={settings.PODIUM_INSTANCE}-rehearsal")
    backend_get.cache_clear()
