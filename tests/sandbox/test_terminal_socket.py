"""The terminal socket's protocol without a sandbox (the LocalBackend double has no terminal): every odd frame
gets an answer and leaves the socket usable; the in-sandbox command lines and their parsing, pure."""

from __future__ import annotations

import re

import pytest

from sandbox.backends.base import TerminalRequest, TerminalStatus
from sandbox.backends.terminal_commands import (
    attach_command,
    attach_environment,
    detach_command,
    safe_client,
    status_parse,
)
from sandbox.errors import RunRefused
from sandbox.terminal_registry import terminal_tab
from sandbox.terminals import terminal_size
from tests.sandbox.runs_support import new_session
from tests.sandbox.terminal_support import terminal


def test_the_command_lines_name_the_client_and_the_keep_time():
    request = TerminalRequest(client="abc_1-2", cols=90, rows=33, keep=120.7)
    assert attach_command(request) == ["/usr/local/bin/podium-shell", "attach", "abc_1-2", "120"]
    assert attach_command(TerminalRequest(client="w", watch=True)) == ["/usr/local/bin/podium-shell", "watch", "w"]
    assert detach_command(request) == ["/usr/local/bin/podium-shell", "detach", "abc_1-2", "120"]
    assert attach_environment(request)["TERM"] == "xterm-256color"


@pytest.mark.parametrize("client", ["", "a b", "../x", "x;rm -rf /", "é", "x" * 65])
def test_a_client_id_the_script_would_not_take_is_refused_here(client):
    with pytest.raises(ValueError):
        safe_client(client)


@pytest.mark.parametrize(
    ("output", "status"),
    [
        ("1 2 1\n", TerminalStatus(session=True, typing=2, watching=1)),
        ("0 0 0\n", TerminalStatus()),
        ("podium-enter: the sandbox's engine is not running\n", TerminalStatus()),
        ("", TerminalStatus()),
    ],
)
def test_the_status_line_is_read_or_means_no_session(output, status):
    assert status_parse(output) == status


@pytest.mark.parametrize(
    ("cols", "rows"), [(0, 24), (80, 0), (1001, 24), ("80", 24), (80.5, 24), (True, 24), (None, None)]
)
def test_a_size_out_of_reason_is_refused_in_words(cols, rows):
    with pytest.raises(RunRefused) as refused:
        terminal_size(cols, rows)
    assert refused.value.code == "bad-request" and '"cols": 80' in refused.value.message


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("local_backend")
async def test_odd_frames_are_answered_and_a_backend_without_terminals_says_so(settings):
    settings.PODIUM_WS_MESSAGE_MAX = 1024
    async with terminal(await new_session(), open=False) as term:
        await term.type("ls\r")  # keys before "open"
        assert (await term.until_message("error"))["code"] == "bad-request"
        for frame in ("not json", "[1, 2]", '{"type": "nope"}', '{"type": "resize", "cols": "x"}', "x" * 2000):
            await term.socket.send_to(text_data=frame)
            assert (await term.until_message("error"))["code"] == "bad-request", frame
        await term.send(type="ack", bytes="many")  # ignored: nothing to acknowledge
        await term.send(type="open", cols=80, rows=24)
        ended = await term.until_message("terminal.ended")
        assert ended == {"type": "terminal.ended", "reason": "refused", "message": ended["message"]}
        assert "no terminal" in ended["message"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("local_backend")
async def test_terminal_opens_are_limited_per_client_address(settings):
    """A script that drops its cookie is a new attendee at each open; its address still counts every open."""
    settings.PODIUM_RATE_TERMINALS_PER_ADDRESS = (2, 600)

    async def open_from(address: str) -> str:
        async with terminal(await new_session(), open=False, address=address) as term:
            await term.send(type="open", cols=80, rows=24)
            return (await term.until_message("terminal.ended"))["message"]

    for _ in range(2):  # counted, then refused by this backend, which has no terminal
        assert "no terminal" in await open_from("203.0.113.9")
    refused = await open_from("203.0.113.9")
    assert re.fullmatch(
        r"Too many terminal opens: try again in \d+ s "
        r"\(at most 2 in 600 s: PODIUM_RATE_TERMINALS_PER_ADDRESS=2/600\)\.",
        refused,
    ), refused
    assert "no terminal" in await open_from("198.51.100.4")  # another address is not held up


@pytest.mark.parametrize("tab", ["short", "x" * 65, "a tab with spaces", 12345678, ["tab-0001"]])
def test_a_malformed_tab_is_refused_in_words(tab):
    with pytest.raises(RunRefused) as refused:
        terminal_tab(tab)
    assert refused.value.code == "bad-request" and '"tab"' in refused.value.message
    assert terminal_tab(None) is None and terminal_tab("tab_0001-ok") == "tab_0001-ok"
