"""Backends by name, from an explicit registry (no string-built imports)."""

from __future__ import annotations

from typing import Callable

from ..core.errors import InputError
from .auto import pick
from .base import Backend
from .lxd import LxdBackend
from .netns import NetnsBackend
from .sim import SimBackend

REGISTRY: dict[str, Callable[..., Backend]] = {
    "netns": lambda **_options: NetnsBackend(),
    "lxd": lambda **options: LxdBackend(**options),
    "sim": lambda **_options: SimBackend(),
}


def get_backend(name: str | Backend, **options) -> Backend:
    """A backend by name (``auto``: LXD where usable, else netns, else sim); ``options`` go to LXD."""
    if isinstance(name, Backend):
        return name
    if name == "auto":
        name = pick()
    try:
        factory = REGISTRY[name]
    except KeyError:
        raise InputError(f"unknown backend '{name}'; use one of: auto, {', '.join(REGISTRY)}") from None
    return factory(**options)


__all__ = ["REGISTRY", "get_backend"]
