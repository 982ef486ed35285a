"""Landslide's macros, each on its own line of a paragraph: `.notes:`, `.fx:`, `.qr:`, `.footer:`.

- `.notes: text` appends a paragraph to the slide's notes;
- `.fx: a b` adds classes to the slide;
- `.qr: data` (or Landslide's `.qr: 450|data`, a size in pixels) draws a QR
  code, made locally as inline SVG with segno (no web service);
- `.footer: text` sets the slide's footer.

Runs per slide before code blocks and inline markup (priority 35), on the raw
text of paragraphs: code is not a paragraph, so macros in code stay as they are.
Macro values may use inline markdown (`.footer: **Podium**`), except `.fx:` and
`.qr:` whose values are taken literally.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as etree

import segno
from markdown import Markdown
from markdown.treeprocessors import Treeprocessor
from markdown.util import AtomicString

from deck.markdown.context import DeckContext, DeckExtension, SlideDraft

MACRO_LINE = re.compile(r"^\.(?P<name>notes|fx|qr|footer):[ \t]?(?P<value>.*)$")
QR_SIZE = re.compile(r"^(?P<size>\d+)\|(?P<data>.*)$")
QR_DEFAULT_SIZE = 240


def qr_svg(*, data: str, size: int = QR_DEFAULT_SIZE) -> str:
    """An inline `<svg>` QR code of `data`, about `size` pixels wide, black on white with a quiet zone."""
    code = segno.make_qr(data, error="m")
    width, _ = code.symbol_size(border=2)
    # A regular QR (never Micro QR, which phones rarely read); size set on the <svg>, no inline style.
    return code.svg_inline(
        scale=max(size / width, 1), border=2, dark="#000", light="#fff", svgclass="qr-code", title=data
    )


class MacroTreeprocessor(Treeprocessor):
    """Find macro lines in each slide's paragraphs and apply them (see the module docstring)."""

    def __init__(self, md: Markdown, ctx: DeckContext) -> None:
        super().__init__(md)
        self.ctx = ctx

    def run(self, root: etree.Element) -> None:
        for slide in self.ctx.slides:
            for part in (slide.body, slide.notes):
                parents = {child: parent for parent in part.iter() for child in parent}
                for paragraph in list(part.iter("p")):
                    if paragraph.text and "." in paragraph.text and not len(paragraph):
                        self._paragraph(slide, parents[paragraph], paragraph)

    def _paragraph(self, slide: SlideDraft, parent: etree.Element, paragraph: etree.Element) -> None:
        lines = paragraph.text.split("\n")
        if not any(MACRO_LINE.match(line.strip()) for line in lines):
            return
        replacement: list[etree.Element] = []
        plain: list[str] = []
        for line in lines:
            macro = MACRO_LINE.match(line.strip())
            if macro is None:
                plain.append(line)
                continue
            if plain:
                replacement.append(self._text_paragraph("\n".join(plain)))
                plain = []
            source_line = self.ctx.line_locate(
                slide=slide, kind="macro", match=lambda src, m=line: src.strip() == m.strip()
            )
            made = self._apply(slide, macro.group("name"), macro.group("value").strip(), line=source_line)
            if made is not None:
                replacement.append(made)
        if plain:
            replacement.append(self._text_paragraph("\n".join(plain)))
        position = list(parent).index(paragraph)
        if replacement:
            replacement[-1].tail = paragraph.tail
        parent.remove(paragraph)
        for offset, element in enumerate(replacement):
            parent.insert(position + offset, element)

    @staticmethod
    def _text_paragraph(text: str) -> etree.Element:
        paragraph = etree.Element("p")
        paragraph.text = text
        return paragraph

    def _apply(self, slide: SlideDraft, name: str, value: str, *, line: int) -> etree.Element | None:
        """Apply one macro; returns the element to put where the macro line was, if any."""
        if name == "notes":
            if value:
                etree.SubElement(slide.notes, "p").text = value
            return None
        if name == "fx":
            slide.classes.extend(c for c in value.split() if c not in slide.classes)
            return None
        if name == "footer":
            if slide.footer is None:
                slide.footer = etree.SubElement(slide.section, "div")
            slide.footer.text = value
            return None
        return self._qr(value, line=line)

    def _qr(self, value: str, *, line: int) -> etree.Element | None:
        sized = QR_SIZE.match(value)
        size, data = (int(sized.group("size")), sized.group("data").strip()) if sized else (QR_DEFAULT_SIZE, value)
        if not data:
            self.ctx.problem(line=line, message=".qr: has no data to encode")
            return None
        try:
            svg = qr_svg(data=data, size=size)
        except ValueError:  # segno.DataOverflowError is one
            self.ctx.problem(line=line, message=f".qr: data is too long for a QR code ({len(data)} characters)")
            return None
        figure = etree.Element("div", {"class": "qr"})
        figure.text = AtomicString(self.md.htmlStash.store(svg))
        return figure


class MacroExtension(DeckExtension):
    """Landslide macros on the element tree."""

    def extendMarkdown(self, md: Markdown) -> None:  # noqa: N802 - markdown's API name
        ctx = self.deck_context(md)
        md.treeprocessors.register(MacroTreeprocessor(md, ctx), "podium_macros", 35)


def makeExtension(**kwargs: object) -> MacroExtension:  # noqa: N802 - markdown's API name
    """Entry point for `markdown.Markdown(extensions=["deck.markdown.macros"])`."""
    return MacroExtension(**kwargs)
