"""What a Run of a code block does, decided once, by the block's lexer.

This is the one table behind both the word on a block's button (the page) and
the run kind the sandbox pipeline executes (`sandbox`): the deck decides, the
sandbox obeys. The kinds are:

- "shell": the lines run in the attendee's persistent shell (`cd`, `export` carry over);
- "python": `python -` in the sandbox;
- "build": `docker build` of the block's Dockerfile text;
- "apply": `kubectl apply -f -` into the attendee's namespace (YAML with a `kind:`);
- "sql": the mysql client against the workshop database.
"""

from __future__ import annotations

import re
from typing import NamedTuple


class RunKind(NamedTuple):
    """A block's run kind and the word on its button."""

    kind: str
    label: str


SHELL = RunKind("shell", "Run")
PYTHON = RunKind("python", "Run")
BUILD = RunKind("build", "Build")
APPLY = RunKind("apply", "Apply")
SQL = RunKind("sql", "Query")

RUN_KINDS = tuple(kind.kind for kind in (SHELL, PYTHON, BUILD, APPLY, SQL))

# Lexer alias (lower case) -> what Run does. YAML runs only when it is a manifest (see `run_kind_of`).
LEXERS: dict[str, RunKind] = {
    **dict.fromkeys(("bash", "sh", "shell", "console", "zsh", "ksh", "shell-session", "sh-session"), SHELL),
    **dict.fromkeys(("python", "python3", "py", "py3"), PYTHON),
    **dict.fromkeys(("docker", "dockerfile"), BUILD),
    **dict.fromkeys(("sql", "mysql"), SQL),
    **dict.fromkeys(("yaml", "yml"), APPLY),
}
YAML_KIND = re.compile(r"^\s*kind\s*:", re.MULTILINE)


def run_kind_of(*, lexer: str | None, text: str) -> RunKind | None:
    """What a Run of a block with `lexer` and `text` does, or None when such a block does not run."""
    if lexer is None:
        return None
    found = LEXERS.get(lexer.lower())
    if found is APPLY and not YAML_KIND.search(text):
        return None
    return found
