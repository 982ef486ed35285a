"""A check's hints (`hint=`, `hint2=` with `after=N`) and the `mask=` option of blocks and checks, as parsed and
as `deck check` reports them (`FILE:LINE: problem`)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.deck_text import BUILD_AND_CHECK, deck_from_text

HINTED = BUILD_AND_CHECK.replace(
    'message="The image 12factor:1.0 is built"',
    'message="The image 12factor:1.0 is built" hint="Did you run the build?" '
    "hint2='Look for the tag: 12factor:1.0' after=3",
)


def test_hints_are_parsed_and_shown_after_failures(tmp_path):
    deck = deck_from_text(tmp_path, HINTED)
    check = deck.check("s1b0")
    assert (check.hint, check.hint2, check.hint_after) == (
        "Did you run the build?",
        "Look for the tag: 12factor:1.0",
        3,
    )
    assert deck.problems == []
    assert check.hints_after(0) == []
    assert check.hints_after(1) == check.hints_after(2) == ["Did you run the build?"]
    assert check.hints_after(3) == ["Did you run the build?", "Look for the tag: 12factor:1.0"]


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ('hint=""', 'hint= is empty: write the hint, quoted (`hint="Is the port 5000?"`)'),
        ('hint="a" hint2="b"', "hint2= needs after=N: how many failed checks before the second hint shows"),
        ('hint="a" hint2="b" after=two', "after=two should be a whole number of failed checks, 1 or more"),
        ('hint="a" hint2="b" after=0', "after=0 should be a whole number of failed checks, 1 or more"),
        ('hint="a" after=2', "after=2 only applies with hint2= (the hint shown after 2 failures)"),
        ('hint2="b" after=2', "hint2= without hint=: give the first hint too (shown after one failed check)"),
        ("mask='[unclosed'", "mask=[unclosed is not a regular expression: unterminated character set"),
        ("mask='x*'", "mask=x* matches the empty string"),
    ],
)
def test_bad_hint_and_mask_options_are_named_at_the_check_line(tmp_path, options, problem):
    deck = deck_from_text(tmp_path, BUILD_AND_CHECK.replace("```check ", f"```check {options} "))
    assert [p.line for p in deck.problems] == [7]
    assert deck.problems[0].message.startswith(problem)


def test_a_block_mask_is_known_and_checked(tmp_path):
    good = deck_from_text(tmp_path, "# T\n\n```bash mask='took [0-9]+ ms'\necho took 3 ms\n```\n")
    assert good.problems == [] and good.slides[0].blocks[0].options["mask"] == "took [0-9]+ ms"
    bad = deck_from_text(tmp_path, "# T\n\n```bash mask='(open'\necho\n```\n")
    assert [(p.line, p.level) for p in bad.problems] == [(3, "error")]
    assert bad.problems[0].message.startswith("mask=(open is not a regular expression: missing ), unterminated")


def test_deck_check_reports_them_as_file_and_line(tmp_path):
    path = tmp_path / "hints.md"
    path.write_text(BUILD_AND_CHECK.replace("```check ", '```check hint="a" hint2="b" '), encoding="utf-8")
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("deck", "check", str(path), stdout=out)
    assert f"{path}:7: hint2= needs after=N" in out.getvalue()
