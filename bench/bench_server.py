"""The Podium server the end-to-end run benchmarks drive (bench/run_latency.py, bench/run_throughput.py).

`BenchServer` starts a real daphne server (bench/common.py) on a free loopback
port against a fresh temporary SQLite database (migrated first), with the
embedded sandbox worker, the Docker backend and the deck folder bench/decks/
(one `!bash` block per measured command; `slides` and `slug` serve another). A session cookie is obtained the way
a browser gets one: GET the audience page and keep `sessionid`; if that page
sets no cookie, the session is created through Django's SessionStore in the
same database (the report says which way was used). Runs go over a real
websocket client (`websockets`) with the page's Origin; `attendee_warm` gives a
bench one attendee whose sandbox the first run has created.

With `workers`, the server has no embedded worker: that many `manage.py runworker
sandbox-runs` processes of the same environment execute the runs, over Redis (`redis_url`;
a database number of the bench's own keeps other users' workers out).

On leaving (normally, on an exception, Ctrl-C or SIGTERM) daphne is stopped
first, so no run in flight creates anything more, then every container,
network and volume labelled podium.managed=1 and podium.attendee=<an attendee
this bench made> is removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import common as bench

DECKS = Path(__file__).resolve().parent / "decks"
SLUG = "run-bench"
BLOCK_ECHO = "s1b0"  # echo hi
BLOCK_SEQ = "s2b0"  # seq 1 2000000
RECV_TIMEOUT_S = 300  # one message; a cold sandbox on a loaded host takes a while
# the default mode; PODIUM_SANDBOX_SECURITY=capabilities compares the host-root mode (--privileged fails here)
SECURITY = os.environ.get("PODIUM_SANDBOX_SECURITY") or "userns"


def _terminate_on_sigterm() -> None:
    # SIGTERM would end the process without running `finally:` blocks; make it an exception.
    def handler(signum, frame):
        raise SystemExit(f"bench: stopped by signal {signum}")

    signal.signal(signal.SIGTERM, handler)


@dataclass
class BenchServer:
    """A daphne server of this checkout with the bench deck, plus the cleanup of what its runs created."""

    extra_env: dict[str, str] = field(default_factory=dict)
    workers: int = 0  # with N > 0: N `runworker sandbox-runs` processes over Redis, no embedded worker
    redis_url: str = "redis://127.0.0.1:6379/0"
    slides: Path = DECKS  # the deck folder it serves, and the deck the bench's attendees are on
    slug: str = SLUG
    port: int = 0
    folder: Path | None = None
    process: subprocess.Popen | None = None
    worker_processes: list[subprocess.Popen] = field(default_factory=list)
    attendees: set[str] = field(default_factory=set)
    sessions: set[str] = field(default_factory=set)
    session_via: str = ""

    # -- lifecycle ----------------------------------------------------------------------------------
    def __enter__(self) -> BenchServer:
        _terminate_on_sigterm()
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _start(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="podium-bench-"))
        self.port = bench.free_port()
        env = bench.server_env(folder=self.folder, slides=self.slides)
        env.update(
            {
                "PODIUM_SANDBOX_BACKEND": "docker",
                "PODIUM_SANDBOX_SECURITY": SECURITY,
                "PODIUM_EMBEDDED_WORKER": "1",
                "PODIUM_BASE_URL": f"http://127.0.0.1:{self.port}",
            }
        )
        if self.workers:
            env.update({"REDIS_URL": self.redis_url, "PODIUM_EMBEDDED_WORKER": "0"})
        env.update(self.extra_env)
        # The bench itself reads the same database (sessions, attendee ids) through Django.
        bench.django_setup(env=env, migrate=True)
        from sandbox.backends.docker import DockerBackend

        bench.backend_checked(DockerBackend())
        self.process = bench.daphne_start(port=self.port, env=env, log=self.folder / "daphne.log")
        for number in range(self.workers):
            log = (self.folder / f"worker-{number}.log").open("w")
            self.worker_processes.append(
                subprocess.Popen(
                    [sys.executable, "manage.py", "runworker", "sandbox-runs"],
                    cwd=bench.ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )

    def log_tail(self) -> str:
        """The end of daphne's log, for error messages."""
        return bench.log_tail(self.folder / "daphne.log") if self.folder is not None else ""

    def close(self) -> None:
        """Stop daphne, remove the sandboxes of this bench's attendees, delete the temporary folder."""
        if self.process is not None:
            bench.daphne_stop([self.process])
        self.process = None
        bench.daphne_stop(self.worker_processes)  # terminate, wait, kill after 15 s: the same for workers
        self.worker_processes.clear()
        for session_key in self.sessions:  # a socket that connected made an attendee, even if we never asked
            with contextlib.suppress(Exception):  # no attendee, no sandbox
                self.attendee_of(session_key)
        for attendee in sorted(self.attendees):
            removed = sandboxes_destroy(attendee_id=attendee)
            bench.say(f"removed {removed} sandbox object(s) of attendee {attendee[:12]}")
        self.attendees.clear()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    # -- a browser's identity -----------------------------------------------------------------------
    def session_cookie(self) -> str:
        """A `sessionid` from the audience page, as a browser gets it; else one made with SessionStore."""
        url = f"http://127.0.0.1:{self.port}/decks/{self.slug}/"
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                cookies = response.headers.get_all("Set-Cookie") or []
                status = response.status
        except urllib.error.HTTPError as error:
            cookies, status = error.headers.get_all("Set-Cookie") or [], error.code
        except OSError as error:
            cookies, status = [], str(error)
        for cookie in cookies:
            name, _, rest = cookie.partition("=")
            if name.strip() == "sessionid":
                self.session_via = "audience-page"
                self.sessions.add(rest.split(";", 1)[0])
                return rest.split(";", 1)[0]
        from django.contrib.sessions.backends.db import SessionStore

        bench.say(f"GET {url} answered {status} without a sessionid cookie: creating the session with SessionStore")
        session = SessionStore()
        session.create()
        self.session_via = "SessionStore"
        self.sessions.add(session.session_key)
        return session.session_key

    def attendee_of(self, session_key: str) -> str:
        """The attendee id (uuid hex, as sandbox labels carry it) of this session; remembered for the cleanup."""
        from sandbox.models import Attendee

        attendee = Attendee.objects.get(session_key=session_key, deck_slug=self.slug)
        self.attendees.add(attendee.id.hex)
        return attendee.id.hex

    async def runs_socket(self, session_key: str):
        """A websocket to /ws/decks/<slug>/runs/ carrying the session cookie and the page's Origin."""
        path = f"/ws/decks/{self.slug}/runs/"
        socket_ = await bench.websocket_open(port=self.port, path=path, session_key=session_key)
        # The server accepts first and looks the attendee up afterwards; the answer to "history"
        # comes after that, so the attendee exists (or the refusal is known) once it arrives.
        await socket_.send(json.dumps({"type": "history"}))
        answer = json.loads(await asyncio.wait_for(socket_.recv(), RECV_TIMEOUT_S))
        if answer.get("type") != "history":
            await socket_.close()
            raise RuntimeError(f"the runs socket refused this session: {answer}")
        return socket_


# -- runs over the websocket --------------------------------------------------------------------------
@dataclass
class RunTiming:
    """What the client saw of one run; times in seconds after the {"type":"run"} message was sent."""

    accepted: float | None = None
    started: float | None = None
    first_output: float | None = None
    last_output: float | None = None
    finished: float | None = None
    output_bytes: int = 0
    messages: int = 0
    seq_ok: bool = True
    progress: list[str] = field(default_factory=list)
    end: dict = field(default_factory=dict)


async def run_block(socket_, block: str, *, limit_s: float = RECV_TIMEOUT_S) -> RunTiming:
    """Click Run on `block` over `socket_` and follow the run to its run.finished; RuntimeError on an error message."""
    timing = RunTiming()
    run_id = None
    expected_seq = 1
    sent = time.perf_counter()
    await socket_.send(json.dumps({"type": "run", "block": block}))
    deadline = sent + limit_s
    while True:
        left = deadline - time.perf_counter()
        if left <= 0:
            raise RuntimeError(f"run of {block} did not finish within {limit_s:g} s")
        raw = await asyncio.wait_for(socket_.recv(), left)
        now = time.perf_counter() - sent
        message = bench.ws_message(raw)
        kind = message.get("type")
        if kind == "error":
            raise RuntimeError(f"the server refused the run of {block}: {message}")
        if kind == "run.accepted" and run_id is None:
            run_id, timing.accepted = message["run"], now
        elif message.get("run") != run_id and kind != "sandbox.progress":
            continue  # another run's message (none expected here)
        elif kind == "sandbox.progress":
            timing.progress.append(message.get("message", ""))
        elif kind == "run.started":
            timing.started = now
        elif kind == "run.output":
            if timing.first_output is None:
                timing.first_output = now
            timing.last_output = now
            timing.output_bytes += len(message["data"].encode("utf-8"))
            timing.messages += 1
            timing.seq_ok = timing.seq_ok and message["seq"] == expected_seq
            expected_seq += 1
        elif kind == "run.finished":
            timing.finished, timing.end = now, message
            return timing


# -- the sandbox container, found by its labels --------------------------------------------------------
def workspace_container(*, attendee_id: str) -> str:
    """Id of the running workspace container labelled with this attendee (found by label, not through Podium)."""
    filters = {"label": ["podium.managed=1", f"podium.attendee={attendee_id}"], "status": "running"}
    found = bench.docker_api().containers(filters=filters)
    if len(found) != 1:
        raise RuntimeError(f"expected one running workspace container of attendee {attendee_id}, found {len(found)}")
    return found[0]["Id"]


def sandboxes_destroy(*, attendee_id: str) -> int:
    """Remove every container, network and volume labelled podium.managed=1 and podium.attendee=<attendee_id>."""
    import docker.errors

    api = bench.docker_api()
    filters = {"label": ["podium.managed=1", f"podium.attendee={attendee_id}"]}
    removed = 0
    for container in api.containers(all=True, filters=filters):
        try:
            api.remove_container(container["Id"], force=True, v=True)
            removed += 1
        except docker.errors.NotFound:
            pass
    for network in api.networks(filters=filters):
        try:
            api.remove_network(network["Id"])
            removed += 1
        except docker.errors.NotFound:
            pass
    for volume in api.volumes(filters=filters).get("Volumes") or []:
        try:
            api.remove_volume(volume["Name"], force=True)
            removed += 1
        except docker.errors.NotFound:
            pass
    return removed


# -- one attendee with a warm sandbox ------------------------------------------------------------------
@dataclass
class WarmAttendee:
    """One attendee of a `BenchServer` whose sandbox exists: what the run benchmarks measure against."""

    socket: object  # the runs websocket, session cookie and Origin set
    attendee_id: str
    first_run: RunTiming  # the run of `echo hi` that created the sandbox (cold)
    api: object  # a low-level docker SDK client, for raw execs beside Podium's runs
    container: str  # the attendee's workspace container


@contextlib.asynccontextmanager
async def attendee_warm(server: BenchServer) -> AsyncIterator[WarmAttendee]:
    """A browser-like attendee whose first `echo hi` run has created their sandbox; their socket is closed on leaving.

    RuntimeError, with the end of daphne's log, when that first run does not succeed.
    """
    session_key = await asyncio.to_thread(server.session_cookie)
    socket_ = await server.runs_socket(session_key)
    try:
        attendee = await asyncio.to_thread(server.attendee_of, session_key)
        bench.say(f"session via {server.session_via}; attendee {attendee[:12]}; the first run creates the sandbox")
        first = await run_block(socket_, BLOCK_ECHO)
        if first.end.get("status") != "ok":
            raise RuntimeError(f"the first run did not succeed: {first.end}; daphne log:\n{server.log_tail()}")
        bench.say(f"first run finished after {first.finished:.2f} s ({'; '.join(first.progress)})")
        container = await asyncio.to_thread(workspace_container, attendee_id=attendee)
        yield WarmAttendee(
            socket=socket_, attendee_id=attendee, first_run=first, api=bench.docker_api(), container=container
        )
    finally:
        await socket_.close()


def figures_measured(measure, count: int, *, extra_env: dict[str, str] | None = None) -> None:
    """Print the figures `measure(server, count)` returns from a fresh `BenchServer`, with the host's load around it."""
    load_before = bench.load_average()
    with BenchServer(extra_env=extra_env or {}) as server:
        figures = asyncio.run(measure(server, count))
    figures["load_avg_before"] = load_before
    figures["load_avg_after"] = bench.load_average()
    bench.figures_print(figures)
