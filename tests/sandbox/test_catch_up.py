"""Catch me up over the runs websocket: the sandbox reset, the deck's blocks before the slide run in order as
real runs, the first failure stopping it with the step named, a second press refused, cancel.

Fixture decks in fixtures/catchup/: catchup-demo.md (each block adds a line to order.txt; slide 5's fails),
catchup-slow.md (its first step sleeps). The order, the failure and the refusal run on a real Docker sandbox
(the order once more on the test cluster); what is refused before any sandbox is touched runs on the
LocalBackend double.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from channels.db import database_sync_to_async

from sandbox.models import Run
from tests.sandbox.runs_support import FIXTURES, new_session, page

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("local_backend")]

CATCHUP_DECKS: Path = FIXTURES / "catchup"
DEMO, SLOW = "catchup-demo", "catchup-slow"
# Generous: a step may first create the sandbox (a container and its inner engine) on a busy machine.
SLOW_WAIT = 300


@pytest.fixture
def catchup_decks(settings, runs_deck):
    settings.PODIUM_SLIDES_DIR = CATCHUP_DECKS


async def catch_up(me, slide: int) -> int:
    """Press "Catch me up" on `slide`; the index in `me.log` from which its messages come."""
    mark = len(me.log)
    await me.send(type="catchup", slide=slide)
    return mark


async def catch_up_end(me, after: int) -> dict:
    return await me.wait_for(lambda m: m["type"] in ("catchup.finished", "error"), after=after, wait=SLOW_WAIT)


def accepted_blocks(me, after: int) -> list[str]:
    return [m["block"] for m in me.log[after:] if m["type"] == "run.accepted"]


def progress_steps(me, after: int) -> list[tuple[int, int]]:
    return [(m["step"], m["total"]) for m in me.log[after:] if m["type"] == "catchup.progress"]


@database_sync_to_async
def stored_runs(slug: str) -> list[tuple[str, str, bool]]:
    return [(run.block_id, run.status, run.edited) for run in Run.objects.filter(deck_slug=slug).order_by("created_at")]


@pytest.mark.docker
@pytest.mark.usefixtures("catchup_decks")
async def test_catching_up_resets_and_runs_the_decks_blocks_before_the_slide_in_order(docker_backend):
    session = await new_session()
    async with page(session, DEMO) as me:
        # The attendee's own edit of a block first: catching up throws it away and runs the deck's text.
        end, _ = await me.run("echo mine >> order.txt", block="s2b0")
        assert end["status"] == "ok"

        mark = await catch_up(me, 4)
        end = await catch_up_end(me, mark)
        assert end["type"] == "catchup.finished" and end["status"] == "ok", end
        assert end["message"] == "You are caught up: 3 steps ran, up to slide 3."
        assert accepted_blocks(me, mark) == ["s2b0", "s3b0", "s3b2"]  # the plain text block is no step
        assert progress_steps(me, mark) == [(0, 3), (1, 3), (2, 3), (3, 3)]
        steps = [m for m in me.log[mark:] if m["type"] == "catchup.progress"]
        assert steps[3]["message"] == "Catching up: step 3 of 3 — Run on slide 3 (Two and three)"
        # Each step is a run the page shows under its block: accepted, finished ok.
        finished = [m for m in me.log[mark:] if m["type"] == "run.finished"]
        assert [(m["block"], m["status"]) for m in finished] == [("s2b0", "ok"), ("s3b0", "ok"), ("s3b2", "ok")]

        end, _ = await me.run(block="s4b0")
        assert me.text(end["run"]) == "one\ntwo\nthree\n"

    # A reload finds the steps as the attendee's runs of those blocks, the deck's text, not their edit.
    async with page(session, DEMO) as again:
        await again.send(type="history")
        history = await again.wait_for(lambda m: m["type"] == "history")
        shown = {run["block"]: (run["status"], run["edited"]) for run in history["runs"]}
        assert shown == {"s2b0": ("ok", False), "s3b0": ("ok", False), "s3b2": ("ok", False), "s4b0": ("ok", False)}
        assert history["catchup"] is None


@pytest.mark.docker
@pytest.mark.usefixtures("catchup_decks")
async def test_catching_up_stops_at_the_first_failure_and_names_the_step(docker_backend):
    async with page(await new_session(), DEMO) as me:
        mark = await catch_up(me, 7)
        end = await catch_up_end(me, mark)
        assert end["type"] == "catchup.finished" and end["status"] == "failed", end
        assert (end["step"], end["total"], end["block"], end["slide"]) == (5, 6, "s5b0", 5)
        assert end["message"] == (
            "Catching up stopped at step 5 of 6, Run of block 1 on slide 5 (A step that fails): "
            "The command ended with exit code 3."
        )
        assert accepted_blocks(me, mark) == ["s2b0", "s3b0", "s3b2", "s4b0", "s5b0"]  # slide 6's never ran

        end, _ = await me.run("cat order.txt", block="s4b0")
        assert me.text(end["run"]) == "one\ntwo\nthree\nfour\n"


@pytest.mark.docker
@pytest.mark.usefixtures("catchup_decks")
async def test_a_second_press_while_catching_up_is_refused_and_cancel_stops_it(docker_backend):
    session = await new_session()
    async with page(session, SLOW) as me:
        mark = await catch_up(me, 4)
        refused = await me.error(type="catchup", slide=4)
        assert (refused["code"], refused["catchup"]) == ("busy", True)
        assert refused["message"].startswith("You are being caught up already (Catching up: ")
        assert refused["message"].endswith("Wait for it to finish, or cancel it.")

        # The slow first step is running: a run of the attendee's own is refused meanwhile.
        step = await me.wait_for(lambda m: m["type"] == "catchup.progress" and m["step"] == 1, after=mark)
        await me.wait_for(lambda m: m["type"] == "run.output" and m["run"] == step["run"], wait=SLOW_WAIT)
        assert (await me.error(type="run", block="s3b0"))["code"] == "busy"

        # Another page of the attendee (a reload) is told where catching up is.
        async with page(session, SLOW) as other:
            await other.send(type="history")
            history = await other.wait_for(lambda m: m["type"] == "history")
            assert history["catchup"] == {
                "step": 1,
                "total": 2,
                "message": "Catching up: step 1 of 2 — Run on slide 2 (Slow)",
            }

        cancelling = len(me.log)
        await me.send(type="catchup-cancel")
        end = await catch_up_end(me, cancelling)
        assert end["status"] == "cancelled", end
        assert end["message"] == "Catching up cancelled at step 1 of 2, Run of block 1 on slide 2 (Slow): no step ran."
        assert (await me.finished(step["run"]))["status"] == "cancelled"
        assert accepted_blocks(me, mark) == ["s2b0"]
        # Over: nothing to cancel, and the attendee may run again.
        assert (await me.error(type="catchup-cancel"))["code"] == "not-running"
        end, _ = await me.run("echo free again", block="s3b0")
        assert end["status"] == "ok"


@pytest.mark.usefixtures("catchup_decks")
async def test_what_cannot_be_caught_up_is_refused_in_words_before_the_sandbox_is_touched():
    async with page(await new_session(), DEMO) as me:
        for slide in ("seven", 0, 99, True, None):
            refused = await me.error(type="catchup", slide=slide)
            assert (refused["code"], refused["catchup"]) == ("bad-request", True)
            assert refused["message"].startswith("Say which slide to catch up to, 1 to 7:")
        refused = await me.error(type="catchup", slide=2)
        assert refused["code"] == "not-runnable"
        assert refused["message"] == "Nothing to catch up on: no slide before slide 2 has code to run."
        assert (await me.error(type="catchup-cancel"))["code"] == "not-running"
        assert not [m for m in me.log if m["type"].startswith(("sandbox.", "run."))]
    assert await stored_runs(DEMO) == []


@pytest.mark.usefixtures("catchup_decks", "sandbox_worker")
async def test_with_a_separate_worker_each_step_still_waits_for_the_one_before():
    async with page(await new_session(), DEMO) as me:
        mark = await catch_up(me, 5)
        end = await catch_up_end(me, mark)
        assert end["type"] == "catchup.finished" and end["status"] == "ok", end
        look = next(m for m in me.log[mark:] if m["type"] == "run.accepted" and m["block"] == "s4b0")
        assert me.text(look["run"]) == "one\ntwo\nthree\n"


@pytest.mark.usefixtures("catchup_decks")
async def test_catching_up_counts_the_reset_against_the_new_sandbox_rate(settings):
    settings.PODIUM_RATE_SANDBOXES_PER_ATTENDEE = (1, 600)
    async with page(await new_session(), DEMO) as me:
        end, _ = await me.run(block="s2b0")  # the attendee's first sandbox: the one allowed
        assert end["status"] == "ok"
        refused = await me.error(type="catchup", slide=4)
        assert (refused["code"], refused["catchup"]) == ("limit", True)
        assert refused["message"].startswith("Too many new sandboxes: try again in ")
        # Refused, it holds nothing: the attendee runs as before.
        end, _ = await me.run(block="s3b0")
        assert end["status"] == "ok"


@pytest.mark.cluster
@pytest.mark.usefixtures("catchup_decks")
async def test_catching_up_on_kubernetes_takes_the_same_path(kubernetes_backend):
    async with page(await new_session(), DEMO) as me:
        mark = await catch_up(me, 5)
        end = await catch_up_end(me, mark)
        assert end["type"] == "catchup.finished" and end["status"] == "ok", end
        assert accepted_blocks(me, mark) == ["s2b0", "s3b0", "s3b2", "s4b0"]
        look = next(m for m in me.log[mark:] if m["type"] == "run.accepted" and m["block"] == "s4b0")
        assert me.text(look["run"]) == "one\ntwo\nthree\n"  # the last step saw what the steps before it made
