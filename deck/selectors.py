"""Reading decks from `settings.PODIUM_SLIDES_DIR`: the list, one deck by slug, and a deck's image files.

Parsed decks are cached per file and re-parsed when the deck file changes, or
when a file one of its blocks includes changes (or appears, or goes away):
the cache key holds the (mtime, size) of the deck file and of every include.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path

from django.conf import settings

from deck.errors import DeckFileError, DeckNotFound
from deck.parsed import Deck
from deck.parser import deck_parse
from deck.recorded import Recording, record_load, record_path

logger = logging.getLogger(__name__)

ASSET_URL = "/decks/{slug}/assets/"

_cache: dict[Path, tuple[tuple, Deck, tuple[Path, ...]]] = {}
_recordings: dict[Path, tuple[tuple, Recording | None]] = {}
_cache_lock = threading.Lock()


def _stamp(path: Path) -> tuple:
    try:
        stat = path.stat()
    except OSError:
        return (str(path), None, None)
    return (str(path), stat.st_mtime_ns, stat.st_size)


def _include_root() -> Path:
    return Path(settings.PODIUM_INCLUDE_ROOT)


def _key(path: Path, root: Path, includes: tuple[Path, ...]) -> tuple:
    """What must stay the same for a cached deck to still be right."""
    return (_stamp(path), str(root), tuple(_stamp(target) for target in includes))


def _deck_cached(path: Path, slug: str) -> Deck:
    """The parsed deck at `path`, from the cache while neither it nor its includes changed."""
    root = _include_root()
    with _cache_lock:
        cached = _cache.get(path)
    if cached is not None and cached[0] == _key(path, root, cached[2]):
        return cached[1]
    # The key is taken before parsing: a file changing during the parse makes the next read parse again.
    includes = tuple(cached[1].includes) if cached is not None else ()
    before = _key(path, root, includes)
    deck = deck_parse(path=path, slug=slug, include_root=root, asset_url=ASSET_URL.format(slug=slug))
    now_includes = tuple(deck.includes)
    key = before if now_includes == includes else _key(path, root, now_includes)
    with _cache_lock:
        _cache[path] = (key, deck, now_includes)
    return deck


def deck_version(*, deck: Deck) -> str:
    """A short name of the state of `deck`'s files (its own and its includes'): it changes when any of them does."""
    with _cache_lock:
        cached = _cache.get(deck.path)
    key = cached[0] if cached is not None and cached[1] is deck else _key(deck.path, _include_root(), ())
    return hashlib.sha256(repr(key).encode()).hexdigest()[:16]


def deck_cache_clear() -> None:
    """Forget every parsed deck and record (the next read parses again)."""
    with _cache_lock:
        _cache.clear()
        _recordings.clear()


def recording_of(*, deck: Deck) -> Recording | None:
    """The deck's record (`<deck>.recorded.json` beside it), read again when the file changes; None when there
    is none, or when it cannot be read (logged: the pages then show no recorded output)."""
    path = record_path(deck.path)
    stamp = _stamp(path)
    with _cache_lock:
        cached = _recordings.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        recording = record_load(path)
    except DeckFileError as exc:
        logger.warning("record left unused: %s", exc)
        recording = None
    with _cache_lock:
        _recordings[path] = (stamp, recording)
    return recording


def _slides_dir() -> Path:
    return Path(settings.PODIUM_SLIDES_DIR)


def deck_list() -> list[Deck]:
    """Every deck (`*.md` directly in `PODIUM_SLIDES_DIR`), sorted by file name.

    A deck file that cannot be read is left out of the list (and logged), so one
    broken file does not hide the others.
    """
    folder = _slides_dir()
    if not folder.is_dir():
        return []
    decks = []
    for path in sorted(folder.glob("*.md")):
        if not path.is_file():
            continue
        try:
            decks.append(_deck_cached(path, path.stem))
        except DeckFileError as exc:
            logger.warning("deck left out of the list: %s", exc)
    return decks


def _deck_file(slug: str) -> Path:
    folder = _slides_dir()
    if not slug or slug.startswith(".") or "/" in slug or "\\" in slug or "\x00" in slug:
        raise DeckNotFound(f"there is no deck called {slug!r}")
    path = folder / f"{slug}.md"
    if not path.is_file():
        raise DeckNotFound(f"there is no deck called {slug!r}")
    return path


def deck_get(*, slug: str) -> Deck:
    """The deck whose file is `<slug>.md` in `PODIUM_SLIDES_DIR`.

    Raises `DeckNotFound` for an unknown slug, `DeckFileError` when the file
    exists but cannot be read as UTF-8 text.
    """
    return _deck_cached(_deck_file(slug), slug)


def deck_asset_path(*, slug: str, relpath: str) -> Path:
    """The image file a slide of deck `slug` shows as `relpath` (relative to the deck's folder).

    Raises `DeckNotFound` when the deck does not exist, when `relpath` escapes
    the deck's folder or does not exist, or when no slide of the deck shows it
    (so the asset URL never serves other files lying next to the deck).
    """
    deck = deck_get(slug=slug)
    folder = deck.path.parent.resolve()
    target = (folder / relpath).resolve()
    if not target.is_relative_to(folder) or not target.is_file():
        raise DeckNotFound(f"deck {slug!r} has no file {relpath!r}")
    if target.relative_to(folder).as_posix() not in deck.assets:
        raise DeckNotFound(f"no slide of deck {slug!r} shows {relpath!r}")
    return target
