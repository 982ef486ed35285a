"""Parse a Landslide-compatible markdown deck file into `Deck -> Slide -> CodeBlock`.

The work happens in the Python-Markdown extensions of `deck.markdown`; this
module reads the file, runs one converter, and serialises each slide's body,
notes and footer on its own. Content problems never raise: they are collected
as `Problem`s on the deck. Only a file that cannot be read as UTF-8 text
raises `DeckFileError`.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as etree
from pathlib import Path

from django.conf import settings
from markdown import Markdown
from markdown.util import HTML_PLACEHOLDER_RE

from deck.errors import DeckFileError
from deck.markdown import deck_markdown
from deck.markdown.context import DeckContext, SlideDraft
from deck.markdown.slides import HEADINGS
from deck.parsed import Deck, Slide


def deck_text_read(*, path: Path) -> str:
    """The text of the deck file at `path` (newlines normalised, no byte-order mark), or `DeckFileError`."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DeckFileError(f"{path}: no such deck file") from None
    except IsADirectoryError:
        raise DeckFileError(f"{path}: is a folder, not a deck file") from None
    except PermissionError:
        raise DeckFileError(f"{path}: cannot be read (permission denied)") from None
    except OSError as exc:
        raise DeckFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DeckFileError(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); save the deck as UTF-8"
        ) from None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if "\x00" in text:  # a shell stops reading a line there: a block would run cut short
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise DeckFileError(f"{path}:{line}: a NUL character (byte 0x00) in the text; remove it and save the deck")
    return text


def deck_parse(
    *,
    path: Path,
    slug: str | None = None,
    include_root: Path | None = None,
    asset_url: str | None = None,
    inline_images: bool = False,
) -> Deck:
    """Parse the deck file at `path`.

    `slug` defaults to the file stem; `include_root` (for `file=` includes)
    defaults to `settings.PODIUM_INCLUDE_ROOT`; relative image sources become
    `asset_url + relpath` when `asset_url` is given, or `data:` URIs with
    `inline_images` (the offline export). Raises `DeckFileError` for a missing,
    unreadable or non-UTF-8 file; everything wrong inside it is a `Problem`.
    """
    path = Path(path)
    text = deck_text_read(path=path)
    ctx = DeckContext(
        path=path,
        display=_display(path),
        source_lines=text.split("\n"),
        include_root=include_root,
        asset_url=asset_url,
        inline_images=inline_images,
    )
    md = deck_markdown(ctx=ctx)
    md.convert(text)
    slides = [_slide(md, draft) for draft in ctx.slides]
    if not slides:
        ctx.problem(line=1, message="the deck has no slides")
    title = slides[0].title if slides and slides[0].title else path.stem
    problems = sorted(ctx.problems, key=lambda problem: problem.line)
    return Deck(
        slug=slug or path.stem,
        path=path,
        title=title,
        slides=slides,
        problems=problems,
        assets=sorted(ctx.assets),
        includes=sorted(ctx.includes.named) if ctx.includes is not None else [],
    )


def _display(path: Path) -> str:
    """How problems name the file: relative to the project when it is inside it."""
    try:
        return str(path.resolve().relative_to(Path(settings.BASE_DIR).resolve()))
    except ValueError:
        return str(path)


def _slide(md: Markdown, draft: SlideDraft) -> Slide:
    heading = next((element for element in draft.body.iter() if element.tag in HEADINGS), None)
    is_section = len(draft.body) > 0 and all(child.tag in HEADINGS for child in draft.body)
    return Slide(
        number=draft.number,
        title=_plain_text(md, heading) if heading is not None else None,
        html=_inner_html(md, draft.body),
        notes_html=_inner_html(md, draft.notes),
        classes=list(draft.classes),
        footer=_inner_html(md, draft.footer) if draft.footer is not None else None,
        line=draft.line,
        is_section=is_section,
        blocks=draft.blocks,
        check=draft.check,
    )


def _inner_html(md: Markdown, element: etree.Element) -> str:
    """The HTML of `element`'s content, finished the way `Markdown.convert` finishes a document."""
    if not len(element) and not (element.text or "").strip():
        return ""  # most slides have no notes: nothing to serialise
    element.tag = md.doc_tag
    element.attrib.clear()
    element.tail = None
    output = md.serializer(element)
    opening, closing = f"<{md.doc_tag}>", f"</{md.doc_tag}>"
    if not (output.startswith(opening) and output.endswith(closing)):
        return ""  # an empty element serialises as <div />
    output = output[len(opening) : -len(closing)].strip()
    for postprocessor in md.postprocessors:
        output = postprocessor.run(output)
    return output.strip()


def _plain_text(md: Markdown, element: etree.Element) -> str:
    """The text a person reads in `element` (a heading): markup dropped, entities decoded."""

    def stashed(match: re.Match[str]) -> str:
        raw = str(md.htmlStash.rawHtmlBlocks[int(match.group(1))])
        return html.unescape(raw) if raw.startswith("&") else ""

    text = HTML_PLACEHOLDER_RE.sub(stashed, "".join(element.itertext()))
    return " ".join(text.split())
