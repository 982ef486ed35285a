""" "Check my work" over the runs websocket: the deck's check runs in the attendee's own sandbox, done / not yet.

The LocalBackend tests cover the protocol (answers, errors, who sees them, no sandbox made by a check);
the docker ones run checks for real in a workspace container, including that a check only looks.
"""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from sandbox.models import Sandbox
from tests.sandbox.runs_support import CHECKS_SLUG as SLUG
from tests.sandbox.runs_support import MAKE_FILE, check, new_session, page

SLIDE_CHECK = "s3"  # prints "There is no other.txt yet." and fails
MOVING_CHECK = "s4"  # cd / && export LEAKED=yes
FIRST_HINT = "Make the file other.txt in your working folder."  # SLIDE_CHECK's hint=
SECOND_HINT = "Run: touch other.txt"  # its hint2=, after=2

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def sandbox_count() -> int:
    return Sandbox.objects.count()


# -- the protocol (LocalBackend) -----------------------------------------------------------------------------
@pytest.mark.usefixtures("local_backend", "checks_deck")
async def test_not_yet_then_done_after_the_step_ran():
    async with page(await new_session(), SLUG) as me:
        answer = await check(me, MAKE_FILE)
        assert answer == {
            "type": "check.result",
            "block": MAKE_FILE,
            "done": False,
            "message": "Not yet: you have no sandbox yet. Run this step's code first.",
        }
        assert await sandbox_count() == 0  # a check never makes a sandbox

        end, _ = await me.run("echo made a sandbox", block=MAKE_FILE)
        assert end["status"] == "ok"
        answer = await check(me, MAKE_FILE)
        assert (answer["done"], answer["message"]) == (False, "Not yet: The file step.txt exists")

        end, _ = await me.run(block=MAKE_FILE)
        assert end["status"] == "ok"
        answer = await check(me, MAKE_FILE)
        assert (answer["done"], answer["message"]) == (True, "The file step.txt exists")


@pytest.mark.usefixtures("local_backend", "checks_deck")
async def test_a_failing_check_shows_the_last_line_it_printed():
    async with page(await new_session(), SLUG) as me:
        await me.run(block=MAKE_FILE)
        answer = await check(me, SLIDE_CHECK)
        assert answer == {
            "type": "check.result",
            "block": SLIDE_CHECK,
            "done": False,
            "message": "There is no other.txt yet.",
            "hints": [FIRST_HINT],
        }


@pytest.mark.usefixtures("local_backend", "checks_deck")
async def test_hints_come_after_failed_checks_and_the_second_after_two_in_a_row():
    async with page(await new_session(), SLUG) as me:
        assert "hints" not in await check(me, SLIDE_CHECK)  # no sandbox yet: no verdict, so no hint
        await me.run(block=MAKE_FILE)
        assert (await check(me, SLIDE_CHECK))["hints"] == [FIRST_HINT]
        assert (await check(me, SLIDE_CHECK))["hints"] == [FIRST_HINT, SECOND_HINT]
        assert (await check(me, SLIDE_CHECK))["hints"] == [FIRST_HINT, SECOND_HINT]
        end, _ = await me.run("touch other.txt", block=MAKE_FILE)
        assert end["status"] == "ok"
        answer = await check(me, SLIDE_CHECK)
        assert answer["done"] is True and "hints" not in answer
        # A pass starts the count again: the next failure shows the first hint only.
        await me.run("rm other.txt", block=MAKE_FILE)
        assert (await check(me, SLIDE_CHECK))["hints"] == [FIRST_HINT]
        # A check without hints never carries any.
        assert "hints" not in await check(me, MAKE_FILE)


@pytest.mark.usefixtures("local_backend", "checks_deck")
async def test_every_page_of_the_attendee_hears_the_answer_and_nobody_else():
    alice_key = await new_session()
    async with (
        page(alice_key, SLUG) as alice,
        page(alice_key, SLUG) as alice_too,
        page(await new_session(), SLUG) as bob,
    ):
        await alice.run(block=MAKE_FILE)
        assert (await check(alice, MAKE_FILE))["done"] is True
        other = await alice_too.wait_for(lambda m: m["type"] == "check.result")
        assert (other["block"], other["done"]) == (MAKE_FILE, True)
        # Bob has no sandbox: Alice's file is no evidence of Bob's work.
        assert (await check(bob, MAKE_FILE))["done"] is False
        assert not [m for m in bob.log if m["type"] == "check.result" and m["done"]]


@pytest.mark.usefixtures("local_backend", "checks_deck")
@pytest.mark.parametrize(
    ("block", "code", "words"),
    [
        ("s9b0", "not-found", "There is no check for 's9b0' in this deck."),
        ("s1", "not-found", "There is no check for 's1' in this deck."),
        ("", "bad-request", "Say which step to check"),
    ],
)
async def test_a_step_without_a_check_is_an_error_naming_it(block, code, words):
    async with page(await new_session(), SLUG) as me:
        answer = await check(me, block)
        assert (answer["type"], answer["code"]) == ("error", code)
        assert answer["message"].startswith(words)
        if block:
            assert answer["check"] == block and "block" not in answer


# -- for real, in a workspace container (DockerBackend) ----------------------------------------------------------
@pytest.mark.docker
async def test_docker_checks_pass_and_fail_for_real(checks_deck, docker_backend):
    async with page(await new_session(), SLUG) as me:
        end, _ = await me.run("cd /tmp && echo moved", block=MAKE_FILE)
        assert end["status"] == "ok"
        answer = await check(me, MAKE_FILE)
        assert (answer["done"], answer["message"]) == (False, "Not yet: The file step.txt exists")
        assert (await check(me, SLIDE_CHECK))["message"] == "There is no other.txt yet."

        end, _ = await me.run(block=MAKE_FILE)  # in /tmp, where the attendee's shell now is
        assert end["status"] == "ok"
        answer = await check(me, MAKE_FILE)
        assert (answer["done"], answer["message"]) == (True, "The file step.txt exists")


@pytest.mark.docker
async def test_docker_a_check_only_looks(checks_deck, docker_backend):
    async with page(await new_session(), SLUG) as me:
        end, _ = await me.run("cd /tmp && export MINE=kept", block=MAKE_FILE)
        assert end["status"] == "ok"
        assert (await check(me, MOVING_CHECK))["done"] is True
        # The check's `cd /` and `export` did not stick; the attendee's own did.
        end, _ = await me.run('pwd; echo "mine=$MINE leaked=${LEAKED:-no}"', block=MAKE_FILE)
        assert me.text(end["run"], "stdout") == "/tmp\nmine=kept leaked=no\n"
