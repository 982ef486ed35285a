"""Keystroke → echoed character at a websocket client, through Podium's terminal, against a raw `docker exec -it`.

A real daphne server (bench/bench_server.py) with the bench deck; one attendee (a browser-like session) whose
first run creates the sandbox opens /ws/decks/run-bench/terminal/ as the page does ({"type": "open"}, output
acknowledged in steps of "ack_every" bytes, as the page does). Each sample types one letter as a binary frame
and times until the frame that echoes it arrives (`echo_*`; the clock stops when the frame arrives):
websocket → daphne → the workspace's link socket (the exec's, without a link folder) → podium-shell's session
holder → bash, and back. Every 40 letters a Ctrl+U clears the line (not timed).

Baseline in the same run, in the same workspace container: a raw TTY exec of bash through the engine API
(what `docker exec -it` does, through podium-enter as every attendee's command), one letter at a time, timed
the same way (`raw_echo_*`). `echo_p99_ratio` = echo_p99_ms / raw_echo_p99_ms (the goal: at most 1.5).

Like for like: both are read by the same kind of client, a blocking socket in one thread, `recv` as data comes
(bench/ws_client.py for the websocket; its docstring says why not an asyncio client library, which cost the
websocket side alone 0.15 ms at p50 and 0.4-0.6 ms at p99 on this machine). A p99 of 5000 samples is the
50th slowest: of 2000 (the 20th) it moved with every run (1.09-1.65× over nine). The sides are interleaved
so all see the same load, and which goes first after each pause turns from letter to letter: the first echo
after a pause pays for waking the machine.

Second baseline, interleaved too: the same client through a bare Python websocket relay in front of a raw TTY
exec (bench/ws_tty_relay.py, a process of its own): `floor_echo_*`, the least any terminal with a Python
websocket server in front of `docker exec -it` costs. `echo_vs_floor_p50_ratio` / `_p99_ratio` compare
Podium's terminal with it; `floor_p99_ratio` compares it with the raw exec.

    .venv/bin/python bench/terminal_echo.py [--keys 5000]

Needs a Docker engine and the workspace image (`manage.py sandbox prepare`). Removes its sandbox and stops
daphne at the end, also on failure. Progress on stderr; the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import string
import subprocess
import sys
import time
from pathlib import Path

import bench_server as support
import common as bench
from ws_client import LeanSocket

LETTERS = string.ascii_lowercase
CLEAR_EVERY = 40
WAIT_S = 30  # one echo; never reached unless something is broken


class TerminalSocket:
    """The page's terminal socket, read with `LeanSocket`: output acknowledged as the page does
    (static/podium/js/terminal/session.js)."""

    def __init__(self, socket_: LeanSocket) -> None:
        self.socket = socket_
        self.ack_every = 1
        self.shown = 0

    def output(self, wait: float) -> tuple[bytes | None, float]:
        """The next output frame (acknowledged once `ack_every` bytes are shown; None for a JSON message) and
        when it arrived (before any ack it brings is sent). TimeoutError after `wait` seconds of nothing."""
        self.socket.settimeout(wait)
        frame = self.socket.recv()
        arrived = time.perf_counter()
        if not isinstance(frame, bytes):
            return None, arrived
        self.shown += len(frame)
        if self.shown >= self.ack_every:
            self.socket.send(json.dumps({"type": "ack", "bytes": self.shown}))
            self.shown = 0
        return frame, arrived

    def quiet(self, seconds: float = 0.5) -> None:
        """Read (and acknowledge) until nothing came for `seconds`."""
        while True:
            try:
                self.output(seconds)
            except TimeoutError:
                return

    def echo(self, letter: str) -> float:
        started = time.perf_counter()
        self.socket.send(letter.encode())
        while True:
            frame, arrived = self.output(WAIT_S)
            if frame is not None and letter.encode() in frame:
                return arrived - started

    def clear(self) -> None:
        self.socket.send(b"\x15")
        self.quiet(0.3)


def _terminal_open(server: support.BenchServer, session_key: str) -> TerminalSocket:
    socket_ = LeanSocket.open(
        port=server.port, path=f"/ws/decks/{support.SLUG}/terminal/", cookie=f"sessionid={session_key}"
    )
    socket_.send(json.dumps({"type": "open", "cols": 120, "rows": 30}))
    terminal = TerminalSocket(socket_)
    socket_.settimeout(support.RECV_TIMEOUT_S)
    while True:
        frame = socket_.recv()
        if isinstance(frame, str):
            message = json.loads(frame)
            if message["type"] == "terminal.ready":
                terminal.ack_every = max(1, int(message.get("ack_every", 1)))
                break
            if message["type"] in ("terminal.ended", "error"):
                raise RuntimeError(f"the terminal was refused: {message}")
    terminal.quiet()
    return terminal


class RawTty:
    """A raw TTY exec of the attendee's bash in the workspace: what `docker exec -it` is."""

    def __init__(self, api, container: str) -> None:
        self.socket = bench.tty_exec(api, container, security=support.SECURITY)
        self.socket.settimeout(WAIT_S)
        self.quiet()

    def quiet(self, seconds: float = 0.5) -> None:
        self.socket.settimeout(seconds)
        try:
            while self.socket.recv(65536):
                pass
        except TimeoutError:
            pass
        self.socket.settimeout(WAIT_S)

    def echo(self, letter: str) -> float:
        started = time.perf_counter()
        self.socket.sendall(letter.encode())
        while letter.encode() not in self.socket.recv(65536):
            pass
        return time.perf_counter() - started

    def clear(self) -> None:
        self.socket.sendall(b"\x15")
        self.quiet(0.3)

    def close(self) -> None:
        self.socket.sendall(b"\x15exit\r")
        self.socket.close()


def _relay_start(container: str) -> tuple[subprocess.Popen, int]:
    """Start bench/ws_tty_relay.py for `container`; its process and port once it listens."""
    port = bench.free_port()
    command = [sys.executable, str(Path(__file__).with_name("ws_tty_relay.py")), "--container", container]
    relay = subprocess.Popen(
        [*command, "--port", str(port), "--security", support.SECURITY], stdout=subprocess.PIPE, text=True
    )
    if relay.stdout.readline() != "ready\n":
        relay.kill()
        raise RuntimeError("the websocket relay did not start")
    return relay, port


def _relay_stop(relay: subprocess.Popen) -> None:
    relay.terminate()
    relay.wait(timeout=15)


def _floor_open(container: str) -> tuple[subprocess.Popen, TerminalSocket]:
    """The bare relay to `container` and the client's socket to it, as quiet as the terminal's."""
    relay, port = _relay_start(container)
    floor = TerminalSocket(LeanSocket.open(port=port, path="/"))
    floor.quiet()
    return relay, floor


def _keys(sides: dict[str, TerminalSocket | RawTty], keys: int) -> dict[str, list[float]]:
    """Type `keys` letters on each side in turn, who goes first turning letter by letter; ms per echo by side."""
    order = list(sides)
    samples: dict[str, list[float]] = {name: [] for name in order}
    for index in range(keys):
        letter = LETTERS[index % len(LETTERS)]
        for name in order[index % 3 :] + order[: index % 3]:
            samples[name].append(sides[name].echo(letter) * 1000)
        if (index + 1) % CLEAR_EVERY == 0:
            for side in sides.values():
                side.clear()
            bench.say(
                f"{index + 1}/{keys}: last echo {samples['echo'][-1]:.1f} ms, raw {samples['raw_echo'][-1]:.1f} ms, "
                f"bare relay {samples['floor_echo'][-1]:.1f} ms"
            )
    return samples


def _measured(attendee: support.WarmAttendee, session_key: str, server: support.BenchServer, keys: int) -> dict:
    """The three sides opened, `keys` letters typed on each, all closed again (also on failure)."""
    terminal = _terminal_open(server, session_key)
    raw = RawTty(attendee.api, attendee.container)
    relay, floor = _floor_open(attendee.container)
    try:
        return _keys({"echo": terminal, "raw_echo": raw, "floor_echo": floor}, keys)
    finally:
        terminal.socket.close()
        floor.socket.close()
        _relay_stop(relay)
        raw.close()


async def measure(server: support.BenchServer, keys: int) -> dict:
    async with support.attendee_warm(server) as attendee:
        session_key = next(iter(server.sessions))  # the one attendee's session
        samples = await asyncio.to_thread(_measured, attendee, session_key, server, keys)
    figures = {"keys": keys, "security": support.SECURITY, "client": "blocking socket (bench/ws_client.py)"}
    for name, values in samples.items():
        figures.update(bench.p50_p99(name + "_{p}_ms", values, digits=2))
    figures["echo_p50_ratio"] = bench.ratio(figures["echo_p50_ms"], figures["raw_echo_p50_ms"])
    figures["echo_p99_ratio"] = bench.ratio(figures["echo_p99_ms"], figures["raw_echo_p99_ms"])
    figures["floor_p99_ratio"] = bench.ratio(figures["floor_echo_p99_ms"], figures["raw_echo_p99_ms"])
    figures["echo_vs_floor_p50_ratio"] = bench.ratio(figures["echo_p50_ms"], figures["floor_echo_p50_ms"])
    figures["echo_vs_floor_p99_ratio"] = bench.ratio(figures["echo_p99_ms"], figures["floor_echo_p99_ms"])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=5000, help="keystrokes measured on each side (default 5000)")
    args = parser.parse_args()
    if not 1 <= args.keys <= 10000:
        sys.exit("bench: --keys must be between 1 and 10000")
    support.figures_measured(measure, args.keys)


if __name__ == "__main__":
    main()
