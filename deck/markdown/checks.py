"""Step checks: a code block whose hint is `!check` is a check, not code to show.

    ```bash
    docker build -t 12factor:1.0 .
    ```

    ```check message="The image 12factor:1.0 is built"
    docker image inspect 12factor:1.0 >/dev/null
    ```

The lines after the hint are a bash command whose exit status 0 means the
step is done. The check belongs to the nearest runnable block before it on
the same slide, or to the slide itself when no runnable block precedes it.
Its options (quoted when they have spaces): `message=`, the sentence shown
when the check passes; `hint=`, shown after a failed check; `hint2=` with
`after=N`, shown too once it failed N times; `mask=REGEX`, what a drift
check ignores in its output (`deck.masks`). An indented block whose first line is
`!check ...` works the same (with a line of text before it: Markdown joins
indented blocks separated only by blank lines, which `check_run_on` warns
about). A plain Landslide tool shows a check as an ordinary code block;
Podium shows a "Check my work" control in its place and never the command.
`deck.markdown.codeblocks` hands every check block here, in document order,
so the blocks before it on its slide are known.
"""

from __future__ import annotations

import re
from html import escape

from deck.markdown.context import DeckContext, SlideDraft
from deck.masks import mask_compile
from deck.parsed import Check

CHECK_LEXER = "check"
CHECK_OPTIONS = ("message", "hint", "hint2", "after", "mask")
HINT_LINE = re.compile(r"^!([\w+#.-]+)(?:[ \t].*)?$")


def check_is(lexer: str | None) -> bool:
    """Whether a block with this hint is a step check."""
    return lexer == CHECK_LEXER


def check_add(
    *, ctx: DeckContext, slide: SlideDraft, options: dict[str, str], command: str, line: int, in_notes: bool
) -> str:
    """Record the check written at `line` on `slide` and return the HTML that stands in its place.

    Problems (at `line`): no command (error), an unknown option, a second
    check for the same block or slide, a check in the presenter notes (the
    last three are warnings; the check is then ignored).
    """
    if in_notes:
        ctx.problem(line=line, message="a !check in the presenter notes is ignored: put it on the slide")
        return ""
    for key in options:
        if key not in CHECK_OPTIONS:
            known = ", ".join(CHECK_OPTIONS)
            ctx.problem(line=line, message=f"unknown check option `{key}` (known: {known})")
    if not command.strip():
        ctx.problem(
            line=line,
            message="a !check needs a command on the lines after it (bash; exit status 0 means the step is done)",
            level="error",
        )
        return ""
    target = next((block for block in reversed(slide.blocks) if block.runnable), None)
    message = options.get("message", "").strip() or None
    hint, hint2, after, mask = _hint_options(ctx=ctx, options=options, line=line)
    check = Check(
        slide_number=slide.number,
        block_index=target.index if target is not None else None,
        command=command,
        line=line,
        message=message,
        hint=hint,
        hint2=hint2,
        hint_after=after,
        mask=mask,
    )
    earlier = target.check if target is not None else slide.check
    if earlier is not None:
        owner = f"block {target.block_id}" if target is not None else f"slide {slide.number}"
        ctx.problem(line=line, message=f"{owner} already has a check (line {earlier.line}); this one is ignored")
        return ""
    check.html = _placeholder(check)
    if target is not None:
        target.check = check
    else:
        slide.check = check
    return check.html


def _hint_options(
    *, ctx: DeckContext, options: dict[str, str], line: int
) -> tuple[str | None, str | None, int | None, str | None]:
    """`hint=`, `hint2=`, `after=` and `mask=` of a check as usable values; each problem is a warning at `line`
    and leaves that option out."""
    hint = options.get("hint", "").strip() or None
    hint2 = options.get("hint2", "").strip() or None
    for key in ("hint", "hint2"):
        if key in options and not options[key].strip():
            ctx.problem(line=line, message=f'{key}= is empty: write the hint, quoted (`{key}="Is the port 5000?"`)')
    after = None
    if "after" in options:
        text = options["after"].strip()
        if not text.isascii() or not text.isdigit() or int(text) < 1:
            ctx.problem(
                line=line, message=f"after={options['after']} should be a whole number of failed checks, 1 or more"
            )
        elif hint2 is None:
            ctx.problem(
                line=line, message=f"after={text} only applies with hint2= (the hint shown after {text} failures)"
            )
        else:
            after = int(text)
    if hint2 is not None and after is None and "after" not in options:
        ctx.problem(line=line, message="hint2= needs after=N: how many failed checks before the second hint shows")
        hint2 = None
    if hint2 is not None and hint is None:
        ctx.problem(line=line, message="hint2= without hint=: give the first hint too (shown after one failed check)")
    mask = options.get("mask")
    if mask is not None:
        pattern, why = mask_compile(mask)
        if pattern is None:
            ctx.problem(line=line, message=why, level="error")
            mask = None
    return hint, hint2, after, mask


def check_run_on(*, lexer: str | None, text: str) -> str | None:
    """The warning for an indented block that Markdown joined with a `!check` block next to it, else None.

    Indented code blocks separated only by blank lines are ONE block in
    Markdown (Landslide's too), so a `!check` written that way would be shown
    as code, or would swallow the block after it.
    """
    lines = text.split("\n")
    for number, current in enumerate(lines[1:], start=1):
        hint = HINT_LINE.match(current.strip())
        if lines[number - 1].strip() or hint is None:
            continue
        if check_is(lexer) or check_is(hint.group(1).lower()):
            return (
                f"this indented block runs on into a `!{hint.group(1)}` line (Markdown joins indented blocks "
                "separated only by blank lines): put a line of text between them, or use fenced blocks"
            )
    return None


def _placeholder(check: Check) -> str:
    # Empty in print and export; the live pages put the "Check my work" control inside it.
    attrs = {
        "class": "step-check",
        "id": f"check-{check.check_id}",
        "data-check": check.check_id,
        "data-line": str(check.line),
    }
    rendered = " ".join(f'{name}="{escape(value)}"' for name, value in attrs.items())
    return f"<div {rendered}></div>"
