"""The stuck radar: the room's failed runs and checks grouped by step and by what went wrong.

Two people who hit the same problem rarely get the same text: container ids,
ports, times and paths differ. `error_line` takes the last line that says
something and masks what varies, so "Conflict. The container name "/mysql"
is already in use by container "9f1c…"" from seven people is one group of 7.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_MASKS = [
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<id>"),
    (re.compile(r"\b(?:sha256:)?[0-9a-f]{12,64}\b", re.I), "<id>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"), "<time>"),
    (re.compile(r"\b\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\b"), "<time>"),
    (re.compile(r"(?<![\w<])(?:~|\.{1,2})?(?:/[\w.@+-]+){2,}/?"), "<path>"),
    (re.compile(r"\b\d+(?:\.\d+)*\b"), "<n>"),
]
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")
# Lines that name the problem, preferred over a tool's closing hint ("See 'docker run --help'.").
_ERROR_WORDS = re.compile(r"error|exception|fail|denied|refused|not found|no such|conflict|cannot|can't|invalid", re.I)
_HINT = re.compile(r"^(?:see|run) '[^']*--help'", re.I)
LINE_MAX = 200


def error_line(text: str) -> str:
    """The last line of `text` naming an error (else its last line that says something), with ids, hashes,
    times, paths and numbers masked."""
    lines = [line.strip() for line in _ESCAPES.sub("", text or "").splitlines()]
    said = [line for line in lines if line and not set(line) <= set("-=*#~_.:^ ") and not _HINT.match(line)]
    if not said:
        return ""
    errors = [line for line in said if _ERROR_WORDS.search(line)]
    line = (errors or said)[-1]
    for pattern, mask in _MASKS:
        line = pattern.sub(mask, line)
    return line[:LINE_MAX]


@dataclass
class Stuck:
    """One attendee stuck on one step: which member, where, and the output it ended with."""

    member_id: str
    name: str
    step: str  # a block id ("s16b0") or a check id
    slide: int | None
    kind: str  # "run" or "check"
    line: str  # error_line of what it printed
    output: str  # the end of what it printed, for the presenter to read


@dataclass
class RadarGroup:
    """Everyone stuck on the same step with the same masked line."""

    key: str
    step: str
    slide: int | None
    kind: str
    line: str
    members: list[Stuck] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.members)


def radar_groups(stuck: list[Stuck]) -> list[RadarGroup]:
    """Group the stuck by (step, masked line); the biggest group first, then by slide."""
    groups: dict[tuple[str, str], RadarGroup] = {}
    for one in stuck:
        key = (one.step, one.line)
        if key not in groups:
            groups[key] = RadarGroup(
                key=f"{one.kind}:{one.step}:{len(groups)}", step=one.step, slide=one.slide, kind=one.kind, line=one.line
            )
        groups[key].members.append(one)
    return sorted(groups.values(), key=lambda group: (-group.count, group.slide or 0, group.step, group.line))
