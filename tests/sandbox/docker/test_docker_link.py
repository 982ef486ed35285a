"""The workspace's link folder: the agent's output and the terminal's keys and output reach the server over a
socket of the host's, not through the engine; a workspace without one still runs code and opens terminals; and the
attendee can do nothing with the folder but use it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import time
from dataclasses import replace

import pytest

from sandbox.backends.base import TerminalRequest
from sandbox.backends.docker import DockerBackend
from sandbox.backends.docker_agent import DockerLink
from sandbox.backends.docker_link import LINK_MOUNT, SocketLink
from tests.sandbox.backend_runs import run
from tests.sandbox.docker.helpers import config_for, spec_new

pytestmark = pytest.mark.docker

LINES = 300_000
EXPECTED = "".join(f"{number}\n" for number in range(1, LINES + 1))


def agent_of(backend: DockerBackend, state: dict):
    return backend._agents.get(state["container"], lambda: pytest.fail("no agent was opened"))


def test_runs_reach_the_server_over_the_link_folder_whole_and_in_order(backend, make_sandbox):
    _, state = make_sandbox()
    folder = backend._links.root / state["container"]

    ran = run(backend, state, f"seq 1 {LINES}; echo done >&2; exit 7", output_cap=8 * 1024 * 1024)

    assert isinstance(agent_of(backend, state)._link, SocketLink)
    stdout = b"".join(data for stream, data in ran.chunks if stream == "stdout").decode()
    assert hashlib.sha256(stdout.encode()).hexdigest() == hashlib.sha256(EXPECTED.encode()).hexdigest()
    assert (ran.result.exit_code, ran.result.truncated) == (7, False)
    assert b"".join(data for stream, data in ran.chunks if stream == "stderr") == b"done\n"
    assert os.listdir(folder) == []  # the agent's socket is removed once it connected


def test_a_workspace_made_without_a_link_folder_still_runs_through_the_engine(make_sandbox, prepared, tmp_path):
    # As a workspace created before link folders (or by a server with PODIUM_SANDBOX_LINKS empty), found by a
    # server that has them: the agent finds no socket where it is told, and speaks over its exec.
    without = DockerBackend(config=replace(config_for(), links=""))
    spec = spec_new()
    state = without.ensure(spec=spec, state={}, progress=lambda message: None)
    try:
        linked = DockerBackend(config=replace(config_for(), links=str(tmp_path)))
        (tmp_path / state["container"]).mkdir()

        ran = run(linked, state, "echo still; exit 4")

        assert (ran.output, ran.result.exit_code) == ("still\n", 4)
        assert isinstance(agent_of(linked, state)._link, DockerLink)
        assert os.listdir(tmp_path / state["container"]) == []  # its socket is gone all the same
    finally:
        without.destroy(state=state)


def test_the_attendee_cannot_write_to_the_link_folder_nor_reach_the_host_through_it(backend, make_sandbox):
    _, state = make_sandbox()
    folder = backend._links.root / state["container"]
    attempts = {
        "write": f"touch {LINK_MOUNT}/planted",
        "symlink": f"ln -s /var/run/docker.sock {LINK_MOUNT}/docker.sock",
        "remount": f"mount -o remount,rw {LINK_MOUNT}",
        "remount bind": f"mount -o remount,bind,rw {LINK_MOUNT}",
    }
    for what, attempt in attempts.items():
        ran = run(backend, state, f"{attempt}; echo exit=$?")
        assert "exit=" in ran.output and not ran.output.rstrip().endswith("exit=0"), (what, ran.output)
    # Mounting over it is allowed in the attendee's own namespaces, and harmless: it hides the folder from the
    # attendee alone; nothing written there reaches the host, and a new agent speaks through the engine.
    hidden = run(backend, state, f"mount -t tmpfs none {LINK_MOUNT} && touch {LINK_MOUNT}/planted; echo exit=$?")
    assert hidden.output.endswith("exit=0\n"), hidden.output
    assert os.listdir(folder) == []
    backend._agents.forget(state["container"])
    after = run(backend, state, "echo after")
    assert (after.output, after.result.exit_code) == ("after\n", 0)
    assert isinstance(agent_of(backend, state)._link, DockerLink)


def test_a_workspace_sees_no_other_workspaces_link_folder(backend, make_sandbox):
    _, mine = make_sandbox()
    _, theirs = make_sandbox()
    run(backend, theirs, "echo theirs")  # its agent's socket came and went in its own folder
    (backend._links.root / theirs["container"] / "theirs-only").write_text("secret")
    assert "No such file" in run(backend, mine, f"cat {LINK_MOUNT}/theirs-only 2>&1").output
    assert (backend._links.root / mine["container"]).stat().st_mode & 0o777 == 0o711  # and not listed
    found = run(backend, mine, "find / -path /proc -prune -o -name theirs-only -print 2>/dev/null; echo end")
    assert found.output == "end\n"


def _screen_until(terminal, pattern: str, wait: float = 30) -> str:
    """What the terminal printed, read until `pattern` is found in it (a test failure after `wait` seconds)."""
    seen, deadline = b"", time.monotonic() + wait
    terminal.raw_socket().settimeout(1)
    while not re.search(pattern, _lines(seen), re.M):
        assert time.monotonic() < deadline, f"{pattern!r} never came; the terminal showed {seen[-400:]!r}"
        with contextlib.suppress(TimeoutError):
            seen += terminal.read()
    return _lines(seen)


def _lines(screen: bytes) -> str:
    """The terminal's bytes as lines of text: escape sequences out, a carriage return starting a line."""
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.decode(errors="replace"))
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _typed(terminal, line: str, pattern: str) -> str:
    terminal.write(line.encode() + b"\r")
    return re.search(pattern, _screen_until(terminal, pattern), re.M).group(1)


def test_a_terminal_speaks_over_the_link_folder_and_follows_resizes(backend, make_sandbox):
    _, state = make_sandbox()
    terminal = backend.terminal_open(state=state, request=TerminalRequest(client="linked", cols=91, rows=25))
    try:
        assert terminal.linked
        assert terminal.raw_socket().getsockname().startswith(str(backend._links.root))  # this host's socket
        assert _typed(terminal, "echo $((6*7))", r"^(42)\s*$") == "42"
        assert _typed(terminal, "tput cols", r"^(\d+)\s*$") == "91"
        terminal.resize(cols=57, rows=20)
        assert _typed(terminal, "echo size=$(tput cols)x$(tput lines)", r"^size=(\d+x\d+)\s*$") == "57x20"
        assert os.listdir(backend._links.root / state["container"]) == []  # the socket was taken and removed
    finally:
        terminal.close()
    # A new attach gets the same shell and what it printed, over a link of its own.
    again = backend.terminal_open(state=state, request=TerminalRequest(client="linked-again"))
    try:
        assert again.linked
        _screen_until(again, r"^size=57x20")
    finally:
        again.close()


def test_an_attach_that_fails_after_linking_says_why_over_the_link(backend, make_sandbox):
    # The attach connects to the link first thing; a failure after that (here: the session's lock file cannot
    # be opened, for a folder stands in its place) used to go to the exec's TTY, which nobody reads then.
    _, state = make_sandbox()
    assert run(backend, state, "mkdir -p /root/.podium/terminals/session.lock").result.exit_code == 0
    terminal = backend.terminal_open(state=state, request=TerminalRequest(client="failing"))
    try:
        assert terminal.linked
        said = _screen_until(terminal, r"^podium-shell: locking .*session\.lock: Is a directory$")
        assert "podium-shell" in said
        terminal.raw_socket().settimeout(10)
        assert terminal.read() == b""  # and then the terminal ends
    finally:
        terminal.close()


def test_a_terminal_in_a_workspace_without_a_link_folder_speaks_through_the_engine(prepared, tmp_path):
    without = DockerBackend(config=replace(config_for(), links=""))
    state = without.ensure(spec=spec_new(), state={}, progress=lambda message: None)
    try:
        linked = DockerBackend(config=replace(config_for(), links=str(tmp_path)))
        (tmp_path / state["container"]).mkdir()
        terminal = linked.terminal_open(state=state, request=TerminalRequest(client="unlinked", cols=77))
        try:
            assert not terminal.linked
            engine = terminal.raw_socket()  # the engine's socket, not one of the link folder's
            assert engine.family != socket.AF_UNIX or not engine.getsockname().startswith(str(tmp_path))
            assert _typed(terminal, "tput cols", r"^(\d+)\s*$") == "77"
        finally:
            terminal.close()
        assert os.listdir(tmp_path / state["container"]) == []  # its socket is gone all the same
    finally:
        without.destroy(state=state)
