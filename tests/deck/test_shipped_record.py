"""The shipped deck's committed record (`deck rehearse --record`) still describes the deck: every runnable
block and check is in it with its current code, every one passed, and the export embeds them."""

from __future__ import annotations

from deck.export import deck_export_html
from deck.parser import deck_parse
from deck.recorded import code_hash, record_load, record_path, step_name
from tests.conftest import ROOT

DECK = ROOT / "slides" / "intro-docker-kubernetes.md"


def test_every_runnable_block_and_check_is_recorded_with_its_current_code():
    deck = deck_parse(path=DECK)
    recording = record_load(record_path(DECK))
    assert recording is not None, "record it: manage.py deck rehearse slides/intro-docker-kubernetes.md --record"
    runnable = [block for slide in deck.slides for block in slide.blocks if block.runnable]
    missing = [f"{DECK.name}:{block.line}" for block in runnable if recording.for_block(block) is None]
    assert missing == [], "blocks changed since the record: run `deck rehearse … --record` again"
    checks = [check for slide in deck.slides for check in slide.checks]
    for check in checks:
        step = recording.steps[step_name(block=None, check=check)]
        assert step.code == code_hash(check.command), f"{DECK.name}:{check.line} changed since the record"
    assert len(recording.steps) == len(runnable) + len(checks)
    assert {step.status for step in recording.steps.values()} == {"ok"}  # nothing skipped: both halves ran


def test_the_offline_export_carries_the_recorded_outputs():
    deck = deck_parse(path=DECK, inline_images=True)
    recording = record_load(record_path(DECK))
    html = deck_export_html(deck=deck, recording=recording)
    assert html.count('class="recorded-output"') == sum(b.runnable for s in deck.slides for b in s.blocks)
    assert "deployment &quot;12factor&quot; successfully rolled out" in html
