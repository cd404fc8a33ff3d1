"""Terminals from the topology graph and the student track, without root or a browser: the pure parts.

- the graph marks each node that opens a terminal (``>_``, class ``terminal``, a tooltip line), never in a
  drawing without a lab, and says what a click on a missing node does;
- a node's click (the anywidget message) opens ``lab.terminal(node)`` right below the graph, several at once,
  and an error is one line in the view, never a traceback;
- ``ex.terminal(node)`` on a node that does not exist yet says what to create first, in the notebook's
  language; an unknown node names the nodes there are; the host's shell is the machine's own as root.

Lab names start with n1 (this branch's prefix); nothing here touches the kernel's namespaces.
"""

from __future__ import annotations

import os
import re
import uuid

import pytest

from nslab_kernel import load
from tests.unit.test_widgets import classes, saved_state


def svg_of(view) -> str:
    return re.sub(r"^<style>.*?</style>", "", view.svg.value, flags=re.S)


def test_each_node_that_exists_carries_a_terminal_mark():
    from nslab_widgets.graph import graph_model, topology_dot
    state = saved_state(broken=True)  # h3 does not exist
    model = graph_model(load("figure1"), state)
    dot = topology_dot(model, terminals=True)
    plain = topology_dot(model)
    assert "&gt;_" not in plain and "terminal" not in plain
    for node in ("h1", "r1", "h4"):
        line = next(l for l in dot.splitlines() if l.strip().startswith(f'"{node}" [label='))
        assert "&gt;_" in line and "click: open a terminal in " + node in line and "nslab-node" in line
    ghost = next(l for l in dot.splitlines() if l.strip().startswith('"h3" [label='))
    assert "&gt;_" not in ghost and "click: what to create before its terminal" in ghost


def test_a_drawing_without_a_lab_opens_no_terminal():
    from nslab_widgets import TopologyView
    view = TopologyView.from_state(load("figure1").to_dict(), saved_state().to_dict())
    assert view.svg.terminals is False and view.terminals is None
    assert "terminal" not in classes(svg_of(view))["node-h1"]


class FakeTerminalLab:
    """A lab-like source (as in test_widgets): a saved state, and terminals that are plain widgets."""

    def __init__(self, missing: str = "h3"):
        self.topology = load("figure1")
        self.opened: list[str] = []
        self.missing = missing

    def state(self):
        return saved_state()

    def ping_matrix(self, timeout=1.0):
        raise AssertionError("not used")

    def terminal(self, node):
        import ipywidgets as w
        from nslab_kernel.core.errors import InputError
        if node == self.missing:
            raise InputError(f"node '{node}' does not exist yet: create it first")
        self.opened.append(node)
        return w.HTML(f"terminal {node}")


def test_clicking_nodes_opens_their_terminals_below_the_graph():
    from nslab_widgets import TopologyView
    lab = FakeTerminalLab()
    view = TopologyView(lab, live=False)
    try:
        assert view.svg.terminals is True and view.svg.labels["open"] == "Open a terminal in {node}"
        assert {"terminal", "nslab-node"} <= classes(svg_of(view))["node-h1"]
        assert view.terminal_area not in view.children
        for node in ("h1", "r2", "h1"):  # what the browser sends on a click, Enter or Space
            view.svg._on_message(view.svg, {"type": "terminal", "node": node}, [])
        assert lab.opened == ["h1", "r2", "h1"] and len(view.terminal_area.children) == 3
        assert view.children.index(view.terminal_area) > view.children.index(view.svg)  # below the graph
        view.svg._on_message(view.svg, {"type": "terminal", "node": "h3"}, [])
        assert "does not exist yet" in view.message.value and "Traceback" not in view.message.value
        assert len(view.terminal_area.children) == 3
        view.svg._on_message(view.svg, {"type": "other", "node": "h1"}, [])
        view.svg._on_message(view.svg, {"type": "terminal", "node": 3}, [])
        assert lab.opened == ["h1", "r2", "h1"]
    finally:
        view.close()


def test_the_graph_labels_follow_the_notebooks_language():
    import nslab_kernel
    from nslab_widgets import TopologyView
    nslab_kernel.set_language("es")
    view = TopologyView(FakeTerminalLab(), live=False)
    try:
        assert view.svg.labels["open"] == "Abrir una terminal en {node}"
        assert "Pulse en un nodo" in view.terminals.value and "Click" not in view.terminals.value
        assert "clic: abrir una terminal en h1" in svg_of(view)
    finally:
        view.close()
        nslab_kernel.set_language(None)


@pytest.fixture
def exercise():
    from nslab_kernel.analysis import exercises
    lab = f"n1u{uuid.uuid4().hex[:5]}"
    yield lambda lang: exercises.Exercise("two-containers", "netns", lab, lang=lang)


def test_a_node_not_there_yet_says_what_to_create_first(exercise):
    es, en = exercise("es"), exercise("en")
    name = es.netns("contenedor1")
    assert not os.path.exists(f"/var/run/netns/{name}")
    said = str(es.terminal("contenedor1"))
    assert said.startswith("contenedor1 todavía no existe") and f"ip netns add {name}" in said
    assert "Traceback" not in said
    assert str(en.terminal("contenedor1")).startswith("contenedor1 does not exist yet")
    unknown = str(es.terminal("contenedor9"))
    assert "contenedor9" in unknown and "contenedor1, contenedor2" in unknown and unknown.startswith("Aquí no hay")


def test_the_hosts_shell(monkeypatch):
    from nslab_kernel.analysis.exercises import host_shell
    monkeypatch.setenv("NSLAB_ROOTLESS", "0")  # as root without a sandbox: the machine's own shell
    cmd = host_shell("your host")
    assert cmd.enter == () and cmd.shown in ("bash", "sh") and cmd.env["NSLAB_NODE"] == "host"
    monkeypatch.setenv("NSLAB_ROOTLESS", "1")  # a sandbox wanted and this process not in it: enter it first
    monkeypatch.delenv("NSLAB_SANDBOX", raising=False)
    cmd = host_shell("your host")
    assert cmd.enter[-2:] == ("run", "--") and "nslab-sandbox" in cmd.enter[0] and cmd.shown == "nslab shell"
