"""Fuzzing both websockets (runs and follow) with what a browser never sends: bad JSON, wrong field types,
oversized frames, unknown types, binary frames.

Every such frame gets an error reply, the socket that sent it stays usable (a
valid message right after still works), and another attendee's run and
follow go on untouched while it happens. Hypothesis makes the frames; the
sockets are real (whole ASGI stack, real sessions, the LocalBackend double).
"""

from __future__ import annotations

import json

import pytest
from channels.testing import WebsocketCommunicator
from hypothesis import HealthCheck, example, given
from hypothesis import settings as fuzz_settings
from hypothesis import strategies as st

from sandbox.protocol import CLIENT_TYPES
from tests.sandbox.runs_support import SHELL, SLUG, WAIT, Page, follower, new_session, page, presenter_session

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("local_backend")]

FRAME_MAX = 65536  # PODIUM_WS_MESSAGE_MAX in these tests: room for deep nesting, oversized frames still cheap
SLIDES = 4  # the runs fixture deck's slide count
FOLLOW_TYPES = ("goto", "blackout")
FUZZ = fuzz_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

# Values of every JSON type; each field below takes those that are wrong for it.
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
_not_str = _json_values.filter(lambda v: not isinstance(v, str))
_unknown_type = st.one_of(_json_values, st.text(max_size=20)).filter(
    lambda v: v not in CLIENT_TYPES and v not in FOLLOW_TYPES
)


def _message(kind: str, **fields) -> st.SearchStrategy:
    return st.fixed_dictionaries({"type": st.just(kind), **fields})


# Runs socket: each client type with fields of the wrong type or naming nothing that exists
# ("reset" and "history" have no fields to get wrong).
RUNS_WRONG_FIELDS = st.one_of(
    _message("run", block=_not_str),
    _message("run", block=st.text(max_size=12).filter(lambda b: b not in {"s2b0", "s3b0"})),
    _message("run", block=st.just(SHELL), code=_not_str.filter(lambda v: v is not None)),
    _message("cancel", run=_json_values),
    _message("check", block=_json_values),
    _message("progress", slide=_json_values.filter(lambda v: isinstance(v, bool) or not isinstance(v, int) or v < 1)),
)
# Follow socket (as the presenter, so every field is validated): wrong types, slides the deck does not have.
FOLLOW_WRONG_FIELDS = st.one_of(
    _message("goto", slide=_json_values.filter(lambda v: isinstance(v, bool) or not isinstance(v, int))),
    _message("goto", slide=st.integers().filter(lambda n: n < 1 or n > SLIDES)),
    _message("blackout", on=_json_values.filter(lambda v: not isinstance(v, bool))),
)


def _frames(wrong_fields: st.SearchStrategy) -> st.SearchStrategy:
    """(text, bytes) frames a page never sends."""
    text = st.one_of(
        st.text(max_size=40).filter(lambda t: not _is_json(t)),  # not JSON at all
        st.just("[" * 100_000 + "]" * 100_000),  # nested deeper than the parser goes (and oversized)
        st.just("[" * 30_000 + "]" * 30_000),  # nested deeper than the parser goes, within the size cap
        _json_values.filter(lambda v: not isinstance(v, dict)).map(json.dumps),  # JSON, not an object
        st.fixed_dictionaries({"type": _unknown_type}).map(json.dumps),
        st.dictionaries(st.text(max_size=5).filter(lambda k: k != "type"), _json_values, max_size=3).map(json.dumps),
        wrong_fields.map(json.dumps),
        wrong_fields.map(lambda m: json.dumps({**m, "pad": "x" * FRAME_MAX})),  # oversized, otherwise fine
    )
    return st.one_of(text.map(lambda t: (t, None)), st.binary(max_size=40).map(lambda b: (None, b)))


def _known_hard(test):
    """Frames every run tries, whatever Hypothesis draws: deep nesting, empty frames, just over the cap."""
    for frame in [("[" * 30_000 + "]" * 30_000, None), ("", None), (None, b""), ("x" * (FRAME_MAX + 1), None)]:
        test = example(frame=frame)(test)
    return test


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


async def _send(socket: WebsocketCommunicator, frame: tuple[str | None, bytes | None]) -> None:
    # Straight to the application: the communicator's send_to refuses the empty frames a client may send.
    text, data = frame
    await socket.send_input(
        {"type": "websocket.receive", "text": text} if data is None else {"type": "websocket.receive", "bytes": data}
    )


@pytest.fixture
def small_frames(settings):
    settings.PODIUM_WS_MESSAGE_MAX = FRAME_MAX


@FUZZ
@given(frame=_frames(RUNS_WRONG_FIELDS))
@_known_hard
async def test_runs_socket_answers_every_bad_frame_and_goes_on(small_frames, frame):
    async with page(await new_session()) as me:
        await _send(me.socket, frame)
        answer = await me.socket.receive_json_from(timeout=WAIT)
        assert answer["type"] == "error" and answer["code"] in {"bad-request", "not-found", "not-runnable"}, answer
        assert isinstance(answer["message"], str) and answer["message"]
        await me.send(type="history")
        assert (await me.wait_for(lambda m: m["type"] in ("history", "error")))["type"] == "history"


@FUZZ
@given(frame=_frames(FOLLOW_WRONG_FIELDS))
@_known_hard
async def test_follow_socket_answers_every_bad_frame_and_goes_on(small_frames, frame):
    async with follower(await presenter_session(SLUG), slug=SLUG) as (presenter, hello):
        assert hello["type"] == "position"
        await _send(presenter, frame)
        answer = await presenter.receive_json_from(timeout=WAIT)
        assert answer["type"] == "error" and answer["code"] == "bad-request", answer
        await presenter.send_json_to({"type": "goto", "slide": 2})
        assert await presenter.receive_json_from(timeout=WAIT) == {"type": "position", "slide": 2, "live": True}


@fuzz_settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    runs_frames=st.lists(_frames(RUNS_WRONG_FIELDS), min_size=10, max_size=25),
    follow_frames=st.lists(_frames(FOLLOW_WRONG_FIELDS), min_size=10, max_size=25),
)
async def test_a_fuzzing_attendee_leaves_others_runs_and_follow_untouched(small_frames, runs_frames, follow_frames):
    """While one attendee (also holding the presenter's link) sends garbage, another's run streams to its end
    and their follow socket hears only the real moves."""
    fuzzer = await presenter_session(SLUG)
    victim_session, audience_session = await new_session(), await new_session()
    async with (
        page(victim_session) as victim,
        page(fuzzer) as bad_runs,
        follower(fuzzer, slug=SLUG) as (bad_follow, _),
        follower(audience_session, slug=SLUG) as (audience, _),
    ):
        run_id = await victim.start("for i in 1 2 3 4 5; do echo line$i; sleep 0.05; done")
        for frame in runs_frames:
            await _send(bad_runs.socket, frame)
        for frame in follow_frames:
            await _send(bad_follow, frame)
        # Each bad frame got its error, in order, and nothing else.
        for _ in runs_frames:
            assert (await bad_runs.socket.receive_json_from(timeout=WAIT))["type"] == "error"
        for _ in follow_frames:
            assert (await bad_follow.receive_json_from(timeout=WAIT))["type"] == "error"
        await bad_follow.send_json_to({"type": "goto", "slide": 3})
        assert await audience.receive_json_from(timeout=WAIT) == {"type": "position", "slide": 3, "live": True}
        assert await audience.receive_nothing(timeout=0.2)
        end = await victim.finished(run_id)
        assert end["status"] == "ok"
        assert victim.text(run_id) == "".join(f"line{i}\n" for i in range(1, 6))
        assert not [m for m in victim.log if m["type"] == "error"]
        assert await _usable(bad_runs)


async def _usable(me: Page) -> bool:
    end, _ = await me.run("echo fine")
    return me.text(end["run"]) == "fine\n"
