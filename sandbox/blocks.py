"""What the run pipeline reads from a deck: the deck a page names, the block a Run names, its kind and options.

Every lookup that can fail refuses with `RunRefused`, in the learner's words
(a deck that does not exist or cannot be read, a block id that names no
block, a block without a Run button). The deck is read again each time
(`deck.selectors.deck_get` caches it), so a run always does what the deck
says now.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from deck.errors import DeckFileError, DeckNotFound
from deck.parsed import CodeBlock, Deck
from deck.selectors import deck_get
from sandbox.errors import RunRefused

if TYPE_CHECKING:
    from sandbox.models import Run


def deck_for_run(*, deck_slug: str) -> Deck:
    """The deck `deck_slug`; RunRefused "not-found" when there is none or it cannot be read."""
    try:
        return deck_get(slug=deck_slug)
    except DeckNotFound:
        raise RunRefused("not-found", f"There is no deck called {deck_slug!r}.") from None
    except DeckFileError as exc:
        raise RunRefused("not-found", f"The deck {deck_slug!r} cannot be read: {exc}") from None


def run_kind_for(*, block: CodeBlock) -> str | None:
    """What a Run of `block` does (see `deck.run_kinds`), or None when it cannot run."""
    return block.run_kind if block.runnable else None


def block_for_run(*, deck_slug: str, block_id: object) -> tuple[CodeBlock, str]:
    """The block `block_id` (like "s7b0") of the deck and its run kind; RunRefused saying why it cannot run."""
    parsed = _block_id_parse(block_id)
    if parsed is None:
        raise RunRefused("not-found", f"There is no block {str(block_id)[:40]!r} in this deck.")
    deck = deck_for_run(deck_slug=deck_slug)
    slide, index = parsed
    block = deck.block(slide, index)
    if block is None:
        if not 1 <= slide <= len(deck.slides):
            where = f"this deck has slides 1 to {len(deck.slides)}"
        else:
            where = f"slide {slide} has {len(deck.slides[slide - 1].blocks)} code block(s)"
        raise RunRefused("not-found", f"There is no block {block_id} in this deck: {where}.")
    kind = run_kind_for(block=block)
    if kind is None:
        what = f"a {block.lexer} block" if block.lexer else "a plain text block"
        why = f"it is {what} without a Run button" if not block.runnable else f"Podium cannot run {what}"
        raise RunRefused("not-runnable", f"Block {block_id} on slide {slide} cannot be run: {why}.")
    return block, kind


def _block_id_parse(block_id: object) -> tuple[int, int] | None:
    if not isinstance(block_id, str) or not block_id.startswith("s") or "b" not in block_id or len(block_id) > 12:
        return None
    slide, _, index = block_id[1:].partition("b")
    if not (slide.isdigit() and index.isdigit() and slide.isascii() and index.isascii()):
        return None
    return int(slide), int(index)


def block_options_of(*, run: Run) -> dict[str, str]:
    """The options (build context, tag...) of the block `run` came from, as the deck says now; {} when it is gone.

    Read when a run starts, not when it is accepted, so an edited block keeps
    its context and tag; a replayed run gets them the same way.
    """
    try:
        block = deck_get(slug=run.deck_slug).block(run.slide, run.block_index)
    except (DeckNotFound, DeckFileError):
        return {}
    return {str(k): str(v) for k, v in (block.options if block else {}).items()}
