"""The runs websocket: Run, Cancel and Reset from one attendee's page, and the output streaming back.

Who is asking comes from the session cookie only (`sandbox.identity`); the
socket joins that attendee's group and nothing else, so it hears about their
runs and sandbox only. The work is done by `sandbox.services`; this consumer
translates messages.

client -> {"type": "run", "block": "s7b0", "code": optional edited text}
          {"type": "cancel", "run": "<uuid>"}   {"type": "reset"}   {"type": "history"}
          {"type": "check", "block": "s7b0"}   ("Check my work": the block's check, or "s7" for a slide's)
          {"type": "progress", "slide": 7}   (the slide this attendee is on; stored at most once a second)
server -> run.accepted, sandbox.progress, run.started, run.output (seq 1, 2, …), run.finished,
          sandbox.reset, history {"runs", "checks" {id: {done, message, at}}, "slide" (stored, or null)},
          check.result {"block", "done", "message"}, error {"code", "message", "block"?}
"""

from __future__ import annotations

import asyncio
import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from deck.errors import DeckFileError, DeckNotFound
from sandbox.checks import check_find, check_run
from sandbox.groups import attendee_group
from sandbox.identity import NoSession, attendee_for
from sandbox.models import Attendee, Run
from sandbox.progress import progress_of, progress_slide_store
from sandbox.reconcile import runs_interrupted_mark_once
from sandbox.selectors import run_last_per_block
from sandbox.services import (
    RunRefused,
    run_cancel,
    run_create,
    run_dispatch,
)
from sandbox.services import sandbox_reset as sandbox_reset_start

CLOSE_NO_SESSION = 4401
CLOSE_NOT_FOUND = 4404
MESSAGE_TYPES = '"run", "cancel", "reset", "history", "check" or "progress"'
# A page reports every slide change; the database hears at most one a second per socket (the last one wins).
SLIDE_STORE_SECONDS = 1.0

# Strong references to reset and check tasks, which outlive the socket that asked.
_background: set[asyncio.Task] = set()
# (attendee id, check id) of the checks running in this process: one at a time per step.
_checking: set[tuple[str, str]] = set()


def run_public(run: Run) -> dict:
    """What a page needs to show a stored run again after a reload (the edited code only when edited)."""
    return {
        "run": str(run.id),
        "block": run.block_id,
        "slide": run.slide,
        "index": run.block_index,
        "kind": run.kind,
        "status": run.status,
        "exit_code": run.exit_code,
        "duration_ms": run.duration_ms,
        "truncated": run.truncated,
        "output": run.output,
        "message": run.error_message,
        "edited": run.edited,
        "code": run.code if run.edited else None,
        "created_at": run.created_at.isoformat(),
    }


class RunConsumer(AsyncJsonWebsocketConsumer):
    """One attendee's page of one deck, at /ws/decks/<slug>/runs/."""

    attendee: Attendee | None = None
    _slide_wanted: int | None = None
    _slide_task: asyncio.Task | None = None

    async def connect(self) -> None:
        self.deck_slug = self.scope["url_route"]["kwargs"]["slug"]
        await self.accept()  # first, so a refusal can say why in words
        try:
            self.attendee = await database_sync_to_async(attendee_for)(
                session=self.scope.get("session"), deck_slug=self.deck_slug, user=self.scope.get("user")
            )
        except NoSession:
            await self._error("no-session", "This page has no Podium session: reload it (cookies must be allowed).")
            await self.close(code=CLOSE_NO_SESSION)
            return
        except (DeckNotFound, DeckFileError):
            await self._error("not-found", f"There is no deck called {self.deck_slug!r}.")
            await self.close(code=CLOSE_NOT_FOUND)
            return
        group = attendee_group(self.attendee.id)
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups.append(group)  # websocket_disconnect leaves it for us
        await runs_interrupted_mark_once()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs) -> None:
        # The base class would raise (and drop the socket) on a bad frame; answer it instead.
        if self.attendee is None:
            return
        try:
            content = json.loads(text_data) if text_data is not None else None
        except ValueError:
            content = None
        if not isinstance(content, dict):
            await self._error("bad-request", f'Send a JSON object with a "type": {MESSAGE_TYPES}.')
            return
        await self.receive_json(content)

    async def receive_json(self, content: dict, **kwargs) -> None:
        kind = content.get("type")
        if kind == "run":
            await self._run(content.get("block"), content.get("code"))
        elif kind == "cancel":
            await self._cancel(content.get("run"))
        elif kind == "reset":
            task = asyncio.create_task(sandbox_reset_start(attendee=self.attendee))
            _background.add(task)
            task.add_done_callback(_background.discard)
        elif kind == "check":
            await self._check(content.get("block"))
        elif kind == "history":
            runs = await database_sync_to_async(run_last_per_block)(attendee=self.attendee, deck_slug=self.deck_slug)
            stored = await database_sync_to_async(progress_of)(attendee=self.attendee)
            await self.send_json({"type": "history", "runs": [run_public(run) for run in runs], **stored})
        elif kind == "progress":
            await self._slide(content.get("slide"))
        else:
            await self._error("bad-request", f"Unknown message type {str(kind)[:40]!r}: send {MESSAGE_TYPES}.")

    async def _run(self, block: object, code: object) -> None:
        try:
            run = await database_sync_to_async(run_create)(
                attendee=self.attendee, deck_slug=self.deck_slug, block_id=block, code=code
            )
        except RunRefused as exc:
            await self._error(exc.code, exc.message, block=block if isinstance(block, str) else None)
            return
        # Through the group, so every open page of this attendee shows the run, and before
        # dispatching, so "accepted" is always ahead of the run's own messages.
        await self.channel_layer.group_send(
            attendee_group(self.attendee.id), {"type": "run.accepted", "run": str(run.id), "block": run.block_id}
        )
        await run_dispatch(run=run)

    async def _check(self, check_id: object) -> None:
        named = check_id if isinstance(check_id, str) else None
        try:
            check = await database_sync_to_async(check_find)(deck_slug=self.deck_slug, check_id=check_id)
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
        # Stores the latest wanted slide, then waits; slides reported meanwhile are stored after the wait.
        stored = None
        while self._slide_wanted != stored:
            stored = self._slide_wanted
            await database_sync_to_async(progress_slide_store)(attendee=self.attendee, slide=stored)
            await asyncio.sleep(SLIDE_STORE_SECONDS)

    async def _cancel(self, run_id: object) -> None:
        try:
            await run_cancel(attendee=self.attendee, run_id=run_id)
        except RunRefused as exc:
            await self._error(exc.code, exc.message)

    async def _error(self, code: str, message: str, *, block: str | None = None, check: str | None = None) -> None:
        error = {"type": "error", "code": code, "message": message}
        if block is not None:
            error["block"] = block[:40]
        if check is not None:  # an answer to "check": the page shows it at that step's "Check my work"
            error["check"] = check[:40]
        await self.send_json(error)

    # -- events of the attendee's group, passed on as they are ----------------------------------
    async def _forward(self, event: dict) -> None:
        await self.send_json(event)

    run_accepted = _forward
    run_started = _forward
    run_output = _forward
    run_finished = _forward
    sandbox_progress = _forward
    sandbox_reset = _forward
    check_result = _forward
