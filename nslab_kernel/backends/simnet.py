"""A simulated network, in pure Python, for machines where namespaces cannot be created.

It models what the notebooks use, with the kernel's semantics where it claims to
model them (a differential test checks that against the real kernel):
namespaces, veth pairs, interface state, addresses and their connected routes,
static routes with longest-prefix match (refused when the gateway is not on a
connected, up interface, flushed when that interface goes down), the
forwarding flag, reverse-path filtering, and ping as the forward path plus the
reply path.  Its state is a JSON file next to the lab's record, so the command
line and a notebook see the same simulated lab.
"""

from __future__ import annotations

import errno
import json
import shlex
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path
from typing import Any

from ..core import records
from ..core.state import InterfaceState, LabState, NodeState, RouteState
from ..model.lookup import Lookup
from ..model.routing import Forwarder, Parts
from ..model.topology import Route

FAKE_INODE_BASE = 4026600000


def host_rp_filter() -> int:
    """What a new namespace would inherit: max(all, default) of the host (0 where unreadable)."""
    values = []
    for name in ("all", "default"):
        try:
            values.append(int(Path(f"/proc/sys/net/ipv4/conf/{name}/rp_filter").read_text()))
        except (OSError, ValueError):
            values.append(0)
    return max(values)


class SimError(OSError):
    """A refusal the kernel would give, with its errno."""


class SimNetwork:
    """The simulated namespaces of one lab."""

    def __init__(self, path: Path, data: dict[str, Any] | None = None):
        self.path = path
        self.data = data if data is not None else {"nodes": {}, "next_inode": FAKE_INODE_BASE, "rp_filter": host_rp_filter()}

    @classmethod
    def load(cls, path: Path) -> "SimNetwork":
        try:
            return cls(path, json.loads(path.read_text()))
        except FileNotFoundError:
            return cls(path)

    def save(self) -> None:
        records.write_atomically(self.path, json.dumps(self.data, sort_keys=True))

    @property
    def nodes(self) -> dict[str, Any]:
        return self.data["nodes"]

    # --- namespaces and links -------------------------------------------------------------------------
    def add_node(self, name: str) -> bool:
        if name in self.nodes:
            return False
        inode = self.data["next_inode"]
        self.data["next_inode"] += 1
        self.nodes[name] = {"inode": inode, "forwarding": False,
                            "interfaces": {"lo": {"kind": "loopback", "up": False, "addresses": ["127.0.0.1/8"],
                                                  "peer": None}},
                            "routes": []}
        return True

    def remove_node(self, name: str) -> bool:
        node = self.nodes.pop(name, None)
        if node is None:
            return False
        for ifname, iface in node["interfaces"].items():  # a veth's peer dies with it
            if iface.get("peer"):
                pnode, pif = iface["peer"].split(":", 1)
                if pnode in self.nodes:
                    self._drop_interface(pnode, pif)
        return True

    def iface(self, node: str, ifname: str) -> dict[str, Any] | None:
        return self.nodes[node]["interfaces"].get(ifname)

    def add_veth(self, node: str, ifname: str, peer_node: str, peer_ifname: str) -> None:
        if self.iface(peer_node, peer_ifname) is not None:
            raise SimError(errno.EEXIST, "File exists")
        for n, i, p in ((node, ifname, f"{peer_node}:{peer_ifname}"), (peer_node, peer_ifname, f"{node}:{ifname}")):
            self.nodes[n]["interfaces"][i] = {"kind": "veth", "up": False, "addresses": [], "peer": p}

    def _drop_interface(self, node: str, ifname: str) -> None:
        self.nodes[node]["interfaces"].pop(ifname, None)
        self._flush_routes(node)

    def delete_link(self, node: str, ifname: str) -> bool:
        iface = self.iface(node, ifname)
        if iface is None:
            return False
        self._drop_interface(node, ifname)
        if iface.get("peer"):
            pnode, pif = iface["peer"].split(":", 1)
            if pnode in self.nodes:
                self._drop_interface(pnode, pif)
        return True

    # --- addresses, state, forwarding, routes ---------------------------------------------------------------
    def set_up(self, node: str, ifname: str, up: bool = True) -> bool:
        iface = self.iface(node, ifname)
        if iface is None:
            raise SimError(errno.ENODEV, "No such device")
        if iface["up"] == up:
            return False
        iface["up"] = up
        if not up:
            self._flush_routes(node)
        return True

    def add_address(self, node: str, ifname: str, cidr: str) -> bool:
        iface = self.iface(node, ifname)
        if iface is None:
            raise SimError(errno.ENODEV, "No such device")
        if cidr in iface["addresses"]:
            return False
        iface["addresses"].append(cidr)
        return True

    def set_forwarding(self, node: str, enabled: bool) -> bool:
        if self.nodes[node]["forwarding"] == enabled:
            return False
        self.nodes[node]["forwarding"] = enabled
        return True

    def _connected(self, node: str) -> list[tuple[IPv4Network, str]]:
        out = []
        for ifname, iface in self.nodes[node]["interfaces"].items():
            if iface["up"] and iface["kind"] != "loopback":
                out += [(IPv4Interface(a).network, ifname) for a in iface["addresses"]]
        return out

    def _flush_routes(self, node: str) -> None:
        """As the kernel does: a static route whose gateway is no longer on a connected, up interface goes."""
        keep = []
        for r in self.nodes[node]["routes"]:
            via = IPv4Address(r["via"])
            if any(via in net and (r.get("dev") in (None, ifname)) for net, ifname in self._connected(node)):
                keep.append(r)
        self.nodes[node]["routes"] = keep

    def replace_route(self, node: str, route: Route) -> None:
        if not any(route.via in net and route.dev in (None, ifname) for net, ifname in self._connected(node)):
            raise SimError(errno.ENETUNREACH, "Network is unreachable")
        routes = [r for r in self.nodes[node]["routes"] if r["dst"] != str(route.dst)]
        routes.append({"dst": str(route.dst), "via": str(route.via), "dev": route.dev})
        self.nodes[node]["routes"] = routes

    def delete_route(self, node: str, route: Route) -> bool:
        before = len(self.nodes[node]["routes"])
        self.nodes[node]["routes"] = [r for r in self.nodes[node]["routes"] if r["dst"] != str(route.dst)]
        return len(self.nodes[node]["routes"]) != before

    def route_of(self, node: str, dst: str) -> dict | None:
        return next((r for r in self.nodes[node]["routes"] if r["dst"] == dst), None)

    # --- reading ----------------------------------------------------------------------------------------------
    def state(self, lab: str, netns: dict[str, str]) -> LabState:
        st = LabState(lab)
        for name, ns in netns.items():
            node = self.nodes.get(name)
            if node is None:
                st.nodes[name] = NodeState(name, ns, False)
                continue
            ifaces = []
            for index, (ifname, iface) in enumerate(node["interfaces"].items(), start=1):
                peer = iface.get("peer")
                carrier = iface["up"]
                if peer:
                    pnode, pif = peer.split(":", 1)
                    other = self.iface(pnode, pif) if pnode in self.nodes else None
                    carrier = carrier and other is not None and other["up"]
                ifaces.append(InterfaceState(ifname, iface["kind"], iface["up"], carrier,
                                             tuple(a for a in iface["addresses"] if not a.startswith("127.")),
                                             peer, index))
            routes = [RouteState(str(net), None, ifname, "kernel") for net, ifname in self._connected(name)]
            for r in node["routes"]:
                dev = r.get("dev") or next((i for net, i in self._connected(name) if IPv4Address(r["via"]) in net), None)
                routes.append(RouteState("default" if r["dst"] == "0.0.0.0/0" else r["dst"], r["via"], dev, "boot"))
            st.nodes[name] = NodeState(name, ns, True, tuple(ifaces), tuple(routes), node["forwarding"], node["inode"])
        return st

    def forwarder(self) -> Forwarder:
        ends = []
        for name, node in self.nodes.items():
            for ifname, iface in node["interfaces"].items():
                if iface["kind"] == "loopback":
                    continue
                peer = tuple(iface["peer"].split(":", 1)) if iface.get("peer") else None
                if iface["addresses"]:
                    for a in iface["addresses"]:
                        ends.append((name, ifname, IPv4Interface(a), iface["up"], peer))
                else:
                    ends.append((name, ifname, None, iface["up"], peer))
        routes = {n: tuple(Route(IPv4Network(r["dst"]), IPv4Address(r["via"]), r.get("dev")) for r in node["routes"])
                  for n, node in self.nodes.items()}
        parts = Parts(tuple(self.nodes), tuple(ends), routes, {n: node["forwarding"] for n, node in self.nodes.items()},
                      int(self.data.get("rp_filter", 0)))
        return Forwarder(parts=parts)

    def route_get(self, node: str, dst: str, src: str | None = None, iif: str | None = None) -> Lookup:
        """``ip route get`` in a simulated node (for explain)."""
        if node not in self.nodes:
            return Lookup(error=errno.ENOENT)
        fw = self.forwarder()
        target = IPv4Address(dst)
        if fw.owner.get(int(target)) == node:
            return Lookup(0, "local", "lo", None, dst, f"local {dst}")
        if iif is not None and src is not None and fw.owner.get(int(IPv4Address(src))) == node:
            return Lookup(error=errno.EINVAL)  # a martian: arriving with one of our own addresses as source
        if iif is not None and src is not None and not fw._rp_ok(node, int(IPv4Address(src)), iif):
            return Lookup(error=errno.EXDEV)
        hop = fw.lookup(node, target)
        if hop is None:
            return Lookup(error=errno.ENETUNREACH)
        ifname, nexthop = hop
        gw = None if nexthop == target else str(nexthop)
        prefsrc = fw.source_address(node, target)
        text = f"{dst} via {gw} dev {ifname}" if gw else f"{dst} dev {ifname}"
        return Lookup(0, "unicast", ifname, gw, str(prefsrc) if prefsrc else None, text)

    # --- commands a notebook runs in a node ---------------------------------------------------------------
    def run(self, node: str, argv: list[str]) -> tuple[int, str, str]:
        """A few commands, answered from the simulated state: ping, ip addr/link/route, sysctl, hostname."""
        if node not in self.nodes:
            return 1, "", f"{node}: no such node\n"
        cmd = argv[0] if argv else ""
        if cmd == "ping":
            target = next((a for a in argv[1:] if not a.startswith("-") and a.replace(".", "").isdigit() and a.count(".") == 3), None)
            count = int(argv[argv.index("-c") + 1]) if "-c" in argv else 1
            if target is None:
                return 2, "", "ping: usage: ping [-c N] [-W S] ADDRESS\n"
            ok = self.forwarder().reachable(node, IPv4Address(target))
            lines = [f"PING {target} ({target}): 56 data bytes"]
            lines += [f"64 bytes from {target}: seq={i} ttl=64 time=0.050 ms (simulated)" for i in range(count if ok else 0)]
            lines += ["", f"--- {target} ping statistics ---",
                      f"{count} packets transmitted, {count if ok else 0} packets received, {0 if ok else 100}% packet loss"]
            return (0 if ok else 1), "\n".join(lines) + "\n", ""
        if cmd == "ip" and len(argv) > 1:
            what = argv[1]
            st = self.state("sim", {node: node}).nodes[node]
            if what.startswith("a"):
                out = []
                for i in st.interfaces:
                    flags = "UP,LOWER_UP" if i.carrier else ("UP" if i.up else "")
                    name = i.name + (f"@{i.peer.split(':')[1]}" if i.peer else "")
                    out.append(f"{i.index}: {name}: <{flags}> mtu 1500 state {'UP' if i.carrier else 'DOWN'}")
                    addresses = list(i.addresses) + (["127.0.0.1/8"] if i.kind == "loopback" else [])
                    out += [f"    inet {a} scope {'host' if a.startswith('127.') else 'global'} {i.name}" for a in addresses]
                return 0, "\n".join(out) + "\n", ""
            if what.startswith("l"):
                return 0, "".join(f"{i.index}: {i.name}: state {'UP' if i.carrier else 'DOWN'}\n" for i in st.interfaces), ""
            if what.startswith("r"):
                return 0, "".join(str(r) + (" proto kernel scope link" if not r.gateway else "") + "\n" for r in st.routes), ""
        if cmd == "sysctl":
            return 0, f"net.ipv4.ip_forward = {int(self.nodes[node]['forwarding'])}\n", ""
        if cmd == "hostname":
            return 0, node + "\n", ""
        if cmd in ("true", ":"):
            return 0, "", ""
        return 127, "", (f"{shlex.join(argv)}: this is a simulated network: only ping, ip addr/link/route, sysctl "
                         "and hostname can run in it\n")
