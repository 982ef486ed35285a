"""Decks written inline by a test: parsed from a temporary file (support module, shared by deck and workshop tests)."""

from __future__ import annotations

from pathlib import Path

from deck.parsed import Deck
from deck.parser import deck_parse

# A Build block followed by its step check, the shape the shipped deck uses.
BUILD_AND_CHECK = """# Build

```bash
docker build -t 12factor:1.0 .
```

```check message="The image 12factor:1.0 is built"
docker image inspect 12factor:1.0 >/dev/null
```
"""


def deck_from_text(tmp_path: Path, text: str, name: str = "deck.md") -> Deck:
    """`text` written to `tmp_path/name` and parsed, with `tmp_path` as the include root."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return deck_parse(path=path, include_root=tmp_path)
