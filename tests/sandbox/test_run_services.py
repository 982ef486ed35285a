"""The run pipeline's services without a websocket: block kinds, validation, the output stream, ends of runs."""

from __future__ import annotations

import asyncio
import threading

import pytest
from channels.db import database_sync_to_async
from django.contrib.sessions.backends.db import SessionStore
from django.core.exceptions import ImproperlyConfigured

from deck.model import CodeBlock
from sandbox.backends import backend_get
from sandbox.backends.local import LocalBackend
from sandbox.identity import attendee_for
from sandbox.models import Run
from sandbox.selectors import run_last_per_block
from sandbox.services import RunRefused, run_create, run_finish, run_kind_for
from sandbox.streaming import RunStream
from tests.sandbox.runs_support import (
    LOCAL,
    PYTHON,
    SHELL,
    SLUG,
    local_backend,  # noqa: F401 (fixture)
    new_session,
    page,
    runs_deck,  # noqa: F401 (fixture)
)


def block(lexer: str | None, action: str | None, runnable: bool = True) -> CodeBlock:
    return CodeBlock(slide_number=1, index=0, lexer=lexer, text="x", html="", line=1, runnable=runnable, action=action)


@pytest.mark.parametrize(
    ("lexer", "action", "kind"),
    [
        ("bash", "Run", "shell"),
        ("sh", "Run", "shell"),
        ("console", "Run", "shell"),
        ("shell", "Run", "shell"),
        ("python", "Run", "python"),
        ("Python3", "Run", "python"),
        ("docker", "Build", "build"),
        ("yaml", "Apply", "apply"),
        ("sql", "Query", "sql"),
        ("ruby", "Run", None),  # runnable by an option, but nothing knows how to run it
        (None, "Run", None),
    ],
)
def test_run_kind_follows_the_blocks_action_and_lexer(lexer, action, kind):
    assert run_kind_for(block=block(lexer, action)) == kind


def test_a_block_that_is_not_runnable_has_no_kind():
    assert run_kind_for(block=block("bash", "Run", runnable=False)) is None


def test_the_local_backend_refuses_to_load_outside_tests(settings):
    settings.PODIUM_ENV = "development"
    with pytest.raises(ImproperlyConfigured, match="no isolation.*PODIUM_ENV=test"):
        LocalBackend()
    settings.PODIUM_SANDBOX_BACKEND = LOCAL
    backend_get.cache_clear()
    try:
        with pytest.raises(ImproperlyConfigured, match="PODIUM_ENV=test"):
            backend_get()
    finally:
        backend_get.cache_clear()


# -- the output stream -------------------------------------------------------------------------
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
    stream.progress("Creating your sandbox…")
    stream.output("stdout", b"before")
    stream.event({"type": "marker"})
    stream.output("stdout", b"after")
    await stream.close()
    assert [e["type"] for e in sink.events] == ["sandbox.progress", "run.output", "marker", "run.output"]


# -- validation and storage ---------------------------------------------------------------------
@pytest.fixture
def attendee(db, runs_deck):  # noqa: F811
    session = SessionStore()
    session["seen"] = True
    session.save()
    return attendee_for(session=session, deck_slug=SLUG, user=None)


def test_run_create_stores_where_the_block_is_and_what_it_runs(attendee):
    run = run_create(attendee=attendee, deck_slug=SLUG, block_id=PYTHON)
    assert (run.status, run.kind, run.slide, run.block_index) == ("queued", "python", 3, 0)
    assert run.code == 'print("hello from python")' and run.edited is False
    same = run_create(attendee=attendee, deck_slug=SLUG, block_id=SHELL, code="echo hello from the deck")
    assert same.edited is False and same.kind == "shell"


def test_run_create_refuses_a_deck_the_attendee_is_not_on(attendee):
    with pytest.raises(RunRefused) as refused:
        run_create(attendee=attendee, deck_slug="another-deck", block_id=SHELL)
    assert refused.value.code == "not-found"


def test_code_limit_counts_bytes_not_characters(attendee, settings):
    settings.PODIUM_RUN_CODE_MAX = 10
    run_create(attendee=attendee, deck_slug=SLUG, block_id=SHELL, code="é" * 5)  # 10 bytes
    with pytest.raises(RunRefused, match="12 bytes long.*at most 10 bytes"):
        run_create(attendee=attendee, deck_slug=SLUG, block_id=SHELL, code="é" * 6)


def test_the_first_end_of_a_run_wins(attendee):
    run = run_create(attendee=attendee, deck_slug=SLUG, block_id=SHELL)
    first = run_finish(run_id=str(run.id), status="cancelled", message="Cancelled: the process was stopped.")
    assert first is not None and first.duration_ms is not None
    assert run_finish(run_id=str(run.id), status="ok", exit_code=0, output="late") is None
    run.refresh_from_db()
    assert (run.status, run.output) == ("cancelled", "")


def test_history_shows_only_this_attendees_runs_of_this_deck(attendee):
    other = attendee_for(session=_saved_session(), deck_slug=SLUG, user=None)
    mine = run_create(attendee=attendee, deck_slug=SLUG, block_id=SHELL)
    run_create(attendee=other, deck_slug=SLUG, block_id=PYTHON)
    assert [r.id for r in run_last_per_block(attendee=attendee, deck_slug=SLUG)] == [mine.id]
    assert run_last_per_block(attendee=attendee, deck_slug="elsewhere") == []


def _saved_session() -> SessionStore:
    session = SessionStore()
    session["seen"] = True
    session.save()
    return session


# -- failures a learner sees in words --------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
async def test_a_kind_the_backend_cannot_run_ends_in_an_error_sentence(local_backend):  # noqa: F811
    async with page(await new_session()) as me:
        end, _ = await me.run(block="s4b0")  # a Dockerfile: the local backend builds nothing
        assert end["status"] == "error" and end["exit_code"] is None
        assert end["message"] == "The local test backend runs shell and python blocks only, not build."


@pytest.mark.django_db(transaction=True)
async def test_a_misconfigured_backend_ends_the_run_with_what_is_wrong(local_backend, settings):  # noqa: F811
    settings.PODIUM_ENV = "development"  # the local backend now refuses to load
    backend_get.cache_clear()
    async with page(await new_session()) as me:
        end, _ = await me.run("echo never")
        assert end["status"] == "error"
        assert "not configured" in end["message"] and "PODIUM_ENV=test" in end["message"]
    settings.PODIUM_ENV = "test"
    assert await database_sync_to_async(Run.objects.filter(status="error").count)() == 1
