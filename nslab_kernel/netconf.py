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
import threading
from dataclasses import dataclass
from typing import Callable, Mapping, TypeVar

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from . import nsfs
from .errors import BackendError, NameClash
from .steps import Step
from .topology import IPv4If, Route

K = TypeVar("K")
T = TypeVar("T")
RT_TABLE_MAIN = 254
RTPROT_BOOT = 3
FORWARD_SYSCTL = "/proc/sys/net/ipv4/ip_forward"


@dataclass
class Netns:
    """A thread's handle on one namespace: its name (for commands) and an open IPRoute."""

    name: str
    ipr: IPRoute

    def index(self, ifname: str) -> int | None:
        found = self.ipr.link_lookup(ifname=ifname)
        return found[0] if found else None


def for_each_netns(paths: Mapping[K, tuple[str, str]], fn: Callable[[Netns, K], T]) -> dict[K, T]:
    """Run ``fn(netns, key)`` for every key, each in its own thread inside that key's namespace.

    ``paths`` maps a key to ``(netns name, path of the netns file)``.  The
    threads are dedicated: they enter one namespace, work, and exit, so no
    thread is ever reused after ``setns``.  Errors are raised after every thread
    has finished (the first one wins), so nothing is left half-running.
    """
    host = nsfs.host_netns_inode()
    results: dict[K, T] = {}
    errors: list[BaseException] = []

    def work(key: K, name: str, path: str) -> None:
        try:
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError as exc:
                raise BackendError(f"network namespace '{name}' is gone ({path}: {exc.strerror}); "
                                   "run 'nslab up' again to recreate it") from None
            try:
                nsfs.setns(fd)
            finally:
                os.close(fd)
            if nsfs.thread_netns_inode() == host:
                raise BackendError(f"refusing to configure '{name}': it is the host's own namespace")
            with IPRoute() as ipr:
                results[key] = fn(Netns(name, ipr), key)
        except BaseException as exc:  # noqa: BLE001 - collected and re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(key, name, path), name=f"nslab:{name}", daemon=True)
               for key, (name, path) in paths.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.2)  # short slices: Ctrl-C still reaches the main thread
    if errors:
        raise errors[0]
    return {key: results[key] for key in paths if key in results}  # in the caller's order


# --- individual operations ---------------------------------------------------------------------

def lo_up(ns: Netns) -> Step:
    idx = ns.index("lo")
    link = ns.ipr.get_links(idx)[0]
    up = bool(link["flags"] & 1)
    if not up:
        ns.ipr.link("set", index=idx, state="up")
    return Step("up", f"{ns.name}:lo", f"ip -n {ns.name} link set lo up", not up)


def veth(ns: Netns, ifname: str, peer_ns: str, peer_path: str, peer_ifname: str) -> Step:
    """Ensure the veth ``ifname`` here whose peer ``peer_ifname`` lives in ``peer_ns``.

    Both ends are created directly in their namespaces (``net_ns_fd``), so
    nothing is ever stranded in the host.
    """
    command = f"ip link add {ifname} netns {ns.name} type veth peer name {peer_ifname} netns {peer_ns}"
    target = f"{ns.name}:{ifname} - {peer_ns}:{peer_ifname}"
    fd = os.open(peer_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        idx = ns.index(ifname)
        if idx is not None:
            link = ns.ipr.get_links(idx)[0]
            kind = link.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND")
            peer_nsid = ns.ipr.get_netnsid(fd=fd).get("nsid")
            if kind == "veth" and link.get("IFLA_LINK_NETNSID") == peer_nsid and peer_nsid not in (None, -1):
                return Step("link", target, command, False)
            raise NameClash(f"{ns.name} already has an interface '{ifname}' that is not the veth to "
                            f"{peer_ns}:{peer_ifname}; delete it (ip -n {ns.name} link del {ifname}) and run up again")
        try:
            ns.ipr.link("add", ifname=ifname, kind="veth", peer={"ifname": peer_ifname, "net_ns_fd": fd})
        except NetlinkError as exc:
            if exc.code == errno.EEXIST:
                raise NameClash(f"{peer_ns} already has an interface '{peer_ifname}' that is not the veth to "
                                f"{ns.name}:{ifname}; delete it (ip -n {peer_ns} link del {peer_ifname}) "
                                "and run up again") from None
            raise BackendError(f"creating veth {target} failed: {exc.args[-1]} (errno {exc.code})") from None
        return Step("link", target, command, True)
    finally:
        os.close(fd)


def _require_index(ns: Netns, ifname: str) -> int:
    idx = ns.index(ifname)
    if idx is None:
        raise BackendError(f"{ns.name} has no interface '{ifname}'; create the link first "
                           "(run up, or the link step of the notebook)")
    return idx


def address(ns: Netns, ifname: str, iface: IPv4If) -> Step:
    command = f"ip -n {ns.name} addr add {iface} dev {ifname}"
    idx = _require_index(ns, ifname)
    for addr in ns.ipr.get_addr(index=idx, family=2):
        if addr.get("IFA_ADDRESS") == str(iface.ip) and addr["prefixlen"] == iface.network.prefixlen:
            return Step("address", f"{ns.name}:{ifname}", command, False, str(iface))
    ns.ipr.addr("add", index=idx, address=str(iface.ip), prefixlen=iface.network.prefixlen)
    return Step("address", f"{ns.name}:{ifname}", command, True, str(iface))


def link_up(ns: Netns, ifname: str) -> Step:
    idx = _require_index(ns, ifname)
    up = bool(ns.ipr.get_links(idx)[0]["flags"] & 1)
    if not up:
        ns.ipr.link("set", index=idx, state="up")
    return Step("up", f"{ns.name}:{ifname}", f"ip -n {ns.name} link set {ifname} up", not up)


def read_forwarding() -> bool:
    with open(FORWARD_SYSCTL) as fh:
        return fh.read().strip() == "1"


def forwarding(ns: Netns, enabled: bool) -> Step:
    """Set ``net.ipv4.ip_forward`` of this namespace (the calling thread's, never the host's)."""
    value = "1" if enabled else "0"
    command = f"ip netns exec {ns.name} sysctl -w net.ipv4.ip_forward={value}"
    if read_forwarding() == enabled:
        return Step("forwarding", ns.name, command, False)
    with open(FORWARD_SYSCTL, "w") as fh:
        fh.write(value)
    return Step("forwarding", ns.name, command, True)


def _route_key(route: dict) -> tuple[str, int]:
    return (route.get("RTA_DST") or "0.0.0.0", route["dst_len"])


def routes(ns: Netns, wanted: list[Route]) -> list[Step]:
    """Ensure each static route; a route to the same prefix via another gateway is replaced."""
    current = {}
    for r in ns.ipr.route("dump", table=RT_TABLE_MAIN, family=2):
        if r["type"] == 1:  # unicast
            current[_route_key(r)] = r
    steps = []
    for route in wanted:
        dst = "default" if route.is_default else str(route.dst)
        dev = f" dev {route.dev}" if route.dev else ""
        command = f"ip -n {ns.name} route add {dst} via {route.via}{dev}"
        target = f"{ns.name}: {route}"
        have = current.get((str(route.dst.network_address), route.dst.prefixlen))
        oif = _require_index(ns, route.dev) if route.dev else None
        if have is not None and have.get("RTA_GATEWAY") == str(route.via) and (oif is None or have.get("RTA_OIF") == oif):
            steps.append(Step("route", target, command, False))
            continue
        # proto boot (3) is what `ip route add` sets: the taught command builds the same route
        kwargs = {"dst": str(route.dst), "gateway": str(route.via), "table": RT_TABLE_MAIN, "proto": RTPROT_BOOT}
        if oif is not None:
            kwargs["oif"] = oif
        note = ""
        if have is not None:
            note = f"replaced a route via {have.get('RTA_GATEWAY') or 'a direct link'}"
        try:
            ns.ipr.route("replace", **kwargs)
        except NetlinkError as exc:
            if exc.code == errno.ENETUNREACH:
                raise BackendError(f"{ns.name}: route '{route}' refused: gateway {route.via} is not on a connected, "
                                   "up interface; set the address and bring the link up first") from None
            raise BackendError(f"{ns.name}: route '{route}' refused: {exc.args[-1]} (errno {exc.code})") from None
        steps.append(Step("route", target, command, True, note))
    return steps


def delete_route(ns: Netns, route: Route) -> Step:
    dst = "default" if route.is_default else str(route.dst)
    command = f"ip -n {ns.name} route del {dst}"
    try:
        ns.ipr.route("del", dst=str(route.dst), table=RT_TABLE_MAIN)
    except NetlinkError as exc:
        if exc.code == errno.ESRCH:
            return Step("delete", f"{ns.name}: {route}", command, False, "already gone")
        raise BackendError(f"{ns.name}: deleting route to {dst} failed: {exc.args[-1]}") from None
    return Step("delete", f"{ns.name}: {route}", command, True)


def delete_link(ns: Netns, ifname: str) -> Step:
    command = f"ip -n {ns.name} link del {ifname}"
    idx = ns.index(ifname)
    if idx is None:
        return Step("delete", f"{ns.name}:{ifname}", command, False, "already gone")
    ns.ipr.link("del", index=idx)
    return Step("delete", f"{ns.name}:{ifname}", command, True, "its peer is gone too")
