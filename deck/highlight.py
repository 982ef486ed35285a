"""Pygments for code blocks: finding a lexer by its alias, highlighting, and the CSS once.

The slides are projected, so the style is a dark one with strong contrast.
"""

from __future__ import annotations

from functools import cache

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import TextLexer, find_lexer_class_by_name
from pygments.util import ClassNotFound

PYGMENTS_STYLE = "monokai"
CSS_CLASS = "highlight"


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
    # stripnl=False: a deck may want to show leading blank lines.
    return found(stripnl=False, ensurenl=True) if found is not None else None


def code_highlight(*, text: str, lexer: Lexer | None) -> str:
    """HTML of `text` highlighted with `lexer` (plain escaped text when None), as `<div class="highlight"><pre>`."""
    return highlight(text, lexer or TextLexer(stripnl=False, ensurenl=True), _formatter())


@cache
def pygments_css() -> str:
    """The CSS rules for highlighted code blocks (scoped to `.highlight`), generated once."""
    return _formatter().get_style_defs(f".{CSS_CLASS}")
