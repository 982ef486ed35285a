"""Code blocks: the `!lexer key=value ...` hint, Pygments highlighting, includes, and Run.

Works on `<pre><code>` elements (indented blocks from Python-Markdown) and
`<pre data-fence>` ones (fenced, from `deck.markdown.fences`) slide by slide, before inline markup
(priority 30). A block's first line `!lexer options` (or a fence's info string
`lexer options`) picks the Pygments lexer and is removed. Each block of a
slide body becomes a `CodeBlock` on its slide and is replaced in the tree by
its finished HTML, stashed so no later step touches it; blocks in the notes
are highlighted the same way but are not runnable blocks. A `!check` block
is a step check, handed to `deck.markdown.checks`.
"""

from __future__ import annotations

import re
import shlex
import xml.etree.ElementTree as etree
from html import escape
from pathlib import Path

from django.conf import settings
from markdown import Markdown
from markdown.treeprocessors import Treeprocessor

from deck.highlight import code_highlight, lexer_find
from deck.markdown.checks import check_add, check_is, check_run_on
from deck.markdown.context import DeckContext, DeckExtension, SlideDraft
from deck.markdown.fences import FENCE_ATTR
from deck.markdown.includes import IncludeFiles
from deck.masks import mask_compile
from deck.parsed import CodeBlock
from deck.run_kinds import run_kind_of

HINT = re.compile(r"^!(?P<lexer>[\w+#.-]+)(?:[ \t]+(?P<options>.*))?$")
KNOWN_OPTIONS = ("context", "file", "lines", "mask", "run", "tag")
DOCKER_TAG = re.compile(r"^[a-z0-9]+(?:[._/-][a-z0-9]+)*(?::[\w][\w.-]{0,127})?$")
TRUE_WORDS = {"true", "yes", "on", "1"}
FALSE_WORDS = {"false", "no", "off", "0"}
SHELL_QUOTING = re.compile(r"[\"'\\#]")
SHELL_BLANKS = " \t\r\n"
SHELL_WHITESPACE = re.compile(r"[ \t\r\n]+")


def _code_unescape(text: str) -> str:
    # Python-Markdown's indented code text is HTML-escaped (util.code_escape); undo exactly that.
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _words(text: str) -> list[str]:
    """The words of a block's options, split as a shell would (`shlex`), quotes and all."""
    if SHELL_QUOTING.search(text):
        try:
            return shlex.split(text)
        except ValueError:
            return text.split()
    # Without quotes or escapes shlex splits on these four blanks only; this gives the same words far cheaper.
    stripped = text.strip(SHELL_BLANKS)
    return SHELL_WHITESPACE.split(stripped) if stripped else []


class CodeBlockTreeprocessor(Treeprocessor):
    """Replace each code block of each slide by its highlighted HTML; record body blocks as `CodeBlock`s."""

    def __init__(self, md: Markdown, ctx: DeckContext) -> None:
        super().__init__(md)
        self.ctx = ctx

    def run(self, root: etree.Element) -> None:
        for slide in self.ctx.slides:
            for part, runnable in ((slide.body, True), (slide.notes, False)):
                parents = {child: parent for parent in part.iter() for child in parent}
                for pre in list(part.iter("pre")):
                    if pre.get(FENCE_ATTR) is not None or (len(pre) and pre[0].tag == "code"):
                        html = self._block(slide, pre, runnable=runnable)
                        self._replace(parents[pre], pre, html)

    def _replace(self, parent: etree.Element, pre: etree.Element, html: str) -> None:
        if not html:  # an ignored `!check`: nothing stands in its place
            parent.remove(pre)
            return
        holder = etree.Element("p")
        holder.text = self.md.htmlStash.store(html)
        holder.tail = pre.tail
        parent.insert(list(parent).index(pre), holder)
        parent.remove(pre)

    def _block(self, slide: SlideDraft, pre: etree.Element, *, runnable: bool) -> str:
        lexer, options, text, line = self._source(slide, pre)
        if pre.get(FENCE_ATTR) is None and (joined := check_run_on(lexer=lexer, text=text)):
            self.ctx.problem(line=line, message=joined)
        if check_is(lexer):
            return check_add(ctx=self.ctx, slide=slide, options=options, command=text, line=line, in_notes=not runnable)
        problems: list[tuple[str, str]] = []
        lexer_obj = None
        if lexer is not None:
            lexer_obj = lexer_find(alias=lexer)
            if lexer_obj is None:
                problems.append(("warning", f"unknown lexer `{lexer}`: Pygments has no lexer by that name"))
        include = options.get("file")
        failed = None
        if include is not None:
            if text.strip():
                problems.append(("warning", f"a block with file={include} shows that file; its own text is ignored"))
            inclusion = self._includes().read(include, lines=options.get("lines"))
            text, failed = inclusion.text, inclusion.error
            if failed:
                problems.append(("error", failed))
        problems.extend(self._option_problems(lexer, options))
        run_kind = None if failed else run_kind_of(lexer=lexer if lexer_obj else None, text=text)
        run = options.get("run", "").lower()
        if run in FALSE_WORDS:
            run_kind = None
        elif run in TRUE_WORDS and run_kind is None and not failed:
            problems.append(("warning", f"run={options['run']}, but a `{lexer or 'plain'}` block has nothing to run"))
        for level, message in problems:
            self.ctx.problem(line=line, message=message, level=level)
        inner = code_highlight(text=failed or text, lexer=None if failed else lexer_obj)
        if not runnable:
            return inner
        block = CodeBlock(
            slide_number=slide.number,
            index=len(slide.blocks),
            lexer=lexer,
            text=text,
            html="",
            line=line,
            runnable=run_kind is not None,
            action=run_kind.label if run_kind else None,
            run_kind=run_kind.kind if run_kind else None,
            options=options,
            include=include,
        )
        block.html = self._wrapper(block, inner, failed=failed is not None)
        slide.blocks.append(block)
        return block.html

    def _source(self, slide: SlideDraft, pre: etree.Element) -> tuple[str | None, dict[str, str], str, int]:
        """(lexer, options, text without hint, source line) of a block as written in the deck."""
        lexer: str | None = None
        options: dict[str, str] = {}
        fence_index = pre.get(FENCE_ATTR)
        if fence_index is not None:
            fence = self.ctx.fences[int(fence_index)]
            text, line = fence.text, fence.line
            lexer, options = self._info(fence.info, line=line)
        else:
            text = _code_unescape(pre[0].text or "").rstrip("\n")
            first = text.split("\n", 1)[0].strip()
            line = self.ctx.line_locate(
                slide=slide, kind="code", match=lambda src: src[:1] in " \t" and src.strip() == first
            )
        head, _, rest = text.partition("\n")
        hint = HINT.match(head.rstrip())
        if hint:
            lexer = hint.group("lexer").lower()
            options = options | self._options(hint.group("options") or "", line=line)
            text = rest
        return lexer, options, text.rstrip("\n"), line

    def _info(self, info: str, *, line: int) -> tuple[str | None, dict[str, str]]:
        """Lexer and options from a fence's info string: `python`, `.python`, `{.python}`, `bash run=false`."""
        words = info.strip().strip("{}").split(None, 1)
        if not words:
            return None, {}
        if "=" in words[0]:
            return None, self._options(info.strip("{} "), line=line)
        lexer = words[0].lstrip(".").lower() or None
        return lexer, self._options(words[1] if len(words) > 1 else "", line=line)

    def _options(self, text: str, *, line: int) -> dict[str, str]:
        options: dict[str, str] = {}
        for word in _words(text):
            key, sep, value = word.partition("=")
            if not sep or not key:
                self.ctx.problem(line=line, message=f"block option `{word}` is not key=value")
                continue
            options[key.lower()] = value
        return options

    def _option_problems(self, lexer: str | None, options: dict[str, str]) -> list[tuple[str, str]]:
        problems = []
        for key in options:
            if key not in KNOWN_OPTIONS:
                problems.append(("warning", f"unknown block option `{key}` (known: {', '.join(KNOWN_OPTIONS)})"))
        run = options.get("run")
        if run is not None and run.lower() not in TRUE_WORDS | FALSE_WORDS:
            problems.append(("warning", f"run={run} should be run=true or run=false"))
        if "lines" in options and "file" not in options:
            problems.append(("warning", f"lines={options['lines']} only applies with file="))
        if "context" in options:
            folder = self._includes().path(options["context"])
            if folder is None or not folder.is_dir():
                problems.append(("warning", f"context={options['context']}: no such folder in the project"))
        if "tag" in options and not DOCKER_TAG.match(options["tag"]):
            problems.append(("warning", f"tag={options['tag']} is not a valid Docker image name"))
        if ("context" in options or "tag" in options) and lexer not in {"docker", "dockerfile"}:
            problems.append(("warning", "context= and tag= only apply to `!docker` blocks"))
        if "mask" in options and mask_compile(options["mask"])[0] is None:
            problems.append(("error", mask_compile(options["mask"])[1]))
        return problems

    def _includes(self) -> IncludeFiles:
        if self.ctx.includes is None:
            root = self.ctx.include_root if self.ctx.include_root is not None else settings.PODIUM_INCLUDE_ROOT
            self.ctx.includes = IncludeFiles(root=Path(root))
        return self.ctx.includes

    @staticmethod
    def _wrapper(block: CodeBlock, inner: str, *, failed: bool) -> str:
        attrs = {
            "class": "code-block problem" if failed else "code-block",
            "id": f"block-{block.block_id}",
            "data-block": block.block_id,
            "data-slide": str(block.slide_number),
            "data-index": str(block.index),
            "data-lexer": block.lexer,
            "data-runnable": "true" if block.runnable else "false",
            "data-action": block.action,
            "data-line": str(block.line),
            "data-include": block.include,
        }
        rendered = " ".join(f'{name}="{escape(value)}"' for name, value in attrs.items() if value is not None)
        return f"<div {rendered}>{inner}</div>"


class CodeBlockExtension(DeckExtension):
    """`!lexer` hints, Pygments, includes and runnable blocks."""

    def extendMarkdown(self, md: Markdown) -> None:  # noqa: N802 - markdown's API name
        ctx = self.deck_context(md)
        # After slides (40) and macros (35); before inline markup (20) so code is never parsed as markdown.
        md.treeprocessors.register(CodeBlockTreeprocessor(md, ctx), "podium_codeblocks", 30)


def makeExtension(**kwargs: object) -> CodeBlockExtension:  # noqa: N802 - markdown's API name
    """Entry point for `markdown.Markdown(extensions=["deck.markdown.codeblocks"])`."""
    return CodeBlockExtension(**kwargs)
