"""Joining a room → first output of the first run, warm pool against cold; the pool's hand-out; first Build.

A real daphne of this checkout (bench/common.py) with the shipped deck (slides/,
intro-docker-kubernetes), the Docker backend and the embedded worker, on a fresh
SQLite database. Each attendee is a browser-like client: GET the join form,
POST /join/ with its CSRF token (t0), open /ws/decks/<slug>/runs/ with the
session cookie, click Run on the deck's first shell block edited to `echo hi`,
then Run it once more (warm); one such joiner, not counted, warms the server up
first. Figures, milliseconds unless `_s`:

- cold arm: a room without a pool; the first run creates the sandbox.
- pool arm: a room whose pool, filled beforehand (unprimed: `echo hi` pulls no
  image), holds a sandbox per joiner; capacity = pool, so no refill runs beside
  the figures (a room with spare places refills during first runs).
- `pool_handout_ms`: the pool arm's POST /join/ round trip (join, admission,
  hand-out, redirect); each joiner is checked to own a pool sandbox afterwards.
  `pool_handout_inprocess_ms`: `room_join` called in this process (no HTTP),
  with `pool_take_ms`, the database move alone, timed inside it.
- `pool_first_run_vs_warm` = join_pool_first_output_ms_p50 / warm_run_first_output_ms_p50
  (warm: the pool arm's second runs, Run → first output).
- builds: the deck's first Build block, clicked as a joiner's first run, in a
  room without a pool and from a primed pool sandbox (the deck's images,
  `rooms.pool.deck_images`, pulled at fill). `first_build_*_s` is run.started →
  run.finished: the sandbox's creation is not in it.

    .venv/bin/python bench/room_join.py [--samples 5] [--handouts N] [--builds 1] [--build-block s28b0]

Needs a Docker engine and the workspace image (`manage.py sandbox prepare`). On
leaving, also on failure, Ctrl-C or SIGTERM: daphne stops, every room it opened
closes (sandboxes destroyed, pools drained), and whatever still carries its own
PODIUM_INSTANCE label goes. Progress on stderr; stdout's last line: one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

import bench_server as support
import common as bench

DECK = "intro-docker-kubernetes"
ECHO = "echo hi"
BUILD_LIMIT_S = 1200  # a cold build pulls its base images through the mirror first


# -- the server and its rooms --------------------------------------------------------------------------
@dataclass
class JoinServer:
    """daphne with the shipped deck, labelling its sandboxes with an instance of its own; the rooms it opened."""

    port: int = 0
    folder: Path | None = None
    process: subprocess.Popen | None = None
    instance: str = field(default_factory=lambda: f"bench-join-{uuid.uuid4().hex[:8]}")
    rooms: list = field(default_factory=list)  # primary keys of the rooms still open
    origin: str = ""

    def start(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="podium-bench-"))
        self.port = bench.free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        env = bench.server_env(folder=self.folder, slides=bench.ROOT / "slides")
        env |= {"PODIUM_SANDBOX_BACKEND": "docker", "PODIUM_SANDBOX_SECURITY": support.SECURITY}
        env |= {"PODIUM_EMBEDDED_WORKER": "1", "PODIUM_BASE_URL": self.origin}
        env["PODIUM_INSTANCE"] = self.instance  # so the cleanup finds exactly this run's sandboxes
        bench.django_setup(env=env, migrate=True)  # this process opens rooms and fills pools in the same database
        from sandbox.backends.docker import DockerBackend

        bench.backend_checked(DockerBackend())
        self.process = bench.daphne_start(port=self.port, env=env, log=self.folder / "daphne.log")

    def close(self) -> None:
        """daphne first (nothing in flight makes more), then every room closed, then any leftover of the instance."""
        if self.process is not None:
            bench.daphne_stop([self.process])
        for pk in list(self.rooms):
            with contextlib.suppress(Exception):
                room_shut(self, pk)
        with contextlib.suppress(Exception):  # nothing to sweep when Django never started
            from sandbox.backends import backend_get

            backend = backend_get()
            left = backend.list_managed()  # labelled with this run's PODIUM_INSTANCE only
            for managed in left:
                backend.destroy(state=managed.state)
            bench.say(f"removed {len(left)} sandbox(es) left over with instance {self.instance}")
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


def room_new(server: JoinServer, *, pool: int = 0, prime: bool = False) -> tuple[object, set[str], float]:
    """A room of the deck with `pool` sandboxes (and as many places), filled here: (room, pool ids, fill s)."""
    from rooms.pool import pool_fill
    from rooms.services import room_open

    room = room_open(deck_slug=DECK, pool_size=pool, capacity=pool or None)
    server.rooms.append(room.pk)
    bench.say(f"room {room.code} open (pool {pool}{', primed' if prime else ''})")
    started = time.perf_counter()
    report = pool_fill(room=room, prime=prime, progress=lambda message: bench.say(f"fill: {message}"))
    seconds = time.perf_counter() - started
    if report.failed or len(report.made) != pool or (prime and len(report.primed) != pool):
        raise RuntimeError(f"the pool of room {room.code} did not fill: {report}")
    return room, set(report.made), seconds


def room_shut(server: JoinServer, pk) -> None:
    """Close the room: its members' sandboxes are destroyed and its pool drained."""
    from rooms.models import Room
    from rooms.services import room_close

    room = Room.objects.get(pk=pk)
    change = room_close(room=room)
    server.rooms.remove(pk)
    bench.say(f"room {room.code} closed: {len(change.released)} member(s) let go; not destroyed: {change.failed}")


# -- a browser: the join form, the runs socket ---------------------------------------------------------
def _cookies(response: http.client.HTTPResponse) -> dict[str, str]:
    jar = SimpleCookie()
    for header in response.headers.get_all("Set-Cookie") or []:
        jar.load(header)
    return {name: morsel.value for name, morsel in jar.items()}


def join_http(server: JoinServer, *, code: str, name: str) -> tuple[str, float, float]:
    """GET the join form (cookie, CSRF token: not timed), then POST it: (session key, t0, POST round trip s)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    try:
        connection.request("GET", f"/join/{code}/")
        form = connection.getresponse()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.read().decode("utf-8", "replace"))
        csrf = _cookies(form).get("csrftoken")
        if form.status != 200 or token is None or csrf is None:
            raise RuntimeError(f"GET /join/{code}/ answered {form.status} without a CSRF token and cookie")
        body = urllib.parse.urlencode({"csrfmiddlewaretoken": token.group(1), "code": code, "name": name})
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={csrf}"}
        headers |= {"Origin": server.origin, "Referer": f"{server.origin}/join/{code}/"}
        started = time.perf_counter()
        connection.request("POST", "/join/", body=body, headers=headers)
        answer = connection.getresponse()
        answer.read()
        post_s = time.perf_counter() - started
    finally:
        connection.close()
    session_key = _cookies(answer).get("sessionid")
    if answer.status != 302 or answer.getheader("Location") != f"/decks/{DECK}/" or not session_key:
        raise RuntimeError(f"POST /join/ answered {answer.status} → {answer.getheader('Location')}, not the deck")
    return session_key, started, post_s


def runs_socket(server: JoinServer, session_key: str):
    """The page's runs websocket: its Origin, the session cookie; no compression, no pings."""
    from websockets.sync.client import connect

    url, cookie = f"ws://127.0.0.1:{server.port}/ws/decks/{DECK}/runs/", {"Cookie": f"sessionid={session_key}"}
    options = {"compression": None, "proxy": None, "open_timeout": 60, "ping_interval": None, "max_size": None}
    return connect(url, origin=server.origin, additional_headers=cookie, **options)


@dataclass
class RunSeen:
    """What the client saw of one run, as perf_counter instants."""

    sent: float
    started: float | None = None
    first_output: float | None = None
    finished: float = 0.0
    end: dict = field(default_factory=dict)
    progress: list[str] = field(default_factory=list)


def run_follow(socket_, *, block: str, code: str | None = None, limit_s: float = support.RECV_TIMEOUT_S) -> RunSeen:
    """Click Run on `block` (edited to `code`) and follow it to run.finished; RuntimeError on an error message."""
    message = {"type": "run", "block": block, **({"code": code} if code is not None else {})}
    seen = RunSeen(sent=time.perf_counter())
    socket_.send(json.dumps(message))
    run_id = None
    while True:
        left = seen.sent + limit_s - time.perf_counter()
        if left <= 0:
            raise RuntimeError(f"the run of {block} did not finish within {limit_s:g} s")
        event = bench.ws_message(socket_.recv(timeout=left))
        now, kind = time.perf_counter(), event.get("type")
        if kind == "error":
            raise RuntimeError(f"the server refused the run of {block}: {event}")
        if kind == "run.accepted" and run_id is None:
            run_id = event["run"]
        elif kind == "sandbox.progress":
            seen.progress.append(event.get("message", ""))
        elif event.get("run") != run_id:
            continue  # the presenter's run, copied to followers
        elif kind == "run.started":
            seen.started = now
        elif kind == "run.output" and seen.first_output is None:
            seen.first_output = now
        elif kind == "run.finished":
            seen.finished, seen.end = now, event
            return seen


def sandbox_of_session(session_key: str):
    """The sandbox row of this session's attendee on the deck."""
    from sandbox.models import Sandbox

    return Sandbox.objects.get(attendee__session_key=session_key, attendee__deck_slug=DECK)


# -- one attendee each ---------------------------------------------------------------------------------
def echo_joiner(server: JoinServer, *, code: str, name: str, block: str) -> dict:
    """Join, first Run of `echo hi`, a second (warm) one: milliseconds, and the sandbox the attendee owns."""
    session_key, t0, post_s = join_http(server, code=code, name=name)
    with runs_socket(server, session_key) as socket_:
        opened = time.perf_counter()
        first = run_follow(socket_, block=block, code=ECHO)
        warm = run_follow(socket_, block=block, code=ECHO)
    for seen in (first, warm):
        if seen.end.get("status") != "ok" or seen.first_output is None:
            raise RuntimeError(f"{name}: `{ECHO}` did not print and succeed: {seen.end} ({seen.progress})")
    return {
        "post_ms": post_s * 1000,
        "socket_ms": (opened - t0 - post_s) * 1000,
        "join_first_output_ms": (first.first_output - t0) * 1000,
        "run_first_output_ms": (first.first_output - first.sent) * 1000,
        "warm_first_output_ms": (warm.first_output - warm.sent) * 1000,
        "sandbox": sandbox_of_session(session_key).id.hex,
    }


def build_joiner(server: JoinServer, *, code: str, name: str, block: str) -> dict:
    """Join and click Build first: seconds of the build itself and from the join, its status, the sandbox."""
    session_key, t0, _ = join_http(server, code=code, name=name)
    with runs_socket(server, session_key) as socket_:
        seen = run_follow(socket_, block=block, limit_s=BUILD_LIMIT_S)
    status = seen.end.get("status")
    if status != "ok":
        bench.say(f"{name}: the Build ended {status} (exit {seen.end.get('exit_code')}): {seen.end.get('message')}")
    return {
        "build_s": seen.finished - (seen.started or seen.sent),
        "from_join_s": seen.finished - t0,
        "status": str(status),
        "sandbox": sandbox_of_session(session_key).id.hex,
    }


def handout_inprocess(room, *, name: str) -> dict:
    """`room_join` in this process for a fresh browser session, `pool_take` inside it timed; and what it gave."""
    from django.contrib.sessions.backends.db import SessionStore

    import rooms.services as services

    session = SessionStore()
    session.create()  # a browser's saved session, as the join page leaves it
    took: list[float] = []
    untimed = services.pool_take

    def pool_take_timed(*, member):
        started = time.perf_counter()
        try:
            return untimed(member=member)
        finally:
            took.append(time.perf_counter() - started)

    services.pool_take = pool_take_timed  # this process only: the server runs the module as it is
    try:
        started = time.perf_counter()
        services.room_join(code=room.code, name=name, session=session)
        join_s = time.perf_counter() - started
    finally:
        services.pool_take = untimed
    session.save()
    sandbox = sandbox_of_session(session.session_key)
    return {"join_ms": join_s * 1000, "take_ms": sum(took) * 1000, "sandbox": sandbox.id.hex, "ready": sandbox.status}


# -- the arms ------------------------------------------------------------------------------------------
def _p50(samples: list[dict], key: str, digits: int = 1) -> float:
    return round(bench.percentile([float(sample[key]) for sample in samples], 0.5), digits)


def _p50_p99(name: str, samples: list[dict], key: str, digits: int = 1) -> dict[str, float]:
    return bench.p50_p99(name, [float(sample[key]) for sample in samples], digits=digits)


def blocks_of_deck() -> tuple[str, str]:
    """(first shell block, first Build block: `docker build` of its Dockerfile) of the shipped deck, as parsed."""
    from deck.selectors import deck_get

    blocks = [block for slide in deck_get(slug=DECK).slides for block in slide.blocks if block.runnable]
    first = {kind: next(block.block_id for block in blocks if block.run_kind == kind) for kind in ("shell", "build")}
    return first["shell"], first["build"]


def measure_echo(server: JoinServer, args: argparse.Namespace, shell: str) -> dict:
    """The cold arm (after one joiner not counted), then the pool arm with the in-process hand-outs between."""
    room, _, _ = room_new(server)
    echo_joiner(server, code=room.code, name="warm-up", block=shell)  # not counted: the server's first requests
    cold = [echo_joiner(server, code=room.code, name=f"cold {i + 1}", block=shell) for i in range(args.samples)]
    bench.say(f"cold: join → first output {[round(sample['join_first_output_ms']) for sample in cold]} ms")
    room_shut(server, room.pk)

    size = args.samples + args.handouts
    room, pooled, fill_s = room_new(server, pool=size)
    pool, inprocess = [], []
    for i in range(max(args.samples, args.handouts)):
        if i < args.samples:
            pool.append(echo_joiner(server, code=room.code, name=f"pool {i + 1}", block=shell))
            bench.say(f"pool {i + 1}: POST {pool[-1]['post_ms']:.1f} ms, {pool[-1]['join_first_output_ms']:.0f} ms")
        if i < args.handouts:
            inprocess.append(handout_inprocess(room, name=f"in-process {i + 1}"))
    room_shut(server, room.pk)
    wrong = [sample for sample in pool + inprocess if sample["sandbox"] not in pooled]
    wrong += [sample for sample in inprocess if sample["ready"] != "ready"]
    if wrong:
        raise RuntimeError(f"joiner(s) of the pool room without a ready pool sandbox: {wrong}")

    figures = {
        **_p50_p99("join_pool_first_output_ms_{p}", pool, "join_first_output_ms"),
        **_p50_p99("join_cold_first_output_ms_{p}", cold, "join_first_output_ms"),
        **_p50_p99("warm_run_first_output_ms_{p}", pool, "warm_first_output_ms"),
        "pool_run_first_output_ms_p50": _p50(pool, "run_first_output_ms"),  # Run → first output, join excluded
        "pool_socket_open_ms_p50": _p50(pool, "socket_ms"),
        **_p50_p99("pool_handout_ms_{p}", pool, "post_ms"),
        "cold_join_post_ms_p50": _p50(cold, "post_ms"),
        "pool_fill_s_per_sandbox": round(fill_s / size, 2),
    }
    if inprocess:
        figures.update(_p50_p99("pool_handout_inprocess_ms_{p}", inprocess, "join_ms", digits=2))
        figures.update(_p50_p99("pool_take_ms_{p}", inprocess, "take_ms", digits=2))
    warm = figures["warm_run_first_output_ms_p50"]
    figures["pool_first_run_vs_warm"] = round(figures["join_pool_first_output_ms_p50"] / warm, 2)
    figures["pool_run_only_vs_warm"] = round(figures["pool_run_first_output_ms_p50"] / warm, 2)
    return figures


def measure_builds(server: JoinServer, count: int, block: str) -> dict:
    """`count` first Builds of `block` in a room without a pool, then as many from a primed pool."""
    from deck.selectors import deck_get
    from rooms.pool import deck_images

    figures: dict = {"build_block": block, "primed_images": deck_images(deck_get(slug=DECK))}
    for word in ("cold", "primed"):
        room, pooled, fill_s = room_new(server, pool=count if word == "primed" else 0, prime=word == "primed")
        samples = [build_joiner(server, code=room.code, name=f"{word} {i + 1}", block=block) for i in range(count)]
        room_shut(server, room.pk)
        if word == "primed":
            figures["pool_fill_primed_s_per_sandbox"] = round(fill_s / count, 1)
            if any(sample["sandbox"] not in pooled for sample in samples):
                raise RuntimeError(f"a primed-build joiner did not get a pool sandbox: {samples}")
        figures[f"first_build_{word}_s"] = _p50(samples, "build_s", 2)
        figures[f"first_build_{word}_from_join_s"] = _p50(samples, "from_join_s", 2)
        figures[f"first_build_{word}_status"] = sorted({sample["status"] for sample in samples})
        bench.say(f"{word} Build: {figures[f'first_build_{word}_s']} s, {figures[f'first_build_{word}_status']}")
    figures["build_primed_vs_cold"] = round(figures["first_build_primed_s"] / figures["first_build_cold_s"], 2)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=5, help="joiners per arm, cold and pool (default 5)")
    parser.add_argument("--handouts", type=int, help="in-process hand-outs from the pool (default: --samples)")
    parser.add_argument("--builds", type=int, default=1, help="first Builds each way, cold and primed (0: none)")
    parser.add_argument("--build-block", help="the block to Build (default: the deck's first Build block)")
    args = parser.parse_args()
    args.handouts = args.samples if args.handouts is None else args.handouts
    if not 1 <= args.samples <= 40 or not 0 <= args.handouts <= 40 or not 0 <= args.builds <= 5:
        sys.exit("bench: --samples must be 1..40, --handouts 0..40, --builds 0..5")
    started, load_before = time.monotonic(), bench.load_average()
    support._terminate_on_sigterm()  # SIGTERM as an exception, so the cleanup below runs
    server = JoinServer()
    try:
        server.start()
        shell, build = blocks_of_deck()
        bench.say(f"`{ECHO}` runs as the edited block {shell}; the Build is block {args.build_block or build}")
        figures = {**vars(args), **measure_echo(server, args, shell)}
        if args.builds:
            figures.update(measure_builds(server, args.builds, args.build_block or build))
    finally:
        server.close()
    figures |= {"security": support.SECURITY, "database": "sqlite", "load_avg_before": load_before}
    figures |= {"load_avg_after": bench.load_average(), "elapsed_s": round(time.monotonic() - started, 1)}
    bench.figures_print(figures)


if __name__ == "__main__":
    main()
