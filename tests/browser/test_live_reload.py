"""Live reload for authors in the browser: saving the deck file changes the open page and keeps its slide;
a deck error shows as an overlay naming file and line until it is fixed; `deck serve FILE --watch` does it too."""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import deck_open, live_server
from tests.live_server import PYTHON, ROOT, _free_port, _wait_until_serving

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


def test_deck_serve_watch_reloads_an_open_page(new_page, watch, tmp_path):
    """`manage.py deck serve FILE --watch` switches live reload on, even where the environment leaves it off."""
    folder = tmp_path / "talks"
    folder.mkdir()
    path = folder / f"{SLUG}.md"
    path.write_text(DECK, encoding="utf-8")
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL"}}
    env |= {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}",
        "PODIUM_VAR_DIR": str(tmp_path / "var"),
        "PODIUM_ENV": "test",  # live reload off by default: --watch is what switches it on
        "PODIUM_SERVE_STATIC": "1",
        "DEBUG": "1",
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(PYTHON), "manage.py", "deck", "serve", str(path), "--watch", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_serving(f"http://127.0.0.1:{port}/", server, log)
        assert f"Presenter: http://127.0.0.1:{port}/decks/{SLUG}/presenter/?token=" in log.read_text()
        page = new_page()
        deck_open(page, f"http://127.0.0.1:{port}/decks/{SLUG}/#/2")
        path.write_text(DECK.replace("Some text.", "Served and edited."), encoding="utf-8")
        expect(page.locator("#stage #slide-2")).to_contain_text("Served and edited.")
        assert page.url.endswith("#/2")
    finally:
        server.terminate()  # the command passes SIGTERM on to its daphne
        server.wait(timeout=30)
    assert watch.errors == [] and watch.offsite == []
