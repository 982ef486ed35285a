"""Reads of the run pipeline: every read of a run takes the attendee."""

from __future__ import annotations

from django.contrib.sessions.backends.db import SessionStore

from sandbox.identity import attendee_for
from sandbox.runs import run_create
from sandbox.selectors import run_last_per_block
from tests.sandbox.runs_support import PYTHON, SHELL, SLUG, session_key


def test_history_shows_only_this_attendees_runs_of_this_deck(attendee):
    other = attendee_for(session=SessionStore(session_key=session_key()), deck_slug=SLUG, user=None)
    mine = run_create(attendee=attendee, deck_slug=SLUG, block_id=SHELL)
    run_create(attendee=other, deck_slug=SLUG, block_id=PYTHON)
    assert [r.id for r in run_last_per_block(attendee=attendee, deck_slug=SLUG)] == [mine.id]
    assert run_last_per_block(attendee=attendee, deck_slug="elsewhere") == []
