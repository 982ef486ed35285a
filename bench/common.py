"""What the benchmarks under bench/ share: this checkout's Django, a daphne on loopback, sandboxes, figures.

Every benchmark is run as a script, `.venv/bin/python bench/<name>.py`; Python
then puts bench/ first on sys.path, which is how `import common` finds this
module, and `django_setup` adds the checkout itself so `config`, `deck` and
`sandbox` import.

The rule all of them keep: progress goes to stderr (`say`), an optional
sentence for a human may come first on stdout, and stdout's last line is one
JSON object of the figures (`figures_print`). Percentiles are nearest-rank, so
a p99 of fewer than 100 samples is the largest one rather than an
interpolation between samples nobody measured.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sandbox.backends.base import Backend, SandboxSpec

ROOT = Path(__file__).resolve().parent.parent
DAPHNE_START_TIMEOUT_S = 90  # a cold start on a loaded two-core machine


# -- figures -------------------------------------------------------------------------------------------
def say(message: str) -> None:
    """A progress line on stderr (stdout keeps only the figures)."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile of `samples` (p99 of 30 samples is the largest)."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def p50_p99(name: str, samples: list[float], *, digits: int) -> dict[str, float]:
    """The p50 and p99 figures of `samples`, rounded to `digits`, named by `name` with "{p}" as "p50" / "p99"."""
    return {name.format(p=f"p{round(100 * q)}"): round(percentile(samples, q), digits) for q in (0.5, 0.99)}


def p50_p99_or_none(name: str, samples: list[float], *, digits: int) -> dict[str, float | None]:
    """`p50_p99`, or None for both figures when there is no sample (nothing of the kind was measured)."""
    return p50_p99(name, samples, digits=digits) if samples else {name.format(p=p): None for p in ("p50", "p99")}


def ratio(over: float | None, under: float | None) -> float | None:
    """`over` / `under` rounded to 2 digits; None when either is missing (or `under` is 0)."""
    return round(over / under, 2) if over is not None and under else None


def load_average() -> list[float]:
    """The host's 1, 5 and 15 minute load averages, rounded: the figures mean little on a busy machine."""
    return [round(value, 2) for value in os.getloadavg()]


def ws_message(frame: str | bytes) -> dict:
    """A message from a Podium websocket: a text frame's JSON, or a run's output in a binary frame."""
    from sandbox.protocol import frame_read  # this checkout's (django_setup put it on sys.path)

    return frame_read(frame)


async def ws_receive(socket_, seconds: float) -> dict:
    """The next message of a `websockets` client socket (`ws_message`), waiting at most `seconds`."""
    return ws_message(await asyncio.wait_for(socket_.recv(), seconds))


def figures_print(figures: dict, *, summary: str | None = None) -> None:
    """Print `summary` (a sentence for a human), then `figures` as one JSON object: always stdout's last line."""
    if summary is not None:
        print(summary)
    print(json.dumps(figures), flush=True)


# -- this checkout's Django ----------------------------------------------------------------------------
def django_setup(*, env: dict[str, str] | None = None, migrate: bool = False) -> None:
    """Set Django up in this process for this checkout, with `env` (a whole environment, see `server_env`) applied.

    With `migrate`, the database `env` names is first migrated by a child
    `manage.py migrate` run with exactly `env`, as an operator would; this
    process then reads and writes the same database as the server.
    """
    if env is not None:
        if migrate:
            say(f"migrating {env['DATABASE_URL']}")
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT, env=env, check=True, timeout=300
            )
        os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


# -- a daphne server of this checkout on loopback ------------------------------------------------------
def free_port() -> int:
    """A TCP port nobody listens on at 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


RATE_LIMITS = ("SANDBOXES_PER_ATTENDEE", "SANDBOXES_PER_ADDRESS", "RUNS", "CHECKS", "PRESENTER_TOKEN")


def server_env(*, folder: Path, slides: Path) -> dict[str, str]:
    """This process's environment for a development server on a fresh SQLite database in `folder`, decks in `slides`.

    REDIS_URL is dropped (the in-memory channel layer, unless the caller puts
    it back) and so is DATABASE_URL, so a developer's own database is never touched.
    The rate limits are off.
    """
    env = {key: value for key, value in os.environ.items() if key not in {"REDIS_URL", "DATABASE_URL"}}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "PODIUM_ENV": "development",
            "DEBUG": "0",
            "PODIUM_VAR_DIR": str(folder),
            "DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}",
            "PODIUM_SLIDES_DIR": str(slides),
            # A bench measures the pipeline flat out from one address and attendee: no rate limit may pace it.
            **{f"PODIUM_RATE_{name}": "off" for name in RATE_LIMITS},
        }
    )
    return env


def listening(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:`port` now."""
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def log_tail(log: Path, lines: int = 15) -> str:
    """The end of a server's log, for error messages."""
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def daphne_start(*, port: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    """Start daphne with this checkout's ASGI application on 127.0.0.1:`port`; return once it accepts connections.

    Its output goes to `log`. If it exits or does not listen within
    DAPHNE_START_TIMEOUT_S, it is stopped and SystemExit says why.
    """
    say(f"starting daphne on 127.0.0.1:{port} (log {log})")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "daphne"), "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + DAPHNE_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"bench: daphne on port {port} exited with {process.returncode}: {log_tail(log)}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process
        except OSError:
            time.sleep(0.2)
    daphne_stop([process])
    raise SystemExit(f"bench: daphne on port {port} did not listen within {DAPHNE_START_TIMEOUT_S} s: {log_tail(log)}")


def daphne_stop(processes: list[subprocess.Popen]) -> None:
    """Stop every daphne of `processes` still running: all told at once, each killed after 15 s."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


async def websocket_open(*, port: int, path: str, session_key: str | None = None):
    """A browser-like websocket to `path` on the loopback daphne: the page's Origin, the session cookie if any."""
    from websockets.asyncio.client import connect

    return await connect(
        f"ws://127.0.0.1:{port}{path}",
        origin=f"http://127.0.0.1:{port}",
        additional_headers={"Cookie": f"sessionid={session_key}"} if session_key else None,
        compression=None,  # what is measured is the server, not zlib
        ping_interval=None,
        open_timeout=60,
        max_size=None,
        max_queue=None,
    )


# -- sandboxes and the raw docker SDK baseline ---------------------------------------------------------
def backend_checked(backend: Backend) -> Backend:
    """`backend` when it can create sandboxes here; else exit with its own sentence saying what is missing."""
    problem = backend.check()
    if problem:
        sys.exit(problem)
    return backend


@dataclass
class BenchSandboxes:
    """The sandboxes a bench creates through `backend` for attendee "bench", labelled with `talk`."""

    backend: Backend
    talk: str
    specs: list[SandboxSpec] = field(default_factory=list)
    states: list[dict] = field(default_factory=list)  # a bench may swap one for what `reset` returns

    def create(self, count: int, *, word: str) -> dict[str, float]:
        """Create `count` sandboxes one by one; figures `<word>_s_p50` and `<word>_s_max` of the seconds each took.

        Progress says "<word> 1: 2.31 s". Each sandbox is remembered as soon as
        it exists, so `destroy` in a `finally:` also removes those made before
        one that failed.
        """
        from sandbox.backends.base import SandboxSpec

        seconds = []
        for _ in range(count):
            spec = SandboxSpec(sandbox_id=uuid.uuid4().hex, attendee_id="bench", talk=self.talk)
            started = time.perf_counter()
            self.states.append(self.backend.ensure(spec=spec, state={}, progress=lambda message: None))
            self.specs.append(spec)
            seconds.append(time.perf_counter() - started)
            say(f"{word} {len(seconds)}: {seconds[-1]:.2f} s")
        return {f"{word}_s_p50": round(percentile(seconds, 0.5), 3), f"{word}_s_max": round(max(seconds), 3)}

    def destroy(self) -> None:
        """Remove every sandbox created so far."""
        for state in self.states:
            self.backend.destroy(state=state)


def docker_api():
    """A low-level docker SDK client of the engine DOCKER_HOST points at."""
    import docker

    return docker.from_env(timeout=120).api


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


def tty_exec(api, container: str, *, security: str):
    """A raw TTY exec of the attendee's bash in `container` (what `docker exec -it` is): its socket, blocking."""
    from sandbox.backends import runner

    command = runner.as_attendee(["bash", "--norc", "--noprofile", "-i"], security=security)
    exec_id = api.exec_create(container, command, stdin=True, tty=True, environment={"TERM": "xterm-256color"})
    hijacked = api.exec_start(exec_id["Id"], socket=True, tty=True)
    return getattr(hijacked, "_sock", hijacked)


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


# -- the host: CPU, memory, containers by label --------------------------------------------------------
def cpu_ticks() -> tuple[int, int]:
    """(all ticks, idle + iowait ticks) of the host since boot, from /proc/stat; two of them make `cpu_busy`."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return sum(ticks), ticks[3] + ticks[4]


def cpu_busy(before: tuple[int, int], after: tuple[int, int]) -> float:
    """The fraction of the host's CPU time (all cores) that was busy between two `cpu_ticks`, rounded."""
    total = after[0] - before[0]
    return round(1 - (after[1] - before[1]) / total, 3) if total > 0 else 0.0


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) process `pid` has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def mem_available() -> int:
    """The host's MemAvailable (/proc/meminfo), in bytes."""
    line = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemAvailable"))
    return int(line.split()[1]) * 1024


def containers_memory(api, *, label: str) -> tuple[int, str]:
    """Bytes used by the running containers labelled `label`, inactive file cache left out (as `docker stats`
    shows), and where it was read: their cgroup (v1, cgroupfs driver) or else the Docker stats API."""
    import docker.errors

    total, source = 0, "cgroup"
    for container in api.containers(filters={"label": [label]}):
        try:
            folder = Path("/sys/fs/cgroup/memory/docker") / container["Id"]
            stat = dict(line.split() for line in (folder / "memory.stat").read_text().splitlines())
            total += int((folder / "memory.usage_in_bytes").read_text()) - int(stat.get("total_inactive_file", 0))
        except (OSError, ValueError):
            try:
                memory, source = api.stats(container["Id"], stream=False, one_shot=True)["memory_stats"], "docker-stats"
            except docker.errors.NotFound:  # gone since the listing
                continue
            inner = memory.get("stats") or {}
            total += memory.get("usage", 0) - inner.get("total_inactive_file", inner.get("inactive_file", 0))
    return total, source


def labelled_remove(*, label: str) -> int:
    """Remove every container, network and volume labelled `label` ("key=value"); how many went."""
    import docker.errors

    api, removed = docker_api(), 0
    filters = {"label": [label]}
    removals = [
        (api.remove_container, c["Id"], {"force": True, "v": True}) for c in api.containers(all=True, filters=filters)
    ]
    removals += [(api.remove_network, n["Id"], {}) for n in api.networks(filters=filters)]
    removals += [
        (api.remove_volume, v["Name"], {"force": True}) for v in api.volumes(filters=filters).get("Volumes") or []
    ]
    for remove, name, options in removals:
        try:
            remove(name, **options)
            removed += 1
        except docker.errors.NotFound:
            pass
    return removed
