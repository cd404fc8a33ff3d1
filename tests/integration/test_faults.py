"""Faults, ownership and isolation: kill nslab anywhere, and it still leaves no debris and touches
nothing that is not its own.  The counts are printed for the closing note (run with -s)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time

import pytest

from nslab_kernel import Lab, RecordError, cleanup
from tests.support import need, netns_names, nslab_cmd, run_nslab

pytestmark = [pytest.mark.root, pytest.mark.slow]
KILLS_NETNS = int(os.environ.get("NSLAB_KILLS", "20"))
KILLS_LXD = int(os.environ.get("NSLAB_KILLS_LXD", "3"))


def lab_names(prefix: str) -> set[str]:
    return {n for n in netns_names() if n.startswith(prefix + "-")}


@pytest.fixture
def decoys(root, unique):
    """Things that look like nslab's but are in no record: namespaces named like nodes of the lab the
    test kills (r31 and h9 are not in chain:30), one holding a veth pair.  None may be touched."""
    prefix = unique("x")
    made = {"netns": [f"{prefix}-r31", f"{prefix}-h9"]}
    for name in made["netns"]:
        subprocess.run(["ip", "netns", "add", name], check=True)
    subprocess.run(["ip", "-n", made["netns"][0], "link", "add", "eth0", "type", "veth", "peer", "name", "eth1"],
                   check=True)
    yield prefix, made
    for name in made["netns"]:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def decoys_intact(made) -> bool:
    if not set(made["netns"]) <= netns_names():
        return False
    links = subprocess.run(["ip", "-n", made["netns"][0], "-o", "link"], capture_output=True, text=True).stdout
    return "eth0@eth1" in links and "eth1@eth0" in links


def kill_during(argv: list[str], delay: float) -> int:
    proc = subprocess.Popen([*nslab_cmd(), *argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=os.environ.copy())
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    return proc.wait(timeout=60)


def test_sigkill_at_random_points_during_up_netns(state, unique, decoys):
    prefix, made = decoys
    rng = random.Random(7)
    survived = 0
    lab = prefix  # the decoys are named like this lab's nodes
    for i in range(KILLS_NETNS):
        kill_during(["up", "chain:30", "--lab", lab], rng.uniform(0.0, 0.5))
        result = run_nslab("cleanup")
        assert result.returncode == 0, result.stderr
        assert lab_names(lab) == set(made["netns"]), f"kill {i}: left {lab_names(lab) - set(made['netns'])}"
        assert not list((state / "labs").glob("*")), f"kill {i}: records left"
        assert decoys_intact(made), f"kill {i}: a decoy was touched"
        survived += 1
    again = Lab.load("chain:30", lab=lab)
    again.up()
    assert again.ping_matrix().reachable
    again.down()
    print(f"\nNSLAB_FIGURES netns kills survived: {survived}/{KILLS_NETNS}, decoys untouched: {len(made['netns']) + 1}")


def test_sigkill_during_up_lxd(root, state, unique):
    from nslab_kernel.backends.lxd import connect, socket_path
    need(socket_path() is not None, "needs a running LXD daemon")
    client = connect()
    prefix = unique("l")
    decoy = f"{prefix}k0-r1"  # exactly a node's container name of the first lab, but not nslab's
    subprocess.run(["lxc", "init", "nslab-busybox", f"{prefix}-decoy"], check=True, capture_output=True)
    before = {i.name for i in client.instances.all()}
    rng = random.Random(11)
    survived = 0
    try:
        for i in range(KILLS_LXD):
            lab = f"{prefix}k{i}"
            if i == 0:
                subprocess.run(["lxc", "init", "nslab-busybox", decoy], check=True, capture_output=True)
                before.add(decoy)
                code = run_nslab("up", "chain:30", "--backend", "lxd", "--lab", lab)
                assert code.returncode == 2 and "already exists and is not part of lab" in code.stderr
                subprocess.run(["lxc", "delete", "--force", decoy], check=True, capture_output=True)
                before.discard(decoy)
            kill_during(["up", "chain:30", "--backend", "lxd", "--lab", lab], rng.uniform(1.0, 8.0))
            result = run_nslab("cleanup")
            assert result.returncode == 0, result.stderr
            assert {i.name for i in client.instances.all()} == before
            assert not lab_names(lab) and not list((state / "labs").glob("*"))
            survived += 1
        lab = Lab.load("chain:5", backend="lxd", lab=f"{prefix}again")
        lab.up()
        assert lab.ping_matrix().reachable
        lab.down()
    finally:
        cleanup()
        subprocess.run(["lxc", "delete", "--force", f"{prefix}-decoy"], capture_output=True)
    print(f"\nNSLAB_FIGURES lxd kills survived: {survived}/{KILLS_LXD}, decoy containers untouched: 2")


def test_jupyter_kernel_killed_mid_cell(root, state, unique):
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import start_new_kernel
    need("nslab" in KernelSpecManager().find_kernel_specs(), "the 'Python 3 (nslab)' kernel is needed")
    lab = unique()
    km, kc = start_new_kernel(kernel_name="nslab", env=os.environ.copy())
    try:
        kc.execute(f"from nslab_kernel import Lab\nLab.load('chain:30', lab='{lab}').up()")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not lab_names(lab):
            time.sleep(0.005)
        os.kill(km.provisioner.process.pid, signal.SIGKILL)  # mid-cell: no at-exit hook runs
        km.provisioner.process.wait(timeout=10)
    finally:
        kc.stop_channels()
        km.cleanup_resources()
    result = run_nslab("cleanup")
    assert result.returncode == 0, result.stderr
    assert not lab_names(lab) and not list((state / "labs").glob("*"))


def test_corrupt_or_missing_record_deletes_nothing_unproven(root, state, unique):
    lab = Lab.load("figure1", lab=unique())
    lab.up()
    record = state / "labs" / f"{lab.name}.jsonl"
    good = record.read_text()
    lines = good.splitlines()
    record.write_text("\n".join(lines[:3] + ["{not json"] + lines[3:]) + "\n")
    result = run_nslab("cleanup")
    assert result.returncode == 1 and "corrupt" in result.stderr and "deletes nothing" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert len(lab_names(lab.name)) == 7  # nothing was deleted
    with pytest.raises(RecordError):
        cleanup()
    record.write_text(good)
    assert len(cleanup()) == 1 and not lab_names(lab.name)
    # missing record: nslab cannot prove the namespaces are its own, so it leaves them
    lab.up()
    record.unlink()
    result = run_nslab("cleanup")
    assert result.returncode == 0 and "no record" in result.stdout
    assert len(lab_names(lab.name)) == 7
    for name in lab_names(lab.name):
        subprocess.run(["ip", "netns", "del", name], check=True)


def test_two_ups_of_the_same_lab_at_once(root, state, unique):
    name = unique()
    procs = [subprocess.Popen([*nslab_cmd(), "up", "chain:30", "--lab", name], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=os.environ.copy()) for _ in range(2)]
    results = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
    for out, err, code in results:
        assert code == 0 or (code == 1 and "being changed by another nslab process" in err), err
    assert any(code == 0 for *_x, code in results)
    records = list((state / "labs").glob("*.jsonl"))
    headers = [json.loads(line) for line in records[0].read_text().splitlines() if '"t": "lab"' in line]
    assert len(records) == 1 and len(headers) == 1  # one lab, never a mix of two
    check = run_nslab("check", "chain:30", "--lab", name, "--json")
    assert json.loads(check.stdout)["passed"] is True, check.stdout[-2000:]
    run_nslab("down", "--lab", name, check=True)


def test_a_name_that_points_at_the_host_namespace_is_refused(root, state, unique):
    lab = Lab.load("figure1", lab=unique())
    trap = lab.topology.netns_name("r1")
    subprocess.run(["ip", "netns", "attach", trap, str(os.getpid())], check=True)  # the host's own netns, named
    try:
        host_links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
        out = run_nslab("up", "figure1", "--lab", lab.name)
        assert out.returncode == 2 and f"'{trap}' already exists and nslab did not create it" in out.stderr
        assert subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout == host_links
        assert trap in netns_names()
    finally:
        subprocess.run(["ip", "netns", "del", trap], capture_output=True)
    from nslab_kernel.core.state import NodeHandle
    from nslab_kernel.kernel import netconf
    with pytest.raises(Exception, match="host's own namespace"):  # and the worker itself refuses, whatever the path
        netconf.for_each_netns({"x": NodeHandle("x", "host", f"/proc/{os.getpid()}/ns/net")}, lambda ns, k: None)


@pytest.mark.parametrize("argv", [["up", "figure1"], ["up", "figure1", "--backend", "lxd"], ["down", "--lab", "x"],
                                  ["ping", "--lab", "x"], ["cleanup"], ["check", "figure1"], ["explain", "h1", "h2"],
                                  ["exec", "h1", "--", "true"], ["shell", "h1", "--lab", "x"], ["image"], ["doctor"],
                                  ["status"]],
                         ids=lambda a: " ".join(a))
def test_without_privileges_every_command_says_what_is_missing(root, argv, tmp_path):
    need(subprocess.run(["which", "setpriv"], capture_output=True).returncode == 0, "setpriv is needed")
    env = {**os.environ, "NSLAB_STATE_DIR": str(tmp_path / "nobody-state"), "HOME": "/nonexistent"}
    os.chmod(tmp_path, 0o755)
    proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *nslab_cmd(), *argv],
                          capture_output=True, text=True, env=env, timeout=60)
    assert "Traceback" not in proc.stderr
    if argv[0] in ("status", "doctor"):
        assert proc.returncode in (0, 1)
        if argv[0] == "doctor":  # a normal user builds labs in a sandbox of their own; LXD stays root's
            assert "sandbox" in proc.stdout and "namespaces" in proc.stdout and "lxd" in proc.stdout.lower()
        return
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode in (1, 2) and len(lines) == 1, (proc.returncode, proc.stderr)
    assert any(word in lines[0] for word in ("sudo", "root", "no lab", "not up", "LXD")), lines[0]



def test_cleanup_removes_temporaries_whose_writer_died(root, state):
    """A kill between writing a record's header and renaming it leaves a temporary file."""
    from nslab_kernel.core import records
    (state / "labs").mkdir(parents=True, exist_ok=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = state / "labs" / f".lab1.{dead.pid}.tmp"
    live = state / "labs" / f".lab2.{os.getpid()}.tmp"
    stale.write_text("{}")
    live.write_text("{}")
    run_nslab("cleanup", check=True)
    assert not stale.exists() and live.exists()  # a running writer's file is left alone
    live.unlink()
    assert records.remove_stale_temporaries() == []


def test_a_read_only_proc_sys_refuses_routers_before_building_and_says_how(root, state, unique):
    """A container's default /proc/sys is read-only: Figure 1 (routers must forward) is refused up front, in
    one line naming the fix, leaving nothing; a lab without routers still builds there."""
    lab, plain = unique("ro"), unique("rp")
    script = (f"mount -o bind,ro /proc/sys /proc/sys && "
              f"{' '.join(nslab_cmd())} up figure1 --lab {lab}; echo FIG1=$?; "
              f"NSLAB_LANG=es {' '.join(nslab_cmd())} up figure1 --lab {lab} 2>&1 >/dev/null; "
              f"{' '.join(nslab_cmd())} up two-containers --lab {plain} >/dev/null && echo PLAIN=ok; "
              f"{' '.join(nslab_cmd())} down --lab {plain} >/dev/null && echo DOWN=ok")
    proc = subprocess.run(["unshare", "--mount", "sh", "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NSLAB_STATE_DIR": str(state)})
    assert "FIG1=1" in proc.stdout, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines[0].startswith("nslab: error: cannot set net.ipv4.ip_forward: /proc/sys is read-only"), lines
    assert "unmask=ALL" in lines[0] and "procMount: Unmasked" in lines[0] and len(lines) == 1, lines
    assert "nslab: error: no se puede activar net.ipv4.ip_forward: /proc/sys es de solo lectura" in proc.stdout
    assert "PLAIN=ok" in proc.stdout and "DOWN=ok" in proc.stdout, proc.stdout + proc.stderr
    assert not lab_names(lab) and not lab_names(plain)
    assert not (state / "labs").exists() or not list((state / "labs").glob(f"{lab}*"))
