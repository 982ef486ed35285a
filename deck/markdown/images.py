"""Images of a slide: resolved relative to the deck file, served by Podium or inlined for an export.

After inline markup (priority 15), every `<img>` with a relative `src` is
checked: it must exist inside the deck's folder (a missing one is a warning
with its source line). Its `src` becomes `asset_url + relpath` (the deck's
asset view), or a `data:` URI when the deck is parsed for an offline export.
Absolute images (`https://...`, `/...`, `data:`) are left alone, except in an
offline export, where a web image becomes a link so the file fetches nothing.
"""

from __future__ import annotations

import base64
import mimetypes
import xml.etree.ElementTree as etree
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from markdown import Markdown
from markdown.treeprocessors import Treeprocessor

from deck.markdown.context import DeckContext, DeckExtension, SlideDraft


def image_data_uri(*, path: Path) -> str:
    """The file at `path` as a `data:` URI (its type guessed from the name)."""
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


class ImageTreeprocessor(Treeprocessor):
    """Resolve, check and rewrite the images of each slide (see the module docstring)."""

    def __init__(self, md: Markdown, ctx: DeckContext) -> None:
        super().__init__(md)
        self.ctx = ctx

    def run(self, root: etree.Element) -> None:
        for slide in self.ctx.slides:
            for image in list(slide.section.iter("img")):
                self._image(slide, image)

    def _image(self, slide: SlideDraft, image: etree.Element) -> None:
        src = image.get("src", "")
        parts = urlsplit(src)
        if not src or src.startswith("#"):
            return
        if parts.scheme or parts.netloc or src.startswith("/"):
            if self.ctx.inline_images and (parts.scheme in {"http", "https"} or parts.netloc):
                self._offline_link(slide, image, src)
            return
        line = self.ctx.line_locate(slide=slide, kind=f"img {src}", match=lambda text: src in text)
        folder = self.ctx.folder
        if folder is None:
            return
        base = folder.resolve()
        try:
            target = (base / unquote(parts.path)).resolve()
            present = target.is_file()
        except (OSError, ValueError):  # a NUL byte, a symlink loop
            target, present = base, False
        if not target.is_relative_to(base):
            self.ctx.problem(line=line, message=f"image {src} is outside the deck's folder, so it cannot be shown")
            return
        if not present:
            self.ctx.problem(line=line, message=f"image {src} not found")
            return
        relpath = target.relative_to(base).as_posix()
        self.ctx.assets.add(relpath)
        if self.ctx.inline_images:
            image.set("src", image_data_uri(path=target))
        elif self.ctx.asset_url is not None:
            image.set("src", self.ctx.asset_url + quote(relpath))

    def _offline_link(self, slide: SlideDraft, image: etree.Element, src: str) -> None:
        line = self.ctx.line_locate(slide=slide, kind=f"img {src}", match=lambda text: src in text)
        self.ctx.problem(line=line, message=f"image {src} is on the web; the offline export links to it instead")
        alt = image.get("alt") or src
        tail = image.tail
        image.clear()
        image.tag = "a"
        image.set("href", src)
        image.set("class", "web-image")
        image.text = f"[image: {alt}]"
        image.tail = tail


class ImageExtension(DeckExtension):
    """Deck-relative images."""

    def extendMarkdown(self, md: Markdown) -> None:  # noqa: N802 - markdown's API name
        ctx = self.deck_context(md)
        md.treeprocessors.register(ImageTreeprocessor(md, ctx), "podium_images", 15)


def makeExtension(**kwargs: object) -> ImageExtension:  # noqa: N802 - markdown's API name
    """Entry point for `markdown.Markdown(extensions=["deck.markdown.images"])`."""
    return ImageExtension(**kwargs)
