"""The model and its validation: no root, no kernel."""

from __future__ import annotations

import copy
import ipaddress

import pytest
import yaml

from nslab_kernel import InputError, TopologyError, load, parse
from nslab_kernel.model.routing import expected_reachable
from nslab_kernel.model.schema import from_dict
from tests.support import MINI

BASE = MINI


def problems_of(data) -> list[str]:
    with pytest.raises(TopologyError) as info:
        from_dict(data, source="lab.yaml")
    return info.value.problems


def mutated(fn):
    data = copy.deepcopy(BASE)
    fn(data)
    return data


def test_base_is_valid():
    topo = from_dict(copy.deepcopy(BASE))
    assert topo.node_names == ["h1", "r1", "h2"]
    assert topo.node("r1").forwarding and not topo.node("h1").forwarding


def test_figure1_is_the_issue_table():
    topo = load("figure1")
    assert sorted(topo.node_names) == ["h1", "h2", "h3", "h4", "r1", "r2", "r3"]
    table = {(str(l.a), str(l.b)): (str(l.a.address), str(l.b.address)) for l in topo.links}
    assert table == {
        ("h1:eth0", "r1:eth0"): ("10.0.1.2/24", "10.0.1.1/24"),
        ("h2:eth0", "r1:eth1"): ("10.0.2.2/24", "10.0.2.1/24"),
        ("r1:eth2", "r2:eth0"): ("10.0.12.1/24", "10.0.12.2/24"),
        ("r1:eth3", "r3:eth0"): ("10.0.13.1/24", "10.0.13.3/24"),
        ("r2:eth1", "r3:eth1"): ("10.0.23.2/24", "10.0.23.3/24"),
        ("h3:eth0", "r2:eth2"): ("10.0.3.2/24", "10.0.3.1/24"),
        ("h4:eth0", "r3:eth2"): ("10.0.4.2/24", "10.0.4.1/24"),
    }
    routes = {n.name: sorted(str(r) for r in n.routes) for n in topo.nodes}
    assert routes["r1"] == ["10.0.23.0/24 via 10.0.12.2", "10.0.3.0/24 via 10.0.12.2", "10.0.4.0/24 via 10.0.13.3"]
    assert routes["r2"] == ["10.0.1.0/24 via 10.0.12.1", "10.0.13.0/24 via 10.0.12.1", "10.0.2.0/24 via 10.0.12.1",
                            "10.0.4.0/24 via 10.0.23.3"]
    assert routes["r3"] == ["10.0.1.0/24 via 10.0.13.1", "10.0.12.0/24 via 10.0.13.1", "10.0.2.0/24 via 10.0.13.1",
                            "10.0.3.0/24 via 10.0.23.2"]
    assert routes["h3"] == ["default via 10.0.3.1"]
    # the target state: every node reaches every address of every other node
    for src in topo.node_names:
        for other in topo.node_names:
            if other != src:
                for addr in topo.addresses_of(other):
                    assert expected_reachable(topo, src, addr.ip), (src, addr)


def test_two_containers_uses_the_activity_names():
    topo = load("two-containers")
    assert topo.netns_name("contenedor1") == "net-contenedor1"
    assert topo.container_name("contenedor2") == "contenedor2"
    (link,) = topo.links
    assert (link.a.ifname, link.b.ifname) == ("v-1a", "v-1b")


@pytest.mark.parametrize("routers", [1, 2, 5, 50])
def test_chain_auto_routes_reach_everything(routers):
    topo = load(f"chain:{routers}")
    assert len(topo.nodes) == routers + 2 and len(topo.links) == routers + 1
    assert [str(r) for r in topo.node("h1").routes] == ["default via 10.100.0.2"]
    nodes = topo.node_names
    for src in (nodes[0], nodes[len(nodes) // 2], nodes[-1]):
        for other in nodes:
            for addr in topo.addresses_of(other):
                assert expected_reachable(topo, src, addr.ip), (src, addr)


def test_expected_reachable_sees_a_missing_route():
    data = mutated(lambda d: d["nodes"]["h2"].pop("routes"))
    topo = from_dict(data)
    assert not expected_reachable(topo, "h1", ipaddress.IPv4Address("10.0.2.2"))  # no way back
    assert expected_reachable(topo, "h1", ipaddress.IPv4Address("10.0.1.1"))


def test_expected_reachable_sees_forwarding_off():
    topo = from_dict(mutated(lambda d: d["nodes"]["r1"].update(forwarding=False)))
    assert not expected_reachable(topo, "h1", ipaddress.IPv4Address("10.0.2.2"))
    assert expected_reachable(topo, "h1", ipaddress.IPv4Address("10.0.2.1"))  # the router itself answers


def test_to_dict_round_trips():
    for name in ("figure1", "two-containers", "chain:4"):
        topo = load(name)
        again = from_dict(topo.to_dict())
        assert again.to_dict() == topo.to_dict()
        assert again.nodes == topo.nodes and again.links == topo.links


# --- every validation error names the file, the place, the bad value and what is right ------------

CASES = [
    ("unknown top key", lambda d: d.update(linkz=[]), ["lab.yaml", "unknown key 'linkz'", "did you mean 'links'"]),
    ("unknown node key", lambda d: d["nodes"]["r1"].update(knid="router"), ["node 'r1'", "'knid'", "did you mean 'kind'"]),
    ("unknown link key", lambda d: d["links"][0].update(adresses=[]), ["link 1", "did you mean 'addresses'"]),
    ("bad kind", lambda d: d["nodes"]["r1"].update(kind="routr"), ["node 'r1'", "'routr'", "did you mean 'router'"]),
    ("bad node name", lambda d: d["nodes"].update({"bad/name": {}}), ["node 'bad/name'", "letters, digits or hyphens"]),
    ("ifname too long", lambda d: d["links"][0].update(endpoints=["h1:averyverylongname0", "r1:eth0"]),
     ["link 1", "'averyverylongname0'", "at most 15"]),
    ("ifname with slash", lambda d: d["links"][0].update(endpoints=["h1:eth/0", "r1:eth0"]), ["'eth/0'", "'/'"]),
    ("invalid cidr", lambda d: d["links"][0].update(addresses=["10.0.1.300/24", "10.0.1.1/24"]),
     ["link 1 (h1:eth0 - r1:eth0)", "'10.0.1.300/24'", "like 10.0.1.2/24"]),
    ("missing prefix", lambda d: d["links"][0].update(addresses=["10.0.1.2", "10.0.1.1/24"]), ["'10.0.1.2'", "prefix length"]),
    ("network address", lambda d: d["links"][0].update(addresses=["10.0.1.0/24", "10.0.1.1/24"]),
     ["10.0.1.0/24 is the network address", "10.0.1.1/24"]),
    ("different subnets", lambda d: d["links"][0].update(addresses=["10.0.1.2/24", "10.0.9.1/24"]),
     ["link 1", "different subnets", "10.0.1.0/24", "10.0.9.0/24"]),
    ("duplicate address", lambda d: d["links"][1].update(addresses=["10.0.1.2/24", "10.0.1.9/24"]),
     ["link 2", "10.0.1.2 is already used by h1:eth0"]),
    ("same address both ends", lambda d: d["links"][0].update(addresses=["10.0.1.2/24", "10.0.1.2/24"]),
     ["both ends have address 10.0.1.2"]),
    ("gateway off-link", lambda d: d["nodes"]["h1"].update(routes=["default via 10.0.9.1"]),
     ["node 'h1'", "'default via 10.0.9.1'", "not on any subnet connected to h1", "10.0.1.0/24"]),
    ("gateway is own", lambda d: d["nodes"]["h1"].update(routes=["default via 10.0.1.2"]), ["h1's own address"]),
    ("bad route words", lambda d: d["nodes"]["h1"].update(routes=["default 10.0.1.1"]), ["'default 10.0.1.1'", "PREFIX via GATEWAY"]),
    ("host bits", lambda d: d["nodes"]["h1"].update(routes=["10.0.2.1/24 via 10.0.1.1"]), ["host bits set", "write 10.0.2.0/24"]),
    ("route dev unknown", lambda d: d["nodes"]["h1"].update(routes=["default via 10.0.1.1 dev eth7"]), ["no interface 'eth7'"]),
    ("unknown node in link", lambda d: d["links"][0].update(endpoints=["h9:eth0", "r1:eth0"]),
     ["link 1", "unknown node 'h9'", "did you mean 'h"]),
    ("self link", lambda d: d["links"].append({"endpoints": ["r1:eth5", "r1:eth6"]}), ["link 3", "both ends are on 'r1'"]),
    ("reused interface", lambda d: d["links"].append({"endpoints": ["h1:eth0", "h2:eth5"]}),
     ["link 3", "h1:eth0 is already used by link 1"]),
    ("endpoint format", lambda d: d["links"][0].update(endpoints=["h1-eth0", "r1:eth0"]), ["'h1-eth0'", "'node:interface'"]),
    ("one endpoint", lambda d: d["links"][0].update(endpoints=["h1:eth0"]), ["link 1", "list of two"]),
    ("missing name", lambda d: d.pop("name"), ["missing 'name'"]),
    ("missing nodes", lambda d: d.pop("nodes"), ["missing 'nodes'"]),
    ("routing value", lambda d: d.update(routing="ospf"), ["routing 'ospf'", "'auto'"]),
    ("auto plus routes", lambda d: d.update(routing="auto"), ["lists routes but the lab says 'routing: auto'"]),
    ("overlapping subnets", lambda d: d["links"][1].update(addresses=["10.0.1.130/25", "10.0.1.131/25"]),
     ["link 2", "overlaps 10.0.1.0/24"]),
    ("forwarding not bool", lambda d: d["nodes"]["r1"].update(forwarding="yes"), ["forwarding 'yes'", "true or false"]),
    ("connected route", lambda d: d["nodes"]["r1"].update(routes=["10.0.1.0/24 via 10.0.2.2"]), ["directly connected"]),
    ("duplicate route", lambda d: d["nodes"]["h1"].update(routes=["default via 10.0.1.1", "default via 10.0.1.1"]),
     ["already listed"]),
]


@pytest.mark.parametrize("label,mutate,expected", CASES, ids=[c[0] for c in CASES])
def test_validation_errors(label, mutate, expected):
    problems = problems_of(mutated(mutate))
    text = "\n".join(problems)
    for fragment in expected:
        assert fragment in text, f"{label}: {fragment!r} not in {text!r}"
    assert all(p.startswith("lab.yaml") for p in problems)


def test_duplicate_node_names_in_yaml():
    text = "name: x\nnodes:\n  h1: {kind: host}\n  h1: {kind: router}\nlinks: []\n"
    with pytest.raises(TopologyError) as info:
        parse(text, source="dup.yaml")
    msg = str(info.value)
    assert "dup.yaml" in msg and "duplicate key 'h1'" in msg and "line 4" in msg


def test_yaml_syntax_error_has_its_line():
    text = "name: x\nnodes:\n  h1: {kind: host\n  r1: {}\n"
    with pytest.raises(TopologyError) as info:
        parse(text, source="broken.yaml")
    msg = str(info.value)
    assert msg.startswith("broken.yaml: YAML syntax error at line ")
    line = int(msg.split("line ")[1].split(",")[0])
    assert line in (3, 4)


def test_not_a_mapping():
    with pytest.raises(TopologyError, match="a topology is a mapping"):
        parse("- just\n- a list\n")
    with pytest.raises(TopologyError, match="empty document"):
        parse("")


def test_all_problems_are_listed_and_message_counts_them():
    data = mutated(lambda d: (d["nodes"]["r1"].update(kind="x"), d["links"][0].update(addresses=["bad", "10.0.1.1/24"])))
    with pytest.raises(TopologyError) as info:
        from_dict(data, source="lab.yaml")
    assert len(info.value.problems) == 2
    assert "and 1 more problem" in str(info.value)


def test_errors_are_builtins_too():
    with pytest.raises(ValueError):
        from_dict({"name": "x"})


def test_unknown_bundled_name_suggests():
    with pytest.raises(InputError, match="did you mean 'figure1'"):
        load("figure")
    with pytest.raises(InputError, match="no such topology file"):
        load("/nonexistent/lab.yaml")
    with pytest.raises(InputError, match="chain needs a number"):
        load("chain:x")


def test_renamed_checks_lab_name():
    topo = load("figure1")
    assert topo.renamed("other").netns_name("h1") == "other-h1"
    with pytest.raises(InputError, match="lab name"):
        topo.renamed("bad name!")


def test_yaml_file_round_trip(tmp_path):
    path = tmp_path / "fig.yaml"
    path.write_text(yaml.safe_dump(load("figure1").to_dict()))
    assert load(str(path)).links == load("figure1").links

