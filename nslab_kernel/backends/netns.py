"""The default backend: one plain named network namespace per node (no daemon needed)."""

from __future__ import annotations

import errno
import os
import subprocess
from typing import Sequence

from ..core import commands
from ..core.errors import BackendError, NameClash, PrivilegeError
from ..core.i18n import N_, _
from ..core.records import Record
from ..core.state import NodeHandle, NodeStatus
from ..core.steps import Step
from ..kernel import fanout, netconf, nsfs
from ..model.topology import Topology
from . import rootless
from .base import Backend, ExecResult

PRIVILEGE_HINT = N_("run it as a normal user (nslab then builds labs in your own sandbox; in Jupyter, the kernel "
                    "'Python 3 (nslab)') or as root, or use backend 'sim' where neither works")


def require_netns_privileges() -> None:
    """Fail with one clear line if this process cannot create network namespaces."""
    def probe() -> None:
        os.close(nsfs.unshare_net())

    try:
        fanout.in_thread(probe)
    except PermissionError:
        raise PrivilegeError(_("creating network namespaces needs privileges (CAP_SYS_ADMIN) this process lacks: "
                               "{hint}").format(hint=_(PRIVILEGE_HINT))) from None
    except OSError as exc:
        raise BackendError(f"this kernel refused to create a network namespace ({exc.strerror}); "
                           "a Linux kernel with network namespaces is needed") from None
    if not os.access(os.path.dirname(nsfs.NETNS_RUN_DIR) or "/", os.W_OK):
        raise PrivilegeError(_("cannot write {path}: {hint}").format(path=nsfs.NETNS_RUN_DIR, hint=_(PRIVILEGE_HINT)))


def recorded_inodes(record: Record | None, name: str) -> set[int]:
    if record is None:
        return set()
    return {int(r["inode"]) for r in record.of_type("netns") if r.get("name") == name and "inode" in r}


class NetnsBackend(Backend):
    name = "netns"

    def __init__(self) -> None:
        super().__init__()
        rootless.prepare()  # a normal user's namespaces live in their own sandbox: go in first

    def preflight(self) -> None:
        require_netns_privileges()

    def preflight_forwarding(self) -> None:
        netconf.require_writable_sysctls()

    def handle(self, topo: Topology, node: str) -> NodeHandle:
        name = topo.netns_name(node)
        return NodeHandle(node, name, nsfs.netns_path(name))

    def node_state(self, topo: Topology, record: Record | None, node: str) -> NodeStatus:
        name = topo.netns_name(node)
        inode = nsfs.name_inode(name)
        if inode is None:
            return NodeStatus.MISSING
        return NodeStatus.UP if inode in recorded_inodes(record, name) else NodeStatus.FOREIGN

    def create_nodes(self, topo: Topology, record: Record, nodes: Sequence[str], progress=None) -> list[Step]:
        steps: list[Step] = []
        todo: list[tuple[str, str]] = []
        for node in nodes:
            name = topo.netns_name(node)
            command = commands.netns_add(name)
            state = self.node_state(topo, record, node)
            if state == NodeStatus.UP:
                steps.append(Step("netns", node, command, False, name))
            elif state == NodeStatus.FOREIGN:
                raise NameClash(_("a network namespace named '{name}' already exists and nslab did not create it "
                                  "for lab '{lab}'; choose another lab name (--lab) or, if it is yours to remove, "
                                  "run: ip netns del {name}").format(name=name, lab=topo.name))
            else:
                if os.path.lexists(nsfs.netns_path(name)):
                    raise NameClash(f"{nsfs.netns_path(name)} exists but is not a network namespace; choose another "
                                    "lab name (--lab) or remove that file if it is yours")
                todo.append((node, name))
        if not todo:
            return steps
        nsfs.ensure_run_dir()

        def build() -> list[Step]:
            # Each new namespace is held by an fd while unnamed: if the process dies
            # now, the kernel frees it, and nothing is left to clean.
            held: list[tuple[str, str, int]] = []
            made: list[Step] = []
            try:
                for node, name in todo:
                    held.append((node, name, nsfs.unshare_net()))
                record.append_many([{"t": "netns", "name": name, "node": node, "inode": os.fstat(fd).st_ino}
                                    for node, name, fd in held])
                for node, name, fd in held:
                    try:
                        nsfs.bind_name(fd, name)
                    except FileExistsError:
                        raise NameClash(f"'{name}' appeared in {nsfs.NETNS_RUN_DIR} while nslab was creating it; "
                                        "another program uses that name: choose another lab name (--lab)") from None
                    made.append(Step("netns", node, commands.netns_add(name), True, name))
                    if progress:
                        progress(node)
            finally:
                for _node, _name, fd in held:
                    os.close(fd)
            return made

        try:
            steps += fanout.in_thread(build, name="nslab:create")
        except PermissionError:
            raise PrivilegeError(_("creating network namespaces needs privileges (CAP_SYS_ADMIN) this process lacks: "
                                   "{hint}").format(hint=_(PRIVILEGE_HINT))) from None
        return steps

    def remove(self, record: Record) -> list[Step]:
        steps = []
        seen: set[str] = set()
        for entry in reversed(record.of_type("netns")):
            name = entry["name"]
            if name in seen:
                continue
            seen.add(name)
            steps.append(remove_netns_name(name, recorded_inodes(record, name)))
        return steps

    def exec(self, topo: Topology, node: str, argv: Sequence[str], timeout: float = 30.0) -> ExecResult:
        return nsenter_exec(self.handle(topo, node), argv, timeout)


def remove_netns_name(name: str, inodes: set[int]) -> Step:
    """Remove a netns name only if it still refers to a namespace nslab recorded."""
    command = commands.netns_del(name)
    path = nsfs.netns_path(name)
    current = nsfs.name_inode(name)
    if current is None:
        if os.path.lexists(path):
            return Step("delete", name, command, False, "left alone: that name is now a dangling link nslab did not make")
        return Step("delete", name, command, False, "already gone")
    if current not in inodes:
        try:
            st, parent = os.stat(path), os.stat(os.path.dirname(path))
        except OSError:
            st = parent = None
        if st is not None and parent is not None and st.st_dev == parent.st_dev and st.st_size == 0:
            os.unlink(path)  # an empty placeholder file of ours, never mounted
            return Step("delete", name, command, True, "removed a placeholder left by an interrupted run")
        return Step("delete", name, command, False, "left alone: that name now refers to a namespace nslab did not create")
    try:
        nsfs.unbind_name(name)
    except OSError as exc:
        if exc.errno == errno.EPERM:
            raise PrivilegeError(_("removing {name} needs root: {hint}").format(name=name, hint=_(PRIVILEGE_HINT))) from None
        raise
    return Step("delete", name, command, True)


def nsenter_exec(handle: NodeHandle, argv: Sequence[str], timeout: float) -> ExecResult:
    """Run ``argv`` in the node's network namespace (about 3 ms of overhead)."""
    if not os.path.exists(handle.path):
        raise BackendError(_("node '{node}' is not up (no {path}); run up first").format(node=handle.node,
                                                                                      path=handle.path))
    try:
        proc = subprocess.run(["nsenter", f"--net={handle.path}", "--", *argv], capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise BackendError("nsenter is missing; install util-linux") from None
    except subprocess.TimeoutExpired:
        raise BackendError(f"'{' '.join(argv)}' in {handle.node} did not finish in {timeout:g} s") from None
    return ExecResult(handle.node, tuple(argv), proc.returncode, proc.stdout, proc.stderr)
