"""`manage.py deck serve FILE [--watch]`: Podium for one deck's author, on this machine, in the foreground.

It serves the folder the deck file is in (PODIUM_SLIDES_DIR), migrates the
database, prints the deck's presenter and audience links, then runs daphne
until Ctrl+C (or SIGTERM, which it passes on). `--watch` switches live reload
on (PODIUM_LIVE_RELOAD=1, see `deck.live_reload`) whatever the environment
says: open pages of the deck then follow each save of the file. Everything
else comes from the environment, as for `make serve`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

DAPHNE = Path(sys.executable).with_name("daphne")


def serve_env(*, deck_path: Path, watch: bool) -> dict[str, str]:
    """The environment of the served Podium: this one, with the deck's folder as the slides folder."""
    env = {**os.environ, "PODIUM_SLIDES_DIR": str(deck_path.resolve().parent)}
    if watch:
        env["PODIUM_LIVE_RELOAD"] = "1"
    return env


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def deck_serve(*, deck_path: Path, host: str, port: int, watch: bool, write: Callable[[str], None]) -> int:
    """Serve the deck at `deck_path` on `host`:`port` until stopped; returns daphne's exit status (BLOCKS).

    Raises RuntimeError with manage.py's own output when the database cannot be migrated.
    """
    env = serve_env(deck_path=deck_path, watch=watch)
    migrated = _manage(env, "migrate", "--noinput", "-v", "0")
    if migrated.returncode != 0:
        raise RuntimeError(f"the database could not be migrated:\n{migrated.stdout}{migrated.stderr}")
    links = _manage(env, "talk", "link", deck_path.stem, "--base-url", f"http://{host}:{port}")
    write(links.stdout or links.stderr)
    if watch:
        write(f"Watching {deck_path}: open pages of the deck reload when it changes.\n")
    write(f"Serving {deck_path.resolve().parent} on http://{host}:{port} (Ctrl+C stops)\n")
    process = subprocess.Popen(
        [str(DAPHNE), "-b", host, "-p", str(port), "config.asgi:application"], cwd=settings.BASE_DIR, env=env
    )
    previous = signal.signal(signal.SIGTERM, lambda *_: process.terminate())
    try:
        return process.wait()
    except KeyboardInterrupt:  # daphne got the Ctrl+C too (same process group): let it finish
        return process.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
