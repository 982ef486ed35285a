"""DockerBackend against the real engine: workspace containers with their own Docker engine inside.

Every sandbox made here carries the label podium.talk=pytest-docker-backend and is removed after its
test (or module), pass or fail. The workspace image is built (cached) and the local registry mirror
filled before the first test; both are no-ops when already done.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import docker.errors
import pytest
from django.test import override_settings

from sandbox.backends.base import RunResult, SandboxSpec
from sandbox.backends.docker import DockerBackend
from sandbox.errors import SandboxLimitReached, SandboxNotFound
from tests.docker_helpers import docker_remove_labelled, wait_for
from tests.sandbox.backend_runs import Ran, run

pytestmark = pytest.mark.docker

TALK = "pytest-docker-backend"
# These machines refuse --privileged; a CI that sets PODIUM_SANDBOX_SECURITY gets what it asked for.
SECURITY = os.environ.get("PODIUM_SANDBOX_SECURITY") or "capabilities"
# Small limits for the containment tests, so an attack reaches them in seconds.
SMALL = {"PODIUM_SANDBOX_MEMORY": "512m", "PODIUM_SANDBOX_PIDS": 256}


def spec_new() -> SandboxSpec:
    return SandboxSpec(sandbox_id=uuid.uuid4().hex, attendee_id=uuid.uuid4().hex, talk=TALK)


def mem_available_bytes() -> int:
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no MemAvailable in /proc/meminfo")


# --- fixtures ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prepared(docker_client, base_images) -> Iterator[None]:
    """Workspace image built, local mirror filled, sandbox settings for this machine; leftovers removed after."""
    from sandbox.registry import registry_fill
    from sandbox.workspace.build import workspace_image_build

    with override_settings(PODIUM_SANDBOX_SECURITY=SECURITY):
        workspace_image_build(progress=print)
        registry_fill(progress=print)
        try:
            yield
        finally:
            docker_remove_labelled(docker_client, label=f"podium.talk={TALK}")


@pytest.fixture(scope="module")
def backend(prepared) -> DockerBackend:
    return DockerBackend()


@pytest.fixture(scope="module")
def shared(backend) -> Iterator[dict]:
    """One sandbox most tests share (each leaves it as it found it)."""
    state = backend.ensure(spec=spec_new(), state={}, progress=lambda message: None)
    yield state
    backend.destroy(state=state)


@pytest.fixture(scope="module")
def other(backend) -> Iterator[dict]:
    """A second attendee's sandbox."""
    state = backend.ensure(spec=spec_new(), state={}, progress=lambda message: None)
    yield state
    backend.destroy(state=state)


@pytest.fixture
def make_sandbox(backend, docker_client) -> Iterator[Callable[..., tuple[SandboxSpec, dict]]]:
    """Creates sandboxes for one test (with optional settings overrides); all destroyed afterwards."""
    made: list[dict] = []

    def make(**overrides) -> tuple[SandboxSpec, dict]:
        spec = spec_new()
        with override_settings(**overrides):
            state = backend.ensure(spec=spec, state={}, progress=lambda message: None)
        made.append(state)
        return spec, state

    yield make
    for state in made:
        backend.destroy(state=state)


# --- creating ---------------------------------------------------------------------------------------------


def test_ensure_creates_a_labelled_sandbox_and_is_idempotent(backend, docker_client):
    spec = spec_new()
    messages: list[str] = []
    state = backend.ensure(spec=spec, state={}, progress=messages.append)
    try:
        assert "Starting the Docker engine inside your sandbox…" in messages
        assert messages[-1] == "Your sandbox is ready."
        container = docker_client.containers.get(state["container"])
        assert container.status == "running"
        assert container.labels["podium.sandbox"] == spec.sandbox_id
        assert container.labels["podium.attendee"] == spec.attendee_id
        assert container.labels["podium.talk"] == TALK
        assert container.labels["podium.managed"] == "1"
        network = docker_client.networks.get(state["network"])
        assert network.attrs["Labels"]["podium.sandbox"] == spec.sandbox_id
        assert list(network.attrs["Containers"]) == [container.id]  # a network of its own
        assert docker_client.volumes.get(state["volume"]).attrs["Labels"]["podium.sandbox"] == spec.sandbox_id
        assert backend.poll(state=state) is None

        again: list[str] = []
        assert backend.ensure(spec=spec, state=state, progress=again.append) == state
        assert again == []
        # a server that lost the state finds the same container again
        assert backend.ensure(spec=spec, state={}, progress=again.append)["container_id"] == state["container_id"]
    finally:
        backend.destroy(state=state)


def test_a_stopped_sandbox_starts_again_with_its_files(backend, docker_client, make_sandbox):
    spec, state = make_sandbox()
    assert run(backend, state, "echo kept > /root/note.txt").result.exit_code == 0
    docker_client.containers.get(state["container"]).stop(timeout=1)
    assert backend.poll(state=state) == "exited"

    state = backend.ensure(spec=spec, state=state, progress=lambda message: None)

    assert backend.poll(state=state) is None
    ran = run(backend, state, "cat /root/note.txt; docker info --format '{{.ServerVersion}}'")
    assert ran.result.exit_code == 0
    assert ran.output.startswith("kept\n")


def test_the_workspace_has_the_material_and_the_tools(backend, shared):
    ran = run(
        backend,
        shared,
        "pwd; ls /workshop/sample_app/Dockerfile; docker-compose version --short; kubectl version --client >/dev/null;"
        " curl --version >/dev/null; mysql --version >/dev/null; python3 --version",
    )
    assert ran.result.exit_code == 0, ran.output
    assert ran.output.startswith("/workshop\n/workshop/sample_app/Dockerfile\n")


def test_no_more_sandboxes_than_the_setting_allows(backend, docker_client, prepared):
    existing = len(docker_client.containers.list(all=True, filters={"label": "podium.managed=1"}))
    with override_settings(PODIUM_MAX_SANDBOXES=existing), pytest.raises(SandboxLimitReached) as caught:
        backend.ensure(spec=spec_new(), state={}, progress=lambda message: None)
    assert f"maximum of {existing} sandboxes" in caught.value.user_message


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
    finally:
        run(backend, shared, "cd /workshop; unset GREETING")
    assert run(backend, shared, 'pwd; echo "[${GREETING:-}]"').output == "/workshop\n[]\n"


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
    from sandbox.images import image_for
    from sandbox.registry import registry_mirror_url

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


def no_process(backend: DockerBackend, state: dict, pattern: str) -> bool:
    """True when no process's command line matches `pattern`, bracketed ("[s]leep 1") so the check's own shell
    does not match itself."""
    ran = run(backend, state, f"pgrep -f '{pattern}' || echo none")
    return ran.output == "none\n"


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


# --- containment ----------------------------------------------------------------------------------------------


def attack_while_other_answers(backend, attacked: dict, other: dict, **attack) -> tuple[Ran, list[Ran]]:
    """Run the attack in `attacked` while `other` keeps running `echo ok`; returns both sides' runs."""
    outcome: dict[str, Ran] = {}
    thread = threading.Thread(target=lambda: outcome.update(ran=run(backend, attacked, **attack)))
    thread.start()
    answers = []
    try:
        while thread.is_alive():
            answers.append(run(backend, other, "echo ok", timeout=60))
            time.sleep(0.3)
    finally:
        thread.join(120)
    return outcome["ran"], answers


def assert_healthy(backend: DockerBackend, docker_client, state: dict, answers: list[Ran]) -> None:
    assert answers, "the other sandbox was never asked"
    assert all(answer.output == "ok\n" and answer.result.exit_code == 0 for answer in answers)
    assert run(backend, state, "echo ok").output == "ok\n"
    assert docker_client.ping()
    assert mem_available_bytes() > 512 * 1024 * 1024


@pytest.mark.slow
def test_a_fork_bomb_is_stopped_by_the_pids_limit(backend, docker_client, make_sandbox, other):
    _, attacked = make_sandbox(**SMALL)

    bomb, answers = attack_while_other_answers(backend, attacked, other, code=":(){ :|:& };:", timeout=8)

    assert "fork: retry: Resource temporarily unavailable" in bomb.output
    # The run ends either at its timeout or, when the bomb's first shell manages to exit, at once: the
    # runner then kills what it left behind. Either way nothing of it may survive.
    assert_healthy(backend, docker_client, attacked, answers)
    assert no_process(backend, attacked, "[:][(][)]")


@pytest.mark.slow
def test_a_memory_hog_is_stopped_by_the_memory_limit(backend, docker_client, make_sandbox, other):
    _, attacked = make_sandbox(**SMALL)
    hog = "chunks = []\nwhile True:\n    chunks.append('x' * 10_000_000)\n"

    ran, answers = attack_while_other_answers(backend, attacked, other, code=hog, kind="python", timeout=60)

    assert ran.result.exit_code == 137  # SIGKILL from the OOM killer
    assert ran.result.timed_out is False
    assert_healthy(backend, docker_client, attacked, answers)


@pytest.mark.slow
def test_a_container_started_inside_is_held_by_the_sandbox_memory_limit(backend, docker_client, make_sandbox, other):
    _, attacked = make_sandbox(**SMALL)
    hog = "python3 -c \"chunks = []\nwhile True: chunks.append('x' * 10_000_000)\""

    ran, answers = attack_while_other_answers(
        backend, attacked, other, code=f"docker run --rm python:3.11-slim {hog}", timeout=90
    )

    assert ran.result.exit_code == 137, ran.output
    assert_healthy(backend, docker_client, attacked, answers)


@pytest.mark.slow
def test_an_infinite_loop_is_stopped_by_the_timeout(backend, docker_client, make_sandbox, other):
    _, attacked = make_sandbox(**SMALL)

    ran, answers = attack_while_other_answers(backend, attacked, other, code="while :; do :; done", timeout=3)

    assert ran.result.timed_out is True
    assert_healthy(backend, docker_client, attacked, answers)
    assert no_process(backend, attacked, "[w]hile :")


@pytest.mark.slow
def test_past_the_disk_limit_runs_are_refused_until_reset(backend, make_sandbox):
    spec, state = make_sandbox(PODIUM_SANDBOX_DISK="50m", PODIUM_SANDBOX_DISK_CHECK_SECONDS=1)
    assert run(backend, state, "head -c 60000000 /dev/zero > /root/big").result.exit_code == 0

    def refused() -> Ran | None:
        ran = run(backend, state, "echo hello")
        return ran if ran.result.exit_code != 0 else None

    refusal = wait_for(refused, what="a run refused for disk use", timeout=30)
    assert refusal.stream("stderr").startswith("Your sandbox uses 6")
    assert "over its limit of 52 MB. Reset your sandbox" in refusal.output

    fresh = backend.reset(spec=spec, state=state, progress=lambda message: None)
    try:
        assert run(backend, fresh, "echo hello").output == "hello\n"
    finally:
        backend.destroy(state=fresh)


# --- inventory, reset, destroy ------------------------------------------------------------------------------


def test_list_managed_finds_sandboxes_by_their_labels(backend, shared, other):
    found = {sandbox.state.get("container_id") for sandbox in backend.list_managed()}
    assert {shared["container_id"], other["container_id"]} <= found


def test_reset_gives_a_fresh_sandbox(backend, make_sandbox):
    spec, state = make_sandbox()
    run(backend, state, "touch /root/old-file; cd /tmp")

    fresh = backend.reset(spec=spec, state=state, progress=lambda message: None)

    assert fresh["container_id"] != state["container_id"]
    assert (
        run(backend, fresh, "pwd; test -e /root/old-file && echo present || echo absent").output
        == "/workshop\nabsent\n"
    )
    backend.destroy(state=fresh)


def test_destroy_removes_container_network_and_volume(backend, docker_client, prepared):
    spec = spec_new()
    state = backend.ensure(spec=spec, state={}, progress=lambda message: None)
    run(backend, state, "docker run -d --name web python:3.11-slim sleep 300")

    backend.destroy(state=state)

    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(state["container"])
    with pytest.raises(docker.errors.NotFound):
        docker_client.networks.get(state["network"])
    with pytest.raises(docker.errors.NotFound):
        docker_client.volumes.get(state["volume"])
    assert backend.poll(state=state) == "missing"
    assert spec.sandbox_id not in {sandbox.sandbox_id for sandbox in backend.list_managed()}
    backend.destroy(state=state)  # idempotent
    with pytest.raises(SandboxNotFound):
        run(backend, state, "echo hello")


# --- check ----------------------------------------------------------------------------------------------------


def test_check_passes_when_engine_and_image_are_there(backend):
    assert backend.check() is None


def test_check_names_a_missing_image_and_the_fix(backend):
    with override_settings(PODIUM_WORKSPACE_IMAGE="podium/absent-workspace:0"):
        problem = backend.check()
    assert "podium/absent-workspace:0 is not built yet" in problem
    assert "manage.py sandbox prepare" in problem


def test_check_names_a_wrong_security_setting(backend):
    with override_settings(PODIUM_SANDBOX_SECURITY="root"):
        assert backend.check() == "PODIUM_SANDBOX_SECURITY='root' is not one of privileged, capabilities, sysbox."


def test_check_without_an_engine_says_how_to_start_one(monkeypatch, prepared):
    monkeypatch.setenv("DOCKER_HOST", "unix:///tmp/podium-no-engine-here.sock")
    problem = DockerBackend().check()
    assert problem.startswith("No Docker engine answers at unix:///tmp/podium-no-engine-here.sock")
    assert "scripts/docker-up.sh" in problem


def test_list_managed_sees_only_this_install(docker_client, base_images):
    """Two Podium installs on one engine: reconciling one never lists (and so never removes) the other's sandboxes."""
    mine, theirs = uuid.uuid4().hex, uuid.uuid4().hex
    tag = f"podium.test={uuid.uuid4().hex}"
    try:
        for sandbox_id, instance in ((mine, "this-install"), (theirs, "other-install")):
            docker_client.containers.create(
                base_images["python"],
                ["true"],
                labels={
                    "podium.managed": "1",
                    "podium.instance": instance,
                    "podium.sandbox": sandbox_id,
                    tag.split("=")[0]: tag.split("=")[1],
                },
            )
        with override_settings(PODIUM_INSTANCE="this-install"):
            listed = {found.sandbox_id for found in DockerBackend().list_managed()}
        assert mine in listed
        assert theirs not in listed
    finally:
        docker_remove_labelled(docker_client, label=tag)
