"""The topology as a Graphviz graph: a pure builder of DOT text, and its SVG rendering.

Hosts are boxes, routers circles; every link is labelled with both interface
names and addresses.  Given the live state, it shows what is missing or wrong:
a node that does not exist, a router that does not forward, a link whose end
is down or has no address.  A path overlay draws the hops a probe took and where
it stopped.  Element ids and classes are stable (``node-h1``, ``link-1``) so
tests and the browser can find them.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

import graphviz

from nslab_kernel.core.state import LabState
from nslab_kernel.model.topology import Topology

HOST_FILL, ROUTER_FILL = "#dbeafe", "#fef3c7"
MISSING, BAD, OFF, PATH, STOP = "#9ca3af", "#cf222e", "#fb923c", "#2563eb", "#cf222e"


@dataclass(frozen=True)
class PathOverlay:
    """Hops a packet took (node names, in order) and whether it arrived."""

    hops: tuple[str, ...]
    arrived: bool
    stopped_at: str | None = None
    label: str = ""


def _q(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _end_problem(state: LabState | None, node: str, ifname: str, address) -> str | None:
    if state is None or node not in state.nodes:
        return None
    ns = state.nodes[node]
    if not ns.exists:
        return "missing"
    iface = ns.interface(ifname)
    if iface is None:
        return "missing"
    if not iface.up:
        return "down"
    if address is not None and str(address) not in iface.addresses:
        return "no address"
    return None


def topology_dot(topo: Topology, state: LabState | None = None, path: PathOverlay | None = None) -> str:
    """DOT text for the lab, with the live state and a path overlay when given."""
    lines = [f"graph {_q(topo.name)} {{",
             '  graph [layout=neato, overlap=false, splines=true, sep="+18", bgcolor="transparent", '
             'fontname="Helvetica"];',
             '  node [fontname="Helvetica", fontsize=12, style=filled, penwidth=1.4];',
             '  edge [fontname="Helvetica", fontsize=9, penwidth=1.6, len=2.1];']
    on_path = set(zip(path.hops, path.hops[1:])) if path else set()
    on_path |= {(b, a) for a, b in on_path}
    for node in topo.nodes:
        classes = ["nslab-node", node.kind]
        label = node.name
        attrs = {"shape": "box" if node.kind == "host" else "circle",
                 "fillcolor": HOST_FILL if node.kind == "host" else ROUTER_FILL, "color": "#374151"}
        if node.kind == "host":
            attrs["style"] = "rounded,filled"
        ns = state.nodes.get(node.name) if state else None
        if ns is not None and not ns.exists:
            attrs.update(style="dashed", fillcolor="white", color=MISSING, fontcolor=MISSING)
            label += "\n(missing)"
            classes.append("missing")
        elif ns is not None:
            classes.append("present")
            if node.is_router or ns.forwarding:
                label += "\nforwarding " + ("on" if ns.forwarding else "OFF")
            if ns.forwarding != node.forwarding:
                attrs["fillcolor"] = OFF
                classes.append("forwarding-wrong")
        if path and node.name == path.stopped_at and not path.arrived:
            attrs.update(color=STOP, penwidth="3.5")
            classes.append("path-stop")
        elif path and node.name in path.hops:
            attrs.update(color=PATH, penwidth="3")
            classes.append("on-path")
        attrs["label"] = label
        attrs["id"] = f"node-{node.name}"
        attrs["class"] = " ".join(classes)
        lines.append(f"  {_q(node.name)} [" + ", ".join(f"{k}={_q(v)}" for k, v in attrs.items()) + "];")
    for index, link in enumerate(topo.links, start=1):
        a, b = link.a, link.b
        problems = {e: _end_problem(state, e.node, e.ifname, e.address) for e in (a, b)}
        tail = f"{a.ifname}\n{a.address or 'no address'}"
        head = f"{b.ifname}\n{b.address or 'no address'}"
        if problems[a]:
            tail += f"\n[{problems[a]}]"
        if problems[b]:
            head += f"\n[{problems[b]}]"
        classes = ["nslab-link"]
        attrs = {"taillabel": tail, "headlabel": head, "label": str(link.subnet or ""), "labelfontsize": "8",
                 "fontcolor": "#6b7280", "color": "#374151"}
        bad = [p for p in problems.values() if p]
        if "missing" in bad:
            attrs.update(style="dashed", color=MISSING)
            classes.append("missing")
        elif bad:
            attrs.update(color=BAD)
            classes.append("broken")
        if (a.node, b.node) in on_path:
            attrs.update(color=PATH, penwidth="4")
            classes.append("on-path")
        attrs["id"] = f"link-{index}"
        attrs["class"] = " ".join(classes)
        attrs["tooltip"] = f"{a} - {b}"
        lines.append(f"  {_q(a.node)} -- {_q(b.node)} [" + ", ".join(f"{k}={_q(v)}" for k, v in attrs.items()) + "];")
    if path and path.label:
        lines.append(f"  label={_q(path.label)}; labelloc=b; fontsize=11;")
    lines.append("}")
    return "\n".join(lines)


def render_svg(dot: str) -> str:
    """SVG text from DOT, through Graphviz's ``dot``; a readable note when it is missing."""
    if not shutil.which("dot"):
        return ("<div class='nslab-nograph'>Graphviz is not installed, so the graph cannot be drawn: "
                "<code>sudo apt-get install graphviz</code></div>")
    svg = graphviz.Source(dot).pipe(format="svg", encoding="utf-8")
    return svg[svg.index("<svg"):]


def topology_svg(topo: Topology, state: LabState | None = None, path: PathOverlay | None = None) -> str:
    return render_svg(topology_dot(topo, state, path))


def path_from(explanation) -> PathOverlay:
    """A path overlay from an ``explain`` result (anything with ``hops`` and ``ok``)."""
    hops = tuple(h.node for h in explanation.hops) if explanation.hops and hasattr(explanation.hops[0], "node") \
        else tuple(explanation.hops)
    stop = getattr(explanation, "broken_at", None)
    return PathOverlay(hops, bool(explanation.ok), stop, getattr(explanation, "summary", ""))


__all__ = ["PathOverlay", "path_from", "render_svg", "topology_dot", "topology_svg"]
