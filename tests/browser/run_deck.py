"""The fixture deck of the Run button tests (fixtures/runs-browser.md), a Podium serving it with the Docker
backend, and what a test does on its pages: show a slide, wait for a block's badge. Used by test_runs.py
and test_progress.py; a support module, not a test module.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

from tests.browser.conftest import LAPTOP, PodiumServer, Watch, live_server
from tests.docker_helpers import docker_remove_labelled

FIXTURES = Path(__file__).parent / "fixtures"
SLUG = "runs-browser"
COUNTING, FAILING, LONG, PYTHON = 2, 3, 4, 5  # slide numbers in fixtures/runs-browser.md
# Creating a sandbox (container, inner Docker engine) on a busy 2-core machine can take a while.
FIRST_RUN = 180_000
RUN = 60_000


@contextlib.contextmanager
def docker_podium(
    tmp: Path, docker_client, *, name: str, extra_env: dict | None = None, slides: Path = FIXTURES, slug: str = SLUG
) -> Iterator[PodiumServer]:
    """Podium on the fixture deck (or deck `slug` in the folder `slides`) with the Docker backend, under its own
    install label (`server.env`'s PODIUM_INSTANCE); its sandboxes go at the end. `extra_env` adds settings."""
    instance = f"{name}-{uuid.uuid4().hex[:8]}"
    extra = {
        "PODIUM_INSTANCE": instance,
        # `--privileged` fails on these machines; the explicit capability set works everywhere.
        "PODIUM_SANDBOX_SECURITY": os.environ.get("PODIUM_SANDBOX_SECURITY") or "userns",
        "PODIUM_SANDBOX_BACKEND": "docker",
        **(extra_env or {}),
    }
    try:
        with live_server(tmp, slides=slides, slug=slug, extra_env=extra) as server:
            yield server
    finally:
        docker_remove_labelled(docker_client, label=f"podium.instance={instance}")


def person_context(chromium, watch: Watch):
    """A browser context (one person) whose requests off this machine are aborted and recorded."""
    context = chromium.new_context(viewport=LAPTOP)
    context.set_default_timeout(15_000)

    def route(route):
        if urlparse(route.request.url).hostname in {"127.0.0.1", "localhost"}:
            route.continue_()
        else:
            watch.offsite.append(route.request.url)
            route.abort()

    context.route("**/*", route)
    return context


def show_slide(page, number: int) -> None:
    page.evaluate("(n) => { window.location.hash = `#/${n}`; }", number)
    page.wait_for_selector(f"#slide-{number}.is-current")


def wait_badge(page, number: int, pattern: str, timeout: int = RUN) -> None:
    """Wait until the status badge of slide `number`'s block matches the regular expression `pattern`."""
    page.wait_for_function(
        "([n, pattern]) => new RegExp(pattern).test(document.querySelector(`#stage #slide-${n} .run-badge`)"
        "?.textContent ?? '')",
        arg=[number, pattern],
        timeout=timeout,
    )
