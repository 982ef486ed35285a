"""The terminal socket on the Kubernetes backend, on the test cluster: an exec with a TTY in the attendee's
workspace pod, where runs left off; resize; a new socket finds the same shell with its scrollback."""

from __future__ import annotations

import pytest

from tests.sandbox.runs_support import new_session, page
from tests.sandbox.terminal_support import terminal

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.cluster, pytest.mark.docker, pytest.mark.slow]


async def test_the_terminal_works_on_kubernetes(local_backend, kubernetes_backend):
    me = await new_session()
    async with page(me) as runs:
        end, _ = await runs.run("cd /tmp && export FROM_RUN=yes")
        assert end["status"] == "ok", runs.text(end["run"])
    async with terminal(me, cols=100, rows=30) as term:
        assert await term.command("echo $((6*7)) $FROM_RUN", r"^(42 yes)$") == "42 yes"
        assert await term.command("pwd", r"^(/\S*)$") == "/tmp"
        assert await term.command("tput cols", r"^(\d+)$") == "100"
        await term.send(type="resize", cols=61, rows=20)
        # On Kubernetes the size (channel 4) and the keystrokes (channel 0) take separate paths in the kubelet,
        # which resizes the TTY through its runtime after the fact, as for `kubectl exec -it`: a command typed
        # right after may still see the old size. The terminal follows within a few commands.
        seen = [await term.command("tput cols", r"^(\d+)$") for _ in range(5)]
        assert seen[-1] == "61", seen
        await term.command("seq -f kube-%g 50; export MINE=kept", r"^(kube-50)$")
    async with terminal(me) as term:
        await term.until_text(r"^kube-3$")
        assert await term.command("echo $MINE", r"^(kept)$") == "kept"
    other = await new_session()
    async with terminal(other) as term:  # another attendee: another pod, another shell
        assert await term.command('echo "[$MINE]"', r"^(\[.*\])$") == "[]"
