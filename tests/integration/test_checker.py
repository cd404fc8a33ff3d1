"""The checker grades the live kernel state, also of a lab built by hand with ip as the activity does."""

from __future__ import annotations

import json
import subprocess

import pytest

from nslab_kernel import Lab, load
from nslab_kernel.analysis.checker import check
from tests.support import run_nslab

pytestmark = pytest.mark.root
STRUCTURE = ("nodes", "links", "addresses", "forwarding", "routes")


def by_hand(topo, mistakes: dict) -> list[list[str]]:
    """The activity's commands for a topology: veth made in the host, then each end moved."""
    cmds = []
    ns = topo.netns_name
    for node in topo.node_names:
        cmds.append(["ip", "netns", "add", ns(node)])
        cmds.append(["ip", "-n", ns(node), "link", "set", "lo", "up"])
    swap = mistakes.get("swap")  # two endpoints cabled to each other's peer
    for i, link in enumerate(topo.links):
        a, b = link.a, link.b
        if swap and str(a) in swap:
            other = swap[1] if str(a) == swap[0] else swap[0]
            a = next(l.a for l in topo.links if str(l.a) == other)
        a_if = mistakes.get("rename", {}).get(str(a), a.ifname)
        tmp_a, tmp_b = f"tmpa{i}", f"tmpb{i}"
        cmds += [["ip", "link", "add", tmp_a, "type", "veth", "peer", "name", tmp_b],
                 ["ip", "link", "set", "dev", tmp_a, "netns", ns(a.node), "name", a_if],
                 ["ip", "link", "set", "dev", tmp_b, "netns", ns(b.node), "name", b.ifname]]
    for link in topo.links:
        for end in link.endpoints:
            ifname = mistakes.get("rename", {}).get(str(end), end.ifname)
            if str(end) not in mistakes.get("no_address", ()):
                cmds.append(["ip", "-n", ns(end.node), "addr", "add", str(end.address), "dev", ifname])
            cmds.append(["ip", "-n", ns(end.node), "link", "set", ifname, "up"])
    for node in topo.nodes:
        fwd = node.forwarding and node.name not in mistakes.get("no_forwarding", ())
        cmds.append(["ip", "netns", "exec", ns(node.name), "sysctl", "-qw", f"net.ipv4.ip_forward={int(fwd)}"])
        for r in node.routes:
            if f"{node.name}: {r}" in mistakes.get("no_route", ()):
                continue
            dst = "default" if r.is_default else str(r.dst)
            cmds.append(["ip", "-n", ns(node.name), "route", "add", dst, "via", str(r.via)])
    return cmds


@pytest.fixture
def hand_built(root, state, unique):
    made = []

    def build(mistakes: dict | None = None):
        topo = load("figure1").renamed(unique())
        made.append(topo)
        for cmd in by_hand(topo, mistakes or {}):
            subprocess.run(cmd, capture_output=True)  # a student's failed command (a route with no gateway) is part of it
        return topo

    yield build
    for topo in made:
        for node in topo.node_names:
            subprocess.run(["ip", "netns", "del", topo.netns_name(node)], capture_output=True)


def failed(report) -> set[tuple[str, str]]:
    return {(i.section, i.target) for i in report.items if not i.ok}


def test_a_lab_built_by_hand_passes_every_check(hand_built):
    topo = hand_built()
    report = check(topo)
    assert report.passed, str(report)
    assert report.scores() == {"nodes": (7, 7), "links": (7, 7), "addresses": (14, 14), "forwarding": (7, 7),
                               "routes": (15, 15), "reachability": (42, 42)}
    out = run_nslab("check", "figure1", "--lab", topo.name, "--json")
    assert out.returncode == 0 and json.loads(out.stdout)["passed"] is True
    grades = json.loads(run_nslab("check", "figure1", "--lab", topo.name, "--nbgrader").stdout)
    assert grades["score"] == grades["max_score"] == 6


MISTAKES = {
    "missing address": ({"no_address": ["r3:eth1"]},
                        {("addresses", "r3:eth1 10.0.23.3/24"), ("routes", "r3: 10.0.3.0/24 via 10.0.23.2")}),
    "swapped link": ({"swap": ["h1:eth0", "h2:eth0"]},
                     {("links", "h1:eth0 - r1:eth0"), ("links", "h2:eth0 - r1:eth1")}),
    "forwarding off": ({"no_forwarding": ["r2"]}, {("forwarding", "r2")}),
    "missing route": ({"no_route": ["r1: 10.0.4.0/24 via 10.0.13.3"]}, {("routes", "r1: 10.0.4.0/24 via 10.0.13.3")}),
    "wrong interface name": ({"rename": {"h3:eth0": "eth9"}},
                             {("links", "h3:eth0 - r2:eth2"), ("addresses", "h3:eth0 10.0.3.2/24")}),
}


@pytest.mark.parametrize("kind", list(MISTAKES))
def test_each_mistake_fails_exactly_its_items(hand_built, kind):
    mistakes, expected = MISTAKES[kind]
    topo = hand_built(mistakes)
    structure = check(topo, STRUCTURE)
    assert failed(structure) == expected, str(structure)
    for item in structure.failed:
        assert item.hint and item.command  # what is missing, and the command that adds it
    full = check(topo)
    breaks_traffic = kind != "wrong interface name"  # a name alone does not stop a packet
    assert any(i.section == "reachability" for i in full.failed) == breaks_traffic
    if kind == "wrong interface name":
        hint = next(i.hint for i in structure.failed if i.section == "links")
        assert "link set eth9 name eth0" in hint
    if kind == "swapped link":
        hint = next(i.hint for i in structure.failed if i.target == "h1:eth0 - r1:eth0")
        assert "swapped" in hint
        fix = next(i.command for i in structure.failed if i.target == "h1:eth0 - r1:eth0")
        assert fix.startswith(f"ip -n {topo.netns_name('h1')} link del eth0 && ip link add eth0")


def test_step_by_step_checks_and_autograder_asserts(root, state, unique):
    lab = Lab.load("figure1", lab=unique())
    lab.up(stages=("nodes", "links"))
    assert lab.check(["nodes", "links"]).passed  # what the student has reached so far is right
    early = lab.check(["addresses"])
    assert early.scores()["addresses"] == (0, 14)
    with pytest.raises(AssertionError, match="addresses: .*fix: ip -n"):
        early.assert_passed("addresses")
    lab.up()
    lab.check().assert_passed()
    lab.down()
