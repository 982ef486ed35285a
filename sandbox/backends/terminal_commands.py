"""The in-sandbox half of the terminal: the `podium-terminal` command lines both backends exec.

provision/workspace/podium-terminal keeps one shell session per workspace (dtach, with a log of its output),
so a reload (a new socket) attaches to the same shell and gets its scrollback again; this module is the
server's half of that protocol.

    podium-terminal attach CLIENT        attach with a TTY (the session is made in the directory and with
                                         the exports runs left when there is none)
    podium-terminal watch CLIENT         follow the session's output read-only; exit 3 when there is no session
    podium-terminal detach CLIENT KEEP   detach CLIENT; with nobody left, end the session KEEP seconds later
    podium-terminal status               "SESSION TYPING WATCHING": 1/0, and how many attaches of each

Pure: nothing here talks to an engine or a cluster.
"""

from __future__ import annotations

import re

from sandbox.backends.base import TerminalRequest, TerminalStatus

TERMINAL = "/usr/local/bin/podium-terminal"
# What the programs in the terminal are told they run on (xterm.js speaks xterm).
TERMINAL_ENV = {"TERM": "xterm-256color", "LANG": "C.UTF-8", "COLORTERM": "truecolor"}


def attach_environment(request: TerminalRequest) -> dict[str, str]:
    """The environment of an attach's exec: the terminal's type, and the page's rows (so a reattach can scroll
    what it replays into the page's scrollback before the PTY has its size)."""
    return {**TERMINAL_ENV, "PODIUM_TERMINAL_ROWS": str(request.rows)}


def attach_command(request: TerminalRequest) -> list[str]:
    """The exec command (with a TTY) of one attach: typing, or read-only when the request watches."""
    return [TERMINAL, "watch" if request.watch else "attach", safe_client(request.client)]


def detach_command(request: TerminalRequest) -> list[str]:
    """The exec command that detaches the request's attach and keeps the session `keep` seconds more."""
    return [TERMINAL, "detach", safe_client(request.client), str(max(0, int(request.keep)))]


def status_command() -> list[str]:
    """The exec command that prints the session's status (see `status_parse`)."""
    return [TERMINAL, "status"]


def status_parse(output: str) -> TerminalStatus:
    """`podium-terminal status`'s "SESSION TYPING WATCHING" line; no session when it says anything else."""
    parts = output.split()
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        return TerminalStatus()
    return TerminalStatus(session=parts[0] == "1", typing=int(parts[1]), watching=int(parts[2]))


def safe_client(client: str) -> str:
    """The client id as the script accepts it (letters, digits, dash, underscore); ValueError otherwise."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", client):
        raise ValueError(f"terminal client {client!r} may only hold letters, digits, '-' and '_'")
    return client
