"""Idempotent network configuration inside one namespace, through pyroute2.

Each function runs in a thread that has already entered the namespace (see
:func:`for_each_netns`), reads the current state, changes only what differs from
the target, and returns a :class:`Step` saying which, with the equivalent
iproute2 command.  Nothing here ever runs in the host's namespace: the worker
refuses to start there.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from typing import Callable, Mapping, TypeVar

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from ..core import commands
from ..core.errors import BackendError, NameClash, PrivilegeError
from ..core.i18n import _
from ..core.state import NodeHandle
from ..core.steps import Step
from ..model.topology import IPv4If, Route
from . import fanout, nlbatch

K = TypeVar("K")
T = TypeVar("T")
RT_TABLE_MAIN = 254
RTPROT_BOOT = 3
FORWARD_SYSCTL = "/proc/sys/net/ipv4/ip_forward"


@dataclass
class Netns:
    """A thread's handle on one namespace: its name (for commands), a batch netlink socket,
    and a pyroute2 ``IPRoute`` opened on first use."""

    name: str
    nl: nlbatch.Netlink
    _ipr: IPRoute | None = None

    @property
    def ipr(self) -> IPRoute:
        if self._ipr is None:
            self._ipr = IPRoute()
        return self._ipr

    def close(self) -> None:
        if self._ipr is not None:
            self._ipr.close()

    def index(self, ifname: str) -> int | None:
        found = self.ipr.link_lookup(ifname=ifname)
        return found[0] if found else None


def for_each_netns(handles: Mapping[K, NodeHandle], fn: Callable[[Netns, K], T],
                   workers: int = fanout.WORKERS) -> dict[K, T]:
    """Run ``fn(netns, key)`` for every key, inside that key's namespace, with a netlink socket open there.

    The threads are :mod:`fanout`'s: a few dedicated ones that exit afterwards, so no
    thread that has entered a lab namespace is ever reused for anything else, and the
    caller's thread (a Jupyter kernel's) never changes namespace.
    """
    def configure(key: K, handle: NodeHandle) -> T:
        with nlbatch.Netlink() as nl:
            ns = Netns(handle.netns, nl)
            try:
                return fn(ns, key)
            finally:
                ns.close()

    return fanout.in_each_netns(handles, configure, workers)


# --- individual operations ---------------------------------------------------------------------

def veths(ns: Netns, wanted: list[tuple[str, NodeHandle, str]]) -> list[Step]:
    """Ensure veth pairs whose local ends live here: (ifname, the peer's node handle, peer ifname).

    Both ends are created directly in their namespaces (the peer through its
    netns fd), so nothing is ever stranded in the host.  Missing pairs are
    created in one netlink batch; an existing interface of that name must be a
    veth whose peer lives in the right namespace.
    """
    present = {l.name: l for l in ns.nl.links()}
    steps: list[Step | None] = []
    batch = nlbatch.Batch()
    fds: list[int] = []
    try:
        for ifname, peer, peer_ifname in wanted:
            peer_ns = peer.netns
            command = commands.veth(ifname, ns.name, peer_ifname, peer_ns)
            target = f"{ns.name}:{ifname} - {peer_ns}:{peer_ifname}"
            fd = os.open(peer.path, os.O_RDONLY | os.O_CLOEXEC)
            fds.append(fd)
            have = present.get(ifname)
            if have is not None:
                peer_nsid = ns.ipr.get_netnsid(fd=fd).get("nsid")
                if have.kind == "veth" and peer_nsid not in (None, -1) and have.link_netnsid == peer_nsid:
                    steps.append(Step("link", target, command, False))
                    continue
                raise NameClash(_("{ns} already has an interface '{ifname}' that is not the veth to {peer}; delete it "
                                  "({command}) and run up again").format(
                    ns=ns.name, ifname=ifname, peer=f"{peer_ns}:{peer_ifname}", command=commands.link_del(ns.name, ifname)))
            steps.append(Step("link", target, command, True))
            batch.add_veth(ifname, peer_ifname, fd, tag=(len(steps) - 1, peer_ns, peer_ifname))
        for (i, peer_ns, peer_ifname), code in batch.send(ns.nl):
            if code == errno.EEXIST:
                raise NameClash(_("{ns} already has an interface '{ifname}' that is not the veth to {peer}; delete it "
                                  "({command}) and run up again").format(
                    ns=peer_ns, ifname=peer_ifname, peer=steps[i].target.split(" - ")[0],
                    command=commands.link_del(peer_ns, peer_ifname)))
            if code:
                raise BackendError(_("creating veth {veth} failed: {why} (errno {code})").format(
                    veth=steps[i].target, why=os.strerror(code), code=code))
    finally:
        for fd in fds:
            os.close(fd)
    return [s for s in steps if s is not None]


def _missing_interface(ns: Netns, ifname: str) -> BackendError:
    return BackendError(f"{ns.name} has no interface '{ifname}'; create the link first "
                        "(run up, or the link step of the notebook)")


def converge(ns: Netns, lo: bool = False, ends: list[tuple[str, IPv4If | None]] | None = None,
             forwarding_flag: bool | None = None, wanted_routes: list[Route] | None = None) -> list[Step]:
    """Bring one namespace to its target: loopback up, each (ifname, address) set and up,
    the forwarding flag, the static routes.  Reads the state once, then sends every
    missing change in one netlink batch; reports each item as changed or already so.
    """
    ends = ends or []
    nl = ns.nl
    links = {l.name: (l.index, l.up) for l in nl.links()}
    addrs = nl.addresses() if ends else set()
    batch = nlbatch.Batch()
    steps: list[Step | None] = []

    def plan(step: Step, add: Callable[[int], None] | None) -> None:
        if add is None:
            steps.append(step)
        else:
            steps.append(None)
            add(len(steps) - 1)
            pending[len(steps) - 1] = step

    pending: dict[int, Step] = {}
    if lo:
        idx, up = links["lo"]
        step = Step("up", f"{ns.name}:lo", commands.link_up(ns.name, "lo"), not up)
        plan(step, None if up else (lambda i, idx=idx: batch.link_up(idx, tag=i)))
    for ifname, iface in ends:
        if ifname not in links:
            raise _missing_interface(ns, ifname)
        idx, up = links[ifname]
        if iface is not None:
            have = (idx, str(iface.ip), iface.network.prefixlen) in addrs
            step = Step("address", f"{ns.name}:{ifname}", commands.addr_add(ns.name, iface, ifname),
                        not have, str(iface))
            plan(step, None if have else (lambda i, idx=idx, iface=iface: batch.add_address(
                idx, str(iface.ip), iface.network.prefixlen, tag=i)))
        step = Step("up", f"{ns.name}:{ifname}", commands.link_up(ns.name, ifname), not up)
        plan(step, None if up else (lambda i, idx=idx: batch.link_up(idx, tag=i)))
    if forwarding_flag is not None:
        steps.append(forwarding(ns, forwarding_flag))
    if wanted_routes:
        current = {(r.dst, r.dst_len): r for r in nl.routes()}
        for route in wanted_routes:
            command = commands.route(ns.name, route)
            target = f"{ns.name}: {route}"
            oif = None
            if route.dev:
                if route.dev not in links:
                    raise _missing_interface(ns, route.dev)
                oif = links[route.dev][0]
            have = current.get((str(route.dst.network_address), route.dst.prefixlen))
            if have is not None and have.gateway == str(route.via) and (oif is None or have.oif == oif):
                steps.append(Step("route", target, command, False))
                continue
            note = f"replaced a route via {have.gateway or 'a direct link'}" if have is not None else ""
            plan(Step("route", target, command, True, note),
                 lambda i, route=route, oif=oif: batch.replace_route(str(route.dst.network_address), route.dst.prefixlen,
                                                                     str(route.via), oif, RT_TABLE_MAIN, RTPROT_BOOT, tag=i))
    for i, code in batch.send(nl):
        step = pending[i]
        if code == 0 or (code == errno.EEXIST and step.action == "address"):
            steps[i] = step
        elif step.action == "route" and code == errno.ENETUNREACH:
            raise BackendError(_("{ns}: route '{route}' refused: the gateway is not on a connected, up interface; "
                                 "set the address and bring the link up first").format(
                ns=ns.name, route=step.target.split(": ", 1)[1]))
        else:
            raise BackendError(_("{ns}: '{command}' failed: {why} (errno {code})").format(
                ns=ns.name, command=step.command, why=os.strerror(code), code=code))
    return [s for s in steps if s is not None]


def read_forwarding() -> bool:
    with open(FORWARD_SYSCTL) as fh:
        return fh.read().strip() == "1"


def read_only_sysctls() -> PrivilegeError:
    return PrivilegeError(_("cannot set net.ipv4.ip_forward: /proc/sys is read-only here (a container's default); "
                            "run the container with a writable /proc/sys (podman run --security-opt unmask=ALL; "
                            "Kubernetes: securityContext procMount: Unmasked), or use the simulated network "
                            "(backend 'sim')"))


def require_writable_sysctls() -> None:
    """Before a lab with routers is built: /proc/sys mounted read-only refuses it now, not half-way."""
    try:
        read_only = bool(os.statvfs(FORWARD_SYSCTL).f_flag & os.ST_RDONLY)
    except OSError:
        return  # no such file: the write itself will say what is wrong
    if read_only:
        raise read_only_sysctls()


def forwarding(ns: Netns, enabled: bool) -> Step:
    """Set ``net.ipv4.ip_forward`` of this namespace (the calling thread's, never the host's)."""
    value = "1" if enabled else "0"
    command = commands.forwarding(ns.name, enabled)
    if read_forwarding() == enabled:
        return Step("forwarding", ns.name, command, False)
    try:
        with open(FORWARD_SYSCTL, "w") as fh:
            fh.write(value)
    except OSError as exc:
        if exc.errno == errno.EROFS:
            raise read_only_sysctls() from None
        raise
    return Step("forwarding", ns.name, command, True)


def delete_route(ns: Netns, route: Route) -> Step:
    command = commands.route_del(ns.name, route)
    try:
        ns.ipr.route("del", dst=str(route.dst), table=RT_TABLE_MAIN)
    except NetlinkError as exc:
        if exc.code == errno.ESRCH:
            return Step("delete", f"{ns.name}: {route}", command, False, "already gone")
        raise BackendError(f"{ns.name}: deleting route to {route.destination} failed: {exc.args[-1]}") from None
    return Step("delete", f"{ns.name}: {route}", command, True)


def delete_link(ns: Netns, ifname: str) -> Step:
    command = commands.link_del(ns.name, ifname)
    idx = ns.index(ifname)
    if idx is None:
        return Step("delete", f"{ns.name}:{ifname}", command, False, "already gone")
    ns.ipr.link("del", index=idx)
    return Step("delete", f"{ns.name}:{ifname}", command, True, "its peer is gone too")
