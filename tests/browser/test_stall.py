"""One attendee's slow moment never stalls anyone else's page (issue 12: the presenter view once stayed
"connecting" for 15 s in a full run, right after another attendee's sandbox reset).

The stall is real: the test takes SQLite's write lock on the server's own database file, as a long write
would, and an attendee's pages then click Run, so their writes wait on the lock (up to SQLite's 5 s busy
timeout each) in the one thread the server's short database calls share. While that lasts, the
presenter reloads their view. Every socket of a page used to wait for that thread before its handshake
was answered (the user was looked up there first), and Chromium opens a page's sockets one handshake at a
time: the presenter's view stayed "connecting". Now the view goes live while the lock is still held.
"""

from __future__ import annotations

import json
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
from playwright.sync_api import expect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.browser.conftest import deck_open
from tests.browser.stall import next_of_type, server_database, write_lock

pytestmark = pytest.mark.browser

PAGES = 6  # an attendee's open pages, each with a Run's claim stuck on the lock: 30 s of the shared thread
LIVE = "Live — the audience follows"
WAIT = 20


def _runs_socket(stack: ExitStack, server, session_key: str):
    return stack.enter_context(
        connect(
            f"ws://127.0.0.1:{server.port}/ws/decks/{server.slug}/runs/",
            additional_headers={"Origin": server.url(""), "Cookie": f"sessionid={session_key}"},
            open_timeout=WAIT,
        )
    )


def _attendee(new_page, server) -> tuple[str, Path, object]:
    """An attendee's deck page open on `server`: their session key, the server's database file, and the page."""
    attendee = new_page()
    deck_open(attendee, server.url(f"/decks/{server.slug}/"))
    session_key = next(c["value"] for c in attendee.context.cookies() if c["name"] == "sessionid")
    return session_key, server_database(server), attendee


def _ready_socket(stack: ExitStack, server, session_key: str):
    """A runs socket that has looked its attendee up (its history answered): set up before any lock."""
    socket = _runs_socket(stack, server, session_key)
    socket.send(json.dumps({"type": "history"}))
    next_of_type(socket, "history", timeout=WAIT)
    return socket


def test_an_attendees_database_stall_never_keeps_the_presenter_view_from_going_live(new_page, podium_server):
    presenter = new_page()
    deck_open(presenter, podium_server.presenter_link)
    expect(presenter.locator("#status")).to_have_text(LIVE)
    session_key, database, attendee = _attendee(new_page, podium_server)
    block = attendee.locator("[data-block][data-runnable='true']").first.get_attribute("data-block")

    with ExitStack() as stack:
        pages = [_runs_socket(stack, podium_server, session_key) for _ in range(PAGES)]
        with write_lock(database):
            for socket in pages:  # a Run is claimed (a write) in the shared thread: each waits on the lock
                socket.send(json.dumps({"type": "run", "block": block}))
            # The stall is there: the attendee's own history read waits behind their stuck writes.
            pages[0].send(json.dumps({"type": "history"}))
            with pytest.raises(TimeoutError):
                next_of_type(pages[0], "history", timeout=2)

            deck_open(presenter)  # the presenter reloads (or their Wi-Fi drops): every socket of the view anew
            expect(presenter.locator("#status")).to_have_text(LIVE)
        # The lock gone, the attendee's waiting work goes on: their history is answered.
        assert next_of_type(pages[0], "history", timeout=WAIT)["type"] == "history"


def test_a_slide_the_locked_database_refused_is_stored_once_it_is_free(new_page, podium_server):
    # SQLite gives up on a write after its 5 s busy timeout ("database is locked"). The slide an attendee had
    # moved to was then lost until their page reported another one: a reload put them back on the old slide.
    session_key, database, _ = _attendee(new_page, podium_server)
    with ExitStack() as stack:
        page = _ready_socket(stack, podium_server, session_key)
        with write_lock(database):
            said = podium_server.log.stat().st_size
            page.send(json.dumps({"type": "progress", "slide": 4}))
            deadline = time.monotonic() + WAIT
            while b"storing the slide of attendee" not in podium_server.log.read_bytes()[said:]:
                assert time.monotonic() < deadline, "the server never said it could not store the slide"
                time.sleep(0.2)
        deadline = time.monotonic() + WAIT
        while True:  # the lock gone, the next try stores it
            page.send(json.dumps({"type": "history"}))
            if next_of_type(page, "history", timeout=WAIT)["slide"] == 4:
                break
            assert time.monotonic() < deadline, "the slide refused while the database was locked was never stored"
            time.sleep(0.2)


def test_a_database_that_does_not_answer_in_time_is_said_in_words_and_loses_no_socket_for_good(new_page, podium_server):
    # A socket that could not even look its attendee up, and a Run that could not be stored, crashed with an
    # exception inside the application: the page saw its socket close, or its Run button wait, without a word.
    session_key, database, attendee = _attendee(new_page, podium_server)
    block = attendee.locator("[data-block][data-runnable='true']").first.get_attribute("data-block")
    with ExitStack() as stack:
        ready = _ready_socket(stack, podium_server, session_key)
        with write_lock(database):
            opening = _runs_socket(stack, podium_server, session_key)  # looks its attendee up: a write
            ready.send(json.dumps({"type": "run", "block": block}))
            refused = next_of_type(ready, "error", timeout=WAIT)
            assert (refused["code"], refused["block"]) == ("unavailable", block)
            assert "database did not answer in time" in refused["message"] and "try it again" in refused["message"]
            said = next_of_type(opening, "error", timeout=WAIT)
            assert said["code"] == "unavailable" and "connects again by itself" in said["message"]
            with pytest.raises(ConnectionClosed) as closed:
                opening.recv(timeout=WAIT)
            assert closed.value.rcvd.code == 4503  # try again later: the page's socket connects again
        again = _runs_socket(stack, podium_server, session_key)  # the lock gone, all is as before
        again.send(json.dumps({"type": "history"}))
        assert next_of_type(again, "history", timeout=WAIT)["type"] == "history"
        ready.send(json.dumps({"type": "history"}))
        assert next_of_type(ready, "history", timeout=WAIT)["type"] == "history"


def test_slides_stuck_on_the_lock_never_hold_up_anyones_reads(new_page, podium_server):
    # Slide writes went through the thread every short database call of the process shares: six of an
    # attendee's pages reporting slides under a lock held it for 30 s and more (5 s per try, tried again),
    # and every other attendee's history read and Run claim waited behind them.
    session_key, database, _ = _attendee(new_page, podium_server)
    other_key, _, _ = _attendee(new_page, podium_server)
    with ExitStack() as stack:
        pages = [_ready_socket(stack, podium_server, session_key) for _ in range(PAGES)]
        other = _ready_socket(stack, podium_server, other_key)
        with write_lock(database):
            for number, socket in enumerate(pages, start=2):
                socket.send(json.dumps({"type": "progress", "slide": number}))
            time.sleep(0.5)  # the slides are in the server's hands
            for reader in (other, pages[0]):  # read while the lock is still held
                reader.send(json.dumps({"type": "history"}))
                assert next_of_type(reader, "history", timeout=WAIT)["type"] == "history"
        deadline = time.monotonic() + 60
        while True:  # the lock gone, each page's slide is stored (the last one stored wins)
            pages[0].send(json.dumps({"type": "history"}))
            if next_of_type(pages[0], "history", timeout=WAIT)["slide"] in range(2, PAGES + 2):
                break
            assert time.monotonic() < deadline, "the slides reported while the database was locked were never stored"
            time.sleep(0.5)
