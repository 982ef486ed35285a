"""Split the document tree into slides at its top-level rules, and each slide into body and notes.

Runs right after block parsing (priority 40), before macros, code blocks and
inline markup, so that every later step works slide by slide and knows the
slide's range of source lines. The tree becomes
`<section><div>body</div><div>notes</div></section>` per kept slide (empty
slides are dropped here, so numbers count kept slides only). After all other
processing (priority -10, after `unescape`) the sections are taken out of the
tree; `deck.parser` serialises each part on its own.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as etree

from markdown import Markdown
from markdown.treeprocessors import Treeprocessor
from markdown.util import HTML_PLACEHOLDER_RE

from deck.markdown.context import DeckContext, DeckExtension, SlideDraft
from deck.markdown.rules import HTML_RULE_LINE, RULE_ATTR, RULE_LINE, rule_traps_report, rule_unmark

HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
NOTES_HEADING = "presenter notes"
EMPHASIS = re.compile(r"[*_`]")


def notes_heading_is(element: etree.Element) -> bool:
    """Whether `element` is a "Presenter notes" heading (any level, any case, emphasis ignored)."""
    if element.tag not in HEADINGS:
        return False
    text = EMPHASIS.sub("", "".join(element.itertext()))
    return " ".join(text.split()).casefold() == NOTES_HEADING


class SlideSplitTreeprocessor(Treeprocessor):
    """Restructure the root into one `<section>` per non-empty slide; record a `SlideDraft` for each."""

    def __init__(self, md: Markdown, ctx: DeckContext) -> None:
        super().__init__(md)
        self.ctx = ctx

    def run(self, root: etree.Element) -> None:
        segments: list[list[etree.Element]] = [[]]
        boundaries: list[int] = []
        for child in list(root):
            root.remove(child)
            if child.tag == "hr" or self._html_rule(child):
                boundaries.append(self._rule_line(child, after=boundaries[-1] if boundaries else 0))
                segments.append([])
            else:
                segments[-1].append(child)
        for nested in root.iter("hr"):
            nested.attrib.pop(RULE_ATTR, None)
        self._raw_html_unmark()
        last = len(self.ctx.source_lines)
        for index, elements in enumerate(segments):
            if not elements:
                continue
            start = boundaries[index - 1] + 1 if index else 1
            end = boundaries[index] - 1 if index < len(boundaries) else last
            self.ctx.slides.append(self._slide(root, elements, start=start, end=end))
        rule_traps_report(self.ctx)

    def _slide(self, root: etree.Element, elements: list[etree.Element], *, start: int, end: int) -> SlideDraft:
        section = etree.SubElement(root, "section")
        body = etree.SubElement(section, "div")
        notes = etree.SubElement(section, "div")
        target = body
        for element in elements:
            if target is body and notes_heading_is(element):
                target = notes
                continue
            target.append(element)
        first = next((n for n in range(start, end + 1) if self.ctx.source_lines[n - 1].strip()), start)
        return SlideDraft(
            number=len(self.ctx.slides) + 1, start=start, end=end, line=first, section=section, body=body, notes=notes
        )

    def _raw_html_unmark(self) -> None:
        """Drop the rule numbering (trailing spaces) from rule-like lines that ended up inside raw HTML."""
        stash = self.md.htmlStash.rawHtmlBlocks
        for index, raw in enumerate(stash):
            if isinstance(raw, str) and " \n" in raw + "\n":
                lines = raw.split("\n")
                stash[index] = "\n".join(rule_unmark(self.ctx, line) for line in lines)

    def _html_rule(self, element: etree.Element) -> bool:
        """Whether `element` is a raw `<hr>` line (Python-Markdown stashes it; the tree holds a placeholder)."""
        if element.tag != "p" or not element.text or len(element):
            return False
        found = HTML_PLACEHOLDER_RE.fullmatch(element.text.strip())
        if found is None or int(found.group(1)) >= len(self.md.htmlStash.rawHtmlBlocks):
            return False
        return HTML_RULE_LINE.match(str(self.md.htmlStash.rawHtmlBlocks[int(found.group(1))])) is not None

    def _rule_line(self, rule: etree.Element, *, after: int) -> int:
        """Source line of a top-level rule: numbered by `deck.markdown.rules`, or the next `<hr>` line."""
        marked = rule.get(RULE_ATTR)
        if marked:
            return int(marked)
        pattern = HTML_RULE_LINE if rule.tag == "p" else RULE_LINE
        for number in range(after + 1, len(self.ctx.source_lines) + 1):
            if number not in self.ctx.fence_lines and pattern.match(self.ctx.source_lines[number - 1]):
                return number
        return after + 1


class SlideHarvestTreeprocessor(Treeprocessor):
    """Take the finished sections out of the tree (they live on in the SlideDrafts); leave an empty root."""

    def run(self, root: etree.Element) -> etree.Element:
        return etree.Element(self.md.doc_tag)


class SlideExtension(DeckExtension):
    """Slides, notes and empty-slide dropping on the element tree."""

    def extendMarkdown(self, md: Markdown) -> None:  # noqa: N802 - markdown's API name
        ctx = self.deck_context(md)
        md.treeprocessors.register(SlideSplitTreeprocessor(md, ctx), "podium_slides", 40)
        # After `unescape` (0): every standard step has then seen the sections.
        md.treeprocessors.register(SlideHarvestTreeprocessor(md), "podium_harvest", -10)


def makeExtension(**kwargs: object) -> SlideExtension:  # noqa: N802 - markdown's API name
    """Entry point for `markdown.Markdown(extensions=["deck.markdown.slides"])`."""
    return SlideExtension(**kwargs)
