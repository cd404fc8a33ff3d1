"""explain() on the real kernel: break Figure 1 each way, check the verdict, apply the fix."""

from __future__ import annotations

import subprocess

import pytest

from nslab_kernel import Lab

pytestmark = pytest.mark.root


@pytest.fixture
def figure1(root, state, unique):
    lab = Lab.load("figure1", lab=unique())
    lab.up()
    assert lab.ping_matrix(timeout=3).reachable  # a loaded machine may take longer than 1 s to answer
    yield lab
    lab.down()


def ns(lab, node):
    return lab.topology.netns_name(node)


def sh(*cmd: str) -> None:
    subprocess.run(list(cmd), check=True, capture_output=True)


def apply_fix(lab, result) -> None:
    assert result.fix, result
    for cmd in result.fix:
        assert cmd.startswith("ip "), cmd  # what a student can type
        sh(*cmd.split())


def reachable(lab, src, dst) -> bool:
    m = lab.ping_matrix(timeout=0.5)
    return m.pair(src, dst).state == "ok"


def test_working_path_shows_the_hops(figure1):
    r = figure1.explain("h1", "h4")
    assert r.ok and r.cause == "ok" and not r.fix
    assert r.path("forward") == ["h1", "r1", "r3", "h4"] and r.path("reply") == ["h4", "r3", "r1", "h1"]
    assert r.to_dict()["broken_at"] is None


BREAKS = {
    # name: (break commands, source, destination, expected cause, expected node)
    "no route at the source": (lambda l: [["ip", "-n", ns(l, "h1"), "route", "del", "default"]], "h1", "h4",
                               "no_route_at_source", "h1"),
    "router does not forward": (lambda l: [["ip", "netns", "exec", ns(l, "r1"), "sysctl", "-qw", "net.ipv4.ip_forward=0"]],
                                "h1", "h4", "not_forwarding", "r1"),
    "router with no route onward": (lambda l: [["ip", "-n", ns(l, "r1"), "route", "del", "10.0.4.0/24"]], "h1", "h4",
                                    "no_route_onward", "r1"),
    "missing return route": (lambda l: [["ip", "-n", ns(l, "r3"), "route", "del", "10.0.1.0/24"]], "h1", "h4",
                             "no_return_route", "r3"),
    "link down": (lambda l: [["ip", "-n", ns(l, "r1"), "link", "set", "eth3", "down"]], "h1", "h4", "link_down", "r1"),
    "peer interface down": (lambda l: [["ip", "-n", ns(l, "r3"), "link", "set", "eth2", "down"]], "h1", "h4",
                            "link_down", "r3"),
    "address in the wrong subnet": (lambda l: [["ip", "-n", ns(l, "h4"), "addr", "del", "10.0.4.2/24", "dev", "eth0"],
                                               ["ip", "-n", ns(l, "h4"), "addr", "add", "10.0.5.2/24", "dev", "eth0"]],
                                    "h1", "h4", "wrong_subnet", "h4"),
    "next hop that does not exist": (lambda l: [["ip", "-n", ns(l, "r1"), "route", "replace", "10.0.4.0/24", "via",
                                                 "10.0.13.9"]], "h1", "h4", "next_hop_missing", "r1"),
}


@pytest.mark.parametrize("kind", list(BREAKS))
def test_each_break_is_named_and_the_fix_works(figure1, kind):
    make, src, dst, cause, node = BREAKS[kind]
    for cmd in make(figure1):
        sh(*cmd)
    assert not reachable(figure1, src, dst)
    r = figure1.explain(src, dst, lang="en")
    assert (r.ok, r.cause, r.node) == (False, cause, node), str(r)
    assert node in r.message
    assert r.path("reply" if cause == "no_return_route" else "forward")[-1] == node  # the stop is on the path
    es = figure1.explain(src, dst, lang="es")
    assert es.cause == cause and es.message != r.message  # the notebook's language
    apply_fix(figure1, r)
    assert reachable(figure1, src, dst), f"after {r.fix}: {figure1.explain(src, dst, lang='en')}"


def test_explain_to_an_address_and_cli(figure1):
    from tests.support import run_nslab
    sh("ip", "netns", "exec", ns(figure1, "r2"), "sysctl", "-qw", "net.ipv4.ip_forward=0")
    r = figure1.explain("h1", "10.0.3.2")
    assert r.cause == "not_forwarding" and r.node == "r2" and r.destination == "h3"
    out = run_nslab("explain", "h1", "h3", "--lab", figure1.name, "--lang", "en")
    assert out.returncode == 1 and "r2 receives the packet" in out.stdout
    import json
    data = json.loads(run_nslab("explain", "h1", "h3", "--lab", figure1.name, "--json").stdout)
    assert data["cause"] == "not_forwarding" and data["broken_at"] == "r2" and data["fix"]
