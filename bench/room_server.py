"""The room bench's server (bench/room.py): daphne with the shipped deck, its own Redis and workers with --redis.

Also what the room is made of: the deck's Docker steps, and the room opened with a presenter's session.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import bench_server as support
import common as bench
import room_join

DECK = room_join.DECK
BEAT_WHEN_KILLING = 1  # seconds (5 in service): --kill-worker's lost runs end within about 5 s


@dataclass
class RoomServer:
    """daphne with the shipped deck and a PODIUM_INSTANCE of its own; with --redis, its own Redis and workers."""

    args: argparse.Namespace
    instance: str = field(default_factory=lambda: f"bench-room-{uuid.uuid4().hex[:8]}")
    port: int = 0
    origin: str = ""
    folder: Path | None = None
    processes: list[subprocess.Popen] = field(default_factory=list)  # daphne, then the workers
    redis: subprocess.Popen | None = None
    env: dict[str, str] = field(default_factory=dict)

    def start(self) -> None:
        self.folder, self.port = Path(tempfile.mkdtemp(prefix="podium-bench-room-")), bench.free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        env = bench.server_env(folder=self.folder, slides=bench.ROOT / "slides")
        env |= {"PODIUM_SANDBOX_BACKEND": "docker", "PODIUM_SANDBOX_SECURITY": support.SECURITY}
        env |= {"PODIUM_BASE_URL": self.origin, "PODIUM_INSTANCE": self.instance, "PODIUM_PRESENTER_TOKEN": ""}
        env |= {"PODIUM_MAX_SANDBOXES": str(max(50, self.args.attendees + 5)), "PODIUM_EMBEDDED_WORKER": "1"}
        if self.args.kill_worker is not None:  # a lost run is one silent for 4 beats
            env["PODIUM_RUN_BEAT_SECONDS"] = str(BEAT_WHEN_KILLING)
        if self.args.redis:
            port, log = bench.free_port(), self.folder / "redis.log"
            command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            self.redis = subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT)
            while self.redis.poll() is None and not bench.listening(port):
                time.sleep(0.1)
            env |= {"REDIS_URL": f"redis://127.0.0.1:{port}/0", "PODIUM_EMBEDDED_WORKER": "0"}
        bench.django_setup(env=env, migrate=True)  # this process opens the room and grants the presenter
        from sandbox.backends.docker import DockerBackend

        bench.backend_checked(DockerBackend())
        self.processes.append(bench.daphne_start(port=self.port, env=env, log=self.folder / "daphne.log"))
        self.env = env
        for _ in range(self.args.workers if self.args.redis else 0):
            self.worker_start()
        if self.args.kill_worker is not None:  # lost runs end on a cull pass (sandbox.liveness)
            self.worker_start(["sandbox", "cull", "--every", "1"], name="culler")

    def worker_start(self, command: list[str] | None = None, *, name: str = "worker") -> subprocess.Popen:
        """One more `runworker sandbox-runs` (or `command` of manage.py) with the server's environment."""
        number = sum(1 for _ in self.folder.glob(f"{name}-*.log")) + 1
        log = (self.folder / f"{name}-{number}.log").open("w")
        command = [sys.executable, "manage.py", *(command or ["runworker", "sandbox-runs"])]
        process = subprocess.Popen(command, cwd=bench.ROOT, env=self.env, stdout=log, stderr=log)
        self.processes.append(process)
        return process

    def worker_kill(self) -> None:
        """SIGKILL the first worker still running: no cleanup of its own, as when a machine dies."""
        worker = next(p for p in self.processes[1:] if p.poll() is None and "runworker" in p.args)
        worker.send_signal(signal.SIGKILL)
        worker.wait()

    def close(self) -> None:
        """daphne and workers first (nothing in flight makes more), then whatever has the instance's label, Redis."""
        bench.daphne_stop(self.processes)
        with contextlib.suppress(Exception):  # no engine: nothing to sweep
            removed = bench.labelled_remove(label=f"podium.instance={self.instance}")
            bench.say(f"removed {removed} object(s) left with instance {self.instance}")
        bench.daphne_stop([self.redis] if self.redis else [])
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


def docker_steps() -> tuple[list[str], int]:
    """The runnable blocks of the deck's "Docker" section, in deck order; and the deck's number of slides."""
    from deck.selectors import deck_get

    deck, steps, inside = deck_get(slug=DECK), [], False
    for slide in deck.slides:
        if slide.is_section:
            inside = (slide.title or "").strip().lower() == "docker"
        elif inside:
            steps += [block.block_id for block in slide.blocks if block.runnable]
    if not steps:
        raise SystemExit(f"bench: the deck {DECK} has no runnable block in a section called Docker")
    return steps, len(deck.slides)


def room_ready(server: RoomServer) -> tuple[str, str]:
    """Open a room of the deck with a place per attendee; grant a session as presenter: (join code, session key)."""
    from django.contrib.sessions.backends.db import SessionStore

    from deck.services import presenter_grant, talk_get_or_create, talk_presenter_token
    from rooms.services import room_open

    room = room_open(deck_slug=DECK, capacity=server.args.attendees)
    talk, session = talk_get_or_create(deck_slug=DECK), SessionStore()
    if not presenter_grant(session=session, talk=talk, token=talk_presenter_token(talk=talk)):
        raise SystemExit("bench: the presenter grant was refused")
    session.save()
    return room.code, session.session_key
