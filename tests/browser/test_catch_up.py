"""Catch me up in headless Chromium, on the shipped deck and a real Docker sandbox.

A fresh attendee opens slide 20 (Docker Compose), presses "Catch me up to this slide" with the keyboard and
accepts the confirmation: the page shows "Catching up: step n of 6 — …" while the blocks of slides 14 to 19
run (each under its block), then that they are caught up; their sandbox then has what those slides made:
`docker images` (the slide 20 block, edited) lists 12factor:1.0.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SHIPPED_DECK, PodiumServer, Watch, deck_open
from tests.browser.run_deck import RUN, docker_podium, person_context

pytestmark = [pytest.mark.browser, pytest.mark.docker]

SLUG = "intro-docker-kubernetes"
SLIDE = 20  # Run with Docker Compose; slides 14 to 19 hold 6 runnable blocks
# Six steps of the shipped deck (two image builds, MySQL starting) on a busy two-core machine.
CATCH_UP_MS = 900_000


@pytest.fixture(scope="module")
def shipped_server(tmp_path_factory, docker_client) -> Iterator[PodiumServer]:
    with docker_podium(
        tmp_path_factory.mktemp("catchup"), docker_client, name="browser-catchup", slides=SHIPPED_DECK.parent, slug=SLUG
    ) as server:
        yield server


def test_a_fresh_attendee_on_slide_20_is_caught_up_and_has_the_images(chromium, shipped_server, artifacts_dir):
    watch = Watch()
    context = person_context(chromium, watch)
    try:
        page = context.new_page()
        page.on("pageerror", lambda error: watch.errors.append(f"{page.url}: {error}"))
        page.on("dialog", lambda dialog: dialog.accept())
        deck_open(page, shipped_server.url(f"/decks/{SLUG}/#/{SLIDE}"))
        page.wait_for_selector(f"#slide-{SLIDE}.is-current")
        button = page.get_by_role("button", name="Catch me up to this slide")
        expect(button).to_be_enabled()

        button.focus()
        page.keyboard.press("Enter")
        status = page.locator("#catch-up-status")
        expect(status).to_contain_text("Catching up: step ", timeout=RUN)
        expect(status).to_contain_text(" of 6 — ")
        page.screenshot(path=str(artifacts_dir / "catch-up-progress.png"))

        expect(status).to_have_text("You are caught up: 6 steps ran, up to slide 19.", timeout=CATCH_UP_MS)
        page.screenshot(path=str(artifacts_dir / "catch-up-done.png"))
        # Each step ran as a run of its block: slide 14's build shows its end under it.
        expect(page.locator("#stage #slide-14 .run-badge")).to_have_text("exit 0")

        block = page.locator(f"#stage #slide-{SLIDE} .code-block[data-block='s{SLIDE}b1']")
        block.locator(".run-edit").click()
        block.locator(".run-editor").fill("docker images --format '{{.Repository}}:{{.Tag}}'")
        block.locator(".run-button").click()
        expect(block.locator(".run-badge")).to_have_text("exit 0", timeout=RUN)
        expect(block.locator(".xterm-rows")).to_contain_text("12factor:1.0")
        assert watch.offsite == [] and watch.errors == []
    finally:
        context.close()
