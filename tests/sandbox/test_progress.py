"""Progress and resume: stored slide and checks come back on a new connection; a reaped sandbox is replayed.

LocalBackend covers what is stored and the replay's order and end (up to the last passed check);
the docker test culls a real workspace container and finds the attendee's file again after the next run.
"""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from sandbox.cull import sandbox_cull
from sandbox.models import Attendee, Sandbox
from sandbox.progress import progress_slide_store
from tests.sandbox.runs_support import CHECKS_SLUG as SLUG
from tests.sandbox.runs_support import MAKE_FILE, check, new_session, page

pytestmark = pytest.mark.django_db(transaction=True)


async def history(me) -> dict:
    mark = len(me.log)
    await me.send(type="history")
    return await me.wait_for(lambda m: m["type"] == "history", after=mark)


@database_sync_to_async
def cull() -> list[str]:
    return sandbox_cull(idle_seconds=0).culled


@database_sync_to_async
def sandbox_status() -> str:
    return Sandbox.objects.get().status


@database_sync_to_async
def the_attendee() -> Attendee:
    return Attendee.objects.get()


def restoring_sentences(me) -> list[str]:
    """The setup status sentences about restoring the attendee's work (`sandbox.progress` messages)."""
    return [m["message"] for m in me.log if m["type"] == "sandbox.progress" and "work" in m["message"]]


@pytest.mark.usefixtures("local_backend", "checks_deck")
async def test_slide_and_checks_come_back_on_a_fresh_connection():
    session = await new_session()
    async with page(session, SLUG) as me:
        first = await history(me)
        assert (first["slide"], first["checks"]) == (None, {})
        await me.send(type="progress", slide=3)
        end, _ = await me.run(block=MAKE_FILE)
        assert end["status"] == "ok"
        assert (await check(me, MAKE_FILE))["done"] is True
        assert (await me.error(type="progress", slide="three"))["code"] == "bad-request"
    # A new connection (as after a server restart) reads it all from the database.
    async with page(session, SLUG) as again:
        stored = await history(again)
        assert stored["slide"] == 3
        assert stored["checks"][MAKE_FILE]["done"] is True
        assert stored["checks"][MAKE_FILE]["message"] == "The file step.txt exists"
        assert [run["block"] for run in stored["runs"]] == [MAKE_FILE]
    # Someone else's page knows nothing of it.
    async with page(await new_session(), SLUG) as other:
        assert (await history(other))["checks"] == {}


@pytest.mark.usefixtures("local_backend", "checks_deck")
async def test_a_check_without_a_sandbox_is_not_stored():
    async with page(await new_session(), SLUG) as me:
        assert (await check(me, MAKE_FILE))["done"] is False  # "you have no sandbox yet"
        assert (await history(me))["checks"] == {}


@pytest.mark.usefixtures("local_backend", "checks_deck")
async def test_reaped_sandbox_is_replayed_in_order_up_to_the_last_passed_check():
    async with page(await new_session(), SLUG) as me:
        for code in ("echo one >> log.txt", "false", "echo two >> log.txt; echo step > step.txt"):
            await me.run(code, block=MAKE_FILE)
        assert (await check(me, MAKE_FILE))["done"] is True
        end, _ = await me.run("echo after-the-check >> log.txt", block=MAKE_FILE)
        assert end["status"] == "ok"

        assert len(await cull()) == 1
        assert await sandbox_status() == "gone"
        mark = len(me.log)
        end, _ = await me.run("cat log.txt", block=MAKE_FILE)
        assert end["status"] == "ok"
        # The failed run and the one after the check are not replayed; the two others are, in order.
        assert me.text(end["run"], "stdout") == "one\ntwo\n"
        restoring = [m["message"] for m in me.log[mark:] if m["type"] == "sandbox.progress" and "work" in m["message"]]
        assert restoring == [
            "Restoring your work: step 1 of 2",
            "Restoring your work: step 2 of 2",
            "Your work is restored: 2 steps replayed.",
        ]
        assert (await check(me, MAKE_FILE))["done"] is True


@pytest.mark.usefixtures("local_backend", "checks_deck")
async def test_nothing_is_replayed_without_a_passed_check_or_after_a_reset():
    async with page(await new_session(), SLUG) as me:
        await me.run("echo step > step.txt", block=MAKE_FILE)
        await cull()
        end, _ = await me.run("ls", block=MAKE_FILE)
        assert me.text(end["run"], "stdout") == "" and restoring_sentences(me) == []

        await me.run("echo step > step.txt", block=MAKE_FILE)
        assert (await check(me, MAKE_FILE))["done"] is True
        await me.send(type="reset")
        await me.wait_for(lambda m: m["type"] == "sandbox.reset")
        await cull()
        end, _ = await me.run("ls", block=MAKE_FILE)
        assert me.text(end["run"], "stdout") == "" and restoring_sentences(me) == []


@pytest.mark.usefixtures("local_backend", "checks_deck")
async def test_a_step_that_fails_again_ends_the_replay_saying_which(tmp_path):
    once = tmp_path / "made-once"  # outside the sandbox, so it outlives the cull: mkdir fails the second time
    async with page(await new_session(), SLUG) as me:
        for code in ("echo step > step.txt", f"mkdir {once}", "echo three > three.txt"):
            end, _ = await me.run(code, block=MAKE_FILE)
            assert end["status"] == "ok"
        assert (await check(me, MAKE_FILE))["done"] is True
        await cull()
        end, _ = await me.run("ls", block=MAKE_FILE)
        assert end["status"] == "ok"
        assert me.text(end["run"], "stdout") == "step.txt\n"  # step 3 was not replayed
        assert restoring_sentences(me)[-1] == (
            "Restoring your work stopped at step 2 of 3 (block s2b0): it ended with exit code 1."
        )


@pytest.mark.usefixtures("local_backend", "checks_deck")
async def test_the_stored_slide_takes_only_slide_numbers():
    async with page(await new_session(), SLUG) as me:
        await history(me)
    attendee = await the_attendee()
    assert await database_sync_to_async(progress_slide_store)(attendee=attendee, slide=True) is None
    assert await database_sync_to_async(progress_slide_store)(attendee=attendee, slide=0) is None
    assert await database_sync_to_async(progress_slide_store)(attendee=attendee, slide=4) == 4


# -- for real, in a workspace container (DockerBackend) ----------------------------------------------------------
@pytest.mark.docker
async def test_docker_culled_sandbox_comes_back_with_the_work_up_to_the_last_check(checks_deck, docker_backend):
    async with page(await new_session(), SLUG) as me:
        end, _ = await me.run("export X=1; echo hi > /workshop/marker", block=MAKE_FILE)
        assert end["status"] == "ok"
        await me.run("echo step > step.txt", block=MAKE_FILE)
        assert (await check(me, MAKE_FILE))["done"] is True
        assert len(await cull()) == 1
        end, _ = await me.run('cat /workshop/marker; echo "X=$X"', block=MAKE_FILE)
        assert end["status"] == "ok"
        assert me.text(end["run"], "stdout") == "hi\nX=1\n"
        assert (await check(me, MAKE_FILE))["done"] is True
