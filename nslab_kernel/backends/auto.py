"""Backend 'auto': what a notebook gets when it does not say.

- a normal user (or ``--rootless``): plain namespaces in the user's own sandbox, never LXD (talking to
  LXD is root-equivalent, so it stays outside the sandbox); the simulation where no sandbox can be had;
- root: LXD where it is usable, else plain namespaces, else the simulation.

:func:`choose` also says why, as an English msgid (translated where it is shown).
"""

from __future__ import annotations

import os

from ..core.errors import NslabError
from ..core.i18n import N_
from ..core.userdirs import ENV_SANDBOX_ERROR
from ..kernel import sandbox
from . import rootless
from .lxd import LxdBackend
from .netns import require_netns_privileges

WHY_ROOTLESS = N_("You are not root, so nslab builds your lab on plain network namespaces inside your own sandbox "
                   "(a user namespace that only you can enter; 'ip netns list' there shows only your labs). LXD is "
                   "not used: access to it is equivalent to root. For containers, each student needs a machine of "
                   "their own.")
WHY_NO_SANDBOX = N_("This machine does not let you create a sandbox (user namespaces are blocked; 'nslab doctor' says "
                    "how to allow them), so nslab simulates the network.")
WHY_OUTSIDE = N_("This kernel runs outside your sandbox, so nslab simulates the network; choose the kernel "
                 "'Python 3 (nslab)' to build real network namespaces in your own sandbox.")
WHY_LXD = "LXD answers, so every node is an LXD container, as in the activity."
WHY_NETNS = "LXD is not available, so every node is a plain network namespace."
WHY_SIM = "This process cannot create network namespaces, so nslab simulates the network."


def choose() -> tuple[str, str]:
    """(the backend 'auto' stands for here and now, why: an English msgid)."""
    if rootless.active():
        try:
            rootless.prepare()
            require_netns_privileges()
            return "netns", WHY_ROOTLESS
        except NslabError:
            outside = not os.environ.get(ENV_SANDBOX_ERROR) and not sandbox.inside() and sandbox.threads() != 1
            return "sim", WHY_OUTSIDE if outside else WHY_NO_SANDBOX
    try:
        require_netns_privileges()
    except NslabError:
        return "sim", WHY_SIM
    try:
        LxdBackend().preflight()
        return "lxd", WHY_LXD
    except NslabError:
        return "netns", WHY_NETNS


def pick() -> str:
    """The name of the backend 'auto' stands for on this machine, now."""
    return choose()[0]
