"""Glue between the netns backend and the rootless sandbox (:mod:`..kernel.sandbox`).

A user who is not root (or anyone with ``--rootless`` / NSLAB_ROOTLESS=1) keeps
their labs in a sandbox of their own: this process enters it (starting it if
needed) before the netns backend touches anything, and from then on the backend
works unchanged: it is root there, over namespaces only that user can reach.
LXD is never used from a sandbox: its socket is root-equivalent.
"""

from __future__ import annotations

import os

from ..core import records
from ..core.errors import PrivilegeError
from ..core.i18n import _
from ..core.userdirs import ENV_ROOTLESS, ENV_SANDBOX_ERROR
from ..kernel import sandbox


def active(force: bool = False) -> bool:
    """Should this process's labs live in the user's sandbox?"""
    return sandbox.wanted(force)


def prepare(force: bool = False) -> bool:
    """Enter the user's sandbox when labs should live there (no-op for root and when already inside).

    Returns True when this process now runs inside.  Raises PrivilegeError, with the fix, when the
    sandbox cannot be created (user namespaces blocked: see ``nslab doctor``) or this process can no
    longer enter it (it already runs threads, like a Jupyter kernel started outside the sandbox).
    """
    if force:
        os.environ[ENV_ROOTLESS] = "1"  # children and records.state_dir() see the same choice
    if not sandbox.wanted(force):
        return False
    if sandbox.inside():
        return True
    if os.environ.get(ENV_SANDBOX_ERROR):  # the launcher already tried, and said why
        raise PrivilegeError(os.environ[ENV_SANDBOX_ERROR])
    if sandbox.threads() != 1:  # setns into a user namespace needs a single-threaded process
        raise PrivilegeError(_("a normal user's network namespaces live in their own sandbox, and this process runs "
                               "outside it: use the Jupyter kernel 'Python 3 (nslab)', which starts inside your "
                               "sandbox, or run 'nslab shell' and start Python there"))
    try:
        sandbox.ensure_entered(records.state_dir())
    except sandbox.SandboxError as exc:
        raise PrivilegeError(exc.strerror or str(exc)) from None
    return True
