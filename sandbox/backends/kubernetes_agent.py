"""Runs through a workspace pod's podium-agent: one exec of it per workspace pod and server process.

An exec per run costs a websocket through the API server and the kubelet, and a process start in the
container runtime, before the run's code begins. Instead, this process execs `podium-agent` once per
workspace pod with stdin open and keeps the exec's websocket; each run is then a line on the agent's stdin
(agent_link.py holds the protocol and the run bookkeeping, shared with the Docker backend). This module is
the Kubernetes carrier: the exec's channels, 0 the agent's stdin, 1 its stdout (the agent's frames, cut
anywhere), 2 its stderr, 3 how the exec ended. Writes and the reader thread share the websocket, as a
terminal's do (websocket-client locks sending and receiving apart).
"""

from __future__ import annotations

from collections.abc import Iterator

from websocket import ABNF

from sandbox.backends import kubernetes_spec as kspec
from sandbox.backends.agent_link import AGENT, Agent, AgentMissing
from sandbox.backends.kube_access import KubeAccess
from sandbox.backends.kubernetes_exec import ExecRefused, ExecSession, exec_open
from sandbox.errors import SandboxError

STDIN = 0


class KubernetesLink:
    """The agent's exec websocket: stdin written as channel 0 frames, output read as (channel, bytes)."""

    def __init__(self, session: ExecSession) -> None:
        self.session = session

    def chunks(self) -> Iterator[tuple[int, bytes]]:
        while True:
            frame = self.session.frame(timeout=None)  # a run may print nothing for minutes
            if frame is None:
                return
            yield frame

    def send(self, data: bytes) -> None:
        try:
            self.session.socket.send(bytes([STDIN]) + data, opcode=ABNF.OPCODE_BINARY)
        except OSError:
            raise
        except Exception as error:  # websocket-client raises its own kinds as well as OSError
            raise OSError(str(error)) from None

    def close(self) -> None:
        self.session.close()


def open_agent(kube: KubeAccess, namespace: str) -> Agent:
    """Exec the agent in the workspace pod of `namespace`; AgentMissing when it cannot be used (`gone` when the
    exec itself could not start: the pod is not there, or the API did not answer)."""
    try:
        session = exec_open(kube, namespace, kspec.WORKSPACE_CONTAINER, [AGENT], stdin=True)
    except (ExecRefused, SandboxError) as error:
        raise AgentMissing(str(error), gone=True) from None
    return Agent(KubernetesLink(session), namespace)
