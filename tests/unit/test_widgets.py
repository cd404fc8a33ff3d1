"""Widgets from data to view, without root: they render from saved lab state alone."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from nslab_kernel import load
from nslab_kernel.core.results import PingMatrix, Probe
from nslab_kernel.core.state import InterfaceState, LabState, NodeState, RouteState

ROOT = Path(__file__).resolve().parents[2]


def saved_state(broken: bool = False, extra: bool = False) -> LabState:
    """Figure 1's state as the kernel would report it (optionally with faults), built as data."""
    topo = load("figure1")
    nodes = {}
    for node in topo.nodes:
        ifaces = [InterfaceState("lo", "loopback", True, True, ("127.0.0.1/8",))]
        for link in topo.links_of(node.name):
            end, other = link.end(node.name), link.other(node.name)
            up = not (broken and str(end) == "r3:eth2")
            addrs = () if broken and str(end) == "h2:eth0" else (str(end.address),)
            if broken and str(end) == "h1:eth0":
                addrs = ("10.0.1.9/24",)
            ifaces.append(InterfaceState(end.ifname, "veth", up, up, addrs, str(other)))
        if extra and node.name in ("h2", "h4"):  # a student's own veth between h2 and h4
            mine, theirs = ("x0", "h4:x1") if node.name == "h2" else ("x1", "h2:x0")
            ifaces.append(InterfaceState(mine, "veth", True, True, (), theirs))
        exists = not (broken and node.name == "h3")
        fwd = node.forwarding and not (broken and node.name == "r1")
        nodes[node.name] = NodeState(node.name, f"figure1-{node.name}", exists, tuple(ifaces) if exists else (),
                                     tuple(RouteState(str(r.dst) if not r.is_default else "default", str(r.via), None,
                                                      "boot") for r in node.routes), fwd if exists else None)
    return LabState("figure1", nodes)


def saved_matrix(expected_ok: bool = True) -> PingMatrix:
    topo = load("figure1")
    probes = []
    for s in topo.node_names:
        for d in topo.node_names:
            if s == d:
                continue
            for i, a in enumerate(topo.addresses_of(d)):
                ok = not (d == "h3") and not (s == "h1" and d == "r3" and i == 0)
                probes.append(Probe(s, d, str(a.ip), ok, 0.012 if ok else None, "" if ok else "no reply",
                                    True if expected_ok else ok))
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


# --- the graph: the kernel's state against the target ------------------------------------------------------
def test_graph_model_compares_state_with_target():
    from nslab_widgets.graph import graph_model
    model = graph_model(load("figure1"), saved_state(broken=True, extra=True))
    assert model.node("h3").status == "missing"
    assert model.node("r1").forwarding_wrong and not model.node("r2").forwarding_wrong
    link = {f"{e.a.name}-{e.b.name}": e for e in model.edges}
    assert link["h1:eth0-r1:eth0"].status == "wrong" and link["h1:eth0-r1:eth0"].a.status == "wrong-address"
    assert link["h2:eth0-r1:eth1"].a.status == "no-address"
    assert link["h4:eth0-r3:eth2"].b.status == "down"
    assert link["h3:eth0-r2:eth2"].status == "ghost" and link["h3:eth0-r2:eth2"].a.status == "missing"
    assert link["r1:eth2-r2:eth0"].status == "ok"
    extra = [e for e in model.edges if e.status == "extra"]
    assert len(extra) == 1 and {extra[0].a.name, extra[0].b.name} == {"h2:x0", "h4:x1"}
    assert model.counts == {"ghost": 1, "wrong": 3, "extra": 1, "missing": 1, "forwarding": 1, "todo": 0}


def test_what_a_later_stage_will_do_is_not_wrong_yet():
    from nslab_widgets.graph import graph_model
    topo = load("figure1")
    state = saved_state()
    # links made, nothing configured: no addresses, interfaces down, nobody forwards
    bare = LabState("figure1", {n: NodeState(s.node, s.netns, True, tuple(
        InterfaceState(i.name, i.kind, False, False, (), i.peer) for i in s.interfaces if i.kind == "veth"), (), False)
        for n, s in state.nodes.items()})
    staged = graph_model(topo, bare, ("nodes", "links"))
    assert {e.status for e in staged.edges} == {"todo"} and not any(n.forwarding_wrong for n in staged.nodes)
    assert staged.node("r1").forwarding_todo
    final = graph_model(topo, bare)  # against the finished lab the same state is wrong
    assert {e.status for e in final.edges} == {"wrong"} and final.node("r1").forwarding_wrong


def test_graph_model_of_an_empty_lab_is_all_ghosts():
    from nslab_widgets.graph import graph_model
    topo = load("figure1")
    state = LabState("figure1", {n: NodeState(n, f"figure1-{n}", False) for n in topo.node_names})
    model = graph_model(topo, state)
    assert {n.status for n in model.nodes} == {"missing"} and {e.status for e in model.edges} == {"ghost"}


def test_a_veth_joined_to_the_wrong_peer_is_wrong():
    from nslab_widgets.graph import graph_model
    state = saved_state()
    h1 = state.nodes["h1"]
    state.nodes["h1"] = NodeState("h1", h1.netns, True, tuple(
        InterfaceState(i.name, i.kind, i.up, i.carrier, i.addresses, "r2:eth9" if i.name == "eth0" else i.peer)
        for i in h1.interfaces), h1.routes, h1.forwarding)
    edge = graph_model(load("figure1"), state).edges[0]
    assert edge.status == "wrong" and edge.a.status == "wrong-peer"


def test_topology_svg_has_every_node_and_link_with_labels():
    from nslab_widgets import TopologyView
    view = TopologyView.from_state(load("figure1").to_dict(), saved_state().to_dict())
    svg = re.sub(r"^<style>.*?</style>", "", view.svg.value, flags=re.S)
    assert svg.startswith("<svg")
    found = classes(svg)
    assert len([i for i in found if i.startswith("node-")]) == 7 and len([i for i in found if i.startswith("link-")]) == 7
    for text in ("h1", "r3", "eth3", "10.0.13.1/24"):
        assert text in svg
    assert {"nslab-node", "host", "present"} <= found["node-h1"] and {"router", "present"} <= found["node-r2"]
    assert not any({"missing", "broken", "ghost", "wrong"} & c for c in found.values())
    assert "✓" in view.summary.value


def test_topology_svg_shows_ghosts_and_marks():
    from nslab_widgets import topology_svg
    svg = topology_svg(load("figure1"), saved_state(broken=True, extra=True))
    found = classes(svg)
    assert {"missing", "ghost"} <= found["node-h3"]
    assert {"forwarding-wrong", "wrong"} <= found["node-r1"]
    assert "broken" in found["link-7"] and "↓" in svg  # r3:eth2 down
    assert "broken" in found["link-2"]  # h2:eth0 without address
    assert "broken" in found["link-1"] and "≠ 10.0.1.2/24" in svg  # h1's wrong address, and the right one
    assert {"ghost", "missing"} <= found["link-6"]  # h3's link
    assert "extra" in found["extra-1"]
    assert not ({"missing", "broken"} & found["link-3"])
    # dashed ghosts, in the SVG itself
    import xml.etree.ElementTree as ET
    ghost = next(e for e in ET.fromstring(svg).iter() if e.get("id") == "link-6")
    assert any(p.get("stroke-dasharray") for p in ghost.iter() if p.tag.endswith("path"))


def test_svg_scales_to_its_container():
    from nslab_widgets.graph import topology_svg
    for spec in ("two-containers", "figure1", "chain:50"):
        svg = topology_svg(load(spec))
        head = svg[:svg.index(">")]
        assert 'style="width:100%;max-width:' in head and ' width="' not in head and ' height="' not in head
    # chain:50 is laid out in rows that fit a notebook: not one line 2,700 px long
    svg = topology_svg(load("chain:50"))
    natural = int(re.search(r'data-natural-width="(\d+)"', svg).group(1))
    assert natural <= 1100
    # the node names stay readable once scaled to a 900 px output: font size * scale >= 10 px
    box = re.search(r'viewBox="[\d.]+ [\d.]+ ([\d.]+) ([\d.]+)"', svg)
    scale = 900 / (float(box.group(1)) * 4 / 3) * 4 / 3
    sizes = {float(x) for x in re.findall(r'font-size="([\d.]+)"', svg)}
    assert min(sizes) * min(scale, 4 / 3) >= 10


def test_path_overlay():
    from nslab_widgets import PathOverlay, topology_svg
    svg = topology_svg(load("figure1"), None, PathOverlay(("h1", "r1", "r3"), False, "r3", "h1 -> h4: r3 has no route"))
    found = classes(svg)
    assert "path-stop" in found["node-r3"] and "on-path" in found["node-r1"] and "on-path" in found["node-h1"]
    assert "on-path" in found["link-1"] and "on-path" in found["link-4"]  # h1 - r1, r1 - r3
    assert "on-path" not in found["link-3"] and "on-path" not in found["node-h4"]
    assert "r3 has no route" in svg


# --- the matrix ----------------------------------------------------------------------------------------
def test_rtt_is_shown_whole():
    from nslab_widgets.matrix_view import format_rtt
    assert format_rtt(0.004) == "4 µs" and format_rtt(0.0004) == "<1 µs" and format_rtt(0.25) == "250 µs"
    assert format_rtt(1.234) == "1.23 ms" and format_rtt(12.34) == "12.3 ms" and format_rtt(312.4) == "312 ms"
    assert format_rtt(None) == ""


def test_ping_matrix_cells_symbols_and_colours():
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
    # a symbol as well as a colour; the whole value, no "…"
    assert view.cells[("h2", "r3")].description == "✓ 12 µs"
    assert view.cells[("h1", "r3")].description == "! ◐ 2/3"
    assert view.cells[("h1", "h3")].description == "! ✗"
    assert "nslab-unexpected" in view.cells[("h1", "h3")]._dom_classes
    assert "10.0.3.2" in view.cells[("h1", "h3")].tooltip and "no reply" in view.cells[("h1", "h3")].tooltip
    assert all(c.layout.width == "auto" for c in view.cells.values())  # sized by their text, never cut
    view.cells[("h1", "r3")].click()
    assert "h1 → r3" in view.details.value and "no reply" in view.details.value and "10.0.13.3" in view.details.value
    assert "!" in view.legend.value and "differs from what is expected at this point" in view.legend.value


def test_bang_only_where_the_outcome_differs_from_what_is_expected_then():
    from nslab_widgets import PingMatrixView
    view = PingMatrixView(None, saved_matrix(expected_ok=False))
    assert not any("nslab-unexpected" in c._dom_classes for c in view.cells.values())
    assert not any(c.description.startswith("!") for c in view.cells.values())


def test_matrix_says_for_which_stage_it_expects():
    from nslab_widgets.matrix_view import legend_html
    m = saved_matrix()
    m.expected_for = ("nodes", "links", "addresses")
    assert "nodes, links, addresses" in legend_html(m)


def test_matrix_click_shows_explanation_and_draws_the_path_next_to_it():
    from nslab_widgets import PingMatrixView

    class Why:
        hops = ["h1", "r1", "r3"]
        ok = False
        broken_at = "r3"
        summary = "r3 has no route"

        def _repr_html_(self):
            return "<b>r2 does not forward</b>"

    seen = []
    view = PingMatrixView(None, saved_matrix(), explain=lambda s, d: Why(), on_explain=seen.append,
                          topology=load("figure1"))
    assert view.graph is not None and view.children.index(view.graph) < view.children.index(view.grid)
    view.show("h1", "h3")
    assert "r2 does not forward" in view.details.value and seen
    assert "path-stop" in classes(re.sub(r"^<style>.*?</style>", "", view.graph.svg.value, flags=re.S))["node-r3"]


def test_spanish_labels_only(monkeypatch):
    from nslab_widgets import PingMatrixView, text
    monkeypatch.setattr(text, "get_language", lambda: "es")
    view = PingMatrixView(None, saved_matrix())
    shown = view.legend.value + view.message.value + " ".join(c.tooltip for c in view.cells.values())
    assert "alcanzable" in shown and "reachable" not in shown.replace("alcanzable", "")
    assert "esperado" in shown


def test_po_has_every_widget_msgid():
    from nslab_widgets.text import PO, _read_po, msgids
    catalogue = {}
    for po in PO.parent.glob("*.po"):  # this domain's, and those of other widgets' owners (terminal)
        catalogue.update(_read_po(po))
    missing = []
    for path in (ROOT / "widgets").glob("*.py"):
        for msgid in msgids(path.read_text()):
            msgid = msgid.encode().decode("unicode_escape").encode("latin-1").decode("utf-8")
            if msgid not in catalogue:
                missing.append(f"{path.name}: {msgid}")
    assert not missing


# --- step reports, progress, inspector -------------------------------------------------------------------
def test_long_reports_are_collapsed_to_a_summary_line():
    from nslab_kernel.core.steps import Report, Step
    report = Report("up figure1", [Step("link", f"h{i}", f"ip link add e{i}", True) for i in range(85)])
    text = report._repr_html_()
    assert "<details" in text and "<summary" in text and "85" in text.split("</summary>")[0]
    assert text.count("<tr>") == 86  # every step still there, a click away


def test_progress_bar_is_one_bar_finished_with_the_operation():
    from nslab_widgets import progress_bar
    bar = progress_bar()
    import threading
    threads = [threading.Thread(target=bar, args=(f"n{i}", i + 1, 7)) for i in range(7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert bar._bar.total == 7 and bar._bar.n == 7
    bar.close()
    assert bar.closed and bar._bar.n == 7
    bar("late", 1, 7)  # after the operation: ignored, no second bar
    assert bar._bar.n == 7


def test_inspector_from_snapshot():
    from nslab_widgets import NetnsInspector
    state = saved_state(broken=True)  # h3 does not exist yet
    snap = {
        "host_netns": 100,
        "processes": [{"pid": 1, "ppid": 0, "user": "root", "command": "/sbin/init", "netns": 100, "depth": 0},
                      {"pid": 50, "ppid": 1, "user": "root", "command": "[lxc monitor] contenedor1", "netns": 100, "depth": 1},
                      {"pid": 51, "ppid": 50, "user": "100000", "command": "/sbin/init", "netns": 200, "depth": 2}],
        "names": [{"name": "net-contenedor1", "kind": "symlink", "target": "/proc/51/ns/net", "inode": 200},
                  {"name": "net-old", "kind": "symlink", "target": "/proc/9/ns/net", "inode": None}],
        "state": state.to_dict(),
    }
    view = NetnsInspector(snapshot=snap)
    procs, names = view.tabs.children[0].value, view.tabs.children[1].value
    assert "net-contenedor1" in procs and "data-inode='200'" in procs
    assert "100000 (= root" in procs and "uid 100000" in procs  # explained
    assert "net-old" in names and "✗" in names
    titles = [view.tabs.get_title(i) for i in range(len(view.tabs.children))]
    assert "h3" not in titles and len(titles) == 2 + 6  # no tab for a node that does not exist yet
    assert "10.0.12.1/24" in view.tabs.children[titles.index("r1")].value


@pytest.mark.parametrize("bad", [RuntimeError("boom")])
def test_errors_show_in_the_widget_not_as_tracebacks(bad):
    from nslab_widgets import PingMatrixView

    class Broken:
        topology = load("figure1")

        def ping_matrix(self, timeout=1.0):
            raise bad

    view = PingMatrixView(Broken(), graph=False)
    view.run()
    assert "boom" in view.message.value and "Traceback" not in view.message.value


def test_view_of_a_simulated_lab_redraws_after_each_step(tmp_path, monkeypatch):
    """No netlink in a simulated network: the view follows the lab's own steps instead."""
    monkeypatch.setenv("NSLAB_STATE_DIR", str(tmp_path))
    from nslab_kernel import Lab
    from nslab_widgets import TopologyView
    lab = Lab.load("figure1", backend="sim", lab="h5sim")
    view = TopologyView(lab)
    try:
        assert view.model.counts["missing"] == 7 and view._unwatch is None
        lab.up(stages=["nodes", "links"])
        assert view.model.counts["missing"] == 0 and view.model.counts["ghost"] == 0
        assert view.model.counts["todo"] > 0 and view.model.counts["wrong"] == 0  # addresses: a later stage
    finally:
        lab.down()
        view.close()


def test_running_a_cell_again_closes_what_its_earlier_run_made(monkeypatch):
    """Its old output is gone: the old view stops following the kernel (no monitor for nobody)."""
    from nslab_widgets import TopologyView, base

    class FakeLab:
        topology = load("figure1")
        backend = None

        def __init__(self):
            self.watchers = []

        def state(self):
            return saved_state()

        def watch(self, callback):
            self.watchers.append(callback)
            return lambda: self.watchers.remove(callback)

    lab = FakeLab()
    runs = iter([("cell-1", "run-1"), ("cell-1", "run-1"), ("cell-1", "run-2"), ("cell-2", "run-3")])
    monkeypatch.setattr(base, "_cell_and_run", lambda: next(runs))
    first, second = TopologyView(lab), TopologyView(lab)  # one run of a cell may show two views
    assert len(lab.watchers) == 2
    again = TopologyView(lab)  # the same cell, run again
    assert first._closed and second._closed and not again._closed and len(lab.watchers) == 1
    other = TopologyView(lab)  # another cell: untouched
    assert not again._closed and len(lab.watchers) == 2
    again.close()
    other.close()
    assert lab.watchers == []
