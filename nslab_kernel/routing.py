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


def _lookup(topo: "Topology", node: str, dst: IPv4Addr) -> tuple[str, IPv4Addr] | None:
    """(outgoing ifname, next-hop address) as the kernel's FIB would choose, or None."""
    best: tuple[int, str, IPv4Addr] | None = None
    for end in topo.endpoints_of(node):
        if end.address is not None and dst in end.address.network:
            plen = end.address.network.prefixlen
            if best is None or plen > best[0]:
                best = (plen, end.ifname, dst)
    for route in topo.node(node).routes:
        if dst in route.dst and (best is None or route.dst.prefixlen > best[0]):
            for end in topo.endpoints_of(node):
                if end.address is not None and route.via in end.address.network and route.dev in (None, end.ifname):
                    best = (route.dst.prefixlen, end.ifname, route.via)
                    break
    return (best[1], best[2]) if best else None


def _source_address(topo: "Topology", node: str, dst: IPv4Addr) -> IPv4Addr | None:
    hop = _lookup(topo, node, dst)
    if hop is None:
        return None
    for end in topo.endpoints_of(node):
        if end.ifname == hop[0] and end.address is not None:
            return end.address.ip
    return None


def forward_path(topo: "Topology", src: str, dst: IPv4Addr) -> tuple[list[str], bool]:
    """The nodes a packet visits from ``src`` towards ``dst`` and whether it arrives."""
    owners = {e.address.ip: e.node for link in topo.links for e in link.endpoints if e.address is not None}
    path = [src]
    node = src
    for _ in range(MAX_HOPS):
        if owners.get(dst) == node:
            return path, True
        if node != src and not topo.node(node).forwarding:
            return path, False
        hop = _lookup(topo, node, dst)
        if hop is None:
            return path, False
        ifname, nexthop = hop
        link = next(link for link in topo.links if link.end(node).ifname == ifname and node in (link.a.node, link.b.node))
        peer = link.other(node)
        if peer.address is None or nexthop not in peer.address.network:
            return path, False
        # The next hop must be the peer (a veth has exactly one neighbour).
        if nexthop != dst and owners.get(nexthop) != peer.node:
            return path, False
        node = peer.node
        path.append(node)
    return path, False


def expected_reachable(topo: "Topology", src: str, dst: IPv4Addr) -> bool:
    """Would an echo from ``src`` to ``dst`` get its reply, on the declared topology?"""
    if any(e.address is not None and e.address.ip == dst for e in topo.endpoints_of(src)):
        return True
    src_ip = _source_address(topo, src, dst)
    if src_ip is None:
        return False
    path, ok = forward_path(topo, src, dst)
    if not ok:
        return False
    back, ok = forward_path(topo, path[-1], src_ip)
    return ok
