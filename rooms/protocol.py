"""The rooms websockets' protocol: every message the server sends on them is built here.

Attendee page, /ws/decks/<slug>/room/ (the session's membership of the deck's open room)
  client -> server
    help        {"text"?}                 raise my hand (again: change its words)
    help.lower  {}                        lower my hand
  server -> client
    room        {"code", "name", "status", "hand"}   on connect: where I stand ("status" "none" outside a room)
    help        {"hand"}                  my hand's state: null, or {"id", "status", "text", "since"}
    note        {"text", "at"}            a note from the presenter (for me, my radar group, or everyone)
    room.closed {"message", "selfPaced"}  the room closed; whether the deck may go on self-paced
    room.left   {"message"}               I am no longer in the room (removed, or idle too long)
    error       {"code", "message"}

Presenter's dashboard, /ws/rooms/<code>/dashboard/ (presenter only)
  client -> server
    help.update   {"help", "status": "on-my-way" | "done"}
    note          {"text", "to": "all" | {"member"} | {"step", "line"}}
    member.reset  {"member"}              reset one attendee's sandbox
    member.remove {"member"}              remove an attendee from the room
    room.lock     {"on": bool}
    room.close    {}
    output        {"member", "step"}      one attendee's last output of a step (read-only)
  server -> client
    board   {"room", "roster", "radar", "help"}   the whole board (rooms.roster.room_board), whenever it changed
    output  {"member", "name", "step", "status", "exitCode", "output", "line"}
    done    {"action", "message"}         an action was done (said in words)
    error   {"code", "message"}           an action was refused; code one of ERROR_CODES
"""

from __future__ import annotations

from rooms.models import HelpRequest

ERROR_CODES = ("bad-request", "not-found", "forbidden", "refused", "unavailable")
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404


def hand_public(hand: HelpRequest | None) -> dict | None:
    if hand is None or hand.status not in HelpRequest.ACTIVE:
        return None
    return {"id": str(hand.id), "status": hand.status, "text": hand.text, "since": hand.created_at.isoformat()}


def room_state(*, code: str, name: str, status: str, hand: HelpRequest | None) -> dict:
    return {"type": "room", "code": code, "name": name, "status": status, "hand": hand_public(hand)}


def help_state(*, hand: HelpRequest | None) -> dict:
    return {"type": "help", "hand": hand_public(hand)}


def note(*, text: str, at: str) -> dict:
    return {"type": "note", "text": text, "at": at}


def room_closed(*, code: str, self_paced: bool) -> dict:
    then = "You can go on with the deck on your own." if self_paced else "Thank you for coming!"
    message = f"Room {code} is closed; your sandbox was removed and your progress kept. {then}"
    return {"type": "room.closed", "message": message, "selfPaced": self_paced}


def room_left(*, message: str) -> dict:
    return {"type": "room.left", "message": message}


def board(board: dict) -> dict:
    return {"type": "board", **board}


def done(*, action: str, message: str) -> dict:
    return {"type": "done", "action": action, "message": message}


def error(*, code: str, message: str) -> dict:
    return {"type": "error", "code": code, "message": message}
