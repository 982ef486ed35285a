"""Horizontal rules that split slides, each knowing the source line it came from.

Any rule Python-Markdown recognises splits slides (`---`, `***`, `___`,
`- - -`). Python-Markdown decides what a `---` line is (a rule, a setext
underline, or code), and we keep its decisions by letting its own
`HRProcessor` do the work. (A raw `<hr>` line splits too; `deck.markdown.slides`
recognises it in the tree, as Python-Markdown keeps it as raw HTML.)

To learn which source line became which `<hr>`, the preprocessor numbers every
line that could be a rule by the count of trailing spaces it appends (the
rule and setext patterns both allow trailing spaces, so nothing else changes);
the block processor reads that count back into an attribute of the `<hr>`.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as etree

from markdown import Markdown
from markdown.blockparser import BlockParser
from markdown.blockprocessors import HRProcessor
from markdown.preprocessors import Preprocessor

from deck.markdown.context import DeckContext, DeckExtension

RULE_LINE = re.compile(HRProcessor.RE)
HTML_RULE_LINE = re.compile(r"^[ ]{0,3}<hr\s*/?>\s*$", re.IGNORECASE)
LIST_ITEM_LINE = re.compile(r"^[ ]{0,3}([-*+]|\d+[.)])[ ]+\S")
RULE_ATTR = "data-rule"


class RulePreprocessor(Preprocessor):
    """Number the lines that may become rules (see the module docstring)."""

    def __init__(self, md: Markdown, ctx: DeckContext) -> None:
        super().__init__(md)
        self.ctx = ctx

    def run(self, lines: list[str]) -> list[str]:
        out = []
        for number, line in enumerate(lines, start=1):
            if not RULE_LINE.match(line):
                out.append(line)
                continue
            self.ctx.rule_lines.append(number)
            self.ctx.rule_texts.append(line)
            out.append(line.rstrip(" ") + " " * len(self.ctx.rule_lines))
        return out


class RuleProcessor(HRProcessor):
    """Python-Markdown's rule processor, plus the source line number of each rule it makes."""

    def __init__(self, parser: BlockParser, ctx: DeckContext) -> None:
        super().__init__(parser)
        self.ctx = ctx

    def run(self, parent: etree.Element, blocks: list[str]) -> None:
        found = self.match.group(0)
        mark = len(found) - len(found.rstrip(" "))
        super().run(parent, blocks)
        if 0 < mark <= len(self.ctx.rule_lines):
            self.ctx.rules_seen.add(mark - 1)
            parent[-1].set(RULE_ATTR, str(self.ctx.rule_lines[mark - 1]))


def rule_unmark(ctx: DeckContext, line: str) -> str:
    """`line` as the deck wrote it, if it is a rule-like line that still carries its number."""
    mark = len(line) - len(line.rstrip(" "))
    if RULE_LINE.match(line) and 0 < mark <= len(ctx.rule_texts):
        original = ctx.rule_texts[mark - 1]
        if original.rstrip(" ") == line.rstrip(" "):
            return original
    return line


def rule_traps_report(ctx: DeckContext) -> None:
    """Warn about `---` right under a list item: Python-Markdown makes the item a heading, not a slide break."""
    for index, number in enumerate(ctx.rule_lines):
        if index in ctx.rules_seen or number < 2:
            continue
        line = ctx.source_lines[number - 1].strip()
        if set(line) <= {"-"} and LIST_ITEM_LINE.match(ctx.source_lines[number - 2]):
            ctx.problem(
                line=number,
                message=(
                    f"`{line}` right under a list item makes that item a heading, not a slide break "
                    "(Markdown's setext rule); put a blank line before it"
                ),
            )


class SlideRuleExtension(DeckExtension):
    """Rules that remember their source line; `<hr>` lines count as rules."""

    def extendMarkdown(self, md: Markdown) -> None:  # noqa: N802 - markdown's API name
        ctx = self.deck_context(md)
        # After fences (29) so rules inside fenced code are already out of the way.
        md.preprocessors.register(RulePreprocessor(md, ctx), "podium_rules", 28)
        md.parser.blockprocessors.register(RuleProcessor(md.parser, ctx), "hr", 50)


def makeExtension(**kwargs: object) -> SlideRuleExtension:  # noqa: N802 - markdown's API name
    """Entry point for `markdown.Markdown(extensions=["deck.markdown.rules"])`."""
    return SlideRuleExtension(**kwargs)
