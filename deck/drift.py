"""Drift: where a new rehearsal differs from the deck's record (`deck rehearse --compare`).

A step drifted when its exit code (or timing out) differs from the record's,
or when its output differs once both went through the masks (`deck.masks`:
the built-in ones and the step's own `mask=`). The order of the lines does
not count: parallel work (layers pulled, compose stopping services) and
lists sorted by generated names (`kubectl get pods`) come in any order. A step the
record does not have, or that the deck no longer has, is drift too: the
record no longer describes the deck. Steps skipped in either run are not
compared; they are listed apart.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from re import Pattern

from deck.masks import output_masked
from deck.recorded import RecordedStep, Recording

DIFF_LINES = 12


@dataclass(frozen=True)
class Drift:
    """One step that differs from the record: where (the deck line), what (a sentence) and the masked diff."""

    step: str
    slide: int
    line: int
    message: str
    diff: tuple[str, ...] = ()


@dataclass
class Comparison:
    """Everything `--compare` found: the drifts, the steps compared, and those not compared (with why)."""

    drifts: list[Drift] = field(default_factory=list)
    compared: int = 0
    not_compared: list[tuple[RecordedStep, str]] = field(default_factory=list)


def _ending(step: RecordedStep) -> str:
    if step.timed_out:
        return "timed out"
    return f"exit code {step.exit_code}" if step.exit_code is not None else f"no exit code ({step.detail})"


def step_compare(*, recorded: RecordedStep, now: RecordedStep, masks: list[Pattern[str]]) -> Drift | None:
    """How `now` differs from `recorded` (exit code first, then the masked output), or None when it does not."""
    edited = " (its code changed since the record)" if recorded.code and recorded.code != now.code else ""
    if (recorded.exit_code, recorded.timed_out) != (now.exit_code, now.timed_out):
        message = f"{_ending(recorded)} in the record, {_ending(now)} now{edited}"
        return Drift(now.step, now.slide, now.line, message, _diff(recorded, now, masks))
    diff = _diff(recorded, now, masks)
    if diff:
        return Drift(now.step, now.slide, now.line, f"output differs from the record{edited}", diff)
    return None


def _diff(recorded: RecordedStep, now: RecordedStep, masks: list[Pattern[str]]) -> tuple[str, ...]:
    # A record keeps only the last lines: compare no more of the new output than the record holds.
    before = output_masked(recorded.output, extra=masks)
    after = output_masked(now.output[-len(recorded.output) :] if recorded.dropped else now.output, extra=masks)
    if sorted(before) == sorted(after):  # the same lines in another order: parallel work, random names sorted
        return ()
    lines = difflib.unified_diff(before, after, "recorded", "now", n=1, lineterm="")
    body = [line for line in lines if not line.startswith(("---", "+++"))]
    if len(body) > DIFF_LINES:
        body = [*body[:DIFF_LINES], f"… {len(body) - DIFF_LINES} more diff lines"]
    return tuple(body)


def recording_compare(
    *, recorded: Recording, now: Recording, masks_for: Callable[[str], list[Pattern[str]]], first_slide: int = 1
) -> Comparison:
    """Compare the new run `now` with `recorded`, step by step; `masks_for(step)` gives a step's own masks.

    Only the record's steps from `first_slide` on are expected (a rehearsal started later ran no others).
    """
    found = Comparison()
    for name, step in now.steps.items():
        before = recorded.steps.get(name)
        if before is None:
            found.drifts.append(Drift(name, step.slide, step.line, "not in the record (record the deck again)"))
        elif step.status == "skipped":
            found.not_compared.append((step, f"skipped now: {step.detail}"))
        elif before.status == "skipped":
            found.not_compared.append((step, f"skipped in the record: {before.detail}"))
        else:
            found.compared += 1
            drift = step_compare(recorded=before, now=step, masks=masks_for(name))
            if drift is not None:
                found.drifts.append(drift)
    for name, step in recorded.steps.items():
        if name not in now.steps and step.slide >= first_slide:
            message = f"in the record (line {step.line}) but not in the deck any more (record the deck again)"
            found.drifts.append(Drift(name, step.slide, step.line, message))
    found.drifts.sort(key=lambda drift: (drift.slide, drift.line))
    return found
