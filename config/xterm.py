"""Where the pages find xterm.js (npm's node_modules/@xterm, served as static files: see settings.py).

The live deck pages (run output, the attendee's terminal) and the room dashboard (watching a terminal) load
it; none of it comes from the internet.
"""

from __future__ import annotations

import functools

from django.contrib.staticfiles import finders
from django.templatetags.static import static

XTERM_MODULE = "vendor/xterm/xterm/lib/xterm.mjs"
XTERM_CSS = "vendor/xterm/xterm/css/xterm.css"
FIT_MODULE = "vendor/xterm/addon-fit/lib/addon-fit.mjs"


@functools.cache
def terminal_assets() -> dict | None:
    """URLs of the xterm.js module, its fit addon and its CSS; None when npm has not installed them."""
    if not all(finders.find(path) for path in (XTERM_MODULE, XTERM_CSS, FIT_MODULE)):
        return None
    return {"module": static(XTERM_MODULE), "fit": static(FIT_MODULE), "css": static(XTERM_CSS)}
