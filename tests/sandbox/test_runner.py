"""The in-sandbox runner protocol (sandbox/backends/runner.py): the commands and environment of a run and a kill."""

from __future__ import annotations

import base64

import pytest

from sandbox.backends import runner
from sandbox.backends.base import RunRequest


def test_run_command_calls_the_runner_with_kind_and_id():
    assert runner.run_command(kind="shell", run_id="abc-123") == ["/usr/local/bin/podium-run", "shell", "abc-123"]
    assert runner.kill_command(run_id="abc-123") == ["/usr/local/bin/podium-run", "kill", "abc-123"]


@pytest.mark.parametrize("run_id", ["../etc/passwd", "a b", "", "x" * 65, "a;rm"])
def test_run_ids_that_could_escape_the_pidfile_folder_are_refused(run_id):
    with pytest.raises(ValueError, match="run id"):
        runner.run_command(kind="shell", run_id=run_id)


def test_an_unknown_run_kind_is_refused():
    with pytest.raises(ValueError, match="unknown run kind 'ruby'"):
        runner.run_command(kind="ruby", run_id="r1")


def test_run_environment_carries_code_and_options():
    request = RunRequest(
        run_id="r1", kind="build", code="FROM python:3.11-slim\n", options={"context": "sample_app", "tag": "web:1"}
    )
    env = runner.run_environment(request)
    assert env == {
        "PODIUM_CODE_B64_000": base64.b64encode(b"FROM python:3.11-slim\n").decode(),
        "PODIUM_OPT_CONTEXT": "sample_app",
        "PODIUM_OPT_TAG": "web:1",
    }


def test_large_code_is_split_into_ordered_chunks_that_decode_back():
    code = "".join(f"echo line {i} é\n" for i in range(20000))  # ~300 KB
    env = runner.run_environment(RunRequest(run_id="r1", kind="shell", code=code))
    names = sorted(name for name in env if name.startswith("PODIUM_CODE_B64_"))
    assert len(names) > 2
    assert all(len(env[name]) <= runner.ENV_CHUNK for name in names)
    assert base64.b64decode("".join(env[name] for name in names)).decode() == code


def test_empty_code_still_gets_one_chunk():
    assert runner.run_environment(RunRequest(run_id="r1", kind="shell", code="")) == {"PODIUM_CODE_B64_000": ""}


def test_env_command_hands_the_code_to_the_runner_through_env() -> None:
    request = RunRequest(run_id="run-1", kind="apply", code="kind: ConfigMap\n", options={"file": "x.yaml"})

    command = runner.env_command(request)

    encoded = base64.b64encode(b"kind: ConfigMap\n").decode()
    assert command == [
        "env",
        f"PODIUM_CODE_B64_000={encoded}",
        "PODIUM_OPT_FILE=x.yaml",
        "/usr/local/bin/podium-run",
        "apply",
        "run-1",
    ]


def test_long_code_is_split_below_the_kernels_limit_for_one_argument() -> None:
    request = RunRequest(run_id="r", kind="shell", code="x" * 200_000)

    arguments = runner.env_command(request)[1:-3]

    assert len(arguments) == 3
    assert all(len(argument) < 128 * 1024 for argument in arguments)
    joined = "".join(argument.split("=", 1)[1] for argument in arguments)
    assert base64.b64decode(joined) == b"x" * 200_000


def test_ready_command_waits_for_the_engine():
    assert runner.ready_command(timeout=60) == ["/usr/local/bin/podium-ready", "60"]


def test_userns_mode_runs_and_kills_as_the_attendee_through_the_launcher():
    run = runner.run_command(kind="shell", run_id="r1")
    assert runner.as_attendee(run, security="userns") == [runner.ENTER, runner.RUNNER, "shell", "r1"]
    assert runner.as_attendee(runner.kill_command(run_id="r1"), security="userns")[:2] == [runner.ENTER, runner.RUNNER]
    assert runner.as_attendee(run, security="capabilities") == run
