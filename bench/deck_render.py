"""Parse + render time of the shipped deck: cold (a fresh parse) and warm (the cached `deck_get`).

Cold: the deck cache is cleared before each `deck_get`, so each repetition
reads the file, runs every deck extension, highlights every block with
Pygments and serialises every slide. Warm: `deck_get` of an unchanged deck,
which only checks the file's (and its includes') mtime and size.

Baseline, same run, same file: plain `markdown.markdown(text)` with no
extensions (what a bare Python-Markdown render of the file costs), so
`*_ratio` says how many bare renders one deck parse costs.

    .venv/bin/python bench/deck_render.py [--repetitions 50] [--deck PATH]

Falls back to the seed deck when slides/intro-docker-kubernetes.md is missing.
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "slides" / "intro-docker-kubernetes.md"
SEED = Path("/work/shared/seed/intro-docker-kubernetes.md")


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile of `samples`."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def timed_ms(action: Callable[[], object], repetitions: int, before: Callable[[], object] | None = None) -> list[float]:
    samples = []
    for _ in range(repetitions):
        if before is not None:
            before()
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repetitions", "-n", type=int, default=50)
    parser.add_argument("--deck", type=Path, default=SHIPPED if SHIPPED.exists() else SEED)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    import markdown
    from django.conf import settings

    from deck.selectors import deck_cache_clear, deck_get

    deck_path = args.deck.resolve()
    settings.PODIUM_SLIDES_DIR = deck_path.parent
    slug = deck_path.stem
    text = deck_path.read_text(encoding="utf-8")

    deck = deck_get(slug=slug)  # warms imports and Pygments' lexer lookups outside the timings
    markdown.markdown(text)
    baseline = timed_ms(lambda: markdown.markdown(text), args.repetitions)
    cold = timed_ms(lambda: deck_get(slug=slug), args.repetitions, before=deck_cache_clear)
    deck_get(slug=slug)
    warm = timed_ms(lambda: deck_get(slug=slug), args.repetitions)

    result = {
        "bench": "deck_render",
        "deck": str(deck_path.relative_to(ROOT) if deck_path.is_relative_to(ROOT) else deck_path),
        "slides": len(deck.slides),
        "code_blocks": sum(len(slide.blocks) for slide in deck.slides),
        "repetitions": args.repetitions,
        "cold_p50_ms": round(percentile(cold, 0.50), 3),
        "cold_p99_ms": round(percentile(cold, 0.99), 3),
        "warm_p50_ms": round(percentile(warm, 0.50), 4),
        "warm_p99_ms": round(percentile(warm, 0.99), 4),
        "baseline_markdown_p50_ms": round(percentile(baseline, 0.50), 3),
        "baseline_markdown_p99_ms": round(percentile(baseline, 0.99), 3),
    }
    result["cold_p50_ratio"] = round(result["cold_p50_ms"] / result["baseline_markdown_p50_ms"], 2)
    result["warm_p50_ratio"] = round(result["warm_p50_ms"] / result["baseline_markdown_p50_ms"], 4)
    print(
        f"{result['deck']}: {result['slides']} slides, {result['code_blocks']} code blocks; "
        f"cold p50 {result['cold_p50_ms']} ms (p99 {result['cold_p99_ms']}), "
        f"warm p50 {result['warm_p50_ms']} ms (p99 {result['warm_p99_ms']}), "
        f"plain markdown p50 {result['baseline_markdown_p50_ms']} ms"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
