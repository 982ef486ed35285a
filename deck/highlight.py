"""Pygments for code blocks: finding a lexer by its alias, highlighting, and the CSS once.

The slides are projected, so the style is a dark one with strong contrast.

Highlighting is the dearest step of a deck parse, and a deck is parsed again
whole whenever its file or an include changes, while most of its blocks stay
as they were. So the HTML of a block is kept, keyed by what decides it (the
lexer class, its options and the text), in a bounded least-recently-used
cache shared by every parse in the process.
"""

from __future__ import annotations

from functools import cache, lru_cache

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import TextLexer, find_lexer_class_by_name
from pygments.util import ClassNotFound

PYGMENTS_STYLE = "monokai"
CSS_CLASS = "highlight"
# A few decks' worth of blocks: the shipped deck has under a hundred (body and notes).
HIGHLIGHT_CACHE_BLOCKS = 1024
# Texts longer than this (a large included file) are highlighted every time rather than kept; the HTML of a
# text is about five times its size, so the cache stays under ~50 MB however large the blocks (~1 MB for a deck).
HIGHLIGHT_CACHE_MAX_CHARS = 8 * 1024
# stripnl=False: a deck may want to show leading blank lines.
LEXER_OPTIONS = (("ensurenl", True), ("stripnl", False))


@cache
def _formatter() -> HtmlFormatter:
    return HtmlFormatter(cssclass=CSS_CLASS, style=PYGMENTS_STYLE)


@cache
def _lexer_class(alias: str) -> type[Lexer] | None:
    # Pygments looks an alias up by scanning every lexer it knows; a deck asks for the same few again and again.
    try:
        return find_lexer_class_by_name(alias)
    except ClassNotFound:
        return None


def lexer_find(*, alias: str) -> Lexer | None:
    """The Pygments lexer for `alias` (`bash`, `yaml`, `docker` ...), or None when Pygments has no such lexer."""
    found = _lexer_class(alias.lower())
    return found(**dict(LEXER_OPTIONS)) if found is not None else None


@lru_cache(maxsize=HIGHLIGHT_CACHE_BLOCKS)
def _highlighted(lexer_class: type[Lexer], options: tuple, text: str) -> str:
    return highlight(text, lexer_class(**dict(options)), _formatter())


def code_highlight(*, text: str, lexer: Lexer | None) -> str:
    """HTML of `text` highlighted with `lexer` (plain escaped text when None), as `<div class="highlight"><pre>`."""
    lexer = lexer or TextLexer(**dict(LEXER_OPTIONS))
    try:
        options = tuple(sorted(lexer.options.items()))
        hash(options)
    except TypeError:  # an option Pygments allows but that cannot key a cache (a list of filters)
        options = None
    if options is None or len(text) > HIGHLIGHT_CACHE_MAX_CHARS:
        return highlight(text, lexer, _formatter())
    return _highlighted(type(lexer), options, text)


def code_highlight_cache_clear() -> None:
    """Forget every highlighted block (the benchmark measures a parse with nothing kept)."""
    _highlighted.cache_clear()


@cache
def pygments_css() -> str:
    """The CSS rules for highlighted code blocks (scoped to `.highlight`), generated once."""
    return _formatter().get_style_defs(f".{CSS_CLASS}")
