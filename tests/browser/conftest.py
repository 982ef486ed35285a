"""A real Podium (daphne in a subprocess) and Debian's headless Chromium driven through Playwright.

The server runs the real ASGI app on a free loopback port with its own SQLite
file and slides folder, so the browser tests see exactly what an attendee sees:
HTTP pages, static files and the follow websocket. Chromium is /usr/bin/chromium
(never a downloaded browser); every request that would leave the machine is
aborted and recorded, so a test can assert that nothing loads from the internet.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from tests.live_server import PodiumServer, live_server  # noqa: F401 - the browser tests import them here

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_DECK = ROOT / "slides" / "intro-docker-kubernetes.md"
SEED_DECK = Path("/work/shared/seed/intro-docker-kubernetes.md")
SLUG = "intro-docker-kubernetes"
CHROMIUM = "/usr/bin/chromium"
# How long a page action or an `expect` waits for what it expects (Playwright's own default for `expect` is
# 5 s: too short for a CI machine that builds images and runs a cluster beside the browser). A wait ends as
# soon as its condition holds, so this costs nothing when things work.
WAIT_MS = 20_000
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
LAPTOP = {"width": 1366, "height": 768}


# Chromium drops open websockets with this when the host's interfaces change, which happens
# whenever Docker creates a sandbox network during a test; the pages reconnect by design.
HOST_NETWORK_CHANGED = "ERR_NETWORK_CHANGED"


def console_error(watch, page, message) -> None:
    """Record a console error of the page, except the host's network changing under the browser."""
    if message.type == "error" and HOST_NETWORK_CHANGED not in message.text:
        watch.errors.append(f"{page.url}: {message.text}")


# A live deck page says its scripts run with html[data-scripts="ready"] (static/podium/js/deck/page.js).
SCRIPTS_READY = "html[data-scripts='ready']"
DECK_OPEN_TRIES = 3


def deck_open(page, url: str | None = None):
    """Open a live deck page (audience or presenter) at `url`, or reload it (no `url`), and wait until its
    scripts run; the response.

    Docker creating or removing a network on this machine changes the host's addresses, and Chromium then
    cancels every request in flight (net::ERR_NETWORK_CHANGED), as on a laptop whose Wi-Fi changes. When
    one of the page's own files is lost so, the page loads itself again (static/podium/js/boot.js); when
    boot.js itself was among them, or the page's own address was, it cannot, and this does what a person
    would: load the page again, up to DECK_OPEN_TRIES times, and only after that error.
    """
    lost: list[str] = []

    def failed(request) -> None:
        if HOST_NETWORK_CHANGED in (request.failure or ""):
            lost.append(request.url)

    page.on("requestfailed", failed)
    try:
        for attempt in range(1, DECK_OPEN_TRIES + 1):
            lost.clear()
            try:
                response = page.goto(url) if url else page.reload()
            except PlaywrightError as error:
                if HOST_NETWORK_CHANGED in str(error) and attempt < DECK_OPEN_TRIES:
                    continue
                raise
            try:
                page.wait_for_selector(SCRIPTS_READY, state="attached")
                return response
            except PlaywrightTimeout:
                if not lost or attempt == DECK_OPEN_TRIES:
                    raise
        raise AssertionError("unreachable")
    finally:
        page.remove_listener("requestfailed", failed)


def _slides_folder(tmp: Path) -> Path:
    """The shipped slides/ folder once the deck is there; until then the seed deck in a folder of its own."""
    if SHIPPED_DECK.exists():
        return SHIPPED_DECK.parent
    folder = tmp / "slides"
    folder.mkdir()
    shutil.copy(SEED_DECK, folder / SEED_DECK.name)
    return folder


@pytest.fixture(scope="package")
def podium_server(tmp_path_factory) -> Iterator[PodiumServer]:
    """daphne serving config.asgi on a free port, with a fresh SQLite database and the deck folder."""
    tmp = tmp_path_factory.mktemp("podium-live")
    with live_server(tmp, slides=_slides_folder(tmp), slug=SLUG) as server:
        yield server


# Package scope, not session: Playwright's sync API keeps an event loop marked running while it
# lives, which would break every asyncio test collected after this folder.
@pytest.fixture(scope="package")
def chromium() -> Iterator:
    """Debian's Chromium, headless, launched once for the browser tests."""
    from playwright.sync_api import sync_playwright

    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@dataclass
class Watch:
    """What the pages of one test did that they should not: requests off the machine, script errors."""

    offsite: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def watch() -> Watch:
    return Watch()


@pytest.fixture
def new_page(chromium, watch: Watch) -> Iterator:
    """Factory of pages, each in its own browser context (its own cookies: one person per page)."""
    contexts = []

    def make(viewport: dict | None = None, **options):
        context = chromium.new_context(viewport=viewport or LAPTOP, **options)
        context.set_default_timeout(WAIT_MS)

        def route(route):
            host = urlparse(route.request.url).hostname
            if host in {"127.0.0.1", "localhost"} or route.request.url.startswith("data:"):
                route.continue_()
            else:
                watch.offsite.append(route.request.url)
                route.abort()

        context.route("**/*", route)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: watch.errors.append(f"{page.url}: {error}"))
        page.on("console", lambda message: console_error(watch, page, message))
        return page

    yield make
    for context in contexts:
        context.close()
