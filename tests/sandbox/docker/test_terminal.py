"""The terminal socket end to end on the real DockerBackend: a shell in one's own sandbox, and its limits.

Each test drives the socket as the page does (tests/sandbox/terminal_support.py) and reads what a person
would read on the screen.
"""

from __future__ import annotations

import asyncio
import re

import pytest
from channels.db import database_sync_to_async

from sandbox.models import Attendee, Sandbox
from sandbox.terminals import terminal_status_of
from tests.sandbox.runs_support import SLUG, WAIT, new_session, page
from tests.sandbox.terminal_support import terminal

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("local_backend"), pytest.mark.docker]


@database_sync_to_async
def ids_of(session_key: str) -> tuple[str, str]:
    attendee = Attendee.objects.get(session_key=session_key, deck_slug=SLUG)
    return str(attendee.id), Sandbox.objects.get(attendee=attendee).id.hex


async def test_typing_runs_in_the_sandbox_where_runs_left_off(docker_backend):
    me = await new_session()
    async with page(me) as runs:
        end, _ = await runs.run("cd /tmp && export GREETING=hello-from-a-run")
        assert end["status"] == "ok"
    async with terminal(me, cols=100, rows=30) as term:
        assert await term.command("echo $((6*7))", r"^(42)$") == "42"
        assert await term.command("pwd", r"^(/\S*)$") == "/tmp"
        assert await term.command("echo $GREETING", r"^(hello\S*)$") == "hello-from-a-run"
        assert await term.command("tput cols", r"^(\d+)$") == "100"
        await term.send(type="resize", cols=57, rows=20)
        assert await term.command("tput cols; tput lines", r"^(\d+\n\d+)$") == "57\n20"
        # A cd or export typed here never changes the next Run.
        await term.command("cd / && export GREETING=changed && echo done", r"^(done)$")
    async with page(me) as runs:
        end, _ = await runs.run("pwd; echo $GREETING")
        assert runs.text(end["run"]) == "/tmp\nhello-from-a-run\n"


async def test_a_new_socket_reattaches_to_the_same_shell_with_its_scrollback(docker_backend):
    me = await new_session()
    async with terminal(me) as term:
        await term.command("for i in $(seq 1 60); do echo line-$i; done; echo marker-$((1000+7))", r"^(marker-1007)$")
        await term.command("export ONLY_IN_THIS_SHELL=kept; echo set", r"^(set)$")
    async with terminal(me) as term:
        await term.until_text(r"^line-5$")  # scrolled off the screen before: back in the scrollback
        await term.until_text(r"^marker-1007$")
        assert await term.command("echo $ONLY_IN_THIS_SHELL", r"^(kept)$") == "kept"
        await term.type("exit\r")
        ended = await term.until_message("terminal.ended")
        assert ended["reason"] == "exited" and "Open the terminal again" in ended["message"]
    async with terminal(me) as term:  # a fresh shell after an exit
        assert await term.command('echo "[$ONLY_IN_THIS_SHELL]"', r"^(\[.*\])$") == "[]"


async def test_each_attendee_gets_their_own_sandbox_and_forged_ids_are_refused(docker_backend):
    alice, bob = await new_session(), await new_session()
    async with terminal(alice) as term:
        await term.command("echo alice > /tmp/whoami; echo saved", r"^(saved)$")
    async with terminal(bob) as term:
        await term.command("echo bob > /tmp/whoami; echo saved", r"^(saved)$")
    bob_attendee, bob_sandbox = await ids_of(bob)
    # Alice names Bob's attendee and sandbox every way a client could: she still gets her own shell.
    forged = f"/ws/decks/{SLUG}/terminal/?attendee={bob_attendee}&sandbox={bob_sandbox}"
    async with terminal(alice, path=forged, open=False) as term:
        await term.send(type="open", cols=80, rows=24, attendee=bob_attendee, sandbox=bob_sandbox)
        assert (await term.until_message_either("terminal.ready", "terminal.ended"))["type"] == "terminal.ready"
        assert await term.command("cat /tmp/whoami", r"^(alice|bob)$") == "alice"
    # No session cookie, or one the server never made: refused in words, and closed.
    for cookie in (None, "forged0session0key0that0the0server0never0made"):
        async with terminal(cookie, open=False) as term:
            ended = await term.until_message("terminal.ended")
            assert ended["reason"] == "refused" and "no Podium session" in ended["message"]
            with pytest.raises(ConnectionError):
                await term.receive()
            assert term.closed == 4401


async def test_limits_say_what_was_hit(docker_backend, settings):
    settings.PODIUM_TERMINALS_PER_ATTENDEE = 1
    settings.PODIUM_TERMINAL_INPUT_MAX = 1024
    me = await new_session()
    async with terminal(me) as first:
        async with terminal(me, open=False) as second:
            await second.send(type="open", cols=80, rows=24)
            ended = await second.until_message("terminal.ended")
            assert ended["reason"] == "refused" and "PODIUM_TERMINALS_PER_ATTENDEE=1" in ended["message"]
        await first.type("x" * 2000)
        refused = await first.until_message("error")
        assert refused["code"] == "too-large" and "PODIUM_TERMINAL_INPUT_MAX" in refused["message"]
        await first.send(type="resize", cols=0, rows=10**9)
        assert (await first.until_message("error"))["code"] == "bad-request"
        assert await first.command("echo still-here", r"^(still-here)$") == "still-here"
    settings.PODIUM_TERMINAL_IDLE = 1
    async with terminal(me) as term:  # the first one detached: this one is allowed again
        ended = await term.until_message("terminal.ended")
        assert ended["reason"] == "idle" and "without a keystroke" in ended["message"]


async def test_a_page_that_lags_stops_the_reading(docker_backend, settings):
    settings.PODIUM_TERMINAL_WINDOW = 16 * 1024
    me = await new_session()
    async with terminal(me, ack=False) as term:
        assert term.ack_every == 2 * 1024  # the page acknowledges in eighths of the window, not every frame
        await term.type("seq 1 300000; echo the-end\r")
        await term.silence()  # the server stopped sending: the page acknowledged nothing
        assert 16 * 1024 <= term.raw <= 16 * 1024 + 64 * 1024 + 4096
        assert "the-end" not in term.text.split("seq 1 300000; echo the-end")[-1]
        term.ack = True
        await term.send(type="ack", bytes=term.raw)  # the page caught up: the rest comes, acknowledged in steps
        await term.until_text(r"^the-end$")


async def test_a_session_nobody_came_back_to_ends_after_the_keep_time(docker_backend, settings):
    settings.PODIUM_TERMINAL_KEEP = 1
    me = await new_session()
    async with terminal(me) as term:
        await term.command("export LEFT_BEHIND=yes; echo set", r"^(set)$")
    attendee = await database_sync_to_async(Attendee.objects.get)(session_key=me, deck_slug=SLUG)
    for _ in range(WAIT * 2):  # the sandbox ends it by itself
        if not (await terminal_status_of(attendee=attendee)).session:
            break
        await asyncio.sleep(0.5)
    else:
        pytest.fail("the session nobody came back to is still there")
    async with terminal(me) as term:
        assert await term.command('echo "[$LEFT_BEHIND]"', r"^(\[.*\])$") == "[]"


async def test_opening_terminals_too_often_is_refused_naming_the_limit(docker_backend, settings):
    settings.PODIUM_RATE_TERMINALS_PER_ATTENDEE = (2, 600)
    me = await new_session()
    for _ in range(2):  # a page that closes and opens its terminal, or a script that does
        async with terminal(me) as term:
            assert await term.command("echo open", r"^(open)$") == "open"
    async with terminal(me, open=False) as term:
        await term.send(type="open", cols=80, rows=24)
        ended = await term.until_message("terminal.ended")
        assert ended["reason"] == "refused"
        assert re.fullmatch(
            r"Too many terminal opens: try again in \d+ s "
            r"\(at most 2 in 600 s: PODIUM_RATE_TERMINALS_PER_ATTENDEE=2/600\)\.",
            ended["message"],
        ), ended["message"]


async def test_a_tabs_new_socket_takes_over_the_attach_its_old_socket_still_holds(docker_backend, settings):
    """A page whose network dropped opens a new socket; the server may not have seen the old one die. The same
    tab's new socket takes the old one's place instead of being refused by PODIUM_TERMINALS_PER_ATTENDEE."""
    settings.PODIUM_TERMINALS_PER_ATTENDEE = 1
    me = await new_session()
    async with terminal(me, tab="tab-one-0001") as old:
        await old.command("export BEFORE_THE_DROP=kept; echo set", r"^(set)$")
        async with terminal(me, tab="tab-one-0001") as new:
            assert await new.command("echo $BEFORE_THE_DROP", r"^(kept)$") == "kept"  # the same shell
            ended = await old.until_message("terminal.ended")
            assert ended["reason"] == "replaced" and "opened again from this browser tab" in ended["message"]
            with pytest.raises(ConnectionError):
                await old.receive()
            attendee = await database_sync_to_async(Attendee.objects.get)(session_key=me, deck_slug=SLUG)
            assert (await terminal_status_of(attendee=attendee)).typing == 1
            # Another tab is another terminal: the limit still holds for it.
            async with terminal(me, tab="tab-two-0002", open=False) as other:
                await other.send(type="open", cols=80, rows=24, tab="tab-two-0002")
                refused = await other.until_message("terminal.ended")
                assert refused["reason"] == "refused" and "PODIUM_TERMINALS_PER_ATTENDEE=1" in refused["message"]
            assert await new.command("echo still-mine", r"^(still-mine)$") == "still-mine"


async def test_a_resize_sent_while_the_terminal_opens_reaches_the_shell(docker_backend):
    """The panel settles its size while the sandbox is being attached (the socket opened with the first guess):
    the shell gets the settled size, or a full-screen program would draw at the wrong one."""
    me = await new_session()
    async with terminal(me, open=False) as term:
        await term.send(type="open", cols=80, rows=24)
        await term.send(type="resize", cols=131, rows=13)
        await term.until_message("terminal.ready")
        assert await term.command("tput cols; tput lines", r"^(\d+\n\d+)$") == "131\n13"


async def test_a_reattach_replays_the_last_output_up_to_its_cap(docker_backend):
    me = await new_session()
    async with terminal(me) as term:  # ~390 KB of output: more than the session keeps (256 KiB)
        await term.command("seq -f cap-%g 1 40000; echo cap-done", r"^(cap-done)$")
    async with terminal(me) as term:
        await term.until_text(r"^cap-done$")
        assert term.raw <= 256 * 1024
        assert re.search(r"^cap-40000$", term.text, re.MULTILINE)  # the last lines are back
        assert not re.search(r"^cap-1$", term.text, re.MULTILINE)  # the first are gone
        assert "\x1b[2J" not in term.printed and "\x1b[H\x1b[J" not in term.printed  # nothing clears the screen


async def test_a_reattach_replays_what_was_printed_but_no_question_asked_of_the_terminal(docker_backend):
    # A program's questions (vim asks the cursor position and the background colour) were answered when they
    # were printed. Replayed as they were, the page's xterm.js answered them again: keys typed into the shell.
    asks = [
        "\x1b[c",  # device attributes
        "\x1b[>c",  # secondary device attributes
        "\x1b[6n",  # cursor position
        "\x1b[?2004$p",  # a mode's state
        "\x1b]11;?\x07",  # background colour, BEL-terminated
        "\x1b]4;1;?\x1b\\",  # a palette colour, ST-terminated
        "\x1bP$qm\x1b\\",  # a setting (DECRQSS)
    ]
    keeps = ["\x1b[31mred\x1b[0m", "\x1b[>4;1m", "\x1b]0;a-title\x07", "\x1b[?25h"]
    shown = "".join(f"{keep}{ask}" for keep, ask in zip(keeps * 2, asks, strict=False))
    me = await new_session()
    async with terminal(me) as term:
        octal = "".join(f"\\{ord(c):03o}" if not c.isalnum() else c for c in shown)
        await term.command(f"printf '{octal}'; echo; echo asked-$((40+2))", r"^.*?(asked-42)$")
        assert all(ask in term.printed for ask in asks)  # printed as they came, live
    async with terminal(me) as term:
        await term.until_text(r"^asked-42$")
        replay = term.printed
        assert [ask for ask in asks if ask in replay] == []
        assert all(keep in replay for keep in keeps)  # colours, modes and titles are replayed as printed
        assert "\x1b[31mred\x1b[0m\x1b[>4;1m\x1b]0;a-title\x07\x1b[?25h\x1b[31mred" in replay  # nothing else lost


async def test_two_pages_of_one_attendee_share_the_one_shell(docker_backend):
    me = await new_session()
    async with terminal(me) as first, terminal(me) as second:
        await first.command("export SHARED=one-shell; echo from-first-$((1+1))", r"^(from-first-2)$")
        await second.until_text(r"^from-first-2$")
        assert await second.command("echo $SHARED", r"^(one-shell)$") == "one-shell"
        await first.until_text(r"^one-shell$")
