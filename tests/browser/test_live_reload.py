"""Live reload for authors in the browser: saving the deck file changes the open page and keeps its slide;
a deck error shows as an overlay naming file and line until it is fixed."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import deck_open, live_server

pytestmark = pytest.mark.browser

SLUG = "reload-demo"
DECK = """\
# Live reload

---

# Second slide

Some text.

---

# Third slide
"""


def test_editing_the_deck_changes_the_open_page_on_the_same_slide(new_page, watch, tmp_path, artifacts_dir):
    folder = tmp_path / "slides"
    folder.mkdir()
    path = folder / f"{SLUG}.md"
    path.write_text(DECK, encoding="utf-8")
    with live_server(tmp_path, slides=folder, slug=SLUG, extra_env={"PODIUM_LIVE_RELOAD": "1"}) as server:
        page = new_page()
        deck_open(page, server.url(f"/decks/{SLUG}/#/2"))
        expect(page.locator("#stage #slide-2 h1")).to_have_text("Second slide")

        path.write_text(DECK.replace("Some text.", "Some text, edited."), encoding="utf-8")
        expect(page.locator("#stage #slide-2")).to_contain_text("Some text, edited.")
        expect(page.locator("#stage #slide-2")).to_have_class(re.compile(r"\bis-current\b"))
        assert page.url.endswith("#/2")

        broken = DECK.replace("Some text.", "Some text.\n\n```check\n```")
        path.write_text(broken, encoding="utf-8")
        overlay = page.locator("#reload-overlay")
        expect(overlay).to_be_visible()
        expect(overlay).to_contain_text(f"{SLUG}.md:9: a !check needs a command")
        page.screenshot(path=str(artifacts_dir / "live-reload-error.png"))

        path.write_text(DECK.replace("Some text.", "Fixed."), encoding="utf-8")
        expect(page.locator("#stage #slide-2")).to_contain_text("Fixed.")
        expect(page.locator("#reload-overlay")).to_be_hidden()
        assert page.url.endswith("#/2")
    assert watch.errors == [] and watch.offsite == []
