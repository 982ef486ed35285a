"""The runs websocket end to end: real sessions, the whole ASGI stack, the channel layer, a sandbox backend.

These use the LocalBackend test double (fast, no isolation); test_consumers_docker.py
runs the same pipeline through the real DockerBackend.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from channels.db import database_sync_to_async

from sandbox.models import Attendee, Run, Sandbox
from sandbox.streaming import CHUNK_MAX
from tests.sandbox.runs_support import (
    NOT_RUNNABLE,
    PYTHON,
    SHELL,
    WAIT,
    assert_well_formed,
    new_session,
    page,
    process_alive,
    stored,
    until,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("local_backend")]


@pytest.fixture(params=["embedded", "worker"])
def executor(request):
    """Runs executed in the web process (embedded), or handed to a `sandbox-runs` worker over the layer.

    Returns the worker (None when embedded).
    """
    return request.getfixturevalue("sandbox_worker") if request.param == "worker" else None


async def test_quick_echo_arrives_in_order_with_seq_and_exit_code(executor):
    async with page(await new_session()) as me:
        end, messages = await me.run("echo hello; echo world")
        assert_well_formed(messages)
        assert me.text(end["run"], "stdout") == "hello\nworld\n"
        assert end["status"] == "ok" and end["exit_code"] == 0 and end["message"] == ""
        assert isinstance(end["duration_ms"], int) and end["duration_ms"] >= 0
        # The first run made the sandbox, and said so while doing it.
        assert any(m["type"] == "sandbox.progress" for m in me.log)
    if executor is not None:  # the run really went through the worker's channel
        assert [scope["scope"]["channel"] for scope in executor.application_instances.values()] == ["sandbox-runs"]
    run = await stored(end["run"])
    assert (run.status, run.exit_code, run.output, run.edited) == ("ok", 0, "hello\nworld\n", True)


async def test_the_decks_own_code_runs_when_not_edited():
    async with page(await new_session()) as me:
        end, _ = await me.run(block=SHELL)
        assert me.text(end["run"]) == "hello from the deck\n"
        end, _ = await me.run(block=PYTHON)
        assert me.text(end["run"]) == "hello from python\n"
    assert (await stored(end["run"])).edited is False


async def test_both_streams_arrive_complete_and_each_in_order():
    code = "for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; done"
    async with page(await new_session()) as me:
        end, messages = await me.run(code)
        assert_well_formed(messages)
        assert me.text(end["run"], "stdout") == "".join(f"out{i}\n" for i in range(1, 6))
        assert me.text(end["run"], "stderr") == "".join(f"err{i}\n" for i in range(1, 6))
        assert end["status"] == "ok"
    assert sorted((await stored(end["run"])).output.splitlines()) == sorted(
        [f"out{i}" for i in range(1, 6)] + [f"err{i}" for i in range(1, 6)]
    )


async def test_non_zero_exit_is_a_failed_run_with_its_code():
    async with page(await new_session()) as me:
        end, messages = await me.run("echo partial; exit 3")
        assert_well_formed(messages)
        assert me.text(end["run"]) == "partial\n"
        assert (end["status"], end["exit_code"]) == ("failed", 3)
        assert "exit code 3" in end["message"]


async def test_large_output_is_capped_as_documented(settings):
    cap = settings.PODIUM_RUN_OUTPUT_CAP = 1024 * 1024
    expected = "".join(f"{n}\n" for n in range(1, 2_000_001))
    async with page(await new_session()) as me:
        end, messages = await me.run("seq 1 2000000; echo done >&2")
        outputs = assert_well_formed(messages)
        streamed = me.text(end["run"], "stdout")
        # Exactly the first MiB, in order, nothing lost or repeated; the rest dropped while seq ran on.
        assert streamed == expected[:cap]
        assert all(len(m["data"].encode()) <= CHUNK_MAX for m in outputs)
        assert end["truncated"] is True and end["status"] == "ok" and end["exit_code"] == 0
        assert "1 MiB" in end["message"] and "PODIUM_RUN_OUTPUT_CAP" in end["message"]
    run = await stored(end["run"])
    assert run.truncated and run.output == expected[:cap]


async def test_a_long_run_streams_whole_and_stores_its_last_lines(settings):
    settings.PODIUM_RUN_OUTPUT_STORED = 64 * 1024
    expected = "".join(f"{n}\n" for n in range(1, 100_001))
    async with page(await new_session()) as me:
        end, messages = await me.run("seq 1 100000")
        assert_well_formed(messages)
        assert me.text(end["run"]) == expected and end["truncated"] is False
    run = await stored(end["run"])
    # What a reload shows: the last lines, whole, as the page's terminal keeps them.
    assert expected.endswith(run.output) and 64 * 1024 - 10 < len(run.output) <= 64 * 1024
    assert expected[-len(run.output) - 1] == "\n"  # it starts at a line's start


async def test_cancel_kills_the_process(executor, tmp_path):
    pids = tmp_path / "pids"
    code = f"echo $$ > {pids}.shell; sleep 300 & echo $! > {pids}.child; echo started; wait"
    async with page(await new_session()) as me:
        run_id = await me.start(code)
        await me.wait_for(lambda m: m["type"] == "run.output" and "started" in m["data"])
        shell, child = (int(Path(f"{pids}.{name}").read_text()) for name in ("shell", "child"))  # noqa: ASYNC240
        assert process_alive(shell) and process_alive(child)
        await me.send(type="cancel", run=run_id)
        end = await me.finished(run_id)
        assert end["status"] == "cancelled"
        await until(lambda: not process_alive(shell) and not process_alive(child), "the cancelled processes to die")
    assert (await stored(run_id)).status == "cancelled"


async def test_timeout_stops_the_run(settings, tmp_path):
    settings.PODIUM_RUN_TIMEOUT = 1
    pidfile = tmp_path / "sleeper"
    async with page(await new_session()) as me:
        end, _ = await me.run(f"echo tick; sleep 300 & echo $! > {pidfile}; wait")
        assert end["status"] == "timed_out"
        assert "1 second" in end["message"] and "PODIUM_RUN_TIMEOUT" in end["message"]
        assert me.text(end["run"]) == "tick\n"
    await until(lambda: not process_alive(int(pidfile.read_text())), "the timed-out process to die")


async def test_cancel_of_another_attendees_run_is_refused(executor):
    async with page(await new_session()) as alice, page(await new_session()) as mallory:
        run_id = await alice.start("echo working; sleep 300")
        await alice.wait_for(lambda m: m["type"] == "run.output")
        for forged in (run_id, run_id.upper(), "not-a-uuid", None, 42):
            refused = await mallory.error(type="cancel", run=forged)
            assert refused["code"] == "not-found", forged
        # Alice's run is untouched; only she can stop it.
        assert (await stored(run_id)).status == "running"
        await alice.send(type="cancel", run=run_id)
        assert (await alice.finished(run_id))["status"] == "cancelled"
        # Mallory heard nothing of it, and her history does not show it.
        mark = len(mallory.log)
        await mallory.send(type="history")
        history = await mallory.wait_for(lambda m: m["type"] == "history", after=mark)
        assert history["runs"] == []
        assert not mallory.of(run_id)


async def test_unknown_or_unrunnable_blocks_are_refused_with_a_reason():
    async with page(await new_session()) as me:
        missing = await me.error(type="run", block="s9b0")
        assert missing["code"] == "not-found" and missing["block"] == "s9b0"
        assert "s9b0" in missing["message"] and "slides 1 to 4" in missing["message"]
        no_block = await me.error(type="run", block="s2b5")
        assert no_block["code"] == "not-found" and "slide 2 has 1 code block" in no_block["message"]
        for nonsense in ("xyz", "s1b", "", None, 7, "s١b٠"):
            assert (await me.error(type="run", block=nonsense))["code"] == "not-found", nonsense
        unrunnable = await me.error(type="run", block=NOT_RUNNABLE)
        assert unrunnable["code"] == "not-runnable" and unrunnable["block"] == NOT_RUNNABLE
        assert "cannot be run" in unrunnable["message"] and "yaml" in unrunnable["message"]
        # Editing it does not make it runnable.
        edited = await me.error(type="run", block=NOT_RUNNABLE, code="echo sneaky")
        assert edited["code"] == "not-runnable"
    assert not await database_sync_to_async(Run.objects.exists)()


async def test_code_too_long_is_refused_naming_the_limit(settings):
    settings.PODIUM_RUN_CODE_MAX = 100
    async with page(await new_session()) as me:
        refused = await me.error(type="run", block=SHELL, code="echo " + "x" * 200)
        assert refused["code"] == "limit" and refused["block"] == SHELL
        assert "205 bytes" in refused["message"] and "at most 100 bytes" in refused["message"]
        assert "PODIUM_RUN_CODE_MAX" in refused["message"]
        end, _ = await me.run("echo " + "x" * 95)  # exactly 100 bytes is fine
        assert end["status"] == "ok"


async def test_too_many_concurrent_runs_are_refused_naming_the_limit(settings):
    settings.PODIUM_RUNS_PER_ATTENDEE = 2
    async with page(await new_session()) as me:
        first = await me.start("sleep 300")
        second = await me.start("sleep 300")
        refused = await me.error(type="run", block=SHELL, code="echo third")
        assert refused["code"] == "limit"
        assert "at most 2" in refused["message"] and "PODIUM_RUNS_PER_ATTENDEE" in refused["message"]
        await me.send(type="cancel", run=first)
        await me.finished(first)
        end, _ = await me.run("echo room again")  # a finished run frees its place
        assert end["status"] == "ok"
        await me.send(type="cancel", run=second)
        await me.finished(second)


async def test_too_many_sandboxes_are_refused_naming_the_limit(settings):
    settings.PODIUM_MAX_SANDBOXES = 1
    async with page(await new_session()) as first, page(await new_session()) as second:
        assert (await first.run("echo mine"))[0]["status"] == "ok"
        refused = await second.error(type="run", block=SHELL)
        assert refused["code"] == "limit"
        assert "All 1 sandboxes" in refused["message"] and "PODIUM_MAX_SANDBOXES" in refused["message"]
        assert (await first.run("echo still mine"))[0]["status"] == "ok"


async def test_reload_shows_the_last_run_of_each_block():
    key = await new_session()
    async with page(key) as before:
        await before.run("echo first try")
        last_shell, _ = await before.run("echo second try; exit 4")
        last_python, _ = await before.run(block=PYTHON)
    async with page(key) as after:  # the same browser, reloaded
        await after.send(type="history")
        history = await after.wait_for(lambda m: m["type"] == "history")
    shown = {run["block"]: run for run in history["runs"]}
    assert list(shown) == [SHELL, PYTHON]  # slide order
    assert shown[SHELL]["run"] == last_shell["run"]
    assert shown[SHELL]["output"] == "second try\n"
    assert (shown[SHELL]["status"], shown[SHELL]["exit_code"]) == ("failed", 4)
    assert shown[SHELL]["edited"] is True and shown[SHELL]["code"] == "echo second try; exit 4"
    assert shown[PYTHON]["run"] == last_python["run"]
    assert shown[PYTHON]["output"] == "hello from python\n" and shown[PYTHON]["code"] is None


async def test_several_runs_stream_at_once_without_blocking_each_other(executor, tmp_path):
    # The first run waits for a file only the others create: if runs went one at a time
    # it could never end, and would be stopped by the timeout instead.
    go = tmp_path / "go"
    async with page(await new_session()) as alice, page(await new_session()) as bob:
        waiting = await alice.start(f"echo waiting; while [ ! -e {go} ]; do sleep 0.02; done; echo released")
        await alice.wait_for(lambda m: m["type"] == "run.output" and m["run"] == waiting)
        mine = await alice.start("echo alongside")
        assert (await alice.finished(mine))["status"] == "ok"
        releasing, _ = await bob.run(f"echo releasing; touch {go}")
        assert releasing["status"] == "ok"
        end = await alice.finished(waiting)
        assert end["status"] == "ok" and alice.text(waiting) == "waiting\nreleased\n"
        assert alice.text(mine) == "alongside\n" and bob.text(releasing["run"]) == "releasing\n"


async def test_every_page_of_an_attendee_sees_their_runs():
    key = await new_session()
    async with page(key) as laptop, page(key) as phone:
        end, _ = await laptop.run("echo on both")
        assert (await phone.finished(end["run"]))["status"] == "ok"
        assert phone.text(end["run"]) == "on both\n"


async def test_reset_gives_a_fresh_sandbox():
    async with page(await new_session()) as me:
        await me.run("touch left-behind; ls")
        assert me.text((await me.run("ls"))[0]["run"]) == "left-behind\n"
        busy = await me.start("sleep 300")
        await me.send(type="reset")
        progress = await me.wait_for(lambda m: m["type"] == "sandbox.progress" and "Removing" in m["message"])
        assert progress["message"]
        assert (await me.wait_for(lambda m: m["type"] == "sandbox.reset"))["status"] == "ok"
        assert (await me.finished(busy))["status"] == "cancelled"
        end, _ = await me.run("ls")
        assert me.text(end["run"]) == ""


async def test_a_page_without_session_is_told_to_reload():
    async with page(None) as anonymous:
        error = await anonymous.wait_for(lambda m: True)
        assert error["type"] == "error" and error["code"] == "no-session" and "reload" in error["message"]
        assert await anonymous.socket.receive_output(timeout=WAIT) == {"type": "websocket.close", "code": 4401}
    async with page("made-up-session-key-0123456789") as forged:
        assert (await forged.wait_for(lambda m: True))["code"] == "no-session"
    assert not await database_sync_to_async(Attendee.objects.exists)()


async def test_an_unknown_deck_is_refused():
    async with page(await new_session(), slug="no-such-deck") as lost:
        error = await lost.wait_for(lambda m: True)
        assert error["code"] == "not-found" and "no-such-deck" in error["message"]
        assert await lost.socket.receive_output(timeout=WAIT) == {"type": "websocket.close", "code": 4404}


async def test_bad_messages_are_answered_not_fatal():
    async with page(await new_session()) as me:
        for frame in ("{not json", "[1]", '"run"', '{"type": "dance"}', "{}"):
            mark = len(me.log)
            await me.socket.send_to(text_data=frame)
            answer = await me.wait_for(lambda m: m["type"] == "error", after=mark)
            assert answer["code"] == "bad-request", frame
        await me.socket.send_to(bytes_data=b"\x00")
        assert (await me.wait_for(lambda m: m["type"] == "error", after=len(me.log)))["code"] == "bad-request"
        assert (await me.error(type="run", block=SHELL, code=["echo"]))["code"] == "bad-request"
        assert (await me.run("echo still here"))[0]["status"] == "ok"


async def test_undecodable_bytes_and_split_characters_arrive_as_text():
    code = r"printf 'caf\xc3'; sleep 0.2; printf '\xa9 \xff!\n'"
    async with page(await new_session()) as me:
        end, _ = await me.run(code)
        assert me.text(end["run"]) == "café \ufffd!\n"


@database_sync_to_async
def sandboxes() -> list[Sandbox]:
    return list(Sandbox.objects.select_related("attendee"))


async def test_each_attendee_gets_their_own_sandbox():
    async with page(await new_session()) as alice, page(await new_session()) as bob:
        await alice.run("echo alice > whoami")
        await bob.run("echo bob > whoami")
        a, _ = await alice.run("cat whoami")
        b, _ = await bob.run("cat whoami")
        assert alice.text(a["run"]) == "alice\n" and bob.text(b["run"]) == "bob\n"
    rows = await sandboxes()
    assert len(rows) == 2 and {row.status for row in rows} == {"ready"}
    assert rows[0].state["path"] != rows[1].state["path"]
