"""Errors of the deck engine, each carrying a one-line message meant for a person.

Content problems inside a deck (an unknown lexer, a missing image) are not
errors: they are `deck.parsed.Problem` values on the parsed deck. These
exceptions are for when there is no deck to parse at all.
"""

from __future__ import annotations


class DeckError(Exception):
    """Base of the deck engine's errors; `str(exc)` is the sentence to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DeckFileError(DeckError):
    """A deck file is missing, unreadable or not UTF-8 text."""


class DeckNotFound(DeckError):
    """No deck with this slug (or no such asset next to the deck)."""
