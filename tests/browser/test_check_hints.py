"""Hints in the browser: after a failed "Check my work" the deck's hint shows under it, the second hint too
once the check failed `after=N` times in a row, and none once it passes (a real Docker sandbox)."""

from __future__ import annotations

import contextlib
import os
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import deck_open, live_server
from tests.browser.run_deck import FIRST_RUN, show_slide, wait_badge
from tests.docker_helpers import docker_remove_labelled

pytestmark = [pytest.mark.browser, pytest.mark.docker]

SLUG = "hints-browser"
FIRST = "Make the file /tmp/hinted first."
SECOND = "Run: touch /tmp/hinted"
DECK = f"""\
# Hints

---

# Make a file

```bash
echo ready
```

```check message="The file is there" hint="{FIRST}" hint2="{SECOND}" after=2
test -f /tmp/hinted
```
"""


def test_hints_show_after_failed_checks_and_go_when_it_passes(new_page, watch, tmp_path, docker_client, artifacts_dir):
    folder = tmp_path / "slides"
    folder.mkdir()
    (folder / f"{SLUG}.md").write_text(DECK, encoding="utf-8")
    instance = f"hints-{uuid.uuid4().hex[:8]}"
    env = {
        "PODIUM_INSTANCE": instance,
        "PODIUM_SANDBOX_BACKEND": "docker",
        "PODIUM_SANDBOX_SECURITY": os.environ.get("PODIUM_SANDBOX_SECURITY") or "userns",
    }
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(docker_remove_labelled, docker_client, label=f"podium.instance={instance}")
        server = cleanup.enter_context(live_server(tmp_path, slides=folder, slug=SLUG, extra_env=env))
        page = new_page()
        deck_open(page, server.url(f"/decks/{SLUG}/#/2"))
        show_slide(page, 2)
        slide = page.locator("#stage #slide-2")
        slide.locator(".run-button").click()
        wait_badge(page, 2, "^exit 0$", timeout=FIRST_RUN)

        check = slide.locator(".step-check")
        hints = check.locator(".check-hints li")
        check.locator(".check-button").click()
        expect(check.locator(".check-badge")).to_have_text("not yet")
        expect(hints).to_have_text([FIRST])
        check.locator(".check-button").click()
        expect(hints).to_have_text([FIRST, SECOND])
        page.screenshot(path=str(artifacts_dir / "check-hints.png"))

        # The attendee follows the hint: edit the block, run it, check again.
        slide.locator("[data-run-edit]").click()
        slide.locator("textarea.run-editor").fill("touch /tmp/hinted && echo touched")
        slide.locator(".run-button").click()
        expect(slide.locator(".xterm-rows")).to_contain_text("touched")
        wait_badge(page, 2, "^exit 0$")
        check.locator(".check-button").click()
        expect(check.locator(".check-badge")).to_have_text("done")
        expect(check.locator(".check-hints")).to_be_hidden()
    assert watch.offsite == []
