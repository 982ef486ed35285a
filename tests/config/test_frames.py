"""Ready-made websocket frames (config/frames.py): a binary frame sent as parts is the frame a websocket
client reads, and what a partial send leaves is exactly the rest, in order."""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from config.frames import _after, _small_binary, binary_frame, message_frame


def read_frame(data: bytes) -> Frame:
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        return done.value
    raise AssertionError("the frame was not complete")


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 300_000])
def test_a_binary_frame_in_parts_is_the_frame_a_client_reads(size):
    head, data = b'{"type": "run.output", "seq": 1}\n', bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    frame = read_frame(b"".join(binary_frame(head, data)))
    assert (frame.opcode, frame.fin, frame.data) == (Opcode.BINARY, True, head + data)
    assert b"".join(binary_frame(head + data)) == message_frame(head + data)


def test_what_a_partial_send_leaves_is_the_rest_in_order():
    parts = (b"ab", b"cde", b"f")
    for sent in range(7):
        assert b"".join(_after(parts, sent)) == b"abcdef"[sent:]
    assert _after(parts, 2) == [b"cde", b"f"]  # whole parts are not copied


def client_frame(opcode: Opcode, data: bytes, *, fin: bool = True) -> bytes:
    """The bytes a websocket client sends for one frame: masked, as RFC 6455 requires of clients."""
    return Frame(opcode, data, fin=fin).serialize(mask=True, extensions=[])


@pytest.mark.parametrize("size", [1, 3, 4, 5, 64, 125])
def test_a_keystrokes_frame_is_read_as_the_client_sent_it(size):
    data = bytes(range(size))
    assert _small_binary(client_frame(Opcode.BINARY, data)) == data


def test_anything_but_one_small_final_masked_binary_frame_is_left_to_autobahn():
    key = client_frame(Opcode.BINARY, b"k")
    unmasked = Frame(Opcode.BINARY, b"k").serialize(mask=False, extensions=[])
    for what, data in {
        "text": client_frame(Opcode.TEXT, b"k"),
        "a fragment": client_frame(Opcode.BINARY, b"k", fin=False),
        "unmasked": unmasked,
        "empty": client_frame(Opcode.BINARY, b""),
        "126 bytes": client_frame(Opcode.BINARY, b"x" * 126),
        "two frames": key + key,
        "a part of one": key[:-1],
        "a ping": client_frame(Opcode.PING, b"k"),
    }.items():
        assert _small_binary(data) is None, what
