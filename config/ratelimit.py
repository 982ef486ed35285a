"""Rate limits: at most N actions per window of S seconds, counted in Django's cache so every process agrees.

A limit is a (count, seconds) pair read from a setting such as
``PODIUM_RATE_RUNS="60/60"`` by `config.env.env_rate` (60 runs a minute;
"off" is count 0, no limit). Counts live in the default
cache: Redis when REDIS_URL is set (shared by every web and worker process),
the in-process memory cache in the embedded default (one process). Windows
are fixed (the count starts again every S seconds), so a refusal can say
exactly when to try again.
"""

from __future__ import annotations

import hashlib
import math
import time

from django.core.cache import cache

_PREFIX = "podium:rate"


class RateLimited(Exception):
    """Too many `what` (e.g. "runs") from one client; `retry_after` whole seconds until the window ends."""

    def __init__(self, what: str, retry_after: int) -> None:
        self.what = what
        self.retry_after = retry_after
        self.message = f"Too many {what}: try again in {retry_after} s."
        super().__init__(self.message)


def _window(rate: tuple[int, int], action: str, key: str) -> tuple[str, int]:
    """The cache key of `key`'s count in the current window, and the whole seconds left in that window."""
    count, seconds = rate
    now = time.time()
    index = int(now // seconds)
    left = max(1, math.ceil((index + 1) * seconds - now))
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"{_PREFIX}:{action}:{count}/{seconds}:{index}:{digest}", left


def rate_hit(*, action: str, key: str, rate: tuple[int, int], what: str) -> None:
    """Count one `action` by `key` (an attendee id, a client address); RateLimited past `rate` in this window.

    A refused attempt still counts, so hammering does not shorten the wait.
    Blocks on the cache (call it from a thread when the cache is Redis).
    """
    if rate[0] <= 0:
        return
    name, left = _window(rate, action, key)
    # add() only sets a missing key; the +1 s keeps a count alive until its window has surely ended.
    cache.add(name, 0, timeout=left + 1)
    try:
        count = cache.incr(name)
    except ValueError:  # expired between add and incr
        cache.add(name, 1, timeout=left + 1)
        count = 1
    if count > rate[0]:
        raise RateLimited(what, left)


def rate_check(*, action: str, key: str, rate: tuple[int, int], what: str) -> None:
    """RateLimited when `key` has used up `rate` in this window, without counting an attempt (see `rate_hit`)."""
    if rate[0] <= 0:
        return
    name, left = _window(rate, action, key)
    if (cache.get(name) or 0) >= rate[0]:
        raise RateLimited(what, left)


def client_address(scope_or_meta: dict) -> str:
    """The client's address from an ASGI scope (``scope["client"]``) or a request's META ("REMOTE_ADDR").

    Behind a proxy, run daphne with ``--proxy-headers`` so this is the browser's address, not the proxy's.
    "" when unknown (e.g. a test communicator), which is then one shared client.
    """
    client = scope_or_meta.get("client")
    if client:
        return str(client[0])
    return str(scope_or_meta.get("REMOTE_ADDR") or "")
