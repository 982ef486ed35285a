"""`.env.example` is the operator's list of settings: every PODIUM_* variable Podium reads is in it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_read_from_the_environment_is_listed_in_env_example() -> None:
    read = set(re.findall(r'env_\w+\(\s*"(PODIUM_\w+)"', (ROOT / "config" / "settings.py").read_text()))
    listed = set(re.findall(r"^#?\s*(PODIUM_\w+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))

    assert read, "no settings found in config/settings.py"
    assert sorted(read - listed) == []
