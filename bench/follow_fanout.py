"""Presenter goto -> N followers, over real websockets on loopback, through a real daphne server.

Starts daphne on a free loopback port (embedded in-memory channel layer; with
--redis two daphne processes sharing Redis, the presenter on one and the
followers split over both), connects N follower sockets and one presenter
socket (a session granted through the database, as the presenter link does),
then issues K gotos one after another. For each goto it measures, for every
follower, the time from the presenter's send to that follower's receipt.

Baseline, same run, same server: the round-trip of one message on one socket
(the presenter sends a message the consumer answers at once, with no database
and no channel layer), so `*_ratio` says how many single round-trips a
fan-out to N followers costs.

    .venv/bin/python bench/follow_fanout.py [--followers 200] [--gotos 50] [--redis]

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import common as bench

SLUG = "follow-bench"
SLIDES = 60
GOTO_TIMEOUT_S = 15
CONNECT_BATCH = 25


def percentile(values: list[float], fraction: float) -> float:
    """The sample at the rounded rank `fraction` of the way from the smallest to the largest.

    Kept apart from common.percentile (nearest rank): the other rule would move
    this bench's p99 figures against the results recorded before.
    """
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def write_deck(folder: Path) -> None:
    slides = [f"# Slide {number}\n\nBody of slide {number}.\n" for number in range(1, SLIDES + 1)]
    (folder / f"{SLUG}.md").write_text("\n---\n\n".join(slides))


def prepare(env: dict[str, str]) -> str:
    """Migrate the temporary database and return the key of a session granted as presenter."""
    bench.django_setup(env=env, migrate=True)
    from django.contrib.sessions.backends.db import SessionStore

    from deck.services import presenter_grant, talk_get_or_create, talk_presenter_token

    talk = talk_get_or_create(deck_slug=SLUG)
    session = SessionStore()
    if not presenter_grant(session=session, talk=talk, token=talk_presenter_token(talk=talk)):
        raise SystemExit("bench: the presenter grant was refused")
    session.save()
    return session.session_key


async def open_socket(port: int, cookie: str | None = None):
    return await bench.websocket_open(port=port, path=f"/ws/talks/{SLUG}/follow/", session_key=cookie)


async def measure(ports: list[int], cookie: str, followers: int, gotos: int, roundtrips: int) -> dict:
    presenter = await open_socket(ports[0], cookie)
    hello = json.loads(await asyncio.wait_for(presenter.recv(), 30))
    if not hello.get("presenter"):
        raise SystemExit(f"bench: the presenter socket was not granted: {hello}")

    started = time.perf_counter()
    sockets = []
    for first in range(0, followers, CONNECT_BATCH):
        batch = range(first, min(followers, first + CONNECT_BATCH))
        sockets += await asyncio.gather(*(open_socket(ports[n % len(ports)]) for n in batch))
    for follower in sockets:
        json.loads(await asyncio.wait_for(follower.recv(), 30))  # the position on connect
    connect_s = time.perf_counter() - started

    arrivals: dict[int, list[float]] = {}
    complete: dict[int, asyncio.Event] = {}

    async def listen(follower) -> None:
        async for frame in follower:
            message = json.loads(frame)
            if message.get("type") == "position":
                slide = message["slide"]
                arrivals.setdefault(slide, []).append(time.perf_counter())
                if len(arrivals[slide]) == followers and slide in complete:
                    complete[slide].set()

    listeners = [asyncio.create_task(listen(follower)) for follower in sockets]

    # Baseline: one round-trip on one socket (an unknown message type is answered at once).
    roundtrip_ms = []
    for _ in range(roundtrips):
        sent = time.perf_counter()
        await presenter.send(json.dumps({"type": "ping"}))
        answer = json.loads(await asyncio.wait_for(presenter.recv(), 10))
        roundtrip_ms.append((time.perf_counter() - sent) * 1000)
        assert answer["type"] == "error"

    latency_ms: list[float] = []
    first_ms: list[float] = []
    last_ms: list[float] = []
    missing = 0
    for k in range(gotos):
        slide = 2 + k % (SLIDES - 1)
        arrivals.pop(slide, None)
        complete[slide] = asyncio.Event()
        sent = time.perf_counter()
        await presenter.send(json.dumps({"type": "goto", "slide": slide}))
        with contextlib.suppress(TimeoutError):  # counted below as missing
            await asyncio.wait_for(complete[slide].wait(), GOTO_TIMEOUT_S)
        got = arrivals.get(slide, [])
        missing += followers - len(got)
        latency_ms += [(at - sent) * 1000 for at in got]
        if got:
            first_ms.append((min(got) - sent) * 1000)
            last_ms.append((max(got) - sent) * 1000)
        # The presenter's own echo of the goto.
        echo = json.loads(await asyncio.wait_for(presenter.recv(), GOTO_TIMEOUT_S))
        assert echo == {"type": "position", "slide": slide, "live": True}, echo

    for task in listeners:
        task.cancel()
    await asyncio.gather(*(s.close() for s in [presenter, *sockets]), return_exceptions=True)
    await asyncio.gather(*listeners, return_exceptions=True)
    return {
        "connect_s": connect_s,
        "latency_ms": latency_ms,
        "first_ms": first_ms,
        "last_ms": last_ms,
        "roundtrip_ms": roundtrip_ms,
        "missing": missing,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--followers", type=int, default=200)
    parser.add_argument("--gotos", type=int, default=50)
    parser.add_argument("--roundtrips", type=int, default=100)
    parser.add_argument("--redis", action="store_true", help="two daphne processes sharing Redis at 127.0.0.1:6379")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="podium-follow-bench-") as tmp:
        folder = Path(tmp)
        slides = folder / "slides"
        slides.mkdir()
        write_deck(slides)
        env = bench.server_env(folder=folder, slides=slides)
        env.update(
            {
                "LOG_LEVEL": "WARNING",
                "SECRET_KEY": "follow-bench-" + os.urandom(16).hex(),
                "PODIUM_PRESENTER_TOKEN": "",
                "ALLOWED_HOSTS": "127.0.0.1",
            }
        )
        if args.redis:
            env["REDIS_URL"] = "redis://127.0.0.1:6379/0"
        cookie = prepare(env)

        ports = [bench.free_port() for _ in range(2 if args.redis else 1)]
        servers = []
        try:
            for port in ports:
                servers.append(bench.daphne_start(port=port, env=env, log=folder / f"daphne-{port}.log"))
            result = asyncio.run(measure(ports, cookie, args.followers, args.gotos, args.roundtrips))
        finally:
            bench.daphne_stop(servers)

    latency, last, roundtrip = result["latency_ms"], result["last_ms"], result["roundtrip_ms"]
    if not latency:
        raise SystemExit("bench: no follower received any goto")
    figures = {
        "bench": "follow_fanout",
        "layer": "redis" if args.redis else "inmemory",
        "servers": len(ports),
        "followers": args.followers,
        "gotos": args.gotos,
        "missing": result["missing"],
        "connect_s": round(result["connect_s"], 3),
        "p50_ms": round(statistics.median(latency), 2),
        "p99_ms": round(percentile(latency, 0.99), 2),
        "max_ms": round(max(latency), 2),
        "first_follower_p50_ms": round(statistics.median(result["first_ms"]), 2),
        "all_followers_p50_ms": round(statistics.median(last), 2),
        "all_followers_p99_ms": round(percentile(last, 0.99), 2),
        "roundtrip_p50_ms": round(statistics.median(roundtrip), 3),
        "roundtrip_p99_ms": round(percentile(roundtrip, 0.99), 3),
    }
    figures["p50_ratio"] = round(figures["p50_ms"] / figures["roundtrip_p50_ms"], 1)
    figures["p99_ratio"] = round(figures["p99_ms"] / figures["roundtrip_p99_ms"], 1)
    bench.figures_print(
        figures,
        summary=f"{args.followers} followers, {args.gotos} gotos ({figures['layer']}, {len(ports)} daphne): "
        f"p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms, max {figures['max_ms']} ms; "
        f"first/last follower p50 {figures['first_follower_p50_ms']}/{figures['all_followers_p50_ms']} ms; "
        f"one-socket round-trip p50 {figures['roundtrip_p50_ms']} ms; missing {figures['missing']}",
    )


if __name__ == "__main__":
    main()
