"""Backend 'auto': LXD where it is usable, else plain namespaces (else, later, the simulation)."""

from __future__ import annotations

from ..errors import NslabError


def pick() -> str:
    from .lxd import LxdBackend
    from .netns import require_netns_privileges
    try:
        require_netns_privileges()
    except NslabError:
        from . import REGISTRY
        if "sim" in REGISTRY:
            return "sim"
        raise
    try:
        LxdBackend().preflight()
        return "lxd"
    except NslabError:
        return "netns"
