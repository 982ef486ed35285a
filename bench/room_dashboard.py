"""The instructor's dashboard of a full room: building its board, a change reaching it, the page drawing it.

A real daphne of this checkout and the shipped deck on a fresh SQLite database, seeded through the project's
services: a room `--attendees` people join (`room_open`, `room_join`), each with a Sandbox row, a slide, 10-20
finished runs of the deck's blocks (one in five failed as learners' do: a docker Conflict naming another
container, a busy port; ids and numbers their own), some checks; 10 hands up. Nothing runs. Figures in ms:

- `board_build_ms_p50/_p99`: `room_board` + json.dumps in this process (30 samples; `board_bytes`, `board_queries`);
  baseline `baseline_rows_ms_*`: the members, their Progress and last Run as plain `.values()` + json.dumps;
  `board_vs_baseline`: the ratio of the p50s.
- `change_to_dashboard_ms_p50/_p99`: the presenter's dashboard socket open, another attendee each time (sockets
  open beforehand) changes slide ({"type": "progress"} on /ws/decks/<slug>/runs/) or every second time raises a
  hand ({"type": "help"} on .../room/, lowered after): send → the first "board" message showing it. 0-1.2 s
  random pauses keep it from phase-locking to the board's reads (0.25 s after a change at the soonest, else 1 s).
- Browser (headless /usr/bin/chromium, Playwright; `--no-browser` skips it): /rooms/<code>/ with the presenter's
  cookie, timed on the page's clock by an init script. `render_rows_ms`: navigation start → a MutationObserver on
  #roster-body seeing every row (after the board handler's DOM writes, before layout and paint); `*_frame_ms`:
  → a task queued from the next animation frame (painted). Then 20 changes watched in the row's Slide or Hand
  cell: `update_dom_ms_*` = the board's "message" event (a listener ahead of the page's) → the observer seeing
  the cell; `update_end_to_end_ms_*` = send → the cell (wall clock); `update_longtasks`, `update_longest_ms`:
  "longtask" entries meanwhile, whatever the cause (the 1 s age ticker too); `load_longest_ms`: before them.

    .venv/bin/python bench/room_dashboard.py [--attendees 200] [--changes 40] [--no-browser]

Cleanup on leaving, also on failure, Ctrl-C or SIGTERM: browser closed, daphne stopped, temporary folder removed.
Progress on stderr; stdout's last line: one JSON object, with the host's `load_average` (and before).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import tempfile
import time
import timeit
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import bench_server as support
import common as bench

DECK, BOARD_SAMPLES, BROWSER_CHANGES, CHANGE_TIMEOUT_S, HANDS = "intro-docker-kubernetes", 30, 20, 15, 10
CHROMIUM, CHROMIUM_ARGS = "/usr/bin/chromium", ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
FIRST = ["Ada", "Bob", "Chen", "Dana", "Emeka", "Fatima", "Goran", "Hana", "Ines", "Jonas", "Kofi", "Lena", "Nour"]
HELP_WORDS = ["my build fails at pip install", "mysql says the name is in use", "port 5000 is taken?", "", "help"]
OK_OUTPUT = "{hex}\nCONTAINER ID   IMAGE          STATUS\n{hex:.12}   12factor:1.0   Up {n} seconds\n"
# A failed run's output: the first paragraph whose first line is in "<kind> <code>" ("*": any), its other lines.
FAILURES = """build
ERROR: failed to solve: process "/bin/sh -c pip install -r requirements.txt" did not complete successfully: \
exit code: {n}

network create
docker: Error response from daemon: Conflict. The container name "/mysql" is already in use by container \
"{hex}". You have to remove (or rename) that container to be able to reuse that name.
See 'docker run --help'.

--publish
docker: Error response from daemon: driver failed programming external connectivity on endpoint 12factor \
({hex}): Bind for 0.0.0.0:5000 failed: port is already allocated.

apply #
error: error parsing STDIN: error converting YAML to JSON: yaml: line {n}: mapping values are not allowed

kubectl
error: timed out waiting for the condition on deployments/12factor

*
Error response from daemon: No such container: 12factor"""
FAILED = [(word, said + "\n") for word, said in (part.split("\n", 1) for part in FAILURES.split("\n\n"))]


def spread(name: str, samples: list[float]) -> dict[str, float | None]:
    """The p50 and p99 of `samples` named by `name` (None for both when there is none)."""
    return bench.p50_p99(name, samples, digits=1) if samples else {name.format(p=p): None for p in ("p50", "p99")}


def history(rng: random.Random, blocks: list) -> list[tuple]:
    """10-20 (block, status) of one attendee in deck order: retries after failures, repeats, 1 in 6 stuck at the end."""
    count, done, at = rng.randint(10, 20), [], 0
    while len(done) < count - 1 and at < len(blocks) - 1:
        if rng.random() < 0.2:
            done.append((blocks[at], "timed_out" if rng.random() < 0.1 else "failed"))
        done.append((blocks[at], "ok"))
        at += 0 if rng.random() < 0.1 else 1
    return [*done, (blocks[at], "failed" if rng.random() < 0.17 else "ok")]


@dataclass
class Page:
    """One seeded attendee and, once opened, their page's runs socket (their slide) and room socket (their hand)."""

    member: str
    key: str  # of their browser session
    slide: int = 1
    hand: bool = False
    runs: object = None
    room: object = None

    async def open(self, port: int) -> None:
        for kind, answer in (("runs", "history"), ("room", "room")):
            socket_ = await bench.websocket_open(port=port, path=f"/ws/decks/{DECK}/{kind}/", session_key=self.key)
            setattr(self, kind, socket_)
            await socket_.send(json.dumps({"type": "history"})) if kind == "runs" else None
            if (said := json.loads(await asyncio.wait_for(socket_.recv(), 60))).get("type") != answer:
                raise RuntimeError(f"attendee {self.member}: the {kind} socket refused the session: {said}")

    def next_slide(self) -> int:
        return self.slide - 1 if self.slide > 1 else 2

    async def change(self, kind: str) -> None:
        """ "slide": move on a slide; "help": raise the hand; "low": once the server said it is up, lower it."""
        if kind == "slide":
            self.slide = self.next_slide()
            return await self.runs.send(json.dumps({"type": "progress", "slide": self.slide}))
        if kind == "help":
            return await self.room.send(json.dumps({"type": "help", "text": "stuck on this slide"}))
        for up in (True, False):  # the answer to "help", then the one to "help.lower"
            while True:
                said = json.loads(await asyncio.wait_for(self.room.recv(), CHANGE_TIMEOUT_S))
                if said["type"] == "help" and (said["hand"] is not None) == up:
                    break
            await self.room.send(json.dumps({"type": "help.lower"})) if up else None

    def shown(self, board: dict, kind: str) -> bool:
        """Whether `board` shows this attendee's change: the new slide, the hand up ("help") or down ("low")."""
        if kind == "slide":
            return any(row["id"] == self.member and row["slide"] == self.slide for row in board["roster"])
        return any(hand["member"] == self.member for hand in board["help"]) == (kind == "help")


def seed(args: argparse.Namespace, rng: random.Random) -> tuple[object, str, list[Page], int]:
    """The room, members, history (through the services where there are some): room, presenter key, pages, runs."""
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import transaction
    from django.utils import timezone

    from deck.selectors import deck_get
    from deck.services import presenter_grant, talk_get_or_create, talk_presenter_token
    from rooms.help import help_ask
    from rooms.services import room_join, room_open
    from sandbox.models import Attendee, Progress, Run, Sandbox
    from sandbox.progress import check_record_store, progress_slide_store

    deck, room = deck_get(slug=DECK), room_open(deck_slug=DECK, capacity=args.attendees)
    blocks = [block for slide in deck.slides for block in slide.blocks if block.runnable]
    checks = {check.check_id for slide in deck.slides for check in slide.checks}
    talk, presenter, members, pages = talk_get_or_create(deck_slug=DECK), SessionStore(), [], []
    presenter_grant(session=presenter, talk=talk, token=talk_presenter_token(talk=talk))  # the dashboard checks it
    presenter.save()
    for number in range(args.attendees):
        browser, name = SessionStore(), f"{FIRST[number % len(FIRST)]} {number + 1}"
        browser.save()  # saved, as the join page leaves it (tests/rooms/room_support.py)
        member, _ = room_join(code=room.code, name=name, session=browser)
        browser.save()
        members.append(member)
        pages.append(Page(str(member.id), browser.session_key))
    start, runs, moments, last_seen, stuck = timezone.now() - timedelta(minutes=100), [], [], {}, []
    with transaction.atomic():
        sandboxes = Sandbox.objects.bulk_create(
            Sandbox(attendee_id=m.attendee_id, backend="docker", status=rng.choices(("ready", "failed"), (97, 3))[0])
            for m in members
        )
        for member, page, sandbox in zip(members, pages, sandboxes, strict=True):
            at, done = start + timedelta(seconds=rng.uniform(0, 300)), history(rng, blocks)
            for block, status in done:
                at, ms = at + timedelta(seconds=rng.uniform(60, 330)), rng.randint(300, 40_000)
                said = next(rest for word, rest in FAILED if word == "*" or word in f"{block.run_kind} {block.text}")
                out = {"ok": OK_OUTPUT, "failed": said}.get(status, "").format(hex=rng.randbytes(32).hex(), n=ms % 60)
                runs.append(Run(
                    attendee_id=member.attendee_id, sandbox=sandbox, deck_slug=DECK, block_id=block.block_id,
                    slide=block.slide_number, block_index=block.index, kind=block.run_kind, code=block.text,
                    status=status, exit_code={"ok": 0, "failed": rng.choice([1, 1, 125, 127])}.get(status),
                    output=out, started_at=at, finished_at=at + timedelta(milliseconds=ms), duration_ms=ms,
                    error_message="The run took longer than 120 s and was stopped." if status == "timed_out" else "",
                    first_output_ms=rng.randint(40, 900),
                ))  # fmt: skip
                moments.append(at)
            page.slide = min(len(deck.slides), done[-1][0].slide_number + rng.choice([0, 0, 0, 1, 2]))
            progress_slide_store(attendee=member.attendee, slide=page.slide)
            last_seen[member.attendee_id] = at
            stuck += [(member, page)] if done[-1][1] != "ok" else []
            for block, status in done:
                if block.block_id in checks and rng.random() < 0.5:  # half of the steps' checks were clicked
                    passed = status == "ok" or rng.random() < 0.3
                    said = "Done." if passed else "Not yet: the check's command exited 1."
                    check_record_store(attendee=member.attendee, check_id=block.block_id, done=passed, message=said)
        for run, moment in zip(Run.objects.bulk_create(runs, batch_size=500), moments, strict=True):
            run.created_at = moment  # auto_now_add wrote "now" on insert
        Run.objects.bulk_update(runs, ["created_at"], batch_size=500)
        for attendee_id, moment in last_seen.items():  # each one active at their own pace
            Attendee.objects.filter(pk=attendee_id).update(last_seen_at=moment)
            Progress.objects.filter(pk=attendee_id).update(slide_at=moment)
        room.members.update(joined_at=start, admitted_at=start)
    rng.shuffle(stuck)
    others = [pair for pair in zip(members, pages, strict=True) if pair not in stuck]
    for member, page in (stuck + others)[: min(HANDS, len(members) // 2)]:  # the stuck ask first
        help_ask(member=member, text=rng.choice(HELP_WORDS))
        page.hand = True
    bench.say(f"room {room.code}: {len(pages)} attendees, {len(runs)} runs, {sum(p.hand for p in pages)} hands up")
    return room, presenter.session_key, pages, len(runs)


def board_figures(room) -> dict:
    """`room_board` timed in this process, and the plain read of the members, their slides and last runs."""
    from django.db import connection
    from django.db.models import OuterRef, Subquery
    from django.test.utils import CaptureQueriesContext

    from rooms.models import Member
    from rooms.roster import room_board
    from sandbox.models import Progress, Run

    def baseline() -> str:
        last = Run.objects.filter(attendee_id=OuterRef("attendee_id")).order_by("-created_at")
        fields = {f"last_{name}": Subquery(last.values(name)[:1]) for name in ("block_id", "status", "created_at")}
        people = room.members.filter(status__in=Member.IN_ROOM).annotate(**fields)
        people = list(people.values("id", "name", "status", "attendee_id", *fields))
        slides = list(Progress.objects.filter(attendee_id__in=[one["attendee_id"] for one in people]).values())
        return json.dumps({"people": people, "slides": slides}, default=str)

    room_board(room=room)  # the deck parsed and cached, the connection open: not counted
    with CaptureQueriesContext(connection) as queries:
        board = room_board(room=room)
    figures = {"board_bytes": len(json.dumps({"type": "board", **board})), "board_queries": len(queries)}
    for name, read in (("board_build", lambda: json.dumps(room_board(room=room))), ("baseline_rows", baseline)):
        seconds = timeit.repeat(read, "import gc; gc.enable()", number=1, repeat=BOARD_SAMPLES)  # gc on, as in use
        figures |= spread(f"{name}_ms_{{p}}", [second * 1000 for second in seconds])
    figures["board_vs_baseline"] = round(figures["board_build_ms_p50"] / figures["baseline_rows_ms_p50"], 2)
    bench.say(f"board: {figures}")
    return figures


async def board_first(socket_, since: float, test) -> float | None:
    """When the first "board" passing `test` (so sent after `since`) arrived; None after CHANGE_TIMEOUT_S."""
    try:
        async with asyncio.timeout(since + CHANGE_TIMEOUT_S - time.perf_counter()):
            while True:
                frame, at = await socket_.recv(), time.perf_counter()
                if (message := json.loads(frame)).get("type") == "board" and test(message):
                    return at
    except TimeoutError:
        return None


async def socket_phase(port: int, code: str, presenter: str, pages: list[Page], rng: random.Random) -> dict:
    waits, missing = [], 0
    dashboard = await bench.websocket_open(port=port, path=f"/ws/rooms/{code}/dashboard/", session_key=presenter)
    try:
        if await board_first(dashboard, time.perf_counter(), lambda board: board["roster"]) is None:
            raise RuntimeError("the dashboard sent no board of the room")
        for number, page in enumerate(pages):
            await asyncio.sleep(rng.uniform(0, 1.2))
            for kind in ("help", "low") if number % 2 else ("slide",):
                sent = time.perf_counter()
                await page.change(kind)
                at = await board_first(dashboard, sent, lambda board, page=page, kind=kind: page.shown(board, kind))
                missing += at is None
                if kind != "low":
                    waits += [(at - sent) * 1000] if at else []
                    bench.say(f"change {number + 1} ({kind}): {f'{waits[-1]:.0f} ms' if at else 'missing'}")
    finally:
        await dashboard.close()
    return spread("change_to_dashboard_ms_{p}", waits) | {"changes_missing": missing}


INIT_SCRIPT = """(() => {
  const b = (window.__bench = { want: WANT, rowsAt: null, rowsFrameAt: null, boards: [], longtasks: [], watch: null });
  const afterFrame = (done) => requestAnimationFrame(() => setTimeout(() => done(performance.now()), 0));
  new PerformanceObserver((list) => list.getEntries().forEach((e) => b.longtasks.push([e.startTime, e.duration])))
    .observe({ type: "longtask", buffered: true });
  const board = (e) => e.data.startsWith('{"type": "board"') && b.boards.push(performance.now());
  window.WebSocket = class extends window.WebSocket {  // a listener ahead of the page's: when a board arrives
    constructor(...args) { super(...args); this.addEventListener("message", board); }
  };
  const shows = (cells, w) => w.kind === "slide" ? cells[1].textContent === String(w.value)
    : w.kind === "help" ? cells[6].textContent.includes("raised") : cells[6].textContent === "";
  const check = (body, now = performance.now(), w = b.watch) => {
    if (b.rowsAt === null && body.children.length >= b.want) { b.rowsAt = now; afterFrame((t) => (b.rowsFrameAt = t)); }
    const tr = w && w.at === null ? body.querySelector(`tr[data-member="${w.id}"]`) : null;
    if (tr && tr.children.length > 6 && shows(tr.children, w)) {
      [w.at, w.board] = [now, b.boards.at(-1) ?? null];
      afterFrame((t) => (w.frameAt = t));
    }
  };
  const attach = new MutationObserver(() => {
    const body = document.getElementById("roster-body");
    if (!body) return;
    attach.disconnect();
    new MutationObserver(() => check(body)).observe(body, { childList: true, subtree: true });
  });
  attach.observe(document, { childList: true, subtree: true });
})();"""
WATCH = "([id, kind, value]) => { window.__bench.watch = { id, kind, value, at: null, board: null, frameAt: null }; }"
WATCHED = "(w => w.frameAt === null ? null : [w.at, w.board, w.frameAt, performance.timeOrigin])(window.__bench.watch)"
RENDERED = "(b => b.rowsFrameAt === null ? null : [b.rowsAt, b.rowsFrameAt])(window.__bench)"


async def page_until(page, expression: str, timeout_s: float):
    """`expression`'s first non-null value, polled (wait_for_function evals in the page: CSP refuses); None late."""
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        if (value := await page.evaluate(expression)) is not None:
            return value
        await asyncio.sleep(0.02)
    return None


async def browser_phase(port: int, code: str, presenter: str, pages: list[Page], rng: random.Random, rows: int) -> dict:
    from playwright.async_api import async_playwright

    origin, dom, frames, ends, missing = f"http://127.0.0.1:{port}", [], [], [], 0
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1366, "height": 768})
            await page.context.add_cookies([{"name": "sessionid", "value": presenter, "url": origin}])
            await page.add_init_script(INIT_SCRIPT.replace("WANT", str(rows)))
            response = await page.goto(f"{origin}/rooms/{code}/", wait_until="commit")
            if response is None or response.status != 200:
                raise RuntimeError(f"the dashboard page answered {response and response.status}")
            if (rendered := await page_until(page, RENDERED, 60)) is None:
                raise RuntimeError(f"the dashboard page did not show {rows} rows within 60 s")
            bench.say(f"browser: {rows} rows in the DOM {rendered[0]:.0f} ms after navigation start")
            await asyncio.sleep(1.0)
            began = await page.evaluate("performance.now()")
            for number, attendee in enumerate(pages):
                await asyncio.sleep(rng.uniform(0, 1.2))
                for kind in ("help", "low") if number % 2 else ("slide",):
                    await page.evaluate(WATCH, [attendee.member, kind, attendee.next_slide() if kind == "slide" else 0])
                    sent = time.time() * 1000
                    await attendee.change(kind)
                    seen = await page_until(page, WATCHED, CHANGE_TIMEOUT_S)
                    missing += seen is None
                    if kind != "low" and seen is not None and seen[1] is not None:
                        dom, frames = [*dom, seen[0] - seen[1]], [*frames, seen[2] - seen[1]]
                        ends.append(seen[3] + seen[0] - sent)
                        bench.say(f"browser change {number + 1} ({kind}): board → cell {dom[-1]:.1f} ms")
            ended, longtasks = await page.evaluate("[performance.now(), window.__bench.longtasks]")
        finally:
            await browser.close()
    figures = {"render_rows_ms": round(rendered[0], 1), "render_rows_frame_ms": round(rendered[1], 1)}
    figures |= spread("update_dom_ms_{p}", dom) | spread("update_frame_ms_{p}", frames)
    figures |= spread("update_end_to_end_ms_{p}", ends) | {"browser_changes_missing": missing}
    during = [duration for start, duration in longtasks if began <= start <= ended]
    figures |= {"update_longtasks": len(during), "update_longest_ms": round(max(during, default=0.0), 1)}
    figures["load_longest_ms"] = round(max((d for s, d in longtasks if s < began), default=0.0), 1)
    return figures


async def measure(port: int, room, presenter: str, pages: list[Page], args, rng: random.Random) -> dict:
    """The attendee pages needed opened first, then the socket phase and the browser phase (attendees of its own)."""
    choice = rng.sample(free := [page for page in pages if not page.hand], len(free))
    plan = [choice[n % len(choice)] for n in range(args.changes + (0 if args.no_browser else BROWSER_CHANGES))]
    opened = list({page.member: page for page in plan}.values())  # a small room: attendees come again
    for page in opened:  # one at a time: the clock has not started
        await page.open(port)
    bench.say(f"{len(opened)} attendee pages open; {args.changes} changes timed over the dashboard socket")
    try:
        figures = await socket_phase(port, room.code, presenter, plan[: args.changes], rng)
        if not args.no_browser:
            figures |= await browser_phase(port, room.code, presenter, plan[args.changes :], rng, len(pages))
    finally:
        await asyncio.gather(*(s.close() for page in opened for s in (page.runs, page.room)), return_exceptions=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attendees", type=int, default=200, help="members of the room (default 200)")
    parser.add_argument("--changes", type=int, default=40, help="changes timed over the dashboard socket (default 40)")
    parser.add_argument("--no-browser", action="store_true", help="skip the dashboard page in Chromium")
    args = parser.parse_args()
    started, load_before, rng = time.monotonic(), bench.load_average(), random.Random(1)
    support._terminate_on_sigterm()  # SIGTERM as an exception, so the cleanup below runs
    folder, daphne = Path(tempfile.mkdtemp(prefix="podium-bench-dashboard-")), None
    try:
        env = bench.server_env(folder=folder, slides=bench.ROOT / "slides")
        env |= {"PODIUM_PRESENTER_TOKEN": "", "PODIUM_INSTANCE": f"bench-dashboard-{rng.randbytes(4).hex()}"}
        bench.django_setup(env=env, migrate=True)
        room, presenter, pages, runs = seed(args, rng)
        figures = {"bench": "room_dashboard", "attendees": args.attendees, "changes": args.changes, "runs": runs}
        figures |= board_figures(room)
        daphne = bench.daphne_start(port=(port := bench.free_port()), env=env, log=folder / "daphne.log")
        figures |= asyncio.run(measure(port, room, presenter, pages, args, rng))
    except BaseException:
        bench.say(f"daphne's log ends:\n{bench.log_tail(folder / 'daphne.log')}")
        raise
    finally:
        bench.daphne_stop([daphne] if daphne else [])
        shutil.rmtree(folder, ignore_errors=True)
    figures |= {"load_average_before": load_before, "load_average": bench.load_average()}
    bench.figures_print(figures | {"elapsed_s": round(time.monotonic() - started, 1)})


if __name__ == "__main__":
    main()
