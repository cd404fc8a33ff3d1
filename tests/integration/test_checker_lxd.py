"""The checker on a two-container lab built BY HAND on LXD, as the activity does it.

``lxc launch``, ``lxc info`` for the init PID, ``mkdir -p /var/run/netns`` and
``ln -sf /proc/PID/ns/net /var/run/netns/NAME``, a veth made in the host and moved, the
student's own addresses (one set from a shell in the container, one with ``ip -n``): graded
5/5 from the command line and from Python, with no record and no "run lab.up() first".  Names
carry the prefix ``h2``; the test removes exactly the containers and links it made.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid

import pytest
import yaml

import nslab_kernel
from nslab_kernel import Lab
from nslab_kernel.core import records
from tests.support import IS_ROOT, need, run_nslab

pytestmark = [pytest.mark.root, pytest.mark.lxd]


def sh(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=120)


@pytest.fixture
def lxd_lab(tmp_path, monkeypatch):
    need(IS_ROOT, "needs root")
    from nslab_kernel.backends.lxd import connect, socket_path
    need(socket_path() is not None, "needs a running LXD daemon (scripts/lxd-start.sh starts one)")
    from nslab_kernel.backends.images import ensure_image
    ensure_image(connect())
    monkeypatch.setenv("NSLAB_STATE_DIR", str(tmp_path / "state"))
    name = f"h2{uuid.uuid4().hex[:6]}"
    data = nslab_kernel.load("two-containers").to_dict()
    data.update(name=name, naming={"netns": "net-{lab}-{node}", "container": "{lab}-{node}"})
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    topo = nslab_kernel.load(str(path))
    yield topo, str(path)
    for node in topo.node_names:
        sh("lxc", "delete", "--force", topo.container_name(node))
        link = f"/var/run/netns/{topo.netns_name(node)}"
        if os.path.islink(link):
            os.unlink(link)
    for suffix in ("a", "b"):  # the veth, if a failure left it in the host
        sh("ip", "link", "del", f"{name}{suffix}")
    if (tmp_path / "state" / "labs").exists():
        nslab_kernel.cleanup(lxd=False)


def init_pid(container: str) -> int:
    info = sh("lxc", "info", container).stdout
    return int(re.search(r"^PID: (\d+)$", info, re.M).group(1))


def test_hand_built_two_containers_on_lxd_graded_5_of_5(lxd_lab):
    topo, path = lxd_lab
    c1, c2 = (topo.container_name(n) for n in topo.node_names)
    n1, n2 = (topo.netns_name(n) for n in topo.node_names)

    # Before anything exists, the hints are LXD's commands, not 'ip netns add'
    lab = Lab.load(path, backend="lxd")
    first = lab.check(["nodes"])
    assert first.scores() == {"nodes": (0, 2)}
    exact = first.items[0].hint(3)
    assert f"lxc launch nslab-busybox {c1}" in exact and f"lxc info {c1}" in exact
    assert f"ln -sf /proc/<PID>/ns/net /var/run/netns/{n1}" in exact and "ip netns add" not in exact
    cli = run_nslab("check", path, "--backend", "lxd", "--section", "nodes")
    assert cli.returncode == 1 and f"lxc launch nslab-busybox {c1}" in cli.stdout

    # lxc launch: the hint now names the real PID of init, as lxc info shows it
    for c in (c1, c2):
        assert sh("lxc", "launch", "nslab-busybox", c).returncode == 0
    pids = {c: init_pid(c) for c in (c1, c2)}
    second = lab.check(["nodes"])
    assert f"ln -sf /proc/{pids[c1]}/ns/net /var/run/netns/{n1}" in second.items[0].hint(3)
    assert str(pids[c1]) in second.items[0].missing

    # the activity's symlink, veth made in the host and moved, addresses of the student's choice
    os.makedirs("/var/run/netns", exist_ok=True)
    for c, n in ((c1, n1), (c2, n2)):
        assert sh("ln", "-sf", f"/proc/{pids[c]}/ns/net", f"/var/run/netns/{n}").returncode == 0
    a, b = f"{topo.name}a", f"{topo.name}b"
    for cmd in (["ip", "link", "add", a, "type", "veth", "peer", "name", b],
                ["ip", "link", "set", "dev", a, "netns", n1, "name", "v-1a"],
                ["ip", "link", "set", "dev", b, "netns", n2, "name", "v-1b"],
                ["lxc", "exec", c1, "--", "ifconfig", "v-1a", "10.1.1.1", "netmask", "255.255.255.0", "up"],
                ["ip", "netns", "exec", n2, "ip", "addr", "add", "10.1.1.2/24", "dev", "v-1b"],
                ["ip", "netns", "exec", n2, "ip", "link", "set", "v-1b", "up"]):
        done = sh(*cmd)
        assert done.returncode == 0, (cmd, done.stderr)

    out = run_nslab("check", path, "--backend", "lxd", "--nbgrader", "--timeout", "3")
    assert out.returncode == 0, out.stdout + out.stderr
    grades = json.loads(out.stdout)
    assert grades["score"] == grades["max_score"] == 5
    assert run_nslab("check", path, "--timeout", "3").returncode == 0  # the symlinks into /proc say it is LXD: same grade
    report = Lab.load(path, backend="lxd").check(timeout=3)
    assert report.passed, str(report)
    assert report.nbgrader()["score"] == 5
    assert "10.1.1.2/24" in next(i.right for i in report.items if i.target == "contenedor2:v-1b")

    # a refused up (the containers are not nslab's) leaves nothing behind, not even a record
    with pytest.raises(nslab_kernel.NameClash):
        Lab.load(path, backend="lxd").up()
    assert not records.record_path(topo.name).exists()
    assert topo.name not in run_nslab("status").stdout
    assert Lab.load(path, backend="lxd").check(timeout=3).passed  # and nothing of the student's was touched

    # a restarted container: its netns is new, the name dangles; the hint gives the new PID
    assert sh("lxc", "restart", "--force", c2).returncode == 0
    after = Lab.load(path, backend="lxd").check(["nodes"])
    bad = next(i for i in after.failed if i.target == "contenedor2")
    assert f"ln -sf /proc/{init_pid(c2)}/ns/net /var/run/netns/{n2}" in bad.hint(3)


def test_a_lab_nslab_built_on_lxd_is_graded_the_same(lxd_lab):
    topo, path = lxd_lab
    lab = Lab.load(path, backend="lxd")
    lab.up()
    try:
        report = lab.check(timeout=3)
        assert report.passed and report.nbgrader()["score"] == 5, str(report)
        out = run_nslab("check", path, "--nbgrader", "--timeout", "3")  # the record says LXD
        assert out.returncode == 0 and json.loads(out.stdout)["score"] == 5, out.stdout + out.stderr
        assert "container" in next(i.right for i in report.items if i.section == "nodes")
    finally:
        lab.down()
    assert not records.record_path(topo.name).exists()
