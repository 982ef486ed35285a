"""The sandbox the Kubernetes spec tests build for, and what its objects are named and labelled (support module)."""

from __future__ import annotations

from sandbox.backends.base import SandboxSpec

SPEC = SandboxSpec(
    sandbox_id="0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    attendee_id="9a8b7c6d5e4f30211203f4e5d6c7b8a9",
    talk="intro-docker-kubernetes",
    instance="test",
)
NS = "podium-0f1e2d3c4b5a"
LABELS = {
    "podium.managed": "1",
    "podium.instance": "test",
    "podium.sandbox": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "podium.attendee": "9a8b7c6d5e4f30211203f4e5d6c7b8a9",
    "podium.talk": "intro-docker-kubernetes",
    "podium.backend": "kubernetes",
}
