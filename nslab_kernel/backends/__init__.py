"""Backends, picked from an explicit registry (no string-built imports)."""

from __future__ import annotations

from typing import Callable

from ..errors import InputError
from .base import Backend, ExecResult, NodeHandle


def _netns() -> Backend:
    from .netns import NetnsBackend
    return NetnsBackend()


def _lxd(**options) -> Backend:
    from .lxd import LxdBackend
    return LxdBackend(**options)


def _sim(**_options) -> Backend:
    from .sim import SimBackend
    return SimBackend()


REGISTRY: dict[str, Callable[..., Backend]] = {"netns": _netns, "lxd": _lxd, "sim": _sim}


def get_backend(name: str | Backend, **options) -> Backend:
    if isinstance(name, Backend):
        return name
    if name == "auto":
        from .auto import pick
        name = pick()
    try:
        factory = REGISTRY[name]
    except KeyError:
        raise InputError(f"unknown backend '{name}'; use one of: auto, {', '.join(REGISTRY)}") from None
    if name in ("netns", "sim"):
        return factory()
    return factory(**options)


__all__ = ["Backend", "ExecResult", "NodeHandle", "REGISTRY", "get_backend"]
