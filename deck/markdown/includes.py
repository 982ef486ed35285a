"""Reading the file a code block includes (`file=PATH`, optionally `lines=A-B`).

A deck shows the workshop's real files rather than copies that drift; the
include is always read from disk at parse time, and may not reach outside the
include root (the repository), even through a symlink.
"""

from __future__ import annotations

import os
import re
import stat
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
    return IncludeFiles(root=root).path(relpath)


def include_read(*, root: Path, relpath: str, lines: str | None = None) -> Inclusion:
    """The current content of `relpath` under `root` (only lines A-B when `lines` is given), or an error."""
    return IncludeFiles(root=root).read(relpath, lines=lines)


class IncludeFiles:
    """The includes of one deck parse: the root resolved once, each file looked up and read once.

    A deck shows the same file on several slides (whole, then a few lines of
    it); resolving a path walks every folder of it, so one parse does that
    once per file. `named` collects every file a block named (present or
    not), which is what a cached deck must watch.
    """

    def __init__(self, *, root: Path) -> None:
        self.root = root
        self.named: set[Path] = set()
        self._base: Path | None = None
        self._paths: dict[str, Path | None] = {}
        self._texts: dict[Path, tuple[str, str | None]] = {}

    def path(self, relpath: str) -> Path | None:
        """The file `relpath` names under the root, or None when it points outside it."""
        if relpath not in self._paths:
            self._paths[relpath] = self._resolve(relpath)
        return self._paths[relpath]

    def _resolve(self, relpath: str) -> Path | None:
        if not relpath or PurePosixPath(relpath).is_absolute() or re.match(r"^[A-Za-z]:", relpath):
            return None
        try:
            if self._base is None:
                self._base = self.root.resolve()
            target = (self._base / relpath).resolve()
        except (OSError, ValueError):  # a NUL byte, a symlink loop
            return None
        return target if target.is_relative_to(self._base) else None

    def read(self, relpath: str, *, lines: str | None = None) -> Inclusion:
        """The current content of `relpath` (only lines A-B when `lines` is given), or an error."""
        target = self.path(relpath)
        if target is None:
            return Inclusion(error=f"include file {relpath} is outside the folder includes come from ({self.root})")
        self.named.add(target)
        if target not in self._texts:
            self._texts[target] = _file_read(target)
        text, problem = self._texts[target]
        if problem is not None:
            return Inclusion(error=f"include file {relpath} {problem}", path=target)
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


def _file_read(target: Path) -> tuple[str, str | None]:
    """(text with newlines normalised, None), or ("", what is wrong with the file, worded after its name)."""
    try:
        mode = os.stat(target).st_mode
    except (OSError, ValueError):
        return "", "not found"
    if not stat.S_ISREG(mode):
        return "", "is not a file"
    try:
        text = target.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return "", "is not UTF-8 text"
    except OSError as exc:
        return "", f"cannot be read ({exc.strerror})"
    return text.replace("\r\n", "\n").replace("\r", "\n"), None
