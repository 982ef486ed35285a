"""The agent's socket read as Docker sends it: frames cut anywhere still come out whole and in order (the
assembly of the agent's frames is agent_link's, which the Kubernetes agent uses too)."""

from __future__ import annotations

import random

from sandbox.backends.agent_link import HEADER, Agent
from sandbox.backends.docker_agent import DOCKER_HEADER, DockerLink, _docker_frames


class CutSocket:
    """A socket that returns `data` in pieces of random sizes, then the end."""

    def __init__(self, data: bytes, seed: int) -> None:
        self.data, self.random = data, random.Random(seed)

    def recv(self, size: int) -> bytes:
        piece = self.data[: min(size, self.random.randint(1, 5000))]
        self.data = self.data[len(piece) :]
        return piece


def docker_frame(stream: int, payload: bytes) -> bytes:
    return DOCKER_HEADER.pack(stream, len(payload)) + payload


def test_docker_frames_cut_anywhere_come_out_whole():
    frames = [(1 + n % 2, bytes([n % 251]) * (n * 37 % 9000)) for n in range(300)]
    wire = b"".join(docker_frame(stream, payload) for stream, payload in frames)
    for seed in range(5):
        assert list(_docker_frames(CutSocket(wire, seed))) == frames


def test_agent_frames_split_across_docker_frames_reach_their_runs_in_order():
    agent = Agent.__new__(Agent)  # only the reading half: no container
    got: list[tuple[int, int, bytes]] = []
    agent._dispatch = lambda number, kind, payload: got.append((number, kind, payload))
    agent._die = lambda why: got.append((0, -1, why.encode()))
    sent = [(1 + n % 3, 1 + n % 2, f"line {n}\n".encode() * (n % 50)) for n in range(400)]
    stream = b"".join(HEADER.pack(number, kind, len(payload)) + payload for number, kind, payload in sent)
    pieces, at, rng = [], 0, random.Random(7)
    while at < len(stream):  # Docker's frames cut the agent's stream anywhere
        size = rng.randint(1, 3000)
        pieces.append(docker_frame(1, stream[at : at + size]))
        at += size
    agent._link = DockerLink(CutSocket(b"".join(pieces), seed=3))
    agent._read()
    assert got == [*sent, (0, -1, b"its output ended")]
