"""Abuse from one attendee while another runs `echo` blocks (issue 10, section 2).

For each abuse a fresh attacker sandbox runs it as one run (stopped by its timeout); meanwhile the
victim (the room's other attendee) runs `echo` blocks one after another. Asserted: none of the
victim's runs fails or loses output, each finishes within VICTIM_RUN_LIMIT, and the victim's file
and engine are intact afterwards. The latency figures (p50 while abused vs idle, and whether it
stayed within the issue's 2x) go into the table. Timing is reported, not asserted beyond
VICTIM_RUN_LIMIT: this 2-core machine is shared with other test sessions, whose builds move p50s
by more than 2x on their own.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid

import pytest

from sandbox.backends.base import RunRequest
from tests.provision.isolation_helpers import run
from tests.security import table
from tests.security.conftest import sandbox_new

pytestmark = [pytest.mark.docker, pytest.mark.cluster, pytest.mark.slow]

ABUSE_SECONDS = 12  # each abuse run's timeout: the backend kills it then
VICTIM_RUN_LIMIT = 10.0  # seconds: a victim's `echo` slower than this counts as starved
ABUSE_CODE = {
    # (the shell that starts the bomb would return at once: exec sleep keeps the run, and the bomb, going)
    "fork_bomb": ("shell", "bomb() { bomb | bomb & }; bomb; exec sleep 60"),
    "memory_hog": ("python", "hog = []\nwhile True:\n    hog.append(bytearray(64 << 20))"),
    # past the sandbox's 1 GB soft limit (LIMITS in conftest.py), then the next run must be refused
    "disk_fill": ("shell", "dd if=/dev/zero of=/workshop/fill bs=1M count=1500 status=none; sleep 30"),
    "output_flood": ("shell", "yes 'podium output flood podium output flood'"),
    "cpu_spin": ("shell", "for _ in 1 2 3 4; do (while :; do :; done) & done; wait"),
}


def echo_latencies(room, count: int, stop: threading.Event | None = None) -> tuple[list[float], list[str]]:
    """The victim's `echo` runs: their durations, and what went wrong with any of them."""
    durations, problems = [], []
    for index in range(count):
        if stop is not None and stop.is_set() and index >= 3:
            break
        started = time.monotonic()
        code, output = run(room.backend, room.victim, f"echo hi-{index}")
        durations.append(time.monotonic() - started)
        if code != 0 or output != f"hi-{index}\n":
            problems.append(f"run {index}: exit {code}, output {output[:80]!r}")
    return durations, problems


@pytest.fixture(scope="session")
def idle_p50(room) -> float:
    durations, problems = echo_latencies(room, 12)
    assert not problems, problems
    return statistics.median(durations[2:])


@pytest.mark.parametrize("abuse", list(table.ABUSES))
def test_abuse_leaves_the_other_attendee_whole(room, idle_p50, docker_client, abuse) -> None:
    attacker = sandbox_new(room.backend, docker_client)
    kind, code = ABUSE_CODE[abuse]
    finished = threading.Event()
    outcome: dict = {}

    def attack() -> None:
        request = RunRequest(run_id=uuid.uuid4().hex, kind=kind, code=code, timeout=ABUSE_SECONDS)
        try:
            outcome["result"] = room.backend.execute(
                state=attacker.state, request=request, on_output=lambda *_: None, should_stop=lambda: False
            )
        except Exception as error:  # noqa: BLE001 - the attacker's run may fail in any way; reported below
            outcome["error"] = error
        finally:
            finished.set()

    # A daemon: were the backend never to return, the assertion below fails rather than the interpreter hanging.
    thread = threading.Thread(target=attack, name=f"abuse-{abuse}", daemon=True)
    try:
        thread.start()
        time.sleep(1.5)  # let the abuse take hold
        durations, problems = echo_latencies(room, 20, stop=finished)
        thread.join(timeout=ABUSE_SECONDS + 60)
        after = ""
        if abuse == "disk_fill":
            time.sleep(3)
            _, after = run(room.backend, attacker, "echo still running")
    finally:
        room.backend.destroy(state=attacker.state)
    code_file, content = run(room.backend, room.victim, "cat /workshop/victim.txt && docker info --format ok")
    p50 = statistics.median(durations)
    ratio = p50 / idle_p50
    result = outcome.get("result")
    attacker_end = f"attacker's run: {'timed out' if result and result.timed_out else result or outcome.get('error')}"
    if abuse == "disk_fill":
        attacker_end += f"; its next run: {' '.join(after.split())[:70]!r}"
    within = "within 2x" if ratio <= 2 else "OVER 2x"
    cell = (
        f"{'holds' if not problems else '**LOST RUNS**'}: victim echo p50 {p50 * 1000:.0f} ms vs idle "
        f"{idle_p50 * 1000:.0f} ms (x{ratio:.1f}, {within}), {len(durations) - len(problems)}/{len(durations)} ok; "
        f"{attacker_end}"
    )
    table.record(abuse, room.mode, cell)
    assert not problems, problems
    assert max(durations) < VICTIM_RUN_LIMIT, durations
    # The backend ends every abuse at its timeout at the latest (or sooner, at a limit): the run returns.
    assert outcome, f"the attacker's {abuse} run had not returned {ABUSE_SECONDS + 60} s after it started"
    assert (code_file, content) == (0, "mine\nok\n"), content
