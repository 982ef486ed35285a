"""Reading settings from the environment, in one place (12-factor)."""

from __future__ import annotations

import os
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured


def env_str(name: str, default: str = "") -> str:
    """Return the variable's value, or `default` when it is unset or empty."""
    value = os.environ.get(name, "")
    return value if value != "" else default


def env_bool(name: str, default: bool = False) -> bool:
    """Parse a yes/no variable; anything unrecognised is an error naming it."""
    value = os.environ.get(name, "").strip().lower()
    if value == "":
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a yes/no value (use 1/0, true/false)")


def env_int(name: str, default: int) -> int:
    """Parse an integer variable; a bad value is an error naming it."""
    value = os.environ.get(name, "").strip()
    if value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number") from None


def env_float(name: str, default: float) -> float:
    """Parse a decimal variable; a bad value is an error naming it."""
    value = os.environ.get(name, "").strip()
    if value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number") from None


def env_list(name: str, default: list[str]) -> list[str]:
    """Parse a comma-separated variable into a list of non-empty items."""
    value = os.environ.get(name, "")
    if value.strip() == "":
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_rate(name: str, default: str) -> tuple[int, int]:
    """Parse a rate limit "N/SECONDS" (N actions per SECONDS) into (N, SECONDS); "off" or "0" is (0, 1), no limit."""
    value = os.environ.get(name, "").strip().lower() or default
    if value in {"0", "off"}:
        return (0, 1)
    count, slash, seconds = value.partition("/")
    if slash and count.strip().isdigit() and seconds.strip().isdigit() and int(seconds) > 0:
        return (int(count), int(seconds))
    raise ImproperlyConfigured(f"{name}={value!r} is not a rate: write N/SECONDS (e.g. 60/60), or off")


def database_from_url(url: str) -> dict:
    """Turn `sqlite:///path` or `mysql://user:pass@host:port/name` into a DATABASES entry."""
    parsed = urlparse(url)
    scheme = parsed.scheme
    if scheme == "sqlite":
        # sqlite:///relative.db -> "relative.db"; sqlite:////abs/path.db -> "/abs/path.db"
        path = unquote(url.split("://", 1)[1].split("?", 1)[0])
        path = path[1:] if path.startswith("/") else path
        # WAL lets the follow/run consumers read while a write commits; IMMEDIATE avoids
        # "database is locked" when two async writers upgrade their locks at once.
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": path or ":memory:",
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
            },
        }
    if scheme in {"mysql", "mariadb"}:
        options = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        options.setdefault("charset", "utf8mb4")
        return {
            "ENGINE": "django.db.backends.mysql",
            "NAME": unquote(parsed.path.lstrip("/")),
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            "OPTIONS": options,
            "TEST": {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"},
        }
    raise ImproperlyConfigured(
        f"DATABASE_URL scheme {scheme!r} is not supported (use sqlite:///FILE or mysql://USER:PASS@HOST/NAME)"
    )
