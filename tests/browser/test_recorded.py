"""Recorded outputs in the browser: where a block cannot run live, its recorded output shows, labelled and dated.

Three cases, as the learner meets them: the offline HTML export (no server at all), a server with no Docker
engine, and a run whose sandbox fails for the server's reason (a memory limit Docker refuses), not the code's.
The deck and its record are written by the test (the record as `deck rehearse --record` writes it).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from deck.parser import deck_parse
from deck.recorded import RecordedStep, Recording, code_hash, record_dump, record_path
from tests.browser.conftest import deck_open, live_server
from tests.browser.run_deck import FIRST_RUN, show_slide, wait_badge
from tests.docker_helpers import docker_remove_labelled

pytestmark = pytest.mark.browser

SLUG = "recorded-browser"
DECK = """\
# Recorded outputs

---

# Say hello

```bash
echo "hello from the record"
```
"""
WHEN = "2026-12-04T06:17:22Z"


@pytest.fixture
def slides(tmp_path) -> Path:
    """A slides folder with the deck and its record (block s2b0 printed two lines, exit 0, 0.4 s)."""
    folder = tmp_path / "slides"
    folder.mkdir()
    path = folder / f"{SLUG}.md"
    path.write_text(DECK, encoding="utf-8")
    deck = deck_parse(path=path)
    block = deck.slides[1].blocks[0]
    step = RecordedStep(
        "s2b0", "shell", 2, block.line, "ok", code_hash(block.text), 0, False, 0.4, ("hello from the record", "bye")
    )
    recording = Recording(record_path(path), WHEN, "docker", {"s2b0": step})
    record_path(path).write_text(record_dump(recording, deck=deck), encoding="utf-8")
    return folder


def assert_recorded_shown(figure) -> None:
    expect(figure).to_be_visible()
    expect(figure.locator(".recorded-badge")).to_have_text("recorded")
    expect(figure.locator("figcaption")).to_contain_text("on 4 Dec 2026")
    expect(figure.locator("figcaption")).to_contain_text("exit 0")
    expect(figure.locator(".recorded-text")).to_have_text("hello from the record\nbye")


def test_the_offline_export_shows_recorded_outputs_with_no_server(new_page, watch, slides, tmp_path, artifacts_dir):
    out = tmp_path / "talk.html"
    call_command("deck", "export", str(slides / f"{SLUG}.md"), "--format", "html", "-o", str(out), stderr=StringIO())
    page = new_page()
    page.set_content(out.read_text(encoding="utf-8"))  # about:blank: no server behind the page
    page.keyboard.press("ArrowRight")
    slide = page.locator("#slide-2")
    expect(slide).to_be_visible()
    assert_recorded_shown(slide.locator("figure.recorded-output"))
    page.screenshot(path=str(artifacts_dir / "recorded-export.png"))
    assert watch.errors == [] and watch.offsite == []


def test_with_no_engine_the_page_shows_the_recorded_output(new_page, watch, slides, tmp_path, artifacts_dir):
    no_engine = {"PODIUM_SANDBOX_BACKEND": "docker", "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    with live_server(tmp_path, slides=slides, slug=SLUG, extra_env=no_engine) as server:
        page = new_page()
        deck_open(page, server.url(f"/decks/{SLUG}/#/2"))
        block = page.locator("#stage #slide-2 .code-block")
        expect(block.locator(".run-button")).to_be_disabled()
        expect(block.locator(".run-unavailable")).to_contain_text("Run is not available")
        assert_recorded_shown(block.locator("figure.recorded-output"))
        page.screenshot(path=str(artifacts_dir / "recorded-no-engine.png"))
    assert watch.errors == [] and watch.offsite == []


@pytest.mark.docker
def test_a_sandbox_failing_for_the_servers_reason_shows_the_recorded_output(
    new_page, watch, slides, tmp_path, docker_client, artifacts_dir
):
    instance = f"recorded-{uuid.uuid4().hex[:8]}"
    broken = {
        "PODIUM_INSTANCE": instance,
        "PODIUM_SANDBOX_BACKEND": "docker",
        "PODIUM_SANDBOX_SECURITY": os.environ.get("PODIUM_SANDBOX_SECURITY") or "userns",
        "PODIUM_SANDBOX_MEMORY": "4m",  # below Docker's minimum: no sandbox can be made, whatever the code
    }
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(docker_remove_labelled, docker_client, label=f"podium.instance={instance}")
        server = cleanup.enter_context(live_server(tmp_path, slides=slides, slug=SLUG, extra_env=broken))
        page = new_page()
        deck_open(page, server.url(f"/decks/{SLUG}/#/2"))
        show_slide(page, 2)
        figure = page.locator("#stage #slide-2 figure.recorded-output")
        expect(figure).to_be_attached()
        expect(figure).to_be_hidden()  # Run works as far as the page knows: no recorded output yet
        page.locator("#stage #slide-2 .run-button").click()
        wait_badge(page, 2, "error", timeout=FIRST_RUN)
        assert_recorded_shown(figure)
        page.screenshot(path=str(artifacts_dir / "recorded-after-error.png"))
    assert watch.offsite == []
