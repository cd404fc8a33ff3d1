"""Network namespace files, by system call (what ``ip netns add/del`` do, without forking).

Every function that changes a thread's namespace is meant to run in a thread
nslab started for that purpose and that exits afterwards (:mod:`.fanout`): ``setns`` and
``unshare(CLONE_NEWNET)`` only affect the calling thread, and a thread left in a
lab namespace must never be reused for anything else.

Note: pyroute2's ``netns._create`` binds ``/proc/self/ns/net``; from a thread
that is the *process's* namespace (the host's), so nslab uses
``/proc/thread-self`` here instead.
"""

from __future__ import annotations

import ctypes
import errno
import os

NETNS_RUN_DIR = os.environ.get("NSLAB_NETNS_DIR", "/var/run/netns")
CLONE_NEWNET = 0x40000000
MS_REC = 0x4000
MS_BIND = 0x1000
MS_SHARED = 1 << 20
MNT_DETACH = 2

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str, path: str = "") -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}", path or None)


def netns_path(name: str) -> str:
    return os.path.join(NETNS_RUN_DIR, name)


def names() -> list[str]:
    """The names in the netns folder (``ip netns list``), sorted; none when it does not exist."""
    try:
        return sorted(os.listdir(NETNS_RUN_DIR))
    except (FileNotFoundError, NotADirectoryError):
        return []


def netns_inode(path: str) -> int | None:
    """The netns inode of a netns file or a /proc/PID/ns/net link; None when it is gone or unreadable."""
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def process_netns_inode(pid: int) -> int | None:
    """The network namespace process ``pid`` lives in (its inode), or None when it is gone."""
    return netns_inode(f"/proc/{pid}/ns/net")


def host_netns_inode() -> int:
    """The network namespace of the process's main thread (the host's, for nslab)."""
    return os.stat("/proc/self/ns/net").st_ino


def thread_netns_inode() -> int:
    return os.stat("/proc/thread-self/ns/net").st_ino


def ensure_run_dir() -> None:
    """Create the netns folder and make it a shared mount, as iproute2 does.

    A shared mount lets a name created later also appear in other mount
    namespaces (``ip netns exec`` makes one per command).
    """
    os.makedirs(NETNS_RUN_DIR, exist_ok=True)
    path = NETNS_RUN_DIR.encode()
    if _libc.mount(b"", path, b"none", MS_SHARED | MS_REC, None) == 0:
        return
    _check(_libc.mount(path, path, b"none", MS_BIND | MS_REC, None), "bind-mount netns folder", NETNS_RUN_DIR)
    _check(_libc.mount(b"", path, b"none", MS_SHARED | MS_REC, None), "share netns folder", NETNS_RUN_DIR)


def unshare_net() -> int:
    """Move the calling thread into a new, empty network namespace; return an fd that holds it."""
    _check(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
    return os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)


def bind_name(fd: int, name: str) -> None:
    """Give the namespace held by ``fd`` a name, like ``ip netns add`` (fails if the name exists)."""
    path = netns_path(name)
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0))
    try:
        _check(_libc.mount(f"/proc/self/fd/{fd}".encode(), path.encode(), b"none", MS_BIND, None), "bind-mount netns", path)
    except BaseException:
        os.unlink(path)
        raise


def unbind_name(name: str) -> None:
    """Remove a namespace name created by :func:`bind_name`, like ``ip netns del``."""
    path = netns_path(name)
    if _libc.umount2(path.encode(), MNT_DETACH) != 0:
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOENT):  # EINVAL: not a mount point any more
            raise OSError(code, f"umount netns: {os.strerror(code)}", path)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def name_inode(name: str) -> int | None:
    """The netns inode a name refers to now, or None when missing or dangling."""
    try:
        st = os.stat(netns_path(name))
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ESRCH):
            return None
        raise
    return st.st_ino


def setns(fd: int) -> None:
    _check(_libc.setns(fd, CLONE_NEWNET), "setns(CLONE_NEWNET)")


def enter(path: str, host_inode: int) -> None:
    """Move the calling (dedicated) thread into the namespace at ``path``.

    Refuses, after the move, if that namespace is the host's own (``host_inode``):
    whatever a name points at, nslab never configures or probes the host.
    Raises FileNotFoundError when the namespace is gone.
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        setns(fd)
    finally:
        os.close(fd)
    if thread_netns_inode() == host_inode:
        raise PermissionError(errno.EPERM, "refusing to act in the host's own network namespace", path)
