"""State shared by the deck's Markdown extensions while one deck file is converted.

Python-Markdown forgets where things came from in the source; the deck needs
source lines for `FILE:LINE` problems. The extensions record what they learn
here: fenced blocks (exact lines, taken before anything shifts lines), the
lines of the horizontal rules that split slides, and per slide its range of
source lines, so that later steps can find a block, image or macro line by
searching only inside that slide.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree.ElementTree import Element

from markdown import Markdown
from markdown.extensions import Extension

from deck.markdown.includes import IncludeFiles
from deck.parsed import Check, CodeBlock, Problem


@dataclass
class Fence:
    """A fenced code block as written: opening fence line, info string after the fence, body."""

    line: int
    end_line: int
    info: str
    text: str


@dataclass
class SlideDraft:
    """One kept slide while the tree is being processed; `deck.parser` turns it into a `Slide`."""

    number: int
    start: int  # first source line of the slide's range (just after the rule above it)
    end: int  # last source line of the range
    line: int  # first non-blank source line
    section: Element
    body: Element
    notes: Element
    footer: Element | None = None
    classes: list[str] = field(default_factory=list)
    blocks: list[CodeBlock] = field(default_factory=list)
    check: Check | None = None  # the slide's own `!check` (one with no runnable block before it)
    used_lines: dict[str, set[int]] = field(default_factory=dict)


@dataclass
class DeckContext:
    """What one conversion knows about its deck file; see the module docstring."""

    path: Path | None = None
    display: str = "<deck>"
    source_lines: list[str] = field(default_factory=list)
    include_root: Path | None = None
    asset_url: str | None = None
    inline_images: bool = False
    problems: list[Problem] = field(default_factory=list)
    fences: list[Fence] = field(default_factory=list)
    fence_lines: set[int] = field(default_factory=set)
    rule_lines: list[int] = field(default_factory=list)  # source line of rule candidate i
    rule_texts: list[str] = field(default_factory=list)  # its text as written
    rules_seen: set[int] = field(default_factory=set)
    slides: list[SlideDraft] = field(default_factory=list)
    assets: set[str] = field(default_factory=set)
    includes: IncludeFiles | None = None  # made by the first block that includes a file

    @property
    def folder(self) -> Path | None:
        """The folder of the deck file; relative images are resolved against it."""
        return self.path.parent if self.path is not None else None

    def problem(self, *, line: int, message: str, level: str = "warning") -> None:
        """Record a problem at `line` of the deck file."""
        self.problems.append(Problem(file=self.display, line=line, message=message, level=level))

    def line_locate(self, *, slide: SlideDraft, kind: str, match: Callable[[str], bool]) -> int:
        """The first line of `slide` that `match`es, not yet claimed for `kind` and not inside a fence.

        Lines are claimed in order, so the n-th block (or macro, or image) of a
        slide gets the n-th matching line. Falls back to the slide's own line.
        """
        used = slide.used_lines.setdefault(kind, set())
        floor = max(used, default=slide.start - 1)
        for number in range(floor + 1, slide.end + 1):
            if number in self.fence_lines:
                continue
            if match(self.source_lines[number - 1]):
                used.add(number)
                return number
        return slide.line


def context_of(md: Markdown, configured: DeckContext | str) -> DeckContext:
    """The context an extension works with: the one it was given, or one shared by all extensions on `md`.

    (The config default is "" rather than None: Python-Markdown turns a None-default setting into a bool.)
    """
    if isinstance(configured, DeckContext):
        md.podium = configured
        return configured
    existing = getattr(md, "podium", None)
    if existing is None:
        existing = DeckContext()
        md.podium = existing
    return existing


class DeckExtension(Extension):
    """Base of the deck's Markdown extensions: each takes the DeckContext they share as its `context` setting."""

    def __init__(self, **kwargs: object) -> None:
        self.config = {"context": ["", "the DeckContext shared by the deck extensions"]}
        super().__init__(**kwargs)

    def deck_context(self, md: Markdown) -> DeckContext:
        return context_of(md, self.getConfig("context"))
