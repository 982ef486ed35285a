"""The pages work under the Content-Security-Policy: a real daphne, headless Chromium, no violation reported.

Every page listens for `securitypolicyviolation` from its first script on (an
init script, which the policy does not govern); the audience follows the
presenter over the follow socket, a Run streams into the terminal (xterm.js)
over the runs socket, the help panel opens. Runs use the LocalBackend test
double: this is about the page, not the sandbox.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PodiumServer, Watch, deck_open, live_server
from tests.browser.run_deck import FAILING, FIXTURES, SLUG, show_slide, wait_badge

pytestmark = [pytest.mark.browser]

LISTEN = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const where = `${event.sourceFile}:${event.lineNumber}`;
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"} at ${where}`);
});
"""


@pytest.fixture(scope="module")
def csp_server(tmp_path_factory) -> Iterator[PodiumServer]:
    tmp = tmp_path_factory.mktemp("csp-live")
    extra = {
        "PODIUM_SANDBOX_BACKEND": "sandbox.backends.local.LocalBackend",
        "PODIUM_LOCAL_SANDBOX_ROOT": str(tmp / "sandboxes"),
    }
    with live_server(tmp, slides=FIXTURES, slug=SLUG, extra_env=extra) as server:
        yield server


def _page(new_page, csp_messages: list[str]):
    page = new_page()
    page.add_init_script(LISTEN)
    page.on("console", lambda m: "Content Security Policy" in m.text and csp_messages.append(m.text))
    return page


def _violations(page) -> list[str]:
    return page.evaluate("window.__cspViolations")


def test_pages_work_under_the_policy_with_no_violation(new_page, csp_server, watch: Watch) -> None:
    console: list[str] = []
    presenter, audience = _page(new_page, console), _page(new_page, console)
    response = deck_open(audience, csp_server.url(f"/decks/{SLUG}/"))
    assert "script-src 'self'" in response.headers["content-security-policy"]
    deck_open(presenter, csp_server.presenter_link)
    expect(presenter.locator("#status")).to_have_text("Live — the audience follows")
    expect(audience.locator("#follow-pill")).to_have_text("Following")
    # The early script (a file now) marked the page as scripted before the first paint.
    assert audience.evaluate("document.documentElement.classList.contains('js')")

    # The follow socket: the presenter moves, the audience follows.
    presenter.keyboard.press("ArrowRight")
    expect(audience.locator("#slide-number")).to_have_text(re.compile(r"^2 / "))

    # The runs socket and the terminal: red ANSI text coloured by xterm.js, under style-src.
    show_slide(audience, FAILING)
    audience.locator(f"#slide-{FAILING} .run-button").click()
    wait_badge(audience, FAILING, "^exit 3$")
    expect(audience.locator(f"#stage #slide-{FAILING} .xterm-rows")).to_contain_text("red text and plain text")

    # The help panel (a dialog opened by the page's own script).
    audience.keyboard.press("?")
    expect(audience.locator("#help")).to_be_visible()

    for page in (audience, presenter):
        assert _violations(page) == []
    assert console == []
    assert watch.errors == [] and watch.offsite == []


def test_an_injected_inline_script_is_blocked_and_reported(new_page, csp_server) -> None:
    """The listener works: the same page refuses a script added inline, and says so."""
    console: list[str] = []
    page = _page(new_page, console)
    deck_open(page, csp_server.url(f"/decks/{SLUG}/"))
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.__ran = true';"
        " document.head.append(s); }"
    )
    page.wait_for_function("window.__cspViolations.length > 0")
    assert page.evaluate("window.__ran === undefined")
    assert any("script-src" in v for v in _violations(page))
