"""The podium-agent program itself (provision/workspace/podium-agent), run here with real pipes and signals.

The workspace image runs it with podium-run; here it runs under this interpreter with a stand-in runner that
runs the request's `CODE` variable in bash, so its framing, batching, cap and ends are checked without a
container. Its frames are read as the server's Agent reads them (sandbox/backends/agent_link.py).
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from sandbox.backends.agent_link import END, HEADER, HELLO, STARTED

AGENT = Path(__file__).resolve().parents[2] / "provision" / "workspace" / "podium-agent"
SEQ_BYTES = sum(len(str(n)) + 1 for n in range(1, 300_001))


class AgentProcess:
    """podium-agent under this interpreter, its runs made by a stand-in runner; frames read as they come."""

    def __init__(self, folder: Path) -> None:
        runner = folder / "podium-run"
        runner.write_text('#!/bin/bash\nexec bash -c "$CODE"\n')
        runner.chmod(0o755)
        program = folder / "podium-agent"
        text = AGENT.read_text()
        assert 'RUNNER = "/usr/local/bin/podium-run"' in text and 'RUNS = "/run/podium/runs"' in text
        self.runs = folder / "runs"
        text = text.replace('RUNNER = "/usr/local/bin/podium-run"', f'RUNNER = "{runner}"')
        program.write_text(text.replace('RUNS = "/run/podium/runs"', f'RUNS = "{self.runs}"'))
        self.process = subprocess.Popen(
            [sys.executable, str(program)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.next = 0
        self._write = threading.Lock()
        number, kind, payload = self.frame()
        assert (number, kind, payload) == (0, HELLO, b"podium-agent 2")

    def frame(self) -> tuple[int, int, bytes]:
        header = self.process.stdout.read(HEADER.size)
        assert len(header) == HEADER.size, f"the agent's output ended: {self.process.stderr.read()[-2000:]!r}"
        number, kind, size = HEADER.unpack(header)
        assert size <= 1 << 20, f"a frame header out of step with the stream: {header!r}"
        return number, kind, self.process.stdout.read(size)

    def start(self, code: str, *, cap: int = 32 << 20, env: dict | None = None) -> int:
        with self._write:
            self.next += 1
            env = {"CODE": code, **(env or {})}
            line = {"id": self.next, "kind": "shell", "run_id": f"r{self.next}", "env": env, "cap": cap}
            self.process.stdin.write(json.dumps(line).encode() + b"\n")
            self.process.stdin.flush()
            return self.next

    def close(self) -> None:
        self.process.stdin.close()  # the agent ends when its stdin does
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # stuck writing to a reader that gave up
            self.process.kill()
            self.process.wait()


@pytest.fixture
def agent(tmp_path):
    started = AgentProcess(tmp_path)
    yield started
    started.close()


def collect(agent: AgentProcess, runs: set[int]) -> dict[int, dict]:
    """Every frame of `runs` until each has ended: its output per stream, its frames, and its end (each run says
    it started before anything else of it)."""
    seen = {number: {"stdout": bytearray(), "stderr": bytearray(), "frames": [], "end": None} for number in runs}
    started = set()
    while any(seen[number]["end"] is None for number in runs):
        number, kind, payload = agent.frame()
        assert number in seen, f"a frame of run {number}, which was not asked for"
        if kind == STARTED:
            assert number not in started and payload == b""
            started.add(number)
            continue
        assert number in started, f"run {number} sent {kind} before it said it started"
        if kind == END:
            seen[number]["end"] = json.loads(payload)
        else:
            seen[number]["stdout" if kind == 1 else "stderr"] += payload
            seen[number]["frames"].append(payload)
    return seen


def test_fast_output_of_many_runs_arrives_whole_while_other_runs_end_beside_it(agent) -> None:
    # Each run that ends sends the agent a SIGCHLD, here while it writes large frames into a full pipe (this
    # reader is slower than the runs): a write cut short by a signal must not lose a byte of the stream.
    expected = "".join(f"{n}\n" for n in range(1, 300_001)).encode()
    for _ in range(4):
        floods = {agent.start("seq 1 300000") for _ in range(2)}
        quick = {agent.start(f"echo quick {n}; exit {n}") for n in range(8)}
        seen = collect(agent, floods | quick)
        for number in floods:
            assert seen[number]["end"] == {"code": 0, "bytes": SEQ_BYTES}
            assert bytes(seen[number]["stdout"]) == expected
        for index, number in enumerate(sorted(quick)):
            assert seen[number]["end"]["code"] == index
            assert bytes(seen[number]["stdout"]) == f"quick {index}\n".encode()


def test_fast_output_leaves_in_large_frames_and_the_first_bytes_at_once(agent) -> None:
    flood = agent.start("seq 1 300000")
    seen = collect(agent, {flood})[flood]
    assert len(seen["stdout"]) == SEQ_BYTES
    assert len(seen["frames"]) <= SEQ_BYTES // (32 * 1024)  # not one per 4 KiB write of seq

    # A line and then a pause: the line is not held back until more comes or the run ends.
    slow = agent.start("echo first; sleep 1; echo second")
    assert agent.frame() == (slow, STARTED, b"")
    assert agent.frame() == (slow, 1, b"first\n")
    number, kind, payload = agent.frame()
    assert (number, kind, payload) == (slow, 1, b"second\n")
    assert agent.frame()[:2] == (slow, END)


def test_output_past_the_cap_is_counted_not_sent_and_streams_keep_their_kind(agent) -> None:
    run = agent.start("seq 1 300000; echo oops >&2", cap=1000)
    seen = collect(agent, {run})[run]
    assert len(seen["stdout"]) + len(seen["stderr"]) == 1001  # the cap and one byte, to tell it was passed
    assert seen["end"] == {"code": 0, "bytes": SEQ_BYTES + len("oops\n")}

    run = agent.start("echo out; echo err >&2; exit 7")
    seen = collect(agent, {run})[run]
    assert (bytes(seen["stdout"]), bytes(seen["stderr"]), seen["end"]["code"]) == (b"out\n", b"err\n", 7)


def test_the_agent_writes_the_runs_code_for_podium_run_and_removes_its_files_once_it_ended(agent) -> None:
    # podium-run would start base64 (and more) to decode the code; the agent hands it the file instead.
    chunks = base64.b64encode(b"echo the code\n" * 3000).decode()
    env = {"PODIUM_CODE_B64_000": chunks[:20000], "PODIUM_CODE_B64_001": chunks[20000:]}
    code = f'echo "$PODIUM_RUN_FILES ${{PODIUM_CODE_B64_000-gone}}"; cat {agent.runs}/r1.code; : > {agent.runs}/r1.pid'
    number = agent.start(code, env=env)
    run = collect(agent, {number})[number]
    assert run["end"]["code"] == 0
    assert bytes(run["stdout"]) == b"agent gone\n" + b"echo the code\n" * 3000
    assert list(agent.runs.iterdir()) == []
