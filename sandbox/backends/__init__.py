"""Choosing the sandbox backend from settings, Django-style."""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from sandbox.backends.base import Backend

SHORT_NAMES = {
    "docker": "sandbox.backends.docker.DockerBackend",
    "kubernetes": "sandbox.backends.kubernetes.KubernetesBackend",
}


def backend_class(name: str) -> type[Backend]:
    """The Backend subclass a setting value names; ImproperlyConfigured naming the value otherwise."""
    path = SHORT_NAMES.get(name, name)
    try:
        cls = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"PODIUM_SANDBOX_BACKEND={name!r} cannot be imported ({exc}); use docker, kubernetes or a dotted path"
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise ImproperlyConfigured(f"PODIUM_SANDBOX_BACKEND={name!r} is not a sandbox Backend subclass")
    return cls


@cache
def backend_get() -> Backend:
    """The configured backend (one instance per process)."""
    return backend_class(settings.PODIUM_SANDBOX_BACKEND)()
