"""Decks from PODIUM_SLIDES_DIR: list, get by slug, the cache, and the image files a deck may serve."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from deck.errors import DeckFileError, DeckNotFound
from deck.selectors import deck_asset_path, deck_get, deck_list

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def slides_dir(tmp_path, settings):
    folder = tmp_path / "slides"
    shutil.copytree(FIXTURES / "decks", folder)
    settings.PODIUM_SLIDES_DIR = folder
    settings.PODIUM_INCLUDE_ROOT = FIXTURES / "include_root"
    return folder


def touch_later(path: Path) -> None:
    """Move the file's mtime forward, as an editor saving it a moment later would."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))


def test_deck_list_is_every_md_file_sorted_by_name(slides_dir):
    (slides_dir / "notes.txt").write_text("not a deck")
    decks = deck_list()
    assert [deck.slug for deck in decks] == ["broken", "workshop"]
    assert decks[1].title == "A small workshop"


def test_deck_list_leaves_out_a_file_that_is_not_utf8(slides_dir):
    (slides_dir / "latin.md").write_bytes(b"# caf\xe9\n")
    assert [deck.slug for deck in deck_list()] == ["broken", "workshop"]


def test_deck_list_of_a_missing_folder_is_empty(settings, tmp_path):
    settings.PODIUM_SLIDES_DIR = tmp_path / "nowhere"
    assert deck_list() == []


def test_deck_get_by_slug(slides_dir):
    deck = deck_get(slug="workshop")
    assert deck.path == slides_dir / "workshop.md"
    assert len(deck.slides) == 4
    assert '<img alt="a dot" src="/decks/workshop/assets/images/dot.svg" />' in deck.slides[1].html


@pytest.mark.parametrize("slug", ["nope", "../decks/workshop", "images/dot", ".hidden", ""])
def test_deck_get_unknown_slug(slides_dir, slug):
    with pytest.raises(DeckNotFound):
        deck_get(slug=slug)


def test_deck_get_of_an_undecodable_file_says_why(slides_dir):
    (slides_dir / "latin.md").write_bytes(b"# caf\xe9\n")
    with pytest.raises(DeckFileError, match="not UTF-8"):
        deck_get(slug="latin")


def test_deck_get_is_cached_until_the_file_changes(slides_dir):
    first = deck_get(slug="workshop")
    assert deck_get(slug="workshop") is first
    path = slides_dir / "workshop.md"
    path.write_text(path.read_text().replace("# A small workshop", "# A renamed workshop"))
    touch_later(path)
    second = deck_get(slug="workshop")
    assert second is not first
    assert second.title == "A renamed workshop"


def test_deck_get_reparses_when_an_included_file_changes(tmp_path, settings):
    root = tmp_path / "root"
    (root / "app").mkdir(parents=True)
    (root / "app" / "run.sh").write_text("echo one\n")
    folder = tmp_path / "slides"
    folder.mkdir()
    (folder / "inc.md").write_text("# T\n\n    !bash file=app/run.sh\n\nand\n\n    !bash file=app/later.sh\n")
    settings.PODIUM_SLIDES_DIR = folder
    settings.PODIUM_INCLUDE_ROOT = root
    first = deck_get(slug="inc")
    assert first.slides[0].blocks[0].text == "echo one"
    assert deck_get(slug="inc") is first
    (root / "app" / "run.sh").write_text("echo two, longer\n")
    touch_later(root / "app" / "run.sh")
    assert deck_get(slug="inc").slides[0].blocks[0].text == "echo two, longer"
    # A missing include that appears counts as a change too.
    assert [p.message for p in deck_get(slug="inc").problems] == ["include file app/later.sh not found"]
    (root / "app" / "later.sh").write_text("echo later\n")
    assert deck_get(slug="inc").problems == []


def test_deck_asset_path_serves_images_the_deck_shows(slides_dir):
    assert deck_asset_path(slug="workshop", relpath="images/dot.svg") == (slides_dir / "images" / "dot.svg").resolve()


@pytest.mark.parametrize(
    "relpath", ["images/gone.png", "../slides/workshop.md", "/etc/passwd", "workshop.md", "images/../broken.md"]
)
def test_deck_asset_path_refuses_anything_else(slides_dir, relpath):
    with pytest.raises(DeckNotFound):
        deck_asset_path(slug="workshop", relpath=relpath)


def test_deck_asset_path_refuses_an_image_the_deck_does_not_show(slides_dir):
    shutil.copy(slides_dir / "images" / "dot.svg", slides_dir / "images" / "other.svg")
    with pytest.raises(DeckNotFound):
        deck_asset_path(slug="workshop", relpath="images/other.svg")
