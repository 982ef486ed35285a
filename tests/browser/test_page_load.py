"""A deck page whose own files fail to load (a network change while it loads) loads itself again, or says so.

Chromium cancels every request in flight when the host's addresses change
(net::ERR_NETWORK_CHANGED: Wi-Fi roaming, a VPN, Docker making a network on
the same machine). Here the loss is made on purpose, by aborting requests.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCRIPTS_READY, deck_open

pytestmark = pytest.mark.browser


def lose_script(page, path: str, times: int) -> list[str]:
    """Make the next `times` requests for one of the deck's own scripts fail as a changing network makes
    them fail; the requests seen, lost or not."""
    seen: list[str] = []

    def handle(route):
        seen.append(route.request.url)
        if len(seen) <= times:
            route.abort("internetdisconnected")
        else:
            route.continue_()

    page.route(f"**/static/{path}", handle)
    return seen


def test_a_deck_page_that_lost_one_of_its_scripts_loads_itself_again(new_page, podium_server):
    # slideshow.js is imported by the entry module: losing it loses the whole module graph.
    page = new_page()
    seen = lose_script(page, "podium/js/deck/slideshow.js", times=1)
    page.goto(podium_server.url(f"/decks/{podium_server.slug}/"))
    page.wait_for_selector(SCRIPTS_READY, state="attached")
    # Which slide shows depends on whether an earlier test left the talk live (the page then follows
    # the presenter); what matters here is that the deck came to life at all.
    expect(page.locator("#stage > .slide.is-current")).to_be_visible()
    expect(page.locator(".load-failed")).to_have_count(0)
    assert len(seen) == 2  # lost once, then loaded by the page's own second load


def test_a_deck_page_that_keeps_losing_a_file_says_so_after_three_loads(new_page, podium_server):
    page = new_page()
    seen = lose_script(page, "podium/css/runs.css", times=100)
    page.goto(podium_server.url(f"/decks/{podium_server.slug}/"))
    notice = page.locator(".load-failed")
    expect(notice).to_be_visible()
    expect(notice).to_have_attribute("role", "alert")
    expect(notice).to_contain_text("did not load completely")
    assert len(seen) == 4  # the first load and three more, then no more
    page.wait_for_timeout(1500)  # longer than the pause before a fourth reload would be
    assert len(seen) == 4
    # Once the network is back, the person's own reload works, and the count starts again.
    page.unroute("**/static/podium/css/runs.css")
    deck_open(page)
    expect(page.locator(".load-failed")).to_have_count(0)
    expect(page.locator("#stage > .slide.is-current")).to_be_visible()
    assert page.evaluate("() => Object.keys(sessionStorage).filter((key) => key.startsWith('podium-reloads'))") == []
