"""RunStream: one run's output from backend threads to the group, in order, batched, capped, characters kept whole."""

from __future__ import annotations

import asyncio
import threading

from sandbox.streaming import RunStream


class Sink:
    """Where a RunStream sends: a list, in order."""

    def __init__(self) -> None:
        self.events: list[dict] = []

    async def __call__(self, event: dict) -> None:
        self.events.append(event)

    def outputs(self) -> list[dict]:
        return [e for e in self.events if e["type"] == "run.output"]

    def text(self, stream: str | None = None) -> str:
        return "".join(e["data"] for e in self.outputs() if stream is None or e["stream"] == stream)


async def test_stream_keeps_order_across_streams_with_gapless_seq():
    sink = Sink()
    stream = RunStream(run_id="r1", send=sink, output_cap=1000)
    for name, data in [("stdout", b"a"), ("stderr", b"b"), ("stdout", b"c"), ("stdout", b"d")]:
        stream.output(name, data)
    await stream.close()
    assert [(e["stream"], e["data"]) for e in sink.outputs()] == [("stdout", "a"), ("stderr", "b"), ("stdout", "cd")]
    assert [e["seq"] for e in sink.outputs()] == [1, 2, 3] and stream.seq == 3
    assert all(e["run"] == "r1" for e in sink.outputs())
    assert stream.text() == "abcd"


async def test_stream_batches_small_chunks_and_splits_big_ones():
    sink = Sink()
    stream = RunStream(run_id="r", send=sink, output_cap=10**7, chunk_max=64 * 1024)
    for n in range(5000):
        stream.output("stdout", f"{n}\n".encode())
    stream.output("stdout", b"x" * 200_000)
    await stream.close()
    expected = "".join(f"{n}\n" for n in range(5000)) + "x" * 200_000
    assert sink.text() == expected
    assert len(sink.outputs()) < 100  # 5001 chunks did not become 5001 messages
    assert max(len(e["data"].encode()) for e in sink.outputs()) <= 64 * 1024


async def test_stream_from_threads_keeps_each_threads_order():
    sink = Sink()
    stream = RunStream(run_id="r", send=sink, output_cap=10**7)

    def write(name: str) -> None:
        for n in range(2000):
            stream.output(name, f"{name}{n}\n".encode())

    writers = [threading.Thread(target=write, args=(name,)) for name in ("stdout", "stderr")]
    for writer in writers:
        writer.start()
    await asyncio.to_thread(lambda: [writer.join() for writer in writers])
    await stream.close()
    for name in ("stdout", "stderr"):
        assert sink.text(name) == "".join(f"{name}{n}\n" for n in range(2000))
    assert [e["seq"] for e in sink.outputs()] == list(range(1, len(sink.outputs()) + 1))


async def test_stream_keeps_split_characters_whole_and_replaces_bad_bytes():
    sink = Sink()
    stream = RunStream(run_id="r", send=sink, output_cap=1000, interval=0)
    stream.output("stdout", b"caf\xc3")
    await asyncio.sleep(0.05)  # let the first half leave on its own
    stream.output("stdout", b"\xa9 \xff ")
    stream.output("stderr", b"\xe2\x82")  # cut off for good
    await stream.close()
    assert sink.text("stdout") == "café \ufffd "
    assert sink.text("stderr") == "\ufffd"


async def test_stream_caps_output_and_says_so():
    sink = Sink()
    stream = RunStream(run_id="r", send=sink, output_cap=10)
    stream.output("stdout", b"0123456")
    stream.output("stderr", b"789abc")
    stream.output("stdout", b"more")
    await stream.close()
    assert stream.truncated and stream.received == 10
    assert sink.text() == "0123456789" == stream.text()


async def test_stream_events_stay_between_the_output_around_them():
    sink = Sink()
    stream = RunStream(run_id="r", send=sink, output_cap=100)
    stream.setup_status("Creating your sandbox…")
    stream.output("stdout", b"before")
    stream.event({"type": "marker"})
    stream.output("stdout", b"after")
    await stream.close()
    assert [e["type"] for e in sink.events] == ["sandbox.progress", "run.output", "marker", "run.output"]


async def test_a_flood_from_a_thread_with_setup_status_between_arrives_whole_in_order():
    sink = Sink()
    stream = RunStream(run_id="r", send=sink, output_cap=10**8)

    def backend() -> None:
        for n in range(20_000):
            stream.output("stdout", f"{n}\n".encode())
            if n % 5000 == 0:
                stream.setup_status(f"status {n}")

    await asyncio.to_thread(backend)
    await stream.close()
    expected = "".join(f"{n}\n" for n in range(20_000))
    assert sink.text() == expected == stream.text()
    assert [e["seq"] for e in sink.outputs()] == list(range(1, len(sink.outputs()) + 1))
    # Each status sits where it was said: after the output of its line number, before the next.
    said = ""
    for event in sink.events:
        if event["type"] == "run.output":
            said += event["data"]
        else:
            n = int(event["message"].split()[1])
            assert said.endswith(f"\n{n}\n") or said == f"{n}\n"


async def test_what_is_stored_is_the_last_lines_up_to_stored_max_and_everything_is_still_sent():
    sink = Sink()
    stream = RunStream(run_id="r", send=sink, output_cap=10**8, stored_max=1000, chunk_max=300)
    lines = [f"line {n} é\n" for n in range(5000)]
    for line in lines:
        stream.output("stdout", line.encode())
    await stream.close()
    sent = "".join(lines)
    assert sink.text() == sent  # the page got all of it
    stored = stream.text()
    assert sent.endswith(stored) and len(stored.encode()) <= 1000
    assert stored.startswith("line ") and len(stored.encode()) > 1000 - len(lines[-1].encode())  # whole lines


async def test_stored_output_within_stored_max_is_whole_and_a_cut_never_splits_a_character():
    short = RunStream(run_id="r", send=Sink(), output_cap=100, stored_max=50)
    short.output("stdout", "ééé no newline".encode())
    await short.close()
    assert short.text() == "ééé no newline"
    long = RunStream(run_id="r", send=Sink(), output_cap=10_000, stored_max=7, chunk_max=2)
    long.output("stdout", "€€€€€€€€".encode())  # one line, 3 bytes a character
    await long.close()
    assert long.text() == "€€"  # 6 of the 7 bytes: the character cut at the start is left out
