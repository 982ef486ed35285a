"""Masks: what a drift check ignores in a step's output because it changes on every run.

`deck rehearse --compare` compares each step's output with the recorded one
line by line after both went through `output_masked`: the built-in masks
below replace timestamps, durations, ids and hashes, IP addresses, ephemeral
ports, progress bars and sizes in flight, and generated names (a Kubernetes
pod's suffix, a Docker container's random name) with a placeholder such as
`<time>`, runs of spaces (a table's padding) are made one, and a pull's
per-layer progress lines are dropped. What Kubernetes shows of a moment in a
rollout is masked too: a pod on its way up or up (Pending, ContainerCreating,
PodInitializing, Init:n/m, Running, with however many containers Ready) is
`<up>`, a Terminating pod is `<stopping>`, and `kubectl rollout status`'s
"Waiting for ..." lines are dropped. A pod that fails (ErrImagePull,
CrashLoopBackOff, Error ...) or finished (Completed) is still compared, as is
how many pods a listing shows. A block (or a check) adds its own with the deck option
`mask=REGEX`: every match of that Python regular expression becomes
`<masked>` (use `a|b` for more than one). Fixed ports of the story (5000,
3306) are not masked: a changed one is real drift; ports from 30000 up are
the engine's and the cluster's picks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from re import Pattern

MASK_OPTION = "mask"
MASKED = "<masked>"

# Order matters: whole timestamps before their times, UUIDs before bare hex, sizes before durations.
BUILTIN_MASKS: tuple[tuple[Pattern[str], str], ...] = tuple(
    (re.compile(pattern), placeholder)
    for pattern, placeholder in (
        # a pod caught on its way up, or stopping (kubectl get pods): how far it got is how busy the cluster was
        (r"\b\d+/\d+\s+(?:Pending|ContainerCreating|PodInitializing|Init:\d+/\d+|Running)\b", "<up>"),
        (r"\b\d+/\d+\s+Terminating\b", "<stopping>"),
        # 2026-12-04T06:17:22.123Z, 2026-12-04 06:17:22 +0000, Fri Dec  4 06:17:22 UTC 2026
        (r"\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?: ?(?:Z|[+-]\d{2}:?\d{2}|UTC))?", "<time>"),
        (r"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),? +(?:\d{1,2} +)?[A-Z][a-z]{2} +\d{1,2}[^\n]*?\d{4}\b", "<time>"),
        (r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b", "<time>"),
        (r"\b\d{4}-\d{2}-\d{2}\b", "<date>"),
        # ids and hashes
        (r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", "<id>"),
        (r"\b(?:sha256:)?[0-9a-f]{12,64}\b", "<hash>"),
        # Kubernetes' generated suffixes (its alphabet has no vowels and no 0, 1, 3): web-6d4b9c7f5-x7k2p
        (r"(?<=-)[bcdfghjklmnpqrstvwxz2456789]{8,10}-[bcdfghjklmnpqrstvwxz2456789]{5}\b", "<id>"),
        (r"(?<=[a-z0-9]-)[bcdfghjklmnpqrstvwxz2456789]{5}\b", "<id>"),
        # Docker's random container names: adjective_surname, as in `docker ps -a`
        (r"\b[a-z]{3,}_(?:[a-z]{3,})\b(?=\s*$)", "<name>"),
        (r"\bpodium-[a-z0-9-]+", "<sandbox>"),
        # addresses and the ports an engine or a cluster picks
        (r"\b\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,2})?\b", "<ip>"),
        (r"(?<=:)(?:3\d{4}|[4-5]\d{4}|6[0-5]\d{3})\b", "<port>"),
        # progress bars, speeds, amounts in flight, percentages
        (r"\[[=>#\-\s.]{3,}\]", "<bar>"),
        (r"[━─█▏▎▍▌▋▊▉░▒▓#]{3,}", "<bar>"),
        (r"\d+(?:\.\d+)?\s?[kKMGT]?i?B/s\b", "<speed>"),
        (r"\d+(?:\.\d+)?\s?[kKMGT]?i?B\s?/\s?\d+(?:\.\d+)?\s?[kKMGT]?i?B\b", "<amount>"),
        (r"\beta \S+", "eta <duration>"),
        (r"\b\d{1,3}(?:\.\d+)?%", "<percent>"),
        # durations: 0.3s, 1m2s, 12.5ms, "3 seconds ago", "About a minute", "Up 2 hours"
        (r"\b\d+(?:\.\d+)?(?:ns|µs|us|ms|s|m|h|d)(?:\d+(?:\.\d+)?(?:ms|s|m))*\b", "<duration>"),
        (
            r"(?i)\b(?:\d+|an?|about an?|less than an?)\s+(?:second|minute|hour|day|week)s?(?:\s+ago)?\b",
            "<duration>",
        ),
        # BuildKit's step timer at the start of a line: "#8 12.34 ..."
        (r"^(#\d+) \d+\.\d+\b", r"\1 <duration>"),
    )
)
SPACES = re.compile(r"[ \t]{2,}")
# A pull's per-layer progress (after masking): how many of these show depends on timing, not on the image.
# So does how many of `kubectl rollout status`'s "Waiting for ..." lines show: its last line is the outcome.
PROGRESS_LINE = re.compile(
    r"^<hash>: (?:Pulling fs layer|Waiting|Downloading|Verifying Checksum|Download complete|Extracting"
    r"|Pull complete|Already exists)\b"
    r"|^Waiting for (?:deployment|daemon set|statefulset|partitioned roll out|rolling update|\d+ pods)\b.*\.\.\.$"
)
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]")


def mask_compile(text: str) -> tuple[Pattern[str] | None, str]:
    """A deck's `mask=` value as a compiled pattern, or (None, why it is not a usable regular expression)."""
    if not text:
        return None, "mask= needs a regular expression (e.g. mask='build [0-9]+')"
    try:
        pattern = re.compile(text)
    except re.error as exc:
        return None, f"mask={text} is not a regular expression: {exc}"
    if pattern.fullmatch(""):
        return None, f"mask={text} matches the empty string, so it would mask nothing useful: make it match text"
    return pattern, ""


def terminal_text(text: str) -> list[str]:
    """What a terminal would show of `text`: escape sequences removed, a line redrawn after `\\r` kept last."""
    lines = []
    for line in ANSI.sub("", text).replace("\r\n", "\n").split("\n"):
        shown = [part for part in line.split("\r") if part]
        lines.append(shown[-1].rstrip() if shown else "")
    while lines and not lines[-1]:
        lines.pop()
    return lines


def output_masked(lines: Iterable[str], *, extra: Iterable[Pattern[str]] = ()) -> list[str]:
    """`lines` with the built-in masks and the block's own (`extra`) applied, blank lines dropped."""
    masked = []
    for line in lines:
        for pattern in extra:
            line = pattern.sub(MASKED, line)
        for pattern, placeholder in BUILTIN_MASKS:
            line = pattern.sub(placeholder, line)
        line = SPACES.sub("  ", line.strip())  # columns of a table (docker ps, kubectl get) are padded
        if line and not PROGRESS_LINE.match(line):
            masked.append(line)
    return masked
