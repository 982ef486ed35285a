"""A real stall of the server's database, and reading a socket's answers while it lasts (tests/browser).

`write_lock` takes SQLite's write lock on the server's own database file, as a long write would: the server's
writes then wait on it for SQLite's 5 s busy timeout and fail with "database is locked".
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def server_database(server) -> Path:
    """The SQLite file of a PodiumServer (tests/live_server.py always gives it one)."""
    url = server.env["DATABASE_URL"]
    assert url.startswith("sqlite:///"), f"a live server's database is a SQLite file, not {url}"
    return Path(url.removeprefix("sqlite:///"))


@contextmanager
def write_lock(database: Path) -> Iterator[None]:
    """SQLite's write lock on `database`, held by another connection until the block is left."""
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def next_of_type(socket, kind: str, timeout: float) -> dict:
    """The next JSON message of type `kind` on a websockets sync client (others are skipped)."""
    while True:
        frame = socket.recv(timeout=timeout)
        if isinstance(frame, str) and json.loads(frame).get("type") == kind:
            return json.loads(frame)
