"""Where a user's nslab state lives, also from inside the rootless sandbox (where the user reads as root).

Environment (all optional):

- ``NSLAB_STATE_DIR``: the state folder (records, the sandbox's pidfile);
- ``NSLAB_ROOTLESS``: ``1`` labs live in the user's sandbox even when root, ``0`` never;
- ``NSLAB_SANDBOX``: set by nslab inside a sandbox (``<holder pid>:<mount ns inode>``); never set it yourself;
- ``NSLAB_SANDBOX_ERROR``: set by the launcher when the sandbox could not be made and it started the program
  (a notebook kernel) outside it anyway: why, so that the notebook can say it.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

ENV_STATE = "NSLAB_STATE_DIR"
ENV_ROOTLESS = "NSLAB_ROOTLESS"
ENV_SANDBOX = "NSLAB_SANDBOX"
ENV_SANDBOX_ERROR = "NSLAB_SANDBOX_ERROR"  # set by the launcher when it had to start a program outside the sandbox
FULL_MAP = (0, 0, 4294967295)


def host_uid() -> int:
    """This user's uid on the host, also from inside a user namespace (where it may read 0)."""
    try:
        with open("/proc/self/uid_map") as fh:
            first = fh.readline().split()
        inside, outside, count = (int(x) for x in first)
        euid = os.geteuid()
        if (inside, outside, count) != FULL_MAP and inside <= euid < inside + count:
            return outside + euid - inside
    except (OSError, ValueError):
        pass
    return os.geteuid()


def in_sandbox() -> bool:
    """True when this process runs in the nslab sandbox named by $NSLAB_SANDBOX (its mount namespace)."""
    marker = os.environ.get(ENV_SANDBOX, "")
    try:
        return os.stat("/proc/self/ns/mnt").st_ino == int(marker.rsplit(":", 1)[1])
    except (IndexError, ValueError, OSError):
        return False


def rootless_wanted(force: bool = False) -> bool:
    """Should this process's labs live in the user's sandbox?  ``force`` (``--rootless``) or
    NSLAB_ROOTLESS=1: yes; NSLAB_ROOTLESS=0: no; otherwise exactly when not root (or already inside)."""
    setting = os.environ.get(ENV_ROOTLESS, "")
    if force or setting == "1":
        return True
    if setting == "0":
        return False
    return os.geteuid() != 0 or in_sandbox()


def _own_private_dir(path: Path, create_parents: bool) -> bool:
    try:
        if create_parents:
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
        else:
            path.mkdir(mode=0o700, exist_ok=True)
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and os.access(path, os.W_OK | os.X_OK)


def user_state_dir(create: bool = True) -> Path:
    """A user's own nslab folder: $XDG_STATE_HOME/nslab or ~/.local/state/nslab; for an account without a
    usable home (like ``nobody``), /tmp/nslab-<uid>, used only when it is the user's own and private (0700)."""
    home = os.environ.get("HOME") or os.path.expanduser("~")
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(home, ".local", "state")
    preferred = Path(base) / "nslab"
    if not create and preferred.is_dir():
        return preferred
    if _own_private_dir(preferred, create_parents=True):
        return preferred
    fallback = Path(f"/tmp/nslab-{host_uid()}")
    if not _own_private_dir(fallback, create_parents=False):
        raise PermissionError(errno.EACCES, f"cannot make a folder of your own for nslab ({preferred} nor {fallback}); "
                                            "set NSLAB_STATE_DIR to a folder of yours", str(fallback))
    if os.lstat(fallback).st_mode & 0o077:
        raise PermissionError(errno.EACCES, f"{fallback} is open to other users; remove it or set NSLAB_STATE_DIR "
                                            "to a private folder of yours", str(fallback))
    return fallback
