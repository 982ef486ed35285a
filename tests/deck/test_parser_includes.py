"""Blocks that show a file of the project (`file=PATH`, `lines=A-B`) and the problems an include can have."""

from __future__ import annotations

from pathlib import Path

import pytest

from deck.parser import deck_parse

INCLUDE_ROOT = Path(__file__).parent / "fixtures" / "include_root"


def parse(tmp_path: Path, text: str, root: Path = INCLUDE_ROOT):
    path = tmp_path / "deck.md"
    path.write_text(text, encoding="utf-8")
    return deck_parse(path=path, include_root=root)


def test_include_shows_the_file_highlighted_with_the_block_lexer(tmp_path):
    deck = parse(tmp_path, "# Build\n\n    !docker file=app/Dockerfile\n")
    (block,) = deck.slides[0].blocks
    assert deck.problems == []
    assert block.include == "app/Dockerfile"
    assert block.text == (INCLUDE_ROOT / "app" / "Dockerfile").read_text().rstrip("\n")
    assert (block.lexer, block.action, block.runnable) == ("docker", "Build", True)
    assert '<span class="k">FROM</span>' in block.html
    assert 'data-include="app/Dockerfile"' in block.html


def test_include_in_a_fenced_block(tmp_path):
    block = parse(tmp_path, "# Build\n\n```bash file=app/run.sh\n```\n").slides[0].blocks[0]
    assert block.text.startswith("#!/bin/sh\n")


def test_include_reads_the_current_content(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "script.sh").write_text("echo one\n")
    assert parse(tmp_path, "# T\n\n    !bash file=script.sh\n", root).slides[0].blocks[0].text == "echo one"
    (root / "script.sh").write_text("echo two\n")
    assert parse(tmp_path, "# T\n\n    !bash file=script.sh\n", root).slides[0].blocks[0].text == "echo two"


@pytest.mark.parametrize(
    ("lines", "expected"), [("3-4", 'echo "building"\ndocker build -t demo .'), ("6", 'echo "done"')]
)
def test_include_with_a_line_range(tmp_path, lines, expected):
    block = parse(tmp_path, f"# T\n\n    !bash file=app/run.sh lines={lines}\n").slides[0].blocks[0]
    assert block.text == expected
    assert block.options == {"file": "app/run.sh", "lines": lines}


def test_missing_include_file_is_an_error_with_the_block_line(tmp_path):
    deck = parse(tmp_path, "# One\n\n---\n\n# T\n\ntext\n\n    !bash file=app/nothere.sh\n")
    assert [(p.line, p.level, p.message) for p in deck.problems] == [
        (9, "error", "include file app/nothere.sh not found")
    ]
    (block,) = deck.slides[1].blocks
    assert block.runnable is False and block.text == ""
    assert "include file app/nothere.sh not found" in block.html


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ("5-99", "lines=5-99 is outside app/run.sh, which has 6 lines"),
        ("4-2", "lines=4-2 is outside app/run.sh, which has 6 lines"),
        ("0-2", "lines=0-2 is outside app/run.sh, which has 6 lines"),
        ("three", "lines=three is not a line range like lines=3-10"),
    ],
)
def test_bad_line_range_is_an_error(tmp_path, lines, message):
    deck = parse(tmp_path, f"# T\n\n    !bash file=app/run.sh lines={lines}\n")
    assert [(p.line, p.level, p.message) for p in deck.problems] == [(3, "error", message)]
    assert deck.slides[0].blocks[0].runnable is False


@pytest.mark.parametrize("target", ["../decks/workshop.md", "/etc/hostname", "app/../../decks/workshop.md"])
def test_include_may_not_escape_the_include_root(tmp_path, target):
    deck = parse(tmp_path, f"# T\n\n    !bash file={target}\n")
    assert [(p.line, p.level) for p in deck.problems] == [(3, "error")]
    assert "outside the folder includes come from" in deck.problems[0].message
    assert deck.slides[0].blocks[0].text == ""


def test_include_through_a_symlink_out_of_the_root_is_refused(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret.txt").write_text("secret\n")
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    deck = parse(tmp_path, "# T\n\n    !text file=link.txt\n", root)
    assert deck.problems[0].level == "error"
    assert "secret" not in deck.slides[0].html


def test_include_block_with_its_own_body_is_a_warning(tmp_path):
    deck = parse(tmp_path, "# T\n\n    !bash file=app/run.sh\n    echo stale copy\n")
    assert [(p.line, p.level) for p in deck.problems] == [(3, "warning")]
    assert "stale copy" not in deck.slides[0].html


def test_lines_without_file_is_a_warning(tmp_path):
    deck = parse(tmp_path, "# T\n\n    !bash lines=1-2\n    ls\n")
    assert [p.message for p in deck.problems] == ["lines=1-2 only applies with file="]


def test_docker_context_and_tag_are_checked(tmp_path):
    good = parse(tmp_path, "# T\n\n    !docker file=app/Dockerfile context=app tag=demo:1.0\n")
    assert good.problems == []
    assert good.slides[0].blocks[0].options["context"] == "app"
    bad = parse(tmp_path, "# T\n\n    !docker file=app/Dockerfile context=nowhere tag=Bad_Tag\n")
    assert sorted(p.message for p in bad.problems) == [
        "context=nowhere: no such folder in the project",
        "tag=Bad_Tag is not a valid Docker image name",
    ]


def test_include_root_defaults_to_the_setting(tmp_path, settings):
    settings.PODIUM_INCLUDE_ROOT = INCLUDE_ROOT
    path = tmp_path / "deck.md"
    path.write_text("# T\n\n    !bash file=app/run.sh lines=6\n")
    assert deck_parse(path=path).slides[0].blocks[0].text == 'echo "done"'


def test_a_line_range_out_of_a_nested_body_is_shown_flush_left(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "app.py").write_text("class App:\n    def users(self):\n        return []\n\n    x = 1\n")
    block = parse(tmp_path, "# T\n\n    !python file=app.py lines=2-3 run=false\n", root).slides[0].blocks[0]
    assert block.text == "def users(self):\n    return []"
