"""The local registry mirror: naming rules (pure), and the real docker-registry on the bridge gateway."""

from __future__ import annotations

import json
import urllib.request

import pytest
from django.test import override_settings

from provision.registry import (
    RegistryError,
    mirror_repository,
    registry_address,
    registry_answers,
    registry_ensure,
    registry_fill,
    registry_mirror_url,
)

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"


@pytest.mark.parametrize(
    ("official", "served_as"),
    [
        ("python:3.11-slim", ("library/python", "3.11-slim")),
        ("mysql:8", ("library/mysql", "8")),
        ("docker.io/library/python:3.12", ("library/python", "3.12")),
        ("bitnami/redis:7.2", ("bitnami/redis", "7.2")),
        ("busybox", ("library/busybox", "latest")),
    ],
)
def test_mirror_repository_names_images_as_docker_hub_does(official, served_as):
    assert mirror_repository(official) == served_as


@pytest.mark.parametrize(
    ("official", "message"),
    [
        ("ghcr.io/owner/tool:1", "only Docker Hub images go through a registry mirror, not ghcr.io's"),
        ("localhost:5000/app:1", "not localhost:5000's"),
        ("python@sha256:" + "0" * 64, "a digest-pinned image cannot be served by the mirror"),
    ],
)
def test_images_a_docker_hub_mirror_cannot_serve_are_refused(official, message):
    with pytest.raises(RegistryError, match=message):
        mirror_repository(official)


def test_an_operator_mirror_setting_wins():
    with override_settings(PODIUM_REGISTRY_MIRROR="https://mirror.example.org"):
        assert registry_mirror_url() == "https://mirror.example.org"


@pytest.mark.docker
def test_the_mirror_listens_on_the_bridge_gateway(docker_client, settings):
    gateway = docker_client.api.inspect_network("bridge")["IPAM"]["Config"][0].get("Gateway") or "172.17.0.1"
    assert registry_address(client=docker_client) == f"{gateway}:{settings.PODIUM_REGISTRY_PORT}"
    assert registry_mirror_url(client=docker_client) == f"http://{gateway}:{settings.PODIUM_REGISTRY_PORT}"


@pytest.mark.docker
def test_registry_ensure_starts_it_once(docker_client):
    first: list[str] = []
    address = registry_ensure(progress=first.append)
    assert registry_answers(address)

    again: list[str] = []
    assert registry_ensure(progress=again.append) == address
    assert again == [f"registry mirror: answering at {address}"]


@pytest.mark.docker
def test_registry_fill_serves_the_deck_images_under_their_docker_hub_names(docker_client, base_images):
    from provision.images import image_for

    messages: list[str] = []
    served = registry_fill(progress=messages.append)

    address = registry_address(client=docker_client)
    assert served == [f"{address}/library/python:3.11-slim", f"{address}/library/mysql:8"]
    for official, repository, tag in (
        ("python:3.11-slim", "library/python", "3.11-slim"),
        ("mysql:8", "library/mysql", "8"),
    ):
        request = urllib.request.Request(
            f"http://{address}/v2/{repository}/manifests/{tag}", headers={"Accept": MANIFEST_V2}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            manifest = json.load(response)
        # the mirror serves exactly the image the host has (an image id is the digest of its config)
        assert manifest["config"]["digest"] == docker_client.images.get(image_for(official)).id
    # the temporary push names are gone from the host engine
    assert not [tag for image in docker_client.images.list() for tag in image.tags if tag.startswith("127.0.0.1:")]
