"""Catch me up to the start of the Kubernetes half of the shipped deck, against the same blocks run one by one.

A real daphne server (bench/bench_server.py) on slides/ with the Docker backend. Attendee A, fresh (no
sandbox yet), sends {"type": "catchup", "slide": N} over /ws/decks/intro-docker-kubernetes/runs/, N the
"Kubernetes" section slide (22 in the shipped deck; --slide to pick another): `catch_up_s` is the time from
sending it to catchup.finished (the reset, then the plan's blocks in order, the first one creating the
sandbox). Baseline in the same run: attendee B, fresh too, clicks Run on the same blocks one by one over
the same kind of socket, each sent once the previous run.finished; `one_by_one_s` is the sum of the
send → run.finished times. `ratio` = catch_up_s / one_by_one_s (the cost of the catch-up's own steps and
the server-side orchestration; below 1 when it saves the client's round trips). Both must succeed.

    .venv/bin/python bench/catch_up.py [--slide 22]

Needs a Docker engine, the workspace image and the mirror (`manage.py sandbox prepare`). Removes both
sandboxes and stops daphne at the end, also on failure. Progress on stderr; the last stdout line is one
JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

import bench_server as support
import common as bench

SLIDES = bench.ROOT / "slides"
SLUG = "intro-docker-kubernetes"
STEP_LIMIT_S = 600  # one block (an image build, MySQL starting) on a loaded machine


def kubernetes_half() -> int:
    """The first section slide of the shipped deck called "Kubernetes"."""
    from deck.selectors import deck_get

    deck = deck_get(slug=SLUG)
    return next(s.number for s in deck.slides if s.is_section and s.title.strip().lower() == "kubernetes")


async def catch_up_timed(server: support.BenchServer, slide: int, total: int) -> tuple[float, list[str]]:
    """Seconds from the "catchup" message to catchup.finished (ok), and the progress sentences seen."""
    session_key = await asyncio.to_thread(server.session_cookie)
    socket_ = await server.runs_socket(session_key)
    try:
        await asyncio.to_thread(server.attendee_of, session_key)
        sent = time.perf_counter()
        await socket_.send(json.dumps({"type": "catchup", "slide": slide}))
        progress: list[str] = []
        deadline = sent + STEP_LIMIT_S * (total + 1)
        while True:
            message = await bench.ws_receive(socket_, max(1.0, deadline - time.perf_counter()))
            if message.get("type") == "error":
                raise RuntimeError(f"the server refused to catch up: {message}")
            if message.get("type") == "catchup.progress":
                progress.append(message["message"])
                bench.say(message["message"])
            elif message.get("type") == "catchup.finished":
                elapsed = time.perf_counter() - sent
                if message["status"] != "ok":
                    raise RuntimeError(f"catching up did not succeed: {message}; daphne log:\n{server.log_tail()}")
                return elapsed, progress
    finally:
        await socket_.close()


async def one_by_one_timed(server: support.BenchServer, blocks: list[str]) -> list[float]:
    """Each block run by a fresh attendee's client in order; the send → run.finished seconds of each."""
    session_key = await asyncio.to_thread(server.session_cookie)
    socket_ = await server.runs_socket(session_key)
    try:
        await asyncio.to_thread(server.attendee_of, session_key)
        seconds = []
        for block in blocks:
            timing = await support.run_block(socket_, block, limit_s=STEP_LIMIT_S)
            if timing.end.get("status") != "ok":
                raise RuntimeError(f"block {block} did not succeed: {timing.end}; daphne log:\n{server.log_tail()}")
            seconds.append(timing.finished)
            bench.say(f"one by one: {block} in {timing.finished:.1f} s")
        return seconds
    finally:
        await socket_.close()


async def measure(server: support.BenchServer, slide: int | None) -> dict:
    from sandbox.catch_up import catch_up_plan

    slide = slide or kubernetes_half()
    steps = catch_up_plan(deck_slug=SLUG, slide=slide)
    blocks = [step.block_id for step in steps]
    bench.say(f"catching up to slide {slide}: {len(blocks)} blocks ({', '.join(blocks)})")
    catch_up_s, progress = await catch_up_timed(server, slide, len(blocks))
    bench.say(f"caught up in {catch_up_s:.1f} s; now the same blocks one by one")
    each = await one_by_one_timed(server, blocks)
    one_by_one_s = sum(each)
    return {
        "deck": SLUG,
        "slide": slide,
        "steps": len(blocks),
        "blocks": blocks,
        "security": support.SECURITY,
        "catch_up_s": round(catch_up_s, 2),
        "one_by_one_s": round(one_by_one_s, 2),
        "one_by_one_each_s": [round(value, 2) for value in each],
        "ratio": bench.ratio(catch_up_s, one_by_one_s),
        "progress_messages": len(progress),
        "order": "catch-up first, then one by one",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slide", type=int, default=None, help="catch up to this slide (default: the Kubernetes half)")
    args = parser.parse_args()
    load_before = bench.load_average()
    with support.BenchServer(slides=SLIDES, slug=SLUG) as server:
        figures = asyncio.run(measure(server, args.slide))
    figures["load_avg_before"] = load_before
    figures["load_avg_after"] = bench.load_average()
    bench.figures_print(figures)


if __name__ == "__main__":
    sys.exit(main())
