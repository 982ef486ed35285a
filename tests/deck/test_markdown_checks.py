"""Step checks in the deck: `!check` blocks, what they belong to, what the slide shows, and their problems."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.deck_text import BUILD_AND_CHECK, deck_from_text


def test_a_fenced_check_belongs_to_the_block_before_it(tmp_path):
    deck = deck_from_text(tmp_path, BUILD_AND_CHECK)
    (slide,) = deck.slides
    (block,) = slide.blocks  # the check is no code block: ids of later blocks do not move
    check = block.check
    assert check is not None and slide.check is None
    assert check.command == "docker image inspect 12factor:1.0 >/dev/null"
    assert check.message == "The image 12factor:1.0 is built"
    assert (check.check_id, check.line) == ("s1b0", 7)
    assert deck.check("s1b0") is check and deck.problems == []


def test_the_slide_shows_no_command_only_the_place_of_the_control(tmp_path):
    slide = deck_from_text(tmp_path, BUILD_AND_CHECK).slides[0]
    assert "image inspect" not in slide.html
    assert '<div class="step-check" id="check-s1b0" data-check="s1b0" data-line="7"></div>' in slide.html


def test_an_indented_check_after_a_line_of_text_works_too(tmp_path):
    text = "# T\n\n    !bash\n    echo hi > /tmp/x\n\nThen check:\n\n    !check\n    test -f /tmp/x\n"
    deck = deck_from_text(tmp_path, text)
    check = deck.slides[0].blocks[0].check
    assert (check.command, check.message, check.line) == ("test -f /tmp/x", None, 8)
    assert deck.problems == []


def test_a_check_skips_back_over_blocks_that_do_not_run(tmp_path):
    text = BUILD_AND_CHECK.replace("```check", "```yaml run=false\na: 1\n```\n\n```check")
    deck = deck_from_text(tmp_path, text)
    first, shown = deck.slides[0].blocks
    assert first.check is not None and shown.check is None


def test_a_check_with_no_runnable_block_before_it_is_the_slides(tmp_path):
    text = "# One\n\n```check\ntest -f /tmp/done\n```\n\n```bash\necho later\n```\n"
    slide = deck_from_text(tmp_path, text).slides[0]
    assert slide.check is not None and slide.check.check_id == "s1"
    assert slide.blocks[0].check is None
    assert [check.check_id for check in slide.checks] == ["s1"]


def test_checks_in_deck_order_per_slide(tmp_path):
    text = "# S\n\n```check\ntrue\n```\n\n```bash\necho 1\n```\n\n```check\ntrue\n```\n"
    slide = deck_from_text(tmp_path, text).slides[0]
    assert [check.check_id for check in slide.checks] == ["s1", "s1b0"]


@pytest.mark.parametrize(
    ("body", "line", "message", "level"),
    [
        ("```check\n```", 3, "a !check needs a command on the lines after it", "error"),
        (
            '```check timeout=5 message="ok"\ntrue\n```',
            3,
            "unknown check option `timeout` (known: message, hint, hint2, after, mask)",
            "warning",
        ),
    ],
)
def test_problems_name_the_line(tmp_path, body, line, message, level):
    deck = deck_from_text(tmp_path, f"# T\n\n{body}\n")
    (problem,) = deck.problems
    assert (problem.line, problem.level) == (line, level)
    assert problem.message.startswith(message)


def test_a_second_check_for_the_same_block_is_reported_and_ignored(tmp_path):
    deck = deck_from_text(tmp_path, BUILD_AND_CHECK + "\n```check\nfalse\n```\n")
    (problem,) = deck.problems
    assert problem.line == 11 and "block s1b0 already has a check (line 7)" in problem.message
    assert deck.slides[0].blocks[0].check.command.startswith("docker image inspect")


def test_an_indented_check_joined_to_the_block_above_is_reported(tmp_path):
    # Markdown (and Landslide) join indented blocks separated only by a blank line: say so.
    deck = deck_from_text(tmp_path, "# T\n\n    !bash\n    echo hi\n\n    !check\n    true\n")
    (problem,) = deck.problems
    assert problem.line == 3 and "runs on into a `!check` line" in problem.message
    assert deck.slides[0].blocks[0].check is None


def test_a_check_in_the_notes_is_reported(tmp_path):
    deck = deck_from_text(tmp_path, "# T\n\n# Presenter notes\n\n```check\ntrue\n```\n")
    (problem,) = deck.problems
    assert problem.line == 5 and "presenter notes" in problem.message


def test_deck_check_prints_check_problems_as_file_line(tmp_path):
    path = tmp_path / "deck.md"
    path.write_text("# T\n\n```bash\necho\n```\n\n```check colour=red\n```\n", encoding="utf-8")
    out = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("deck", "check", str(path), stdout=out, stderr=StringIO())
    assert failed.value.returncode == 1
    assert f"{path}:7: unknown check option `colour`" in out.getvalue()
    assert f"{path}:7: a !check needs a command" in out.getvalue()
