"""A Podium brought up by the README's Deploy command (scripts/compose-up.sh) under a project name of its own.

It shares the machine with the test session's own Podium, so it differs from a real deploy in three settings,
all through the environment compose reads: its proxy listens on a free loopback port, its registry mirror on
a port of its own (the session's mirror holds 5000), and its sandbox firewall is off, because the session's
`sandbox prepare` already installed the one firewall a host has (for the same subnet pool, so this stack's
sandboxes are inside it too).
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parents[2]
UP_TIMEOUT = 1800  # seconds: a first build on a fresh machine installs Debian packages in two images


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class ComposeStack:
    folder: Path
    project: str = field(default_factory=lambda: f"podium-e2e-{secrets.token_hex(3)}")
    port: int = field(default_factory=free_port)
    registry_port: int = field(default_factory=free_port)
    up_output: str = ""

    @property
    def instance(self) -> str:
        return self.project

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        gateway = docker.from_env().api.inspect_network("bridge")["IPAM"]["Config"][0].get("Gateway", "172.17.0.1")
        return {
            **os.environ,
            "PODIUM_ENV_FILE": str(self.folder / "podium.env"),
            "COMPOSE_PROJECT_NAME": self.project,
            "PODIUM_HTTP_BIND": f"127.0.0.1:{self.port}",
            "PODIUM_REGISTRY_PORT": str(self.registry_port),
            "PODIUM_REGISTRY_ADDR": f"{gateway}:{self.registry_port}",
            "PODIUM_INSTANCE": self.instance,
            "PODIUM_SANDBOX_FIREWALL": "0",
            "PODIUM_COMPOSE_WAIT": "300",
        }

    def up(self, *args: str) -> str:
        """scripts/compose-up.sh with `args`; its output (AssertionError with it when it fails)."""
        done = subprocess.run(
            ["scripts/compose-up.sh", *args],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=UP_TIMEOUT,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"compose-up.sh failed ({done.returncode}):\n{output[-4000:]}"
        self.up_output = output
        return output

    def compose(self, *args: str, timeout: float = 600) -> str:
        done = subprocess.run(
            ["docker-compose", "--env-file", str(self.folder / "podium.env"), *args],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, f"docker-compose {' '.join(args)} failed:\n{done.stdout}{done.stderr}"
        return done.stdout

    def logs_save(self, path: Path) -> None:
        """Every service's log so far into `path` (tests/artifacts), for a look after a failure."""
        path.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["docker-compose", "--env-file", str(self.folder / "podium.env"), "logs", "--no-color", "--timestamps"],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        path.write_text(done.stdout + done.stderr)

    def manage(self, *args: str) -> str:
        """`manage.py ARGS` in the first web container."""
        return self.compose("exec", "-T", "web", "python", "manage.py", *args)

    def web_addresses(self) -> list[str]:
        """Each web container's address on the stack's network (reachable from this host)."""
        return self.service_addresses("web")

    def service_addresses(self, service: str) -> list[str]:
        """Each container of `service`: its addresses on the stack's networks, sorted."""
        client = docker.from_env()
        found = client.containers.list(
            filters={"label": [f"com.docker.compose.project={self.project}", f"com.docker.compose.service={service}"]}
        )
        return sorted(
            network["IPAddress"] for c in found for network in c.attrs["NetworkSettings"]["Networks"].values()
        )

    def leftovers(self) -> list[str]:
        """Every container, network and volume of this stack or of its sandboxes still in the engine."""
        client = docker.from_env()
        labels = [f"com.docker.compose.project={self.project}", f"podium.instance={self.instance}"]
        names = []
        for label in labels:
            names += [f"container {c.name}" for c in client.containers.list(all=True, filters={"label": label})]
            names += [f"network {n.name}" for n in client.networks.list(filters={"label": label})]
            names += [f"volume {v.name}" for v in client.volumes.list(filters={"label": label})]
        return names


def http_get(url: str, *, host: str | None = None, cookie: str | None = None) -> tuple[int, Message, bytes]:
    """(status, headers, body) of a GET; `host` overrides the Host header (asking a container by address)."""
    request = urllib.request.Request(url)
    if host:
        request.add_header("Host", host)
    if cookie:
        request.add_header("Cookie", cookie)
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=60) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def session_cookie(headers: Message) -> str:
    """`sessionid=...` from a response's cookies."""
    for value in headers.get_all("Set-Cookie") or []:
        if value.startswith("sessionid="):
            return value.split(";", 1)[0]
    raise AssertionError(f"no session cookie in {headers.items()}")
