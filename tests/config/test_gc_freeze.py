"""A server process freezes what it loaded at startup, so a full garbage collection does not stall its loop."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import gc
import config.asgi
frozen = gc.get_freeze_count()
gc.collect()
print(frozen, len(gc.get_objects()))
"""


def test_the_asgi_module_freezes_the_objects_loaded_at_startup() -> None:
    # A fresh interpreter, as daphne and runworker are: importing the ASGI application is their startup.
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    frozen, tracked = (int(word) for word in done.stdout.split())
    # Django, the apps and the clients: far more objects than anything left for the collector to walk.
    assert frozen > 100_000
    assert tracked < frozen // 10
