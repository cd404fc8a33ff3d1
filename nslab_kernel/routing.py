"""Routing on the model: computed static routes and the expected reachability.

``auto_routes`` gives every node shortest-path static routes (``routing: auto``).
``expected_reachable`` walks the *declared* topology the way the kernel would
forward (connected routes, longest-prefix match, forwarding flags, and the reply
path back), so a ping matrix can be compared with what the topology says should
work.  Pure Python: no kernel access.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from .topology import DEFAULT_NET, IPv4Addr, Route

if TYPE_CHECKING:
    from .topology import Endpoint, Topology

MAX_HOPS = 64  # Linux's default TTL


def _neighbours(topo: "Topology", node: str) -> list[tuple[str, "Endpoint", "Endpoint"]]:
    """(neighbour name, our end, their end) for each addressed link, sorted for determinism."""
    out = []
    for link in topo.links:
        if node in (link.a.node, link.b.node) and link.a.address is not None:
            ours, theirs = link.end(node), link.other(node)
            out.append((theirs.node, ours, theirs))
    return sorted(out, key=lambda t: (t[0], t[1].ifname))


def auto_routes(topo: "Topology") -> dict[str, list[Route]]:
    """Shortest-path (hop count) static routes so every node reaches every subnet.

    Only forwarding nodes carry transit traffic.  A node with a single link whose
    neighbour forwards gets ``default via`` that neighbour, as a student would
    write for a host; others get one route per remote subnet.
    """
    forwards = {n.name: n.forwarding for n in topo.nodes}
    subnets = {link.subnet: link for link in topo.links if link.subnet is not None}
    routes: dict[str, list[Route]] = {}
    for node in topo.nodes:
        nbrs = _neighbours(topo, node.name)
        if len(nbrs) == 1 and forwards[nbrs[0][0]]:
            routes[node.name] = [Route(DEFAULT_NET, nbrs[0][2].address.ip)]  # type: ignore[union-attr]
            continue
        # BFS from this node; first_hop[n] is the gateway address used to reach n.
        first_hop: dict[str, IPv4Addr] = {}
        queue: deque[str] = deque()
        for name, _ours, theirs in nbrs:
            if name not in first_hop:
                first_hop[name] = theirs.address.ip  # type: ignore[union-attr]
                queue.append(name)
        seen = {node.name, *first_hop}
        while queue:
            current = queue.popleft()
            if not forwards[current]:
                continue
            for name, _ours, _theirs in _neighbours(topo, current):
                if name not in seen:
                    seen.add(name)
                    first_hop[name] = first_hop[current]
                    queue.append(name)
        connected = {e.address.network for e in topo.endpoints_of(node.name) if e.address is not None}
        mine = []
        for net, link in subnets.items():
            if net in connected:
                continue
            # Reach the subnet through whichever of its two ends is nearer (BFS order).
            candidates = [e.node for e in link.endpoints if e.node in first_hop and forwards.get(e.node)]
            candidates += [e.node for e in link.endpoints if e.node in first_hop]
            if candidates:
                mine.append(Route(net, first_hop[candidates[0]]))
        routes[node.name] = mine
    return routes


class Forwarder:
    """The declared topology indexed for forwarding questions.

    It models what the kernel does for the lab's IPv4 unicast: connected routes,
    static routes by longest-prefix match, the forwarding flag of each node, and
    delivery to any local address (Linux's weak host model).  Addresses are kept
    as integers and lookups memoised: a 52-node matrix (5,000 probes over paths of
    50 hops) is answered in well under a second.
    """

    def __init__(self, topo: "Topology"):
        self.topo = topo
        # per node: (ifname, network int, mask int, prefixlen, own address int)
        self.ends: dict[str, list[tuple[str, int, int, int, int]]] = {n: [] for n in topo.node_names}
        self.peer: dict[tuple[str, str], tuple[str, int | None, int | None]] = {}  # -> (node, net, mask)
        self.owner: dict[int, str] = {}
        for link in topo.links:
            for end, other in ((link.a, link.b), (link.b, link.a)):
                if end.address is not None:
                    net = end.address.network
                    self.ends[end.node].append((end.ifname, int(net.network_address), int(net.netmask),
                                                net.prefixlen, int(end.address.ip)))
                    self.owner[int(end.address.ip)] = end.node
                onet = other.address.network if other.address is not None else None
                self.peer[(end.node, end.ifname)] = (other.node, int(onet.network_address) if onet else None,
                                                     int(onet.netmask) if onet else None)
        self.forwards = {n.name: n.forwarding for n in topo.nodes}
        self.routes = {n.name: sorted(((int(r.dst.network_address), int(r.dst.netmask), r.dst.prefixlen,
                                        int(r.via), r.dev) for r in n.routes), key=lambda t: -t[2])
                       for n in topo.nodes}
        self._fib: dict[tuple[str, int], tuple[str, int] | None] = {}
        self._transit: dict[tuple[str, int], bool] = {}

    def lookup_int(self, node: str, dst: int) -> tuple[str, int] | None:
        key = (node, dst)
        if key in self._fib:
            return self._fib[key]
        best: tuple[int, str, int] | None = None
        for ifname, net, mask, plen, _ip in self.ends[node]:
            if dst & mask == net and (best is None or plen > best[0]):
                best = (plen, ifname, dst)
        for net, mask, plen, via, dev in self.routes[node]:
            if best is not None and plen <= best[0]:
                break  # sorted by prefix length, longest first
            if dst & mask == net:
                out = next((e[0] for e in self.ends[node] if via & e[2] == e[1] and dev in (None, e[0])), None)
                if out is not None:
                    best = (plen, out, via)
                    break
        self._fib[key] = (best[1], best[2]) if best else None
        return self._fib[key]

    def lookup(self, node: str, dst: IPv4Addr) -> tuple[str, IPv4Addr] | None:
        """(outgoing ifname, next-hop address) as the kernel's FIB would choose, or None."""
        hop = self.lookup_int(node, int(dst))
        return (hop[0], IPv4Addr(hop[1])) if hop else None

    def _next(self, node: str, dst: int) -> str | None:
        """The node a packet for ``dst`` goes to from ``node``, or None where it is dropped."""
        hop = self.lookup_int(node, dst)
        if hop is None:
            return None
        peer, net, mask = self.peer[(node, hop[0])]
        if net is None or hop[1] & mask != net:
            return None
        if hop[1] != dst and self.owner.get(hop[1]) != peer:
            return None  # the next hop is not the node at the other end of the veth
        return peer

    def _delivered(self, src: str, dst: int) -> bool:
        if self.owner.get(dst) == src:
            return True
        node = self._next(src, dst)
        trail = []
        result = False
        for _ in range(MAX_HOPS):
            if node is None:
                break
            key = (node, dst)
            if key in self._transit:
                result = self._transit[key]
                break
            trail.append(key)
            if self.owner.get(dst) == node:
                result = True
                break
            if not self.forwards[node]:
                break
            node = self._next(node, dst)
        for key in trail:
            self._transit[key] = result
        return result

    def forward_path(self, src: str, dst: IPv4Addr) -> tuple[list[str], bool]:
        """The nodes a packet visits from ``src`` towards ``dst`` and whether it arrives."""
        target = int(dst)
        path = [src]
        node = src
        for _ in range(MAX_HOPS):
            if self.owner.get(target) == node:
                return path, True
            if node != src and not self.forwards[node]:
                return path, False
            nxt = self._next(node, target)
            if nxt is None:
                return path, False
            node = nxt
            path.append(node)
        return path, False

    def source_address(self, node: str, dst: IPv4Addr) -> IPv4Addr | None:
        hop = self.lookup_int(node, int(dst))
        if hop is None:
            return None
        return next((IPv4Addr(e[4]) for e in self.ends[node] if e[0] == hop[0]), None)

    def reachable(self, src: str, dst: IPv4Addr) -> bool:
        """Would an echo from ``src`` to ``dst`` get its reply?"""
        target = int(dst)
        if self.owner.get(target) == src:
            return True
        hop = self.lookup_int(src, target)
        if hop is None:
            return False
        src_ip = next((e[4] for e in self.ends[src] if e[0] == hop[0]), None)
        if src_ip is None or not self._delivered(src, target):
            return False
        return self._delivered(self.owner[target], src_ip)


def forward_path(topo: "Topology", src: str, dst: IPv4Addr) -> tuple[list[str], bool]:
    return Forwarder(topo).forward_path(src, dst)


def expected_reachable(topo: "Topology", src: str, dst: IPv4Addr) -> bool:
    """Would an echo from ``src`` to ``dst`` get its reply, on the declared topology?"""
    return Forwarder(topo).reachable(src, dst)
