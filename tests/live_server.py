"""A real Podium server for tests: this checkout's ASGI app under daphne in a subprocess, on a free loopback
port, with a fresh SQLite file of its own (migrated) and the slides folder a test names."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"
DAPHNE = ROOT / ".venv" / "bin" / "daphne"


@dataclass
class PodiumServer:
    """The daphne process, where it listens, and the presenter link `manage.py talk link` printed for it."""

    port: int
    env: dict
    log: Path
    slug: str
    presenter_link: str = ""
    slides_dir: Path = ROOT
    process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(DAPHNE), "-b", "127.0.0.1", "-p", str(self.port), "config.asgi:application"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        _wait_until_serving(self.url("/"), self.process, self.log)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self) -> None:
        """Stop and start again on the same port: every websocket drops, the database stays."""
        self.stop()
        self.start()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _manage(env: dict, *args: str) -> str:
    result = subprocess.run(
        [str(PYTHON), "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def _wait_until_serving(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback test server
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"daphne did not answer {url} within 60 s:\n{log.read_text()}")


@contextmanager
def live_server(tmp: Path, *, slides: Path, slug: str, extra_env: dict | None = None) -> Iterator[PodiumServer]:
    """A started PodiumServer on `slides` with a fresh SQLite database; stopped and removed afterwards.

    `extra_env` adds or overrides environment variables of the server (e.g. the sandbox security mode).
    """
    database = Path("/tmp") / f"podium-browser-{uuid.uuid4().hex}.sqlite3"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "PODIUM_PRESENTER_TOKEN", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{database}",
            "PODIUM_SLIDES_DIR": str(slides),
            "PODIUM_VAR_DIR": str(tmp / "var"),
            "PODIUM_STATIC": "source",
            "PODIUM_ENV": "test",
            "DEBUG": "1",
        }
    )
    env.update(extra_env or {})
    port = _free_port()
    try:
        _manage(env, "migrate", "--noinput", "-v", "0")
        printed = _manage(env, "talk", "link", slug, "--base-url", f"http://127.0.0.1:{port}")
        match = re.search(r"Presenter:\s*(\S+)", printed)
        assert match, f"`manage.py talk link` printed no presenter link:\n{printed}"
        server = PodiumServer(
            port=port, env=env, log=tmp / "daphne.log", slug=slug, presenter_link=match.group(1), slides_dir=slides
        )
        try:
            server.start()
            yield server
        finally:
            server.stop()
    finally:
        for path in database.parent.glob(database.name + "*"):
            path.unlink(missing_ok=True)
