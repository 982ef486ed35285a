"""Fixtures of the deck app's tests: a slides folder with the views demo deck (fixtures/views/)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from deck.services import talk_get_or_create, talk_presenter_token

VIEWS = Path(__file__).parent / "fixtures" / "views"  # views-demo.md and its picture, images/logo.png
VIEWS_SLUG = "views-demo"


@pytest.fixture
def logo_png() -> bytes:
    """The bytes of the demo deck's picture (a real 1x1 PNG), to compare with what the asset view serves."""
    return (VIEWS / "images" / "logo.png").read_bytes()


@pytest.fixture
def decks(settings, tmp_path: Path) -> Path:
    """A slides folder with the views demo deck, its image, and files next to it that must never be served."""
    folder = tmp_path / "slides"
    shutil.copytree(VIEWS, folder)
    picture = VIEWS / "images" / "logo.png"
    shutil.copy(picture, folder / "images" / ".hidden.png")
    (folder / "images" / "notes.txt").write_text("not an image", encoding="utf-8")
    shutil.copy(picture, tmp_path / "outside.png")
    settings.PODIUM_SLIDES_DIR = folder
    settings.PODIUM_PRESENTER_TOKEN = ""
    return folder


@pytest.fixture
def token(decks) -> str:
    """The presenter token of the demo deck's talk."""
    return talk_presenter_token(talk=talk_get_or_create(deck_slug=VIEWS_SLUG))
