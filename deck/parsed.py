"""The parsed shape of a deck: Deck -> Slide -> CodeBlock, plus the problems found.

These are plain values produced by `deck.parser.deck_parse`; views, commands,
the follow consumer and (later) the sandbox run pipeline read them. Numbers a
person sees are 1-based: slide numbers and source lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """Something wrong in a deck file, reported as `FILE:LINE: message`."""

    file: str
    line: int
    message: str
    level: str = "warning"  # "warning" or "error"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass
class Check:
    """A step check: a bash command whose exit status 0 means the learner's step is done.

    Written in the deck as a code block whose hint is `!check` (see
    `deck.markdown.checks`). It belongs to the runnable block before it on its
    slide (`block_index`), or to the slide itself when none precedes it
    (`block_index` None). `message` is the sentence shown when it passes (the
    `message=` option); `line` is the 1-based line of the `!check` hint.
    `hint` is shown after a failed check, `hint2` too once it failed
    `hint_after` times; `mask` is what a drift check ignores in its output
    (`deck.masks`).
    """

    slide_number: int
    block_index: int | None
    command: str
    line: int
    message: str | None = None
    hint: str | None = None
    hint2: str | None = None
    hint_after: int | None = None
    mask: str | None = None
    html: str = ""  # the placeholder the parser left in the slide, where the page puts "Check my work"

    def hints_after(self, failures: int) -> list[str]:
        """The hints shown once the check failed `failures` times in a row: none, `hint`, then `hint2` too."""
        shown = [self.hint] if self.hint and failures >= 1 else []
        if self.hint2 and self.hint_after is not None and failures >= self.hint_after:
            shown.append(self.hint2)
        return shown

    @property
    def check_id(self) -> str:
        """What the page names it by: the id of its block (`s7b0`), or `s7` for a slide's own check."""
        if self.block_index is None:
            return f"s{self.slide_number}"
        return f"s{self.slide_number}b{self.block_index}"


@dataclass
class CodeBlock:
    """One code block of a slide.

    `lexer` is the Pygments alias the deck asked for (`bash`, `yaml`, ...) or
    None; `text` is the code with the `!lexer` hint line removed (for an
    include, the included file's content); `line` is the 1-based line of the
    block's first line (the hint line, or the opening fence) in the deck file.
    `runnable` follows `deck.run_kinds` unless an option turns Run off;
    `action` is the word on the button ("Run", "Apply", "Build", "Query") and
    `run_kind` what a Run does ("shell", "python", "build", "apply", "sql").
    """

    slide_number: int
    index: int
    lexer: str | None
    text: str
    html: str
    line: int
    runnable: bool = False
    action: str | None = None
    run_kind: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    include: str | None = None  # path relative to PODIUM_INCLUDE_ROOT, when `file=` was used
    check: Check | None = None  # the `!check` written after this block, if any

    @property
    def block_id(self) -> str:
        """Stable id of the block within its deck, e.g. `s7b0`."""
        return f"s{self.slide_number}b{self.index}"


@dataclass
class Slide:
    """One slide: its rendered body, notes and code blocks."""

    number: int
    title: str | None
    html: str
    notes_html: str = ""
    classes: list[str] = field(default_factory=list)
    footer: str | None = None
    line: int = 1
    is_section: bool = False
    blocks: list[CodeBlock] = field(default_factory=list)
    check: Check | None = None  # a `!check` with no runnable block before it on the slide

    @property
    def checks(self) -> list[Check]:
        """Every check of the slide, in the order they were written."""
        found = [block.check for block in self.blocks if block.check is not None]
        if self.check is not None:
            found.append(self.check)
        return sorted(found, key=lambda check: check.line)


@dataclass
class Deck:
    """A parsed deck file."""

    slug: str
    path: Path
    title: str
    slides: list[Slide]
    problems: list[Problem] = field(default_factory=list)
    # Deck-relative image files the slides show (posix paths under the deck's folder): what the asset view may serve.
    assets: list[str] = field(default_factory=list)
    # The files its blocks include (resolved, inside the include root, present or not): a change to one makes it stale.
    includes: list[Path] = field(default_factory=list)

    def block(self, slide_number: int, index: int) -> CodeBlock | None:
        """The block at (slide, index), or None when there is no such block."""
        if not 1 <= slide_number <= len(self.slides):
            return None
        blocks = self.slides[slide_number - 1].blocks
        return blocks[index] if 0 <= index < len(blocks) else None

    def check(self, check_id: str) -> Check | None:
        """The check named `check_id` (`s7b0` for a block's, `s7` for a slide's), or None when there is none."""
        for slide in self.slides:
            for check in slide.checks:
                if check.check_id == check_id:
                    return check
        return None
