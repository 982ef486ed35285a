"""`deck rehearse --record` and `--compare`: a rehearsal kept as the deck's record, or checked against it.

`report_recording` turns a finished rehearsal into a `deck.recorded.Recording`
(the file's format is the deck app's); `record_write` refuses to keep a
rehearsal that failed, so the record is always a run that worked.
`report_compare` runs `deck.drift` on a new rehearsal and words what it found
as the report's last lines, each drift as `DRIFT slide 7 block 0
(FILE:LINE): …` with the masked diff under it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from re import Pattern

from deck.drift import Comparison, recording_compare
from deck.masks import mask_compile
from deck.parsed import Deck
from deck.recorded import (
    RecordedStep,
    Recording,
    code_hash,
    output_recorded,
    record_dump,
    record_path,
    step_name,
)
from sandbox.rehearse import RehearsalReport, StepResult


def _recorded_step(result: StepResult) -> RecordedStep:
    step = result.step
    lines, dropped = output_recorded(result.output.text() if result.output is not None else "")
    return RecordedStep(
        step=step_name(block=step.block, check=step.check),
        kind=step.kind,
        slide=step.slide,
        line=step.line,
        status=result.status,
        code=code_hash(step.code),
        exit_code=result.exit_code,
        timed_out=result.timed_out,
        seconds=result.seconds,
        output=lines,
        dropped=dropped,
        detail=result.detail if result.status == "skipped" or step.check is not None else "",
    )


def report_recording(report: RehearsalReport, *, deck: Deck, backend: str, now: datetime | None = None) -> Recording:
    """The record of the rehearsal `report` of `deck` on `backend` (dated `now`, default the current time, UTC)."""
    when = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    steps = {recorded.step: recorded for recorded in map(_recorded_step, report.results)}
    return Recording(
        path=record_path(deck.path),
        recorded_at=when.isoformat().replace("+00:00", "Z"),
        backend=backend,
        steps=steps,
    )


def record_write(report: RehearsalReport, *, deck: Deck, backend: str) -> tuple[Path | None, str]:
    """Write the record of `report` beside the deck; (its path, a sentence), or (None, why it was not written)."""
    if report.failed:
        return None, "Not recorded: the rehearsal failed, and a record must be a run that worked."
    recording = report_recording(report, deck=deck, backend=backend)
    recording.path.write_text(record_dump(recording, deck=deck), encoding="utf-8")
    skipped = report.count("skipped")
    also = f", {skipped} of them skipped" if skipped else ""
    return recording.path, f"Recorded {len(recording.steps)} steps{also} in {recording.path}."


def deck_masks(deck: Deck) -> dict[str, list[Pattern[str]]]:
    """Each step's own masks: a block's `mask=` option, a check's `mask=` (the usable ones)."""
    masks: dict[str, list[Pattern[str]]] = {}
    for slide in deck.slides:
        for block in slide.blocks:
            pattern = mask_compile(block.options["mask"])[0] if "mask" in block.options else None
            if pattern is not None:
                masks[block.block_id] = [pattern]
        for check in slide.checks:
            pattern = mask_compile(check.mask)[0] if check.mask else None
            if pattern is not None:
                masks[step_name(block=None, check=check)] = [pattern]
    return masks


def _label(step: str) -> str:
    """`s7b0` → `slide 7 block 0`, `s7b0/check` → `slide 7 block 0 check`, `s7/check` → `slide 7 check`."""
    name, _, check = step.partition("/")
    slide, _, block = name[1:].partition("b")
    words = f"slide {slide}" + (f" block {block}" if block else "")
    return f"{words} check" if check else words


def report_compare(
    report: RehearsalReport, *, deck: Deck, recorded: Recording, backend: str, shown: str, first_slide: int = 1
) -> tuple[Comparison, list[str]]:
    """Compare the rehearsal `report` with the deck's record; the comparison and the report lines that say it."""
    now = report_recording(report, deck=deck, backend=backend)
    masks = deck_masks(deck)
    found = recording_compare(
        recorded=recorded, now=now, masks_for=lambda step: masks.get(step, []), first_slide=first_slide
    )
    lines = []
    for drift in found.drifts:
        lines.append(f"DRIFT {_label(drift.step)} ({shown}:{drift.line}): {drift.message}")
        lines.extend(f"    | {line}" for line in drift.diff)
    source = f"the record of {recorded.date} on {recorded.backend or 'an unknown backend'} ({recorded.path})"
    if recorded.backend and recorded.backend != backend:
        lines.append(
            f"Note: recorded on {recorded.backend}, rehearsed on {backend}: some output differs for that alone"
        )
    if found.not_compared:
        lines.append(f"{len(found.not_compared)} steps not compared (skipped in one of the runs)")
    if found.drifts:
        count = f"{len(found.drifts)} drift{'s' if len(found.drifts) != 1 else ''}"
        lines.append(f"{count} from {source}; {found.compared} steps compared")
    else:
        lines.append(f"No drift: {found.compared} steps match {source}")
    return found, lines
