"""Python-Markdown extensions that turn a Landslide-style deck into slides, one concern per module.

Order of work on one conversion (priorities in brackets):

- preprocessors: `fences` (29) takes fenced code out, `rules` (28) numbers
  lines that may be slide-splitting rules;
- block processors: `fences` (75) puts fenced code back as elements, `rules`
  replaces Python-Markdown's `hr` (50) to remember source lines;
- tree processors: `slides` (40) splits into slides and notes, `macros` (35),
  `codeblocks` (30), Python-Markdown's inline markup (20), `images` (15),
  prettify (10), unescape (0), then `slides` harvest (-10).

`deck.parser.deck_parse` builds the converter with `deck_markdown`, runs it and
serialises each slide.
"""

from __future__ import annotations

from markdown import Markdown

from deck.markdown.codeblocks import CodeBlockExtension
from deck.markdown.context import DeckContext
from deck.markdown.fences import FencedCodeExtension
from deck.markdown.images import ImageExtension
from deck.markdown.macros import MacroExtension
from deck.markdown.rules import SlideRuleExtension
from deck.markdown.slides import SlideExtension

# What Landslide decks use beyond core Markdown: tables; sane_lists keeps an
# ordered list's start number (`7.` starts at 7) and separates list kinds.
STANDARD_EXTENSIONS = ["tables", "sane_lists"]


def deck_markdown(*, ctx: DeckContext) -> Markdown:
    """A fresh Markdown converter with the deck extensions, all sharing `ctx`."""
    extensions = [
        FencedCodeExtension(context=ctx),
        SlideRuleExtension(context=ctx),
        SlideExtension(context=ctx),
        MacroExtension(context=ctx),
        CodeBlockExtension(context=ctx),
        ImageExtension(context=ctx),
    ]
    return Markdown(extensions=[*STANDARD_EXTENSIONS, *extensions])
