"""Choosing the sandbox backend from settings, Django-style, and building its configuration once.

PODIUM_SANDBOX_BACKEND names the backend ("docker", "kubernetes" or a dotted
path to a Backend subclass); `backend_get` builds that class's configuration
from the settings (`config_class.from_settings()`, see config.py) and passes it
in, so no backend reads the settings itself.
"""

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
    if not hasattr(cls, "config_class"):
        raise ImproperlyConfigured(f"PODIUM_SANDBOX_BACKEND={name!r} names no config_class to configure it with")
    return cls


def backend_build(name: str) -> Backend:
    """A new backend of the class `name` names, configured from the settings as they are now."""
    cls = backend_class(name)
    return cls(config=cls.config_class.from_settings())


@cache
def backend_get() -> Backend:
    """The configured backend (one instance per process, its configuration built once)."""
    return backend_build(settings.PODIUM_SANDBOX_BACKEND)
