"""Join codes: six characters a room can read off a projector and type on a phone.

The alphabet leaves out the characters people mix up (0 and O, 1, I and L),
so no code holds two that look alike. What a person types is read leniently
(any case; spaces, dashes and dots ignored): "abc-d2e" finds ABCD2E.
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LENGTH = 6
_SEPARATORS = re.compile(r"[\s\-_.]+")


def code_new() -> str:
    """A fresh random join code (31^6, about 890 million, possible codes)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def code_read(text: str) -> str:
    """What a person typed, read as a code: upper case, separators dropped. `code_problem` says if it can be one."""
    return _SEPARATORS.sub("", str(text)).upper()


def code_problem(code: str) -> str | None:
    """Why `code` (as `code_read` returns it) cannot be a join code, or None."""
    if not code:
        return "Type the room's join code: the six characters the presenter shows."
    if len(code) != LENGTH:
        return f"A join code has {LENGTH} characters; “{code[:20]}” has {len(code)}."
    wrong = sorted({char for char in code if char not in ALPHABET})
    if wrong:
        said = ", ".join(wrong)
        return f"Join codes have no {said} (they leave out 0, O, 1, I and L): check the code the presenter shows."
    return None


def code_shown(code: str) -> str:
    """The code as projected and read aloud, in two groups of three: ABC234 -> "ABC-234"."""
    return f"{code[:3]}-{code[3:]}" if len(code) == LENGTH else code
