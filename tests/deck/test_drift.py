"""Recorded outputs and drift, without a sandbox: the masks, the record file, and the comparison of two runs."""

from __future__ import annotations

import re

import pytest

from deck.drift import recording_compare, step_compare
from deck.errors import DeckFileError
from deck.masks import output_masked, terminal_text
from deck.recorded import RecordedStep, Recording, output_recorded, record_dump, record_load, record_path
from tests.deck_text import deck_from_text


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Fri Dec  4 06:17:22 UTC 2026", "Sat Dec  5 23:01:09 UTC 2026"),
        ("started at 2026-12-04T06:17:22.123Z", "started at 2026-12-05T07:00:01.9Z"),
        ("a1b2c3d4e5f6", "0f9e8d7c6b5a"),
        ("Successfully built 3f2a9c1d0b7e", "Successfully built 9e0d1c2b3a4f"),
        ("sha256:" + "ab" * 32, "sha256:" + "cd" * 32),
        ("id 123e4567-e89b-12d3-a456-426614174000", "id 9b2c4d6e-1111-4222-8333-444455556666"),
        ("web-6d4b9c7f5-x7k2p   1/1     Running   0   12s", "web-5f8d7c6b9-q9z4r   1/1     Running   0   3m2s"),
        ("12factor-dbinit-tx8fw   0/1   Completed", "12factor-dbinit-k2v9b   0/1   Completed"),
        ("Up 3 seconds        0.0.0.0:49153->5000/tcp", "Up About a minute   0.0.0.0:32768->5000/tcp"),
        ("inet 172.18.0.3/16", "inet 10.244.0.17/16"),
        ("#8 DONE 0.3s", "#8 DONE 12.1s"),
        ("#8 1.234 Collecting flask", "#8 9.001 Collecting flask"),
        ("Downloading [=====>      ]  12.3MB/45.1MB", "Downloading [==========> ]  33.1MB/45.1MB"),
        ("   ━━━━━━━━━━━━ 95.2/95.2 kB 3.1 MB/s eta 0:00:00", "   ━━━━━━━━━━━━ 95.2/95.2 kB 812 kB/s eta 0:00:01"),
        ("c2 Exited (0) 5 minutes ago   quirky_hopper", "c2 Exited (0) 2 hours ago   brave_turing"),
        # how far a pod got when `kubectl get` looked: a busier cluster is a step behind
        ("web-6d4b9c7f5-x7k2p   0/1   ContainerCreating   0   0s", "web-6d4b9c7f5-q9z4r   0/1   Pending   0   0s"),
        ("pod/web-6d4b9c7f5-x7k2p   0/1   Running   0   7s", "pod/web-6d4b9c7f5-x7k2p   1/1   Running   0   7s"),
        ("web-6d4b9c7f5-x7k2p   0/2   Init:0/1   0   2s", "web-6d4b9c7f5-x7k2p   0/2   PodInitializing   0   3s"),
        ("web-6d4b9c7f5-x7k2p   1/1   Terminating   0   30s", "web-6d4b9c7f5-x7k2p   0/1   Terminating   0   31s"),
    ],
)
def test_what_always_changes_is_masked(first, second):
    assert output_masked([first]) == output_masked([second])


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("hello", "goodbye"),
        ("0.0.0.0:5000->5000/tcp", "0.0.0.0:5001->5000/tcp"),  # a port of the story, not an engine's pick
        ("[{'id': 1, 'name': 'Ada'}]", "[{'id': 1, 'name': 'Grace'}]"),
        ("12factor:1.0", "12factor:1.1"),
        ("Running", "CrashLoopBackOff"),
        ("web-6d4b9c7f5-x7k2p   0/1   ContainerCreating   0   0s", "web-6d4b9c7f5-x7k2p   0/1   ErrImagePull   0   0s"),
        ("web-6d4b9c7f5-x7k2p   1/1   Running   0   9s", "web-6d4b9c7f5-x7k2p   0/1   CrashLoopBackOff   2   9s"),
        ("web-6d4b9c7f5-x7k2p   1/1   Running   0   9s", "web-6d4b9c7f5-x7k2p   1/1   Running   1   9s"),  # restarted
        ("dbinit-tx8fw   0/1   Completed   0   2s", "dbinit-tx8fw   0/1   Error   0   2s"),
        ("web-6d4b9c7f5-x7k2p   0/1   Init:0/1   0   2s", "web-6d4b9c7f5-x7k2p   0/1   Init:Error   0   2s"),
    ],
)
def test_what_matters_is_not_masked(first, second):
    assert output_masked([first]) != output_masked([second])


def test_a_terminal_shows_the_last_redraw_of_a_line_and_no_escapes():
    assert terminal_text("\x1b[32mok\x1b[0m\r\nstep 1/3\rstep 3/3\n\n") == ["ok", "step 3/3"]


def test_a_record_keeps_the_last_lines_only():
    lines, dropped = output_recorded("\n".join(str(n) for n in range(250)))
    assert (lines[0], lines[-1], len(lines), dropped) == ("50", "249", 200, 50)


def step(name="s1b0", *, exit_code=0, output=("hello",), code="abc", line=3, status="ok", detail="", dropped=0):
    return RecordedStep(name, "shell", 1, line, status, code, exit_code, False, 0.1, tuple(output), dropped, detail)


def test_an_exit_code_that_changed_is_drift_with_both_codes():
    drift = step_compare(recorded=step(), now=step(exit_code=1, code="def"), masks=[])
    assert drift.message == "exit code 0 in the record, exit code 1 now (its code changed since the record)"
    assert drift.line == 3


def test_a_blocks_own_mask_hides_what_it_names():
    recorded, now = step(output=("build 41 done",)), step(output=("build 42 done",))
    assert step_compare(recorded=recorded, now=now, masks=[]).diff == (
        "@@ -1 +1 @@",
        "-build 41 done",
        "+build 42 done",
    )
    assert step_compare(recorded=recorded, now=now, masks=[re.compile(r"build \d+")]) is None


def test_steps_added_removed_and_skipped(tmp_path):
    where = tmp_path / "d.recorded.json"
    recorded = Recording(where, "2026-12-04T06:00:00Z", "docker", {"s1b0": step(), "s2b0": step("s2b0", line=9)})
    now = Recording(
        where,
        "2026-12-05T06:00:00Z",
        "docker",
        {"s1b0": step(status="skipped", exit_code=None, detail="no cluster"), "s3b0": step("s3b0", line=14)},
    )
    found = recording_compare(recorded=recorded, now=now, masks_for=lambda name: [])
    assert [(d.step, d.line, d.message) for d in found.drifts] == [
        ("s2b0", 9, "in the record (line 9) but not in the deck any more (record the deck again)"),
        ("s3b0", 14, "not in the record (record the deck again)"),
    ]
    assert [(s.step, why) for s, why in found.not_compared] == [("s1b0", "skipped now: no cluster")]
    # A rehearsal from slide 3 on expects none of the record's earlier steps.
    assert [d.step for d in recording_compare(recorded=recorded, now=now, masks_for=lambda n: [], first_slide=3).drifts]


def test_the_record_file_round_trips_and_names_its_problems(tmp_path):
    deck = deck_from_text(tmp_path, "# T\n\n```bash\necho hello\n```\n", name="talk.md")
    path = record_path(deck.path)
    assert path == tmp_path / "talk.recorded.json"
    recording = Recording(path, "2026-12-04T06:17:22Z", "docker", {"s1b0": step(output=("hello", "world"))})
    path.write_text(record_dump(recording, deck=deck), encoding="utf-8")
    loaded = record_load(path)
    assert loaded.steps == recording.steps and loaded.date == "4 Dec 2026" and loaded.backend == "docker"
    assert record_load(tmp_path / "none.recorded.json") is None
    path.write_text('{"format": 99, "steps": []}', encoding="utf-8")
    with pytest.raises(DeckFileError, match=f"{path}: not a record of format 1; record it again with --record"):
        record_load(path)


def test_lines_in_another_order_and_a_pulls_progress_are_no_drift():
    recorded = step(output=("a1b2c3d4e5f6: Pulling fs layer", "web-6d4b9c7f5-x7k2p Running", "db Running"))
    now = step(
        output=(
            "0f9e8d7c6b5a: Pulling fs layer",
            "0f9e8d7c6b5a: Verifying Checksum",
            "db Running",
            "web-5f8d7c6b9-q9z4r Running",
        )
    )
    assert step_compare(recorded=recorded, now=now, masks=[]) is None
    assert step_compare(recorded=recorded, now=step(output=("db Running",)), masks=[]) is not None


def test_how_many_rollout_waits_a_run_saw_is_no_drift_and_its_outcome_is():
    # `kubectl rollout status` prints a "Waiting for" line per change it saw: two pods Ready in one moment
    # make one line fewer. Its last line, and its exit code, are the outcome.
    waits = (
        'Waiting for deployment "web" rollout to finish: 2 of 4 updated replicas are available...',
        'Waiting for deployment "web" rollout to finish: 3 of 4 updated replicas are available...',
    )
    done = 'deployment "web" successfully rolled out'
    recorded = step(output=("deployment.apps/web scaled", *waits, done))
    assert (
        step_compare(recorded=recorded, now=step(output=("deployment.apps/web scaled", waits[1], done)), masks=[])
        is None
    )
    assert step_compare(recorded=recorded, now=step(output=("deployment.apps/web scaled", *waits)), masks=[])
    timed_out = 'error: deployment "web" exceeded its progress deadline'
    assert step_compare(recorded=recorded, now=step(output=("deployment.apps/web scaled", *waits, timed_out)), masks=[])
