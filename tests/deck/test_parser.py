"""Slide splitting, empty slides and source lines: the conventions of Landslide decks, as Python-Markdown reads them."""

from __future__ import annotations

import random
import re
from pathlib import Path

import markdown
import pytest

from deck.errors import DeckFileError
from deck.parser import deck_parse


def parse(tmp_path: Path, text: str, name: str = "deck.md"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return deck_parse(path=path, include_root=tmp_path)


def titles(deck) -> list[str | None]:
    return [slide.title for slide in deck.slides]


@pytest.mark.parametrize("rule", ["---", "***", "___", "- - -", "* * *", "-----", "<hr>", "<hr/>", "<hr />", "<HR>"])
def test_any_horizontal_rule_splits_slides(tmp_path, rule):
    deck = parse(tmp_path, f"# One\n\ntext\n\n{rule}\n\n# Two\n\nmore\n")
    assert titles(deck) == ["One", "Two"]
    assert "<hr" not in deck.slides[0].html + deck.slides[1].html


def test_rule_right_after_a_paragraph_line_splits(tmp_path):
    deck = parse(tmp_path, "# One\nfirst line\nsecond line\n---\n# Two\n")
    assert titles(deck) == ["One", "Two"]
    assert "second line" in deck.slides[0].html


def test_hr_line_right_after_a_paragraph_splits(tmp_path):
    deck = parse(tmp_path, "# One\nsome text\n<hr>\n# Two\n")
    assert titles(deck) == ["One", "Two"]


def test_rule_inside_fenced_code_does_not_split(tmp_path):
    deck = parse(tmp_path, "# One\n\n```yaml\nkind: A\n---\nkind: B\n```\n\n---\n\n# Two\n")
    assert titles(deck) == ["One", "Two"]
    assert deck.slides[0].blocks[0].text == "kind: A\n---\nkind: B"


def test_rule_inside_tilde_fence_does_not_split(tmp_path):
    deck = parse(tmp_path, "# One\n\n~~~\na\n***\n<hr>\nb\n~~~\n")
    assert len(deck.slides) == 1
    assert deck.slides[0].blocks[0].text == "a\n***\n<hr>\nb"


def test_rule_inside_indented_code_does_not_split(tmp_path):
    deck = parse(tmp_path, "# One\n\n    !yaml\n    ---\n    kind: Service\n\n---\n\n# Two\n")
    assert titles(deck) == ["One", "Two"]
    assert deck.slides[0].blocks[0].text == "---\nkind: Service"


def test_setext_underline_is_a_heading_not_a_split(tmp_path):
    deck = parse(tmp_path, "Title\n---\n\ntext\n")
    assert len(deck.slides) == 1
    assert deck.slides[0].title == "Title"
    assert deck.slides[0].html.startswith("<h2>Title</h2>")


def test_rule_after_a_list_of_several_items_splits(tmp_path):
    # The seed deck does this ("- DevOps vs Departments" then "---").
    deck = parse(tmp_path, "# One\n\n- a\n- b\n---\n\n# Two\n")
    assert titles(deck) == ["One", "Two"]
    assert deck.problems == []


def test_dashes_under_a_single_list_item_make_a_heading_and_a_warning(tmp_path):
    # Python-Markdown's setext rule (Landslide renders it the same way): `- item` over `---` is an <h2>.
    deck = parse(tmp_path, "# One\n\n- item\n---\n\n# Two\n")
    assert len(deck.slides) == 1
    assert "<h2>- item</h2>" in deck.slides[0].html
    assert [(p.line, p.level) for p in deck.problems] == [(4, "warning")]
    assert "blank line" in deck.problems[0].message


def test_rule_under_a_hash_heading_splits(tmp_path):
    deck = parse(tmp_path, "# One\n---\n# Two\n")
    assert titles(deck) == ["One", "Two"]


def test_empty_slides_are_dropped_and_numbers_count_kept_slides(tmp_path):
    deck = parse(tmp_path, "---\n\n# One\n\n---\n\n---\n\n\n***\n\n# Two\n\n---\n")
    assert titles(deck) == ["One", "Two"]
    assert [slide.number for slide in deck.slides] == [1, 2]


def test_a_slide_with_only_a_link_reference_is_empty(tmp_path):
    deck = parse(tmp_path, "# One [site][s]\n\n---\n\n[s]: https://example.org\n")
    assert len(deck.slides) == 1
    assert 'href="https://example.org"' in deck.slides[0].html


def test_slide_line_is_its_first_non_blank_line(tmp_path):
    text = "\n\n# One\n\n---\n\n\n# Two\n\ntext\n***\n## Three\n"
    deck = parse(tmp_path, text)
    assert [(slide.title, slide.line) for slide in deck.slides] == [("One", 3), ("Two", 8), ("Three", 12)]


def test_slide_lines_count_lines_of_fenced_code(tmp_path):
    text = "# One\n\n```\n1\n2\n3\n```\n\n---\n\n# Two\n"
    deck = parse(tmp_path, text)
    assert [slide.line for slide in deck.slides] == [1, 11]


def test_windows_line_endings_and_byte_order_mark(tmp_path):
    path = tmp_path / "crlf.md"
    path.write_bytes("\ufeff# One\r\n\r\n---\r\n\r\n# Two\r\n".encode())
    deck = deck_parse(path=path)
    assert titles(deck) == ["One", "Two"]
    assert [slide.line for slide in deck.slides] == [1, 5]


def test_tables_links_inline_code_and_nested_lists_render(tmp_path):
    text = (
        "# Things\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |\n\n"
        "See [docs](https://example.org) and `kubectl get pods`.\n\n"
        "- outer\n    - inner\n        - innermost\n\n"
        "7. seven\n8. eight\n"
    )
    html = parse(tmp_path, text).slides[0].html
    assert "<table>" in html and "<td>2</td>" in html
    assert '<a href="https://example.org">docs</a>' in html
    assert "<code>kubectl get pods</code>" in html
    assert html.count("<ul>") == 3
    assert '<ol start="7">' in html


def test_raw_html_and_escapes_survive(tmp_path):
    html = parse(tmp_path, '# A &amp; B\n\n<div class="box">raw</div>\n\n1 < 2 \\*not em\\*\n').slides[0].html
    assert '<div class="box">raw</div>' in html
    assert "1 &lt; 2 *not em*" in html


def test_empty_file_is_a_deck_without_slides(tmp_path):
    deck = parse(tmp_path, "\n\n")
    assert deck.slides == []
    assert deck.title == "deck"
    assert [p.message for p in deck.problems] == ["the deck has no slides"]


def test_unclosed_fence_is_a_warning_with_its_line(tmp_path):
    deck = parse(tmp_path, "# One\n\ntext\n\n```bash\necho hi\n")
    assert [(p.line, p.message) for p in deck.problems] == [(5, "code fence ``` is never closed")]


def test_missing_file_raises_deck_file_error(tmp_path):
    with pytest.raises(DeckFileError, match="no such deck file"):
        deck_parse(path=tmp_path / "nope.md")


def test_non_utf8_file_raises_deck_file_error_naming_the_line(tmp_path):
    path = tmp_path / "latin1.md"
    path.write_bytes("# One\n\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(DeckFileError, match=r"latin1\.md:3: not UTF-8 text"):
        deck_parse(path=path)


def test_a_nul_character_raises_deck_file_error_naming_the_line(tmp_path):
    # A shell stops reading a line at NUL: a block holding one would run cut short, without a word.
    path = tmp_path / "pasted.md"
    path.write_bytes(b"# One\n\n```bash\necho a\x00echo b\n```\n")
    with pytest.raises(DeckFileError, match=r"pasted\.md:4: a NUL character \(byte 0x00\)"):
        deck_parse(path=path)


def test_a_folder_is_not_a_deck_file(tmp_path):
    with pytest.raises(DeckFileError, match="is a folder"):
        deck_parse(path=tmp_path)


def test_hr_lines_give_the_right_slide_lines(tmp_path):
    deck = parse(tmp_path, "# One\n\nTitle\n---\n\n<hr>\n\n# Two\ntext\n<hr />\n# Three\n")
    assert [(slide.title, slide.line) for slide in deck.slides] == [("One", 1), ("Two", 8), ("Three", 11)]


def test_hr_inside_a_raw_html_block_does_not_split(tmp_path):
    deck = parse(tmp_path, '# One\n\n<div class="box">\n<hr>\n</div>\n\n---\n\n# Two\n')
    assert titles(deck) == ["One", "Two"]
    assert "<hr>" in deck.slides[0].html


def test_rule_like_line_inside_raw_html_is_left_as_written(tmp_path):
    html = parse(tmp_path, "# One\n\n<div>\n***\n</div>\n").slides[0].html
    assert "<div>\n***\n</div>" in html


def test_splitting_agrees_with_python_markdown_on_generated_decks(tmp_path):
    # Slides must be exactly what plain Python-Markdown renders between its top-level rules
    # (how Landslide splits), for a few hundred decks mixing rules, setext underlines, lists and raw HTML.
    pieces = ["---", "***", "___", "- - -", "----", "-----  ", "  ---", "   ***", "====", "Title", "# Head", "text"]
    pieces += [
        "- item",
        "* star",
        "+ plus",
        "1. one",
        "  - nested",
        "- a\n---",
        "Para\n---",
        "<div>",
        "</div>",
        "",
        "",
        "",
    ]
    generator = random.Random(20240501)
    for _ in range(300):
        text = "\n".join(generator.choice(pieces) for _ in range(generator.randint(1, 25)))
        reference = markdown.Markdown(extensions=["tables", "sane_lists"]).convert(text)
        expected = [part.strip() for part in re.split(r"^<hr />$", reference, flags=re.MULTILINE) if part.strip()]
        assert [slide.html for slide in parse(tmp_path, text).slides] == expected, text
