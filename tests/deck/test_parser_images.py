"""Images next to the deck file: checked, rewritten to the asset URL, or inlined for the offline export."""

from __future__ import annotations

import shutil
from pathlib import Path

from deck.parser import deck_parse

DOT = Path(__file__).parent / "fixtures" / "decks" / "images" / "dot.svg"


def deck_with(tmp_path: Path, text: str, **kwargs):
    (tmp_path / "images").mkdir(exist_ok=True)
    shutil.copy(DOT, tmp_path / "images" / "dot.svg")
    path = tmp_path / "talk.md"
    path.write_text(text, encoding="utf-8")
    return deck_parse(path=path, include_root=tmp_path, **kwargs)


def test_relative_image_is_rewritten_to_the_asset_url(tmp_path):
    deck = deck_with(tmp_path, "# T\n\n![a dot](images/dot.svg)\n", asset_url="/decks/talk/assets/")
    assert '<img alt="a dot" src="/decks/talk/assets/images/dot.svg" />' in deck.slides[0].html
    assert deck.assets == ["images/dot.svg"]
    assert deck.problems == []


def test_dot_segments_are_resolved_against_the_deck_folder(tmp_path):
    deck = deck_with(tmp_path, "# T\n\n![x](./images/../images/dot.svg)\n", asset_url="/a/")
    assert 'src="/a/images/dot.svg"' in deck.slides[0].html


def test_without_asset_url_the_source_stays_as_written(tmp_path):
    assert 'src="images/dot.svg"' in deck_with(tmp_path, "# T\n\n![x](images/dot.svg)\n").slides[0].html


def test_missing_image_is_a_warning_with_its_line(tmp_path):
    deck = deck_with(tmp_path, "# One\n\n---\n\n# Two\n\nsome text\n\n![gone](images/gone.png)\n", asset_url="/a/")
    assert [(p.line, p.level, p.message) for p in deck.problems] == [(9, "warning", "image images/gone.png not found")]
    assert deck.assets == []


def test_image_outside_the_deck_folder_is_a_warning(tmp_path):
    deck = deck_with(tmp_path, "# T\n\n![x](../elsewhere.png)\n")
    assert [(p.line, p.message) for p in deck.problems] == [
        (3, "image ../elsewhere.png is outside the deck's folder, so it cannot be shown")
    ]


def test_web_images_are_left_alone(tmp_path):
    deck = deck_with(tmp_path, "# T\n\n![r](https://12factor.net/images/release.png)\n", asset_url="/a/")
    assert 'src="https://12factor.net/images/release.png"' in deck.slides[0].html
    assert deck.problems == []


def test_inline_images_become_data_uris(tmp_path):
    deck = deck_with(tmp_path, "# T\n\n![a dot](images/dot.svg)\n", inline_images=True)
    assert 'src="data:image/svg+xml;base64,' in deck.slides[0].html


def test_inline_images_turn_web_images_into_links(tmp_path):
    deck = deck_with(tmp_path, "# T\n\n![release](https://example.org/r.png)\n", inline_images=True)
    html = deck.slides[0].html
    assert "<img" not in html
    assert '<a class="web-image" href="https://example.org/r.png">[image: release]</a>' in html
    assert [p.line for p in deck.problems] == [3]


def test_images_in_notes_and_repeated_images(tmp_path):
    deck = deck_with(
        tmp_path,
        "# T\n\n![a](images/gone.png)\n\n![b](images/gone.png)\n\n# Presenter notes\n\n![c](images/dot.svg)\n",
        asset_url="/a/",
    )
    assert [p.line for p in deck.problems] == [3, 5]
    assert 'src="/a/images/dot.svg"' in deck.slides[0].notes_html
