"""The runs socket's server messages, as the pages read them: each builder's JSON, field by field.

The pages' JS reads these exact types and fields; a change here is a change of the protocol.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from sandbox import protocol
from sandbox.models import Run

RUN_ID = uuid.UUID("12345678-1234-5678-1234-567812345678")


def finished_run(**fields) -> Run:
    values = dict(
        id=RUN_ID,
        block_id="s7b0",
        slide=7,
        block_index=0,
        kind="shell",
        status="failed",
        exit_code=3,
        duration_ms=1200,
        truncated=False,
        output="partial\n",
        error_message="The command ended with exit code 3.",
        edited=False,
        code="echo partial; exit 3",
        created_at=datetime(2024, 5, 1, 9, 30, tzinfo=UTC),
    )
    values.update(fields)
    return Run(**values)


def test_run_messages():
    run = finished_run()
    assert protocol.run_accepted(run=run) == {"type": "run.accepted", "run": str(RUN_ID), "block": "s7b0"}
    assert protocol.run_started(run=run) == {"type": "run.started", "run": str(RUN_ID), "block": "s7b0"}
    assert protocol.run_output(run_id="r", seq=2, stream="stderr", data="oops\n") == {
        "type": "run.output",
        "run": "r",
        "seq": 2,
        "stream": "stderr",
        "data": "oops\n",
    }
    finished = {
        "type": "run.finished",
        "run": str(RUN_ID),
        "block": "s7b0",
        "status": "failed",
        "exit_code": 3,
        "duration_ms": 1200,
        "truncated": False,
        "message": "The command ended with exit code 3.",
    }
    assert protocol.run_finished(run=run) == finished
    assert protocol.run_finished(run=run, seq=4) == {**finished, "seq": 4}


def test_sandbox_and_check_messages():
    assert protocol.setup_status(message="Creating your sandbox…") == {
        "type": "sandbox.progress",
        "message": "Creating your sandbox…",
    }
    assert protocol.sandbox_reset(status="ok", message="Your sandbox is fresh.") == {
        "type": "sandbox.reset",
        "status": "ok",
        "message": "Your sandbox is fresh.",
    }
    assert protocol.check_result(check_id="s7", done=True, message="Done.") == {
        "type": "check.result",
        "block": "s7",
        "done": True,
        "message": "Done.",
    }


def test_history_shows_the_edited_code_only_when_edited():
    runs = [finished_run(), finished_run(id=uuid.UUID(int=1), block_id="s8b1", slide=8, block_index=1, edited=True)]
    checks = {"s7b0": {"done": True, "message": "ok", "at": "2024-05-01T09:31:00+00:00"}}
    history = protocol.history(runs=runs, slide=8, checks=checks, presenter=runs[:1])
    assert list(history) == ["type", "runs", "slide", "checks", "presenter", "catchup"]
    assert history["catchup"] is None  # no catch-up going on
    assert (history["type"], history["slide"], history["checks"]) == ("history", 8, checks)
    assert history["presenter"] == history["runs"][:1]
    assert history["runs"][0] == {
        "run": str(RUN_ID),
        "block": "s7b0",
        "slide": 7,
        "index": 0,
        "kind": "shell",
        "status": "failed",
        "exit_code": 3,
        "duration_ms": 1200,
        "truncated": False,
        "output": "partial\n",
        "message": "The command ended with exit code 3.",
        "edited": False,
        "code": None,
        "created_at": "2024-05-01T09:30:00+00:00",
    }
    assert history["runs"][1]["code"] == "echo partial; exit 3"
    json.dumps(history)  # all of it goes over the socket as it is


def test_errors_echo_at_most_40_characters_of_what_was_sent():
    assert protocol.error(code="limit", message="No.") == {"type": "error", "code": "limit", "message": "No."}
    error = protocol.error(code="not-found", message="No such block.", block="s" * 50)
    assert error["block"] == "s" * 40 and "check" not in error
    assert protocol.error(code="busy", message="Wait.", check="s7")["check"] == "s7"


def test_catch_up_messages_carry_the_step_only_when_there_is_one():
    assert protocol.catchup_progress(step=0, total=3, message="Catching up: resetting your sandbox…") == {
        "type": "catchup.progress",
        "step": 0,
        "total": 3,
        "message": "Catching up: resetting your sandbox…",
    }
    progress = protocol.catchup_progress(step=2, total=3, message="m", block="s3b0", slide=3, run="r")
    assert (progress["block"], progress["slide"], progress["run"]) == ("s3b0", 3, "r")
    assert protocol.catchup_finished(status="ok", message="Done.", total=3) == {
        "type": "catchup.finished",
        "status": "ok",
        "message": "Done.",
        "total": 3,
    }
    failed = protocol.catchup_finished(status="failed", message="No.", total=3, step=2, block="s3b0", slide=3)
    assert (failed["step"], failed["block"], failed["slide"]) == (2, "s3b0", 3)
    assert protocol.error(code="busy", message="Wait.", catchup=True)["catchup"] is True
    assert "catchup" not in protocol.error(code="busy", message="Wait.")


def test_the_client_types_as_an_error_names_them():
    assert protocol.CLIENT_TYPES_SAID == (
        '"run", "cancel", "reset", "history", "check", "progress", "catchup" or "catchup-cancel"'
    )


def test_output_goes_in_a_binary_frame_that_reads_back_as_the_same_message():
    event = protocol.run_output(run_id="r", seq=7, stream="stdout", data='a\nb "quoted" \\ é €\n\x1b[31mred\x00')
    frame = protocol.frame_of(event)
    assert isinstance(frame, bytes)
    head, _, data = frame.partition(b"\n")  # the fields as a line of JSON, then the text as UTF-8, unescaped
    assert json.loads(head) == {"type": "run.output", "run": "r", "seq": 7, "stream": "stdout"}
    assert data == event["data"].encode()
    assert protocol.frame_read(frame) == event
    copy = {**event, "type": "presenter.run.output"}
    assert protocol.frame_read(protocol.frame_of(copy)) == copy


def test_every_other_message_stays_a_json_object():
    finished = protocol.run_finished(run=finished_run(), seq=3)
    assert protocol.frame_of(finished) is finished
    assert protocol.frame_read(json.dumps(finished)) == finished
