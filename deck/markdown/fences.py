"""Fenced code blocks (```` ``` ```` or `~~~`) that stay elements of the tree and know their source lines.

Python-Markdown's own `fenced_code` stashes a fenced block as finished HTML,
out of reach of tree processors, and without its line. This extension finds
fences the way `fenced_code` does (a fence at the start of a line, closed by
the same fence), before the raw-HTML step can touch their content; it records
each one and leaves a one-line token plus blank lines in its place, so the
line count of the document does not change. A block processor then turns the
token into `<pre data-fence="N">` for `deck.markdown.codeblocks`.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as etree

from markdown import Markdown
from markdown.blockparser import BlockParser
from markdown.blockprocessors import BlockProcessor
from markdown.preprocessors import Preprocessor
from markdown.util import AtomicString

from deck.markdown.context import DeckContext, DeckExtension, Fence

OPENING = re.compile(r"^(?P<fence>`{3,}|~{3,})[ ]*(?P<info>[^`\n]*?)[ ]*$")
TOKEN = "\ue000fence:{}\ue001"  # noqa: S105 - a placeholder, not a secret
TOKEN_LINE = re.compile("^\ue000fence:(\\d+)\ue001$", re.MULTILINE)
FENCE_ATTR = "data-fence"


class FencePreprocessor(Preprocessor):
    """Replace each fenced block with a token line followed by blank lines (same line count)."""

    def __init__(self, md: Markdown, ctx: DeckContext) -> None:
        super().__init__(md)
        self.ctx = ctx

    def run(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        index = 0
        while index < len(lines):
            opening = OPENING.match(lines[index])
            closing = self._closing(lines, index, opening.group("fence")) if opening else None
            if opening is None:
                out.append(lines[index])
                index += 1
                continue
            if closing is None:
                # Python-Markdown does not treat an unclosed fence as code either; say so.
                self.ctx.problem(line=index + 1, message=f"code fence {opening.group('fence')} is never closed")
                out.append(lines[index])
                index += 1
                continue
            fence = Fence(
                line=index + 1,
                end_line=closing + 1,
                info=opening.group("info").strip(),
                text="\n".join(lines[index + 1 : closing]),
            )
            self.ctx.fence_lines.update(range(fence.line, fence.end_line + 1))
            out.append(TOKEN.format(len(self.ctx.fences)))
            out.extend([""] * (closing - index))
            self.ctx.fences.append(fence)
            index = closing + 1
        return out

    @staticmethod
    def _closing(lines: list[str], start: int, fence: str) -> int | None:
        for number in range(start + 1, len(lines)):
            if lines[number].rstrip(" ") == fence:
                return number
        return None


class FenceBlockProcessor(BlockProcessor):
    """Turn a fence token (on any line of a block) into `<pre data-fence="N">TEXT</pre>`."""

    def __init__(self, parser: BlockParser, ctx: DeckContext) -> None:
        super().__init__(parser)
        self.ctx = ctx

    def test(self, parent: etree.Element, block: str) -> bool:
        return TOKEN_LINE.search(block) is not None

    def run(self, parent: etree.Element, blocks: list[str]) -> None:
        block = blocks.pop(0)
        match = TOKEN_LINE.search(block)
        before = block[: match.start()].rstrip("\n")
        if before:
            self.parser.parseBlocks(parent, [before])
        fence = self.ctx.fences[int(match.group(1))]
        # No <code> child: Python-Markdown appends a following indented block to a
        # preceding <pre><code>, which would swallow it into this fence.
        pre = etree.SubElement(parent, "pre", {FENCE_ATTR: match.group(1)})
        pre.text = AtomicString(fence.text)
        after = block[match.end() :].lstrip("\n")
        if after:
            blocks.insert(0, after)


class FencedCodeExtension(DeckExtension):
    """Fenced code blocks as tree elements with exact source lines (replaces `fenced_code`)."""

    def extendMarkdown(self, md: Markdown) -> None:  # noqa: N802 - markdown's API name
        ctx = self.deck_context(md)
        # After whitespace normalisation (30), before raw HTML (20) so fenced HTML stays code.
        md.preprocessors.register(FencePreprocessor(md, ctx), "podium_fences", 29)
        # Before indented code (80) would matter only for indented tokens, which never occur.
        md.parser.blockprocessors.register(FenceBlockProcessor(md.parser, ctx), "podium_fence", 75)


def makeExtension(**kwargs: object) -> FencedCodeExtension:  # noqa: N802 - markdown's API name
    """Entry point for `markdown.Markdown(extensions=["deck.markdown.fences"])`."""
    return FencedCodeExtension(**kwargs)
