"""Processes and their network namespaces, as ``ps faxu`` and ``/proc/<pid>/ns/net`` show them.

Section 2 of the activity: every process has a ``/proc/<pid>/ns/net`` link; all
the host's processes share one netns, a container's processes another.  Pure
reading of ``/proc`` and ``/var/run/netns``; no kernel changes.
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass

from .nsfs import NETNS_RUN_DIR, name_inode, names, process_netns_inode
from .nsfs import host_netns_inode as host_netns  # section 2 reads it here (notebooks, inspector)


@dataclass(frozen=True)
class Process:
    pid: int
    ppid: int
    user: str
    command: str
    netns: int | None  # inode of /proc/<pid>/ns/net (None: not readable)
    depth: int = 0  # in the tree, as ps faxu indents it


@dataclass(frozen=True)
class NetnsName:
    name: str
    kind: str  # "mount" (ip netns add) or "symlink" (the activity's ln -s)
    target: str | None  # where a symlink points
    inode: int | None  # the netns it refers to now (None: dangling)

    @property
    def dangling(self) -> bool:
        return self.inode is None


def _read(path: str) -> str:
    with open(path, "rb") as fh:
        return fh.read().decode(errors="replace")


def processes() -> list[Process]:
    """Every process, in ``ps faxu`` tree order (children right after their parent)."""
    raw: dict[int, tuple[int, str, str, int | None]] = {}
    users: dict[int, str] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            status = _read(f"/proc/{pid}/status")
            cmdline = _read(f"/proc/{pid}/cmdline").replace("\0", " ").strip()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        ppid = int(fields.get("PPid", "0").strip() or 0)
        uid = int(fields.get("Uid", "0").split()[0])
        if uid not in users:
            try:
                users[uid] = pwd.getpwuid(uid).pw_name
            except KeyError:
                users[uid] = str(uid)
        command = cmdline or f"[{fields.get('Name', '?').strip()}]"
        netns = process_netns_inode(pid)
        raw[pid] = (ppid, users[uid], command, netns)
    children: dict[int, list[int]] = {}
    for pid, (ppid, *_rest) in raw.items():
        children.setdefault(ppid if ppid in raw else 0, []).append(pid)
    out: list[Process] = []

    def walk(pid: int, depth: int) -> None:
        ppid, user, command, netns = raw[pid]
        out.append(Process(pid, ppid, user, command, netns, depth))
        for child in sorted(children.get(pid, [])):
            walk(child, depth + 1)

    for root in sorted(children.get(0, [])):
        walk(root, 0)
    return out


def netns_names() -> list[NetnsName]:
    """The names in /var/run/netns, what each refers to, and which dangle."""
    out = []
    for name in names():
        path = os.path.join(NETNS_RUN_DIR, name)
        link = os.path.islink(path)
        try:
            inode = name_inode(name)
        except OSError:  # not ours to read (another user's process): shown as pointing nowhere we can see
            inode = None
        out.append(NetnsName(name, "symlink" if link else "mount", os.readlink(path) if link else None, inode))
    return out


def ps_faxu(procs: list[Process] | None = None, width: int = 110) -> str:
    """A ``ps faxu``-like text tree, each line with its netns inode."""
    procs = procs if procs is not None else processes()
    lines = [f"{'USER':<10} {'PID':>7}  {'NETNS':>10}  COMMAND"]
    for p in procs:
        tree = ("    " * (p.depth - 1) + " \\_ ") if p.depth else ""
        lines.append(f"{p.user[:10]:<10} {p.pid:>7}  {p.netns or '?':>10}  {(tree + p.command)[:width]}")
    return "\n".join(lines)


__all__ = ["NetnsName", "Process", "host_netns", "netns_names", "processes", "ps_faxu"]
