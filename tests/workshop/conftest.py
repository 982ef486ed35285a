"""Fixtures of the workshop app's tests: the views demo deck (shared with the deck app's tests) and a deck
of runnable and non-runnable blocks (fixtures/runs/), with the LocalBackend test double."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from deck.services import talk_get_or_create, talk_presenter_token

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
VIEWS = ROOT / "tests" / "deck" / "fixtures" / "views"  # views-demo.md and images/logo.png
VIEWS_SLUG = "views-demo"
RUNS_SLUG = "runs-views"


@pytest.fixture
def decks(settings, tmp_path: Path) -> Path:
    """A slides folder with the views demo deck and its picture (the deck app's fixture data)."""
    folder = tmp_path / "slides"
    shutil.copytree(VIEWS, folder)
    settings.PODIUM_SLIDES_DIR = folder
    settings.PODIUM_PRESENTER_TOKEN = ""
    return folder


@pytest.fixture
def token(decks) -> str:
    """The presenter token of the demo deck's talk."""
    return talk_presenter_token(talk=talk_get_or_create(deck_slug=VIEWS_SLUG))


@pytest.fixture
def runs_deck(decks, settings, tmp_path) -> str:
    """A deck with runnable and non-runnable blocks, and the LocalBackend test double (whose check passes)."""
    from sandbox.backends import backend_get

    shutil.copy(FIXTURES / "runs" / f"{RUNS_SLUG}.md", decks / f"{RUNS_SLUG}.md")
    settings.PODIUM_SANDBOX_BACKEND = "sandbox.backends.local.LocalBackend"
    settings.PODIUM_LOCAL_SANDBOX_ROOT = str(tmp_path / "sandboxes")
    backend_get.cache_clear()
    yield RUNS_SLUG
    backend_get.cache_clear()
