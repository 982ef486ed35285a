"""Shared parts of the end-to-end run benchmarks (bench/run_latency.py, bench/run_throughput.py).

`BenchServer` starts a real daphne server on a free loopback port against a
fresh temporary SQLite database (migrated first), with the embedded sandbox
worker, the Docker backend and the deck folder bench/decks/ (one `!bash` block
per measured command). A session cookie is obtained the way a browser gets
one: GET the audience page and keep `sessionid`; if that page sets no cookie,
the session is created through Django's SessionStore in the same database (the
report says which way was used). Runs go over a real websocket client
(`websockets`) with the page's Origin.

On leaving (normally, on an exception, Ctrl-C or SIGTERM) daphne is stopped
first, so no run in flight creates anything more, then every container,
network and volume labelled podium.managed=1 and podium.attendee=<an attendee
this bench made> is removed.

Progress goes to stderr; the scripts print one JSON object on stdout's last line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DECKS = Path(__file__).resolve().parent / "decks"
SLUG = "run-bench"
BLOCK_ECHO = "s1b0"  # echo hi
BLOCK_SEQ = "s2b0"  # seq 1 2000000
START_TIMEOUT_S = 90
RECV_TIMEOUT_S = 300  # one message; a cold sandbox on a loaded host takes a while
SECURITY = "capabilities"  # plain --privileged fails on this machine


def say(message: str) -> None:
    """A progress line on stderr (stdout keeps only the JSON result)."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile of `samples` (p99 of 30 samples is the largest)."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def load_average() -> list[float]:
    """The host's 1, 5 and 15 minute load averages, rounded."""
    return [round(value, 2) for value in os.getloadavg()]


def free_port() -> int:
    """A TCP port nobody listens on at 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _terminate_on_sigterm() -> None:
    # SIGTERM would end the process without running `finally:` blocks; make it an exception.
    def handler(signum, frame):
        raise SystemExit(f"bench: stopped by signal {signum}")

    signal.signal(signal.SIGTERM, handler)


@dataclass
class BenchServer:
    """A daphne server of this checkout with the bench deck, plus the cleanup of what its runs created."""

    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    folder: Path | None = None
    process: subprocess.Popen | None = None
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
        self.port = free_port()
        env = {key: value for key, value in os.environ.items() if key not in {"REDIS_URL", "DATABASE_URL"}}
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "config.settings",
                "PODIUM_ENV": "development",
                "DEBUG": "0",
                "PODIUM_VAR_DIR": str(self.folder),
                "DATABASE_URL": f"sqlite:///{self.folder / 'bench.sqlite3'}",
                "PODIUM_SLIDES_DIR": str(DECKS),
                "PODIUM_SANDBOX_BACKEND": "docker",
                "PODIUM_SANDBOX_SECURITY": SECURITY,
                "PODIUM_EMBEDDED_WORKER": "1",
                "PODIUM_BASE_URL": f"http://127.0.0.1:{self.port}",
            }
        )
        env.update(self.extra_env)
        say(f"migrating {env['DATABASE_URL']}")
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT, env=env, check=True, timeout=300
        )
        # The bench itself reads the same database (sessions, attendee ids) through Django.
        os.environ.update(env)
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from sandbox.backends.docker import DockerBackend

        problem = DockerBackend().check()
        if problem:
            raise SystemExit(f"bench: sandboxes cannot be created here: {problem}")
        log = self.folder / "daphne.log"
        say(f"starting daphne on 127.0.0.1:{self.port} (log {log})")
        self.process = subprocess.Popen(
            [str(Path(sys.executable).parent / "daphne"), "-b", "127.0.0.1", "-p", str(self.port)]
            + ["config.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                raise SystemExit(f"bench: daphne exited with {self.process.returncode}: {self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"bench: daphne did not listen within {START_TIMEOUT_S} s") from None
                time.sleep(0.2)

    def log_tail(self, lines: int = 15) -> str:
        """The end of daphne's log, for error messages."""
        try:
            return "\n".join((self.folder / "daphne.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def close(self) -> None:
        """Stop daphne, remove the sandboxes of this bench's attendees, delete the temporary folder."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self.process = None
        for session_key in self.sessions:  # a socket that connected made an attendee, even if we never asked
            with contextlib.suppress(Exception):  # no attendee, no sandbox
                self.attendee_of(session_key)
        for attendee in sorted(self.attendees):
            removed = sandboxes_destroy(attendee_id=attendee)
            say(f"removed {removed} sandbox object(s) of attendee {attendee[:12]}")
        self.attendees.clear()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    # -- a browser's identity -----------------------------------------------------------------------
    def session_cookie(self) -> str:
        """A `sessionid` from the audience page, as a browser gets it; else one made with SessionStore."""
        url = f"http://127.0.0.1:{self.port}/decks/{SLUG}/"
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

        say(f"GET {url} answered {status} without a sessionid cookie: creating the session with SessionStore")
        session = SessionStore()
        session.create()
        self.session_via = "SessionStore"
        self.sessions.add(session.session_key)
        return session.session_key

    def attendee_of(self, session_key: str) -> str:
        """The attendee id (uuid hex, as sandbox labels carry it) of this session; remembered for the cleanup."""
        from sandbox.models import Attendee

        attendee = Attendee.objects.get(session_key=session_key, deck_slug=SLUG)
        self.attendees.add(attendee.id.hex)
        return attendee.id.hex

    async def runs_socket(self, session_key: str):
        """A websocket to /ws/decks/<slug>/runs/ carrying the session cookie and the page's Origin."""
        from websockets.asyncio.client import connect

        socket_ = await connect(
            f"ws://127.0.0.1:{self.port}/ws/decks/{SLUG}/runs/",
            origin=f"http://127.0.0.1:{self.port}",
            additional_headers={"Cookie": f"sessionid={session_key}"},
            compression=None,
            ping_interval=None,
            open_timeout=60,
            max_size=None,
            max_queue=None,
        )
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
        message = json.loads(raw)
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
            timing.output_bytes += len(message["data"].encode("utf-8"))
            timing.messages += 1
            timing.seq_ok = timing.seq_ok and message["seq"] == expected_seq
            expected_seq += 1
        elif kind == "run.finished":
            timing.finished, timing.end = now, message
            return timing


# -- the sandbox container, straight through the docker SDK ----------------------------------------
def docker_api():
    """A low-level docker SDK client of the engine DOCKER_HOST points at."""
    import docker

    return docker.from_env(timeout=120).api


def workspace_container(*, attendee_id: str) -> str:
    """Id of the running workspace container labelled with this attendee (found by label, not through Podium)."""
    filters = {"label": ["podium.managed=1", f"podium.attendee={attendee_id}"], "status": "running"}
    found = docker_api().containers(filters=filters)
    if len(found) != 1:
        raise RuntimeError(f"expected one running workspace container of attendee {attendee_id}, found {len(found)}")
    return found[0]["Id"]


def raw_first_byte(api, container: str, command: list[str]) -> tuple[float, float]:
    """Raw SDK exec of `command`: (seconds to its first output byte, seconds to its exit code), from exec_create."""
    started = time.perf_counter()
    exec_id = api.exec_create(container, command)["Id"]
    stream = api.exec_start(exec_id, stream=True, demux=True)
    first = None
    for out, err in stream:
        if first is None and (out or err):
            first = time.perf_counter() - started
    api.exec_inspect(exec_id)
    total = time.perf_counter() - started
    return (first if first is not None else total), total


def raw_exec_total(api, container: str, command: list[str], *, stream: bool) -> tuple[float, int, int | None]:
    """Raw SDK exec of `command` until its exit code: (seconds, output bytes read by this client, exit code)."""
    started = time.perf_counter()
    exec_id = api.exec_create(container, command)["Id"]
    size = 0
    if stream:
        for out, err in api.exec_start(exec_id, stream=True, demux=True):
            size += len(out or b"") + len(err or b"")
    else:
        size = len(api.exec_start(exec_id) or b"")
    exit_code = api.exec_inspect(exec_id).get("ExitCode")
    return time.perf_counter() - started, size, exit_code


def sandboxes_destroy(*, attendee_id: str) -> int:
    """Remove every container, network and volume labelled podium.managed=1 and podium.attendee=<attendee_id>."""
    import docker.errors

    api = docker_api()
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
