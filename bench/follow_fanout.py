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
import multiprocessing
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


def slide_of(k: int) -> int:
    """The slide of the k-th goto (every process of the bench knows the sequence)."""
    return 2 + k % (SLIDES - 1)


# -- a client process: a share of the followers ---------------------------------------------------------
def client_main(conn, ports: list[int], first: int, count: int) -> None:
    """Hold `count` followers; report each goto's arrival times, then this process's CPU time during the gotos."""
    asyncio.run(client_run(conn, ports, first, count))


async def client_run(conn, ports: list[int], first: int, count: int) -> None:
    sockets = []
    for start in range(first, first + count, CONNECT_BATCH):
        batch = range(start, min(first + count, start + CONNECT_BATCH))
        sockets += await asyncio.gather(*(open_socket(ports[n % len(ports)]) for n in batch))
    for follower in sockets:
        json.loads(await asyncio.wait_for(follower.recv(), 30))  # the position on connect
    arrivals: dict[int, list[float]] = {}

    async def listen(follower) -> None:
        async for frame in follower:
            message = json.loads(frame)
            if message.get("type") == "position":
                got = arrivals.setdefault(message["slide"], [])
                got.append(time.perf_counter())
                if len(got) == count:
                    conn.send(("slide", message["slide"], arrivals.pop(message["slide"])))

    listeners = [asyncio.create_task(listen(follower)) for follower in sockets]
    cpu_before = time.process_time()
    conn.send(("ready",))
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # "stop"
    conn.send(("cpu", time.process_time() - cpu_before))
    for task in listeners:
        task.cancel()
    await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)
    await asyncio.gather(*listeners, return_exceptions=True)
    conn.close()


def clients_start(ports: list[int], followers: int, clients: int) -> list[tuple]:
    """`clients` processes holding `followers` follower sockets between them: [(process, connection)]."""
    context = multiprocessing.get_context("fork")  # before any event loop or thread of this process
    started, first = [], 0
    for index in range(clients):
        count = followers // clients + (1 if index < followers % clients else 0)
        ours, theirs = context.Pipe()
        process = context.Process(target=client_main, args=(theirs, ports, first, count), daemon=True)
        process.start()
        started.append((process, ours, count))
        first += count
    return started


async def measure(ports: list[int], servers: list[int], cookie: str, clients: list[tuple], gotos: int, roundtrips: int):
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue = asyncio.Queue()
    for _, conn, _ in clients:
        loop.add_reader(conn.fileno(), lambda conn=conn: inbox.put_nowait(conn.recv()))
    followers = sum(count for _, _, count in clients)
    presenter = await open_socket(ports[0], cookie)
    hello = json.loads(await asyncio.wait_for(presenter.recv(), 30))
    if not hello.get("presenter"):
        raise SystemExit(f"bench: the presenter socket was not granted: {hello}")

    started = time.perf_counter()
    for _ in clients:
        message = await asyncio.wait_for(inbox.get(), 600)
        assert message == ("ready",), message
    connect_s = time.perf_counter() - started

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
    server_cpu = [bench.process_cpu_s(pid) for pid in servers]
    for k in range(gotos):
        slide = slide_of(k)
        got: list[float] = []
        reports = 0
        sent = time.perf_counter()
        await presenter.send(json.dumps({"type": "goto", "slide": slide}))
        with contextlib.suppress(TimeoutError):  # counted below as missing
            while reports < len(clients):
                kind, *rest = await asyncio.wait_for(inbox.get(), GOTO_TIMEOUT_S)
                if kind == "slide" and rest[0] == slide:
                    got += rest[1]
                    reports += 1
        missing += followers - len(got)
        latency_ms += [(at - sent) * 1000 for at in got]
        if got:
            first_ms.append((min(got) - sent) * 1000)
            last_ms.append((max(got) - sent) * 1000)
        # The presenter's own echo of the goto.
        echo = json.loads(await asyncio.wait_for(presenter.recv(), GOTO_TIMEOUT_S))
        assert echo == {"type": "position", "slide": slide, "live": True}, echo
    server_cpu_s = sum(bench.process_cpu_s(pid) for pid in servers) - sum(server_cpu)

    client_cpu_s = 0.0
    for _, conn, _ in clients:
        conn.send(("stop",))
    for _ in clients:
        kind, *rest = await asyncio.wait_for(inbox.get(), 60)
        if kind == "cpu":
            client_cpu_s += rest[0]
    for _, conn, _ in clients:
        loop.remove_reader(conn.fileno())
    await presenter.close()
    return {
        "connect_s": connect_s,
        "latency_ms": latency_ms,
        "first_ms": first_ms,
        "last_ms": last_ms,
        "roundtrip_ms": roundtrip_ms,
        "missing": missing,
        "server_cpu_ms_per_goto": server_cpu_s * 1000 / gotos,
        "client_cpu_ms_per_goto": client_cpu_s * 1000 / gotos,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--followers", type=int, default=200)
    parser.add_argument("--gotos", type=int, default=50)
    parser.add_argument("--roundtrips", type=int, default=100)
    parser.add_argument(
        "--clients", type=int, default=1, help="client processes the followers are spread over (a room: many laptops)"
    )
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
        servers, clients = [], []
        try:
            for port in ports:
                servers.append(bench.daphne_start(port=port, env=env, log=folder / f"daphne-{port}.log"))
            clients = clients_start(ports, args.followers, args.clients)
            pids = [server.pid for server in servers]
            result = asyncio.run(measure(ports, pids, cookie, clients, args.gotos, args.roundtrips))
        finally:
            bench.daphne_stop(servers)
            for process, _, _ in clients:
                process.join(timeout=30)

    latency, last, roundtrip = result["latency_ms"], result["last_ms"], result["roundtrip_ms"]
    if not latency:
        raise SystemExit("bench: no follower received any goto")
    figures = {
        "bench": "follow_fanout",
        "layer": "redis" if args.redis else "inmemory",
        "servers": len(ports),
        "followers": args.followers,
        "client_processes": args.clients,
        "gotos": args.gotos,
        "missing": result["missing"],
        "connect_s": round(result["connect_s"], 3),
        "p50_ms": round(statistics.median(latency), 2),
        "p99_ms": round(percentile(latency, 0.99), 2),
        "max_ms": round(max(latency), 2),
        "first_follower_p50_ms": round(statistics.median(result["first_ms"]), 2),
        "all_followers_p50_ms": round(statistics.median(last), 2),
        "all_followers_p99_ms": round(percentile(last, 0.99), 2),
        # Where the time goes: CPU of the daphne process(es) and of the bench's followers, per goto.
        "server_cpu_ms_per_goto": round(result["server_cpu_ms_per_goto"], 2),
        "client_cpu_ms_per_goto": round(result["client_cpu_ms_per_goto"], 2),
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
        f"one-socket round-trip p50 {figures['roundtrip_p50_ms']} ms; missing {figures['missing']}; "
        f"CPU per goto: server {figures['server_cpu_ms_per_goto']} ms, "
        f"{args.clients} client process(es) {figures['client_cpu_ms_per_goto']} ms",
    )


if __name__ == "__main__":
    main()
