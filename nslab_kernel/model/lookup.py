"""Route lookups as data: what ``ip route get`` answers in one namespace, and who can answer it.

The kernel answers for real namespaces (:class:`nslab_kernel.kernel.views.NetnsView`), the
simulated network for simulated ones (:mod:`nslab_kernel.backends.simnet`); ``explain``
walks a path through either without knowing which.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..core.state import LabState


@dataclass(frozen=True)
class Lookup:
    """What the kernel's route lookup answered in one namespace."""

    error: int = 0  # errno (0: a route was found)
    kind: str = "unicast"  # unicast, local, unreachable, ...
    oif: str | None = None
    gateway: str | None = None
    prefsrc: str | None = None
    route: str = ""  # the chosen route, in ip's words (as far as the lookup tells)


class KernelView(Protocol):
    """What the walk needs: the lab's state, and the route lookup of one namespace."""

    state: LabState

    def route_get(self, node: str, dst: str, src: str | None = None, iif: str | None = None) -> Lookup: ...


__all__ = ["KernelView", "Lookup"]
