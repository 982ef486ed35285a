"""DockerBackend against the real engine: workspace containers with their own Docker engine inside.

Every sandbox made here carries the label podium.talk=pytest-docker-backend and is removed after its
test (or module), pass or fail. The workspace image is built (cached) and the local registry mirror
filled before the first test (conftest.py); both are no-ops when already done.

Runs: output and exit codes, shell state between runs, each attendee's own engine, cancel and timeout.
"""

from __future__ import annotations

import threading
import uuid

import pytest

from sandbox.backends.base import RunResult
from sandbox.backends.docker import DockerBackend
from tests.sandbox.backend_runs import Ran, run
from tests.sandbox.docker.helpers import (
    no_process,
)

pytestmark = pytest.mark.docker


# --- output -----------------------------------------------------------------------------------------------


def test_echo(backend, shared):
    ran = run(backend, shared, "echo hello")
    assert ran.result == RunResult(exit_code=0, output_bytes=6)
    assert ran.chunks == [("stdout", b"hello\n")]


def test_both_streams_arrive_in_order(backend, shared):
    # The pauses let each line reach the engine before the next: the two pipes are read separately,
    # so writes a microsecond apart may swap, as they may in any terminal.
    ran = run(backend, shared, "echo one; sleep 0.2; echo two >&2; sleep 0.2; echo three")
    assert ran.result.exit_code == 0
    assert ran.chunks == [("stdout", b"one\n"), ("stderr", b"two\n"), ("stdout", b"three\n")]


@pytest.mark.parametrize(
    ("kind", "code", "exit_code"),
    [
        ("shell", "false", 1),
        ("shell", "echo before; exit 7", 7),
        ("python", "raise SystemExit(5)", 5),
        ("python", "1 / 0", 1),
    ],
)
def test_non_zero_exit_codes(backend, shared, kind, code, exit_code):
    assert run(backend, shared, code, kind=kind).result.exit_code == exit_code


def test_a_python_error_shows_its_traceback_on_stderr(backend, shared):
    ran = run(backend, shared, "print('start')\n1 / 0\n", kind="python")
    assert ran.stream("stdout") == "start\n"
    assert "ZeroDivisionError: division by zero" in ran.stream("stderr")


def test_bash_messages_carry_the_block_line_numbers(backend, shared):
    ran = run(backend, shared, "echo one\nno-such-command-here\n")
    assert ran.result.exit_code == 127
    assert ran.stream("stderr") == "bash: line 2: no-such-command-here: command not found\n"


def test_two_million_lines_are_capped_and_the_run_completes(backend, shared):
    cap = 1024 * 1024
    everything = "".join(f"{i}\n" for i in range(1, 2_000_001)).encode()

    ran = run(backend, shared, "seq 1 2000000", output_cap=cap)

    streamed = b"".join(data for _, data in ran.chunks)
    assert streamed == everything[:cap]
    assert ran.result.truncated is True
    assert ran.result.output_bytes == len(everything)
    assert ran.result.exit_code == 0


# --- shell state --------------------------------------------------------------------------------------------


def test_cd_and_export_hold_between_runs(backend, shared):
    try:
        assert run(backend, shared, "mkdir -p /tmp/work && cd /tmp/work && export GREETING='hello there'").chunks == []
        assert run(backend, shared, 'pwd; echo "$GREETING"').output == "/tmp/work\nhello there\n"
        # python runs in the same directory with the same exports
        ran = run(backend, shared, "import os; print(os.getcwd(), os.environ['GREETING'])", kind="python")
        assert ran.output == "/tmp/work hello there\n"
        # an `exit` in the code still saves
        assert run(backend, shared, "cd /etc; export GREETING=bye; exit 4").result.exit_code == 4
        assert run(backend, shared, 'pwd; echo "$GREETING"').output == "/etc\nbye\n"
        # an exported integer stays one: the next run's += adds
        assert run(backend, shared, "declare -xi COUNT=40; declare -xu SHOUT=hey").chunks == []
        assert run(backend, shared, 'COUNT+=2; SHOUT+=you; echo "$COUNT $SHOUT"').output == "42 HEYYOU\n"
    finally:
        run(backend, shared, "cd /workshop; unset GREETING COUNT SHOUT")
    assert run(backend, shared, 'pwd; echo "[${GREETING:-}${COUNT:-}]"').output == "/workshop\n[]\n"


# --- each attendee's own engine ---------------------------------------------------------------------------


def test_two_attendees_each_run_a_container_named_web(backend, shared, other):
    start = "docker run -d --name web python:3.11-slim sleep 300"
    try:
        first = run(backend, shared, start)
        second = run(backend, other, start)
        assert first.result.exit_code == 0, first.output
        assert second.result.exit_code == 0, second.output

        mine = run(backend, shared, "docker ps --format '{{.Names}} {{.ID}}'").output.split()
        theirs = run(backend, other, "docker ps --format '{{.Names}} {{.ID}}'").output.split()
        assert mine[0] == theirs[0] == "web"
        assert len(mine) == len(theirs) == 2  # one container each
        assert mine[1] != theirs[1]
        assert first.stream("stdout").startswith(mine[1])  # the id `docker run -d` printed
    finally:
        for state in (shared, other):
            run(backend, state, "docker rm -f web >/dev/null 2>&1")


def test_docker_pull_comes_from_the_local_mirror(backend, other, docker_client):
    from provision.images import image_for
    from provision.registry import registry_mirror_url

    host_image = docker_client.images.get(image_for("python:3.11-slim"))

    ran = run(
        backend,
        other,
        "docker rmi -f python:3.11-slim >/dev/null 2>&1; docker pull -q python:3.11-slim >/dev/null"
        " && docker image inspect --format '{{.Id}}' python:3.11-slim"
        " && docker info --format '{{range .RegistryConfig.Mirrors}}{{.}}{{end}}'",
    )

    assert ran.result.exit_code == 0, ran.output
    image_id, mirrors = ran.output.split()
    # the very image the host pushed into the mirror (the same id: no registry on the internet has it)
    assert image_id == host_image.id
    assert mirrors.rstrip("/") == registry_mirror_url().rstrip("/")


def test_a_build_block_builds_in_the_attendees_engine(backend, other):
    ran = run(
        backend,
        other,
        "FROM python:3.11-slim\nCOPY app.py /src/app.py\n",
        kind="build",
        options={"tag": "podium-test-build:1"},
    )
    assert ran.result.exit_code == 0, ran.output
    assert "Successfully tagged podium-test-build:1" in ran.output
    # the default context is the material's sample_app/
    assert run(backend, other, "docker run --rm podium-test-build:1 ls /src").output == "app.py\n"


def test_sql_and_apply_blocks_reach_their_clients(backend, shared):
    # No database or cluster runs in this sandbox: the clients' own messages prove they were called
    # with the defaults (mysql on 127.0.0.1, kubectl's default server).
    sql = run(backend, shared, "SELECT 1;", kind="sql")
    assert sql.result.exit_code == 1
    assert "Can't connect to server on '127.0.0.1'" in sql.output
    apply = run(backend, shared, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n", kind="apply")
    assert apply.result.exit_code == 1
    assert "localhost:8080" in apply.output


# --- cancel and timeout -------------------------------------------------------------------------------------


def test_cancel_from_elsewhere_kills_the_run(backend, shared):
    started = threading.Event()
    run_id = uuid.uuid4().hex
    outcome: dict[str, Ran] = {}

    def attendee() -> None:
        outcome["ran"] = run(
            backend,
            shared,
            "echo started; sleep 777; echo never",
            run_id=run_id,
            on_output=lambda stream, data: started.set(),
        )

    thread = threading.Thread(target=attendee)
    thread.start()
    assert started.wait(30)
    # a fresh backend object, as another server process would have
    assert DockerBackend().cancel(state=shared, run_id=run_id) is True
    thread.join(30)

    ran = outcome["ran"]
    assert ran.output == "started\n"
    assert ran.result.exit_code == 137
    assert no_process(backend, shared, "[s]leep 777")
    assert DockerBackend().cancel(state=shared, run_id=run_id) is False


def test_should_stop_cancels_the_run(backend, shared):
    started = threading.Event()
    ran = run(
        backend,
        shared,
        "echo started; sleep 776 & sleep 775; echo never",
        on_output=lambda stream, data: started.set(),
        should_stop=started.is_set,
    )
    assert ran.result.cancelled is True
    assert ran.result.timed_out is False
    assert "never" not in ran.output
    assert no_process(backend, shared, "[s]leep 77[56]")


def test_a_run_cancelled_before_it_started_is_killed_too(backend, shared):
    # The first kill may come before the runner has written its pidfile; the backend kills again.
    ran = run(backend, shared, "sleep 774; echo never", should_stop=lambda: True)
    assert ran.result.cancelled is True
    assert "never" not in ran.output
    assert no_process(backend, shared, "[s]leep 774")


def test_timeout_kills_the_run(backend, shared):
    ran = run(backend, shared, "sleep 778", timeout=2)
    assert ran.result.timed_out is True
    assert ran.result.cancelled is False
    assert no_process(backend, shared, "[s]leep 778")


def test_background_processes_end_with_their_run(backend, shared):
    ran = run(backend, shared, "sleep 779 & echo started")
    assert ran.result.exit_code == 0
    assert no_process(backend, shared, "[s]leep 779")
