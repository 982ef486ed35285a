"""The Run button as an attendee uses it: a real daphne, a real Docker sandbox, headless Chromium.

One attendee (one browser context, so one session and one sandbox) clicks
Run on the fixture deck's blocks: lines stream in while the command still
runs, exit codes show, Cancel stops a long run, an edited block runs and a
reload shows the last run again. The presenter view runs code in the
presenter's own sandbox. Every sandbox the server made carries this test
module's own PODIUM_INSTANCE label and is removed afterwards, pass or fail.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from tests.browser.conftest import PodiumServer, Watch, deck_open
from tests.browser.run_deck import (
    COUNTING,
    FAILING,
    FIRST_RUN,
    LONG,
    PYTHON,
    SLUG,
    docker_podium,
    person_context,
    show_slide,
    wait_badge,
)

pytestmark = [pytest.mark.browser, pytest.mark.docker]


@pytest.fixture(scope="module")
def runs_server(tmp_path_factory, docker_client) -> Iterator[PodiumServer]:
    """Podium on the fixture deck with the Docker backend; its sandboxes are removed at the end."""
    with docker_podium(tmp_path_factory.mktemp("runs-live"), docker_client, name="browser-runs") as server:
        yield server


@pytest.fixture(scope="module")
def module_watch() -> Watch:
    return Watch()


@pytest.fixture(scope="module")
def attendee(chromium, runs_server, module_watch) -> Iterator:
    """One attendee's page, kept for the whole module: one session, so one sandbox for all its runs."""
    context = person_context(chromium, module_watch)
    page = context.new_page()
    page.on("pageerror", lambda error: module_watch.errors.append(f"{page.url}: {error}"))
    page.on("console", lambda msg: msg.type == "error" and module_watch.errors.append(f"{page.url}: {msg.text}"))
    page.on("dialog", lambda dialog: dialog.accept())  # "Reset your sandbox?"
    deck_open(page, runs_server.url(f"/decks/{SLUG}/"))
    yield page
    context.close()


@pytest.fixture(autouse=True)
def nothing_wrong(module_watch: Watch) -> Iterator[None]:
    """After each test: nothing loaded from the internet, no script error on the page."""
    yield
    assert module_watch.offsite == [], f"requests left the machine: {module_watch.offsite}"
    assert module_watch.errors == [], f"script errors: {module_watch.errors}"


def _badge(page, number: int) -> str:
    return page.text_content(f"#stage #slide-{number} .run-badge") or ""


def _output(page, number: int) -> str:
    return page.inner_text(f"#stage #slide-{number} .xterm-rows")


def test_run_streams_lines_before_it_ends_then_shows_exit_0(attendee, artifacts_dir) -> None:
    page = attendee
    show_slide(page, COUNTING)
    button = page.locator(f"#slide-{COUNTING} .run-button")
    assert button.inner_text().strip() == "Run"
    assert "Ctrl+Enter" in (button.get_attribute("title") or "")

    button.click()
    # The first line is on screen while the status still says running: output streams, it is not sent at
    # the end. Read in one go in the page, at the first moment "line 1" shows.
    seen = page.wait_for_function(
        """(n) => {
          const slide = document.querySelector(`#slide-${n}`);
          const rows = slide.querySelector('.xterm-rows');
          if (!rows || !rows.innerText.includes('line 1')) return false;
          return {
            badge: slide.querySelector('.run-badge').textContent,
            output: rows.innerText,
            cancel: !slide.querySelector('.run-cancel').hidden,
            busy: slide.querySelector('.run-button').getAttribute('aria-disabled'),
          };
        }""",
        arg=COUNTING,
        timeout=FIRST_RUN,
    ).json_value()
    page.screenshot(path=str(artifacts_dir / "run-streaming.png"))
    assert seen["badge"] == "running"
    assert "line 5" not in seen["output"]
    assert seen["cancel"] is True
    assert seen["busy"] == "true"  # one run of a block at a time

    wait_badge(page, COUNTING, "^exit 0$")
    lines = [line.strip() for line in _output(page, COUNTING).splitlines() if line.strip()]
    assert lines == [f"line {i}" for i in range(1, 6)]
    assert re.fullmatch(r"\d+(\.\d)? s", page.text_content(f"#slide-{COUNTING} .run-elapsed") or "")
    assert not page.locator(f"#slide-{COUNTING} .run-cancel").is_visible()
    assert button.is_enabled() and button.get_attribute("aria-disabled") is None
    # Clicking into the output (to select text) does not take the slide keys away.
    page.click(f"#slide-{COUNTING} .run-output")
    page.keyboard.press("ArrowRight")
    page.wait_for_selector(f"#slide-{COUNTING + 1}.is-current")


def test_failing_block_by_shortcut_shows_its_exit_code_and_colours(attendee) -> None:
    page = attendee
    show_slide(page, FAILING)
    page.locator("body").focus()
    page.keyboard.press("Control+Enter")  # the first runnable block of the current slide

    wait_badge(page, FAILING, "^exit 3$", timeout=FIRST_RUN)
    status = page.text_content(f"#slide-{FAILING} .run-status") or ""
    assert "exit code 3" in status
    output = _output(page, FAILING)
    assert "about to fail" in output  # stderr is shown too
    # The ANSI red of `\033[31m` is rendered as colour, not as escape codes.
    red = page.locator(f"#slide-{FAILING} .xterm-rows span.xterm-fg-1")
    assert red.first.inner_text() == "red text"
    assert "[31m" not in output


def test_cancel_stops_a_long_run(attendee, docker_client, runs_server) -> None:
    page = attendee
    show_slide(page, LONG)
    page.click(f"#slide-{LONG} .run-button")
    page.wait_for_function(
        "(n) => document.querySelector(`#slide-${n} .xterm-rows`)?.innerText.includes('started the long run')",
        arg=LONG,
        timeout=FIRST_RUN,
    )
    assert _badge(page, LONG) == "running"

    page.click(f"#slide-{LONG} .run-cancel")
    wait_badge(page, LONG, "^cancelled$")
    assert "never printed" not in _output(page, LONG)
    # The process is gone from the attendee's sandbox, not just hidden from the page.
    instance = runs_server.env["PODIUM_INSTANCE"]
    (sandbox,) = docker_client.containers.list(filters={"label": f"podium.instance={instance}"})
    processes = sandbox.exec_run(["ps", "-eo", "args"]).output.decode()
    assert "sleep 300" not in processes


def test_edited_block_runs_and_a_reload_shows_the_last_run(attendee) -> None:
    page = attendee
    show_slide(page, PYTHON)
    page.click(f"#slide-{PYTHON} .run-edit")
    editor = page.locator(f"#slide-{PYTHON} .run-editor")
    assert editor.input_value() == 'print("hello from python")'
    editor.fill('print("edited in the browser")')
    assert page.locator(f"#slide-{PYTHON} .run-edited-badge").is_visible()
    editor.press("Control+Enter")  # from inside the editor: runs this block, with the edited text

    wait_badge(page, PYTHON, "^exit 0$", timeout=FIRST_RUN)
    assert "edited in the browser" in _output(page, PYTHON)

    deck_open(page)
    show_slide(page, PYTHON)
    wait_badge(page, PYTHON, "^exit 0$")
    assert "edited in the browser" in _output(page, PYTHON)
    assert page.locator(f"#slide-{PYTHON} .run-edited-badge").is_visible()
    assert "edited in the browser" in page.inner_text(f"#slide-{PYTHON} .run-edited-code")
    # The earlier slides' last runs are back too.
    assert _badge(page, COUNTING) == "exit 0"
    assert _badge(page, FAILING) == "exit 3"
    assert _badge(page, LONG) == "cancelled"

    page.click(f"#slide-{PYTHON} .run-small-button:has-text('Restore original')")
    assert not page.locator(f"#slide-{PYTHON} .run-edited-badge").is_visible()
    assert page.locator(f"#slide-{PYTHON} .highlight").inner_text().strip() == 'print("hello from python")'


def test_reset_my_sandbox_from_the_help_panel(attendee) -> None:
    page = attendee
    page.keyboard.press("?")
    page.click("#sandbox-reset")  # the confirmation is accepted by the page's dialog handler
    page.wait_for_function(
        "() => document.getElementById('sandbox-reset-status').dataset.state === 'ok'", timeout=FIRST_RUN
    )
    assert "fresh" in page.text_content("#sandbox-reset-status")
    page.keyboard.press("Escape")


def test_presenter_runs_code_in_their_own_sandbox_and_followers_watch_it(
    chromium, runs_server, attendee, module_watch, artifacts_dir
) -> None:
    context = person_context(chromium, module_watch)
    try:
        page = context.new_page()
        page.on("pageerror", lambda error: module_watch.errors.append(f"{page.url}: {error}"))
        sockets = SocketLog(page)
        deck_open(page, runs_server.presenter_link)
        # Connected and driving first: on connecting, the presenter view goes to where the talk is.
        try:
            page.wait_for_selector("#status[data-state='live']")
        except PlaywrightTimeout:
            # This wait failed once in a full run (issue 12) and never since: say what the page had instead.
            status = page.eval_on_selector("#status", "(s) => `${s.dataset.state}: ${s.textContent}`")
            raise AssertionError(f"the presenter view is not live ({status}); its sockets: {sockets}") from None
        page.evaluate("(n) => { window.location.hash = `#/${n}`; }", PYTHON)
        page.wait_for_selector(f"#stage #slide-{PYTHON}.is-current")
        page.click(f"#stage #slide-{PYTHON} .run-button")
        wait_badge(page, PYTHON, "^exit 0$", timeout=FIRST_RUN)
        assert "hello from python" in _output(page, PYTHON)
        assert page.locator(".presenter-run").count() == 0  # the presenter sees their run once, as theirs

        # The attendee (following, so on the same slide) watches it under the block, read-only.
        watched = attendee.locator(f"#stage #slide-{PYTHON} .presenter-run")
        expect(watched).to_be_visible()
        expect(watched).to_have_attribute("aria-label", re.compile(r"^The presenter's run of block "))
        expect(watched.locator(".presenter-run-label")).to_have_text(re.compile("presenter's run", re.I))
        expect(watched.locator(".run-badge")).to_have_text("exit 0")
        expect(watched.locator(".xterm-rows")).to_contain_text("hello from python")
        assert watched.locator("button").count() == 0  # nothing to press: watching only
        attendee.screenshot(path=str(artifacts_dir / "presenter-run-watched.png"))
    finally:
        context.close()


class SocketLog:
    """When each websocket of `page` opened, got its first frame and closed (ms since the log began)."""

    def __init__(self, page) -> None:
        self.began = time.monotonic()
        self.events: list[str] = []
        page.on("websocket", self._opened)

    def _at(self) -> int:
        return round((time.monotonic() - self.began) * 1000)

    def _opened(self, socket) -> None:
        name = socket.url.rsplit("/ws/", 1)[-1]
        self.events.append(f"{self._at()} ms {name} opening")
        first = []

        def received(_payload) -> None:
            if not first:
                first.append(True)
                self.events.append(f"{self._at()} ms {name} first frame")

        socket.on("framereceived", received)
        socket.on("close", lambda _socket: self.events.append(f"{self._at()} ms {name} closed"))
        socket.on("socketerror", lambda error: self.events.append(f"{self._at()} ms {name} error {error}"))

    def __str__(self) -> str:
        return "; ".join(self.events) or "none"


def test_without_xterm_the_output_is_plain_text_with_a_note(chromium, runs_server) -> None:
    # The terminal's files failing to load stand for a server where npm never installed them.
    watch = Watch()
    context = person_context(chromium, watch)
    context.route("**/static/vendor/xterm/**", lambda route: route.abort())
    try:
        page = context.new_page()
        page.on("pageerror", lambda error: watch.errors.append(f"{page.url}: {error}"))
        deck_open(page, runs_server.url(f"/decks/{SLUG}/"))
        show_slide(page, FAILING)
        page.click(f"#slide-{FAILING} .run-button")
        wait_badge(page, FAILING, "^exit 3$", timeout=FIRST_RUN)
        plain = page.inner_text(f"#slide-{FAILING} pre.run-plain")
        assert "about to fail" in plain
        assert "red text and plain text" in plain  # escape codes removed, text kept
        assert "\x1b" not in plain and "[31m" not in plain
        note = page.inner_text(f"#slide-{FAILING} .run-terminal-missing")
        assert "xterm.js" in note and "scripts/setup.sh" in note
        assert watch.errors == []
    finally:
        context.close()
