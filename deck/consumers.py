"""The follow websocket: the presenter moves a talk, every follower's screen snaps to it; and the live reload
websocket of an author's pages (`ReloadConsumer`, see `deck.live_reload`).

Every change goes through the channel layer group of the talk, so followers on
other worker processes (Redis layer) receive it too; each process subscribes to
that group once and hands every change to all its followers (`config.fanout`).
Who may drive is decided by `deck.services.presenter_allowed`; this consumer
only translates messages.
"""

from __future__ import annotations

import asyncio

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from config.fanout import fanout_join, fanout_leave
from config.websocket import BadFrame, DirectDispatch, frame_json
from deck.errors import DeckFileError, DeckNotFound
from deck.groups import talk_group
from deck.live_reload import RELOAD_POLL, reload_enabled, reload_state
from deck.services import (
    SlideOutOfRange,
    presenter_allowed,
    talk_blackout,
    talk_get,
    talk_goto,
)

CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
FORBIDDEN = "Only the presenter can move this talk."


class _NotPresenter(Exception):
    """The connection lost (or never had) the right to drive, e.g. after a token reset."""


def talk_message(event: dict) -> dict | None:
    """What a follower's page is sent for one of the talk group's events (rendered once per process)."""
    if event.get("type") == "talk.position":
        return {"type": "position", "slide": event["slide"], "live": event["live"]}
    if event.get("type") == "talk.blackout":
        return {"type": "blackout", "on": event["on"]}
    return None


class FollowConsumer(DirectDispatch, AsyncJsonWebsocketConsumer):
    """One browser following a talk (the presenter's browser included)."""

    following = False

    async def connect(self) -> None:
        self.talk_slug = self.scope["url_route"]["kwargs"]["slug"]
        self.group = talk_group(self.talk_slug)
        self.presenter = False
        await self.accept()
        # Join before reading the position: a goto landing between the two is then
        # still delivered, so a late joiner can never be left on a stale slide.
        await fanout_join(self.group, self, render=talk_message)
        self.following = True
        state = await self._join_state()
        if state is None:
            await self._unfollow()
            await self._error("not-found", f"There is no deck called {self.talk_slug!r}.")
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.presenter = state["presenter"]
        await self.send_json(
            {"type": "position", "slide": state["slide"], "live": state["live"], "presenter": self.presenter}
        )
        if state["blackout"]:
            await self.send_json({"type": "blackout", "on": True})

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs) -> None:
        # The base class would raise (and drop the socket) on a bad frame; answer it instead.
        try:
            content = frame_json(text_data=text_data, bytes_data=bytes_data)
        except BadFrame as exc:
            await self._error("bad-request", exc.message)
            return
        await self.receive_json(content)

    async def receive_json(self, content: dict, **kwargs) -> None:
        kind = content.get("type")
        if kind == "goto":
            await self._goto(content.get("slide"))
        elif kind == "blackout":
            await self._blackout(content.get("on"))
        else:
            await self._error("bad-request", f'Unknown message type {kind!r}: send "goto" or "blackout".')

    async def disconnect(self, code) -> None:
        await self._unfollow()

    async def _unfollow(self) -> None:
        if self.following:
            self.following = False
            await fanout_leave(self.group, self)

    async def _goto(self, slide: object) -> None:
        if not self.presenter:
            await self._error("forbidden", FORBIDDEN)
            return
        if isinstance(slide, bool) or not isinstance(slide, int):
            await self._error("bad-request", 'A goto needs "slide": a whole number.')
            return
        try:
            talk = await self._drive(talk_goto, slide=slide)
        except SlideOutOfRange as exc:
            await self._error("bad-request", exc.message)
            return
        if talk is None:
            return
        await self.channel_layer.group_send(
            self.group, {"type": "talk.position", "slide": talk.current_slide, "live": talk.live}
        )

    async def _blackout(self, on: object) -> None:
        if not self.presenter:
            await self._error("forbidden", FORBIDDEN)
            return
        if not isinstance(on, bool):
            await self._error("bad-request", 'A blackout needs "on": true or false.')
            return
        talk = await self._drive(talk_blackout, on=on)
        if talk is not None:
            await self.channel_layer.group_send(self.group, {"type": "talk.blackout", "on": talk.blackout})

    async def _drive(self, service, **kwargs):
        """Run a talk-changing service if this connection still may drive; None (after an error) if not."""
        try:
            # In a pool thread, not the one thread short database calls share: the presenter's move never
            # waits behind a room's queued calls.
            return await database_sync_to_async(self._drive_sync, thread_sensitive=False)(service, **kwargs)
        except _NotPresenter:
            self.presenter = False
            await self._error("forbidden", FORBIDDEN)
        except (DeckNotFound, DeckFileError):
            await self._error("not-found", f"The deck of talk {self.talk_slug!r} is no longer there.")
        return None

    def _drive_sync(self, service, **kwargs):
        # Re-checked against the stored talk on every move, so resetting the token
        # takes the wheel from a presenter that is already connected.
        talk = talk_get(slug=self.talk_slug)
        if not presenter_allowed(user=self.scope.get("user"), session=self.scope.get("session"), talk=talk):
            raise _NotPresenter
        return service(talk=talk, **kwargs)

    async def _join_state(self) -> dict | None:
        # In a pool thread, not the one thread short database calls share: a follower joining while a room's
        # runs queue their calls there sees the slide at once.
        return await database_sync_to_async(self._join_state_read, thread_sensitive=False)()

    def _join_state_read(self) -> dict | None:
        try:
            talk = talk_get(slug=self.talk_slug)
        except (DeckNotFound, DeckFileError):
            return None
        # scope["session"] is lazy: reading it hits the database, hence this thread.
        presenter = presenter_allowed(user=self.scope.get("user"), session=self.scope.get("session"), talk=talk)
        return {"slide": talk.current_slide, "live": talk.live, "presenter": presenter, "blackout": talk.blackout}

    async def _error(self, code: str, message: str) -> None:
        await self.send_json({"type": "error", "code": code, "message": message})


class ReloadConsumer(DirectDispatch, AsyncJsonWebsocketConsumer):
    """An author's open page of a deck, told when the deck file changes (`deck.live_reload`).

    Sends `{"type": "deck.version", "version", "errors"}` on connect and `{"type": "deck.changed", ...}`
    (the same fields) on each change; the page decides whether to reload. Closed with 4403 when live reload
    is off, 4404 for a deck that does not exist. Each connection looks at the file every RELOAD_POLL seconds.
    """

    watcher: asyncio.Task | None = None

    async def connect(self) -> None:
        self.slug = self.scope["url_route"]["kwargs"]["slug"]
        await self.accept()
        if not reload_enabled():
            await self.close(code=CLOSE_FORBIDDEN)
            return
        state = await sync_to_async(reload_state, thread_sensitive=False)(slug=self.slug)
        if state is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        await self.send_json({"type": "deck.version", **state})
        self.watcher = asyncio.create_task(self._watch(state["version"]))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs) -> None:
        """The page never needs to say anything; whatever it sends is ignored."""

    async def disconnect(self, code) -> None:
        if self.watcher is not None:
            self.watcher.cancel()

    async def _watch(self, version: str) -> None:
        while True:
            await asyncio.sleep(RELOAD_POLL)
            state = await sync_to_async(reload_state, thread_sensitive=False)(slug=self.slug)
            if state is not None and state["version"] != version:
                version = state["version"]
                await self.send_json({"type": "deck.changed", **state})
