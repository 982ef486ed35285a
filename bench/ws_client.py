"""A blocking websocket client that costs what a raw socket costs: for timing a server, not a client library.

bench/terminal_echo.py times a keystroke's echo through a websocket against a raw `docker exec -it` read from
a blocking socket. Timed through an asyncio client library, the websocket side also paid for the client's
event loop waking up, its frame parser and a future resolving, on every echo, and most after a pause; the
raw side paid for none of that. This client reads a websocket the way the raw side reads its exec: one
blocking `recv` into a buffer, a frame header of two to ten bytes parsed in place. A browser's websocket is
parsed in its network service's native code, nearer to this than to a Python library.

What it speaks (RFC 6455, client side): the opening handshake with the page's Origin and a cookie; masked
text and binary frames out; unmasked frames in, fragmented or not; a ping answered with a pong; a close frame
ends it (ConnectionError). No extensions are offered, so frames are never compressed.
"""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import struct

TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA
HANDSHAKE_MAX = 16384  # bytes of an HTTP response head; a server sending more is not the one under test


class LeanSocket:
    """One client websocket on a blocking TCP socket (`open` makes one)."""

    def __init__(self, sock: socket.socket, buffered: bytes = b"") -> None:
        self.sock = sock
        self.buffer = bytearray(buffered)

    @classmethod
    def open(cls, *, port: int, path: str, cookie: str | None = None, timeout: float = 60) -> LeanSocket:
        """Connect to ws://127.0.0.1:`port``path` as the page does (its Origin; `cookie` as the Cookie header).

        ConnectionError naming the status line when the server does not switch protocols.
        """
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        head = [
            f"GET {path} HTTP/1.1",
            f"Host: 127.0.0.1:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            f"Origin: http://127.0.0.1:{port}",
        ]
        if cookie:
            head.append(f"Cookie: {cookie}")
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = sock.recv(4096)
            if not chunk or len(response) > HANDSHAKE_MAX:
                sock.close()
                raise ConnectionError(f"the websocket handshake to {path} got no complete answer: {response[:200]!r}")
            response += chunk
        head_bytes, _, rest = response.partition(b"\r\n\r\n")
        status = head_bytes.split(b"\r\n", 1)[0].decode(errors="replace")
        if " 101 " not in f"{status} ":
            sock.close()
            raise ConnectionError(f"the websocket handshake to {path} was refused: {status}")
        return cls(sock, rest)

    def settimeout(self, seconds: float | None) -> None:
        self.sock.settimeout(seconds)

    def send(self, data: bytes | str) -> None:
        """One masked frame: binary for bytes, text for str."""
        opcode = TEXT if isinstance(data, str) else BINARY
        self._frame(opcode, data.encode() if isinstance(data, str) else data)

    def _frame(self, opcode: int, payload: bytes) -> None:
        size = len(payload)
        if size < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
        elif size < 1 << 16:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
        mask = os.urandom(4)
        keys = (mask * (size // 4 + 1))[:size]
        masked = (int.from_bytes(payload, "big") ^ int.from_bytes(keys, "big")).to_bytes(size, "big")
        self.sock.sendall(head + mask + masked)

    def _fill(self, wanted: int) -> None:
        while len(self.buffer) < wanted:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buffer += chunk

    def _read_frame(self) -> tuple[bool, int, bytes]:
        self._fill(2)
        first, second = self.buffer[0], self.buffer[1]
        size, start = second & 0x7F, 2
        if size == 126:
            self._fill(4)
            size, start = struct.unpack_from("!H", self.buffer, 2)[0], 4
        elif size == 127:
            self._fill(10)
            size, start = struct.unpack_from("!Q", self.buffer, 2)[0], 10
        if second & 0x80:
            raise ConnectionError("the server masked a frame (RFC 6455 forbids it)")
        self._fill(start + size)
        payload = bytes(self.buffer[start : start + size])
        del self.buffer[: start + size]
        return bool(first & 0x80), first & 0x0F, payload

    def recv(self) -> bytes | str:
        """The next message: bytes for binary, str for text. Pings are answered on the way."""
        parts: list[bytes] = []
        kind = None
        while True:
            final, opcode, payload = self._read_frame()
            if opcode == PING:
                self._frame(PONG, payload)
                continue
            if opcode == PONG:
                continue
            if opcode == CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                raise ConnectionError(f"the server closed the websocket (code {code})")
            if opcode in (TEXT, BINARY):
                kind = opcode
            parts.append(payload)
            if final:
                message = b"".join(parts)
                return message.decode() if kind == TEXT else message

    def close(self) -> None:
        """A close frame (1000), then the socket; errors of a connection already gone are ignored."""
        with contextlib.suppress(OSError):
            self._frame(CLOSE, struct.pack("!H", 1000))
        self.sock.close()
