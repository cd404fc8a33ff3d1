"""Backend 'auto': LXD where it is usable, else plain namespaces, else the simulation."""

from __future__ import annotations

from ..core.errors import NslabError
from .lxd import LxdBackend
from .netns import require_netns_privileges


def pick() -> str:
    """The name of the backend 'auto' stands for on this machine, now."""
    try:
        require_netns_privileges()
    except NslabError:
        return "sim"
    try:
        LxdBackend().preflight()
        return "lxd"
    except NslabError:
        return "netns"
