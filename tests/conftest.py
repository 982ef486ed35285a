"""Shared fixtures: paths, and the environment every test runs in."""

from __future__ import annotations

from pathlib import Path

import pytest

# Docker fixtures (docker_client, docker_scope, base_images) and the test cluster's (cluster,
# cluster_namespace) for every test folder.
pytest_plugins = ["tests.docker_helpers", "tests.cluster.helpers"]

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"


@pytest.fixture
def artifacts_dir() -> Path:
    """Folder for screenshots and other files a person may want to look at after CI (git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
