"""What one parse keeps for the next or shares inside itself changes nothing a reader sees.

Highlighted blocks are kept across parses, an included file is read once per
parse, and option words are split without shlex when they have no quotes.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from deck.highlight import code_highlight_cache_clear
from deck.parser import deck_parse
from deck.selectors import deck_get

SHIPPED = Path(__file__).resolve().parents[2] / "slides" / "intro-docker-kubernetes.md"


def test_a_deck_parsed_with_highlights_kept_is_the_deck_parsed_afresh():
    code_highlight_cache_clear()
    fresh = deck_parse(path=SHIPPED)
    again = deck_parse(path=SHIPPED)
    assert dataclasses.asdict(again) == dataclasses.asdict(fresh)
    assert any(block.lexer == "yaml" for slide in again.slides for block in slide.blocks)


def test_the_same_code_under_another_lexer_is_highlighted_for_that_lexer(tmp_path):
    path = tmp_path / "deck.md"
    path.write_text("# A\n\n    !python\n    print('x')\n\n---\n\n# B\n\n    !text\n    print('x')\n")
    first, second = (slide.blocks[0].html for slide in deck_parse(path=path).slides)
    assert '<span class="nb">print</span>' in first
    assert "<pre><span></span>print('x')\n</pre>" in second


def test_a_file_included_twice_shows_whole_and_in_part(tmp_path):
    (tmp_path / "run.sh").write_text("one\n  two\n  three\nfour\n")
    path = tmp_path / "deck.md"
    path.write_text("# T\n\n    !bash file=run.sh\n\nand\n\n    !bash file=run.sh lines=2-3\n")
    deck = deck_parse(path=path, include_root=tmp_path)
    assert [block.text for block in deck.slides[0].blocks] == ["one\n  two\n  three\nfour", "two\nthree"]
    assert deck.includes == [(tmp_path / "run.sh").resolve()]


def test_a_missing_include_is_watched_and_one_outside_the_root_is_not(tmp_path):
    path = tmp_path / "deck.md"
    path.write_text("# T\n\n    !bash file=later.sh\n\nand\n\n    !bash file=../outside.sh\n")
    deck = deck_parse(path=path, include_root=tmp_path)
    assert deck.includes == [(tmp_path / "later.sh").resolve()]
    assert [p.message for p in deck.problems][0] == "include file later.sh not found"


def test_a_deck_is_parsed_again_when_a_file_its_notes_include_changes(tmp_path, settings):
    folder = tmp_path / "slides"
    folder.mkdir()
    (tmp_path / "notes.sh").write_text("echo one\n")
    (folder / "talk.md").write_text("# T\n\nbody\n\n# Presenter notes\n\n    !bash file=notes.sh\n")
    settings.PODIUM_SLIDES_DIR = folder
    settings.PODIUM_INCLUDE_ROOT = tmp_path
    assert "one" in deck_get(slug="talk").slides[0].notes_html
    (tmp_path / "notes.sh").write_text("echo two, longer\n")
    assert "longer" in deck_get(slug="talk").slides[0].notes_html


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ("run=false  tag=demo:1", {"run": "false", "tag": "demo:1"}),
        ("\trun=false\t", {"run": "false"}),
        ("tag='my app'", {"tag": "my app"}),
        ('tag="a b" run=no', {"tag": "a b", "run": "no"}),
    ],
)
def test_block_options_split_as_a_shell_splits_them(tmp_path, options, expected):
    path = tmp_path / "deck.md"
    path.write_text(f"# T\n\n```bash {options}\nls\n```\n")
    assert deck_parse(path=path, include_root=tmp_path).slides[0].blocks[0].options == expected
