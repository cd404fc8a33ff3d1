"""Widgets from data to view, without root: they render from saved lab state alone."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from nslab_kernel import load
from nslab_kernel.core.results import PingMatrix, Probe
from nslab_kernel.core.state import InterfaceState, LabState, NodeState, RouteState


def saved_state(broken: bool = False) -> LabState:
    """Figure 1's state as the kernel would report it (optionally with faults), built as data."""
    topo = load("figure1")
    nodes = {}
    for node in topo.nodes:
        ifaces = [InterfaceState("lo", "loopback", True, True, ("127.0.0.1/8",))]
        for link in topo.links_of(node.name):
            end, other = link.end(node.name), link.other(node.name)
            up = not (broken and str(end) == "r3:eth2")
            addrs = () if broken and str(end) == "h2:eth0" else (str(end.address),)
            ifaces.append(InterfaceState(end.ifname, "veth", up, up, addrs, str(other)))
        exists = not (broken and node.name == "h3")
        fwd = node.forwarding and not (broken and node.name == "r1")
        nodes[node.name] = NodeState(node.name, f"figure1-{node.name}", exists, tuple(ifaces) if exists else (),
                                     tuple(RouteState(str(r.dst) if not r.is_default else "default", str(r.via), None,
                                                      "boot") for r in node.routes), fwd if exists else None)
    return LabState("figure1", nodes)


def saved_matrix() -> PingMatrix:
    topo = load("figure1")
    probes = []
    for s in topo.node_names:
        for d in topo.node_names:
            if s == d:
                continue
            for i, a in enumerate(topo.addresses_of(d)):
                ok = not (d == "h3") and not (s == "h1" and d == "r3" and i == 0)
                probes.append(Probe(s, d, str(a.ip), ok, 0.5 if ok else None, "" if ok else "no reply", True))
    return PingMatrix("figure1", topo.node_names, probes, 1.0, 0.2)


def classes(svg: str) -> dict[str, set[str]]:
    """id -> classes of every element of the SVG (parsed, so Graphviz's escaping does not matter)."""
    import xml.etree.ElementTree as ET
    root = ET.fromstring(svg)
    return {e.get("id"): set((e.get("class") or "").split()) for e in root.iter() if e.get("id")}


def test_widgets_never_import_pyroute2_or_pylxd():
    code = ("import sys, nslab_widgets; from nslab_widgets import *; "
            "print([m for m in sys.modules if m.split('.')[0] in ('pyroute2', 'pylxd')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_topology_svg_has_every_node_and_link_with_labels():
    from nslab_widgets import TopologyView
    view = TopologyView.from_state(load("figure1").to_dict(), saved_state().to_dict())
    svg = view.svg.value
    assert svg.startswith("<svg")
    found = classes(svg)
    assert len([i for i in found if i.startswith("node-")]) == 7 and len([i for i in found if i.startswith("link-")]) == 7
    for text in ("h1", "r3", "eth3", "10.0.13.1/24", "10.0.23.0/24", "forwarding on"):
        assert text in svg
    assert {"nslab-node", "host", "present"} <= found["node-h1"] and {"router", "present"} <= found["node-r2"]
    assert not any({"missing", "broken"} & c for c in found.values())


def test_topology_svg_shows_live_faults():
    from nslab_widgets import topology_svg
    svg = topology_svg(load("figure1"), saved_state(broken=True))
    found = classes(svg)
    assert "missing" in found["node-h3"]  # h3 does not exist
    assert "forwarding-wrong" in found["node-r1"] and "forwarding OFF" in svg
    # r3:eth2 down, h2:eth0 without address: their links drawn broken, labelled
    assert "broken" in found["link-7"] and "[down]" in svg
    assert "broken" in found["link-2"] and "[no address]" in svg
    assert "missing" in found["link-6"]  # h3's link
    assert not ({"missing", "broken"} & found["link-3"])


def test_path_overlay():
    from nslab_widgets import PathOverlay, topology_svg
    svg = topology_svg(load("figure1"), None, PathOverlay(("h1", "r1", "r3"), False, "r3", "h1 -> h4: r3 has no route"))
    found = classes(svg)
    assert "path-stop" in found["node-r3"] and "on-path" in found["node-r1"] and "on-path" in found["node-h1"]
    assert "on-path" in found["link-1"] and "on-path" in found["link-4"]  # h1 - r1, r1 - r3
    assert "on-path" not in found["link-3"] and "on-path" not in found["node-h4"]
    assert "r3 has no route" in svg


def test_ping_matrix_cells_and_colours():
    from nslab_widgets import PingMatrixView
    from nslab_widgets.matrix_view import COLOURS
    view = PingMatrixView.from_dict(json.loads(json.dumps(saved_matrix().to_dict())))
    assert len(view.cells) == 42
    states = {k: next(c for c in cell._dom_classes if c in ("nslab-ok", "nslab-partial", "nslab-failed"))
              for k, cell in view.cells.items()}
    assert states[("h1", "h3")] == "nslab-failed" and view.cells[("h1", "h3")].style.button_color == COLOURS["failed"]
    assert states[("h1", "r3")] == "nslab-partial" and view.cells[("h1", "r3")].style.button_color == COLOURS["partial"]
    assert states[("h2", "r3")] == "nslab-ok" and view.cells[("h2", "r3")].style.button_color == COLOURS["ok"]
    assert sum(s == "nslab-failed" for s in states.values()) == 6
    # expected (all reachable) versus actual: the differing cells are marked
    assert "nslab-unexpected" in view.cells[("h1", "h3")]._dom_classes
    assert view.cells[("h1", "h3")].description.startswith("!")
    view.cells[("h1", "r3")].click()
    assert "h1 → r3" in view.details.value and "no reply" in view.details.value and "10.0.13.3" in view.details.value


def test_matrix_click_shows_explanation_when_given():
    from nslab_widgets import PingMatrixView

    class Why:
        def _repr_html_(self):
            return "<b>r2 does not forward</b>"

    seen = []
    view = PingMatrixView(None, saved_matrix(), explain=lambda s, d: Why(), on_explain=seen.append)
    view.show("h1", "h3")
    assert "r2 does not forward" in view.details.value and seen


def test_inspector_from_snapshot_flags_dangling_names():
    from nslab_widgets import NetnsInspector
    snap = {
        "host_netns": 100,
        "processes": [{"pid": 1, "ppid": 0, "user": "root", "command": "/sbin/init", "netns": 100, "depth": 0},
                      {"pid": 50, "ppid": 1, "user": "root", "command": "[lxc monitor] contenedor1", "netns": 100, "depth": 1},
                      {"pid": 51, "ppid": 50, "user": "100000", "command": "/sbin/init", "netns": 200, "depth": 2}],
        "names": [{"name": "net-contenedor1", "kind": "symlink", "target": "/proc/51/ns/net", "inode": 200},
                  {"name": "net-old", "kind": "symlink", "target": "/proc/9/ns/net", "inode": None}],
        "state": saved_state().to_dict(),
    }
    view = NetnsInspector(snapshot=snap)
    procs, names = view.tabs.children[0].value, view.tabs.children[1].value
    assert "anfitrión / host" in procs and "net-contenedor1" in procs and "data-inode='200'" in procs
    assert "dangling" in names and "net-old" in names
    assert len(view.tabs.children) == 2 + 7
    assert "10.0.12.1/24" in view.tabs.children[2 + 4].value  # r1's tab


@pytest.mark.parametrize("bad", [RuntimeError("boom")])
def test_errors_show_in_the_widget_not_as_tracebacks(bad):
    from nslab_widgets import PingMatrixView

    class Broken:
        topology = load("figure1")

        def ping_matrix(self, timeout=1.0):
            raise bad

    view = PingMatrixView(Broken())
    view.run()
    assert "boom" in view.message.value and "Traceback" not in view.message.value
