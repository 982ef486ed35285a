"""A deck's recorded outputs: `<deck>.recorded.json` beside the deck file, written by `deck rehearse --record`.

The file says, for each block and check a rehearsal ran, its exit code,
duration and output (as a terminal shows it, the last RECORD_LINES lines),
and when and on which backend it was recorded. It is JSON with sorted keys,
one output line per array item and steps in deck order, so a re-recording
diffs line by line in review. The pages show a recorded output where a block
cannot run live (no engine, a sandbox failure, the offline export), and
`deck rehearse --compare` checks a new run against it (`deck.drift`).

Steps are named `s7b0` (block 0 of slide 7), `s7b0/check` (its check) and
`s7/check` (a slide's own check); `code` is a short hash of what ran, so a
block edited since the recording is known.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from deck.errors import DeckFileError
from deck.masks import terminal_text
from deck.parsed import Check, CodeBlock, Deck

RECORD_SUFFIX = ".recorded.json"
RECORD_FORMAT = 1
RECORD_LINES = 200
RECORD_LINE_CHARS = 500


@dataclass(frozen=True)
class RecordedStep:
    """One recorded block or check: what ran (`code`, a hash), how it ended and what it printed."""

    step: str  # "s7b0", "s7b0/check", "s7/check"
    kind: str  # a run kind ("shell", "build", ...) or "check"
    slide: int
    line: int
    status: str  # "ok", "failed" or "skipped"
    code: str = ""
    exit_code: int | None = None
    timed_out: bool = False
    seconds: float = 0.0
    output: tuple[str, ...] = ()
    dropped: int = 0  # output lines before the first one kept
    detail: str = ""  # a check's message, a skip's reason, "exit 1"


@dataclass(frozen=True)
class Recording:
    """A deck's record file: when and where it was recorded, and its steps by name."""

    path: Path
    recorded_at: str  # ISO 8601, UTC
    backend: str
    steps: dict[str, RecordedStep] = field(default_factory=dict)

    @property
    def date(self) -> str:
        """The day it was recorded, as a person reads it: `4 Dec 2026`."""
        try:
            when = datetime.fromisoformat(self.recorded_at.replace("Z", "+00:00"))
        except ValueError:
            return self.recorded_at[:10]
        return f"{when.day} {when:%b %Y}"

    def for_block(self, block: CodeBlock) -> RecordedStep | None:
        """The recorded run of `block` if it ran as the deck has it now (same code), else None."""
        step = self.steps.get(block.block_id)
        if step is None or step.status == "skipped" or step.code != code_hash(block.text):
            return None
        return step


def record_path(deck_path: Path) -> Path:
    """Where the record of the deck at `deck_path` lives: `slides/talk.md` → `slides/talk.recorded.json`."""
    return deck_path.with_name(deck_path.stem + RECORD_SUFFIX)


def code_hash(text: str) -> str:
    """A short hash of a block's or check's code (12 hex digits): enough to tell an edited block."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def step_name(*, block: CodeBlock | None, check: Check | None) -> str:
    """The record's name of a step: the block's id, or the check's id with `/check`."""
    if check is not None:
        return f"{check.check_id}/check"
    return block.block_id


def output_recorded(text: str) -> tuple[tuple[str, ...], int]:
    """The output lines a record keeps of `text` (the last RECORD_LINES, each cut at RECORD_LINE_CHARS),
    and how many earlier lines were dropped."""
    lines = [line[:RECORD_LINE_CHARS] for line in terminal_text(text)]
    kept = lines[-RECORD_LINES:]
    return tuple(kept), len(lines) - len(kept)


def record_dump(recording: Recording, *, deck: Deck) -> str:
    """The record file's text: sorted keys, two-space indents, steps in deck order, a final newline."""
    steps = []
    for step in recording.steps.values():
        item = {
            "step": step.step,
            "kind": step.kind,
            "slide": step.slide,
            "line": step.line,
            "status": step.status,
            "code": step.code,
            "exit_code": step.exit_code,
            "seconds": round(step.seconds, 1),
            "output": list(step.output),
        }
        if step.timed_out:
            item["timed_out"] = True
        if step.dropped:
            item["dropped_lines"] = step.dropped
        if step.detail:
            item["detail"] = step.detail
        steps.append(item)
    data = {
        "format": RECORD_FORMAT,
        "deck": deck.path.name,
        "recorded_at": recording.recorded_at,
        "backend": recording.backend,
        "steps": sorted(steps, key=lambda item: (item["slide"], item["line"])),
    }
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def record_load(path: Path) -> Recording | None:
    """The record at `path`; None when there is none. Raises DeckFileError (naming the file) when it is
    not a record this version of Podium reads."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise DeckFileError(f"{path}: cannot read the record ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DeckFileError(f"{path}:{exc.lineno}: the record is not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict) or data.get("format") != RECORD_FORMAT or not isinstance(data.get("steps"), list):
        raise DeckFileError(f"{path}: not a record of format {RECORD_FORMAT}; record it again with --record")
    steps: dict[str, RecordedStep] = {}
    for item in data["steps"]:
        try:
            step = RecordedStep(
                step=str(item["step"]),
                kind=str(item["kind"]),
                slide=int(item["slide"]),
                line=int(item["line"]),
                status=str(item["status"]),
                code=str(item.get("code", "")),
                exit_code=None if item.get("exit_code") is None else int(item["exit_code"]),
                timed_out=bool(item.get("timed_out", False)),
                seconds=float(item.get("seconds", 0.0)),
                output=tuple(str(line) for line in item.get("output", [])),
                dropped=int(item.get("dropped_lines", 0)),
                detail=str(item.get("detail", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DeckFileError(f"{path}: a step of the record is malformed ({exc!r}); record it again") from None
        steps[step.step] = step
    return Recording(
        path=path, recorded_at=str(data.get("recorded_at", "")), backend=str(data.get("backend", "")), steps=steps
    )
