"""Grade the live lab against its topology: what is right, what is missing, and the fix.

The checker reads the *kernel's* state of the namespaces the topology names
(in ``/var/run/netns``), whoever made them: nslab, or a student typing ``ip``
commands as the activity does.  Each item passes or fails with a hint naming
what is missing and the command that would add it.  Items are grouped by
section (nodes, links, addresses, forwarding, routes, reachability), so a
notebook can ask only for what the student has reached so far.
"""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

from ..backends import Backend, get_backend
from ..core.errors import InputError
from ..core.state import LabState
from ..model.routing import Forwarder
from ..model.topology import Topology

SECTIONS = ("nodes", "links", "addresses", "forwarding", "routes", "reachability")


@dataclass(frozen=True)
class CheckItem:
    section: str
    target: str  # what is checked: "h1", "h1:eth0 - r1:eth0", "r1: 10.0.3.0/24 via 10.0.12.2"
    ok: bool
    hint: str = ""  # what is wrong, in plain words (empty when ok)
    command: str = ""  # the command that would fix it (or that builds it)


@dataclass
class CheckReport:
    lab: str
    items: list[CheckItem] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(i.ok for i in self.items)

    @property
    def failed(self) -> list[CheckItem]:
        return [i for i in self.items if not i.ok]

    def scores(self) -> dict[str, tuple[int, int]]:
        """Per section: (items passed, items)."""
        out: dict[str, tuple[int, int]] = {}
        for s in SECTIONS:
            items = [i for i in self.items if i.section == s]
            if items:
                out[s] = (sum(i.ok for i in items), len(items))
        return out

    @property
    def score(self) -> float:
        return sum(i.ok for i in self.items) / len(self.items) if self.items else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"lab": self.lab, "passed": self.passed, "score": round(self.score, 4),
                "sections": {s: {"passed": p, "total": t} for s, (p, t) in self.scores().items()},
                "items": [asdict(i) for i in self.items]}

    def nbgrader(self, points_per_section: float = 1.0) -> dict[str, Any]:
        """Points per section, for nbgrader autograder cells (or any grader)."""
        sections = {}
        for s, (p, t) in self.scores().items():
            sections[s] = {"score": round(points_per_section * p / t, 4), "max_score": points_per_section}
        return {"lab": self.lab, "sections": sections,
                "score": round(sum(v["score"] for v in sections.values()), 4),
                "max_score": points_per_section * len(sections)}

    def assert_passed(self, *sections: str) -> None:
        """For autograder cells (nbgrader): raise AssertionError naming what is missing and the fix."""
        failed = [i for i in self.items if not i.ok and (not sections or i.section in sections)]
        if failed:
            first = failed[0]
            more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
            raise AssertionError(f"{first.section}: {first.target}: {first.hint}; fix: {first.command}{more}")

    def __str__(self) -> str:
        lines = [f"check of lab '{self.lab}': " + ", ".join(f"{s} {p}/{t}" for s, (p, t) in self.scores().items())]
        for i in self.items:
            if not i.ok:
                lines.append(f"  FAIL {i.section:<12} {i.target}: {i.hint}" + (f"\n       fix: {i.command}" if i.command else ""))
        if self.passed:
            lines.append("  everything checked is right")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = " · ".join(f"<b>{s}</b> {p}/{t}" for s, (p, t) in self.scores().items())
        rows = "".join(
            f"<tr style='color:{'#1a7f37' if i.ok else '#cf222e'}'><td>{'✔' if i.ok else '✘'}</td>"
            f"<td>{html.escape(i.section)}</td><td>{html.escape(i.target)}</td><td>{html.escape(i.hint)}</td>"
            f"<td><code>{html.escape(i.command) if not i.ok else ''}</code></td></tr>" for i in self.items)
        return (f"<div class='nslab-check'><div>Comprobación / check of <b>{html.escape(self.lab)}</b>: {head}</div>"
                f"<table>{rows}</table></div>")


def check(topo: Topology, sections: Sequence[str] = SECTIONS, state: LabState | None = None,
          matrix: Any = None, probe: Callable[[], Any] | None = None,
          only: Sequence[str] | None = None, backend: Backend | None = None) -> CheckReport:
    """Compare the live state with the topology's target, for the sections asked.

    ``only`` limits the items to these nodes (and links between them): a notebook
    that has built two of seven nodes asks only about those.  Without ``state``
    (or ``matrix``/``probe``), ``backend`` reads (and probes) the namespaces the
    topology names, wherever they came from (nslab or ``ip netns add``); by
    default the netns backend's.
    """
    if only is not None:
        keep = set(only)
        for n in keep:
            topo.node(n)
        sub = Topology(topo.name, tuple(n for n in topo.nodes if n.name in keep),
                       tuple(l for l in topo.links if l.a.node in keep and l.b.node in keep),
                       topo.routing, topo.netns_naming, topo.container_naming, topo.description, topo.source)
        if state is not None:
            state = LabState(state.lab, {k: v for k, v in state.nodes.items() if k in keep})
        return check(sub, sections, state, matrix, probe, backend=backend)
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        raise InputError(f"unknown check section {unknown[0]!r}; sections are {', '.join(SECTIONS)}")
    if state is None:  # kernel access only when no state is given
        backend = backend or get_backend("netns")
        state = backend.read_state(topo)
    report = CheckReport(topo.name)
    nodes = state.nodes
    if "nodes" in sections:
        for n in topo.node_names:
            ns = topo.netns_name(n)
            ok = nodes[n].exists
            report.items.append(CheckItem("nodes", n, ok, "" if ok else f"there is no network namespace '{ns}'",
                                          f"ip netns add {ns}"))
    for link in topo.links:
        a, b = link.a, link.b
        na, nb = topo.netns_name(a.node), topo.netns_name(b.node)
        sa, sb = nodes[a.node], nodes[b.node]
        ia = sa.interface(a.ifname) if sa.exists else None
        ib = sb.interface(b.ifname) if sb.exists else None
        create = f"ip link add {a.ifname} netns {na} type veth peer name {b.ifname} netns {nb}"
        if "links" in sections:
            if not (sa.exists and sb.exists):
                missing = a.node if not sa.exists else b.node
                report.items.append(CheckItem("links", str(link), False, f"node {missing} does not exist yet", create))
            elif ia is not None and ia.kind == "veth" and ia.peer == f"{b.node}:{b.ifname}":
                report.items.append(CheckItem("links", str(link), True, command=create))
            else:
                fix = f"ip -n {na} link del {a.ifname} && {create}" if ia is not None else create
                report.items.append(CheckItem("links", str(link), False, _link_hint(link, sa, sb, ia, ib, na, nb), fix))
        if "addresses" in sections:
            for end, iface, ns in ((a, ia, na), (b, ib, nb)):
                if end.address is None:
                    continue
                add = f"ip -n {ns} addr add {end.address} dev {end.ifname}"
                target = f"{end} {end.address}"
                if iface is None:
                    report.items.append(CheckItem("addresses", target, False,
                                                  f"{end.node} has no interface {end.ifname} yet", add))
                elif str(end.address) not in iface.addresses:
                    have = ", ".join(iface.addresses) or "none"
                    report.items.append(CheckItem("addresses", target, False,
                                                  f"{end} has address {have}, not {end.address}", add))
                elif not iface.up:
                    report.items.append(CheckItem("addresses", target, False, f"{end} is down",
                                                  f"ip -n {ns} link set {end.ifname} up"))
                else:
                    report.items.append(CheckItem("addresses", target, True, command=add))
    if "forwarding" in sections:
        for node in topo.nodes:
            s = nodes[node.name]
            want = node.forwarding
            cmd = f"ip netns exec {topo.netns_name(node.name)} sysctl -w net.ipv4.ip_forward={int(want)}"
            if not s.exists:
                report.items.append(CheckItem("forwarding", node.name, False, f"node {node.name} does not exist yet", cmd))
            elif s.forwarding != want:
                what = ("is a router but does not forward (net.ipv4.ip_forward=0)" if want
                        else "forwards (net.ipv4.ip_forward=1) but should not")
                report.items.append(CheckItem("forwarding", node.name, False, f"{node.name} {what}", cmd))
            else:
                report.items.append(CheckItem("forwarding", node.name, True, command=cmd))
    if "routes" in sections:
        for node in topo.nodes:
            s = nodes[node.name]
            have = {r.dst: r for r in s.routes if r.gateway}
            for route in node.routes:
                dst = "default" if route.is_default else str(route.dst)
                cmd = f"ip -n {topo.netns_name(node.name)} route add {dst} via {route.via}" + (f" dev {route.dev}" if route.dev else "")
                target = f"{node.name}: {route}"
                got = have.get(dst)
                if not s.exists:
                    report.items.append(CheckItem("routes", target, False, f"node {node.name} does not exist yet", cmd))
                elif got is None:
                    report.items.append(CheckItem("routes", target, False, f"{node.name} has no route to {dst}", cmd))
                elif got.gateway != str(route.via):
                    report.items.append(CheckItem("routes", target, False,
                                                  f"{node.name} routes {dst} via {got.gateway}, not via {route.via}",
                                                  cmd.replace(" route add ", " route replace ")))
                else:
                    report.items.append(CheckItem("routes", target, True, command=cmd))
    if "reachability" in sections:
        if matrix is None and probe is not None and all(s.exists for s in nodes.values()):
            matrix = probe()
        if matrix is None:
            targets = _targets(topo)
            expected = Forwarder(topo).expected_matrix(targets)
            present = [n for n in topo.node_names if nodes[n].exists]
            backend = backend or get_backend("netns")
            matrix = backend.probe(topo, {n: targets[n] for n in present}, 1.0, expected, nodes=present)
        for pair in matrix.pairs:
            want = pair.expected_state
            if want is None or want == "failed":
                continue  # the topology does not ask for it
            ok = pair.state == want
            lost = [p.address for p in pair.probes if not p.ok]
            report.items.append(CheckItem(
                "reachability", f"{pair.source} -> {pair.destination}", ok,
                "" if ok else f"{pair.source} cannot reach {', '.join(lost)} of {pair.destination}"
                + (f" ({pair.probes[0].error})" if pair.probes and pair.probes[0].error else ""),
                f"nslab explain {pair.source} {pair.destination}"))
        for source in topo.node_names:
            if not nodes[source].exists:
                report.items.append(CheckItem("reachability", f"{source} -> *", False,
                                              f"node {source} does not exist yet", f"ip netns add {topo.netns_name(source)}"))
    return report


def _targets(topo: Topology) -> dict[str, list[tuple[str, str]]]:
    everyone = [(n, str(a.ip)) for n in topo.node_names for a in topo.addresses_of(n)]
    return {s: [t for t in everyone if t[0] != s] for s in topo.node_names}


def _link_hint(link, sa, sb, ia, ib, na: str, nb: str) -> str:
    a, b = link.a, link.b
    want_peer = f"{b.node}:{b.ifname}"
    if ia is not None and ia.kind == "veth" and ia.peer and ia.peer != want_peer:
        return f"{a} is a veth to {ia.peer}, not to {want_peer} (links swapped?)"
    if ia is not None and ia.kind != "veth":
        return f"{a} exists but is a {ia.kind}, not a veth"
    # a veth between the right nodes under another name?
    for iface in sa.interfaces:
        if iface.kind == "veth" and iface.peer and iface.peer.split(":")[0] == b.node and iface.name != a.ifname:
            peer_if = iface.peer.split(":")[1]
            if peer_if == b.ifname or ib is None:
                return (f"there is a veth {a.node}:{iface.name} - {iface.peer}, but the figure names this end "
                        f"{a.ifname}: ip -n {na} link set {iface.name} name {a.ifname}")
    if ib is not None and ib.kind == "veth" and ib.peer and ib.peer != str(a):
        return f"{b} is a veth to {ib.peer}, not to {a} (links swapped?)"
    if ia is None and ib is None:
        return f"there is no veth between {a} and {b}"
    if ia is None:
        return f"{a.node} has no interface {a.ifname}"
    return f"{a} is not paired with {b}"


__all__ = ["CheckItem", "CheckReport", "SECTIONS", "check"]

