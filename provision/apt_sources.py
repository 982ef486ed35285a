"""The Debian mirrors this host's apt uses, so debootstrap (the stand-in images' base) works where apt does."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

BASE_SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_SECURITY_MIRROR = "http://deb.debian.org/debian-security"


def apt_mirrors(*, sources: list[tuple[str, str]] | None = None) -> tuple[str, str]:
    """The Debian mirror and security mirror this host's apt already uses (so debootstrap works where apt does).

    `sources` is a list of (file name, text) of apt source files; by default /etc/apt/sources.list and
    /etc/apt/sources.list.d/*. Both one-line (`deb URI SUITE ...`) and deb822 (`URIs:`/`Suites:`) formats are read.
    Falls back to deb.debian.org when the host is not Debian bookworm.
    """
    if sources is None:
        sources = _apt_source_files()
    entries: list[tuple[str, str]] = []  # (uri, suite)
    for name, text in sources:
        if name.endswith(".sources"):
            entries.extend(_deb822_entries(text))
        else:
            entries.extend(_one_line_entries(text))
    main = _pick(entries, suite=BASE_SUITE, path_end="/debian") or DEFAULT_MIRROR
    security = _pick(entries, suite=f"{BASE_SUITE}-security", path_end="/debian-security") or DEFAULT_SECURITY_MIRROR
    return main, security


def _apt_source_files() -> list[tuple[str, str]]:
    paths = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    found = []
    for path in paths:
        if path.suffix in (".list", ".sources") and path.is_file():
            with contextlib.suppress(OSError, UnicodeDecodeError):
                found.append((path.name, path.read_text()))
    return found


def _one_line_entries(text: str) -> list[tuple[str, str]]:
    entries = []
    for line in text.splitlines():
        words = re.sub(r"\[[^\]]*\]", " ", line.split("#", 1)[0]).split()  # without [options]
        if len(words) >= 3 and words[0] == "deb":
            entries.append((words[1], words[2]))
    return entries


def _deb822_entries(text: str) -> list[tuple[str, str]]:
    entries = []
    for paragraph in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in paragraph.splitlines():
            if line.startswith("#") or ":" not in line:
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes").lower() == "no":
            continue
        for uri in fields.get("uris", "").split():
            for suite in fields.get("suites", "").split():
                entries.append((uri, suite))
    return entries


def _pick(entries: list[tuple[str, str]], *, suite: str, path_end: str) -> str | None:
    # Prefer the exact suite; else any Debian mirror (the host may run another release).
    for uri, entry_suite in entries:
        if entry_suite == suite:
            return uri.rstrip("/")
    for uri, _suite in entries:
        if uri.rstrip("/").endswith(path_end):
            return uri.rstrip("/")
    return None
