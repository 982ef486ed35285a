"""Helpers of the KubernetesBackend tests (fixtures are in conftest.py): names, manifests, attendees."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from sandbox.backends.base import SandboxSpec
from tests.cluster.helpers import Cluster

ROOT = Path(__file__).resolve().parents[3]
TALK = "pytest-k8s-backend"
# Privileged containers fail on these machines (as `docker run --privileged` does); a CI whose cluster
# allows them sets PODIUM_SANDBOX_SECURITY and gets what it asked for.
# userns (the default) is the Docker backend's mode: the Docker sidecar here then uses capabilities.
SECURITY = os.environ.get("PODIUM_SANDBOX_SECURITY", "").replace("userns", "") or "capabilities"
MANIFESTS = ["db-config.yaml", "db-secret.yaml", "mysql-deployment.yaml", "mysql-service.yaml"] + [
    "12factor-deployment.yaml",
    "12factor-service.yaml",
    "12factor-dbinit-job.yaml",
]
SMALL_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: main
          image: podium-standin/debian:bookworm
          imagePullPolicy: IfNotPresent
          command: ["sleep", "infinity"]
          resources:
            limits: {{cpu: "{cpu}", memory: 64Mi}}
"""


@dataclass
class Attendee:
    spec: SandboxSpec
    state: dict

    @property
    def namespace(self) -> str:
        return self.state["namespace"]


def spec_new() -> SandboxSpec:
    return SandboxSpec(sandbox_id=uuid.uuid4().hex, attendee_id=uuid.uuid4().hex, talk=TALK)


def namespace_gone(admin: Cluster, namespace: str) -> bool:
    return admin.kubectl("get", "namespace", namespace, "--ignore-not-found", "-o", "name") == ""
