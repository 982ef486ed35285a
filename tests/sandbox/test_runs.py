"""The run pipeline without a websocket: validation and storage of a run, its end, failures said in words.

The same pipeline end to end, over the runs websocket, is in test_consumers.py.
"""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from sandbox.backends import backend_get
from sandbox.errors import RunRefused
from sandbox.models import Run
from sandbox.runs import run_create, run_finish
from tests.sandbox.runs_support import PYTHON, SHELL, SLUG, new_session, page


# -- validation and storage ---------------------------------------------------------------------
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


def test_code_with_a_nul_character_is_refused_naming_its_line(attendee):
    # bash would stop reading the line at NUL and run the rest cut short, without a word.
    with pytest.raises(RunRefused, match="NUL character.*on line 2") as refused:
        run_create(attendee=attendee, deck_slug=SLUG, block_id=SHELL, code="echo one\necho a\x00; rm -rf x\n")
    assert refused.value.code == "bad-request"
    assert not Run.objects.exists()


def test_the_first_end_of_a_run_wins(attendee):
    run = run_create(attendee=attendee, deck_slug=SLUG, block_id=SHELL)
    first = run_finish(run_id=str(run.id), status="cancelled", message="Cancelled: the process was stopped.")
    assert first is not None and first.duration_ms is not None
    assert run_finish(run_id=str(run.id), status="ok", exit_code=0, output="late") is None
    run.refresh_from_db()
    assert (run.status, run.output) == ("cancelled", "")


# -- failures a learner sees in words --------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
async def test_a_kind_the_backend_cannot_run_ends_in_an_error_sentence(local_backend):
    async with page(await new_session()) as me:
        end, _ = await me.run(block="s4b0")  # a Dockerfile: the local backend builds nothing
        assert end["status"] == "error" and end["exit_code"] is None
        assert end["message"] == "The local test backend runs shell and python blocks only, not build."


@pytest.mark.django_db(transaction=True)
async def test_a_misconfigured_backend_ends_the_run_with_what_is_wrong(local_backend, settings):
    settings.PODIUM_ENV = "development"  # the local backend now refuses to load
    backend_get.cache_clear()
    async with page(await new_session()) as me:
        end, _ = await me.run("echo never")
        assert end["status"] == "error"
        assert "not configured" in end["message"] and "PODIUM_ENV=test" in end["message"]
    settings.PODIUM_ENV = "test"
    assert await database_sync_to_async(Run.objects.filter(status="error").count)() == 1
