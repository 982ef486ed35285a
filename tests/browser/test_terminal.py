"""The terminal panel as an attendee uses it: a real daphne, real Docker sandboxes, headless Chromium.

An attendee runs a block that moves to /tmp, opens their terminal with the ` key, types, resizes the
window, reloads and finds the same shell; a second attendee's terminal is another sandbox; the presenter
view has the panel too. Screenshots go to tests/artifacts/ (terminal-*.png).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PodiumServer, deck_open
from tests.browser.run_deck import FIRST_RUN, docker_podium
from tests.browser.terminal_page import DECKS, SLUG, command, open_terminal, people, terminal_flow

pytestmark = [pytest.mark.browser, pytest.mark.docker]


@pytest.fixture(scope="module")
def terminal_server(tmp_path_factory, docker_client) -> Iterator[PodiumServer]:
    tmp = tmp_path_factory.mktemp("terminal-live")
    with docker_podium(tmp, docker_client, name="browser-terminal", slides=DECKS, slug=SLUG) as server:
        yield server


@pytest.fixture
def person(chromium, terminal_server) -> Iterator:
    with people(chromium) as make:
        yield make


def test_the_terminal_opens_where_runs_left_off_types_resizes_and_comes_back(person, terminal_server, artifacts_dir):
    terminal_flow(person(), terminal_server, artifacts_dir, "terminal-audience")


def test_a_second_attendee_has_their_own_sandbox_and_the_presenter_a_terminal_too(
    person, terminal_server, artifacts_dir
):
    first, second = person(), person()
    for page, name in ((first, "first"), (second, "second")):
        deck_open(page, terminal_server.url(f"/decks/{SLUG}/"))
        open_terminal(page)
        command(page, f"echo {name} > /root/whoami; echo saved", "(saved)")
    # The same file, written by both: each sees their own.
    assert command(first, "cat /root/whoami", r"(first|second)") == "first"
    assert command(second, "cat /root/whoami", r"(first|second)") == "second"

    presenter = person()
    deck_open(presenter, terminal_server.presenter_link)
    presenter.get_by_role("button", name="Terminal").click()
    expect(presenter.locator("#term-panel")).to_be_visible()
    presenter.wait_for_function("() => window.podiumTerminal", timeout=FIRST_RUN)
    presenter.locator("#term-panel .xterm-helper-textarea").focus()
    assert command(presenter, "echo presenter-$((1+1))", "(presenter-2)", timeout=FIRST_RUN) == "presenter-2"
    expect(presenter.locator(".pv-bar")).to_be_in_viewport()
    presenter.screenshot(path=str(artifacts_dir / "terminal-presenter.png"))


def test_the_presenter_watches_an_attendees_terminal_from_the_dashboard(person, terminal_server, artifacts_dir):
    presenter = person()
    deck_open(presenter, terminal_server.presenter_link)
    presenter.click("#room-open")
    code = presenter.locator("#room-link").inner_text().removeprefix("Room ").replace("-", "")
    attendee = person()
    attendee.goto(terminal_server.url("/join/"))
    attendee.fill("#join-code", code)
    attendee.fill("#join-name", "Ada")
    attendee.click("button[type=submit]")
    attendee.wait_for_selector("html[data-scripts='ready']")
    open_terminal(attendee)
    command(attendee, "echo before-$((2*21))", "(before-42)")
    expect(attendee.locator(".term-watched")).to_be_hidden()

    dashboard = presenter.context.new_page()
    dashboard.goto(terminal_server.url(f"/rooms/{code}/"))
    row = dashboard.locator("#roster-body tr", has=dashboard.locator("th", has_text="Ada"))
    row.get_by_role("button", name="Terminal").click()
    expect(dashboard.locator("#watch-dialog")).to_be_visible()
    dashboard.wait_for_function(
        "() => window.podiumWatched && (() => { const b = window.podiumWatched.buffer.active; const l = [];"
        " for (let y = 0; y < b.length; y += 1) l.push(b.getLine(y).translateToString(true));"
        " return l.includes('before-42'); })()"
    )
    expect(attendee.locator(".term-watched")).to_be_visible()
    expect(attendee.locator(".term-watched")).to_contain_text("The presenter is watching")
    command(attendee, "echo while-watched", "(while-watched)")
    dashboard.wait_for_function(
        "() => { const b = window.podiumWatched.buffer.active; const l = [];"
        " for (let y = 0; y < b.length; y += 1) l.push(b.getLine(y).translateToString(true));"
        " return l.includes('while-watched'); }"
    )
    dashboard.screenshot(path=str(artifacts_dir / "terminal-watched-dashboard.png"))
    attendee.screenshot(path=str(artifacts_dir / "terminal-watched-attendee.png"))
    dashboard.get_by_role("button", name="Stop watching").click()
    expect(attendee.locator(".term-watched")).to_be_hidden()
