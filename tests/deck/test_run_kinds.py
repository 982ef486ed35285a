"""The one table of what a Run does: the button's word and the sandbox's run kind agree for every lexer."""

from __future__ import annotations

import pytest

from deck.parser import deck_parse
from deck.run_kinds import RUN_KINDS, run_kind_of


@pytest.mark.parametrize(
    ("lexer", "text", "kind", "label"),
    [
        ("bash", "ls", "shell", "Run"),
        ("sh", "ls", "shell", "Run"),
        ("console", "ls", "shell", "Run"),
        ("shell", "ls", "shell", "Run"),
        ("zsh", "ls", "shell", "Run"),
        ("ksh", "ls", "shell", "Run"),
        ("shell-session", "ls", "shell", "Run"),
        ("sh-session", "ls", "shell", "Run"),
        ("python", "print(1)", "python", "Run"),
        ("Python3", "print(1)", "python", "Run"),
        ("py3", "print(1)", "python", "Run"),
        ("docker", "FROM x", "build", "Build"),
        ("dockerfile", "FROM x", "build", "Build"),
        ("yaml", "kind: Pod", "apply", "Apply"),
        ("yml", "apiVersion: v1\nkind: Service", "apply", "Apply"),
        ("sql", "select 1", "sql", "Query"),
        ("mysql", "select 1", "sql", "Query"),
    ],
)
def test_each_runnable_lexer_has_one_kind_and_label(lexer, text, kind, label):
    found = run_kind_of(lexer=lexer, text=text)
    assert (found.kind, found.label) == (kind, label)
    assert found.kind in RUN_KINDS


@pytest.mark.parametrize(("lexer", "text"), [("yaml", "name: not a manifest"), ("ruby", "puts 1"), (None, "ls")])
def test_blocks_without_a_run_have_no_kind(lexer, text):
    assert run_kind_of(lexer=lexer, text=text) is None


def test_the_parsed_block_carries_the_kind_its_button_names(tmp_path):
    path = tmp_path / "kinds.md"
    path.write_text(
        "# Kinds\n\n```zsh\necho hi\n```\n\n```py3\nprint(1)\n```\n\n```yaml\nkind: Pod\n```\n\n"
        "```bash run=false\nls\n```\n"
    )
    blocks = deck_parse(path=path).slides[0].blocks
    assert [(b.run_kind, b.action, b.runnable) for b in blocks] == [
        ("shell", "Run", True),
        ("python", "Run", True),
        ("apply", "Apply", True),
        (None, None, False),
    ]
