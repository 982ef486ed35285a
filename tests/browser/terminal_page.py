"""What the terminal browser tests do on a page (a support module, not a test module): their deck, a person
per browser context, reading the terminal's screen, typing a command and reading its answer, and the whole
flow of an attendee with their terminal, which both backends' tests go through."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.conftest import PodiumServer, Watch, deck_open
from tests.browser.run_deck import FIRST_RUN, person_context, show_slide, wait_badge


@contextlib.contextmanager
def people(chromium) -> Iterator:
    """A factory of people, each a browser context of their own (their own session, so their own sandbox);
    at the end, no request left the machine and no script failed."""
    watch, contexts = Watch(), []

    def make():
        context = person_context(chromium, watch)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: watch.errors.append(f"{page.url}: {error}"))
        return page

    try:
        yield make
    finally:
        for context in contexts:
            context.close()
    assert not watch.offsite and not watch.errors, (watch.offsite, watch.errors)


DECKS = Path(__file__).parent / "fixtures" / "terminal"
SLUG = "terminal-browser"
MOVE = 2  # the slide whose block runs `cd /tmp && export FROM_RUN=yes`


def screen(page) -> str:
    """Every line of the terminal, scrollback included, as a person reads it."""
    return page.evaluate(
        """() => {
          const buffer = window.podiumTerminal.buffer.active;
          const lines = [];
          for (let y = 0; y < buffer.length; y += 1) lines.push(buffer.getLine(y).translateToString(true));
          return lines.join("\\n");
        }"""
    )


def on_screen(page) -> list[str]:
    """The terminal's visible lines (its screen, without the scrollback above it)."""
    return page.evaluate(
        """() => {
          const term = window.podiumTerminal, buffer = term.buffer.active, lines = [];
          for (let y = buffer.viewportY; y < buffer.viewportY + term.rows; y += 1) {
            const line = buffer.getLine(y);
            lines.push(line ? line.translateToString(true) : "");
          }
          return lines;
        }"""
    )


ANSWER = """([typed, pattern, seen]) => {
  const buffer = window.podiumTerminal.buffer.active;
  const lines = [];
  for (let y = 0; y < buffer.length; y += 1) lines.push(buffer.getLine(y).translateToString(true));
  const echoes = lines.map((line, y) => (line.endsWith(typed) ? y : -1)).filter((y) => y >= 0);
  if (echoes.length <= seen) return null;
  const at = echoes[seen];
  for (const line of lines.slice(at + 1)) {
    const found = new RegExp(`^${pattern}$`).exec(line);
    if (found) return found[1];
  }
  return null;
}"""


def command(page, line: str, answer: str, timeout: int = 60_000) -> str:
    """Type `line` and Enter into the focused terminal; the first group of the regex `answer` matching a whole
    line printed after the command's own line."""
    seen = sum(1 for shown in screen(page).split("\n") if shown.endswith(line))
    page.keyboard.type(line)
    page.keyboard.press("Enter")
    return page.wait_for_function(ANSWER, arg=[line, answer, seen], timeout=timeout).json_value()


def open_terminal(page) -> None:
    page.locator("#viewport").click(position={"x": 5, "y": 5})  # the page has focus, not a field
    page.keyboard.press("`")
    expect(page.locator("#term-panel")).to_be_visible()
    terminal_ready(page)


def terminal_ready(page) -> None:
    """Wait until the open panel's shell shows its prompt, then give the terminal the focus."""
    page.wait_for_function("() => window.podiumTerminal && window.podiumTerminal.buffer.active.length > 0")
    page.wait_for_function(
        "() => /[#$] *$/m.test(window.podiumTerminal.buffer.active.getLine("
        "window.podiumTerminal.buffer.active.baseY + window.podiumTerminal.buffer.active.cursorY)"
        ".translateToString(true))",
        timeout=FIRST_RUN,
    )
    page.locator("#term-panel .xterm-helper-textarea").focus()


def terminal_flow(page, server: PodiumServer, screenshots: Path, name: str) -> None:
    """What an attendee does with the terminal: a Run moves to /tmp; ` opens the terminal there; it computes,
    resizes with the window, keeps Esc; a reload finds the same shell, its scrollback and its screen; Shift+Esc then `
    close it. Screenshots `name`.png and `name`-reattached.png in `screenshots`."""
    deck_open(page, server.url(f"/decks/{SLUG}/"))
    show_slide(page, MOVE)
    page.locator(f"#slide-{MOVE} .run-button").click()
    wait_badge(page, MOVE, r"exit 0", timeout=FIRST_RUN)

    open_terminal(page)
    assert command(page, "pwd", r"(/\S*)") == "/tmp"
    assert command(page, "echo $((6*7)) $FROM_RUN", r"(42 yes)") == "42 yes"
    # Esc is the shell's while the terminal has focus: the panel stays, no overview opens.
    page.keyboard.press("Escape")
    expect(page.locator("#term-panel")).to_be_visible()
    expect(page.locator("#overview")).not_to_have_attribute("open", "")
    page.keyboard.press("Control+c")  # (the shell took that Esc as the start of a key: start a new line)
    page.screenshot(path=str(screenshots / f"{name}.png"))

    wide = int(command(page, "tput cols", r"(\d+)"))
    page.set_viewport_size({"width": 900, "height": 700})
    page.wait_for_function("(wide) => window.podiumTerminal.cols < wide", arg=wide)
    narrow = page.evaluate("() => window.podiumTerminal.cols")
    # On Kubernetes the TTY takes its new size through the kubelet's own resize call, not in order with the
    # keystrokes (tests/sandbox/kubernetes/test_terminal_kubernetes.py): a tput typed at once may see the old one.
    seen = []
    while len(seen) < 10 and (not seen or seen[-1] != narrow):
        seen.append(int(command(page, "tput cols", r"(\d+)")))
    assert narrow < wide and seen[-1] == narrow, (wide, narrow, seen)
    page.set_viewport_size({"width": 1366, "height": 768})

    # More output than the server sends ahead of what the page acknowledged (PODIUM_TERMINAL_WINDOW, 256 KiB):
    # it all comes, as the page acknowledges it in steps.
    command(page, "seq 50000 | tr '\\n' ' '; echo; echo big-$((10+20))", "(big-30)")
    command(page, "seq -f scroll-%g 80; export MINE=kept", "(scroll-80)")
    command(page, "echo marker-$((40+2))", "(marker-42)")
    deck_open(page)  # a reload: the panel comes back on the same shell, its scrollback with it
    expect(page.locator("#term-panel")).to_be_visible()
    page.wait_for_function(
        """() => {
          const b = window.podiumTerminal && window.podiumTerminal.buffer.active;
          const lines = [];
          for (let y = 0; b && y < b.length; y += 1) lines.push(b.getLine(y).translateToString(true));
          return lines.includes("scroll-3") && lines.includes("marker-42");
        }"""
    )
    # The screen is as it was before the reload, not only the scrollback: the last lines are on it.
    assert "marker-42" in on_screen(page)
    page.locator("#term-panel .xterm-helper-textarea").focus()
    assert command(page, "echo $MINE", r"(kept)") == "kept"
    page.screenshot(path=str(screenshots / f"{name}-reattached.png"))

    # Shift+Esc leaves the terminal; then ` closes the panel and the slide has the whole window again.
    page.keyboard.press("Shift+Escape")
    expect(page.locator("#term-panel .term-close")).to_be_focused()
    page.keyboard.press("`")
    expect(page.locator("#term-panel")).to_be_hidden()


def join_room(person, server: PodiumServer, name: str) -> tuple:
    """The presenter opens a room (or finds theirs open); an attendee called `name` joins it with its code.
    (presenter, attendee, code)."""
    presenter = person()
    deck_open(presenter, server.presenter_link)
    if presenter.locator("#room-open").count():
        presenter.click("#room-open")
    code = presenter.locator("#room-link").inner_text().removeprefix("Room ").replace("-", "")
    attendee = person()
    attendee.goto(server.url("/join/"))
    attendee.fill("#join-code", code)
    attendee.fill("#join-name", name)
    with attendee.expect_navigation() as joined:
        attendee.click("button[type=submit]")
    answer = joined.value
    if answer is None or not answer.ok:  # say what the page and the server said (a CI run once got a bare 400)
        said = attendee.locator("#join-error")
        page = said.inner_text() if said.count() else attendee.inner_text("body")[:600]
        log = server.log.read_text(errors="replace")[-3000:]
        raise AssertionError(f"joining room {code!r} got {answer and answer.status}: {page}\nserver log:\n{log}")
    attendee.wait_for_selector("html[data-scripts='ready']")
    return presenter, attendee, code


def watch_from_dashboard(presenter, server: PodiumServer, code: str, name: str):
    """The presenter's dashboard (a new tab), watching `name`'s terminal: the dialog is open."""
    dashboard = presenter.context.new_page()
    dashboard.goto(server.url(f"/rooms/{code}/"))
    row = dashboard.locator("#roster-body tr", has=dashboard.locator("th", has_text=name))
    row.get_by_role("button", name="Terminal").click()
    expect(dashboard.locator("#watch-dialog")).to_be_visible()
    return dashboard


# Where `text` is on the screen of the terminal `window[name]` (the part below the scrollback), and the screen's
# size: {row, col, cols, rows}; null while it is not there.
PLACE = """([name, text]) => {
  const term = window[name];
  if (!term) return null;
  const buffer = term.buffer.active;
  for (let row = 0; row < term.rows; row += 1) {
    const line = buffer.getLine(buffer.baseY + row);
    const col = line ? line.translateToString(false).indexOf(text) : -1;
    if (col >= 0) return { row, col, cols: term.cols, rows: term.rows };
  }
  return null;
}"""


def place(page, name: str, text: str) -> dict:
    """Wait until `text` is on the screen of the terminal `window[name]`; where it is (see PLACE)."""
    return page.wait_for_function(PLACE, arg=[name, text]).json_value()
