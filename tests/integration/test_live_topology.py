"""The live topology on the real kernel (root): netlink events from each namespace, whoever changes it.

A student's ``ip`` commands (run here as a separate ``ip`` process, as ``!ip`` in a
notebook does) must reach the graph without anyone reading the state again by hand.
Lab names carry the widgets prefix (h5).
"""

from __future__ import annotations

import subprocess
import time
import uuid

import pytest

from nslab_kernel import Lab
from tests.support import IS_ROOT, need

pytestmark = [pytest.mark.root]


def wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture
def lab(private_state):
    need(IS_ROOT, "needs root to create network namespaces")
    lab = Lab.load("figure1", backend="netns", lab=f"h5live{uuid.uuid4().hex[:4]}")
    yield lab
    lab.down()


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture(params=["netns", pytest.param("lxd", marks=pytest.mark.lxd)])
def any_lab(request, private_state):
    """Figure 1 on each backend: with LXD the namespaces are the containers' (named by symlink)."""
    need(IS_ROOT, "needs root to create network namespaces")
    if request.param == "lxd":
        from nslab_kernel.backends.lxd import socket_path
        need(socket_path() is not None, "needs a running LXD daemon (scripts/lxd-start.sh starts one)")
    lab = Lab.load("figure1", backend=request.param, lab=f"h5mon{request.param[0]}{uuid.uuid4().hex[:4]}")
    yield lab
    lab.down()


def test_monitor_sees_links_addresses_and_forwarding_made_by_hand(any_lab):
    from nslab_kernel.kernel.monitor import NetlinkMonitor
    lab = any_lab
    lab.up(stages=["nodes"])
    seen: list[dict[str, set[str]]] = []
    handles = lab.backend.handles(lab.topology, lab.topology.node_names)
    with NetlinkMonitor(handles, seen.append, delay=0.05) as monitor:
        assert wait_for(lambda: monitor.watching == set(lab.topology.node_names))
        seen.clear()
        h1, r1 = lab.topology.netns_name("h1"), lab.topology.netns_name("r1")
        ip("-n", h1, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", r1)
        assert wait_for(lambda: any("link" in c.get("h1", ()) for c in seen)
                        and any("link" in c.get("r1", ()) for c in seen))
        seen.clear()
        ip("-n", h1, "addr", "add", "10.0.1.2/24", "dev", "eth0")
        assert wait_for(lambda: any("address" in c.get("h1", ()) for c in seen))
        seen.clear()
        subprocess.run(["ip", "netns", "exec", r1, "sysctl", "-qw", "net.ipv4.ip_forward=1"], check=True)
        assert wait_for(lambda: any("forwarding" in c.get("r1", ()) for c in seen))  # netconf: no polling
    assert not monitor.running and not monitor.watching


def test_lab_watch_hands_over_the_new_state_and_stops_with_the_lab(lab):
    lab.up(stages=["nodes"])
    states = []
    unwatch = lab.watch(lambda state, changes: states.append((state, changes)))
    try:
        assert wait_for(lambda: lab._monitor is not None and len(lab._monitor.watching) == 7)
        states.clear()
        h2, r1 = lab.topology.netns_name("h2"), lab.topology.netns_name("r1")
        ip("-n", h2, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1", "netns", r1)
        assert wait_for(lambda: any(s is not None and s.nodes["h2"].interface("eth0") is not None for s, _c in states))
        state = next(s for s, _c in reversed(states) if s is not None)
        assert state.nodes["h2"].interface("eth0").peer == "r1:eth1"
        from nslab_widgets.graph import graph_model
        model = graph_model(lab.topology, state)
        assert next(e for e in model.edges if e.a.name == "h2:eth0").status == "wrong"  # no address: wrong (target)
        model = graph_model(lab.topology, state, lab.built_stages)
        assert next(e for e in model.edges if e.a.name == "h2:eth0").status == "todo"  # ...not yet due
        assert next(e for e in model.edges if e.a.name == "h1:eth0").status == "ghost"
    finally:
        monitor = lab._monitor
        lab.down()
    assert states[-1] == (None, {})  # told that the lab went down
    assert monitor is not None and not monitor.running and lab._monitor is None
    unwatch()  # harmless afterwards


def test_the_view_follows_the_kernel_without_running_its_cell_again(lab):
    from nslab_widgets import TopologyView
    lab.up(stages=["nodes"])
    view = TopologyView(lab)
    try:
        assert 'class="nslab-link ghost' in view.svg.value or "ghost" in view.svg.value
        assert wait_for(lambda: lab._monitor is not None and len(lab._monitor.watching) == 7)
        before = view.svg.value
        r2, h3 = lab.topology.netns_name("r2"), lab.topology.netns_name("h3")
        ip("-n", r2, "link", "add", "eth2", "type", "veth", "peer", "name", "eth0", "netns", h3)
        assert wait_for(lambda: view.model.edge("link-6").status != "ghost")
        assert view.model.edge("link-6").status == "todo"  # no addresses yet: not wrong at the links stage
        assert view.svg.value != before
        ip("-n", r2, "addr", "add", "10.0.3.1/24", "dev", "eth2")
        ip("-n", r2, "link", "set", "eth2", "up")
        ip("-n", h3, "addr", "add", "10.0.3.2/24", "dev", "eth0")
        ip("-n", h3, "link", "set", "eth0", "up")
        assert wait_for(lambda: view.model.edge("link-6").status == "ok")
    finally:
        view.close()
    assert lab._monitor is None  # the last view closed: nothing watches any more
