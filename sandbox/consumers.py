"""The runs websocket: Run, Cancel, Reset, Check, Catch me up and history from one attendee's page, and the output back.

Who is asking comes from the session cookie only (`sandbox.identity`); the
socket joins that attendee's group and nothing else, so it hears about their
runs and sandbox only. The work is done by `sandbox.runs`,
`sandbox.checks` and `sandbox.catch_up`; this consumer translates messages. The protocol, and every
message the server sends, is in `sandbox.protocol`.
"""

from __future__ import annotations

import asyncio
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.db import DatabaseError

from config.fanout import fanout_join, fanout_leave
from config.frames import binary_frame, frame_writer
from config.ratelimit import client_address
from config.websocket import DATABASE_BUSY, BadFrame, DirectDispatch, frame_json
from deck.errors import DeckFileError, DeckNotFound
from sandbox import protocol
from sandbox.admission import sandbox_admission_check
from sandbox.catch_up import catch_up_begin, catch_up_cancel, catch_up_refuse_runs, catch_up_spawn, catch_up_state
from sandbox.checks import check_find, check_run
from sandbox.errors import RunRefused
from sandbox.executor import db_background, db_long
from sandbox.groups import attendee_group, presenter_runs_group
from sandbox.identity import NoSession, attendee_for
from sandbox.limits import checks_rate_hit, sandboxes_rate_hit
from sandbox.models import Attendee
from sandbox.progress import progress_of, progress_slide_store
from sandbox.protocol import CLIENT_TYPES_SAID, CLOSE_NO_SESSION, CLOSE_NOT_FOUND
from sandbox.reconcile import runs_interrupted_mark_once, runs_lost_end
from sandbox.resets import sandbox_reset as sandbox_reset_start
from sandbox.runs import run_cancel, run_create, run_dispatch
from sandbox.selectors import presenter_runs_last, run_last_per_block
from sandbox.watchers import activity_tell_soon

log = logging.getLogger(__name__)

# A page reports every slide change; the database hears at most one a second per socket (the last one wins).
SLIDE_STORE_SECONDS = 1.0
SLIDE_STORE_TRIES = 5  # writes in a row the database may refuse before a slide is given up (the next report tries)

# Strong references to reset and check tasks, which outlive the socket that asked.
_background: set[asyncio.Task] = set()
# (attendee id, check id) of the checks running in this process: one at a time per step.
_checking: set[tuple[str, str]] = set()
# The events of the attendee's group that the page gets as they are (`sandbox.progress` is the setup status of
# the sandbox, see sandbox.protocol); RunConsumer.dispatch passes them on.
FORWARDED = frozenset(
    (
        "run.accepted",
        "run.started",
        "run.output",
        "run.finished",
        "sandbox.progress",
        "sandbox.reset",
        "check.result",
        "catchup.progress",
        "catchup.finished",
    )
)


class RunConsumer(DirectDispatch, AsyncJsonWebsocketConsumer):
    """One attendee's page of one deck, at /ws/decks/<slug>/runs/."""

    attendee: Attendee | None = None
    watching = ""  # the presenter's runs group this page watches, if it does
    _slide_wanted: int | None = None
    _slide_task: asyncio.Task | None = None

    async def connect(self) -> None:
        self.deck_slug = self.scope["url_route"]["kwargs"]["slug"]
        self.address = client_address(self.scope)
        # Accepted before anything else: the handshake never waits for a database thread (config.socket_user).
        # The page's first message ("history") is handled only once this returns, so it sees whatever
        # happened before the group was joined, and the group brings it everything after.
        await self.accept()
        try:
            self.attendee = await database_sync_to_async(attendee_for)(
                session=self.scope.get("session"), deck_slug=self.deck_slug, user=self.scope.get("user")
            )
        except NoSession:
            await self._refuse(
                CLOSE_NO_SESSION, "no-session", "This page has no Podium session: reload it (cookies must be allowed)."
            )
            return
        except (DeckNotFound, DeckFileError):
            await self._refuse(CLOSE_NOT_FOUND, "not-found", f"There is no deck called {self.deck_slug!r}.")
            return
        group = attendee_group(self.attendee.id)
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups.append(group)  # websocket_disconnect leaves it for us
        if not self.attendee.is_presenter:  # followers watch the presenter's runs (sandbox.broadcast)
            self.watching = presenter_runs_group(self.deck_slug)
            # One subscription per process (config.fanout); output goes as binary frames, like the attendee's own.
            await fanout_join(self.watching, self, render=protocol.frame_of)
        await runs_interrupted_mark_once()
        await db_long(runs_lost_end)(attendee=self.attendee)  # a run of theirs whose worker died ends now

    async def disconnect(self, code) -> None:
        if self.watching:
            await fanout_leave(self.watching, self)
            self.watching = ""

    async def _refuse(self, code: int, error: str, message: str) -> None:
        # A refusal says why in words, then closes.
        await self._error(error, message)
        await self.close(code=code)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs) -> None:
        # The base class would raise (and drop the socket) on a bad frame; answer it instead.
        if self.attendee is None:
            return
        try:
            content = frame_json(text_data=text_data, bytes_data=bytes_data)
        except BadFrame as exc:
            await self._error("bad-request", f'{exc.message} Send a JSON object with a "type": {CLIENT_TYPES_SAID}.')
            return
        await self.receive_json(content)

    async def receive_json(self, content: dict, **kwargs) -> None:
        try:
            await self._receive(content)
        except DatabaseError as error:  # answered where the page waits for it: the block, the check, the reset
            kind, block = content.get("type"), content.get("block")
            log.warning("runs socket: %s failed: the database refused (%s)", kind, error)
            if kind == "reset":
                await self.send_json(protocol.sandbox_reset(status="error", message=DATABASE_BUSY))
                return
            block = block if isinstance(block, str) else None
            await self._error(
                "unavailable",
                DATABASE_BUSY,
                block=block if kind == "run" else None,
                check=block if kind == "check" else None,
                catchup=kind in ("catchup", "catchup-cancel"),
            )

    async def _receive(self, content: dict) -> None:
        kind = content.get("type")
        if kind == "run":
            await self._run(content.get("block"), content.get("code"))
        elif kind == "cancel":
            await self._cancel(content.get("run"))
        elif kind == "reset":
            await self._reset()
        elif kind == "check":
            await self._check(content.get("block"))
        elif kind == "history":
            await self._history()
        elif kind == "progress":
            await self._slide(content.get("slide"))
        elif kind == "catchup":
            await self._catch_up(content.get("slide"))
        elif kind == "catchup-cancel":
            try:
                await catch_up_cancel(attendee=self.attendee)
            except RunRefused as exc:
                await self._error(exc.code, exc.message, catchup=True)
        else:
            await self._error("bad-request", f"Unknown message type {str(kind)[:40]!r}: send {CLIENT_TYPES_SAID}.")

    async def _history(self) -> None:
        runs = await database_sync_to_async(run_last_per_block)(attendee=self.attendee, deck_slug=self.deck_slug)
        stored = await database_sync_to_async(progress_of)(attendee=self.attendee)
        presenter = []
        if not self.attendee.is_presenter:
            presenter = await database_sync_to_async(presenter_runs_last)(deck_slug=self.deck_slug)
        catching_up = await database_sync_to_async(catch_up_state)(attendee=self.attendee)
        await self.send_json(
            protocol.history(
                runs=runs, slide=stored["slide"], checks=stored["checks"], presenter=presenter, catchup=catching_up
            )
        )

    async def _run(self, block: object, code: object) -> None:
        create = database_sync_to_async(run_create)
        kwargs = {"attendee": self.attendee, "deck_slug": self.deck_slug, "block_id": block, "code": code}
        try:
            await database_sync_to_async(catch_up_refuse_runs)(attendee=self.attendee)
            try:
                run = await create(**kwargs, address=self.address)
            except RunRefused as exc:
                # At the limit of runs at once because of runs whose worker died? End those, then try again.
                if exc.code != "limit" or not await db_long(runs_lost_end)(attendee=self.attendee):
                    raise
                run = await create(**kwargs, address=self.address)
        except RunRefused as exc:
            await self._error(exc.code, exc.message, block=block if isinstance(block, str) else None)
            return
        # Through the group, so every open page of this attendee shows the run, and before
        # dispatching, so "accepted" is always ahead of the run's own messages.
        await self.channel_layer.group_send(attendee_group(self.attendee.id), protocol.run_accepted(run=run))
        await run_dispatch(run=run)

    async def _reset(self) -> None:
        try:
            await database_sync_to_async(sandbox_admission_check)(attendee=self.attendee)
            await database_sync_to_async(sandboxes_rate_hit)(attendee=self.attendee, address=self.address)
        except RunRefused as exc:
            # Answered as a reset that did not happen, so the page's reset control shows it and stops waiting.
            await self.send_json(protocol.sandbox_reset(status="error", message=exc.message))
            return
        task = asyncio.create_task(sandbox_reset_start(attendee=self.attendee))
        _background.add(task)
        task.add_done_callback(_background.discard)

    async def _catch_up(self, slide: object) -> None:
        try:
            steps = await database_sync_to_async(catch_up_begin)(
                attendee=self.attendee, deck_slug=self.deck_slug, slide=slide, address=self.address
            )
        except RunRefused as exc:
            await self._error(exc.code, exc.message, catchup=True)
            return
        catch_up_spawn(attendee=self.attendee, steps=steps, address=self.address)

    async def _check(self, check_id: object) -> None:
        named = check_id if isinstance(check_id, str) else None
        try:
            check = await database_sync_to_async(check_find)(deck_slug=self.deck_slug, check_id=check_id)
            await database_sync_to_async(sandbox_admission_check)(attendee=self.attendee)
            await database_sync_to_async(checks_rate_hit)(attendee=self.attendee)
        except RunRefused as exc:
            await self._error(exc.code, exc.message, check=named)
            return
        key = (str(self.attendee.id), check.check_id)
        if key in _checking:
            await self._error("busy", "This step is being checked already; the answer is on its way.", check=named)
            return
        _checking.add(key)
        task = asyncio.create_task(check_run(attendee=self.attendee, check=check))
        _background.add(task)
        task.add_done_callback(_background.discard)
        task.add_done_callback(lambda _: _checking.discard(key))

    async def _slide(self, slide: object) -> None:
        if isinstance(slide, bool) or not isinstance(slide, int) or slide < 1:
            await self._error("bad-request", 'Say which slide: {"type": "progress", "slide": 7}.')
            return
        self._slide_wanted = slide
        if self._slide_task is None or self._slide_task.done():
            self._slide_task = asyncio.create_task(self._slide_store())
            _background.add(self._slide_task)
            self._slide_task.add_done_callback(_background.discard)

    async def _slide_store(self) -> None:
        # Stores the latest wanted slide, then waits; slides reported meanwhile are stored after the wait. A write
        # the database refused (locked past its busy timeout, or away) is tried again after the wait, a few times.
        stored, failures = None, 0
        while self._slide_wanted != stored and failures < SLIDE_STORE_TRIES:
            wanted = self._slide_wanted
            try:
                await db_background(progress_slide_store)(attendee=self.attendee, slide=wanted)
            except DatabaseError as error:
                failures += 1
                log.warning("storing the slide of attendee %s failed (%s): try %d", self.attendee.id, error, failures)
            else:
                stored, failures = wanted, 0
                activity_tell_soon(attendee=self.attendee, what="slide")
            await asyncio.sleep(SLIDE_STORE_SECONDS)

    async def _cancel(self, run_id: object) -> None:
        try:
            await run_cancel(attendee=self.attendee, run_id=run_id)
        except RunRefused as exc:
            await self._error(exc.code, exc.message)

    async def _error(
        self, code: str, message: str, *, block: str | None = None, check: str | None = None, catchup: bool = False
    ) -> None:
        await self.send_json(protocol.error(code=code, message=message, block=block, check=check, catchup=catchup))

    # -- events of the attendee's group, passed on as they are ----------------------------------
    async def dispatch(self, message: dict) -> None:
        # A forwarded event goes straight out (a fast run sends many); DirectDispatch: no database hop either way.
        kind = message.get("type")
        if kind in FORWARDED:
            if kind == "run.output":
                parts = protocol.output_frame_parts(message)
                writer = frame_writer(self.scope)  # straight onto daphne's connection, unjoined (config/frames.py)
                if writer is None or not writer.write(binary_frame(*parts)):
                    await self.send(bytes_data=b"".join(parts))
            else:
                await self.send_json(message)
            return
        await super().dispatch(message)
