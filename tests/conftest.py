"""Shared fixtures: paths, and the environment every test runs in."""

from __future__ import annotations

import faulthandler
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

# Docker fixtures (docker_client, docker_scope, base_images), the test cluster's (cluster,
# cluster_namespace) and the run pipeline's (runs_deck, local_backend, docker_backend) for every test folder.
pytest_plugins = ["tests.docker_helpers", "tests.cluster.helpers", "tests.sandbox_fixtures"]

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"


@pytest.fixture
def artifacts_dir() -> Path:
    """Folder for screenshots and other files a person may want to look at after CI (git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix) -> Iterator[None]:
    """On SQLite, the test database is a file, as in production, not Django's default in-memory one.

    Podium's database calls come from several threads at once (the one thread short calls share, a pool for
    long ones, pool fills). In-memory SQLite shares one cache between connections, where a reader meeting
    another connection's write fails at once with "database table is locked" instead of waiting its turn:
    tests then failed on a concurrency production never has. A file in WAL mode waits, as production does.
    """
    from django.conf import settings

    database = settings.DATABASES["default"]
    if not database["ENGINE"].endswith("sqlite3"):
        yield
        return
    name = Path(tempfile.gettempdir()) / f"podium-test-{uuid.uuid4().hex[:12]}.sqlite3"
    database.setdefault("TEST", {})["NAME"] = str(name)
    yield
    for leftover in (name, name.with_name(f"{name.name}-wal"), name.with_name(f"{name.name}-shm")):
        leftover.unlink(missing_ok=True)  # Django removes the file; the write-ahead log and index may stay


@pytest.fixture(autouse=True)
def _rate_limits_start_afresh(monkeypatch):
    """Every test counts its rate limits afresh: under a key prefix of its own, so nothing is flushed (with
    REDIS_URL set the cache is a Redis that other test sessions may be using)."""
    monkeypatch.setattr("config.ratelimit._PREFIX", f"podium:rate:test-{uuid.uuid4().hex}")


EXIT_GRACE = 120  # seconds the interpreter may take to exit once the session is over


def pytest_unconfigure(config) -> None:
    """A test run that is over must end: a thread left blocked in a backend call would keep the interpreter
    from exiting (the thread pools are joined at exit) until CI's own limit killed the whole job, with no
    word of where. So past EXIT_GRACE, print every thread's stack and exit with 1: the hang is then a
    failure with its cause on screen."""
    faulthandler.dump_traceback_later(EXIT_GRACE, exit=True)


@pytest.fixture(autouse=True)
def _a_channel_layer_per_test(request):
    """Each test gets channel layers of its own, as each runs on an event loop of its own.

    The Redis layer is one object per process, and its receive locks belong to the event loop that made them.
    A socket a test leaves open (a consumer, or its group's subscription in config.fanout) is destroyed with
    that test's loop in the middle of a receive, and the lock it held then failed every later test's receive
    ("Lock ... is bound to a different event loop"). A real process has one loop and never meets this. A test
    that leaves a receive or a subscription open is named in a warning.
    """
    from channels.layers import channel_layers

    from config import fanout

    fanout._fanouts.clear()
    channel_layers.backends.clear()
    yield
    stuck = [alias for alias, layer in channel_layers.backends.items() if getattr(layer, "receive_count", 0)]
    if fanout._fanouts or stuck:
        warnings.warn(
            f"{request.node.nodeid} left receives open: layers {stuck}, subscriptions {sorted(fanout._fanouts)}",
            stacklevel=1,
        )
