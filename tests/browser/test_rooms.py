"""A room in real browsers: a presenter and three attendees, each in a browser context of their own, on a
server that gives sandboxes to room members only (PODIUM_SELF_PACED=0), with real Docker sandboxes.

They join by code; with two places the third waits at position 1 and is let in when someone leaves; the
dashboard shows slides, steps and last runs as they change; two attendees failing the same block are one
radar group of 2; a help request reaches the dashboard and is cleared; closing the room removes its
sandboxes from the engine.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCRIPTS_READY, PodiumServer, Watch, deck_open
from tests.browser.run_deck import FAILING, FIRST_RUN, SLUG, docker_podium, person_context, show_slide, wait_badge

pytestmark = [pytest.mark.browser, pytest.mark.docker]

ON_DECK = re.compile(rf"/decks/{SLUG}/(#/\d+)?$")


@pytest.fixture(scope="module")
def rooms_server(tmp_path_factory, docker_client) -> Iterator[PodiumServer]:
    with docker_podium(
        tmp_path_factory.mktemp("rooms-live"), docker_client, name="browser-rooms", extra_env={"PODIUM_SELF_PACED": "0"}
    ) as server:
        yield server


def person(chromium, watch: Watch):
    context = person_context(chromium, watch)
    page = context.new_page()
    page.on("pageerror", lambda error: watch.errors.append(f"{page.url}: {error}"))
    page.on("dialog", lambda dialog: dialog.accept())  # "Close the room?", "Remove …?"
    return context, page


def join(page, server: PodiumServer, code: str, name: str) -> None:
    page.goto(server.url("/join/"))
    page.fill("#join-code", f"{code[:3].lower()} {code[3:].lower()}")
    page.fill("#join-name", name)
    page.click("button[type=submit]")


def roster_row(dashboard, name: str):
    return dashboard.locator("#roster-body tr", has=dashboard.locator("th", has_text=name))


def sandboxes_of(docker_client, server: PodiumServer) -> list:
    label = f"podium.instance={server.env['PODIUM_INSTANCE']}"
    return docker_client.containers.list(all=True, filters={"label": label})


def test_a_room_with_a_presenter_and_three_attendees(chromium, rooms_server, docker_client, artifacts_dir):
    watch = Watch()
    contexts = []
    try:
        presenter_context, presenter = person(chromium, watch)
        contexts.append(presenter_context)
        deck_open(presenter, rooms_server.presenter_link)
        presenter.fill("#room-capacity", "2")
        presenter.click("#room-open")
        expect(presenter.locator("#room-link")).to_have_text(re.compile(r"^Room [A-Z2-9]{3}-[A-Z2-9]{3}$"))
        code = presenter.locator("#room-link").inner_text().removeprefix("Room ").replace("-", "")
        dashboard = presenter_context.new_page()
        dashboard.on("dialog", lambda dialog: dialog.accept())  # "Close the room?"
        dashboard.goto(rooms_server.url(f"/rooms/{code}/"))
        expect(dashboard.locator("#dash-counts")).to_have_text("0 of 2 in · 0 waiting · open")

        people = {}
        for name in ("Ada", "Bob", "Cy"):
            context, page = person(chromium, watch)
            contexts.append(context)
            join(page, rooms_server, code, name)
            people[name] = page
        for name in ("Ada", "Bob"):
            expect(people[name]).to_have_url(ON_DECK)
            expect(people[name].locator("#room-who")).to_have_text(f"Room {code[:3]}-{code[3:]} · {name}")
        expect(people["Cy"]).to_have_url(rooms_server.url(f"/join/{code}/wait/"))
        expect(people["Cy"].locator("#wait-status")).to_have_text("You are number 1 in line.")
        expect(dashboard.locator("#dash-counts")).to_have_text("2 of 2 in · 1 waiting · open")

        # Both run the failing block: the dashboard shows their slide, last run, and one radar group of 2.
        for name in ("Ada", "Bob"):
            show_slide(people[name], FAILING)
            people[name].click(f"#slide-{FAILING} .run-button")
        for name in ("Ada", "Bob"):
            wait_badge(people[name], FAILING, "exit 3", timeout=FIRST_RUN)
            row = roster_row(dashboard, name)
            expect(row).to_contain_text("failed")
            expect(row.locator("td").first).to_have_text(str(FAILING))
        group = dashboard.locator("#radar .radar-group")
        expect(group).to_have_count(1)
        expect(group.locator(".radar-head")).to_contain_text("2 ×")
        expect(group.locator(".radar-head")).to_contain_text(f"slide {FAILING}")
        dashboard.screenshot(path=str(artifacts_dir / "room-dashboard.png"), full_page=True)

        # Bob asks for help; the presenter is on the way, then done.
        bob = people["Bob"]
        bob.click("#room-help")
        bob.fill("#room-help-text", "my block exits 3")
        bob.click("#room-help-form button[type=submit]")
        expect(bob.locator("#room-help")).to_have_text("Hand raised — lower")
        hand = dashboard.locator("#help-queue .help-item")
        expect(hand).to_contain_text("Bob")
        expect(hand).to_contain_text("my block exits 3")
        expect(roster_row(dashboard, "Bob")).to_contain_text("hand raised")
        hand.get_by_role("button", name="On my way").click()
        expect(bob.locator("#room-help")).to_have_text("Help is on the way — lower hand")
        hand.get_by_role("button", name="Done").click()
        expect(bob.locator("#room-help")).to_have_text("Ask for help")
        expect(dashboard.locator("#help-empty")).to_be_visible()

        # A note to everyone reaches both pages.
        dashboard.click("#note-all-button")
        dashboard.fill("#note-text", "Break in five minutes")
        dashboard.click("#note-form button[type=submit]")
        for name in ("Ada", "Bob"):
            expect(people[name].locator("#room-notes")).to_contain_text("Break in five minutes")
        bob.screenshot(path=str(artifacts_dir / "room-attendee.png"))

        # Ada leaves: Cy's wait page lets her in by itself.
        people["Ada"].locator("#room-leave button").click()
        expect(people["Ada"].locator(".notice")).to_contain_text(f"You left room {code}")
        expect(people["Cy"]).to_have_url(ON_DECK, timeout=15_000)
        expect(roster_row(dashboard, "Cy")).to_have_count(1)
        expect(roster_row(dashboard, "Ada")).to_have_count(0)

        # Closing the room tells the attendees and removes their sandboxes from the engine.
        assert sandboxes_of(docker_client, rooms_server), "Bob's sandbox should exist before the room closes"
        dashboard.click("#close-button")
        expect(dashboard.locator("#dash-said")).to_have_text(f"Room {code} is closed.")
        expect(bob.locator("#room-notes")).to_contain_text(f"Room {code} is closed")
        assert sandboxes_of(docker_client, rooms_server) == []
        assert watch.offsite == []
    finally:
        for context in contexts:
            context.close()


def test_the_join_screen_is_readable_from_the_back_row(chromium, rooms_server, artifacts_dir):
    watch = Watch()
    context, presenter = person(chromium, watch)
    try:
        deck_open(presenter, rooms_server.presenter_link)
        if presenter.locator("#room-open").count():
            presenter.click("#room-open")
        code = presenter.locator("#room-link").inner_text().removeprefix("Room ").replace("-", "")
        presenter.wait_for_selector(SCRIPTS_READY, state="attached")  # the reloaded view's keys work
        with context.expect_page() as opened:
            presenter.keyboard.press("j")
        screen = opened.value
        expect(screen.locator(".join-screen-code")).to_have_text(f"{code[:3]}-{code[3:]}")
        expect(screen.locator(".join-screen-address")).to_have_text(rooms_server.url(f"/join/{code}/"))
        expect(screen.locator("#join-count")).to_contain_text("in the room")
        assert screen.locator(".join-screen-qr svg").count() == 1
        height = screen.evaluate("() => document.querySelector('.join-screen-code').getBoundingClientRect().height")
        assert height > 100  # a code a back row can read on a 768-pixel-high screen
        screen.screenshot(path=str(artifacts_dir / "room-join-screen.png"))
        assert watch.errors == []
    finally:
        context.close()
