"""The runs websocket end to end through the real DockerBackend: streams, exit codes, caps, cancel, isolation.

The same pipeline on the LocalBackend test double, in more detail, is in test_consumers.py.
"""

from __future__ import annotations

import pytest

from sandbox.creations import creation_turn
from tests.sandbox.runs_support import PYTHON, assert_well_formed, new_session, page, sandbox_states, stored

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("local_backend")]


@pytest.mark.docker
async def test_docker_echo_both_streams_and_exit_codes(docker_backend):
    async with page(await new_session()) as me:
        end, messages = await me.run("echo hello; echo world")
        assert_well_formed(messages)
        assert me.text(end["run"], "stdout") == "hello\nworld\n"
        assert (end["status"], end["exit_code"]) == ("ok", 0)
        assert [m["message"] for m in me.log if m["type"] == "sandbox.progress"][-1] == "Your sandbox is ready."

        end, messages = await me.run("for i in 1 2 3; do echo out$i; echo err$i >&2; done")
        assert_well_formed(messages)
        assert me.text(end["run"], "stdout") == "out1\nout2\nout3\n"
        assert me.text(end["run"], "stderr") == "err1\nerr2\nerr3\n"

        end, _ = await me.run("echo partial; exit 3")
        assert (end["status"], end["exit_code"]) == ("failed", 3) and me.text(end["run"]) == "partial\n"

        end, _ = await me.run(block=PYTHON)
        assert me.text(end["run"]) == "hello from python\n"


@pytest.mark.docker
async def test_docker_large_output_is_capped(docker_backend, settings):
    cap = settings.PODIUM_RUN_OUTPUT_CAP
    expected = "".join(f"{n}\n" for n in range(1, 2_000_001))
    async with page(await new_session()) as me:
        end, messages = await me.run("seq 1 2000000")
        assert_well_formed(messages)
        assert me.text(end["run"], "stdout") == expected[:cap]
        assert end["truncated"] is True and (end["status"], end["exit_code"]) == ("ok", 0)
        assert "PODIUM_RUN_OUTPUT_CAP" in end["message"]
    assert (await stored(end["run"])).output == expected[:cap]


@pytest.mark.docker
async def test_docker_cancel_and_timeout_kill_the_process(docker_backend, settings):
    # Exactly the run's own sleeper (the sandbox may run sleeps of its own).
    count_sleepers = "ps -eo args | grep -cx 'sleep 301' || true"
    async with page(await new_session()) as me:
        run_id = await me.start("echo started; sleep 301")
        await me.wait_for(lambda m: m["type"] == "run.output" and m["run"] == run_id)
        assert me.text((await me.run(count_sleepers))[0]["run"]) == "1\n"
        await me.send(type="cancel", run=run_id)
        assert (await me.finished(run_id))["status"] == "cancelled"
        assert me.text((await me.run(count_sleepers))[0]["run"]) == "0\n"

        settings.PODIUM_RUN_TIMEOUT = 2
        end, _ = await me.run("echo tick; sleep 301")
        assert end["status"] == "timed_out" and me.text(end["run"]) == "tick\n"
        settings.PODIUM_RUN_TIMEOUT = 120
        assert me.text((await me.run(count_sleepers))[0]["run"]) == "0\n"


@pytest.mark.docker
async def test_docker_attendees_are_isolated(docker_backend):
    async with page(await new_session()) as alice, page(await new_session()) as bob:
        for me, name in ((alice, "alice"), (bob, "bob")):
            # The same names in both sandboxes: each has its own engine and its own files.
            end, _ = await me.run(f"docker volume create web && echo {name} > /tmp/whoami")
            assert end["status"] == "ok", me.text(end["run"])
        for me, name in ((alice, "alice"), (bob, "bob")):
            end, _ = await me.run("docker volume ls -q; cat /tmp/whoami")
            assert me.text(end["run"], "stdout") == f"web\n{name}\n"
        # A run id of Alice's means nothing to Bob.
        run_id = await alice.start("sleep 300")
        assert (await bob.error(type="cancel", run=run_id))["code"] == "not-found"
        await alice.send(type="cancel", run=run_id)
        assert (await alice.finished(run_id))["status"] == "cancelled"
    states = await sandbox_states()
    assert len(states) == 2 and states[0]["container"] != states[1]["container"]


@pytest.mark.docker
@pytest.mark.parametrize("how", ["stopped", "removed"])
async def test_a_sandbox_that_went_away_behind_podiums_back_is_there_again_for_the_next_run(
    docker_backend, docker_client, how
):
    # A warm run trusts the sandbox's row and asks the engine nothing first; one that finds the container
    # gone before its code started has it made (or started) again and runs there, as if nothing happened.
    async with page(await new_session()) as me:
        end, _ = await me.run("echo first > /tmp/mark; cat /tmp/mark")
        assert end["status"] == "ok"
        [state] = await sandbox_states()
        container = docker_client.containers.get(state["container"])
        container.stop(timeout=1) if how == "stopped" else container.remove(force=True, v=True)

        end, _ = await me.run("echo again; cat /tmp/mark 2>/dev/null || echo fresh")
        assert (end["status"], end["exit_code"]) == ("ok", 0), me.log
        # A stopped container keeps its files; a removed one comes back fresh.
        assert me.text(end["run"]) == ("again\nfirst\n" if how == "stopped" else "again\nfresh\n")


@pytest.mark.docker
async def test_a_room_clicking_run_at_once_is_served_in_turn_and_nobody_is_refused(docker_backend, settings):
    settings.PODIUM_SANDBOX_CREATIONS = 1  # one sandbox made at a time in this process
    async with page(await new_session()) as ann, page(await new_session()) as ben, page(await new_session()) as cat:
        room = (ann, ben, cat)
        async with creation_turn(say=lambda sentence: None):  # a creation already under way holds the turn
            started = [await me.start("echo here") for me in room]
            told = [
                (await me.wait_for(lambda m: m["type"] == "sandbox.progress" and "turn" in m["message"]))["message"]
                for me in room
            ]
            assert sorted(told) == [
                "Waiting for a turn: 1 sandbox is being made before yours…",
                "Waiting for a turn: 2 sandboxes are being made before yours…",
                "Waiting for a turn: 3 sandboxes are being made before yours…",
            ]
            assert await sandbox_states() == []  # nothing made while they wait
        for me, run_id in zip(room, started, strict=True):  # then every one gets theirs, none refused
            end = await me.finished(run_id)
            assert (end["status"], me.text(run_id)) == ("ok", "here\n")
            assert [m["message"] for m in me.log if m["type"] == "sandbox.progress"][-1] == "Your sandbox is ready."
    assert len(await sandbox_states()) == 3
