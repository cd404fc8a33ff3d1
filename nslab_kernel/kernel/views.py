"""The kernel's own route lookups in each namespace, for ``explain`` (``ip route get``, over netlink)."""

from __future__ import annotations

from pyroute2.netlink.exceptions import NetlinkError

from ..core.state import LabState, NodeHandle
from ..model.lookup import Lookup
from ..model.topology import Topology
from . import netconf

ROUTE_KINDS = {1: "unicast", 2: "local", 3: "broadcast", 6: "blackhole", 7: "unreachable", 8: "prohibit"}


class NetnsView:
    """Route lookups asked of the kernel inside each namespace (``ip route get``, over netlink)."""

    def __init__(self, topo: Topology, handles: dict[str, NodeHandle], state: LabState):
        self.topo = topo
        self.handles = handles
        self.state = state

    def route_get(self, node: str, dst: str, src: str | None = None, iif: str | None = None) -> Lookup:
        def ask(ns: netconf.Netns, _key: str) -> Lookup:
            kwargs: dict = {"dst": dst}
            if iif is not None:
                idx = next((i.index for i in self.state.nodes[node].interfaces if i.name == iif), None)
                if idx is None:
                    return Lookup(error=19)
                kwargs["iif"] = idx
                if src:
                    kwargs["src"] = src
            try:
                msg = ns.ipr.route("get", **kwargs)[0]
            except NetlinkError as exc:
                return Lookup(error=exc.code)
            names = {i.index: i.name for i in self.state.nodes[node].interfaces}  # read once, with the state
            oif = names.get(msg.get("RTA_OIF"))
            gw = msg.get("RTA_GATEWAY")
            text = f"{dst} via {gw} dev {oif}" if gw else f"{dst} dev {oif}"
            return Lookup(0, ROUTE_KINDS.get(msg["type"], str(msg["type"])), oif, gw, msg.get("RTA_PREFSRC"), text)

        return netconf.for_each_netns({node: self.handles[node]}, ask)[node]


__all__ = ["NetnsView"]
