"""Titles, section slides, presenter notes and macros (`.notes:`, `.fx:`, `.qr:`, `.footer:`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from deck.parser import deck_parse


def parse(tmp_path: Path, text: str, name: str = "deck.md"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return deck_parse(path=path, include_root=tmp_path)


def test_first_heading_is_the_title_as_plain_text(tmp_path):
    deck = parse(tmp_path, "intro\n\n## [12 *factor* `apps`](https://12factor.net) &amp; more\n\n# Later\n")
    assert deck.slides[0].title == "12 factor apps & more"


def test_content_before_the_first_heading_is_kept(tmp_path):
    slide = parse(tmp_path, "Before the heading\n\n# Title\n\nafter\n").slides[0]
    assert slide.title == "Title"
    assert slide.html.startswith("<p>Before the heading</p>")


def test_slide_without_heading_has_no_title(tmp_path):
    deck = parse(tmp_path, "# Deck\n\n---\n\njust text\n")
    assert deck.slides[1].title is None
    assert deck.slides[1].is_section is False


def test_heading_only_slide_is_a_section_slide(tmp_path):
    deck = parse(tmp_path, "# Part one\n\n---\n\n# Content\n\n- a\n\n---\n\n# Part two\n## subtitle\n")
    assert [slide.is_section for slide in deck.slides] == [True, False, True]


def test_heading_with_notes_only_is_still_a_section_slide(tmp_path):
    slide = parse(tmp_path, "# Part one\n\n# Presenter notes\n\nsay hi\n").slides[0]
    assert slide.is_section is True
    assert slide.notes_html == "<p>say hi</p>"


def test_deck_title_is_the_first_slide_title(tmp_path):
    assert parse(tmp_path, "intro\n\n## Deck title\n\n---\n\n# Two\n").title == "Deck title"


def test_deck_title_falls_back_to_the_file_stem(tmp_path):
    assert parse(tmp_path, "no heading here\n\n---\n\n# Two\n", name="my-talk.md").title == "my-talk"


@pytest.mark.parametrize(
    "heading",
    [
        "# Presenter notes",
        "### presenter NOTES",
        "#   Presenter   notes  ",
        "Presenter Notes\n====",
        "## *Presenter notes*",
    ],
)
def test_presenter_notes_heading_starts_the_notes(tmp_path, heading):
    slide = parse(tmp_path, f"# Title\n\nshown\n\n{heading}\n\nSay **this**.\n\n- and this\n").slides[0]
    assert slide.html == "<h1>Title</h1>\n<p>shown</p>"
    assert slide.notes_html == "<p>Say <strong>this</strong>.</p>\n<ul>\n<li>and this</li>\n</ul>"


def test_notes_run_to_the_end_of_the_slide_only(tmp_path):
    deck = parse(tmp_path, "# One\n\n# Presenter notes\n\nnote one\n\n---\n\n# Two\n\ntext\n")
    assert deck.slides[0].notes_html == "<p>note one</p>"
    assert deck.slides[1].notes_html == ""
    assert deck.slides[1].html == "<h1>Two</h1>\n<p>text</p>"


def test_heading_that_only_mentions_notes_is_not_the_notes(tmp_path):
    slide = parse(tmp_path, "# Title\n\n## Presenter notes are great\n\ntext\n").slides[0]
    assert slide.notes_html == ""
    assert "Presenter notes are great" in slide.html


def test_notes_macro_appends_to_notes(tmp_path):
    slide = parse(tmp_path, "# Title\n\n.notes: first *note*\n\ntext\n\n# Presenter notes\n\nwritten notes\n").slides[0]
    assert slide.html == "<h1>Title</h1>\n<p>text</p>"
    assert slide.notes_html == "<p>written notes</p>\n<p>first <em>note</em></p>"


def test_fx_macro_sets_slide_classes(tmp_path):
    slide = parse(tmp_path, "# Title\n.fx: dark  wide\n\ntext\n").slides[0]
    assert slide.classes == ["dark", "wide"]
    assert ".fx" not in slide.html


def test_footer_macro_sets_the_footer(tmp_path):
    slide = parse(tmp_path, "# Title\n\n.footer: Podium **workshop**\n").slides[0]
    assert slide.footer == "Podium <strong>workshop</strong>"
    assert slide.html == "<h1>Title</h1>"


def test_macros_on_consecutive_lines_and_inside_a_paragraph(tmp_path):
    slide = parse(tmp_path, "# Title\n\nbefore\n.fx: a\n.notes: n\nafter\n").slides[0]
    assert slide.classes == ["a"]
    assert slide.html == "<h1>Title</h1>\n<p>before</p>\n<p>after</p>"
    assert slide.notes_html == "<p>n</p>"


def test_qr_macro_renders_a_local_svg(tmp_path):
    slide = parse(tmp_path, "# Scan\n\n.qr: https://example.org/a?b=1&c=<2>\n").slides[0]
    assert '<div class="qr"><svg' in slide.html
    assert "<path" in slide.html
    assert 'src="http' not in slide.html
    assert "&lt;2&gt;" in slide.html  # the data shows up (escaped) only as the SVG's <title>


def test_qr_macro_with_landslide_size_prefix(tmp_path):
    html = parse(tmp_path, "# Scan\n\n.qr: 450|https://example.org\n").slides[0].html
    assert 'width="450' in html


def test_empty_qr_macro_is_a_warning_with_its_line(tmp_path):
    deck = parse(tmp_path, "# One\n\n---\n\n# Scan\n\ntext\n\n.qr:\n")
    assert [(p.line, p.message) for p in deck.problems] == [(9, ".qr: has no data to encode")]


def test_macros_inside_code_are_left_alone(tmp_path):
    text = "# Title\n\n    !text\n    .notes: not a note\n    .fx: nope\n\n```\n.qr: x\n```\n"
    slide = parse(tmp_path, text).slides[0]
    assert slide.notes_html == ""
    assert slide.classes == []
    assert slide.blocks[0].text == ".notes: not a note\n.fx: nope"
    assert slide.blocks[1].text == ".qr: x"


def test_unknown_dot_words_stay_text(tmp_path):
    assert parse(tmp_path, "# T\n\n.other: thing\n").slides[0].html == "<h1>T</h1>\n<p>.other: thing</p>"
