"""A room as a benchmark: N attendees work through the shipped deck's Docker half while M followers follow.

A real daphne of this checkout: the shipped deck, the Docker backend in the default security
mode (bench_server.SECURITY), a fresh SQLite database, a PODIUM_INSTANCE of its own. A room
opens with N places; each attendee joins by code as a browser does (room_join.join_http),
opens /ws/decks/<slug>/runs/ and, once all have joined, Runs each runnable block of the deck's
"Docker" section in order (`steps`, from the parsed deck; checks skipped), `--think` s
(×0.5–1.5) apart, each followed by the probe: `echo hi` (the first step, edited). A presenter
moves the talk every `--slide-every` s; M followers follow, idle first (one goto a second,
no attendee running), then during the load. Figures:

- `sandbox_ready_s_*`: first Run click → run.started (the sandbox is created in between).
- `first_byte_ms_*`: probe Run → first run.output; `raw_exec_idle_ms_*`: `echo hi` by the
  Docker API (common.raw_first_byte) in a workspace container, idle after the load;
  `first_byte_p50_ratio` of the two. `step_first_byte_ms_*`: the steps after the first.
- `step_success_rate`: steps ending "ok" / steps planned; `failed_steps` (probes too) with
  the last output line or the server's message. `chunks_lost` / `_reordered`: a run's
  run.output `seq` must go 1, 2, 3… up to its run.finished's `seq`.
- `follow_update_ms_*`: goto sent → each follower's position, idle / under load;
  `follow_missing`: not within 15 s. `ws_ping_ms_*`: ping → pong on one more, idle follower
  socket, a PROXY for the web process's event-loop lag; `loop_lag_*`: that process's own
  histogram on /metrics (not the --redis workers').
- `sandbox_memory_per_attendee_mb`: peak of the instance's containers' cgroup memory less
  inactive file cache (as `docker stats`) / N; `host_memory_per_attendee_mb`: the deepest
  MemAvailable drop / N (other tenants count). `host_cpu_fraction_*`: busy (/proc/stat).
  `attendees_memory_bound` = MemAvailable before the load / memory per attendee;
  `attendees_cpu_bound` = N / host_cpu_fraction_load (`_net`: N / its rise over the idle
  phase); `attendees_this_host`: the smaller. Rough: this deck at this pace.

    .venv/bin/python bench/room.py [--attendees 4] [--followers 200] [--think 2] [--redis [--workers 1]]
        [--kill-worker SECONDS]

--redis: its own redis-server on a free port (--save ''), PODIUM_EMBEDDED_WORKER=0, `--workers`
`manage.py runworker sandbox-runs`. Needs Docker and the workspace image (`manage.py sandbox
prepare`). On leaving, also on failure, Ctrl-C or SIGTERM: daphne and workers stop, every
container, network and volume labelled with the instance goes, Redis stops.

--kill-worker S (with --redis): S seconds into the load, at the first moment a run is going on, a worker is
SIGKILLed and another started at once; a `sandbox cull --every 1` process ends lost runs, and runs beat
every second (PODIUM_RUN_BEAT_SECONDS=1, so a run is lost after 4 silent seconds). Figures:
`runs_active_at_kill`; `runs_lost`, the runs whose run.finished says their worker stopped, and
`lost_runs_ended_after_kill_s_max`; `steps_ok_after_kill` of `steps_after_kill` (clicked after the kill,
so in sandboxes the killed worker had used) and `step_success_after_kill_ratio` against the steps that
ended before it; `runs_left_active`, queued or running once every attendee is done (must be 0). An
attendee whose run was lost runs it again, once, as its message asks (`lost_runs_run_again_ok`); the step
counts as that second run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from dataclasses import dataclass, field

import bench_server as support
import common as bench
import follow_under_load as loop_lag
import room_join
from room_server import RoomServer, docker_steps, room_ready

DECK, PROBE, MB = room_join.DECK, "echo hi", 1024 * 1024
GOTO_TIMEOUT_S, PING_EVERY_S, BASELINE_GOTOS, RAW_EXECS = 15, 0.2, 20, 20
OPTIONS = ("attendees", "followers", "think", "slide_every", "run_limit", "workers", "kill_worker")


async def follow_open(port: int, session_key: str | None = None):
    """A follow socket of the talk, once its first position (sent on connect) has arrived."""
    socket_ = await bench.websocket_open(port=port, path=f"/ws/talks/{DECK}/follow/", session_key=session_key)
    hello = json.loads(await asyncio.wait_for(socket_.recv(), 60))
    if session_key and not hello.get("presenter"):
        raise SystemExit(f"bench: the presenter socket was not granted: {hello}")
    return socket_


class Audience:
    """The presenter's socket, the followers' sockets, and one more follower socket that is only pinged."""

    def __init__(self, presenter, followers: list, idle, slides: int) -> None:
        self.presenter, self.followers, self.idle, self.slides, self.slide = presenter, followers, idle, slides, 1

    async def goto(self) -> tuple[list[float], int]:
        """Move the talk one slide on: (ms from the send to each follower's receipt, followers who missed it)."""
        self.slide, sent = self.slide % self.slides + 1, time.perf_counter()
        await self.presenter.send(json.dumps({"type": "goto", "slide": self.slide}))

        async def arrival(socket_) -> float:
            while json.loads(await socket_.recv()).get("slide") != self.slide:
                pass
            return (time.perf_counter() - sent) * 1000

        waits = [asyncio.wait_for(arrival(s), GOTO_TIMEOUT_S) for s in [self.presenter, *self.followers]]
        got = [ms for ms in (await asyncio.gather(*waits, return_exceptions=True))[1:] if isinstance(ms, float)]
        return got, len(self.followers) - len(got)

    async def pings(self, seen: dict) -> None:
        while seen["pinging"]:  # a flag, not cancel(): wait_for may swallow a cancel (Python 3.11)
            sent = time.perf_counter()
            await asyncio.wait_for(await self.idle.ping(), 30)
            seen["pings"].append((time.perf_counter() - sent) * 1000)
            await asyncio.sleep(PING_EVERY_S)


async def phase(audience: Audience, *, every: float, gotos: int = 0, work=None, label: str = "") -> dict:
    """A goto every `every` s, pings meanwhile: `gotos` of them, or until `work` is done; the host's CPU busy
    fraction, and with `label` the peak memory of the containers so labelled and the lowest MemAvailable."""
    seen: dict = {"follow": [], "missing": 0, "pings": [], "gotos": 0, "cpu": bench.cpu_ticks(), "peak": 0}
    seen |= {"available": bench.mem_available(), "source": "", "pinging": True}
    pinger, api = asyncio.create_task(audience.pings(seen)), bench.docker_api()
    try:
        while not work.done() if work else seen["gotos"] < gotos:
            began = time.perf_counter()
            got, missing = await audience.goto()
            seen["follow"] += got
            seen["missing"] += missing
            seen["gotos"] += 1
            if label:  # in a thread: this event loop times the followers
                used, seen["source"] = await asyncio.to_thread(bench.containers_memory, api, label=label)
                seen["peak"] = max(seen["peak"], used)
            seen["available"] = min(seen["available"], bench.mem_available())
            rest = max(0.0, every - (time.perf_counter() - began))
            await (asyncio.wait([work], timeout=rest) if work else asyncio.sleep(rest))
    finally:
        seen["pinging"] = False
        await pinger
    seen["cpu"] = bench.cpu_busy(seen["cpu"], bench.cpu_ticks())
    return seen


@dataclass
class Click:
    """One Run as its attendee's page saw it (perf_counter instants)."""

    attendee: str
    block: str
    probe: bool
    sent: float
    started: float | None = None
    first_output: float | None = None
    status: str = "no-answer"
    message: str = ""
    seqs: list[int] = field(default_factory=list)
    last_seq: int | None = None  # run.finished's count of the output messages sent
    finished: float | None = None
    superseded: bool = False  # a run lost with its worker, run again (the step is the second run)
    again: bool = False  # that second run
    tail: str = ""

    def error_line(self) -> str:  # a failed run's last 2 lines (the last is often "See '… --help'."), else why
        lines = [line.strip() for line in self.tail.splitlines() if line.strip()]
        return (" | ".join(lines[-2:]) if self.status == "failed" else self.message or " | ".join(lines[-2:]))[:240]


async def click(socket_, *, attendee: str, block: str, code: str | None, limit_s: float) -> Click:
    """Run `block` (edited to `code`) and follow it to run.finished; a refusal or `limit_s` of silence end it too."""
    seen = Click(attendee=attendee, block=block, probe=code is not None, sent=time.perf_counter())
    await socket_.send(json.dumps({"type": "run", "block": block, **({"code": code} if code else {})}))
    run_id = None
    while True:
        try:
            event = await bench.ws_receive(socket_, seen.sent + limit_s - time.perf_counter())
        except TimeoutError:
            seen.message = f"no run.finished within {limit_s:g} s"
            if run_id:
                await socket_.send(json.dumps({"type": "cancel", "run": run_id}))
            return seen
        now, kind = time.perf_counter(), event.get("type")
        if kind == "error" and event.get("block") == block:
            seen.status, seen.message = "refused", f"{event.get('code')}: {event.get('message')}"
            return seen
        if kind == "run.accepted" and run_id is None and event.get("block") == block:
            run_id = event["run"]
        elif run_id is None or event.get("run") != run_id:
            continue  # the setup status, a cancelled run's late messages
        elif kind == "run.started":
            seen.started = now
        elif kind == "run.output":
            seen.first_output = seen.first_output or now
            seen.seqs.append(event["seq"])
            seen.tail = (seen.tail + event["data"])[-4000:]
        elif kind == "run.finished":
            seen.status, seen.message, seen.last_seq = event["status"], event.get("message") or "", event.get("seq")
            seen.finished = now
            return seen


async def attendee_work(server: RoomServer, number: int, steps: list[str], args: argparse.Namespace):
    """Join the room, wait for everybody, then each step with think time and the probe after it: (session, clicks)."""
    name, session_key, socket_, clicks, rng = f"attendee {number + 1}", "", None, [], random.Random(number)
    try:
        try:
            session_key, _, _ = await asyncio.to_thread(room_join.join_http, server, code=args.code, name=name)
            path = f"/ws/decks/{DECK}/runs/"
            socket_ = await bench.websocket_open(port=server.port, path=path, session_key=session_key)
            await socket_.send(json.dumps({"type": "history"}))
            if (answer := json.loads(await asyncio.wait_for(socket_.recv(), 120))).get("type") != "history":
                raise RuntimeError(f"the runs socket refused the session: {answer}")
        finally:
            await args.everybody.wait()  # all have joined (or failed to): the load begins
        await asyncio.sleep(rng.uniform(0, args.think))
        for step in steps:
            for code, limit_s in ((None, args.run_limit), (PROBE, 120)):
                clicks.append(await click(socket_, attendee=name, block=step, code=code, limit_s=limit_s))
                if code is None and args.lost and args.lost in clicks[-1].message:  # "run it again": they do, once
                    clicks[-1].superseded = True  # the step is its run again
                    clicks.append(await click(socket_, attendee=name, block=step, code=code, limit_s=limit_s))
                    clicks[-1].again = True
            seen, said = clicks[-2], "" if clicks[-2].status == "ok" else f": {clicks[-2].error_line()}"
            bench.say(f"{name}: {step} {seen.status} in {time.perf_counter() - seen.sent:.1f} s{said}")
            await asyncio.sleep(args.think * rng.uniform(0.5, 1.5))
    except Exception as error:  # no place, or the socket went away: the steps not clicked are lost, and said
        clicks.append(Click(attendee=name, block="(socket)", probe=False, sent=0, status="error", message=repr(error)))
        bench.say(f"{name}: gave up: {error!r}")
    finally:
        if socket_ is not None:
            await socket_.close()
    return session_key, clicks


async def measure(server: RoomServer, args: argparse.Namespace, steps: list[str], slides: int) -> dict:
    """The idle phase, the load, then the raw baseline in an idle sandbox: the figures."""
    presenter, followers = await follow_open(server.port, args.presenter), []
    for first in range(0, args.followers, 25):  # in batches, as follow_fanout does
        followers += await asyncio.gather(*(follow_open(server.port) for _ in range(min(25, args.followers - first))))
    audience = Audience(presenter, followers, await follow_open(server.port), slides)
    bench.say(f"{args.followers} followers connected; idle phase: {BASELINE_GOTOS} gotos, one a second")
    lags = [await asyncio.to_thread(loop_lag.lag_buckets, server.port)]
    idle = await phase(audience, every=1.0, gotos=BASELINE_GOTOS)
    lags.append(await asyncio.to_thread(loop_lag.lag_buckets, server.port))

    args.everybody = asyncio.Barrier(args.attendees + 1)
    work = asyncio.gather(*(attendee_work(server, n, steps, args) for n in range(args.attendees)))
    await args.everybody.wait()
    began = time.perf_counter()
    fault = asyncio.create_task(worker_fault(server, args, began)) if args.kill_worker is not None else None
    lags.append(await asyncio.to_thread(loop_lag.lag_buckets, server.port))
    bench.say(f"{args.attendees} attendees joined; the load begins")
    load = await phase(audience, every=args.slide_every, work=work, label=f"podium.instance={server.instance}")
    load["s"] = time.perf_counter() - began
    lags.append(await asyncio.to_thread(loop_lag.lag_buckets, server.port))
    done = await work
    faults = await fault if fault is not None else None
    await asyncio.gather(*(s.close() for s in [presenter, audience.idle, *followers]), return_exceptions=True)

    first = next(session for session, _ in done if session)  # an attendee who joined: their sandbox is idle now
    who = (await asyncio.to_thread(room_join.sandbox_of_session, first)).attendee_id.hex
    container, api, raw = await asyncio.to_thread(support.workspace_container, attendee_id=who), bench.docker_api(), []
    for _ in range(RAW_EXECS):
        raw.append((await asyncio.to_thread(bench.raw_first_byte, api, container, ["echo", "hi"]))[0] * 1000)
    clicks = [seen for _, clicked in done for seen in clicked]
    figures = figures_of(args, steps, clicks, idle, load, raw, lags)
    if faults is not None:
        left = await asyncio.to_thread(runs_active_count)
        figures |= fault_figures(clicks, faults, left_active=left, lost_says=args.lost)
    return figures


async def worker_fault(server: RoomServer, args: argparse.Namespace, began: float) -> dict:
    """`--kill-worker` s into the load, once a run is going on: SIGKILL a worker, and start another at once (as a
    supervisor would)."""
    await asyncio.sleep(args.kill_worker)
    # At a moment some run is going on: the runs are rows other processes write, so they are polled.
    while not (in_flight := await asyncio.to_thread(runs_active_count)):  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    killed = time.perf_counter()
    await asyncio.to_thread(server.worker_kill)
    await asyncio.to_thread(server.worker_start)
    bench.say(f"killed a worker {killed - began:.1f} s into the load, with {in_flight} run(s) active; restarted it")
    return {"killed": killed, "at_s": killed - began, "in_flight": in_flight}


def runs_active_count() -> int:
    """Runs queued or running now, in the bench's database."""
    from sandbox.models import Run

    return Run.objects.filter(status__in=Run.ACTIVE).count()


def fault_figures(clicks: list[Click], fault: dict, *, left_active: int, lost_says: str) -> dict:
    """What the killed worker's runs became, and whether the room carried on (the module docstring)."""
    steps, killed = [seen for seen in clicks if not seen.probe and not seen.superseded], fault["killed"]
    lost = [seen for seen in clicks if lost_says in seen.message]
    before = [seen for seen in steps if seen.finished and seen.finished < killed]
    after = [seen for seen in steps if seen.sent > killed]
    rate_before = sum(seen.status == "ok" for seen in before) / len(before) if before else None
    rate_after = sum(seen.status == "ok" for seen in after) / len(after) if after else None
    ended = [seen.finished - killed for seen in lost if seen.finished]
    figures = {"worker_killed_at_s": round(fault["at_s"], 1), "runs_active_at_kill": fault["in_flight"]}
    figures |= {"runs_lost": len(lost), "runs_lost_unended": len(lost) - len(ended)}
    lost_steps = {(seen.attendee, seen.block) for seen in lost}
    again = [seen for seen in steps if (seen.attendee, seen.block) in lost_steps]
    figures["lost_runs_run_again_ok"] = sum(seen.status == "ok" for seen in again)
    figures["lost_runs_ended_after_kill_s_max"] = round(max(ended), 1) if ended else None
    figures |= {"steps_before_kill": len(before), "steps_after_kill": len(after)}
    figures["steps_ok_after_kill"] = sum(seen.status == "ok" for seen in after)
    figures["step_success_after_kill_ratio"] = bench.ratio(rate_after, rate_before)
    figures["runs_left_active"] = left_active  # queued or running after every attendee finished: must be 0
    return figures


def first_bytes(clicks: list[Click]) -> list[float]:
    """Milliseconds from each Run click to its first output, for the runs that printed."""
    return [(seen.first_output - seen.sent) * 1000 for seen in clicks if seen.first_output]


def figures_of(args, steps, clicks, idle, load, raw, lags) -> dict:
    """The JSON figures of one run (see the module docstring); None where there is no sample."""
    n, probes = args.attendees, [s for s in clicks if s.probe]
    steps_seen = [s for s in clicks if not s.probe and not s.superseded]
    later = [seen for seen in steps_seen if seen.block != steps[0]]
    figures = {"bench": "room", **{key: value for key, value in vars(args).items() if key in OPTIONS}}
    figures |= {"layer": "redis" if args.redis else "inmemory", "security": support.SECURITY, "steps": steps}
    firsts = [seen for seen in clicks if not seen.probe and not seen.again and seen.block == steps[0]]
    ready = [seen.started - seen.sent for seen in firsts if seen.started]
    figures |= bench.p50_p99_or_none("sandbox_ready_s_{p}", ready, digits=2)
    figures |= bench.p50_p99_or_none("first_byte_ms_{p}", first_bytes(probes), digits=1)
    figures |= bench.p50_p99_or_none("step_first_byte_ms_{p}", first_bytes(later), digits=1)
    figures |= bench.p50_p99("raw_exec_idle_ms_{p}", raw, digits=1)
    figures["first_byte_p50_ratio"] = bench.ratio(figures["first_byte_ms_p50"], figures["raw_exec_idle_ms_p50"])
    figures["steps_ok"], figures["steps_planned"] = sum(s.status == "ok" for s in steps_seen), n * len(steps)
    figures["step_success_rate"] = round(figures["steps_ok"] / figures["steps_planned"], 3)  # unclicked: failed
    figures["probes_ok"] = f"{sum(seen.status == 'ok' for seen in probes)}/{len(probes)}"
    failed = [(s.attendee, s.block + " probe" * s.probe, s.status, s.error_line()) for s in clicks if s.status != "ok"]
    figures["failed_runs"] = len(failed)  # the first 40 of them:
    figures["failed_steps"] = [dict(zip(("attendee", "block", "status", "error"), f, strict=True)) for f in failed[:40]]
    figures["output_chunks"] = sum(len(seen.seqs) for seen in clicks)
    figures["chunks_lost"] = sum(max(0, (s.last_seq or max(s.seqs, default=0)) - len(set(s.seqs))) for s in clicks)
    figures["chunks_reordered"] = sum(b <= a for s in clicks for a, b in zip(s.seqs, s.seqs[1:], strict=False))
    for word, seen in (("idle", idle), ("under_load", load)):
        figures |= bench.p50_p99_or_none(f"follow_update_ms_{{p}}_{word}", seen["follow"], digits=1)
        figures |= bench.p50_p99_or_none(f"ws_ping_ms_{{p}}_{word}", seen["pings"], digits=2)
        figures[f"gotos_{word}"] = seen["gotos"]
    figures["follow_missing"] = idle["missing"] + load["missing"]
    for name in ("follow_update", "ws_ping"):
        figures[f"{name}_p99_ratio"] = bench.ratio(figures[f"{name}_ms_p99_under_load"], figures[f"{name}_ms_p99_idle"])
    for word, (before, after) in (("idle", lags[0:2]), ("under_load", lags[2:4])):
        figures |= {key.replace("_load", f"_{word}"): v for key, v in loop_lag.lag_figures(before, after).items()}
    available, per_attendee = idle["available"], load["peak"] / n  # MemAvailable before the load
    figures["sandbox_memory_peak_mb"] = round(load["peak"] / MB)
    figures["sandbox_memory_per_attendee_mb"] = round(per_attendee / MB)
    drop = available - load["available"]  # negative when other tenants freed memory meanwhile
    figures["host_memory_per_attendee_mb"] = round(drop / n / MB) if drop > 0 else None
    figures |= {"host_mem_available_gb": round(available / MB / 1024, 1), "host_cpu_fraction_before": idle["cpu"]}
    figures |= {"host_cpu_fraction_load": load["cpu"], "load_s": round(load["s"], 1), "memory_source": load["source"]}
    figures["attendees_memory_bound"] = int(available / per_attendee) if per_attendee > 0 else None
    figures["attendees_cpu_bound"] = int(n / load["cpu"]) if load["cpu"] > 0 else None
    figures["attendees_cpu_bound_net"] = int(n / (load["cpu"] - idle["cpu"])) if load["cpu"] > idle["cpu"] else None
    bounds = [bound for bound in (figures["attendees_memory_bound"], figures["attendees_cpu_bound"]) if bound]
    figures["attendees_this_host"] = min(bounds) if bounds else None
    figures["cpu_saturated"] = load["cpu"] >= 0.95  # then N / fraction says nothing: the host did not hold N
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attendees", type=int, default=4, help="attendees working through the steps (default 4)")
    parser.add_argument("--followers", type=int, default=200, help="followers of the presenter (default 200)")
    parser.add_argument("--think", type=float, default=2.0, help="seconds between an attendee's steps (default 2)")
    parser.add_argument("--slide-every", type=float, default=3.0, help="seconds between slide changes (default 3)")
    parser.add_argument("--run-limit", type=float, default=900, help="seconds to wait for one step (default 900)")
    parser.add_argument("--redis", action="store_true", help="a Redis channel layer and separate workers")
    parser.add_argument("--workers", type=int, default=1, help="runworker processes with --redis (default 1)")
    parser.add_argument(
        "--kill-worker", type=float, default=None, metavar="SECONDS", help="with --redis: SIGKILL a worker then"
    )
    args = parser.parse_args()
    if min(args.attendees, args.followers, args.workers) < 1:
        sys.exit("bench: --attendees, --followers and --workers must be at least 1")
    if args.kill_worker is not None and not args.redis:
        sys.exit("bench: --kill-worker needs --redis (the embedded worker is the web process itself)")
    started, load_before = time.monotonic(), bench.load_average()
    support._terminate_on_sigterm()  # SIGTERM as an exception, so the cleanup below runs
    server = RoomServer(args)
    try:
        server.start()
        steps, slides = docker_steps()
        bench.say(f"steps (the Docker section of {DECK}): {', '.join(steps)}")
        args.code, args.presenter = room_ready(server)
        from sandbox.reconcile import LOST  # what a run lost with its worker ends saying (Django is set up now)

        args.lost = LOST
        figures = asyncio.run(measure(server, args, steps, slides))
    except BaseException:
        bench.say(f"daphne's log ends:\n{bench.log_tail(server.folder / 'daphne.log') if server.folder else ''}")
        raise
    finally:
        server.close()
    elapsed = round(time.monotonic() - started, 1)
    figures |= {"load_avg_before": load_before, "load_avg_after": bench.load_average(), "elapsed_s": elapsed}
    bench.figures_print(figures)


if __name__ == "__main__":
    main()
