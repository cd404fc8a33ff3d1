"""Routing on the model: computed static routes and the expected reachability.

``auto_routes`` gives every node shortest-path static routes (``routing: auto``).
``expected_reachable`` walks the *declared* topology the way the kernel would
forward (connected routes, longest-prefix match, forwarding flags, and the reply
path back), so a ping matrix can be compared with what the topology says should
work.  Pure Python: no kernel access.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Iterable, Mapping

from .topology import DEFAULT_NET, Endpoint, IPv4Addr, Route, Topology

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


@dataclass(frozen=True)
class Parts:
    """A network as the forwarding model needs it (the declared topology, or a simulated live state).

    ``ends``: (node, ifname, address or None, up, peer (node, ifname) or None) for every interface;
    ``routes``: the static routes present per node; ``forwards``: the forwarding flag per node;
    ``rp_filter``: 0 (off), 1 (strict) or 2 (loose), as lab namespaces inherit it from the host.
    """

    nodes: tuple[str, ...]
    ends: tuple[tuple, ...]
    routes: dict
    forwards: dict
    rp_filter: int = 0

    @classmethod
    def of(cls, topo: "Topology") -> "Parts":
        ends = []
        for link in topo.links:
            for end, other in ((link.a, link.b), (link.b, link.a)):
                ends.append((end.node, end.ifname, end.address, True, (other.node, other.ifname)))
        return cls(tuple(topo.node_names), tuple(ends), {n.name: tuple(n.routes) for n in topo.nodes},
                   {n.name: n.forwarding for n in topo.nodes})


class Forwarder:
    """A network indexed for forwarding questions, as the kernel answers them.

    It models the lab's IPv4 unicast: connected routes of interfaces that are up,
    static routes by longest-prefix match (the gateway resolved on a connected,
    up interface), the forwarding flag of each node, ARP on a veth (a next hop
    must be an address of the node at the other end, which must be up), delivery
    to any local address (Linux's weak host model), the reply's way back, and
    reverse-path filtering.  Addresses are integers and lookups memoised: a
    52-node matrix (5,000 probes over 50 hops) takes well under a second.
    """

    def __init__(self, topo: "Topology | None" = None, parts: Parts | None = None):
        parts = parts if parts is not None else Parts.of(topo)  # type: ignore[arg-type]
        self.topo = topo
        self.rp_filter = parts.rp_filter
        # per node, up interfaces with an address: (ifname, network int, mask int, prefixlen, own address int)
        self.ends: dict[str, list[tuple[str, int, int, int, int]]] = {n: [] for n in parts.nodes}
        self.peer: dict[tuple[str, str], str | None] = {}
        up = {(e[0], e[1]): e[3] for e in parts.ends}
        self.owner: dict[int, str] = {}
        for node, ifname, address, is_up, peer in parts.ends:
            if is_up and address is not None:
                net = address.network
                self.ends[node].append((ifname, int(net.network_address), int(net.netmask), net.prefixlen,
                                        int(address.ip)))
                self.owner[int(address.ip)] = node
            carrier = is_up and peer is not None and up.get((peer[0], peer[1]), False)
            self.peer[(node, ifname)] = peer[0] if carrier else None
        # (node, neighbour) -> the node's interface facing it: the one a packet from there arrives on
        self._iif: dict[tuple[str, str], str] = {}
        for (node, ifname), p in self.peer.items():
            if p is not None:
                self._iif.setdefault((node, p), ifname)
        self.forwards = dict(parts.forwards)
        # per node, its FIB grouped by prefix length, longest first: (prefixlen, mask, {network:
        # [candidates]}), a candidate being (None, ifname) for a connected route, listed before
        # (gateway, dev) for the static routes in the order given; a lookup probes one dict per length
        self.routes: dict[str, list[tuple[int, int, dict[int, list[tuple[int | None, str | None]]]]]] = {}
        for n in parts.nodes:
            by_len: dict[int, dict[int, list[tuple[int | None, str | None]]]] = {}
            for ifname, net_int, _mask, plen, _ip in self.ends[n]:
                by_len.setdefault(plen, {}).setdefault(net_int, []).append((None, ifname))
            for r in parts.routes.get(n, ()):
                by_len.setdefault(r.dst.prefixlen, {}).setdefault(int(r.dst.network_address), []).append(
                    (int(r.via), r.dev))
            self.routes[n] = [(plen, (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF if plen else 0, nets)
                              for plen, nets in sorted(by_len.items(), reverse=True)]
        self._fib: dict[tuple[str, int], tuple[str, int] | None] = {}
        self._gateway: dict[tuple[str, int, str | None], str | None] = {}
        self._own: dict[tuple[str, str], int] = {}
        for n, ends in self.ends.items():
            for e in ends:
                self._own.setdefault((n, e[0]), e[4])

    def _resolve(self, node: str, via: int, dev: str | None) -> str | None:
        """The up interface of ``node`` whose subnet holds gateway ``via`` (``dev`` if given)."""
        key = (node, via, dev)
        if key not in self._gateway:
            self._gateway[key] = next((e[0] for e in self.ends[node] if via & e[2] == e[1] and dev in (None, e[0])),
                                      None)
        return self._gateway[key]

    def lookup_int(self, node: str, dst: int) -> tuple[str, int] | None:
        key = (node, dst)
        if key in self._fib:
            return self._fib[key]
        found: tuple[str, int] | None = None
        for _plen, mask, nets in self.routes[node]:  # longest prefix first; connected before static
            for via, dev in nets.get(dst & mask, ()):
                if via is None:
                    found = (dev, dst)  # type: ignore[assignment]
                    break
                out = self._resolve(node, via, dev)
                if out is not None:
                    found = (out, via)
                    break
            if found is not None:
                break
        self._fib[key] = found
        return found

    def lookup(self, node: str, dst: IPv4Addr) -> tuple[str, IPv4Addr] | None:
        """(outgoing ifname, next-hop address) as the kernel's FIB would choose, or None."""
        hop = self.lookup_int(node, int(dst))
        return (hop[0], IPv4Addr(hop[1])) if hop else None

    def _next(self, node: str, dst: int) -> tuple[str, str] | None:
        """(next node, outgoing ifname) for a packet to ``dst`` at ``node``, or None where it is dropped."""
        hop = self.lookup_int(node, dst)
        if hop is None:
            return None
        peer = self.peer.get((node, hop[0]))
        if peer is None or self.owner.get(hop[1]) != peer:
            return None  # no carrier, or nobody at the other end answers ARP for the next hop
        return peer, hop[0]

    def _incoming(self, node: str, frm: str) -> str | None:
        """The interface of ``node`` whose peer is ``frm`` (the one a packet from frm arrives on)."""
        return self._iif.get((node, frm))

    def _rp_ok(self, node: str, src: int, iif: str | None) -> bool:
        if not self.rp_filter or iif is None:
            return True
        back = self.lookup_int(node, src)
        return back is not None and (self.rp_filter == 2 or back[0] == iif)

    def _delivered(self, src_node: str, dst: int, src_ip: int) -> bool:
        """Walk a packet from ``src_node`` (source address ``src_ip``) hop by hop towards ``dst``."""
        if self.owner.get(dst) == src_node:
            return True
        step = self._next(src_node, dst)
        prev = src_node
        for _ in range(MAX_HOPS):
            if step is None:
                return False
            node = step[0]
            if self.owner.get(src_ip) == node or not self._rp_ok(node, src_ip, self._incoming(node, prev)):
                return False  # a martian (our own address as source: a loop), or reverse-path filtered
            if self.owner.get(dst) == node:
                return True
            if not self.forwards[node]:
                return False
            prev, step = node, self._next(node, dst)
        return False  # the TTL ran out

    def _distances(self, dst: int) -> dict[str, int | None]:
        """For every node, how many links a packet it sends to ``dst`` crosses before it is
        delivered, or None where it never is; without reverse-path filtering only.

        Forwarding then depends on the destination alone, so one pass per destination
        answers every source: each node's next hop is looked up once, and a packet that
        comes back to a node it passed is in a loop (the martian drop of a packet back
        at its sender is such a loop).  Whether the TTL lasts is the caller's question.
        """
        owner = self.owner.get(dst)
        hop: dict[str, str | None] = {}
        for node in self.ends:
            step = self._next(node, dst) if node != owner else None
            hop[node] = step[0] if step else None
        at: dict[str, int | None] = {} if owner is None else {owner: 0}  # a packet arrived at a node

        def arrived(node: str) -> int | None:
            trail: list[str] = []
            seen: set[str] = set()
            while node not in at:
                if node in seen:  # a loop: nothing on it is ever delivered
                    for passed in trail:
                        at[passed] = None
                    return None
                if not self.forwards[node] or hop[node] is None:
                    at[node] = None  # a node that does not forward, or has no way on
                    break
                seen.add(node)
                trail.append(node)
                node = hop[node]  # type: ignore[assignment]
            result = at[node]
            for passed in reversed(trail):
                result = None if result is None else result + 1
                at[passed] = result
            return result

        sent: dict[str, int | None] = {}
        for node, nxt in hop.items():
            if node == owner:
                sent[node] = 0
            elif nxt is None:
                sent[node] = None
            else:
                left = at[nxt] if nxt in at else arrived(nxt)
                sent[node] = None if left is None else left + 1
        return sent

    def reachable_all(self, pairs: Iterable[tuple[str, IPv4Addr]]) -> list[bool]:
        """``reachable`` for many (source, destination) pairs at once (a whole ping matrix), in order."""
        if self.rp_filter:
            return [self.reachable(src, dst) for src, dst in pairs]
        tables: dict[int, dict[str, int | None]] = {}
        out = []
        for src, dst in pairs:
            target = int(dst)
            owner = self.owner.get(target)
            if owner == src:
                out.append(True)
                continue
            src_ip = self.source_int(src, target)
            if src_ip is None or owner is None:
                out.append(False)
                continue
            there = tables.get(target)
            if there is None:
                there = tables[target] = self._distances(target)
            back = tables.get(src_ip)
            if back is None:
                back = tables[src_ip] = self._distances(src_ip)
            links, back_links = there[src], back[owner]
            out.append(links is not None and links <= MAX_HOPS and back_links is not None and back_links <= MAX_HOPS)
        return out

    def expected_matrix(self, targets: Mapping[str, Iterable[tuple[str, str]]]) -> dict[tuple[str, str], bool]:
        """For a ping matrix's targets (source -> [(node, address)]), keyed (source, address):
        would each probe get its reply?"""
        wanted = [(src, address) for src, pairs in targets.items() for _node, address in pairs]
        parsed = {address: IPv4Addr(address) for address in {a for _s, a in wanted}}  # each address parsed once
        return dict(zip(wanted, self.reachable_all([(src, parsed[address]) for src, address in wanted])))

    def source_int(self, node: str, dst: int) -> int | None:
        hop = self.lookup_int(node, dst)
        return None if hop is None else self._own.get((node, hop[0]))

    def source_address(self, node: str, dst: IPv4Addr) -> IPv4Addr | None:
        got = self.source_int(node, int(dst))
        return IPv4Addr(got) if got is not None else None

    def reachable(self, src: str, dst: IPv4Addr) -> bool:
        """Would an echo from ``src`` to ``dst`` get its reply?"""
        target = int(dst)
        if self.owner.get(target) == src:
            return True
        src_ip = self.source_int(src, target)
        if src_ip is None or not self._delivered(src, target, src_ip):
            return False
        return self._delivered(self.owner[target], src_ip, target)


def expected_reachable(topo: "Topology", src: str, dst: IPv4Addr) -> bool:
    """Would an echo from ``src`` to ``dst`` get its reply, on the declared topology?"""
    return Forwarder(topo).reachable(src, dst)


def ping_targets(topo: Topology) -> dict[str, list[tuple[str, str]]]:
    """What a ping matrix probes: for each node, (node, address) of every address of every other node."""
    everyone = [(n, str(addr.ip)) for n in topo.node_names for addr in topo.addresses_of(n)]
    return {src: [t for t in everyone if t[0] != src] for src in topo.node_names}
