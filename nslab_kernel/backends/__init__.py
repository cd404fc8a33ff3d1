"""Layer 4, backends: how a node exists (a named netns, an LXD container, a simulated object).

Every backend implements :class:`Backend`; configuration and reading go through the
kernel layer for the kernel-backed ones.  Picked by name from :mod:`.registry`.
Imports from core, model and kernel.
"""

from __future__ import annotations

from ..core.state import NodeHandle
from .base import Backend, ExecResult
from .registry import REGISTRY, get_backend

__all__ = ["Backend", "ExecResult", "NodeHandle", "REGISTRY", "get_backend"]
