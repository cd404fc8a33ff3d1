"""The simulated backend and the forwarding model: their own behaviour (no root).

Equality with the kernel is tests/integration/test_sim_kernel.py."""

from __future__ import annotations

import dataclasses
import os

import pytest
from hypothesis import given, settings

from nslab_kernel import BackendError, Lab, load
from nslab_kernel.model.routing import Forwarder, Parts
from nslab_kernel.model.schema import from_dict
from tests.support import topologies


@pytest.fixture
def simdir(tmp_path, monkeypatch):
    monkeypatch.setenv("NSLAB_STATE_DIR", str(tmp_path / "sim-state"))
    return tmp_path / "sim-state"


def test_figure1_on_sim_needs_no_privileges_and_reaches_everything(simdir):
    lab = Lab.load("figure1", backend="sim")
    report = lab.up()
    assert all(s.note == "simulated" or s.action in ("address",) for s in report)
    assert lab.ping_matrix().reachable
    assert lab.check().passed
    assert not lab.up().changed
    lab.down()
    assert not list(simdir.glob("labs/*"))


def test_sim_semantics_match_what_the_kernel_does(simdir):
    lab = Lab.load("figure1", backend="sim")
    lab.up(stages=("nodes", "links"))
    with pytest.raises(BackendError, match="gateway is not on a connected, up interface"):
        lab.add_routes("h1")  # no address yet: the kernel refuses such a route (ENETUNREACH)
    lab.up()
    state = lab.state()
    assert state.nodes["h1"].interface("eth0").peer == "r1:eth0"
    assert {str(r) for r in state.nodes["h1"].routes} == {"10.0.1.0/24 dev eth0", "default via 10.0.1.1 dev eth0"}
    lab.delete_link("r1:eth3")  # deleting one end removes the pair, and r1's route via it
    st2 = lab.state()
    assert st2.nodes["r3"].interface("eth0") is None
    assert not any(r.dst == "10.0.4.0/24" for r in st2.nodes["r1"].routes)
    assert lab.explain("h1", "h4", lang="en").cause in ("no_route_onward", "link_down")
    lab.up()
    assert lab.ping_matrix().reachable
    ping = lab.exec("h1", ["ping", "-c", "2", "10.0.4.2"])
    assert ping.ok and "2 packets received" in ping.stdout
    assert "10.0.1.2/24" in lab.exec("h1", ["ip", "addr"]).stdout
    lab.down()


# --- the whole-matrix model equals the hop-by-hop walk (no root) ------------------------------------------------

@settings(max_examples=int(os.environ.get("NSLAB_MODEL_EXAMPLES", "300")), deadline=None)
@given(data=topologies())
def test_reachable_all_equals_the_walk_per_probe(data):
    """Without a reverse-path filter the matrix comes from per-destination tables; with one,
    reachable_all is the walk itself, so only the tables are compared."""
    topo = from_dict(data, "generated")
    parts = dataclasses.replace(Parts.of(topo), rp_filter=0)
    pairs = [(s, a.ip) for s in topo.node_names for d in topo.node_names if d != s for a in topo.addresses_of(d)]
    walked = [Forwarder(parts=parts).reachable(s, a) for s, a in pairs]
    assert Forwarder(parts=parts).reachable_all(pairs) == walked


@pytest.mark.parametrize("routers,far_reached", [(62, True), (63, True), (64, False)])
def test_the_model_counts_the_ttl(routers, far_reached):
    """A raw socket's TTL is 64: a packet crosses at most 63 forwarding routers."""
    topo = load(f"chain:{routers}")
    model = Forwarder(topo)
    h2 = topo.addresses_of("h2")[0].ip
    near = topo.addresses_of(topo.node_names[-2])[0].ip
    pairs = [("h1", h2), ("h1", near), ("r1", h2)]
    assert model.reachable_all(pairs) == [model.reachable(s, a) for s, a in pairs] == [far_reached, True, True]
