"""Podium as a service, end to end: the README's Deploy command brings up docker-compose.yml (two web
containers behind the proxy, a separate worker over Redis, MariaDB, the registry mirror), an attendee's
block runs in their own sandbox, a follower on one web container follows a presenter on the other, the data
survives `down` and `up`, and `down -v` leaves nothing of Podium's behind.

The tests run in file order on one stack; each names what a user would check.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import docker
import pytest
import websockets

from deck.parser import deck_parse
from sandbox.protocol import frame_read
from tests.deploy.compose_stack import ROOT, ComposeStack, free_port, http_get, session_cookie

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SLUG = "intro-docker-kubernetes"
WAIT = 120  # seconds for one websocket message; the first run creates the sandbox


def shell_block() -> str:
    """The id of the shipped deck's first shell block (an attendee may edit what it runs)."""
    deck = deck_parse(path=ROOT / "slides" / f"{SLUG}.md", slug=SLUG, include_root=ROOT)
    return next(b.block_id for s in deck.slides for b in s.blocks if b.runnable and b.run_kind == "shell")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = ComposeStack(folder=tmp_path_factory.mktemp("compose"))
    try:
        stack.up("--scale", "web=2")
        yield stack
    finally:  # PODIUM_COMPOSE_KEEP=1 keeps it for a look after a failure (docker-compose -p NAME down -v)
        stack.logs_save(ROOT / "tests" / "artifacts" / f"{stack.project}.log")
        if stack.leftovers() and not os.environ.get("PODIUM_COMPOSE_KEEP"):
            stack.compose("down", "-v", "--remove-orphans", timeout=900)


async def socket_to(base: str, path: str, cookie: str, origin: str):
    return await websockets.connect(
        base.replace("http", "ws", 1) + path, origin=origin, additional_headers={"Cookie": cookie}, open_timeout=60
    )


async def messages_until(socket_, predicate) -> list[dict]:
    seen = []
    while True:
        seen.append(frame_read(await asyncio.wait_for(socket_.recv(), WAIT)))
        if predicate(seen[-1]):
            return seen


async def run_block(stack: ComposeStack, cookie: str, code: str) -> tuple[str, dict]:
    """Run `code` as the shell block, through the proxy: (its output, its run.finished message)."""
    socket_ = await socket_to(stack.base_url, f"/ws/decks/{SLUG}/runs/", cookie, stack.base_url)
    async with socket_:
        await socket_.send(json.dumps({"type": "run", "block": shell_block(), "code": code}))
        seen = await messages_until(socket_, lambda m: m["type"] in ("run.finished", "error"))
    assert seen[-1]["type"] == "run.finished", seen[-3:]
    output = "".join(m["data"] for m in seen if m["type"] == "run.output")
    return output, seen[-1]


def attendee(stack: ComposeStack) -> str:
    status, headers, body = http_get(f"{stack.base_url}/decks/{SLUG}/")
    assert status == 200 and b"Run" in body
    return session_cookie(headers)


def test_the_deploy_command_says_where_podium_is_and_prints_the_presenter_link(stack):
    assert "Podium is ready" in stack.up_output
    assert re.search(rf"Presenter: \S+/decks/{SLUG}/presenter/\?token=\S+", stack.up_output), stack.up_output[-800:]
    assert len(stack.web_addresses()) == 2
    status, headers, _ = http_get(f"{stack.base_url}/static/podium/favicon.svg")
    assert status == 200 and "max-age" in headers["Cache-Control"]  # collected, served by WhiteNoise


async def test_an_attendee_runs_a_block_through_web_redis_worker_and_their_own_sandbox(stack):
    cookie = attendee(stack)
    output, finished = await run_block(stack, cookie, "echo $((6*7)); cat /etc/hostname")
    assert finished["exit_code"] == 0 and output.splitlines()[0] == "42", output
    sandboxes = docker.from_env().containers.list(filters={"label": f"podium.instance={stack.instance}"})
    assert [c.attrs["Config"]["Hostname"] for c in sandboxes] == [output.splitlines()[1].strip()]


async def test_a_sandbox_reaches_none_of_the_stack(stack):
    # Real attempts from inside an attendee's sandbox: each service's address, and the proxy's host port.
    targets = [(ip, 6379) for ip in stack.service_addresses("redis")]
    targets += [(ip, 3306) for ip in stack.service_addresses("db")]
    targets += [(ip, 8000) for ip in stack.web_addresses()]
    gateway = stack.env()["PODIUM_REGISTRY_ADDR"].split(":")[0]
    targets.append((gateway, stack.port))
    tries = "; ".join(
        f"timeout 3 bash -c '</dev/tcp/{ip}/{port}' 2>/dev/null && echo REACHED {ip}:{port} || echo blocked"
        for ip, port in targets
    )
    output, finished = await run_block(stack, attendee(stack), tries)
    assert finished["exit_code"] == 0
    assert output.count("blocked") == len(targets) and "REACHED" not in output, output


async def test_a_follower_on_one_web_container_follows_a_presenter_on_the_other(stack):
    first, second = stack.web_addresses()
    link = re.search(rf"Presenter: \S+(/decks/{SLUG}/presenter/\?token=\S+)", stack.up_output).group(1)
    origin = stack.base_url  # the page the browsers loaded, through the proxy
    status, headers, _ = http_get(f"http://{first}:8000{link}", host=f"127.0.0.1:{stack.port}")
    assert status in (200, 302)  # the link grants this browser the talk, then drops the token from the address
    presenter_cookie = session_cookie(headers)
    follower_cookie = attendee(stack)
    path = f"/ws/talks/{SLUG}/follow/"
    presenter = await socket_to(f"http://{first}:8000", path, presenter_cookie, origin)
    follower = await socket_to(f"http://{second}:8000", path, follower_cookie, origin)
    async with presenter, follower:
        hello = json.loads(await asyncio.wait_for(presenter.recv(), WAIT))
        assert hello.get("presenter") is True, hello
        await asyncio.wait_for(follower.recv(), WAIT)  # the current position, on connect
        await presenter.send(json.dumps({"type": "goto", "slide": 7}))
        seen = await messages_until(follower, lambda m: m.get("slide") == 7)
    assert seen[-1]["slide"] == 7


def test_https_on_the_proxy_with_the_tls_override(stack, tmp_path):
    # A self-signed certificate, as README "Deploy" says: chain then key in one file, and the override file.
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"]
        + ["-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    pem = tmp_path / "podium.pem"
    pem.write_bytes(cert.read_bytes() + key.read_bytes())
    https_port = free_port()
    os.environ.update(PODIUM_TLS_PEM=str(pem), PODIUM_HTTPS_BIND=f"127.0.0.1:{https_port}")
    try:
        stack.compose("-f", "docker-compose.yml", "-f", "deploy/compose/tls.yml", "up", "-d", "--scale", "web=2")
        context = ssl.create_default_context(cafile=str(cert))
        context.check_hostname = False
        url = f"https://127.0.0.1:{https_port}/decks/{SLUG}/"
        for _ in range(60):  # the recreated web containers become healthy, then the proxy starts
            try:
                with urllib.request.urlopen(url, context=context, timeout=10) as response:  # noqa: S310
                    assert response.status == 200 and b"Run" in response.read()
                    break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(2)
        else:
            raise AssertionError(f"{url} never answered")
    finally:
        for name in ("PODIUM_TLS_PEM", "PODIUM_HTTPS_BIND"):
            os.environ.pop(name, None)


def counts(stack: ComposeStack) -> dict:
    """How many runs, attendees, progress rows and rooms the stack's database holds."""
    code = (
        "import json; from sandbox.models import Attendee, Progress, Run; from rooms.models import Room; "
        "print(json.dumps({'runs': Run.objects.count(), 'attendees': Attendee.objects.count(), "
        "'progress': Progress.objects.count(), 'rooms': Room.objects.count()}))"
    )
    return json.loads(stack.manage("shell", "-c", code).strip().splitlines()[-1])


def test_rooms_progress_and_runs_survive_down_and_up(stack):
    before = counts(stack)
    assert before["runs"] >= 2 and before["attendees"] >= 2
    stack.compose("down", timeout=900)
    # Stopping the stack removed the sandboxes it made (PODIUM_SANDBOXES_ON_STOP=remove); volumes remain.
    assert all(not name.startswith(("container", "network")) for name in stack.leftovers()), stack.leftovers()
    stack.up("--scale", "web=2")
    assert counts(stack) == before


def test_down_v_leaves_no_container_network_or_volume(stack):
    asyncio.run(run_block(stack, attendee(stack), "echo again"))  # a sandbox exists again
    stack.compose("down", "-v", timeout=900)
    assert stack.leftovers() == []
