"""What the audience and presenter pages need for their Run buttons.

Three things, each cheap on every request: whether the sandbox backend can
run code at all (its `check()`, asked in a thread at most every few seconds
and never waited on for long), where the xterm.js files are served from (when
npm installed them: `config.xterm`), and each slide's HTML with the Run controls put inside
its runnable code blocks. The controls are server-rendered so a page without
a working backend shows disabled buttons that say why, even before any script runs.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from django.template.loader import render_to_string

from deck.parsed import Slide
from deck.recorded import Recording
from deck.recorded_html import recorded_html
from sandbox.backends import backend_get
from sandbox.backends.base import Backend

log = logging.getLogger(__name__)

# A good answer stays true for a while; a bad one is asked again soon, so starting
# Docker and reloading the page is enough to get working buttons.
AVAILABLE_TTL = 30.0
UNAVAILABLE_TTL = 5.0
# A page never waits longer than this for the engine; it then uses the last answer (or assumes yes).
CHECK_WAIT = 2.0
UNAVAILABLE_PREFIX = "Run is not available: "
XTERM_MISSING = (
    "The terminal (xterm.js) is not installed on this server, so output is shown as plain text: "
    "run scripts/setup.sh (it runs npm install) and restart Podium."
)
SHORTCUT = "Ctrl+Enter"


@dataclass
class _Check:
    """The last answer of the backend's check, and the thread asking for a new one."""

    backend: Backend | None = None  # the instance asked (a strong reference: ids of dead objects get reused)
    problem: str | None = None
    checked_at: float = float("-inf")
    pending: threading.Thread | None = None


_check = _Check()
_check_lock = threading.Lock()


def _check_run(backend: Backend) -> None:
    try:
        problem = backend.check()
    except Exception as exc:  # a check that crashes must not take the slides down with it
        log.exception("sandbox backend check failed")
        problem = f"the sandbox backend could not be checked ({type(exc).__name__}); look at the server log."
    with _check_lock:
        if _check.backend is backend:
            _check.problem, _check.checked_at, _check.pending = problem, time.monotonic(), None


def _sentence(problem: str) -> str:
    text = problem.strip()
    # "No Docker engine answers…" reads on after the colon as "no Docker engine answers…"; "PODIUM_…" stays.
    if text[:1].isupper() and not text[1:2].isupper():
        text = text[0].lower() + text[1:]
    return UNAVAILABLE_PREFIX + text


def run_unavailable() -> str:
    """Empty when Run buttons may work; else "Run is not available: <what is missing and how to fix it>".

    Asks the backend's `check()` at most every AVAILABLE_TTL seconds (every
    UNAVAILABLE_TTL after a bad answer), in a thread, waiting CHECK_WAIT seconds
    at most: a slow engine gets the previous answer, or none (buttons enabled;
    a run then reports the engine's trouble itself).
    """
    try:
        backend = backend_get()
    except ImproperlyConfigured as exc:
        return _sentence(f"the sandbox backend is not configured properly ({exc}).")
    with _check_lock:
        if _check.backend is not backend:  # another backend (settings changed, tests): forget the old answer
            _check.backend, _check.problem, _check.checked_at, _check.pending = backend, None, float("-inf"), None
        ttl = UNAVAILABLE_TTL if _check.problem else AVAILABLE_TTL
        fresh = time.monotonic() - _check.checked_at < ttl
        thread = _check.pending
        if not fresh and thread is None:
            thread = threading.Thread(target=_check_run, args=(backend,), name="podium-backend-check", daemon=True)
            _check.pending = thread
            thread.start()
    if not fresh and thread is not None:
        thread.join(CHECK_WAIT)
    with _check_lock:
        problem = _check.problem
    return _sentence(problem) if problem else ""


def slide_html_with_runs(slide: Slide, *, unavailable: str, recording: Recording | None = None) -> str:
    """The slide's HTML with the Run controls inside each of its runnable code blocks, and "Check my work"
    where each of its step checks was written.

    Each block's finished HTML (`CodeBlock.html`, a `<div class="code-block">`)
    appears in the slide's HTML exactly once, as the parser stashed it; the
    controls go just before its closing tag, so they sit in the block's corner.
    A block the deck's `recording` has (for its current code) also gets its
    recorded output, shown when Run is `unavailable`, else hidden until a run
    fails for a reason that is not the attendee's code (runs/run_block.js).
    """
    html = slide.html
    for block in slide.blocks:
        if not block.runnable or not block.html.endswith("</div>"):
            continue
        controls = render_to_string(
            "workshop/_run_controls.html",
            {"block": block, "unavailable": unavailable, "shortcut": SHORTCUT},
        )
        step = recording.for_block(block) if recording is not None else None
        if step is not None:
            controls += recorded_html(step=step, recording=recording, hidden=not unavailable)
        html = html.replace(block.html, block.html[: -len("</div>")] + controls + "</div>", 1)
    for check in slide.checks:
        # The parser left an empty placeholder where the `!check` was written; the control takes its place.
        control = render_to_string("workshop/_check_control.html", {"check": check, "unavailable": unavailable})
        html = html.replace(check.html, control.strip(), 1)
    return html
