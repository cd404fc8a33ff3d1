"""The checker grades outcomes on the real kernel, for labs built by nslab or BY HAND with ``ip``.

Labs here are built with the activity's own commands (``ip netns add``, a veth made in the host
and moved, ``ip addr``, ``sysctl``, ``ip route``) run through subprocess, exactly as a student
types them; the checker then reads the kernel.  Names carry the prefix ``h2``.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest
import yaml

import nslab_kernel
from nslab_kernel import Lab, load
from nslab_kernel.analysis.checker import check
from nslab_kernel.core import records
from nslab_kernel.core.i18n import english_leaks
from tests.support import run_nslab

pytestmark = pytest.mark.root
STRUCTURE = ("nodes", "links", "addresses", "forwarding", "routes")


def h2name() -> str:
    return f"h2{uuid.uuid4().hex[:6]}"


def by_hand(topo, mistakes: dict) -> list[list[str]]:
    """The activity's commands for a topology: veth made in the host, then each end moved (and named)."""
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
        tmp_a, tmp_b = f"{topo.name}{i}a", f"{topo.name}{i}b"  # unique in the host, renamed on the move
        cmds += [["ip", "link", "add", tmp_a, "type", "veth", "peer", "name", tmp_b],
                 ["ip", "link", "set", "dev", tmp_a, "netns", ns(a.node), "name", a_if],
                 ["ip", "link", "set", "dev", tmp_b, "netns", ns(b.node), "name", b.ifname]]
    addresses = mistakes.get("addresses", {})
    for link in topo.links:
        for end in link.endpoints:
            ifname = mistakes.get("rename", {}).get(str(end), end.ifname)
            if str(end) not in mistakes.get("no_address", ()):
                cmds.append(["ip", "-n", ns(end.node), "addr", "add", addresses.get(str(end), str(end.address)),
                             "dev", ifname])
            cmds.append(["ip", "-n", ns(end.node), "link", "set", ifname, "up"])
    forwarding = mistakes.get("forwarding", {})
    routes = mistakes.get("routes", {})
    for node in topo.nodes:
        fwd = forwarding.get(node.name, node.forwarding)
        cmds.append(["ip", "netns", "exec", ns(node.name), "sysctl", "-qw", f"net.ipv4.ip_forward={int(fwd)}"])
        for r in routes.get(node.name, [str(r) for r in node.routes]):
            if f"{node.name}: {r}" in mistakes.get("no_route", ()):
                continue
            cmds.append(["ip", "-n", ns(node.name), "route", "add", *r.split()])
    return cmds


@pytest.fixture
def h2state(tmp_path, monkeypatch):
    """A private state dir; the labs recorded in it are taken down afterwards.  Not the shared ``state``
    fixture: its ``cleanup()`` also removes LXD containers of other people's labs (their records are in
    other state dirs), which on a shared daemon is never ours to do."""
    folder = tmp_path / "state"
    monkeypatch.setenv("NSLAB_STATE_DIR", str(folder))
    yield folder
    if (folder / "labs").exists():
        nslab_kernel.cleanup(lxd=False)
        assert not list((folder / "labs").glob("*.jsonl")), "records left after cleanup"


def remove_netns(topo) -> None:
    for node in topo.node_names:
        subprocess.run(["ip", "netns", "del", topo.netns_name(node)], capture_output=True)


@pytest.fixture
def hand_built(root, h2state):
    made = []

    def build(mistakes: dict | None = None, topo=None):
        topo = topo or load("figure1").renamed(h2name())
        made.append(topo)
        for cmd in by_hand(topo, mistakes or {}):
            subprocess.run(cmd, capture_output=True)  # a student's failed command (a route with no gateway) is part of it
        return topo

    yield build
    for topo in made:
        remove_netns(topo)


def failed(report) -> set[tuple[str, str]]:
    return {(i.section, i.target) for i in report.items if not i.ok}


def test_a_lab_built_by_hand_passes_every_check(hand_built):
    topo = hand_built()
    report = check(topo, timeout=3)
    assert report.passed, str(report)
    assert report.scores() == {"nodes": (7, 7), "links": (7, 7), "addresses": (14, 14), "forwarding": (7, 7),
                               "routes": (7, 7), "reachability": (42, 42)}
    out = run_nslab("check", "figure1", "--lab", topo.name, "--json", "--timeout", "3")
    assert out.returncode == 0 and json.loads(out.stdout)["passed"] is True
    grades = json.loads(run_nslab("check", "figure1", "--lab", topo.name, "--nbgrader", "--timeout", "3").stdout)
    assert grades["score"] == grades["max_score"] == 6
    assert Lab.load("figure1", lab=topo.name).check(timeout=3).passed  # from Python, with no record: the same


ALTERNATIVE = {  # other static routes that work: h4's network the long way round, h3's via r3 -> r2
    "r1": ["10.0.3.0/24 via 10.0.12.2", "10.0.23.0/24 via 10.0.12.2", "10.0.4.0/24 via 10.0.12.2"],
    "r3": ["10.0.1.0/24 via 10.0.13.1", "10.0.2.0/24 via 10.0.13.1", "10.0.12.0/24 via 10.0.23.2",
           "10.0.3.0/24 via 10.0.23.2"],
    "h1": ["10.0.0.0/16 via 10.0.1.1"],  # a host with a covering route instead of a default one
}


def test_other_working_static_routes_pass_from_cli_and_python(hand_built):
    topo = hand_built({"routes": ALTERNATIVE})
    out = run_nslab("check", "figure1", "--lab", topo.name, "--timeout", "3")
    assert out.returncode == 0, out.stdout + out.stderr
    report = Lab.load("figure1", lab=topo.name).check(timeout=3)
    assert report.passed, str(report)
    r1 = next(i for i in report.items if i.key == ("routes", "r1"))
    assert "10.0.4.0/24 via 10.0.13.3" in r1.solution  # the figure's own routes, shown as one solution


MISTAKES = {
    "missing address": ({"no_address": ["r3:eth1"]}, {("addresses", "r3:eth1 10.0.23.3/24"), ("routes", "r3")}),
    "swapped link": ({"swap": ["h1:eth0", "h2:eth0"]},
                     {("links", "h1:eth0 - r1:eth0"), ("links", "h2:eth0 - r1:eth1")}),
    "forwarding off": ({"forwarding": {"r2": False}}, {("forwarding", "r2")}),
    "host forwarding": ({"forwarding": {"h1": True}}, {("forwarding", "h1")}),
    "missing route": ({"no_route": ["r1: 10.0.4.0/24 via 10.0.13.3"]}, {("routes", "r1")}),
    "a loop": ({"routes": {"r2": ["10.0.1.0/24 via 10.0.12.1", "10.0.2.0/24 via 10.0.12.1", "10.0.13.0/24 via 10.0.12.1",
                                  "10.0.4.0/24 via 10.0.12.1"],
                           "r1": ["10.0.3.0/24 via 10.0.12.2", "10.0.23.0/24 via 10.0.12.2",
                                  "10.0.4.0/24 via 10.0.12.2"]}},
               {("routes", "r1"), ("routes", "r2")}),
    "wrong interface name": ({"rename": {"h3:eth0": "eth9"}},
                             {("links", "h3:eth0 - r2:eth2"), ("addresses", "h3:eth0 10.0.3.2/24")}),
}


@pytest.mark.parametrize("kind", list(MISTAKES))
def test_each_mistake_fails_exactly_its_items(hand_built, kind):
    mistakes, expected = MISTAKES[kind]
    topo = hand_built(mistakes)
    structure = check(topo, STRUCTURE)
    assert failed(structure) == expected, str(structure)
    for it in structure.failed:
        assert it.missing and it.hint(1) and it.hint(3) and it.command  # what is wrong, the idea, the command
    full = check(topo)
    breaks_traffic = kind not in ("wrong interface name", "host forwarding")  # neither stops a packet
    assert any(i.section == "reachability" for i in full.failed) == breaks_traffic, str(full)
    cli = run_nslab("check", "figure1", "--lab", topo.name)
    assert cli.returncode == 1 and "✘" in cli.stdout
    if kind == "wrong interface name":
        it = next(i for i in structure.failed if i.section == "links")
        assert "link set eth9 name eth0" in it.missing and it.hint(3) == f"ip -n {topo.netns_name('h3')} link set eth9 name eth0"
    if kind == "swapped link":
        it = next(i for i in structure.failed if i.target == "h1:eth0 - r1:eth0")
        assert "swapped" in it.missing
        assert it.command.startswith(f"ip -n {topo.netns_name('h1')} link del eth0\nip link add eth0 netns")
    if kind == "a loop":
        r2 = next(i for i in structure.failed if i.key == ("routes", "r2"))
        assert "loop" in r2.missing and "10.0.4.0/24" in r2.missing
        assert f"ip -n {topo.netns_name('r2')} route replace 10.0.4.0/24 via 10.0.23.3" in r2.hint(3)
    if kind == "missing route":  # the hint's explain command works on a lab built by hand (no record)
        h1h4 = next(i for i in full.failed if i.key == ("reachability", "h1 -> h4"))
        command = h1h4.hint(3).splitlines()[1]
        assert command == f"nslab explain h1 h4 --lab {topo.name} --topology figure1"
        why = run_nslab(*command.split()[1:], "--lang", "en")
        assert why.returncode == 1 and "r1" in why.stdout and "10.0.4" in why.stdout, why.stdout + why.stderr
    if kind == "missing address":
        r3 = next(i for i in structure.failed if i.key == ("routes", "r3"))
        assert "r3:eth1" in r3.missing  # the route cannot be added before the address: says so


def test_a_lab_built_from_another_topology_fails_reachability_where_pings_fail(root, h2state, tmp_path):
    """The expectations come from the topology checked against, never from the lab's record."""
    other = load("figure1").to_dict()
    other["nodes"]["r1"]["routes"] = ["10.0.3.0/24 via 10.0.12.2", "10.0.23.0/24 via 10.0.12.2"]  # none to h4
    other["nodes"]["r3"]["routes"] = ["10.0.3.0/24 via 10.0.23.2", "10.0.12.0/24 via 10.0.23.2"]  # none back to h1, h2
    path = tmp_path / "other.yaml"
    path.write_text(yaml.safe_dump(other))
    name = h2name()
    lab = Lab.load(str(path), lab=name)
    lab.up()
    try:
        own = lab.check(timeout=3)  # against its own file, what fails was expected to: the matrix agrees with it
        assert not [i for i in own.failed if i.section == "reachability"], str(own)
        out = run_nslab("check", "figure1", "--lab", name, "--json")
        assert out.returncode == 1
        report = json.loads(out.stdout)
        lost = {i["target"] for i in report["items"] if i["section"] == "reachability" and not i["ok"]}
        assert {"h1 -> h4", "h2 -> h4", "h4 -> h1"} <= lost
        assert report["sections"]["reachability"]["passed"] < report["sections"]["reachability"]["total"]
        against = Lab.load("figure1", lab=name).check(["routes", "reachability"])
        assert {("routes", "r1"), ("routes", "r3")} <= failed(against)
    finally:
        lab.down()


def two_containers_file(tmp_path, lab: str):
    """two-containers as the activity names it, but with names of this test's own (net-h2…-contenedor1)."""
    data = load("two-containers").to_dict()
    assert data["links"][0].get("choose") is True
    data["naming"] = {"netns": "net-{lab}-{node}", "container": "{lab}-{node}"}
    data["name"] = lab
    path = tmp_path / f"{lab}.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_two_containers_with_the_student_s_own_addresses_pass(hand_built, tmp_path):
    name = h2name()
    path = two_containers_file(tmp_path, name)
    topo = nslab_kernel.load(path)
    hand_built({"addresses": {"contenedor1:v-1a": "10.1.1.1/24", "contenedor2:v-1b": "10.1.1.2/24"}}, topo=topo)
    out = run_nslab("check", path, "--timeout", "3")
    assert out.returncode == 0, out.stdout
    report = Lab.load(path).check(timeout=3)
    assert report.passed, str(report)
    assert report.nbgrader()["score"] == report.nbgrader()["max_score"] == 5
    assert "10.1.1.1/24" in next(i.right for i in report.items if i.target == "contenedor1:v-1a")
    why = Lab.load(path).explain("contenedor1", "contenedor2", lang="en")
    assert why.ok and why.address == "10.1.1.2"  # explain follows the student's addresses too


def test_refused_up_leaves_no_record(hand_built):
    topo = hand_built()
    lab = Lab.load("figure1", lab=topo.name)
    with pytest.raises(nslab_kernel.NameClash):
        lab.up()
    assert not records.record_path(topo.name).exists()
    status = run_nslab("status", "--json")
    assert topo.name not in status.stdout
    assert lab.check(timeout=3).passed  # and the hand-built lab is still graded, with no record


def test_spanish_check_speaks_spanish(hand_built):
    topo = hand_built({"no_route": ["r1: 10.0.4.0/24 via 10.0.13.3"], "forwarding": {"r2": False}})
    out = run_nslab("check", "figure1", "--lab", topo.name, env={"LANG": "es_ES.UTF-8", "NSLAB_LANG": ""})
    assert out.returncode == 1
    assert "Comprobación del laboratorio" in out.stdout and "pista" in out.stdout
    assert "no reenvía" in out.stdout and "no tiene ruta hacia 10.0.4.0/24" in out.stdout
    assert english_leaks(out.stdout) == []
    nslab_kernel.set_language("es")
    try:
        report = Lab.load("figure1", lab=topo.name).check(timeout=3)
        assert report.lang == "es" and english_leaks(str(report)) == [] and english_leaks(report.html()) == []
        assert "reenvío" in report.html()
    finally:
        nslab_kernel.set_language(None)
    en = run_nslab("check", "figure1", "--lab", topo.name, "--lang", "en")
    assert "Check of lab" in en.stdout and english_leaks(en.stdout)


def test_step_by_step_checks_and_autograder_asserts(root, h2state):
    lab = Lab.load("figure1", lab=h2name())
    lab.up(stages=("nodes", "links"))
    try:
        assert lab.check(["nodes", "links"]).passed  # what the student has reached so far is right
        early = lab.check(["addresses"])
        assert early.scores()["addresses"] == (0, 14)
        with pytest.raises(AssertionError, match="addresses: .*hint: ip -n"):
            early.assert_passed("addresses")
        lab.up()
        lab.check(timeout=3).assert_passed()
    finally:
        lab.down()


def test_netns_check_before_anything_exists_suggests_ip_netns_add(root, h2state):
    report = Lab.load("figure1", lab=h2name()).check(["nodes"])
    assert report.scores() == {"nodes": (0, 7)}
    assert report.items[0].hint(3) == f"ip netns add {report.lab}-h1"


def test_a_veth_left_in_the_host_is_told_to_move_and_the_hint_works(hand_built, tmp_path):
    """The activity makes the veth on the host, then moves each end: a student who forgets the move is told so,
    with the exact commands; running them makes the item pass.  Hints escalate on repeated failure."""
    name = h2name()
    data = nslab_kernel.load("two-containers").to_dict()
    data.update(name=name, naming={"netns": "net-{lab}-{node}"})
    data["links"][0]["endpoints"] = [f"contenedor1:{name}a", f"contenedor2:{name}b"]
    path = tmp_path / "moved.yaml"
    path.write_text(yaml.safe_dump(data))
    topo = nslab_kernel.load(str(path))
    for node in topo.node_names:
        subprocess.run(["ip", "netns", "add", topo.netns_name(node)], check=True)
    try:
        host_if = sorted(n for n in os.listdir("/sys/class/net") if n != "lo")[0]  # the host's own, not a veth
        own = dict(data, links=[dict(data["links"][0], endpoints=[f"contenedor1:{host_if}", f"contenedor2:{host_if}"])])
        assert check(nslab_kernel.parse(yaml.safe_dump(own)), ["links"]).failed[0].missing.startswith(
            "there is no veth between")  # a host interface of that name is not "a veth left in the host"
        subprocess.run(["ip", "link", "add", f"{name}a", "type", "veth", "peer", "name", f"{name}b"], check=True)
        lab = Lab.load(str(path))
        levels = []
        for _attempt in range(3):
            report = lab.check(["links"], hints="escalate")
            levels.append(report.level_of(report.failed[0]))
        assert levels == [1, 2, 3]
        it = report.failed[0]
        assert "host" in it.missing
        assert it.hint(3) == (f"ip link set dev {name}a netns {topo.netns_name('contenedor1')}\n"
                              f"ip link set dev {name}b netns {topo.netns_name('contenedor2')}")
        first, second = it.hint(3).splitlines()
        subprocess.run(first.split(), check=True)  # one end moved, the other still in the host: says which
        half = lab.check(["links"]).failed[0]
        assert half.hint(3) == second and f"{name}b" in half.missing
        subprocess.run(second.split(), check=True)
        assert lab.check(["links"], hints="escalate").passed

    finally:
        subprocess.run(["ip", "link", "del", f"{name}a"], capture_output=True)
        remove_netns(topo)


def test_a_partial_lab_gets_credit_for_what_is_done(hand_built):
    """Nodes and links typed, nothing else yet: those sections pass, the rest say what is missing."""
    topo = load("figure1").renamed(h2name())
    hand_built(topo=topo, mistakes={"no_address": [str(e) for l in topo.links for e in l.endpoints],
                                    "forwarding": {n: False for n in topo.node_names}, "routes": {n: [] for n in topo.node_names}})
    report = Lab.load("figure1", lab=topo.name).check(timeout=3)
    scores = report.scores()
    assert scores["nodes"] == (7, 7) and scores["links"] == (7, 7) and scores["addresses"] == (0, 14)
    assert scores["forwarding"] == (4, 7)  # the hosts are right already; the routers do not forward yet
    assert scores["routes"] == (0, 7) and scores["reachability"][0] == 0
    r1 = next(i for i in report.failed if i.key == ("routes", "r1"))
    assert "cannot be graded yet" in r1.missing and "10.0.4.0/24 via 10.0.13.3" in r1.hint(3)
    out = run_nslab("check", "figure1", "--lab", topo.name, "--nbgrader")
    assert out.returncode == 1
    grades = json.loads(out.stdout)
    assert grades["sections"]["nodes"]["score"] == 1 and grades["sections"]["addresses"]["score"] == 0
