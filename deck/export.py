"""Exports of a parsed deck: its structure as JSON, and one self-contained offline HTML file.

The HTML export is what `landslide -i` gives: one file holding the styles,
the Pygments CSS, a small script for keyboard navigation and the notes
toggle, images as `data:` URIs and QR codes as inline SVG. It loads nothing
from anywhere; web images are turned into links by the parser
(`inline_images=True`). Without the script, every slide is shown in a column.
A deck with a record (`deck.recorded`) shows each block's recorded output
under it, so a learner with no server still sees what each step prints.
"""

from __future__ import annotations

from html import escape
from typing import Any

from deck.highlight import pygments_css
from deck.parsed import Deck, Slide
from deck.recorded import Recording
from deck.recorded_html import recorded_html

EXPORT_CSS = """
:root { color-scheme: dark; --bg: #101216; --slide: #1b1e24; --ink: #eceff4; --muted: #9aa3b2; --accent: #f7b955; }
* { box-sizing: border-box; }
html, body { margin: 0; background: var(--bg); color: var(--ink);
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; }
main { display: flex; flex-direction: column; align-items: center; gap: 2rem; padding: 2rem 1rem; }
.slide { position: relative; width: min(96vw, calc(92vh * 16 / 9)); aspect-ratio: 16 / 9; overflow: auto;
  background: var(--slide); border-radius: 8px; padding: 3% 5%; font-size: clamp(14px, 2.2vw, 30px); }
.slide[hidden] { display: none; }
.js .slide { margin: auto; }
.slide h1, .slide h2, .slide h3 { color: var(--accent); margin: 0 0 .6em; line-height: 1.15; }
.slide.section .slide-body { height: 100%; display: flex; flex-direction: column; justify-content: center;
  text-align: center; }
.slide.section h1 { font-size: 2.4em; }
.slide a { color: #8cc4ff; }
.slide img, .slide svg { max-width: 100%; height: auto; }
.slide table { border-collapse: collapse; }
.slide th, .slide td { border: 1px solid #3b4252; padding: .2em .6em; }
.slide code { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
.code-block .highlight { border-radius: 6px; padding: .6em .9em; font-size: .7em; overflow-x: auto; }
.code-block .highlight pre { margin: 0; }
.code-block[data-runnable="true"]::before { content: attr(data-action); float: right; font-size: .55em;
  color: var(--muted); border: 1px solid var(--muted); border-radius: 4px; padding: 0 .4em; margin: .3em; }
.recorded-output { margin: .4em 0 .8em; font-size: .6em; }
.recorded-output figcaption { color: var(--muted); margin-bottom: .2em; }
.recorded-badge { color: #1b1606; background: #f2c46d; border-radius: 999px; padding: 0 .5em; font-weight: 700; }
.recorded-text { margin: 0; padding: .5em .8em; max-height: 12em; overflow: auto; background: #0b0d10;
  border-left: 3px solid #f2c46d; border-radius: 4px; white-space: pre-wrap;
  font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
.qr { background: #fff; display: inline-block; padding: .3em; border-radius: 4px; }
.slide-footer { position: absolute; left: 5%; bottom: 2%; font-size: .5em; color: var(--muted); }
.slide-number { position: absolute; right: 2%; bottom: 2%; font-size: .5em; color: var(--muted); }
.notes { margin-top: 1em; border-top: 1px dashed var(--muted); font-size: .6em; color: #d8dee9; }
.notes[hidden] { display: none; }
.help { color: var(--muted); text-align: center; font-size: .9rem; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
@media print {
  body { background: #fff; }
  main { padding: 0; gap: 0; }
  .slide, .slide[hidden] { display: block; page-break-after: always; width: 100%; border-radius: 0; }
  .help { display: none; }
}
"""

# Keys as in the audience view: arrows, space, PgUp/PgDn, Home/End; `n` shows notes; `#/7` is slide 7.
EXPORT_JS = """
(() => {
  document.documentElement.classList.add("js");
  const slides = Array.from(document.querySelectorAll("section.slide"));
  const live = document.getElementById("announce");
  let current = 0;
  let notes = false;
  const fromHash = () => {
    const m = /^#\\/(\\d+)$/.exec(location.hash);
    return m ? Number(m[1]) - 1 : 0;
  };
  const show = (index) => {
    current = Math.max(0, Math.min(slides.length - 1, index));
    slides.forEach((slide, k) => { slide.hidden = k !== current; });
    slides.forEach((slide) => slide.querySelectorAll(".notes").forEach((n) => { n.hidden = !notes; }));
    if (location.hash !== "#/" + (current + 1)) history.replaceState(null, "", "#/" + (current + 1));
    if (live && slides[current]) live.textContent = slides[current].getAttribute("aria-label");
  };
  document.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    switch (event.key) {
      case "ArrowRight": case "ArrowDown": case "PageDown": case " ": show(current + 1); break;
      case "ArrowLeft": case "ArrowUp": case "PageUp": show(current - 1); break;
      case "Home": show(0); break;
      case "End": show(slides.length - 1); break;
      case "n": notes = !notes; show(current); break;
      default: return;
    }
    event.preventDefault();
  });
  window.addEventListener("hashchange", () => show(fromHash()));
  if (slides.length) show(fromHash());
})();
"""


def deck_export_data(*, deck: Deck) -> dict[str, Any]:
    """The parsed structure of `deck` as plain JSON-able data (what `deck export --format json` prints)."""
    return {
        "title": deck.title,
        "slug": deck.slug,
        "slides": [
            {
                "number": slide.number,
                "title": slide.title,
                "html": slide.html,
                "notes_html": slide.notes_html,
                "classes": slide.classes,
                "footer": slide.footer,
                "is_section": slide.is_section,
                "line": slide.line,
                "blocks": [
                    {
                        "id": block.block_id,
                        "lexer": block.lexer,
                        "text": block.text,
                        "runnable": block.runnable,
                        "action": block.action,
                        "line": block.line,
                        "options": block.options,
                        "include": block.include,
                    }
                    for block in slide.blocks
                ],
            }
            for slide in deck.slides
        ],
        "problems": [{"file": p.file, "line": p.line, "level": p.level, "message": p.message} for p in deck.problems],
    }


def _with_recorded(slide: Slide, recording: Recording | None) -> str:
    """The slide's HTML with each block's recorded output (if the record has it) right under the block."""
    html = slide.html
    for block in slide.blocks:
        step = recording.for_block(block) if recording is not None and block.runnable else None
        if step is not None:
            html = html.replace(block.html, block.html + recorded_html(step=step, recording=recording), 1)
    return html


def _slide_html(slide: Slide, total: int, recording: Recording | None = None) -> str:
    classes = " ".join(["slide", *(["section"] if slide.is_section else []), *slide.classes])
    label = f"Slide {slide.number} of {total}" + (f": {slide.title}" if slide.title else "")
    parts = [
        f'<section class="{escape(classes)}" id="slide-{slide.number}" data-number="{slide.number}" '
        f'aria-label="{escape(label)}">',
        f'<div class="slide-body">{_with_recorded(slide, recording)}</div>',
    ]
    if slide.footer:
        parts.append(f'<footer class="slide-footer">{slide.footer}</footer>')
    parts.append(f'<span class="slide-number">{slide.number} / {total}</span>')
    if slide.notes_html:
        parts.append(f'<aside class="notes" aria-label="Presenter notes">{slide.notes_html}</aside>')
    parts.append("</section>")
    return "\n".join(parts)


def deck_export_html(*, deck: Deck, recording: Recording | None = None) -> str:
    """One self-contained HTML file showing `deck` offline (parse it with `inline_images=True` first), with
    the recorded output of each block `recording` has under it, labelled "recorded" and dated."""
    total = len(deck.slides)
    slides = "\n".join(_slide_html(slide, total, recording) for slide in deck.slides)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="Podium deck export">
<title>{escape(deck.title)}</title>
<style>{EXPORT_CSS}</style>
<style>{pygments_css()}</style>
</head>
<body>
<main>
{slides}
</main>
<p class="help">← → space PgUp PgDn Home End to move · n shows the presenter notes</p>
<div id="announce" class="sr-only" aria-live="polite"></div>
<script>{EXPORT_JS}</script>
</body>
</html>
"""
