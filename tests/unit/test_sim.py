"""The simulated backend: its own behaviour (no root), and equality with the kernel (root, hypothesis)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import IS_ROOT, ROOT, need
from nslab_kernel import BackendError, Lab, load
from nslab_kernel.routing import Forwarder, Parts
from nslab_kernel.topology import from_dict

REGRESSIONS = Path(__file__).parent / "sim_regressions"


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


# --- differential: sim == kernel ---------------------------------------------------------------------------

@st.composite
def topologies(draw):
    n = draw(st.integers(2, 6))
    names = [f"n{i}" for i in range(n)]
    edges = [(draw(st.integers(0, i - 1)), i) for i in range(1, n)]
    for _ in range(draw(st.integers(0, 2))):
        a, b = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        if a != b and (a, b) not in edges and (b, a) not in edges:
            edges.append((a, b))
    ifcount = {name: 0 for name in names}
    links, subnets, own = [], [], {name: [] for name in names}
    for k, (a, b) in enumerate(edges):
        ea, eb = f"e{ifcount[names[a]]}", f"e{ifcount[names[b]]}"
        ifcount[names[a]] += 1
        ifcount[names[b]] += 1
        net = f"10.77.{k}"
        links.append({"endpoints": [f"{names[a]}:{ea}", f"{names[b]}:{eb}"], "addresses": [f"{net}.1/24", f"{net}.2/24"]})
        subnets.append(f"{net}.0/24")
        own[names[a]].append((net, f"{net}.2"))  # (connected subnet, the neighbour's address on it)
        own[names[b]].append((net, f"{net}.1"))
    nodes = {}
    for name in names:
        spec = {"kind": draw(st.sampled_from(["host", "router"]))}
        if draw(st.booleans()):
            spec["forwarding"] = draw(st.booleans())
        connected = {c + ".0/24" for c, _ in own[name]}
        routes = []
        for subnet in subnets:
            if subnet in connected or not draw(st.booleans()):
                continue
            net, neighbour = draw(st.sampled_from(own[name]))
            gateway = neighbour if draw(st.integers(0, 9)) else f"{net}.9"  # sometimes nobody has it
            routes.append(f"{subnet} via {gateway}")
        if draw(st.integers(0, 3)) == 0:
            routes.append(f"default via {draw(st.sampled_from(own[name]))[1]}")
        spec["routes"] = routes
        nodes[name] = spec
    return {"name": "diff", "nodes": nodes, "links": links}


def compare(data: dict) -> list[str]:
    """Build the topology on the kernel and on sim; the differences (empty: equal)."""
    tag = uuid.uuid4().hex[:6]
    topo = from_dict(dict(data, name=f"df{tag}"), "generated")
    real, sim = Lab(topo, "netns"), Lab(topo.renamed(f"ds{tag}"), "sim")
    diffs = []
    try:
        real.up()
        sim.up()
        mr, ms = real.ping_matrix(timeout=0.3), sim.ping_matrix()
        for a, b in zip(mr.probes, ms.probes):
            assert (a.source, a.address) == (b.source, b.address)
            if a.ok != b.ok:
                diffs.append(f"ping {a.source} -> {a.address}: kernel {a.ok}, sim {b.ok}")
            if a.expected != a.ok:  # the lab is its target state: the model must predict the kernel
                diffs.append(f"ping {a.source} -> {a.address}: kernel {a.ok}, expected {a.expected}")
        for s in topo.node_names:
            for d in topo.node_names:
                if s != d and topo.addresses_of(d):
                    er, es = real.explain(s, d, lang="en"), sim.explain(s, d, lang="en")
                    if (er.ok, er.cause, er.node) != (es.ok, es.cause, es.node):
                        diffs.append(f"explain {s} -> {d}: kernel {er.cause}@{er.node}, sim {es.cause}@{es.node}")
    finally:
        real.down()
        sim.down()
    return diffs


def save_regression(data: dict, diffs: list[str]) -> None:
    """Hypothesis replays the shrunk example last: this file ends up holding the minimal case.
    Rename it (case-<what>.json) to keep it in the corpus."""
    REGRESSIONS.mkdir(exist_ok=True)
    (REGRESSIONS / "latest-disagreement.json.new").write_text(json.dumps({"topology": data, "disagreed": diffs}, indent=1))


@pytest.mark.slow
@settings(max_examples=int(os.environ.get("NSLAB_DIFF_EXAMPLES", "20")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=topologies())
def test_sim_equals_kernel_on_random_topologies(root, state, data):
    diffs = compare(data)
    if diffs:
        save_regression(data, diffs)
    assert not diffs, diffs


@pytest.mark.parametrize("case", sorted(REGRESSIONS.glob("case-*.json")) if REGRESSIONS.is_dir() else [],
                         ids=lambda p: p.stem)
def test_sim_regressions(root, state, case):
    """Cases that once disagreed, kept."""
    data = json.loads(case.read_text())["topology"]
    assert not compare(data)


def test_figure1_breaks_agree_with_the_kernel(root, state):
    """The instructor's breaks: same failed probes and verdicts on the kernel and on sim."""
    data = load("figure1").to_dict()
    for node, dst in (("r1", "10.0.4.0/24"), ("r3", "10.0.1.0/24")):
        broken = json.loads(json.dumps(data))
        broken["nodes"][node]["routes"] = [r for r in broken["nodes"][node]["routes"] if not r.startswith(dst)]
        assert not compare(broken)
    off = json.loads(json.dumps(data))
    off["nodes"]["r2"]["forwarding"] = False
    assert not compare(off)


# --- the notebooks on sim, as a user without privileges -----------------------------------------------------

@pytest.fixture
def nobody_home():
    import shutil
    import tempfile
    base = Path(tempfile.mkdtemp(prefix="nslab-nobody-"))
    os.chmod(base, 0o755)
    home = base / "home"
    home.mkdir()
    os.chown(home, 65534, 65534)
    yield home
    shutil.rmtree(base, ignore_errors=True)


def test_notebooks_run_on_sim_without_privileges(nobody_home):
    need(IS_ROOT, "needs root to switch to an unprivileged user for the test")
    need(subprocess.run(["which", "setpriv"], capture_output=True).returncode == 0, "setpriv (util-linux) is needed")
    home = nobody_home
    env = {k: v for k, v in os.environ.items() if k not in ("NSLAB_STATE_DIR", "XDG_STATE_HOME")}
    env.update(HOME=str(home), JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTER_DATA_DIR=str(home / "data"),
               JUPYTER_CONFIG_DIR=str(home / "config"), IPYTHONDIR=str(home / "ipython"))
    import sys
    outputs = []
    for lang, name in (("es", "03-pares-veth"), ("es", "04-actividad-figura1"), ("en", "05-instructor-demo")):
        out = home / f"{name}.ipynb"
        proc = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-m", "papermill",
             "--no-progress-bar", "-k", "nslab", "-p", "backend", "auto", str(ROOT / "notebooks" / lang / f"{name}.ipynb"),
             str(out)], capture_output=True, text=True, env=env, cwd=str(home), timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        import nbformat
        nb = nbformat.read(out, 4)
        text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "stream")
        assert "simulated network" in text  # the notebook says so, visibly
        results = [json.loads(line.split(" ", 1)[1]) for line in text.splitlines() if line.startswith("NSLAB_RESULT ")]
        assert results and results[-1]["reachable"] is True, text[-2000:]
        outputs.append(out)
    assert not list((home / ".local" / "state" / "nslab" / "labs").glob("*.jsonl"))  # the last cells removed them


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
