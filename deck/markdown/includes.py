"""Reading the file a code block includes (`file=PATH`, optionally `lines=A-B`).

A deck shows the workshop's real files rather than copies that drift; the
include is always read from disk at parse time, and may not reach outside the
include root (the repository), even through a symlink.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

LINE_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")


@dataclass(frozen=True)
class Inclusion:
    """The outcome of an include: the text to show, or the sentence saying why there is none."""

    text: str = ""
    error: str | None = None
    path: Path | None = None


def include_path(*, root: Path, relpath: str) -> Path | None:
    """The file `relpath` names under `root`, or None when it points outside `root`."""
    if not relpath or PurePosixPath(relpath).is_absolute() or re.match(r"^[A-Za-z]:", relpath):
        return None
    try:
        base = root.resolve()
        target = (base / relpath).resolve()
    except (OSError, ValueError):  # a NUL byte, a symlink loop
        return None
    return target if target.is_relative_to(base) else None


def include_read(*, root: Path, relpath: str, lines: str | None = None) -> Inclusion:
    """The current content of `relpath` under `root` (only lines A-B when `lines` is given), or an error."""
    target = include_path(root=root, relpath=relpath)
    if target is None:
        return Inclusion(error=f"include file {relpath} is outside the folder includes come from ({root})")
    try:
        present = target.exists()
    except (OSError, ValueError):
        present = False
    if not present:
        return Inclusion(error=f"include file {relpath} not found", path=target)
    if not target.is_file():
        return Inclusion(error=f"include file {relpath} is not a file", path=target)
    try:
        text = target.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return Inclusion(error=f"include file {relpath} is not UTF-8 text", path=target)
    except OSError as exc:
        return Inclusion(error=f"include file {relpath} cannot be read ({exc.strerror})", path=target)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if lines is None:
        return Inclusion(text=text.rstrip("\n"), path=target)
    found = LINE_RANGE.match(lines.strip())
    if not found:
        return Inclusion(error=f"lines={lines} is not a line range like lines=3-10", path=target)
    all_lines = text.rstrip("\n").split("\n")
    first = int(found.group(1))
    last = int(found.group(2) or first)
    if not 1 <= first <= last <= len(all_lines):
        return Inclusion(error=f"lines={lines} is outside {relpath}, which has {len(all_lines)} lines", path=target)
    # A range cut out of a nested body (a method, a YAML mapping) reads best flush left.
    return Inclusion(text=textwrap.dedent("\n".join(all_lines[first - 1 : last])), path=target)
