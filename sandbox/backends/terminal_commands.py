"""The in-sandbox half of the terminal: the `podium-shell` command lines both backends exec.

provision/workspace/podium-shell.c keeps one shell session per workspace (one PTY, and the last output in
memory), so a reload (a new socket) attaches to the same shell and gets its scrollback and screen again; this
module is the server's half of that protocol.

    podium-shell attach CLIENT KEEP   attach with a TTY (the session is made in the directory and with the
                                      exports runs left when there is none); KEEP as for detach, when the
                                      attach ends without one
    podium-shell watch CLIENT         follow the session's output read-only; exit 3 when there is no session
    podium-shell detach CLIENT KEEP   detach CLIENT; with nobody typing left, end the session KEEP seconds later
    podium-shell status               "SESSION TYPING WATCHING": 1/0, and how many attaches of each

Pure: nothing here talks to an engine or a cluster.
"""

from __future__ import annotations

import re

from sandbox.backends.base import TerminalRequest, TerminalStatus

TERMINAL = "/usr/local/bin/podium-shell"
# What the programs in the terminal are told they run on (xterm.js speaks xterm).
TERMINAL_ENV = {"TERM": "xterm-256color", "LANG": "C.UTF-8", "COLORTERM": "truecolor"}


def attach_environment(request: TerminalRequest) -> dict[str, str]:
    """The environment of an attach's exec: the terminal's type (the session's shell inherits it)."""
    return dict(TERMINAL_ENV)


def attach_command(request: TerminalRequest, *, link: str | None = None) -> list[str]:
    """The exec command (with a TTY) of one attach: typing, or read-only when the request watches.

    `link`: the path, inside the workspace, of a socket the server listens on (docker_link.py): a typing
    attach then hands it to the session, whose keys and output go over it instead of the TTY."""
    if request.watch:
        return [TERMINAL, "watch", safe_client(request.client)]
    return [TERMINAL, "attach", safe_client(request.client), _keep(request), *([link] if link else [])]


def detach_command(request: TerminalRequest) -> list[str]:
    """The exec command that detaches the request's attach and keeps the session `keep` seconds more."""
    return [TERMINAL, "detach", safe_client(request.client), _keep(request)]


def _keep(request: TerminalRequest) -> str:
    return str(max(0, int(request.keep)))


def status_command() -> list[str]:
    """The exec command that prints the session's status (see `status_parse`)."""
    return [TERMINAL, "status"]


def status_parse(output: str) -> TerminalStatus:
    """`podium-shell status`'s "SESSION TYPING WATCHING" line; no session when it says anything else."""
    parts = output.split()
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        return TerminalStatus()
    return TerminalStatus(session=parts[0] == "1", typing=int(parts[1]), watching=int(parts[2]))


def safe_client(client: str) -> str:
    """The client id as the script accepts it (letters, digits, dash, underscore); ValueError otherwise."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", client):
        raise ValueError(f"terminal client {client!r} may only hold letters, digits, '-' and '_'")
    return client
