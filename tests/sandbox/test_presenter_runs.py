"""The presenter's runs, live for the room: followers watch them read-only; nobody else's run is ever shared."""

from __future__ import annotations

import asyncio

import pytest

from tests.sandbox.runs_support import SHELL, SLUG, WAIT, new_session, page, presenter_session

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("local_backend")]


@pytest.fixture(params=["embedded", "worker"])
def executor(request):
    """Runs executed in the web process, or by a `sandbox-runs` worker over the channel layer."""
    return request.getfixturevalue("sandbox_worker") if request.param == "worker" else None


async def nothing_more(me, *, within: float = 0.5) -> None:
    """Nothing else reaches this page for `within` seconds."""
    assert await me.socket.receive_nothing(timeout=within), me.log


async def test_followers_watch_the_presenters_run_as_it_streams(executor):
    async with (
        page(await presenter_session(SLUG)) as presenter,
        page(await new_session()) as one,
        page(await new_session()) as two,
    ):
        end, _ = await presenter.run("echo from the front; echo second line; exit 3")
        assert end["status"] == "failed" and end["exit_code"] == 3
        for follower in (one, two):
            watched = await follower.wait_for(lambda m: m["type"] == "presenter.run.finished")
            copy = [m for m in follower.log if m.get("run") == end["run"]]
            kinds = [m["type"] for m in copy]
            assert kinds[0] == "presenter.run.started" and kinds[-1] == "presenter.run.finished"
            assert set(kinds) == {"presenter.run.started", "presenter.run.output", "presenter.run.finished"}
            seqs = [m["seq"] for m in copy if m["type"] == "presenter.run.output"]
            assert seqs == list(range(1, len(seqs) + 1)) == list(range(1, watched["seq"] + 1))
            text = "".join(m["data"] for m in copy if m["type"] == "presenter.run.output")
            assert text == "from the front\nsecond line\n"
            assert (watched["block"], watched["status"], watched["exit_code"]) == (SHELL, "failed", 3)
            # Watching only: no run of their own was accepted, and the presenter's setup status is not theirs.
            assert not [m for m in follower.log if m["type"].startswith(("run.", "sandbox."))]
        # The presenter's own page shows the run once, as theirs.
        assert not [m for m in presenter.log if m["type"].startswith("presenter.")]


async def test_an_attendees_run_reaches_nobody_else():
    async with (
        page(await presenter_session(SLUG)) as presenter,
        page(await new_session()) as me,
        page(await new_session()) as neighbour,
    ):
        end, _ = await me.run("echo only mine")
        assert end["status"] == "ok" and me.text(end["run"]) == "only mine\n"
        await asyncio.sleep(0.3)  # what would have been copied has had time to arrive
        for other in (presenter, neighbour):
            await nothing_more(other)
            assert other.log == []


async def test_a_presenters_cancelled_run_ends_for_the_followers_too():
    async with page(await presenter_session(SLUG)) as presenter, page(await new_session()) as follower:
        run_id = await presenter.start("sleep 30")
        await presenter.send(type="cancel", run=run_id)
        end = await presenter.finished(run_id)
        assert end["status"] == "cancelled"
        watched = await asyncio.wait_for(
            follower.wait_for(lambda m: m["type"] == "presenter.run.finished" and m["run"] == run_id), WAIT
        )
        assert watched["status"] == "cancelled"


async def test_a_follower_who_opens_the_page_later_sees_the_presenters_last_run_of_each_block():
    async with page(await presenter_session(SLUG)) as presenter:
        await presenter.run("echo first take")
        end, _ = await presenter.run("echo second take")
        await presenter.send(type="history")
        own = await presenter.wait_for(lambda m: m["type"] == "history")
        assert own["presenter"] == []  # on their own page, their runs are theirs
    async with page(await new_session()) as late:
        await late.send(type="history")
        history = await late.wait_for(lambda m: m["type"] == "history")
    assert history["runs"] == []  # nothing of their own yet
    [shown] = history["presenter"]
    assert (shown["run"], shown["block"], shown["status"], shown["output"]) == (
        end["run"],
        SHELL,
        "ok",
        "second take\n",
    )


async def test_an_attendees_runs_never_show_in_anyones_history():
    async with page(await new_session()) as me:
        await me.run("echo private")
    async with page(await new_session()) as other:
        await other.send(type="history")
        history = await other.wait_for(lambda m: m["type"] == "history")
    assert history["runs"] == [] and history["presenter"] == []
