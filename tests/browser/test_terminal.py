"""The terminal panel as an attendee uses it: a real daphne, real Docker sandboxes, headless Chromium.

An attendee runs a block that moves to /tmp, opens their terminal with the ` key, types, resizes the
window, reloads and finds the same shell; a second attendee's terminal is another sandbox; the presenter
view has the panel too. Screenshots go to tests/artifacts/ (terminal-*.png).
"""

from __future__ import annotations

import http.cookiejar
import json
import urllib.request
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.browser.conftest import PodiumServer, deck_open
from tests.browser.run_deck import FIRST_RUN, docker_podium
from tests.browser.stall import next_of_type, server_database, write_lock
from tests.browser.terminal_page import (
    DECKS,
    SLUG,
    command,
    join_room,
    open_terminal,
    people,
    place,
    screen,
    terminal_flow,
    terminal_ready,
    watch_from_dashboard,
)

pytestmark = [pytest.mark.browser, pytest.mark.docker]

# After "Open again": "ready" once the shell's prompt shows, "refused" once the button is back (the panel says why).
PROMPT_OR_REFUSED = """() => {
  if (!document.querySelector("#term-panel .term-reopen").hidden) return "refused";
  const b = window.podiumTerminal && window.podiumTerminal.buffer.active;
  return b && /[#$] *$/.test(b.getLine(b.baseY + b.cursorY).translateToString(true)) ? "ready" : null;
}"""


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
    presenter, attendee, code = join_room(person, terminal_server, "Ada")
    open_terminal(attendee)
    command(attendee, "echo before-$((2*21))", "(before-42)")
    expect(attendee.locator(".term-watched")).to_be_hidden()

    dashboard = watch_from_dashboard(presenter, terminal_server, code, "Ada")
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


def test_the_presenter_sees_a_full_screen_program_where_the_attendee_sees_it(person, terminal_server, artifacts_dir):
    """Full-screen programs (vim, top) draw at fixed rows and columns of the attendee's screen: the presenter's
    screen has the attendee's size, from the moment they start watching (mid-way) and after each resize."""
    presenter, attendee, code = join_room(person, terminal_server, "Grace")
    open_terminal(attendee)
    # Near the bottom right, where a screen of another size would put it elsewhere (or nowhere). The typed
    # line never holds the word itself (HE""RE), so only the drawn one is found.
    attendee.keyboard.type('clear; tput cup $(($(tput lines)-3)) $(($(tput cols)-12)); echo HE""RE')
    attendee.keyboard.press("Enter")
    mine = place(attendee, "podiumTerminal", "HERE")
    assert (mine["row"], mine["col"]) == (mine["rows"] - 3, mine["cols"] - 12)

    dashboard = watch_from_dashboard(presenter, terminal_server, code, "Grace")
    dashboard.wait_for_function("(cols) => window.podiumWatched?.cols === cols", arg=mine["cols"])
    assert place(dashboard, "podiumWatched", "HERE") == mine
    dashboard.screenshot(path=str(artifacts_dir / "terminal-watched-full-screen.png"))

    # The attendee's window narrows: their terminal, then the presenter's, take the new size.
    attendee.set_viewport_size({"width": 900, "height": 640})
    attendee.wait_for_function("(cols) => window.podiumTerminal.cols < cols", arg=mine["cols"])
    attendee.locator("#term-panel .xterm-helper-textarea").focus()
    attendee.keyboard.type('clear; tput cup $(($(tput lines)-2)) $(($(tput cols)-9)); echo AG""AIN')
    attendee.keyboard.press("Enter")
    narrow = place(attendee, "podiumTerminal", "AGAIN")
    assert (narrow["row"], narrow["col"]) == (narrow["rows"] - 2, narrow["cols"] - 9)
    assert place(dashboard, "podiumWatched", "AGAIN") == narrow
    dashboard.screenshot(path=str(artifacts_dir / "terminal-watched-resized.png"))


def test_a_copy_of_a_tab_gets_a_terminal_of_its_own_and_leaves_the_first_ones_open(person, terminal_server):
    # The browser's Duplicate copies a tab's sessionStorage, the terminal's tab id with it: the copy took the
    # first tab's terminal over ("This terminal was opened again from this browser tab ...") when it opened.
    first = person()
    deck_open(first, terminal_server.url(f"/decks/{SLUG}/"))
    open_terminal(first)
    stored = first.evaluate("() => Object.fromEntries(Object.entries(sessionStorage))")
    assert stored.get("podium-terminal:tab") and stored.get(f"podium-terminal:open:{SLUG}") == "true"
    copy = first.context.new_page()
    copy.add_init_script(f"for (const [k, v] of Object.entries({json.dumps(stored)})) sessionStorage.setItem(k, v);")
    deck_open(copy, terminal_server.url(f"/decks/{SLUG}/"))
    copy.wait_for_function(PROMPT_OR_REFUSED, timeout=FIRST_RUN)  # the copy reopens its panel, as a reload does
    assert copy.evaluate("() => sessionStorage.getItem('podium-terminal:tab')") != stored["podium-terminal:tab"]
    copy.locator("#term-panel .xterm-helper-textarea").focus()
    assert command(copy, "echo copy-$((2+3))", "(copy-5)") == "copy-5"
    # The first tab's terminal is still open, on the same shell (one sandbox, one session, two attaches).
    expect(first.locator("#term-panel .term-reopen")).to_be_hidden()
    first.locator("#term-panel .xterm-helper-textarea").focus()
    assert command(first, "echo first-$((3+4))", "(first-7)") == "first-7"
    assert first.evaluate("() => sessionStorage.getItem('podium-terminal:tab')") == stored["podium-terminal:tab"]


def test_a_reload_types_nothing_into_the_shell_after_a_program_asked_the_terminal_something(person, terminal_server):
    # vim, less and others ask the terminal (its attributes, the cursor's place) and read the answers. The
    # reload's replay asked again, and xterm.js answered into the shell, as keys: "1;2c" before the next command.
    page = person()
    deck_open(page, terminal_server.url(f"/decks/{SLUG}/"))
    open_terminal(page)
    # Echo off first: an answer that came back before `read` started would be echoed onto the result's line.
    asked = "stty -echo; printf '\\033[c'; read -rs -t 5 -d c; stty echo; echo answered-${#REPLY}-$((40+2))"
    answer_size = int(command(page, asked, r"answered-(\d+)-42"))
    assert answer_size > 0  # xterm.js answered, live: the shell read its "\033[?...c"
    deck_open(page)  # a reload: the panel comes back on the same shell, with what it printed
    page.wait_for_function(PROMPT_OR_REFUSED, timeout=FIRST_RUN)  # any answer to the replay went out before it
    page.locator("#term-panel .xterm-helper-textarea").focus()
    assert command(page, "echo clean-$((1+1))", r"(clean-2)") == "clean-2"
    assert not any("1;2c" in line for line in screen(page).split("\n")[-3:])


def test_a_terminal_past_the_limit_says_which_and_opens_again_once_another_closes(
    person, terminal_server, artifacts_dir
):
    first = person()
    tabs = [first, first.context.new_page(), first.context.new_page()]  # one attendee's three tabs (limit: 2)
    for tab in tabs[:2]:
        deck_open(tab, terminal_server.url(f"/decks/{SLUG}/"))
        open_terminal(tab)
    third = tabs[2]
    deck_open(third, terminal_server.url(f"/decks/{SLUG}/"))
    third.locator("#viewport").click(position={"x": 5, "y": 5})
    third.keyboard.press("`")
    status = third.locator("#term-panel .term-status")
    expect(status).to_contain_text("PODIUM_TERMINALS_PER_ATTENDEE=2", timeout=FIRST_RUN)
    reopen = third.get_by_role("button", name="Open again")
    expect(reopen).to_be_focused()  # no dead terminal to type into: the way on has the focus
    third.screenshot(path=str(artifacts_dir / "terminal-limit.png"))

    tabs[0].locator("#term-panel .term-close").click()
    # The first tab's terminal detaches on the server as its socket closes: until then, opening again is
    # refused as before (and says so), as it would be for a person clicking again.
    for _ in range(30):
        reopen.click()
        if third.wait_for_function(PROMPT_OR_REFUSED, timeout=FIRST_RUN).json_value() == "ready":
            break
    else:
        pytest.fail(f"the third tab's terminal never opened: {status.inner_text()}")
    third.locator("#term-panel .xterm-helper-textarea").focus()
    assert command(third, "echo third-$((1+2))", "(third-3)") == "third-3"


def test_a_terminal_the_database_did_not_answer_for_says_so_and_opens_again(terminal_server):
    # Opening a terminal makes the attendee's sandbox row. When the database refused that (locked past its
    # busy timeout), the attach's task died with the error inside it and the page waited on "Opening…".
    # The session comes from a plain GET of the deck: a page's own sockets would queue writes (its slide)
    # behind the lock in the server's shared database thread, ahead of the terminal's.
    cookies = http.cookiejar.CookieJar()
    urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies)).open(
        terminal_server.url(f"/decks/{SLUG}/"), timeout=20
    )
    cookie = next(c.value for c in cookies if c.name == "sessionid")
    address = f"ws://127.0.0.1:{terminal_server.port}/ws/decks/{SLUG}/terminal/"
    headers = {"Origin": terminal_server.url(""), "Cookie": f"sessionid={cookie}"}
    opening = json.dumps({"type": "open", "cols": 80, "rows": 24})
    with connect(address, additional_headers=headers) as socket:
        socket.send(json.dumps({"type": "hello"}))  # answered once the socket has looked its attendee up
        assert next_of_type(socket, "error", timeout=20)["code"] == "bad-request"
        with write_lock(server_database(terminal_server)):
            socket.send(opening)
            said = next_of_type(socket, "error", timeout=20)
            assert said["code"] == "unavailable" and "connects again by itself" in said["message"]
            with pytest.raises(ConnectionClosed) as closed:
                socket.recv(timeout=20)
            assert closed.value.rcvd.code == 4503  # the page's terminal connects again by itself
    with connect(address, additional_headers=headers) as again:  # the lock gone: it opens
        again.send(opening)
        assert next_of_type(again, "terminal.ready", timeout=FIRST_RUN / 1000)["type"] == "terminal.ready"


def test_the_panel_says_the_database_did_not_answer_and_opens_once_it_does(person, terminal_server, artifacts_dir):
    # The sentence stays up while the page waits to connect again (it was at once replaced by "The
    # connection dropped"), and nobody has to click anything once the database answers.
    attendee = person()
    deck_open(attendee, terminal_server.url(f"/decks/{SLUG}/"))
    status = attendee.locator("#term-panel .term-status")
    with write_lock(server_database(terminal_server)):
        attendee.locator("#viewport").click(position={"x": 5, "y": 5})
        attendee.keyboard.press("`")
        expect(status).to_contain_text("database did not answer in time", timeout=60_000)
        attendee.screenshot(path=str(artifacts_dir / "terminal-database-busy.png"))
    terminal_ready(attendee)
    assert command(attendee, "echo after-$((6*7))", "(after-42)") == "after-42"
