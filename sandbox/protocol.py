"""The runs websocket protocol, /ws/decks/<slug>/runs/: every message the server sends is built here.

One socket per open page; it speaks for the attendee of the page's session
only and joins that attendee's group (`sandbox.groups.attendee_group`), so
every page of one attendee sees the same runs. Messages are JSON objects
with a dotted "type"; the events sent to the group are the very messages
the pages receive (the consumer passes them on as they are).

Client -> server
  run       {"block": "s7b0", "code"?: edited text}   run a block (the deck's code, or the edited text)
  cancel    {"run": "<run uuid>"}                      stop one of the attendee's runs
  reset     {}                                         throw the sandbox away and make a fresh one
  history   {}                                         ask for the stored runs, slide and checks (a reload)
  check     {"block": "s7b0" | "s7"}                   "Check my work": a block's check, or a slide's
  progress  {"slide": 7}                               the slide the attendee is on (stored at most once a second)
  catchup   {"slide": 20}                              "Catch me up to this slide": reset the sandbox, then run the
                                                       deck's text of every runnable block of slides 1 to 19, in order
  catchup-cancel {}                                    stop catching up (the step running is cancelled)

Server -> client (to the attendee's group unless marked "this socket")
  run.accepted      {"run", "block"}                   a run was stored; always ahead of the run's other messages
  sandbox.progress  {"message"}                        a sentence while the sandbox is set up, reset or restored
                                                       (the setup status; not the attendee's progress through the deck)
  run.started       {"run", "block"}                   the code started in the sandbox
  run.output        {"run", "seq", "stream", "data"}   output text; seq 1, 2, 3… per run, no gaps;
                                                       stream "stdout" or "stderr"; a binary frame (below)
  run.finished      {"run", "block", "status", "exit_code", "duration_ms", "truncated", "message", "seq"?}
                                                       how the run ended; "seq" (the number of run.output
                                                       messages sent) when the executor knows it
  sandbox.reset     {"status": "ok" | "error", "message"}
                                                       (a reset refused by the rate limit: "error", this socket only)
  check.result      {"block", "done", "message", "hints"?}
                                                       the answer of "check" ("block" is the check id); "hints":
                                                       the deck's hint=, then hint2= too after after=N failures
                                                       in a row (only on a "not yet" the check really gave)
  catchup.progress  {"step", "total", "message", "block"?, "slide"?, "run"?}
                                                       catching up: step 0 is the reset, then one per block, sent
                                                       after the step's run.accepted ("run"); "message" is the
                                                       sentence to show ("Catching up: step 7 of 12 — Build on …")
  catchup.finished  {"status": "ok" | "failed" | "cancelled" | "error", "message", "total", "step"?, "block"?,
                     "slide"?}                         how it ended; "failed" names the step that did not succeed
                                                       (the first failure stops it), "cancelled" the step stopped
  history           {"runs": [stored run…], "slide": n | null, "checks": {check id: {"done", "message", "at"}},
                     "presenter": [stored run…], "catchup": {"step", "total", "message"} | null}
                                                       this socket; a stored run is `run_public`'s dict; "presenter":
                                                       the presenter's last finished runs (empty on their own page);
                                                       "catchup": the catch-up going on, if one is
  presenter.run.started / presenter.run.output / presenter.run.finished
                    the same fields as run.started / run.output / run.finished: a run of the deck's presenter,
                    copied to the followers' pages (the deck's presenter_runs_group) to watch, read-only
  error             {"code", "message", "block"?, "check"?, "catchup"?}
                                                       this socket; a refused request, code one of ERROR_CODES;
                                                       "catchup": true when it refused "catchup" or "catchup-cancel"
                                                       (a second press while catching up is "busy"; a run while
                                                       catching up is refused "busy" too)

Output (run.output and presenter.run.output) leaves in a binary frame
(`output_frame`): the message without "data" as one line of JSON, a newline,
then the text as UTF-8. The output is most of what a run sends, and text that
is not JSON-escaped costs neither end an encode and a parse of every byte; the
page reads both kinds of frame into the same message (`frame_read` here,
static/podium/js/socket.js there). Every other message the server sends is a
JSON object in a text frame.

Every message a client sends is a JSON object in a text frame of at most
PODIUM_WS_MESSAGE_MAX bytes (`config.websocket`); anything else gets an "error"
and the socket stays open. Runs, checks and new sandboxes are rate limited (`sandbox.limits`): a
refusal is an "error" with code "limit" whose message says when to try again.

A run's status is one of `sandbox.models.Run.Status` (queued, running, ok,
failed, timed_out, cancelled, error). A socket without a session, or for a
deck that does not exist, gets one error and is closed with
CLOSE_NO_SESSION or CLOSE_NOT_FOUND; one whose database work could not be
done in time, with config.websocket.CLOSE_TRY_AGAIN (the page connects again).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sandbox.models import Run

CLIENT_TYPES = ("run", "cancel", "reset", "history", "check", "progress", "catchup", "catchup-cancel")
# How an error names them: "run", "cancel", … or "progress".
CLIENT_TYPES_SAID = ", ".join(f'"{kind}"' for kind in CLIENT_TYPES[:-1]) + f' or "{CLIENT_TYPES[-1]}"'
ERROR_CODES = (
    "bad-request",
    "not-found",
    "not-runnable",
    "not-running",
    "limit",
    "busy",
    "no-session",
    "not-admitted",
    "unavailable",  # the database did not answer in time (config.websocket): nothing was done, try again
)
CLOSE_NO_SESSION = 4401
CLOSE_NOT_FOUND = 4404


def run_accepted(*, run: Run) -> dict:
    """`run.accepted`: the run is stored and queued."""
    return {"type": "run.accepted", "run": str(run.id), "block": run.block_id}


def run_started(*, run: Run) -> dict:
    """`run.started`: the run's code started in the sandbox."""
    return {"type": "run.started", "run": str(run.id), "block": run.block_id}


def run_output(*, run_id: str, seq: int, stream: str, data: str) -> dict:
    """`run.output`: the `seq`th piece of output text of run `run_id`, from `stream` ("stdout" or "stderr")."""
    return {"type": "run.output", "run": run_id, "seq": seq, "stream": stream, "data": data}


OUTPUT_TYPES = frozenset(("run.output", "presenter.run.output"))


def output_frame(event: dict) -> bytes:
    """The binary frame of a run.output (or presenter.run.output) message: its other fields as a line of JSON,
    then its "data" as UTF-8 (JSON escapes every newline, so the first newline ends the line)."""
    return b"".join(output_frame_parts(event))


def output_frame_parts(event: dict) -> tuple[bytes, bytes]:
    """`output_frame` in two parts, not joined: the line of JSON (with its newline) and the data."""
    head = {key: value for key, value in event.items() if key != "data"}
    return json.dumps(head).encode() + b"\n", event["data"].encode()


def frame_of(event: dict) -> dict | bytes:
    """What a socket sends for `event`: the binary frame of output (`output_frame`), else the message itself."""
    return output_frame(event) if event.get("type") in OUTPUT_TYPES else event


def frame_read(frame: str | bytes) -> dict:
    """The message a frame from the server carries: a text frame's JSON, or a binary output frame's fields and data."""
    if isinstance(frame, str):
        return json.loads(frame)
    head, _, data = frame.partition(b"\n")
    return {**json.loads(head), "data": data.decode()}


def run_finished(*, run: Run, seq: int | None = None) -> dict:
    """`run.finished` of a stored run that ended (`seq`: number of output messages sent, when known)."""
    event = {
        "type": "run.finished",
        "run": str(run.id),
        "block": run.block_id,
        "status": run.status,
        "exit_code": run.exit_code,
        "duration_ms": run.duration_ms,
        "truncated": run.truncated,
        "message": run.error_message,
    }
    if seq is not None:
        event["seq"] = seq
    return event


def setup_status(*, message: str) -> dict:
    """`sandbox.progress`: one sentence of the setup status (creating, resetting, restoring the sandbox)."""
    return {"type": "sandbox.progress", "message": str(message)}


def sandbox_reset(*, status: str, message: str) -> dict:
    """`sandbox.reset`: how a reset ended, "ok" or "error", and the sentence to show."""
    return {"type": "sandbox.reset", "status": status, "message": message}


def check_result(*, check_id: str, done: bool, message: str, hints: list[str] = ()) -> dict:
    """`check.result`: the answer of the check `check_id`, done or not yet, with its sentence, and the deck's
    hints for it when it failed (only when there are any)."""
    event = {"type": "check.result", "block": check_id, "done": done, "message": message}
    if hints:
        event["hints"] = list(hints)
    return event


def history(
    *, runs: list[Run], slide: int | None, checks: dict, presenter: list[Run] = (), catchup: dict | None = None
) -> dict:
    """`history`: the last run of each block (`run_public`), the stored slide, the latest answer of each check,
    (a follower's page) the presenter's last finished run of each block, and the catch-up going on, if any."""
    return {
        "type": "history",
        "runs": [run_public(run) for run in runs],
        "slide": slide,
        "checks": checks,
        "presenter": [run_public(run) for run in presenter],
        "catchup": catchup,
    }


def catchup_progress(
    *, step: int, total: int, message: str, block: str | None = None, slide: int | None = None, run: str | None = None
) -> dict:
    """`catchup.progress`: catching up is at step `step` of `total` (0: the reset), with the sentence to show."""
    event = {"type": "catchup.progress", "step": step, "total": total, "message": message}
    for key, value in (("block", block), ("slide", slide), ("run", run)):
        if value is not None:
            event[key] = value
    return event


def catchup_finished(
    *,
    status: str,
    message: str,
    total: int,
    step: int | None = None,
    block: str | None = None,
    slide: int | None = None,
) -> dict:
    """`catchup.finished`: how catching up ended ("ok", "failed", "cancelled", "error"), and the step it stopped at."""
    event = {"type": "catchup.finished", "status": status, "message": message, "total": total}
    for key, value in (("step", step), ("block", block), ("slide", slide)):
        if value is not None:
            event[key] = value
    return event


def run_public(run: Run) -> dict:
    """What a page needs to show a stored run again after a reload (the edited code only when edited)."""
    return {
        "run": str(run.id),
        "block": run.block_id,
        "slide": run.slide,
        "index": run.block_index,
        "kind": run.kind,
        "status": run.status,
        "exit_code": run.exit_code,
        "duration_ms": run.duration_ms,
        "truncated": run.truncated,
        "output": run.output,
        "message": run.error_message,
        "edited": run.edited,
        "code": run.code if run.edited else None,
        "created_at": run.created_at.isoformat(),
    }


def error(
    *, code: str, message: str, block: str | None = None, check: str | None = None, catchup: bool = False
) -> dict:
    """`error`: a refused request, `code` for the page and `message` for the learner.

    `block` names the block a refused run was for; `check` the step a refused
    "check" was for, so the page shows it at that step's "Check my work".
    Both are cut to 40 characters (they echo what the client sent). `catchup`
    marks a refused "catchup" or "catchup-cancel", shown at the catch-up button.
    """
    event = {"type": "error", "code": code, "message": message}
    if catchup:
        event["catchup"] = True
    if block is not None:
        event["block"] = block[:40]
    if check is not None:
        event["check"] = check[:40]
    return event
