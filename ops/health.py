"""Is this process able to serve: the database, the channel layer, and the sandboxes' engine or cluster.

Each check answers {"ok": bool, "ms": time taken, "error": why not} within
CHECK_SECONDS; the three run at once. A check that hangs counts as failed.
"""

from __future__ import annotations

import asyncio
import time

from channels.layers import get_channel_layer
from django.db import connection

from sandbox.backends import backend_get
from sandbox.executor import db_long, in_thread

CHECK_SECONDS = 5.0


def _database_ping() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


async def _database() -> None:
    await db_long(_database_ping)()


async def _channel_layer() -> None:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "podium.ready"})
    # Shielded: when the check times out, the receive itself is not cancelled. A Redis layer's receive cut off
    # halfway can leave its per-process receive lock held, and every socket of the process stops receiving.
    message = await asyncio.shield(layer.receive(channel))
    if message.get("type") != "podium.ready":
        raise RuntimeError(f"the channel layer gave back {message!r}")


async def _sandboxes() -> None:
    backend = await in_thread(backend_get)
    problem = await in_thread(backend.check)
    if problem:
        raise RuntimeError(problem)


async def _timed(check) -> dict:
    began = time.perf_counter()
    try:
        await asyncio.wait_for(check(), CHECK_SECONDS)
    except TimeoutError:
        return {"ok": False, "ms": round((time.perf_counter() - began) * 1000, 1), "error": "no answer in time"}
    except Exception as error:  # every failure is the answer, not a 500
        return {"ok": False, "ms": round((time.perf_counter() - began) * 1000, 1), "error": str(error)[:500]}
    return {"ok": True, "ms": round((time.perf_counter() - began) * 1000, 1)}


async def readiness() -> dict:
    """{"ready": bool, "checks": {"database": ..., "channel_layer": ..., "sandboxes": ...}}."""
    names = ("database", "channel_layer", "sandboxes")
    results = await asyncio.gather(*(_timed(check) for check in (_database, _channel_layer, _sandboxes)))
    checks = dict(zip(names, results, strict=True))
    return {"ready": all(result["ok"] for result in results), "checks": checks}
