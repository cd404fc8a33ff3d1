"""The topology as a graph: the kernel's state drawn against the target topology.

Two pure steps, both testable without root or a browser:

1. :func:`graph_model` compares the live :class:`LabState` with the target
   :class:`Topology` and says, per node and per link, what is there, what is
   missing (drawn as a ghost: dashed, grey) and what is wrong (a wrong or missing
   address, an interface down, forwarding off on a router, a veth joined to the
   wrong peer).  veth pairs the kernel has between lab nodes that the target does
   not list (a student's own ``ip link add``) are drawn too, marked as extra.
2. :func:`topology_dot` writes Graphviz DOT text from that model (and an optional
   path overlay); :func:`render_svg` renders it to an SVG that scales to the width
   of the notebook (never wider) and keeps its text readable from 2 to 50 nodes.

Colours are Okabe-Ito's (told apart with every kind of colour blindness) and each
mark also has a symbol and a word, never colour alone.  Element ids and classes
are stable (``node-h1``, ``link-1``, ``ghost``, ``wrong``) for tests and the browser.
"""

from __future__ import annotations

import html
import re
import shutil
from dataclasses import dataclass, field
from typing import Sequence

from nslab_kernel.core.state import LabState
from nslab_kernel.model.topology import Topology

from .text import N_, _, plural

# Okabe-Ito
BLACK, ORANGE, SKY, GREEN, YELLOW, BLUE, VERMILLION, PURPLE = (
    "#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7")
GREY = "#8c8c8c"
HOST_FILL, ROUTER_FILL, WRONG_FILL = "#d6ecf8", "#fbf6c7", "#f7d9c4"
INK = "#1f2937"
PATH, STOP = BLUE, VERMILLION
BIG = 16  # from this many nodes on, link ends are labelled on hover only (the names stay)


@dataclass(frozen=True)
class PathOverlay:
    """Hops a packet took (node names, in order) and whether it arrived."""

    hops: tuple[str, ...]
    arrived: bool
    stopped_at: str | None = None
    label: str = ""


@dataclass(frozen=True)
class EndView:
    node: str
    ifname: str
    expected: str | None  # the target's address (CIDR), None: any (or none given)
    actual: tuple[str, ...] = ()
    status: str = "ok"  # ok | target (no state) | missing | down | no-address | wrong-address | wrong-peer
    peer: str | None = None  # where the kernel says the other end is

    @property
    def name(self) -> str:
        return f"{self.node}:{self.ifname}"

    def problem(self) -> str:
        return {
            "missing": "✗ " + _("missing"),
            "down": "↓ " + _("down"),
            "no-address": "✗ " + _("no address"),
            "wrong-address": "✗ " + _("wrong address"),
            "wrong-peer": "✗ " + _("wrong peer"),
            "todo": "… " + _("not configured yet"),
        }.get(self.status, "")


@dataclass(frozen=True)
class NodeView:
    name: str
    kind: str  # host | router
    status: str  # ok | target (no state) | missing
    forwarding: bool | None = None  # as the kernel has it
    forwarding_expected: bool = False
    netns: str = ""
    forwarding_due: bool = True  # the forwarding stage is built: a difference is wrong, not just to do

    @property
    def forwarding_differs(self) -> bool:
        return self.status == "ok" and self.forwarding is not None and self.forwarding != self.forwarding_expected

    @property
    def forwarding_wrong(self) -> bool:
        return self.forwarding_differs and self.forwarding_due

    @property
    def forwarding_todo(self) -> bool:
        return self.forwarding_differs and not self.forwarding_due


@dataclass(frozen=True)
class EdgeView:
    id: str
    a: EndView
    b: EndView
    status: str  # ok | target | ghost (not in the kernel) | wrong | todo (not configured yet) | extra
    subnet: str = ""

    @property
    def problems(self) -> list[str]:
        return [f"{e.name}: {e.problem()}" for e in (self.a, self.b) if e.problem()]


@dataclass
class GraphModel:
    name: str
    nodes: list[NodeView] = field(default_factory=list)
    edges: list[EdgeView] = field(default_factory=list)
    live: bool = False

    @property
    def counts(self) -> dict[str, int]:
        out = {"ghost": 0, "wrong": 0, "extra": 0, "missing": 0, "forwarding": 0, "todo": 0}
        for e in self.edges:
            if e.status in out:
                out[e.status] += 1
        for n in self.nodes:
            out["missing"] += n.status == "missing"
            out["forwarding"] += n.forwarding_wrong
            out["todo"] += n.forwarding_todo
        return out

    def node(self, name: str) -> NodeView:
        return next(n for n in self.nodes if n.name == name)

    def edge(self, id_: str) -> EdgeView:
        return next(e for e in self.edges if e.id == id_)


def _end_view(state: LabState | None, end, other, addresses_due: bool = True) -> EndView:
    expected = str(end.address) if end.address is not None else None
    if state is None:
        return EndView(end.node, end.ifname, expected, (), "target")
    ns = state.nodes.get(end.node)
    iface = ns.interface(end.ifname) if ns is not None and ns.exists else None
    if iface is None:
        return EndView(end.node, end.ifname, expected, (), "missing")
    actual = tuple(iface.addresses)
    if iface.peer is not None and iface.peer != str(other):
        status = "wrong-peer"
    elif not iface.up:
        status = "down"
    elif not actual:
        status = "no-address"
    elif expected is not None and expected not in actual:
        status = "wrong-address"
    else:
        status = "ok"
    if status in ("down", "no-address") and not addresses_due:
        status = "todo"  # the addresses stage is not built yet: nothing wrong, just not done
    return EndView(end.node, end.ifname, expected, actual, status, iface.peer)


def graph_model(topo: Topology, state: LabState | None = None, built: Sequence[str] | None = None) -> GraphModel:
    """Compare the kernel's state with the target, per node and per link (pure data).

    ``built``: the stages built so far (a lab built stage by stage; None: all).  What a later
    stage will do (addresses, interfaces up, forwarding) is "not configured yet", not wrong.
    """
    built = set(built) if built is not None else {"nodes", "links", "addresses", "forwarding", "routes"}
    model = GraphModel(topo.name, live=state is not None)
    for node in topo.nodes:
        ns = state.nodes.get(node.name) if state is not None else None
        if state is None:
            status = "target"
        elif ns is None or not ns.exists:
            status = "missing"
        else:
            status = "ok"
        model.nodes.append(NodeView(node.name, node.kind, status, ns.forwarding if ns is not None and ns.exists else None,
                                    bool(node.forwarding), ns.netns if ns is not None else topo.netns_name(node.name),
                                    "forwarding" in built))
    known: set[str] = set()
    for index, link in enumerate(topo.links, start=1):
        due = "addresses" in built
        a, b = _end_view(state, link.a, link.b, due), _end_view(state, link.b, link.a, due)
        known |= {str(link.a), str(link.b)}
        if state is None:
            status = "target"
        elif "missing" in (a.status, b.status):
            status = "ghost"
        elif {a.status, b.status} - {"ok", "todo"}:
            status = "wrong"
        elif "todo" in (a.status, b.status):
            status = "todo"
        else:
            status = "ok"
        model.edges.append(EdgeView(f"link-{index}", a, b, status, str(link.subnet or "")))
    if state is not None:  # veths between lab nodes that the target does not have
        seen: set[frozenset[str]] = set()
        count = 0
        for node, ns in state.nodes.items():
            if not ns.exists:
                continue
            for iface in ns.interfaces:
                name = f"{node}:{iface.name}"
                if iface.kind != "veth" or not iface.peer or name in known:
                    continue
                pair = frozenset((name, iface.peer))
                if pair in seen:
                    continue
                seen.add(pair)
                peer_node, _sep, peer_if = iface.peer.partition(":")
                peer_ns = state.nodes.get(peer_node)
                peer_iface = peer_ns.interface(peer_if) if peer_ns is not None else None
                count += 1
                model.edges.append(EdgeView(
                    f"extra-{count}",
                    EndView(node, iface.name, None, tuple(iface.addresses), "ok" if iface.up else "down", iface.peer),
                    EndView(peer_node, peer_if, None, tuple(peer_iface.addresses) if peer_iface else (),
                            "ok" if peer_iface is not None and peer_iface.up else "down", name),
                    "extra"))
    return model


def _q(text: object) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attrs(attrs: dict[str, object]) -> str:
    return ", ".join(f"{k}={_q(v)}" for k, v in attrs.items())


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _row(end: EndView) -> str:
    """One interface of a node: its name, its address(es), and what is wrong with it."""
    port = re.sub(r"[^A-Za-z0-9_]", "_", end.ifname)
    colour, text = INK, f"{_e(end.ifname)} "
    if end.status == "missing":
        colour = GREY
        text += f"{_e(end.expected or '')} ✗ {_e(_('missing'))}"
    elif end.status == "wrong-address":
        colour = VERMILLION
        text += f"{_e(', '.join(end.actual))} ✗ ≠ {_e(end.expected)}"
    elif end.status == "no-address":
        colour = VERMILLION
        text += f"✗ {_e(_('no address'))} ({_e(end.expected or _('any'))})"
    elif end.status == "down":
        colour = VERMILLION
        text += f"{_e(', '.join(end.actual) or end.expected or '')} ↓ {_e(_('down'))}"
    elif end.status == "todo":
        colour = GREY
        text += f"{_e(', '.join(end.actual) or end.expected or '')} …"  # the legend says what … means
    elif end.status == "wrong-peer":
        colour = VERMILLION
        text += f"✗ {_e(_('joined to {peer}').format(peer=end.peer))}"
    else:
        text += _e(", ".join(end.actual) or end.expected or "")
    return f'<tr><td port="{port}" align="left"><font color="{colour}">{text}</font></td></tr>'


def _node_label(node: NodeView, ends: list[EndView], compact: bool, terminal: bool = False) -> str:
    fill = HOST_FILL if node.kind == "host" else ROUTER_FILL
    border = INK
    title = f"<b>{_e(node.name)}</b>"
    if node.status == "missing":
        fill, border = "white", GREY
        title = f'<font color="{GREY}"><b>{_e(node.name)}</b> ({_e(_("missing"))})</font>'
    elif node.forwarding_wrong:
        fill, border = WRONG_FILL, VERMILLION
        title += f'&#160;<font color="{VERMILLION}">⚠ ' + _e(_("forwarding off") if node.forwarding_expected
                                                         else _("forwarding on")) + "</font>"
    elif node.forwarding_todo and not compact:
        title += f'&#160;<font color="{GREY}">… ' + _e(_("forwarding")) + "</font>"
    elif node.kind == "router" and node.status == "ok" and node.forwarding and not compact:
        title += "&#160;↻ " + _e(_("forwards"))
    if terminal and node.status != "missing":  # the node opens a shell inside it: a terminal mark says so
        title += f'&#160;&#160;<font color="{BLUE}" face="DejaVu Sans Mono"><b>&gt;_</b></font>'
    rows = [f"<tr><td>{title}</td></tr>"]
    if not compact:
        rows += [_row(e) for e in ends]
    else:
        rows += [_row(e) for e in ends if e.status in ("wrong-address", "down", "no-address", "wrong-peer")][:2]
    style = ' style="rounded"' if node.kind == "host" else ""
    dashed = ' style="dashed"' if node.status == "missing" else style
    return (f'<<table border="1" cellborder="0" cellspacing="0" cellpadding="{2 if compact else 3}"{dashed} '
            f'bgcolor="{fill}" color="{border}">' + "".join(rows) + "</table>>")


def _snake(model: GraphModel, per_row: int) -> dict[str, tuple[float, float]] | None:
    """Positions (points) laying a path graph out row by row, turning at each end (h1 - r1 - ... - h2)."""
    neighbours: dict[str, set[str]] = {n.name: set() for n in model.nodes}
    for e in model.edges:
        if e.status == "extra":
            continue
        neighbours.setdefault(e.a.node, set()).add(e.b.node)
        neighbours.setdefault(e.b.node, set()).add(e.a.node)
    if any(len(v) > 2 for v in neighbours.values()):
        return None
    ends = [n for n, v in neighbours.items() if len(v) == 1]
    if len(ends) != 2:
        return None
    order, seen, here = [], set(), ends[0]
    while here is not None:
        order.append(here)
        seen.add(here)
        here = next((n for n in neighbours[here] if n not in seen), None)
    if len(order) != len(neighbours):
        return None
    pos = {}
    for i, name in enumerate(order):
        row, col = divmod(i, per_row)
        if row % 2:
            col = per_row - 1 - col
        pos[name] = (col * 82.0, -row * 58.0)
    return pos


def topology_dot(topo_or_model: Topology | GraphModel, state: LabState | None = None,
                 path: PathOverlay | None = None, compact: bool | None = None, terminals: bool = False) -> str:
    """DOT text for the lab: the kernel's state against the target, and a path overlay when given.

    ``compact`` (default: from BIG nodes on) draws each node as its name and its problems only,
    the interfaces and addresses on hover: small enough to sit above a matrix, or to show 50 nodes.
    ``terminals``: each node opens a shell inside it when clicked (the live view of a lab): a ``>_``
    mark on each node that exists, a line saying so in its tooltip, class ``terminal``.
    """
    model = topo_or_model if isinstance(topo_or_model, GraphModel) else graph_model(topo_or_model, state)
    compact = len(model.nodes) >= BIG if compact is None else compact
    pos = _snake(model, 9) if len(model.nodes) >= BIG else None
    lines = [f"graph {_q(model.name)} {{",
             f'  graph [layout=neato, overlap=false, splines={"false" if pos else "true"}, '
             f'sep="+6", bgcolor="transparent", fontname="Helvetica", pad=0.1];',
             f'  node [shape=plaintext, width=0, height=0, fontname="Helvetica", fontsize={12 if compact else 11}, '
             f'fontcolor="{INK}", margin=0];',
             f'  edge [fontname="Helvetica", fontsize=10, penwidth=1.8, len={(0.9 if len(model.nodes) >= BIG else 1.1) if compact else 0.7}, '
             f'color="{INK}"];']
    on_path = set(zip(path.hops, path.hops[1:])) if path else set()
    on_path |= {(b, a) for a, b in on_path}
    ends_of: dict[str, list[EndView]] = {n.name: [] for n in model.nodes}
    for edge in model.edges:
        for end in (edge.a, edge.b):
            if end.node in ends_of and end.name not in {e.name for e in ends_of[end.node]}:
                ends_of[end.node].append(end)
    for node in model.nodes:
        classes = ["nslab-node", node.kind, node.status]
        if node.status == "missing":
            classes.append("ghost")
        elif node.status == "ok":
            classes.append("present")
        if node.forwarding_wrong:
            classes += ["wrong", "forwarding-wrong"]
        tip = [f"{node.name} · {_('router') if node.kind == 'router' else _('host')} · netns {node.netns}"]
        if node.status == "missing":
            tip.append(_("does not exist yet"))
        if node.forwarding is not None:
            tip.append(f"net.ipv4.ip_forward = {int(node.forwarding)}"
                       + (f" ({_('should be {value}').format(value=int(node.forwarding_expected))})"
                          if node.forwarding_wrong else ""))
        tip += [f"{e.ifname}: {', '.join(e.actual) or e.expected or ''} {e.problem()}".strip() for e in ends_of[node.name]]
        if terminals:
            classes.append("terminal")
            tip.append(_("click: open a terminal in {node}").format(node=node.name) if node.status != "missing"
                       else _("click: what to create before its terminal"))
        label = _node_label(node, ends_of[node.name], compact, terminals)
        if path and node.name == path.stopped_at and not path.arrived:
            label = label.replace(f'color="{INK}"', f'color="{STOP}"', 1).replace('border="1"', 'border="4"', 1)
            classes.append("path-stop")
        elif path and node.name in path.hops:
            label = label.replace('border="1"', 'border="3"', 1).replace(f'color="{INK}"', f'color="{PATH}"', 1)
            classes.append("on-path")
        attrs: dict[str, object] = {"id": f"node-{node.name}", "tooltip": "\n".join(tip), "class": " ".join(classes)}
        if pos:
            attrs["pos"] = "%.1f,%.1f!" % pos[node.name]
        lines.append(f"  {_q(node.name)} [label={label}, {_attrs(attrs)}];")
    for edge in model.edges:
        a, b = edge.a, edge.b
        classes = ["nslab-link", edge.status]
        attrs = {}
        if edge.status == "ghost":
            attrs.update(style="dashed", color=GREY)
            classes.append("missing")
        elif edge.status == "wrong":
            attrs.update(color=VERMILLION, penwidth="2.6")
            classes.append("broken")
        elif edge.status == "todo":
            attrs.update(color=GREY)
        elif edge.status == "extra":
            attrs.update(style="dotted", color=PURPLE, penwidth="2.6", label="+ " + _("not in the target"),
                         fontcolor=PURPLE)
        if (a.node, b.node) in on_path:
            attrs.update(color=PATH, penwidth="4.5")
            classes.append("on-path")
        tip = [f"{a.name} — {b.name}" + (f" ({edge.subnet})" if edge.subnet else "")] + edge.problems
        attrs.update(id=edge.id, tooltip="\n".join(tip), edgetooltip="\n".join(tip))
        attrs["class"] = " ".join(classes)
        if not compact:
            attrs.update(tailport=re.sub(r"[^A-Za-z0-9_]", "_", a.ifname), headport=re.sub(r"[^A-Za-z0-9_]", "_", b.ifname))
        lines.append(f"  {_q(a.node)} -- {_q(b.node)} [{_attrs(attrs)}];")
    if path and path.label:
        lines.append(f"  label={_q(path.label)}; labelloc=b; fontsize=12; fontcolor=\"{PATH if path.arrived else STOP}\";")
    lines.append("}")
    return "\n".join(lines)


_SIZE = re.compile(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"')


def render_svg(dot: str) -> str:
    """SVG text from DOT through Graphviz's ``dot``, sized to fit its container.

    The fixed ``width``/``height`` Graphviz writes are replaced by a style: as wide as
    the output area at most, never wider than its natural size, height following.
    """
    if not shutil.which("dot"):
        return ("<div class='nslab-nograph'>" + html.escape(_("Graphviz is not installed, so the graph cannot be drawn:"))
                + " <code>sudo apt-get install graphviz</code></div>")
    import graphviz
    svg = graphviz.Source(dot).pipe(format="svg", encoding="utf-8")
    svg = svg[svg.index("<svg"):]
    match = _SIZE.search(svg)
    if match:
        width = float(match.group(1)) * 4 / 3  # pt -> CSS px
        svg = svg.replace(match.group(0), f'<svg style="width:100%;max-width:{width:.0f}px;height:auto;display:block;'
                                          f'margin:0 auto" data-natural-width="{width:.0f}"', 1)
    return svg


def topology_svg(topo: Topology, state: LabState | None = None, path: PathOverlay | None = None,
                 compact: bool | None = None) -> str:
    return render_svg(topology_dot(topo, state, path, compact))


def path_from(explanation) -> PathOverlay:
    """A path overlay from an ``explain`` result (anything with ``hops`` and ``ok``)."""
    hops = tuple(h.node for h in explanation.hops) if explanation.hops and hasattr(explanation.hops[0], "node") \
        else tuple(explanation.hops)
    stop = getattr(explanation, "broken_at", None)
    return PathOverlay(hops, bool(explanation.ok), stop, getattr(explanation, "summary", ""))


def legend_html(model: GraphModel) -> str:
    """What the marks mean, in the notebook's language; only the marks the graph shows."""
    c = model.counts
    items = [("<span style='border:1px solid #1f2937;border-radius:3px;background:%s;padding:0 5px'>h1</span>" % HOST_FILL,
              _("host")),
             ("<span style='border:1px solid #1f2937;border-radius:9px;background:%s;padding:0 5px'>r1</span>" % ROUTER_FILL,
              _("router"))]
    if c["ghost"] or c["missing"]:
        items.append((f"<span style='color:{GREY}'>┄┄ ✗</span>", _("missing: in the target, not in the kernel yet")))
    if c["wrong"] or c["forwarding"]:
        items.append((f"<span style='color:{VERMILLION}'>━ ✗ ↓ ⚠</span>",
                      _("wrong: address, interface down, peer or forwarding")))
    if c["todo"]:
        items.append((f"<span style='color:{GREY}'>━ …</span>", _("not configured yet at this stage")))
    if c["extra"]:
        items.append((f"<span style='color:{PURPLE}'>··· +</span>", _("in the kernel, not in the target")))
    return ("<div class='nslab-legend' style='display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px'>"
            + "".join(f"<span class='nslab-legend-item'>{sym} {html.escape(text)}</span>" for sym, text in items)
            + "</div>")


def summary_text(model: GraphModel) -> str:
    """One line: how far the kernel is from the target."""
    if not model.live:
        return ""
    c = model.counts
    parts = []
    if c["missing"]:
        parts.append(plural(c["missing"], N_("1 node missing"), N_("{n} nodes missing")))
    if c["ghost"]:
        parts.append(plural(c["ghost"], N_("1 link missing"), N_("{n} links missing")))
    if c["wrong"]:
        parts.append(plural(c["wrong"], N_("1 link with a problem"), N_("{n} links with a problem")))
    if c["forwarding"]:
        parts.append(plural(c["forwarding"], N_("1 node with the wrong forwarding"),
                            N_("{n} nodes with the wrong forwarding")))
    if c["todo"]:
        parts.append(plural(c["todo"], N_("1 still to configure"), N_("{n} still to configure")))
    if c["extra"]:
        parts.append(plural(c["extra"], N_("1 link not in the target"), N_("{n} links not in the target")))
    if not parts:
        return "✓ " + _("as in the target")
    only_todo = not (c["missing"] or c["ghost"] or c["wrong"] or c["forwarding"] or c["extra"])
    return ("… " if only_todo else "⚠ ") + " · ".join(parts)


__all__ = ["EdgeView", "EndView", "GraphModel", "NodeView", "PathOverlay", "graph_model", "legend_html", "path_from",
           "render_svg", "summary_text", "topology_dot", "topology_svg"]
