"""Code blocks: `!lexer` hints, fenced language tags, Pygments, Run actions, options and source lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from deck.parser import deck_parse


def parse(tmp_path: Path, text: str):
    path = tmp_path / "deck.md"
    path.write_text(text, encoding="utf-8")
    return deck_parse(path=path, include_root=tmp_path)


def only_block(tmp_path: Path, text: str):
    deck = parse(tmp_path, text)
    (block,) = deck.slides[0].blocks
    return block


def test_indented_block_with_hint_is_highlighted_and_hint_removed(tmp_path):
    block = only_block(tmp_path, "# T\n\n    !python\n    def f():\n        return 1\n")
    assert block.lexer == "python"
    assert block.text == "def f():\n    return 1"
    assert '<span class="k">def</span>' in block.html
    assert "!python" not in block.html


def test_fenced_block_with_hint_line(tmp_path):
    block = only_block(tmp_path, "# T\n\n```\n!bash\nls -l\n```\n")
    assert (block.lexer, block.text) == ("bash", "ls -l")
    assert "!bash" not in block.html


def test_fenced_language_tag(tmp_path):
    block = only_block(tmp_path, "# T\n\n```python\nprint(1)\n```\n")
    assert (block.lexer, block.text, block.action) == ("python", "print(1)", "Run")


@pytest.mark.parametrize("info", ["{.python}", ".python", "python   "])
def test_fenced_language_tag_variants(tmp_path, info):
    assert only_block(tmp_path, f"# T\n\n```{info}\nprint(1)\n```\n").lexer == "python"


def test_fenced_options_on_the_info_string(tmp_path):
    block = only_block(tmp_path, "# T\n\n```bash run=false\nrm -rf /tmp/x\n```\n")
    assert block.options == {"run": "false"}
    assert block.runnable is False


def test_block_without_hint_is_plain_and_not_runnable(tmp_path):
    block = only_block(tmp_path, "# T\n\n    just <b>text</b> & more\n")
    assert block.lexer is None
    assert block.runnable is False and block.action is None
    assert block.text == "just <b>text</b> & more"
    assert "just &lt;b&gt;text&lt;/b&gt; &amp; more" in block.html
    assert "data-lexer" not in block.html


def test_code_text_keeps_html_characters(tmp_path):
    block = only_block(tmp_path, "# T\n\n    !bash\n    echo '<a>' && cat x > y\n")
    assert block.text == "echo '<a>' && cat x > y"


def test_unknown_lexer_is_a_warning_with_line_and_plain_text(tmp_path):
    deck = parse(tmp_path, "# One\n\n---\n\n# T\n\n    !nosuchlexer\n    <b>bold?</b>\n")
    (block,) = deck.slides[1].blocks
    assert [(p.line, p.level) for p in deck.problems] == [(7, "warning")]
    assert "unknown lexer `nosuchlexer`" in deck.problems[0].message
    assert block.runnable is False
    assert "&lt;b&gt;bold?&lt;/b&gt;" in block.html
    assert "nosuchlexer" not in block.html.split(">", 1)[1]  # the hint line is gone from the shown code


@pytest.mark.parametrize(
    ("hint", "text", "action"),
    [
        ("bash", "ls", "Run"),
        ("sh", "ls", "Run"),
        ("console", "$ ls", "Run"),
        ("shell", "ls", "Run"),
        ("python", "print(1)", "Run"),
        ("python3", "print(1)", "Run"),
        ("py", "print(1)", "Run"),
        ("docker", "FROM debian", "Build"),
        ("dockerfile", "FROM debian", "Build"),
        ("sql", "SELECT 1;", "Query"),
        ("mysql", "SELECT 1;", "Query"),
        ("yaml", "kind: Service\napiVersion: v1", "Apply"),
        ("yaml", "replicas: 1", None),
        ("json", "{}", None),
        ("Bash", "ls", "Run"),
    ],
)
def test_runnable_by_lexer(tmp_path, hint, text, action):
    body = "\n".join(f"    {line}" for line in [f"!{hint}", *text.split("\n")])
    block = only_block(tmp_path, f"# T\n\n{body}\n")
    assert block.action == action
    assert block.runnable is (action is not None)
    assert f'data-runnable="{"true" if action else "false"}"' in block.html


def test_run_false_turns_run_off(tmp_path):
    block = only_block(tmp_path, "# T\n\n    !yaml run=false\n    kind: Pod\n")
    assert (block.runnable, block.action, block.options) == (False, None, {"run": "false"})
    assert "data-action" not in block.html


def test_run_true_on_a_lexer_without_action_is_a_warning(tmp_path):
    deck = parse(tmp_path, "# T\n\n    !json run=true\n    {}\n")
    assert deck.slides[0].blocks[0].runnable is False
    assert [(p.line, p.level) for p in deck.problems] == [(3, "warning")]


def test_unknown_option_and_malformed_option_are_warnings(tmp_path):
    deck = parse(tmp_path, "# T\n\n    !bash colour=red oops\n    ls\n")
    messages = [(p.line, p.message) for p in deck.problems]
    assert (3, "block option `oops` is not key=value") in messages
    assert any(line == 3 and "unknown block option `colour`" in m for line, m in messages)
    assert deck.slides[0].blocks[0].runnable is True


def test_wrapper_html_carries_the_block_position(tmp_path):
    deck = parse(
        tmp_path, "# One\n\n---\n\n# Two\n\ntext\n\n    !bash\n    echo one\n\nthen\n\n    !bash\n    echo two\n"
    )
    first, second = deck.slides[1].blocks
    assert (first.block_id, second.block_id) == ("s2b0", "s2b1")
    assert first.html.startswith(
        '<div class="code-block" id="block-s2b0" data-block="s2b0" data-slide="2" data-index="0" '
        'data-lexer="bash" data-runnable="true" data-action="Run" data-line="9">'
        '<div class="highlight"><pre>'
    )
    assert first.html in deck.slides[1].html and second.html in deck.slides[1].html
    assert deck.block(2, 1) is second


def test_block_lines_point_at_hint_or_fence(tmp_path):
    text = (
        "# One\n"  # 1
        "\n"
        "    !bash\n"  # 3
        "    echo a\n"
        "\n"
        "```python\n"  # 6
        "x = 1\n"
        "```\n"
        "\n"
        "    plain code\n"  # 10
        "\n"
        "- item\n"
        "\n"
        "        !sh\n"  # 14
        "        echo nested\n"
        "\n"
        "after the list\n"
        "\n"
        "    !bash\n"  # 19: same text as the first block, found again further down
        "    echo a\n"
    )
    deck = parse(tmp_path, text)
    assert [(b.lexer, b.line) for b in deck.slides[0].blocks] == [
        ("bash", 3),
        ("python", 6),
        (None, 10),
        ("sh", 14),
        ("bash", 19),
    ]


def test_identical_blocks_on_different_slides_get_their_own_lines(tmp_path):
    deck = parse(tmp_path, "# A\n\n    !bash\n    ls\n\n---\n\n# B\n\n    !bash\n    ls\n")
    assert [slide.blocks[0].line for slide in deck.slides] == [3, 10]


def test_code_in_notes_is_highlighted_but_not_a_block(tmp_path):
    slide = parse(tmp_path, "# T\n\n# Presenter notes\n\n    !bash\n    echo secret\n").slides[0]
    assert slide.blocks == []
    assert '<div class="highlight">' in slide.notes_html and "secret" in slide.notes_html
    assert "code-block" not in slide.notes_html


def test_code_block_inside_a_list_item(tmp_path):
    slide = parse(tmp_path, "# T\n\n1. Build it:\n\n        !docker\n        FROM debian\n\n2. Done\n").slides[0]
    (block,) = slide.blocks
    assert block.action == "Build"
    assert slide.html.index("Build it") < slide.html.index("code-block") < slide.html.index("Done")
