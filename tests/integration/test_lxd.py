"""The LXD backend on the real daemon (root, no mocks): the activity's sections 2 and 3 as tests."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from nslab_kernel import InputError, Lab, NameClash, cleanup
from nslab_kernel.backends.lxd import TAG_INSTANCE, TAG_LEDGER, connect, init_pids, socket_path
from nslab_kernel.core import records
from tests.support import IS_ROOT, need, netns_names, nslab_cmd, run_nslab

pytestmark = [pytest.mark.root, pytest.mark.lxd]


@pytest.fixture(scope="module")
def client():
    need(IS_ROOT, "needs root")
    need(socket_path() is not None, "needs a running LXD daemon (scripts/lxd-start.sh starts one)")
    c = connect()
    from nslab_kernel.backends.images import ensure_image
    ensure_image(c)
    return c


def containers(client) -> set[str]:
    return {i.name for i in client.instances.all()}


@pytest.fixture
def lxd_clean(client, state):
    """Whatever a test leaves in LXD with nslab's tag is removed; and nothing else changes.

    Only this test's containers (tagged with its own state dir) are looked at: others may be using
    the same daemon at the same time."""
    mine = records.ledger_id()

    def own() -> set[str]:
        return {i.name for i in client.instances.all() if i.config.get(TAG_LEDGER) == mine}

    before = own()
    yield client
    try:
        cleanup()
    finally:
        for inst in client.instances.all():
            if inst.name not in before and inst.config.get(TAG_INSTANCE) and inst.config.get(TAG_LEDGER) == mine:
                subprocess.run(["lxc", "delete", "--force", inst.name], capture_output=True)
    assert own() == before


def test_section2_container_processes_live_in_another_netns(lxd_clean):
    lab = Lab.load("two-containers", backend="lxd")
    lab.add_node("contenedor1")
    host_inode = os.stat("/proc/self/ns/net").st_ino  # the host netns, where this test runs
    pid = init_pids()["contenedor1"]
    assert pid == lxd_clean.instances.get("contenedor1").state().pid  # the PID 'lxc info' shows
    container_inode = os.stat(f"/proc/{pid}/ns/net").st_ino
    assert container_inode != host_inode
    # every process of the container (its init's descendants) shares that netns
    procs = [p for p in os.listdir("/proc") if p.isdigit()
             and "lxc.payload.contenedor1" in open(f"/proc/{p}/cgroup").read()]
    assert procs and {os.stat(f"/proc/{p}/ns/net").st_ino for p in procs} == {container_inode}
    # the netns is named the activity's way: a symlink to the init's /proc/PID/ns/net
    link = "/var/run/netns/net-contenedor1"
    assert os.readlink(link) == f"/proc/{pid}/ns/net"
    assert os.stat(link).st_ino == container_inode
    # and `ip netns exec` works with that name, as a student would type it
    out = subprocess.run(["ip", "netns", "exec", "net-contenedor1", "ip", "-o", "link"], capture_output=True, text=True)
    assert out.returncode == 0 and "lo:" in out.stdout
    lab.down()
    assert not os.path.lexists(link)


def test_section3_veth_pair_carries_a_ping_between_containers(lxd_clean):
    lab = Lab.load("two-containers", backend="lxd")
    report = lab.up()
    assert "ip link add v-1a netns net-contenedor1 type veth peer name v-1b netns net-contenedor2" in report.commands()
    st = lab.state()
    assert st.nodes["contenedor1"].interface("v-1a").peer == "contenedor2:v-1b"
    ping = lab.exec("contenedor1", ["ping", "-c1", "-W2", "192.168.100.2"])  # busybox ping, inside the container
    assert ping.returncode == 0 and "1 packets received" in ping.stdout, ping
    assert lab.ping_matrix().reachable
    # deleting one end deletes the pair
    lab.delete_link("contenedor1:v-1a")
    assert lab.exec("contenedor1", ["ping", "-c1", "-W1", "192.168.100.2"]).returncode != 0
    assert lab.state().nodes["contenedor2"].interface("v-1b") is None
    lab.down()


def test_figure1_on_lxd_full_matrix(lxd_clean, unique):
    lab = Lab.load("figure1", backend="lxd", lab=unique())
    lab.up()
    matrix = lab.ping_matrix()
    assert matrix.reachable, str(matrix)
    assert len(matrix.pairs) == 42
    for node in lab.topology.node_names:  # no LXD network device: only the lab's veths and lo
        inst = lxd_clean.instances.get(lab.topology.container_name(node))
        assert inst.config["user.nslab.lab"] == lab.name and inst.config["user.nslab.node"] == node
        assert not any(d.get("type") == "nic" for d in inst.expanded_devices.values())
    assert not lab.up().changed  # converged: everything already so
    lab.down()


def test_restarted_container_is_detected_stale_and_up_converges(lxd_clean, unique):
    lab = Lab.load("figure1", backend="lxd", lab=unique())
    lab.up()
    cname = lab.topology.container_name("r2")
    subprocess.run(["lxc", "restart", "--force", cname], check=True)
    assert lab.backend.node_state(lab.topology, lab._record(False), "r2") == "stale"
    assert lab.status()["nodes"]["r2"]["state"] == "stale"
    with pytest.raises(InputError, match="stale netns name"):
        lab.add_routes("r2")
    assert not lab.ping_matrix(timeout=0.5).reachable
    report = lab.up()
    relinked = [s for s in report if s.action == "netns" and s.changed]
    assert len(relinked) == 1 and "re-linked" in relinked[0].note
    assert lab.ping_matrix().reachable
    # a stopped container: up starts it again
    subprocess.run(["lxc", "stop", "--force", lab.topology.container_name("h4")], check=True)
    assert lab.status()["nodes"]["h4"]["state"] in ("stopped", "stale")
    lab.up()
    assert lab.ping_matrix().reachable
    lab.down()


def test_kill_during_up_then_cleanup_leaves_nothing(lxd_clean, state, unique):
    before_ns, before_ct = netns_names(), containers(lxd_clean)
    name = unique()
    proc = subprocess.Popen([*nslab_cmd(), "up", "figure1", "--backend", "lxd", "--lab", name],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    record = state / "labs" / f"{name}.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if record.exists() and record.read_text().count('"t": "container"') >= 3:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    result = run_nslab("cleanup")
    assert result.returncode == 0, result.stderr
    assert containers(lxd_clean) == before_ct
    assert netns_names() == before_ns
    assert not record.exists()


def test_foreign_container_with_a_lab_name_is_never_touched(lxd_clean, unique):
    lab = Lab.load("figure1", backend="lxd", lab=unique())
    decoy = lab.topology.container_name("r3")
    subprocess.run(["lxc", "init", "nslab-busybox", decoy], check=True, capture_output=True)
    try:
        with pytest.raises(NameClash, match=f"container named '{decoy}' already exists"):
            lab.up()
        lab.down()
        cleanup()
        assert decoy in containers(lxd_clean)
    finally:
        subprocess.run(["lxc", "delete", "--force", decoy], capture_output=True)


def test_cleanup_removes_tagged_containers_whose_record_was_lost(lxd_clean, state, unique):
    lab = Lab.load("two-containers", backend="lxd")
    lab.up()
    record = state / "labs" / "two-containers.jsonl"
    record.unlink()  # the crash lost the record; the tags in LXD still prove what is nslab's
    reports = cleanup()
    assert any("whose record is gone" in r.title for r in reports)
    assert not {"contenedor1", "contenedor2"} & containers(lxd_clean)
    assert not os.path.lexists("/var/run/netns/net-contenedor1")


def test_cleanup_leaves_the_containers_of_another_state_dir_alone(lxd_clean, state, unique, tmp_path, monkeypatch):
    """Another user's (or another test's) lab is not an orphan: its record is in another state dir."""
    lab = Lab.load("chain:1", backend="lxd", lab=unique("o"))
    lab.up()
    try:
        monkeypatch.setenv("NSLAB_STATE_DIR", str(tmp_path / "another-state-dir"))
        assert cleanup(lxd=True) == []
        assert {lab.topology.container_name(n) for n in lab.topology.node_names} <= containers(lxd_clean)
    finally:
        monkeypatch.setenv("NSLAB_STATE_DIR", str(state))
        lab.down()


def test_cli_errors_for_lxd(client, state, tmp_path):
    gone = run_nslab("up", "two-containers", "--backend", "lxd", env={"LXD_SOCKET": str(tmp_path / "no.socket")})
    assert gone.returncode == 1
    assert gone.stderr.count("\n") == 1 and "LXD is installed but not running" in gone.stderr
    missing = run_nslab("up", "two-containers", "--backend", "lxd", "--image", "no-such-image")
    assert missing.returncode == 2 and "LXD has no image 'no-such-image'" in missing.stderr
    assert "Traceback" not in missing.stderr + gone.stderr
    bare = tmp_path / "bin"
    bare.mkdir()
    absent = run_nslab("up", "two-containers", "--backend", "lxd",
                       env={"PATH": str(bare), "LXD_SOCKET": str(tmp_path / "no.socket")})
    assert absent.returncode == 1 and absent.stderr.count("\n") == 1
    assert "LXD is not installed: install it" in absent.stderr
    again = run_nslab("image")
    assert again.returncode == 0 and "already so" in again.stdout


def test_lxd_socket_not_accessible_says_so_in_one_line(client, tmp_path):
    """A user outside root and the lxd group: one line each, and nothing written."""
    need(subprocess.run(["which", "setpriv"], capture_output=True).returncode == 0, "needs setpriv (util-linux)")
    env = {**os.environ, "NSLAB_STATE_DIR": str(tmp_path / "nobody")}
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *nslab_cmd()]
    image = subprocess.run([*as_nobody, "image"], capture_output=True, text=True, env=env, timeout=60)
    assert image.returncode == 1 and image.stderr.count("\n") == 1, image
    assert "cannot talk to LXD" in image.stderr and "not accessible to this user" in image.stderr
    up = subprocess.run([*as_nobody, "up", "two-containers", "--backend", "lxd"], capture_output=True, text=True,
                        env=env, timeout=60)
    assert up.returncode == 1 and up.stderr.count("\n") == 1 and "sudo" in up.stderr, up
    assert "--backend netns" in up.stderr  # a normal user's way: their own sandbox
    assert "Traceback" not in image.stderr + up.stderr
    assert not (tmp_path / "nobody").exists()
    assert "contenedor1" not in containers(client)


def test_image_not_buildable_names_the_package_and_imports_nothing(client, monkeypatch):
    from nslab_kernel import BackendError
    from nslab_kernel.backends import images
    monkeypatch.setattr(images, "BUSYBOX_PATHS", ("/nonexistent/busybox",))
    before = {i.fingerprint for i in client.images.all()}
    alias = f"nslab-missing-{os.getpid()}"
    with pytest.raises(BackendError) as info:
        images.ensure_image(client, alias)
    assert "busybox-static" in str(info.value) and "apt-get install busybox-static" in str(info.value)
    assert {i.fingerprint for i in client.images.all()} == before
    assert not images.image_exists(client, alias)


def test_image_tarball_is_busybox_with_the_tools_students_use():
    import io
    import tarfile
    from nslab_kernel.backends.images import build_tarball
    with tarfile.open(fileobj=io.BytesIO(build_tarball())) as tar:
        names = set(tar.getnames())
        assert {"metadata.yaml", "rootfs/bin/busybox", "rootfs/sbin/init", "rootfs/etc/inittab"} <= names
        for tool in ("rootfs/sbin/ip", "rootfs/sbin/ifconfig", "rootfs/bin/ping", "rootfs/sbin/sysctl"):
            assert tar.getmember(tool).linkname == "/bin/busybox"
