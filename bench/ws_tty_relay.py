"""The least a websocket terminal in Python can be: a bare relay between one websocket and one raw TTY exec.

bench/terminal_echo.py starts this as a process of its own, as daphne is one, and times keystrokes through it
with the same client as through Podium's terminal: its echo time is the floor of any terminal that puts a
Python websocket server in front of `docker exec -it`, with nothing of Podium's (no sessions, no channel
layer, no flow control, no session holder in the workspace).

    .venv/bin/python bench/ws_tty_relay.py --container ID --port PORT --security MODE

Binary frames are typed into the exec's socket; text frames (the client's acks) are ignored; what the exec
prints goes back as binary frames, read on the event loop as it arrives. Prints "ready" once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import common as bench
from websockets.asyncio.server import serve as websocket_serve


async def relay(websocket, container: str, security: str) -> None:
    loop = asyncio.get_running_loop()
    raw = bench.tty_exec(bench.docker_api(), container, security=security)
    raw.setblocking(False)
    output: asyncio.Queue[bytes] = asyncio.Queue()

    def readable() -> None:
        try:
            data = raw.recv(65536)
        except BlockingIOError:
            return
        output.put_nowait(data)
        if not data:
            loop.remove_reader(raw.fileno())

    async def forward() -> None:
        while data := await output.get():
            await websocket.send(data)

    loop.add_reader(raw.fileno(), readable)
    sender = asyncio.create_task(forward())
    try:
        async for message in websocket:
            if isinstance(message, bytes):
                await loop.sock_sendall(raw, message)
    finally:
        sender.cancel()
        loop.remove_reader(raw.fileno())
        raw.close()


async def serve(container: str, port: int, security: str) -> None:
    async with websocket_serve(lambda ws: relay(ws, container, security), "127.0.0.1", port, compression=None):
        print("ready", flush=True)
        await asyncio.Future()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--container", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--security", required=True)
    args = parser.parse_args()
    bench.django_setup()
    try:
        asyncio.run(serve(args.container, args.port, args.security))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
