"""`manage.py deck rehearse`: a deck's blocks and checks run in order in a fresh sandbox, reported like tests.

The docker tests run the real DockerBackend (capability set: --privileged fails on these machines);
the others use the LocalBackend test double for what does not depend on the sandbox's kind.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from sandbox.backends import runner
from tests.sandbox.runs_support import rehearse

FIXTURES = Path(__file__).parent / "fixtures" / "rehearse"
PASSING = FIXTURES / "passing.md"
FAILING = FIXTURES / "failing.md"
KUBERNETES = FIXTURES / "kubernetes.md"
LOCAL = "sandbox.backends.local.LocalBackend"
SECURITY = os.environ.get("PODIUM_SANDBOX_SECURITY") or "userns"


def lines_of(out: str) -> list[str]:
    """The report's step lines, with the durations taken out."""
    return [re.sub(r" \d+\.\ds", " Ns", line) for line in out.splitlines() if line.startswith("slide ")]


@pytest.fixture
def local_rehearsal(settings, tmp_path):
    settings.PODIUM_SANDBOX_BACKEND = LOCAL
    settings.PODIUM_LOCAL_SANDBOX_ROOT = str(tmp_path / "sandboxes")
    settings.PODIUM_KUBECONFIG = ""
    return tmp_path / "sandboxes"


def rehearsal_containers(client, settings) -> list:
    label = f"podium.instance={settings.PODIUM_INSTANCE}-rehearsal"
    return client.containers.list(all=True, filters={"label": label})


# -- on Docker ------------------------------------------------------------------------------------------------
@pytest.mark.docker
def test_a_clean_deck_passes_step_by_step_and_leaves_no_sandbox(docker_rehearsal, settings):
    status, out, _ = rehearse(PASSING)
    assert status == 0, out
    assert lines_of(out) == [
        "slide 2 block 0 (line 9) ... ok Ns",
        "slide 2 block 1 (line 14) ... ok Ns",
        "slide 2 block 1 check (line 19) ... ok Ns: greeting.txt says hello",
        "slide 3 block 0 (line 27) ... ok Ns",
        "slide 3 block 1 (line 31) ... ok Ns",
        "slide 3 block 1 check (line 36) ... ok Ns: The image rehearse-demo:1 is built",
    ]
    assert re.search(r"^6 passed, 0 failed, 0 skipped in \d+\.\ds$", out, re.MULTILINE)
    assert "Your sandbox is ready." in out  # progress while the sandbox was made
    assert rehearsal_containers(docker_rehearsal, settings) == []


@pytest.mark.docker
def test_a_failing_block_fails_the_rehearsal_naming_slide_and_line(docker_rehearsal, settings):
    status, out, err = rehearse(FAILING)
    assert status == 1
    assert lines_of(out) == [
        "slide 2 block 0 (line 7) ... ok Ns",
        "slide 3 block 0 (line 15) ... ok Ns",
        "slide 3 block 1 (line 19) ... FAILED (exit 2) Ns",
        "slide 3 block 1 check (line 24) ... FAILED (not yet) Ns: Not yet: never true",
        "slide 4 block 0 (line 32) ... ok Ns",
    ]
    # The deck line of the failure, the first line of its code and the end of its output.
    assert f'    {FAILING}:19: echo "about to fail"\n' in out
    assert "    | about to fail\n" in out
    assert "    | ls: cannot access '/no/such/folder': No such file or directory\n" in out
    assert f"FAILED slide 3 block 1 ({FAILING}:19): exit 2" in out
    assert f"FAILED slide 3 block 1 check ({FAILING}:24): Not yet: never true" in out
    assert re.search(r"^3 passed, 2 failed, 0 skipped in", out, re.MULTILINE)
    assert f"the rehearsal of {FAILING} failed" in err
    assert rehearsal_containers(docker_rehearsal, settings) == []


@pytest.mark.docker
def test_kubernetes_steps_are_skipped_without_a_cluster_never_passed(docker_rehearsal):
    status, out, _ = rehearse(KUBERNETES)
    assert status == 0, out
    assert lines_of(out) == [
        "slide 2 block 0 (line 7) ... ok Ns",
        "slide 3 block 0 (line 15) ... SKIPPED (no Kubernetes cluster configured)",
        "slide 3 block 0 check (line 24) ... SKIPPED (no Kubernetes cluster configured)",
        "slide 3 block 1 (line 28) ... SKIPPED (no Kubernetes cluster configured)",
        "slide 3 block 2 (line 32) ... ok Ns",
    ]
    assert re.search(r"^2 passed, 0 failed, 3 skipped \(no Kubernetes cluster configured\) in", out, re.MULTILINE)


@pytest.mark.docker
def test_keep_leaves_the_sandbox_and_says_how_to_enter_and_remove_it(docker_rehearsal, settings):
    status, out, _ = rehearse(PASSING, "--from", "3", "--keep")
    assert status == 0, out
    assert "Starting at slide 3" in out
    assert [line.split(" ...")[0] for line in lines_of(out)] == [
        "slide 3 block 0 (line 27)",
        "slide 3 block 1 (line 31)",
        "slide 3 block 1 check (line 36)",
    ]
    (kept,) = rehearsal_containers(docker_rehearsal, settings)
    shell = " ".join(runner.as_attendee(["bash"], security=SECURITY))
    assert f"docker exec -it {kept.name} {shell}" in out and f"docker rm -f {kept.name}" in out
    # What the rehearsal made is still there.
    assert (
        kept.exec_run(
            runner.as_attendee(["docker", "image", "inspect", "rehearse-demo:1"], security=SECURITY)
        ).exit_code
        == 0
    )


# -- with the test Kubernetes cluster ---------------------------------------------------------------------------
@pytest.fixture
def cluster_rehearsal(settings, docker_rehearsal, cluster):
    """Rehearsals with the test cluster configured; rehearsal namespaces left behind are deleted afterwards."""
    settings.PODIUM_KUBECONFIG = str(cluster.kubeconfig)
    settings.PODIUM_K8S_DOCKER = True
    if SECURITY == "userns":  # the Docker backend's mode; the Kubernetes backend's sidecar has none
        settings.PODIUM_SANDBOX_SECURITY = "capabilities"
    yield cluster
    label = f"podium.instance={settings.PODIUM_INSTANCE}-rehearsal"
    cluster.kubectl("delete", "namespace", "-l", label, "--wait=false", check=False)


@pytest.mark.docker
@pytest.mark.cluster
def test_on_the_kubernetes_backend_the_deck_passes_with_its_docker_half(cluster_rehearsal, settings):
    status, out, _ = rehearse(PASSING, "--backend", "kubernetes")
    assert status == 0, out
    assert "Creating your Kubernetes namespace" in out
    assert re.search(r"^6 passed, 0 failed, 0 skipped in", out, re.MULTILINE)
    label = f"podium.instance={settings.PODIUM_INSTANCE}-rehearsal"
    namespaces = cluster_rehearsal.kubectl("get", "namespace", "-l", label, "-o", "jsonpath={.items[*].status.phase}")
    assert set(namespaces.split()) <= {"Terminating"}  # destroyed at the end


@pytest.mark.docker
@pytest.mark.cluster
def test_a_docker_sandbox_with_a_cluster_runs_the_kubernetes_half(cluster_rehearsal):
    status, out, _ = rehearse(KUBERNETES, "--backend", "docker")
    assert status == 0, out
    assert "SKIPPED" not in out
    assert "slide 3 block 0 check (line 24) ... ok Ns: The ConfigMap exists" in lines_of(out)
    assert re.search(r"^5 passed, 0 failed, 0 skipped in", out, re.MULTILINE)


# -- what does not depend on the sandbox's kind (LocalBackend) ---------------------------------------------------
def test_failfast_stops_at_the_first_failure(local_rehearsal):
    status, out, _ = rehearse(FAILING, "--failfast")
    assert status == 1
    assert [line.split(" ...")[0] for line in lines_of(out)] == [
        "slide 2 block 0 (line 7)",
        "slide 3 block 0 (line 15)",
        "slide 3 block 1 (line 19)",
    ]
    assert "Stopping at the first failure" in out


def test_a_block_over_its_time_limit_fails(local_rehearsal, tmp_path):
    deck = tmp_path / "slow.md"
    deck.write_text("# Slow\n\n```bash\necho waiting\nsleep 30\n```\n", encoding="utf-8")
    status, out, _ = rehearse(deck, "--timeout", "1")
    assert status == 1
    assert lines_of(out) == ["slide 1 block 0 (line 3) ... FAILED (timed out after 1 s) Ns"]
    assert "    | waiting\n" in out
    assert list(local_rehearsal.glob("*")) == []  # the sandbox went away with the rehearsal


def test_deck_errors_fail_the_rehearsal(local_rehearsal, tmp_path):
    deck = tmp_path / "broken.md"
    deck.write_text("# T\n\n```bash\necho ok\n```\n\n```check\n```\n", encoding="utf-8")
    status, out, _ = rehearse(deck)
    assert status == 1
    assert f"{deck}:7: a !check needs a command" in out
    assert "1 passed, 0 failed, 0 skipped; the deck has 1 error (listed above)" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "9"], "--from 9: "),
        (["--timeout", "0"], "--timeout 0: give a number of seconds above 0"),
    ],
)
def test_bad_options_are_one_sentence_and_exit_2(local_rehearsal, args, message):
    status, _, err = rehearse(PASSING, *args)
    assert status == 2 and message in err


def test_a_missing_deck_file_is_exit_2(local_rehearsal, tmp_path):
    status, _, err = rehearse(tmp_path / "nope.md")
    assert status == 2 and "no such deck file" in err


def test_a_backend_that_cannot_make_sandboxes_is_exit_2(settings, monkeypatch):
    # No engine answers at this address: the backend's own sentence, and nothing run.
    settings.PODIUM_SANDBOX_BACKEND = "docker"
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    status, out, err = rehearse(PASSING)
    assert status == 2 and "The docker backend cannot make sandboxes" in err
    assert lines_of(out) == []
