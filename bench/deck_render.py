"""Parse + render time of the shipped deck: cold (a fresh parse) and warm (the cached `deck_get`).

Cold: the deck cache is cleared before each `deck_get`, so each repetition
reads the file and its includes, runs every deck extension and serialises
every slide; the blocks' highlighted HTML comes from the process's highlight
cache, as it does when a presenter edits a deck during a talk. Unhighlighted:
the highlight cache is cleared too, so Pygments lexes every block (the first
parse in a fresh process). Warm: `deck_get` of an unchanged deck, which only
checks the file's (and its includes') mtime and size.

Baseline, same run, same file: plain `markdown.markdown(text)` with no
extensions (what a bare Python-Markdown render of the file costs), so
`*_ratio` says how many bare renders one deck parse costs.

    .venv/bin/python bench/deck_render.py [--repetitions 50] [--deck PATH]

Falls back to the seed deck when slides/intro-docker-kubernetes.md is missing.
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import common as bench

ROOT = bench.ROOT
SHIPPED = ROOT / "slides" / "intro-docker-kubernetes.md"
SEED = Path("/work/shared/seed/intro-docker-kubernetes.md")


def timed_ms(action: Callable[[], object], before: Callable[[], object] | None = None) -> float:
    if before is not None:
        before()
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def interleaved_ms(measures: dict[str, tuple[Callable[[], object], Callable[[], object] | None]], repetitions: int):
    """Samples of each (action, before) in `measures`, taken in turn, so a busy moment on a shared host
    lands on all of them alike instead of on whichever ran then."""
    samples: dict[str, list[float]] = {name: [] for name in measures}
    for _ in range(repetitions):
        for name, (action, before) in measures.items():
            samples[name].append(timed_ms(action, before))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repetitions", "-n", type=int, default=50)
    parser.add_argument("--deck", type=Path, default=SHIPPED if SHIPPED.exists() else SEED)
    args = parser.parse_args()

    bench.django_setup()
    import markdown
    from django.conf import settings

    from deck.highlight import code_highlight_cache_clear
    from deck.selectors import deck_cache_clear, deck_get

    deck_path = args.deck.resolve()
    settings.PODIUM_SLIDES_DIR = deck_path.parent
    slug = deck_path.stem
    text = deck_path.read_text(encoding="utf-8")

    deck = deck_get(slug=slug)  # warms imports and Pygments' lexer lookups outside the timings
    markdown.markdown(text)

    def caches_clear() -> None:
        deck_cache_clear()
        code_highlight_cache_clear()

    def cold_before() -> None:
        deck_cache_clear()
        deck_get(slug=slug)  # highlights what the unhighlighted parse before it forgot
        deck_cache_clear()

    def warm_before() -> None:
        deck_get(slug=slug)

    parse = lambda: deck_get(slug=slug)  # noqa: E731
    samples = interleaved_ms(
        {
            "baseline": (lambda: markdown.markdown(text), None),
            "cold": (parse, cold_before),
            "unhighlighted": (parse, caches_clear),
            "warm": (parse, warm_before),
        },
        args.repetitions,
    )
    baseline, cold, unhighlighted, warm = (samples[k] for k in ("baseline", "cold", "unhighlighted", "warm"))

    result = {
        "bench": "deck_render",
        "deck": str(deck_path.relative_to(ROOT) if deck_path.is_relative_to(ROOT) else deck_path),
        "slides": len(deck.slides),
        "code_blocks": sum(len(slide.blocks) for slide in deck.slides),
        "repetitions": args.repetitions,
        **bench.p50_p99("cold_{p}_ms", cold, digits=3),
        **bench.p50_p99("unhighlighted_{p}_ms", unhighlighted, digits=3),
        **bench.p50_p99("warm_{p}_ms", warm, digits=4),
        **bench.p50_p99("baseline_markdown_{p}_ms", baseline, digits=3),
    }
    result["cold_p50_ratio"] = round(result["cold_p50_ms"] / result["baseline_markdown_p50_ms"], 2)
    result["unhighlighted_p50_ratio"] = round(result["unhighlighted_p50_ms"] / result["baseline_markdown_p50_ms"], 2)
    result["warm_p50_ratio"] = round(result["warm_p50_ms"] / result["baseline_markdown_p50_ms"], 4)
    bench.figures_print(
        result,
        summary=f"{result['deck']}: {result['slides']} slides, {result['code_blocks']} code blocks; "
        f"cold p50 {result['cold_p50_ms']} ms (p99 {result['cold_p99_ms']}), "
        f"unhighlighted p50 {result['unhighlighted_p50_ms']} ms, "
        f"warm p50 {result['warm_p50_ms']} ms (p99 {result['warm_p99_ms']}), "
        f"plain markdown p50 {result['baseline_markdown_p50_ms']} ms",
    )


if __name__ == "__main__":
    main()
