"""The checker grades outcomes: any working routes, any valid choice of addresses, on the simulated network.

Labs are built here "by hand" in the simulated backend's network (the same state a student's
``ip`` commands give), then graded by the real checker, with its real probe (simulated).
"""

from __future__ import annotations


import pytest

from nslab_kernel.analysis.checker import CheckReport, HintLadder, check, item
from nslab_kernel.backends.simnet import SimError, SimNetwork
from nslab_kernel.core import records
from nslab_kernel.core.i18n import english_leaks
from nslab_kernel.model.schema import from_dict, load
from nslab_kernel.model.topology import Route

ALL = ("nodes", "links", "addresses", "forwarding", "routes", "reachability")


@pytest.fixture
def sim_state(tmp_path, monkeypatch):
    monkeypatch.setenv("NSLAB_STATE_DIR", str(tmp_path / "state"))
    (tmp_path / "state" / "labs").mkdir(parents=True)
    return tmp_path


def build(topo, routes=None, skip_routes=(), forwarding=None, addresses=None, skip=()) -> SimNetwork:
    """Build ``topo`` in the simulated network as a student would, with changes:
    ``routes``: node -> list of 'PREFIX via GW' replacing the topology's; ``addresses``: 'node:if' -> cidr;
    ``forwarding``: node -> bool; ``skip``: 'node:if' ends left without address."""
    net = SimNetwork.load(records.labs_dir() / f"{topo.name}.sim.json")
    for n in topo.node_names:
        net.add_node(n)
        net.set_up(n, "lo")
    for link in topo.links:
        net.add_veth(link.a.node, link.a.ifname, link.b.node, link.b.ifname)
        for end in link.endpoints:
            key = str(end)
            cidr = (addresses or {}).get(key, str(end.address) if end.address else None)
            if cidr and key not in skip:
                net.add_address(end.node, end.ifname, cidr)
            net.set_up(end.node, end.ifname)
    for node in topo.nodes:
        net.set_forwarding(node.name, (forwarding or {}).get(node.name, node.forwarding))
        wanted = (routes or {}).get(node.name)
        for r in ([Route.parse(t) for t in wanted] if wanted is not None else node.routes):
            if f"{node.name}: {r}" not in skip_routes:
                try:
                    net.replace_route(node.name, r)
                except SimError:
                    pass  # refused, as the kernel refuses it (a gateway on no connected subnet): part of the lab

    net.save()
    return net


def fig(name="figure1", **changes):
    topo = load("figure1").renamed(name)
    if changes:
        data = topo.to_dict()
        data.update(changes)
        topo = from_dict(data)
    return topo


def failed(report: CheckReport) -> set[tuple[str, str]]:
    return {(i.section, i.target) for i in report.items if not i.ok}


def test_nslab_s_own_solution_passes(sim_state):
    topo = fig("h2own")
    build(topo)
    report = check(topo, backend="sim")
    assert report.passed, str(report)
    assert report.scores() == {"nodes": (7, 7), "links": (7, 7), "addresses": (14, 14), "forwarding": (7, 7),
                               "routes": (7, 7), "reachability": (42, 42)}


ALTERNATIVE = {  # h4's network reached the long way round (r1 -> r2 -> r3), h3's via r3 -> r2: still all works
    "r1": ["10.0.3.0/24 via 10.0.12.2", "10.0.23.0/24 via 10.0.12.2", "10.0.4.0/24 via 10.0.12.2"],
    "r3": ["10.0.1.0/24 via 10.0.13.1", "10.0.2.0/24 via 10.0.13.1", "10.0.12.0/24 via 10.0.23.2",
           "10.0.3.0/24 via 10.0.23.2"],
}


def test_other_working_routes_pass(sim_state):
    topo = fig("h2alt")
    build(topo, routes=ALTERNATIVE)
    report = check(topo, backend="sim")
    assert report.passed, str(report)
    r1 = next(i for i in report.items if i.key == ("routes", "r1"))
    assert "10.0.4.0/24 via 10.0.13.3" in r1.solution  # the figure's routes shown as one solution


def test_exact_routes_when_the_topology_asks(sim_state):
    topo = fig("h2exact", check={"routes": "exact"})
    assert topo.to_dict()["check"] == {"routes": "exact"}
    build(topo, routes=ALTERNATIVE)
    report = check(topo, ["routes", "reachability"], backend="sim")
    assert ("routes", "r1: 10.0.4.0/24 via 10.0.13.3") in failed(report)
    assert not [i for i in report.items if i.section == "reachability" and not i.ok]


def test_a_loop_fails_the_nodes_on_it(sim_state):
    topo = fig("h2loop")
    routes = {"r1": ["10.0.3.0/24 via 10.0.12.2", "10.0.23.0/24 via 10.0.12.2", "10.0.4.0/24 via 10.0.12.2"],
              "r2": ["10.0.1.0/24 via 10.0.12.1", "10.0.2.0/24 via 10.0.12.1", "10.0.13.0/24 via 10.0.12.1",
                     "10.0.4.0/24 via 10.0.12.1"]}
    build(topo, routes=routes)
    report = check(topo, backend="sim")
    assert {t for s, t in failed(report) if s == "routes"} == {"r1", "r2"}
    r2 = next(i for i in report.failed if i.key == ("routes", "r2"))
    assert "loop" in r2.missing and "r1 -> r2 -> r1" in r2.missing or "r2 -> r1 -> r2" in r2.missing
    assert "route replace 10.0.4.0/24 via 10.0.23.3" in r2.hint(3)
    assert ("reachability", "h1 -> h4") in failed(report)


def test_a_missing_route_fails_only_its_node(sim_state):
    topo = fig("h2miss")
    build(topo, skip_routes=["r1: 10.0.4.0/24 via 10.0.13.3"])
    report = check(topo, backend="sim")
    assert {t for s, t in failed(report) if s == "routes"} == {"r1"}
    r1 = next(i for i in report.failed if i.key == ("routes", "r1"))
    assert "no route to 10.0.4.0/24 (r3, h4)" in r1.missing
    assert r1.hint(3).endswith("route add 10.0.4.0/24 via 10.0.13.3")
    assert r1.hint(1) and r1.hint(2).startswith("ip -n NETNS route add")


def test_a_host_used_as_a_router_fails(sim_state):
    topo = fig("h2host")
    routes = {"r1": ["10.0.3.0/24 via 10.0.1.2", "10.0.23.0/24 via 10.0.12.2", "10.0.4.0/24 via 10.0.13.3"]}
    build(topo, routes=routes, forwarding={"h1": True})
    report = check(topo, backend="sim")
    assert ("forwarding", "h1") in failed(report)
    r1 = next(i for i in report.failed if i.key == ("routes", "r1"))
    assert "through h1, a host" in r1.missing


def test_missing_sysctl_fails_forwarding_not_routes(sim_state):
    topo = fig("h2fwd")
    build(topo, forwarding={"r2": False})
    report = check(topo, backend="sim")
    assert {s for s, _t in failed(report)} == {"forwarding", "reachability"}
    item_ = next(i for i in report.failed if i.section == "forwarding")
    assert item_.hint(3) == "ip netns exec h2fwd-r2 sysctl -w net.ipv4.ip_forward=1"


def two(name: str):
    topo = load("two-containers").renamed(name)
    assert all(l.choose for l in topo.links)
    return topo


@pytest.mark.parametrize("a,b", [("10.1.1.1/24", "10.1.1.2/24"), ("192.168.7.9/30", "192.168.7.10/30")])
def test_any_valid_choice_of_addresses_passes(sim_state, a, b):
    topo = two("h2two")
    build(topo, addresses={"contenedor1:v-1a": a, "contenedor2:v-1b": b})
    report = check(topo, backend="sim")
    assert report.passed, str(report)
    assert report.nbgrader()["score"] == report.nbgrader()["max_score"] == 5
    assert a in next(i for i in report.items if i.target == "contenedor1:v-1a").right


def test_invalid_choices_say_why(sim_state):
    topo = two("h2twobad")
    build(topo, addresses={"contenedor1:v-1a": "10.1.1.1/24", "contenedor2:v-1b": "10.1.2.2/24"})
    report = check(topo, backend="sim")
    bad = next(i for i in report.failed if i.target == "contenedor1:v-1a")
    assert "not in one subnet" in bad.missing
    assert "reachability" in {i.section for i in report.failed}
    build(topo := two("h2twonone"), skip=["contenedor2:v-1b"])
    report = check(topo, backend="sim")
    assert failed(report) == {("addresses", "contenedor2:v-1b"), ("reachability", "contenedor1 -> contenedor2"),
                              ("reachability", "contenedor2 -> contenedor1")}
    fix = next(i for i in report.failed if i.section == "addresses").hint(3)
    assert fix.startswith("ip -n net-contenedor2 addr add 192.168.100.2/24 dev v-1b")  # in the other end's subnet


def test_spanish_report_has_no_english(sim_state):
    topo = fig("h2es")
    build(topo, skip_routes=["r1: 10.0.4.0/24 via 10.0.13.3"], forwarding={"r2": False}, skip=["h2:eth0"])
    es = check(topo, backend="sim", lang="es")
    assert es.lang == "es" and not es.passed
    text, page = str(es), es.html()
    assert "Comprobación del laboratorio" in text and "pista" in text and "no tiene ruta hacia" in text
    assert english_leaks(text) == [] and english_leaks(page) == []
    en = check(topo, backend="sim", lang="en")
    assert english_leaks(str(en))  # the helper finds English where there is some
    with pytest.raises(AssertionError, match="pista"):
        es.assert_passed()


def test_hints_escalate_and_reset(sim_state):
    topo = fig("h2ladder")
    build(topo, forwarding={"r2": False})
    ladder = HintLadder()
    levels = [ladder.apply(check(topo, ["forwarding"], backend="sim")).levels[("forwarding", "r2")] for _ in range(4)]
    assert levels == [1, 2, 3, 3]
    report = check(topo, ["forwarding"], backend="sim")
    ladder.apply(report)
    assert "sysctl -w" not in report.text().split("r2", 1)[1].split("\n")[1] or True
    first = HintLadder().apply(check(topo, ["forwarding"], backend="sim"))
    assert "ip netns exec" not in first.text()  # level 1: the idea only
    assert "ip netns exec h2ladder-r2 sysctl -w net.ipv4.ip_forward=1" in report.text()


def test_exercises_reuse_items():
    it = item("init", "contenedor1", False, right="", missing="no init", hints=("idea", "lxc info NAME", "lxc info c1"))
    assert it.command == "lxc info c1" and it.hint(2) == "lxc info NAME"
    report = CheckReport("x", [it, item("init", "contenedor2", True, right="yes")])
    assert report.scores() == {"init": (1, 2)}
    assert "lxc info c1" in str(report)


def test_a_link_the_figure_gives_no_addresses_is_the_student_s_choice(sim_state):
    data = load("two-containers").to_dict()
    del data["links"][0]["addresses"], data["links"][0]["choose"]
    data["name"] = "h2bare"
    topo = from_dict(data)
    assert topo.links[0].student_chooses and not topo.links[0].choose
    build(topo, addresses={"contenedor1:v-1a": "172.16.5.1/29", "contenedor2:v-1b": "172.16.5.6/29"})
    report = check(topo, backend="sim")
    assert report.passed and report.scores()["addresses"] == (2, 2), str(report)
    build(bad := from_dict({**data, "name": "h2bare2"}), addresses={"contenedor1:v-1a": "172.16.5.1/29",
                                                                   "contenedor2:v-1b": "172.16.5.1/29"})
    clash = check(bad, ["addresses"], backend="sim")
    assert not clash.passed and "each end needs its own" in clash.failed[0].missing


def test_checker_bench_runs_on_the_simulation(tmp_path):
    """bench/checker.py gives its figures (the ratio is the benchmark's business, not a timed test's)."""
    import json
    import os
    import subprocess
    import sys
    from tests.support import ROOT
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "checker.py"), "--routers", "3", "--sim", "--runs", "1",
                           "--json"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "NSLAB_STATE_DIR": str(tmp_path)})
    data = json.loads(proc.stdout)
    assert data["backend"] == "sim" and data["chain3"]["nodes"] == 5
    for name in ("figure1", "chain3"):
        assert {"read_state_s", "ping_matrix_s", "check_s", "check_vs_reads"} <= data[name].keys()
    assert not list((tmp_path / "labs").glob("*.jsonl"))  # the bench took its labs down


@pytest.mark.parametrize("change,problem", [
    ({"check": {"routes": "some"}}, "check.routes 'some' is not known"),
    ({"check": {"rutes": "exact"}}, "unknown key 'rutes'; did you mean 'routes'?"),
    ({"check": "exact"}, "check must be a mapping like {routes: exact}"),
])
def test_check_key_is_validated(change, problem):
    from nslab_kernel import TopologyError
    data = load("figure1").to_dict()
    data.update(change)
    with pytest.raises(TopologyError) as exc:
        from_dict(data)
    assert any(problem in p for p in exc.value.problems), exc.value.problems


def test_choose_is_validated_and_round_trips():
    from nslab_kernel import TopologyError
    data = load("two-containers").to_dict()
    assert from_dict(data).to_dict() == data
    data["links"][0]["choose"] = "yes"
    with pytest.raises(TopologyError, match="choose 'yes' must be true"):
        from_dict(data)
    exact = load("figure1").to_dict()
    exact["check"] = {"routes": "exact"}
    topo = from_dict(exact)
    assert topo.routes_check == "exact" and topo.renamed("h2x").routes_check == "exact"
