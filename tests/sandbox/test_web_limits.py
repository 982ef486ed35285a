"""The runs websocket's guards: the Origin check, the message size cap and the rate limits.

Real sessions through the whole ASGI stack (origin validator, auth, routing)
with the LocalBackend test double; the limits are set small per test.
"""

from __future__ import annotations

import re

import pytest
from channels.testing import WebsocketCommunicator

from config.asgi import application
from sandbox.protocol import CLIENT_TYPES_SAID
from tests.sandbox.runs_support import CHECKS_SLUG, MAKE_FILE, ORIGIN, SHELL, SLUG, WAIT, Page, check, new_session, page

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("local_backend")]

RETRY = r"try again in \d+ s\."


async def _connects(headers: list[tuple[bytes, bytes]]) -> bool:
    socket = WebsocketCommunicator(application, f"/ws/decks/{SLUG}/runs/", headers=headers)
    connected, _ = await socket.connect(timeout=WAIT)
    if connected:
        await socket.disconnect(timeout=WAIT)
    return connected


async def test_only_the_pages_own_origin_may_open_the_runs_socket():
    cookie = (b"cookie", f"sessionid={await new_session()}".encode())
    assert await _connects([ORIGIN, cookie])
    assert await _connects([(b"origin", b"http://localhost:8000"), cookie])
    assert not await _connects([(b"origin", b"http://evil.example.com"), cookie])
    assert not await _connects([(b"origin", b"http://127.0.0.1.evil.example.com"), cookie])
    assert not await _connects([cookie])  # no Origin at all: not a page of ours


async def test_an_oversized_message_is_answered_not_parsed_and_the_socket_goes_on(settings):
    settings.PODIUM_WS_MESSAGE_MAX = 1000
    async with page(await new_session()) as me:
        error = await me.error(type="run", block=SHELL, code="x" * 2000)
        assert error["code"] == "bad-request"
        assert "at most 1,000 bytes (the limit PODIUM_WS_MESSAGE_MAX)" in error["message"]
        assert CLIENT_TYPES_SAID in error["message"]
        end, _ = await me.run("echo still here")
        assert me.text(end["run"]) == "still here\n"


async def test_the_default_cap_holds_the_biggest_code_a_run_may_have(settings):
    """A run of PODIUM_RUN_CODE_MAX bytes fits in a message; the cap refuses only what no run could be."""
    code = "#" * (settings.PODIUM_RUN_CODE_MAX - 20) + "\necho fits"
    async with page(await new_session()) as me:
        end, _ = await me.run(code)
        assert me.text(end["run"]) == "fits\n"
        await me.socket.send_to(text_data="x" * (settings.PODIUM_WS_MESSAGE_MAX + 1))
        error = await me.wait_for(lambda m: m["type"] == "error", after=len(me.log))
        assert "PODIUM_WS_MESSAGE_MAX" in error["message"]


async def test_too_many_runs_are_refused_saying_when_to_retry(settings):
    settings.PODIUM_RATE_RUNS = (2, 60)
    async with page(await new_session()) as me, page(await new_session()) as other:
        for _ in range(2):
            await me.run("true")
        refused = await me.error(type="run", block=SHELL)
        assert refused["code"] == "limit" and refused["block"] == SHELL
        assert re.fullmatch(rf"Too many runs: {RETRY}", refused["message"])
        seconds = int(re.search(r"(\d+) s", refused["message"]).group(1))
        assert 1 <= seconds <= 60
        # Another attendee has runs of their own.
        end, _ = await other.run("echo mine")
        assert other.text(end["run"]) == "mine\n"


async def test_bad_requests_do_not_use_up_the_runs(settings):
    settings.PODIUM_RATE_RUNS = (1, 60)
    async with page(await new_session()) as me:
        for _ in range(3):
            assert (await me.error(type="run", block="s99b9"))["code"] == "not-found"
        end, _ = await me.run("echo counted once")
        assert end["status"] == "ok"


async def test_new_sandboxes_are_limited_per_attendee_by_resets(settings):
    settings.PODIUM_RATE_SANDBOXES_PER_ATTENDEE = (2, 600)
    async with page(await new_session()) as me:
        await me.run("true")  # the first sandbox
        await me.send(type="reset")
        assert (await me.wait_for(lambda m: m["type"] == "sandbox.reset"))["status"] == "ok"
        mark = len(me.log)
        await me.send(type="reset")
        refused = await me.wait_for(lambda m: m["type"] == "sandbox.reset", after=mark)
        # Answered as a reset that did not happen, so the page's reset control stops waiting and says why.
        assert refused["status"] == "error"
        assert re.fullmatch(rf"Too many new sandboxes: {RETRY}", refused["message"])
        # The sandbox it has goes on working.
        end, _ = await me.run("echo kept")
        assert me.text(end["run"]) == "kept\n"


async def _page_from(address: str, session: str):
    socket = WebsocketCommunicator(
        application, f"/ws/decks/{SLUG}/runs/", headers=[ORIGIN, (b"cookie", f"sessionid={session}".encode())]
    )
    socket.scope["client"] = (address, 50000)  # as daphne fills it (behind a proxy: with --proxy-headers)
    connected, _ = await socket.connect(timeout=WAIT)
    assert connected
    return Page(socket)


async def test_new_sandboxes_are_limited_per_client_address(settings):
    """A client that drops its cookie is a new attendee each time; its address still counts every sandbox."""
    settings.PODIUM_RATE_SANDBOXES_PER_ADDRESS = (2, 600)
    pages = [await _page_from("203.0.113.7", await new_session()) for _ in range(3)]
    elsewhere = await _page_from("198.51.100.1", await new_session())
    try:
        for me in pages[:2]:
            await me.run("true")
        refused = await pages[2].error(type="run", block=SHELL)
        assert refused["code"] == "limit"
        assert re.fullmatch(rf"Too many new sandboxes: {RETRY}", refused["message"])
        # Runs in sandboxes that exist are not new sandboxes; other addresses are not held up.
        end, _ = await pages[0].run("echo again")
        assert end["status"] == "ok"
        end, _ = await elsewhere.run("echo elsewhere")
        assert end["status"] == "ok"
    finally:
        for me in [*pages, elsewhere]:
            await me.socket.disconnect(timeout=WAIT)


@pytest.mark.usefixtures("checks_deck")
async def test_too_many_checks_are_refused_at_the_step(settings):
    settings.PODIUM_RATE_CHECKS = (2, 60)
    async with page(await new_session(), slug=CHECKS_SLUG) as me:
        for _ in range(2):
            assert (await check(me, MAKE_FILE))["type"] == "check.result"
        refused = await check(me, MAKE_FILE)
        assert refused["type"] == "error" and refused["code"] == "limit" and refused["check"] == MAKE_FILE
        assert re.fullmatch(rf"Too many checks: {RETRY}", refused["message"])
