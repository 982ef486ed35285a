"""The deck in a real headless Chromium: following the presenter, keyboard navigation, and a screenshot of every view.

All tests share one server and so one talk; each test first puts the talk where it
needs it (the presenter presses Home), so the order they run in does not matter.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import deck_open

pytestmark = pytest.mark.browser


def slide_count(page) -> int:
    return page.locator("#stage > .slide").count()


def open_presenter(new_page, server, viewport: dict | None = None):
    """The presenter's browser: opens the presenter link, lands on the view without the token, is live."""
    page = new_page(viewport)
    deck_open(page, server.presenter_link)
    expect(page).to_have_url(re.compile(rf"/decks/{server.slug}/presenter/(#/\d+)?$"))
    expect(page.locator("#status")).to_have_text("Live — the audience follows")
    return page


def open_audience(new_page, server, fragment: str = ""):
    page = new_page()
    deck_open(page, server.url(f"/decks/{server.slug}/{fragment}"))
    expect(page.locator("#stage > .slide.is-current")).to_have_count(1)
    return page


def expect_on_slide(page, number: int, count: int) -> None:
    expect(page.locator("#slide-number")).to_have_text(f"{number} / {count}")
    expect(page).to_have_url(re.compile(rf"#/{number}$"))
    expect(page.locator(f"#stage > .slide[data-slide='{number}']")).to_have_class(re.compile(r"\bis-current\b"))


def presenter_home(presenter) -> None:
    presenter.keyboard.press("Home")
    expect(presenter.locator("#slide-number")).to_have_text(re.compile(r"^1 / "))


def test_two_audiences_follow_the_presenter(new_page, podium_server, watch):
    first = open_audience(new_page, podium_server)
    second = open_audience(new_page, podium_server)
    presenter = open_presenter(new_page, podium_server)
    count = slide_count(presenter)
    presenter_home(presenter)
    for page in (first, second):
        expect_on_slide(page, 1, count)
        expect(page.locator("#follow-pill")).to_have_text("Following")

    for _ in range(3):
        presenter.keyboard.press("ArrowRight")
    expect(presenter.locator("#slide-number")).to_have_text(f"4 / {count}")
    for page in (first, second):
        expect_on_slide(page, 4, count)
        expect(page.locator("#announcer")).to_contain_text(f"Slide 4 of {count}")

    # The go-to box drives them too, and a late joiner lands where the talk is.
    presenter.keyboard.press("g")
    presenter.keyboard.type("7")
    presenter.keyboard.press("Enter")
    for page in (first, second):
        expect_on_slide(page, 7, count)
    late = open_audience(new_page, podium_server, "#/2")
    expect_on_slide(late, 7, count)
    assert watch.errors == []
    assert watch.offsite == []


def test_following_paused_and_f_rejoins(new_page, podium_server, watch):
    wanderer = open_audience(new_page, podium_server)
    witness = open_audience(new_page, podium_server)
    presenter = open_presenter(new_page, podium_server)
    count = slide_count(presenter)
    presenter_home(presenter)
    presenter.keyboard.press("ArrowRight")
    presenter.keyboard.press("ArrowRight")
    expect_on_slide(wanderer, 3, count)
    pill = wanderer.locator("#follow-pill")
    expect(pill).to_have_text("Following")

    wanderer.keyboard.press("ArrowRight")
    expect_on_slide(wanderer, 4, count)
    expect(pill).to_have_text("Following paused — press F to rejoin")

    # The presenter moves on: the witness (still following) goes along, the wanderer stays put.
    presenter.keyboard.press("End")
    expect_on_slide(witness, count, count)
    expect_on_slide(wanderer, 4, count)
    expect(pill).to_have_text("Following paused — press F to rejoin")

    wanderer.keyboard.press("f")
    expect_on_slide(wanderer, count, count)
    expect(pill).to_have_text("Following")

    # Clicking the pill pauses and rejoins as well.
    presenter.keyboard.press("Home")
    expect_on_slide(wanderer, 1, count)
    wanderer.keyboard.press("End")
    expect(pill).to_have_text("Following paused — press F to rejoin")
    pill.click()
    expect_on_slide(wanderer, 1, count)
    expect(pill).to_have_text("Following")
    assert watch.errors == []


def test_presenter_blackout_blacks_out_the_audience(new_page, podium_server, watch):
    audience = open_audience(new_page, podium_server)
    presenter = open_presenter(new_page, podium_server)
    presenter.keyboard.press("b")
    expect(presenter.locator("#blackout-button")).to_have_attribute("aria-pressed", "true")
    expect(audience.locator("#blackout")).to_be_visible()
    presenter.keyboard.press("b")
    expect(audience.locator("#blackout")).to_be_hidden()
    assert watch.errors == []


def test_both_ends_reconnect_when_the_server_restarts(new_page, podium_server):
    audience = open_audience(new_page, podium_server)
    presenter = open_presenter(new_page, podium_server)
    count = slide_count(presenter)
    presenter_home(presenter)
    presenter.keyboard.press("ArrowRight")
    expect_on_slide(audience, 2, count)

    podium_server.stop()
    expect(audience.locator("#follow-pill")).to_have_text("Following — reconnecting…")
    expect(presenter.locator("#status")).to_have_text("Offline — reconnecting…")
    podium_server.start()
    # Backoff doubles from half a second, so both are back within a few seconds of the server.
    expect(presenter.locator("#status")).to_have_text("Live — the audience follows", timeout=30_000)
    expect(audience.locator("#follow-pill")).to_have_text("Following", timeout=30_000)
    presenter.keyboard.press("ArrowRight")
    expect_on_slide(audience, 3, count)


def test_presenter_timer_and_clock(new_page, podium_server):
    page = new_page(timezone_id="UTC")
    # The browser's clock is Playwright's: time moves only when the test says so.
    page.clock.install(time=datetime(2030, 5, 6, 9, 57, 0, tzinfo=UTC))
    deck_open(page, podium_server.presenter_link)
    expect(page.locator("#status")).to_have_text("Live — the audience follows")
    page.clock.pause_at(datetime(2030, 5, 6, 9, 58, 0, tzinfo=UTC))
    elapsed = page.locator("#elapsed")
    expect(page.locator("#clock")).to_have_text("09:58")
    expect(elapsed).to_have_text("00:00:00")

    page.get_by_role("button", name="Start the timer").click()
    page.clock.fast_forward("02:05")
    expect(elapsed).to_have_text("00:02:05")
    page.get_by_role("button", name="Pause the timer").click()
    page.clock.fast_forward("01:00")
    expect(page.locator("#clock")).to_have_text("10:01")
    expect(elapsed).to_have_text("00:02:05")
    page.get_by_role("button", name="Start the timer").click()
    page.clock.fast_forward("00:10")
    expect(elapsed).to_have_text("00:02:15")

    # A reload keeps the running timer (a presenter's laptop may reload mid-talk).
    deck_open(page)
    page.clock.fast_forward("00:05")
    expect(elapsed).to_have_text("00:02:20")
    page.get_by_role("button", name="Reset the timer").click()
    expect(elapsed).to_have_text("00:00:00")


def test_keyboard_navigation_on_the_audience_page(new_page, podium_server, watch):
    page = open_audience(new_page, podium_server)
    count = slide_count(page)
    page.keyboard.press("Home")
    expect_on_slide(page, 1, count)
    for key, number in [
        ("ArrowRight", 2),
        ("Space", 3),
        ("Shift+Space", 2),
        ("PageDown", 3),
        ("ArrowDown", 4),
        ("ArrowUp", 3),
        ("PageUp", 2),
        ("ArrowLeft", 1),
        ("ArrowLeft", 1),
        ("End", count),
        ("ArrowRight", count),
        ("Home", 1),
    ]:
        page.keyboard.press(key)
        expect_on_slide(page, number, count)
    title = page.locator("#stage > .slide[data-slide='1']").get_attribute("data-title")
    expect(page.locator("#announcer")).to_have_text(f"Slide 1 of {count}: {title}")

    # Back and forward walk the slides seen.
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect_on_slide(page, 3, count)
    page.go_back()
    expect_on_slide(page, 2, count)
    page.go_forward()
    expect_on_slide(page, 3, count)
    progress = page.locator("#progress-bar").evaluate(
        "async bar => { await Promise.all(bar.getAnimations().map(a => a.finished));"
        " return bar.getBoundingClientRect().width / innerWidth; }"
    )
    assert progress == pytest.approx(3 / count, abs=0.01)

    # Overview: Esc opens it on the current slide, arrows move, Enter goes there.
    page.keyboard.press("Escape")
    overview = page.locator("#overview")
    expect(overview).to_be_visible()
    expect(overview.locator(".thumb")).to_have_count(count)
    expect(overview.locator(".thumb[data-goto='3']")).to_be_focused()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    expect(overview).to_be_hidden()
    expect_on_slide(page, 4, count)
    page.keyboard.press("Escape")
    expect(overview).to_be_visible()
    page.keyboard.press("Escape")
    expect(overview).to_be_hidden()
    expect_on_slide(page, 4, count)

    # Help lists the keys; Esc closes it.
    page.keyboard.press("?")
    help_panel = page.locator("#help")
    expect(help_panel).to_be_visible()
    expect(help_panel).to_contain_text("Next slide")
    expect(help_panel).to_contain_text("Overview of all slides")
    page.keyboard.press("Escape")
    expect(help_panel).to_be_hidden()
    page.keyboard.press("h")
    expect(help_panel).to_be_visible()
    page.keyboard.press("h")
    expect(help_panel).to_be_hidden()

    # Table of contents: t, then a title.
    page.keyboard.press("t")
    toc = page.locator("#toc")
    expect(toc).to_be_visible()
    toc.locator("a[data-goto='6']").click()
    expect(toc).to_be_hidden()
    expect_on_slide(page, 6, count)

    # Blackout, and the buttons are real buttons.
    page.keyboard.press("b")
    expect(page.locator("#blackout")).to_be_visible()
    page.keyboard.press("b")
    expect(page.locator("#blackout")).to_be_hidden()
    page.get_by_role("button", name="Next slide").click()
    expect_on_slide(page, 7, count)
    page.get_by_role("button", name="Previous slide").click()
    expect_on_slide(page, 6, count)
    assert watch.errors == []
    assert watch.offsite == []


def swipe(page, dx: int) -> None:
    start = {"identifier": 1, "clientX": 700, "clientY": 400}
    end = {"identifier": 1, "clientX": 700 + dx, "clientY": 410}
    page.locator("#viewport").dispatch_event("touchstart", {"touches": [start], "changedTouches": [start]})
    page.locator("#viewport").dispatch_event("touchend", {"touches": [], "changedTouches": [end]})


def test_swipe_changes_the_slide_on_a_touch_screen(new_page, podium_server, watch):
    page = new_page(has_touch=True)
    deck_open(page, podium_server.url(f"/decks/{podium_server.slug}/"))
    count = slide_count(page)
    page.keyboard.press("Home")
    expect_on_slide(page, 1, count)
    swipe(page, -200)
    expect_on_slide(page, 2, count)
    swipe(page, -200)
    expect_on_slide(page, 3, count)
    swipe(page, 200)
    expect_on_slide(page, 2, count)
    assert watch.errors == []


def test_p_opens_the_presenter_view_in_a_new_window(new_page, podium_server):
    presenter = open_presenter(new_page, podium_server)  # this browser holds the presenter's session
    page = presenter.context.new_page()
    deck_open(page, podium_server.url(f"/decks/{podium_server.slug}/#/5"))
    presenter_home(presenter)  # the talk is live: the page follows to slide 1
    expect(page.locator("#slide-number")).to_have_text(re.compile(r"^1 / "))
    with page.context.expect_page() as opened:
        page.keyboard.press("p")
    window = opened.value
    expect(window).to_have_url(re.compile(rf"/decks/{podium_server.slug}/presenter/#/1$"))
    expect(window.locator("#status")).to_have_text("Live — the audience follows")


def no_scrolling(page) -> bool:
    return page.evaluate(
        "() => { const root = document.scrollingElement;"
        " return root.scrollHeight <= innerHeight && root.scrollWidth <= innerWidth; }"
    )


def test_screenshots_of_every_view(new_page, podium_server, artifacts_dir, watch):
    server = podium_server
    listing = new_page()
    listing.goto(server.url("/"))
    expect(listing.get_by_role("link", name="Open")).to_be_visible()
    listing.screenshot(path=artifacts_dir / "deck-list.png", full_page=True)

    presenter = open_presenter(new_page, server)
    count = slide_count(presenter)
    audience = open_audience(new_page, server)
    # A slide with a code block, as the room sees it.
    code_slide = int(audience.locator("#stage > .slide:has(.code-block)").first.get_attribute("data-slide"))
    presenter.keyboard.press("g")
    presenter.keyboard.type(str(code_slide))
    presenter.keyboard.press("Enter")
    expect_on_slide(audience, code_slide, count)
    audience.screenshot(path=artifacts_dir / "audience.png")
    audience.set_viewport_size({"width": 1920, "height": 1080})
    audience.screenshot(path=artifacts_dir / "audience-1080p.png")
    audience.set_viewport_size({"width": 1000, "height": 900})  # a tall window: letterboxed top and bottom
    audience.screenshot(path=artifacts_dir / "audience-letterbox.png")
    audience.keyboard.press("Home")
    audience.screenshot(path=artifacts_dir / "audience-title.png")

    # The presenter view fits a laptop screen and a full-HD one without scrolling.
    notes_size = presenter.locator("#notes-scroll").evaluate("el => parseFloat(getComputedStyle(el).fontSize)")
    assert notes_size >= 18
    assert no_scrolling(presenter)
    presenter.screenshot(path=artifacts_dir / "presenter.png")
    presenter.set_viewport_size({"width": 1920, "height": 1080})
    assert no_scrolling(presenter)
    presenter.screenshot(path=artifacts_dir / "presenter-1080p.png")

    audience.set_viewport_size({"width": 1366, "height": 768})
    audience.keyboard.press("Escape")
    expect(audience.locator("#overview")).to_be_visible()
    audience.screenshot(path=artifacts_dir / "overview.png")
    audience.keyboard.press("Escape")
    audience.keyboard.press("?")
    audience.screenshot(path=artifacts_dir / "help.png")

    printed = new_page()
    printed.goto(server.url(f"/decks/{server.slug}/print/"))
    expect(printed.locator(".sheet")).to_have_count(count)
    printed.screenshot(path=artifacts_dir / "print.png")
    pdf = printed.pdf(prefer_css_page_size=True, print_background=True)
    (artifacts_dir / "print.pdf").write_bytes(pdf)
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == count

    notes = presenter.context.new_page()
    notes.goto(server.url(f"/decks/{server.slug}/print/?notes=1"))
    expect(notes.locator(".sheet-notes")).to_have_count(count)
    notes.screenshot(path=artifacts_dir / "print-notes.png")
    (artifacts_dir / "print-notes.pdf").write_bytes(notes.pdf(prefer_css_page_size=True, print_background=True))

    assert watch.errors == []
    assert watch.offsite == []

    # The refusals are pages with sentences (their 403/404 status is logged by the browser, hence checked above).
    forbidden = new_page()
    forbidden.goto(server.url(f"/decks/{server.slug}/presenter/"))
    expect(forbidden.get_by_text(f"talk link {server.slug}")).to_be_visible()
    forbidden.screenshot(path=artifacts_dir / "presenter-forbidden.png", full_page=True)
    missing = new_page()
    missing.goto(server.url("/decks/no-such-deck/"))
    expect(missing.get_by_text("There is no deck called")).to_be_visible()
    missing.screenshot(path=artifacts_dir / "not-found.png")
