"""The netns backend on the real kernel (root)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time

import pytest

from nslab_kernel import InputError, Lab, NameClash, load
from nslab_kernel.core.state import LabState
from nslab_kernel.core.steps import ip_batches
from tests.support import netns_names, nslab_cmd, run_nslab

pytestmark = pytest.mark.root


def full_matrix_ok(lab: Lab) -> None:
    matrix = lab.ping_matrix()
    assert matrix.reachable, str(matrix)
    n = len(lab.topology.nodes)
    assert len(matrix.pairs) == n * (n - 1)
    assert all(p.state == "ok" and p.rtt_ms is not None for p in matrix.pairs)
    assert not matrix.unexpected


def test_figure1_up_matrix_down_leaves_nothing(root, state, unique):
    before = netns_names()
    lab = Lab.load("figure1", lab=unique())
    report = lab.up()
    names = {lab.topology.netns_name(n) for n in lab.topology.node_names}
    assert names <= netns_names()
    assert len([s for s in report if s.action == "link" and s.changed]) == 7
    full_matrix_ok(lab)
    # forwarding is the per-netns flag: on for routers, off for hosts
    st = lab.state()
    assert {n: s.forwarding for n, s in st.nodes.items()} == {n.name: n.is_router for n in lab.topology.nodes}
    assert st.nodes["h1"].interface("eth0").peer == "r1:eth0"
    down = lab.down()
    assert len(down.changed) == 7
    assert netns_names() == before
    assert not list((state / "labs").glob("*"))


def test_reapply_is_a_no_op_and_converges_after_damage(root, state, unique):
    lab = Lab.load("figure1", lab=unique())
    first = lab.up()
    again = lab.up()
    assert len(again.changed) == 0 and len(again.already) == len(first)
    # a student breaks three things by hand; up repairs exactly those
    r1, h1 = lab.topology.netns_name("r1"), lab.topology.netns_name("h1")
    subprocess.run(["ip", "-n", r1, "route", "del", "10.0.4.0/24"], check=True)
    subprocess.run(["ip", "-n", h1, "addr", "flush", "dev", "eth0"], check=True)
    subprocess.run(["ip", "netns", "exec", r1, "sysctl", "-qw", "net.ipv4.ip_forward=0"], check=True)
    assert not lab.ping_matrix(timeout=0.5).reachable
    fixed = lab.up()
    changed = sorted((s.action, s.target) for s in fixed.changed)
    assert ("forwarding", r1) in changed
    assert ("address", f"{h1}:eth0") in changed
    assert any(a == "route" and "10.0.4.0/24" in t for a, t in changed)
    # h1 lost its address, so its default route went with it: re-added too
    assert len(changed) == 4, changed
    full_matrix_ok(lab)
    lab.down()


def test_works_inside_a_running_event_loop(root, state, unique):
    """A Jupyter cell runs inside an asyncio loop: sync pyroute2 would fail there."""
    async def cell():
        lab = Lab.load("figure1", lab=unique())
        try:
            lab.up()
            return lab.ping_matrix().reachable
        finally:
            lab.down()

    assert asyncio.run(cell()) is True


def test_two_labs_with_the_same_node_names(root, state, unique):
    a, b = Lab.load("figure1", lab=unique("a")), Lab.load("figure1", lab=unique("b"))
    a.up()
    b.up()
    full_matrix_ok(a)
    full_matrix_ok(b)
    a.down()
    full_matrix_ok(b)
    b.down()


def test_name_clash_with_a_foreign_namespace_changes_nothing(root, state, unique):
    lab = Lab.load("figure1", lab=unique())
    decoy = lab.topology.netns_name("r2")
    subprocess.run(["ip", "netns", "add", decoy], check=True)
    try:
        before = netns_names()
        with pytest.raises(NameClash, match=f"'{decoy}' already exists and nslab did not create it"):
            lab.up()
        assert netns_names() == before  # nothing created
        assert lab.down().steps == []
        assert decoy in netns_names()  # and the decoy untouched
    finally:
        subprocess.run(["ip", "netns", "del", decoy], check=False)


def test_down_never_removes_a_name_someone_else_now_owns(root, state, unique):
    lab = Lab.load("figure1", lab=unique())
    lab.up()
    name = lab.topology.netns_name("h4")
    subprocess.run(["ip", "netns", "del", name], check=True)
    subprocess.run(["ip", "netns", "add", name], check=True)  # same name, not nslab's namespace
    try:
        report = lab.down()
        kept = [s for s in report if s.target == name]
        assert kept and not kept[0].changed and "left alone" in kept[0].note
        assert name in netns_names()
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def _kill_during_up(state, lab_name: str, sig: int) -> None:
    proc = subprocess.Popen([*nslab_cmd(), "up", "chain:40", "--lab", lab_name],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ.copy())
    record = state / "labs" / f"{lab_name}.jsonl"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        if record.exists() and record.read_text().count("\n") > 20:
            break
        time.sleep(0.001)
    proc.send_signal(sig)
    proc.wait(timeout=30)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill"])
def test_interrupted_up_is_cleaned_completely_by_down(root, state, unique, sig):
    before = netns_names()
    name = unique()
    _kill_during_up(state, name, sig)
    result = run_nslab("down", "--lab", name)
    assert result.returncode == 0, result.stderr
    assert netns_names() == before
    assert not (state / "labs" / f"{name}.jsonl").exists()
    # and the same lab comes up fine afterwards
    lab = Lab.load("chain:40", lab=name)
    lab.up()
    assert lab.ping_matrix().reachable
    lab.down()


def test_all_failing_matrix_returns_in_about_one_timeout(root, state, unique):
    lab = Lab.load("figure1", lab=unique())
    lab.up()
    for host in ("h1", "h2", "h3", "h4"):
        lab.delete_route(host, "default")
    for router in ("r1", "r2", "r3"):
        lab.set_forwarding(router, False)
    start = time.perf_counter()
    matrix = lab.ping_matrix(timeout=1.0)
    elapsed = time.perf_counter() - start
    assert elapsed < 1.6, elapsed
    assert not matrix.reachable
    assert matrix.pair("h1", "h2").state == "failed"
    assert matrix.pair("h1", "r1").state == "partial"  # only r1's address on h1's link answers
    assert any(p.error == "no route" for p in matrix.pair("h1", "h3").probes)
    assert matrix.unexpected  # the topology says these should work
    lab.down()


def test_step_level_calls_are_idempotent(root, state, unique):
    lab = Lab.load(load("figure1"), lab=unique())
    assert lab.add_node("h1", "r1").changed
    assert not lab.add_node("h1", "r1").changed
    with pytest.raises(InputError, match="node 'h2' .* does not exist yet: create it first"):
        lab.add_link("h2:eth0", "r1:eth1")  # h2 does not exist yet
    assert lab.add_link("h1:eth0", "r1:eth0").changed
    assert not lab.add_link("r1:eth0", "h1:eth0").changed  # either order names the same link
    assert [s.action for s in lab.set_address("h1:eth0")] == ["address", "up"]
    assert lab.set_address("r1:eth0").changed
    assert not lab.set_address("h1:eth0").changed
    ok = lab.exec("h1", ["ping", "-c1", "-W1", "10.0.1.1"])
    assert ok.returncode == 0, ok
    assert lab.delete_link("h1:eth0").changed
    assert lab.delete_link("r1:eth0").steps[0].note == "already gone"  # the peer went with it
    assert lab.exec("h1", ["ping", "-c1", "-W1", "10.0.1.1"]).returncode != 0
    lab.down()


def test_set_forwarding_override_and_back(root, state, unique):
    lab = Lab.load("figure1", lab=unique())
    lab.up()
    assert lab.set_forwarding("r1", False).changed
    matrix = lab.ping_matrix(timeout=0.5)
    failed = {(s, a) for s, a in matrix.failed}
    assert ("h1", "10.0.2.2") in failed and ("h1", "10.0.1.1") not in failed
    assert lab.up().changed  # back to the target
    full_matrix_ok(lab)
    lab.down()


# --- the commands nslab teaches must be right -----------------------------------------------------

def _replay(commands: list[str], old: str, new: str) -> None:
    """Replay nslab's commands with `ip -batch` on fresh namespaces (lab name old -> new)."""
    global_lines, per_ns, execs = ip_batches(c.replace(f"{old}-", f"{new}-") for c in commands)
    subprocess.run(["ip", "-batch", "-"], input="\n".join(global_lines) + "\n", text=True, check=True)
    for ns, lines in per_ns.items():
        subprocess.run(["ip", "-n", ns, "-batch", "-"], input="\n".join(lines) + "\n", text=True, check=True)
    for words in execs:
        subprocess.run(words, check=True, capture_output=True)


def _normalise(state: LabState) -> dict:
    out = {}
    for node, s in state.nodes.items():
        out[node] = {
            "forwarding": s.forwarding,
            "interfaces": sorted((i.name, i.kind, i.up, i.addresses, i.peer) for i in s.interfaces),
            "routes": sorted(str(r) + f" proto {r.proto}" for r in s.routes),
        }
    return out


@pytest.mark.parametrize("topology", ["figure1", "two-containers", "chain:3"])
def test_taught_commands_replayed_with_ip_batch_build_the_same_state(root, state, unique, topology):
    lab = Lab.load(topology, lab=unique())
    if lab.topology.netns_naming != "{lab}-{node}":
        lab = Lab(lab.topology.__class__(lab.name, lab.topology.nodes, lab.topology.links, lab.topology.routing,
                                         "{lab}-{node}", "{lab}-{node}", "", "test"))
    replay_name = unique("r")
    replay = Lab(lab.topology.renamed(replay_name))
    try:
        report = lab.up()
        _replay(report.commands(), lab.name, replay_name)
        ours, theirs = _normalise(lab.state()), _normalise(replay.state())
        assert ours == theirs
        assert ours["h1" if "h1" in ours else next(iter(ours))]["interfaces"]  # not trivially empty
    finally:
        lab.down()
        for node in replay.topology.node_names:
            subprocess.run(["ip", "netns", "del", replay.topology.netns_name(node)], capture_output=True)


# --- the command line --------------------------------------------------------------------------------

def test_cli_lifecycle_and_json(root, state, unique):
    name = unique()
    up = run_nslab("up", "figure1", "--lab", name)
    assert up.returncode == 0, up.stderr
    assert "changed" in up.stdout
    status = json.loads(run_nslab("status", "--json", check=True).stdout)
    assert status["labs"][0]["lab"] == name and status["labs"][0]["up"] == 7
    ping = run_nslab("ping", "--json")
    assert ping.returncode == 0
    data = json.loads(ping.stdout)
    assert data["reachable"] is True and data["failed"] == [] and len(data["pairs"]) == 42
    # break it: ping exits 1 and lists failures as [source, address]
    lab = Lab.open(name)
    lab.set_forwarding("r2", False)
    ping = run_nslab("ping", "--json", "--timeout", "0.5")
    assert ping.returncode == 1
    failed = json.loads(ping.stdout)["failed"]
    assert ["h1", "10.0.3.2"] in failed and all(len(f) == 2 for f in failed)
    again = run_nslab("up", "figure1", "--lab", name)
    assert again.returncode == 0 and "1 changed" in again.stdout
    down = run_nslab("down")
    assert down.returncode == 0 and "7 changed" in down.stdout
    down = run_nslab("down", "--lab", name)
    assert down.returncode == 0 and "already so" in down.stdout


def test_cli_up_with_other_topology_under_same_name_is_refused(root, state, unique):
    name = unique()
    run_nslab("up", "two-containers", "--lab", name, check=True)
    other = run_nslab("up", "figure1", "--lab", name)
    assert other.returncode == 2 and "different topology" in other.stderr
    assert len(other.stderr.strip().splitlines()) == 1
    run_nslab("down", "--lab", name, check=True)


def test_cli_without_privileges_says_so_in_one_line(root, state, tmp_path):
    """A normal user builds labs in their own sandbox (tests/integration/test_rootless.py); where that is
    switched off (NSLAB_ROOTLESS=0) or impossible (no folder of their own), one line says so, nothing written."""
    if subprocess.run(["which", "setpriv"], capture_output=True).returncode:
        pytest.fail("setpriv (util-linux) is needed for this test")
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *nslab_cmd(), "up", "figure1"]
    for extra, words in (({"NSLAB_ROOTLESS": "0"}, ("privileges", "sandbox", "root")),
                         ({}, ("cannot write nslab's state folder", "NSLAB_STATE_DIR"))):
        env = {**os.environ, "NSLAB_STATE_DIR": str(tmp_path / "nobody"), **extra}
        proc = subprocess.run(as_nobody, capture_output=True, text=True, env=env)
        assert proc.returncode == 1, proc
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and all(w in lines[0] for w in words), lines
        assert "Traceback" not in proc.stderr
        assert not (tmp_path / "nobody").exists()  # refused before anything was written


def test_a_chain_past_the_ttl_fails_where_the_model_says(root, state, unique):
    """chain:64 puts 64 routers between h1 and h2: a TTL of 64 crosses 63. The kernel answers
    "time exceeded", the model predicts exactly the probes that fail, and RTTs are the kernel's."""
    lab = Lab.load("chain:64", lab=unique())
    try:
        lab.up()
        matrix = lab.ping_matrix()
        failed = {(p.source, p.node) for p in matrix.probes if not p.ok}
        assert failed == {("h1", "h2"), ("h2", "h1")}, failed
        assert all(p.ok == p.expected for p in matrix.probes)
        far = next(p for p in matrix.probes if (p.source, p.node) == ("h1", "h2"))
        assert far.error.startswith("time exceeded") and far.rtt_ms is None
        rtts = [p.rtt_ms for p in matrix.probes if p.ok]
        assert all(r is not None and 0 <= r < 1000 for r in rtts)
        # kernel stamps, not this process's reading delays: a round trip over 2 hops is shorter
        # than one over 80 or more, on every source
        order = {n: i for i, n in enumerate(lab.topology.node_names)}
        near = sorted(p.rtt_ms for p in matrix.probes if p.ok and abs(order[p.source] - order[p.node]) == 1)
        far = sorted(p.rtt_ms for p in matrix.probes if p.ok and abs(order[p.source] - order[p.node]) >= 40)
        assert near[len(near) // 2] < far[len(far) // 2], (near[len(near) // 2], far[len(far) // 2])
    finally:
        lab.down()
