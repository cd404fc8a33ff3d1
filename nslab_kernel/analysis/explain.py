"""Why can A not reach B?  Walk the live state hop by hop, there and back, and say.

At each namespace the route is the one the *kernel* chooses (a route lookup
over netlink, with the input interface and source address for a forwarded
packet, as ``ip route get`` does); nslab does not reimplement it.  Around the
lookup the walk checks what students get wrong: an interface or link down, an
address in the wrong subnet, a next hop nobody on the link has, a router that
does not forward, no route onward, no route back.  The first break is reported
in plain words (in the student's language, from nslab's catalogue) with the node, the interface or route, and
the commands that fix it.  The result is data: the widgets draw its hops.
"""

from __future__ import annotations

import html
import ipaddress
from dataclasses import asdict, dataclass, field
from typing import NoReturn

from ..core import commands
from ..core.i18n import N_, _, resolve
from ..core.state import NodeState
from ..model.lookup import KernelView
from ..model.topology import Route, Topology
from .checker import resolve_choices

MAX_HOPS = 64
CAUSES = ("ok", "no_route_at_source", "not_forwarding", "no_route_onward", "no_return_route", "link_down",
          "wrong_subnet", "next_hop_missing", "routing_loop", "node_missing")


@dataclass(frozen=True)
class Hop:
    node: str
    direction: str  # "forward" or "reply"
    iif: str | None
    oif: str | None
    next_hop: str | None
    route: str


@dataclass
class Explanation:
    source: str
    destination: str
    address: str
    ok: bool
    cause: str
    node: str | None = None  # where it breaks
    detail: str = ""  # the interface or route concerned
    message: str = ""
    fix: list[str] = field(default_factory=list)
    hops: list[Hop] = field(default_factory=list)  # forward, then reply
    lang: str = "en"

    @property
    def broken_at(self) -> str | None:
        return None if self.ok else self.node

    @property
    def summary(self) -> str:
        return self.message

    def path(self, direction: str = "forward") -> list[str]:
        nodes = [h.node for h in self.hops if h.direction == direction]
        return nodes

    def to_dict(self) -> dict:
        d = asdict(self)
        d["broken_at"] = self.broken_at
        return d

    def __str__(self) -> str:
        lines = [self.message]
        there = " -> ".join(self.path("forward"))
        back = " -> ".join(self.path("reply"))
        if there:
            lines.append("  " + _("there", self.lang) + ": " + there)
        if back:
            lines.append("  " + _("back", self.lang) + ": " + back)
        for cmd in self.fix:
            lines.append("  " + _("fix", self.lang) + ": " + cmd)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.ok else "#cf222e"
        fixes = "".join(f"<li><code>{html.escape(c)}</code></li>" for c in self.fix)
        label = html.escape(_("To fix it", self.lang))
        there, back_word = html.escape(_("there", self.lang)), html.escape(_("back", self.lang))
        hops = " → ".join(html.escape(h) for h in self.path("forward"))
        back = " → ".join(html.escape(h) for h in self.path("reply"))
        return (f"<div class='nslab-explain' lang='{self.lang}' data-cause='{self.cause}' "
                f"data-node='{html.escape(self.node or '')}'>"
                f"<div style='color:{colour}'><b>{html.escape(self.message)}</b></div>"
                f"<div>{there}: {hops}</div>"
                + (f"<div>{back_word}: {back}</div>" if back else "")
                + (f"<div>{label}:<ul>{fixes}</ul></div>" if fixes else "") + "</div>")


MESSAGES = {  # English msgids; the Spanish is in nslab's catalogue (locale/es/LC_MESSAGES/nslab.po)
    "ok": N_("{src} reaches {addr} ({dst})."),
    "no_route_at_source": N_("{node} has no route to {addr}: the packet never leaves."),
    "not_forwarding": N_("{node} receives the packet on {detail} but does not forward (net.ipv4.ip_forward = 0)."),
    "no_route_onward": N_("{node} forwards, but has no route to {addr}."),
    "no_return_route": N_("The packet reaches {dst}, but the reply cannot come back: {node} has no route to {back}."),
    "link_down": N_("The link through {detail} is down: the packet from {src} to {addr} is lost at {node}."),
    "wrong_subnet": N_("{detail}: the address is in another subnet than the link's."),
    "next_hop_missing": N_("{node} sends towards {addr} {detail}, but nobody on that link has that address."),
    "routing_loop": N_("Routing loop: the packet comes back to {node}, which had sent it already ({detail})."),
    "node_missing": N_("Node {node} does not exist (its netns is missing): the walk cannot go on."),
}
REPLY = N_("On the way back: ")


@dataclass
class Leg:
    """One direction of a walk: the hops so far (both directions share them) and the message's words."""

    direction: str  # "forward" or "reply"
    hops: list[Hop]
    ctx: dict

    @property
    def reply(self) -> bool:
        return self.direction == "reply"


class Broken(Exception):
    """Where a walk breaks, with its explanation; raised and caught inside the :class:`Walker` only."""

    def __init__(self, explanation: Explanation):
        super().__init__(explanation.message)
        self.explanation = explanation


def _ips(node: NodeState) -> set[str]:
    return {a.split("/")[0] for i in node.interfaces for a in i.addresses}


class Walker:
    def __init__(self, topo: Topology, view: KernelView, lang: str | None = None):
        self.topo = topo
        self.view = view
        self.state = view.state
        self.lang = resolve(lang)
        if any(link.student_chooses for link in topo.links):  # the student's own addresses, where the figure lets them choose
            self.topo = resolve_choices(topo, self.state)

    # --- fixes, from the topology (the target) ------------------------------------------------------
    def _ns(self, node: str) -> str:
        return self.topo.netns_name(node)

    def _topology_route(self, node: str, address: str) -> Route | None:
        return self.topo.route_for(node, address)

    def _route_cmd(self, node: str, route: Route, verb: str = "add") -> str:
        return commands.route(self._ns(node), route, verb)

    def _missing_routes(self, node: str, only_if: str | None = None) -> list[str]:
        live = {r.dst for r in self.state.nodes[node].routes if r.gateway}
        out = []
        for r in self.topo.node(node).routes:
            if r.destination in live:
                continue
            if only_if is not None:
                end = next((e for e in self.topo.endpoints_of(node) if e.address is not None and r.via in e.address.network), None)
                if end is None or end.ifname != only_if:
                    continue
            out.append(self._route_cmd(node, r))
        return out

    def _interface_fix(self, node: str, ifname: str) -> list[str]:
        """Bring an interface back to the topology: up, its address, and the routes that went with them."""
        st = self.state.nodes[node]
        iface = st.interface(ifname)
        end = next((e for e in self.topo.endpoints_of(node) if e.ifname == ifname), None)
        ns = self._ns(node)
        fix = []
        chosen = any(l.student_chooses for l in self.topo.links_of(node) if l.end(node).ifname == ifname)
        if end is not None and end.address is not None and iface is not None and not chosen:
            for have in iface.addresses:
                if have != str(end.address):
                    fix.append(commands.addr_del(ns, have, ifname))
            if str(end.address) not in iface.addresses:
                fix.append(commands.addr_add(ns, end.address, ifname))
        if iface is not None and not iface.up:
            fix.append(commands.link_up(ns, ifname))
        return fix + self._missing_routes(node, None if any("addr" in f for f in fix) else ifname)

    # --- the walk ------------------------------------------------------------------------------------
    def _wrong_subnet(self, node: str, ifname: str) -> str | None:
        iface = self.state.nodes[node].interface(ifname)
        end = next((e for e in self.topo.endpoints_of(node) if e.ifname == ifname), None)
        if iface is None or end is None or end.address is None:
            return None
        link = next((l for l in self.topo.links_of(node) if l.end(node).ifname == ifname), None)
        if link is not None and link.student_chooses:  # the student's choice: only the other end's subnet counts
            peer = self.state.nodes.get(link.other(node).node)
            theirs = peer.interface(link.other(node).ifname) if peer is not None and peer.exists else None
            nets = {ipaddress.IPv4Interface(a).network for a in (theirs.addresses if theirs else ())}
            mine = [a for a in iface.addresses if not a.startswith("127.")]
            if nets and mine and not any(ipaddress.IPv4Interface(a).network in nets for a in mine):
                return mine[0]
            return None
        net = end.address.network
        for have in iface.addresses:
            if ipaddress.IPv4Interface(have).network != net:
                return have
        return None

    def _fail(self, cause: str, node: str | None, detail: str, fix: list[str], leg: Leg) -> Explanation:
        hops, ctx = leg.hops, leg.ctx
        if node is not None and not (hops and hops[-1].node == node and hops[-1].direction == leg.direction):
            hops.append(Hop(node, leg.direction, None, None, None, cause))  # where it stops is on the path
        template = _(MESSAGES[cause], self.lang)
        message = template.format(node=node, detail=detail, **ctx)
        if leg.reply and cause not in ("no_return_route",):
            message = _(REPLY, self.lang) + message
        return Explanation(ctx["src"], ctx["dst"], ctx["addr"], False, cause, node, detail, message, fix, hops, self.lang)

    def _stop(self, cause: str, node: str | None, detail: str, fix: list[str], leg: Leg) -> NoReturn:
        """The walk breaks here: :meth:`_one` returns this explanation."""
        raise Broken(self._fail(cause, node, detail, fix, leg))

    def walk(self, start: str, target: str, src_ip: str | None, leg: Leg) -> tuple[str, str | None]:
        """Follow a packet from ``start`` to ``target``: (the node it reaches, the source address used).

        Where it breaks, :class:`Broken` carries the explanation (raised by :meth:`_stop`).
        """
        node, iif = start, None
        direction, hops = leg.direction, leg.hops
        for _hop in range(MAX_HOPS):
            st = self.state.nodes.get(node)
            if st is None or not st.exists:
                fix = [commands.alternatively(commands.nslab_up(), commands.netns_add(self._ns(node)))]
                self._stop("node_missing", node, "", fix, leg)
            if target in _ips(st):
                hops.append(Hop(node, direction, iif, None, None, "local"))
                return node, src_ip
            if iif is not None and not st.forwarding:
                hops.append(Hop(node, direction, iif, None, None, "not forwarded"))
                self._stop("not_forwarding", node, f"{node}:{iif}",
                           [commands.forwarding(self._ns(node), True)], leg)
            look = self.view.route_get(node, target, src_ip if iif else None, iif)
            if iif is not None and src_ip is not None and src_ip in _ips(st):
                raise Broken(self._loop(node, target, leg))
            if look.error or look.kind not in ("unicast", "local"):
                # a route of the topology that is gone because its interface is down or misaddressed?
                want = self._topology_route(node, target)
                for end in self.topo.endpoints_of(node):
                    if end.address is None:
                        continue
                    bad = self._wrong_subnet(node, end.ifname)
                    iface = st.interface(end.ifname)
                    # the interface the topology would use: the gateway's, or the destination's own subnet
                    relevant = ((want is not None and want.via in end.address.network)
                                or ipaddress.IPv4Address(target) in end.address.network)
                    if relevant and iface is not None and not iface.up:
                        self._stop("link_down", node, f"{node}:{end.ifname}", self._interface_fix(node, end.ifname),
                                   leg)
                    if relevant and bad:
                        self._stop("wrong_subnet", node, f"{node}:{end.ifname} {bad} (≠ {end.address})",
                                   self._interface_fix(node, end.ifname), leg)
                fix = [self._route_cmd(node, want)] if want is not None else []
                if iif is None and not leg.reply:
                    cause = "no_route_at_source"
                elif leg.reply:
                    cause = "no_return_route"
                else:
                    cause = "no_route_onward"
                self._stop(cause, node, str(want or target), fix, leg)
            if src_ip is None:
                src_ip = look.prefsrc
            oif = look.oif
            iface = st.interface(oif) if oif else None
            next_hop = look.gateway or target
            hops.append(Hop(node, direction, iif, oif, next_hop, look.route))
            if iface is None:
                self._stop("next_hop_missing", node, f"via {next_hop}", [], leg)
            if not iface.up:
                self._stop("link_down", node, f"{node}:{oif}", self._interface_fix(node, oif), leg)
            peer = iface.peer
            if not peer:
                self._stop("next_hop_missing", node, f"via {next_hop} dev {oif} (" + _("no peer", self.lang) + ")", [], leg)
            pnode, pif = peer.split(":", 1)
            pstate = self.state.nodes[pnode]
            piface = pstate.interface(pif)
            if not iface.carrier or piface is None or not piface.up:
                self._stop("link_down", node, f"{pnode}:{pif}", self._interface_fix(pnode, pif), leg)
            bad_here = self._wrong_subnet(node, oif)
            if bad_here:
                self._stop("wrong_subnet", node, f"{node}:{oif} {bad_here}", self._interface_fix(node, oif), leg)
            if next_hop not in {a.split("/")[0] for a in piface.addresses}:
                bad_peer = self._wrong_subnet(pnode, pif)
                if bad_peer:
                    end = next(e for e in self.topo.endpoints_of(pnode) if e.ifname == pif)
                    self._stop("wrong_subnet", pnode, f"{pnode}:{pif} {bad_peer} (≠ {end.address})",
                               self._interface_fix(pnode, pif), leg)
                want = self._topology_route(node, target)
                fix = [self._route_cmd(node, want, "replace")] if want is not None and str(want.via) != next_hop else []
                if not fix:
                    fix = self._interface_fix(pnode, pif)
                has = (_("{end} has {addresses}", self.lang).format(end=f"{pnode}:{pif}", addresses=", ".join(piface.addresses))
                       if piface.addresses else _("{end} has no address", self.lang).format(end=f"{pnode}:{pif}"))
                self._stop("next_hop_missing", node, f"via {next_hop} dev {oif} ({has})", fix, leg)
            node, iif = pnode, pif
        raise Broken(self._loop(node, target, leg))

    def _loop(self, node: str, target: str, leg: Leg) -> Explanation:
        """The packet came back to a node that sent it (the kernel drops it as a martian) or ran out of TTL."""
        path = [h.node for h in leg.hops if h.direction == leg.direction]
        cycle = path[path.index(node):] + [node] if node in path else path[-6:]
        fix = []
        for n in dict.fromkeys(cycle):  # the loop's routes that differ from the topology's
            want = self._topology_route(n, target)
            live = next((r for r in self.state.nodes[n].routes if r.gateway and want is not None
                         and r.dst == want.destination), None)
            if want is not None and (live is None or live.gateway != str(want.via)):
                fix.append(self._route_cmd(n, want, "replace"))
        return self._fail("routing_loop", node, " -> ".join(cycle), fix, leg)

    def explain(self, source: str, destination: str) -> Explanation:
        self.topo.node(source)
        targets: list[tuple[str, str]]
        try:
            ipaddress.IPv4Address(destination)
            owner = self.topo.owner_of(ipaddress.IPv4Address(destination))
            targets = [(owner.node if owner else destination, destination)]
        except ValueError:
            self.topo.node(destination)
            targets = [(destination, str(a.ip)) for a in self.topo.addresses_of(destination)]
        first_ok = None
        for dst_node, address in targets:
            result = self._one(source, dst_node, address)
            if not result.ok:
                return result
            first_ok = first_ok or result
        assert first_ok is not None
        return first_ok

    def _one(self, source: str, dst_node: str, address: str) -> Explanation:
        """There (the request), then back (the reply) unless the address is the source's own."""
        ctx = {"src": source, "dst": dst_node, "addr": address, "back": ""}
        hops: list[Hop] = []
        try:
            reached, src_ip = self.walk(source, address, None, Leg("forward", hops, ctx))
            if reached != source:
                ctx["back"] = src_ip or "?"
                self.walk(reached, src_ip or "", address, Leg("reply", hops, ctx))
        except Broken as broken:
            return broken.explanation
        return Explanation(source, dst_node, address, True, "ok", None, "", _(MESSAGES["ok"], self.lang).format(**ctx),
                           [], hops, self.lang)


def explain(topo: Topology, view: KernelView, source: str, destination: str, lang: str | None = None) -> Explanation:
    return Walker(topo, view, lang).explain(source, destination)


__all__ = ["CAUSES", "Explanation", "Hop", "KernelView", "explain"]
