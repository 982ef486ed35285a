"""The terminal websocket protocol, /ws/decks/<slug>/terminal/: every message the server sends is built here.

One socket per open terminal panel; it speaks for the attendee of the page's session only, and attaches to
that attendee's own sandbox (nothing a client sends names a sandbox or an attendee). The presenter's
read-only view of an attendee's terminal (`rooms.terminal_consumers`, /ws/rooms/<code>/terminal/<member>/)
speaks the same protocol, minus typing.

Client -> server
  binary frame                         keystrokes or a paste, UTF-8, at most PODIUM_TERMINAL_INPUT_MAX bytes
  open      {"cols", "rows", "tab"}    start (first message): attach, creating the sandbox when needed; "tab"
                                       (optional, 8-64 of A-Z a-z 0-9 - _) names the browser tab: a tab's new
                                       socket takes the place of the attach its earlier socket still holds
  resize    {"cols", "rows"}           the panel's new size in characters: the PTY follows
  ack       {"bytes"}                  the page has shown that many more bytes of output (flow control: past
                                       PODIUM_TERMINAL_WINDOW unacknowledged bytes the server stops reading);
                                       sent once at least "ack_every" bytes (terminal.ready) are shown and not
                                       acknowledged yet, so a keystroke's echo costs no ack

Server -> client
  binary frame                         terminal output, raw bytes (may split a UTF-8 character: decode as a stream)
  terminal.status  {"message"}         a sentence while the sandbox is made
  terminal.ready   {"watching", "ack_every"}
                                       attached; "watching": how many read-only viewers (the presenter) it has;
                                       "ack_every": the bytes an ack may wait for (an eighth of the window)
  terminal.watched {"watching"}        that number changed
  terminal.size    {"cols", "rows"}    (watch sockets only) the watched terminal's size, before its first output
                                       and after each resize: draw at that size, as the attendee's screen is
  terminal.ended   {"reason", "message"}
                                       the end, then the socket closes (1000): reason "exited" (the shell ended
                                       or the sandbox went), "idle" (PODIUM_TERMINAL_IDLE without a keystroke)
                                       "refused" (a limit, no sandbox: the message says which) or "replaced"
                                       (a newer socket of the same tab took the attach over)
  error            {"code", "message"} a message refused; the terminal goes on

Closing the socket detaches: the shell session lives on for PODIUM_TERMINAL_KEEP seconds, and a new socket
within that time attaches to it again, scrollback included.
"""

from __future__ import annotations

CLIENT_TYPES_SAID = '"open", "resize", "ack" (and binary frames for keystrokes)'


def status(*, message: str) -> dict:
    """`terminal.status`: a setup sentence (the sandbox being made or started)."""
    return {"type": "terminal.status", "message": message}


def ready(*, watching: int, ack_every: int) -> dict:
    """`terminal.ready`: attached; `watching` read-only viewers; acks may wait for `ack_every` bytes."""
    return {"type": "terminal.ready", "watching": watching, "ack_every": ack_every}


def watched(*, watching: int) -> dict:
    """`terminal.watched`: the number of read-only viewers changed."""
    return {"type": "terminal.watched", "watching": watching}


def size(*, cols: int, rows: int) -> dict:
    """`terminal.size`: the watched terminal's size in characters."""
    return {"type": "terminal.size", "cols": cols, "rows": rows}


def ended(*, reason: str, message: str) -> dict:
    """`terminal.ended`: why the terminal is over; the socket closes after it."""
    return {"type": "terminal.ended", "reason": reason, "message": message}


def error(*, code: str, message: str) -> dict:
    """`error`: a refused message; the terminal goes on."""
    return {"type": "error", "code": code, "message": message}


def ended_message(reason: str, *, idle: float = 0, keep: float = 0) -> str:
    """The sentence for an end the page did not ask for."""
    if reason == "idle":
        return (
            f"The terminal closed after {_duration(idle)} without a keystroke. Your shell is kept for "
            f"{_duration(keep)}: open the terminal again to go on where you were."
        )
    if reason == "replaced":
        return (
            "This terminal was opened again from this browser tab (after a reconnect, or in a copy of the tab), "
            "so it closed here. Open the terminal again to get it back."
        )
    return "The terminal's shell ended (exit, or the sandbox was reset). Open the terminal again for a new one."


def _duration(seconds: float) -> str:
    if seconds >= 120:
        return f"{round(seconds / 60)} minutes"
    return f"{round(seconds)} seconds"
