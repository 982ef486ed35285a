"""Ready-made websocket frames (config/frames.py): a binary frame sent as parts is the frame a websocket
client reads, and what a partial send leaves is exactly the rest, in order."""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from config.frames import _after, binary_frame, text_frame


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
    assert b"".join(binary_frame(head + data)) == text_frame(head + data)


def test_what_a_partial_send_leaves_is_the_rest_in_order():
    parts = (b"ab", b"cde", b"f")
    for sent in range(7):
        assert b"".join(_after(parts, sent)) == b"abcdef"[sent:]
    assert _after(parts, 2) == [b"cde", b"f"]  # whole parts are not copied
