"""What the run pipeline reads from a deck: a block's run kind (the refusals are tested over the websocket)."""

from __future__ import annotations

from deck.parsed import CodeBlock
from sandbox.blocks import run_kind_for


def block(kind: str | None, runnable: bool = True) -> CodeBlock:
    return CodeBlock(slide_number=1, index=0, lexer="bash", text="x", html="", line=1, runnable=runnable, run_kind=kind)


def test_a_run_does_what_the_deck_decided():
    assert run_kind_for(block=block("build")) == "build"


def test_a_block_that_is_not_runnable_has_no_kind():
    assert run_kind_for(block=block("shell", runnable=False)) is None
