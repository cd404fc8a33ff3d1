"""A shell in a node, without a browser: the pty, the ledger, the lab's lifetime (root, real kernel, real LXD).

Every lab is named ``h4...`` and lives in a private state dir; each test takes
down what it made, and nothing else (no LXD orphan sweep: the daemon is shared).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid

import pytest

from nslab_kernel import InputError, Lab
from nslab_kernel.core import records
from nslab_kernel.core.i18n import _
from nslab_kernel.kernel import pty
from nslab_kernel.kernel.pty import read_until
from nslab_kernel.lifecycle import terminals
from nslab_kernel.lifecycle.lab import down
from tests.support import IS_ROOT, need, nslab_cmd

pytestmark = [pytest.mark.root]

TWO = """
name: two
nodes: {a: {}, b: {}}
links:
  - endpoints: ["a:eth0", "b:eth0"]
    addresses: ["10.9.0.1/24", "10.9.0.2/24"]
"""


@pytest.fixture
def own_state(tmp_path, monkeypatch):
    """A private state dir whose labs are taken down afterwards, and nothing else: the shared
    ``state`` fixture's ``cleanup()`` also sweeps LXD for every other lab's containers."""
    need(IS_ROOT, "needs root to create network namespaces")
    folder = tmp_path / "state"
    monkeypatch.setenv("NSLAB_STATE_DIR", str(folder))
    yield folder
    for name in records.lab_names():
        down(name)
    assert not records.lab_names()


@pytest.fixture
def two(tmp_path, own_state):
    path = tmp_path / "two.yaml"
    path.write_text(TWO)
    lab = Lab.load(str(path), backend="netns", lab=f"h4t{uuid.uuid4().hex[:6]}")
    lab.up()
    yield lab
    lab.down()


def typed(term: terminals.Terminal, line: str, expect: bytes, timeout: float = 5.0) -> str:
    since = term.shell.position
    term.write(line + "\n")
    return read_until(term.shell, expect, timeout, since).decode(errors="replace")


def background_job(term: terminals.Terminal) -> int:
    """Start ``sleep 600 &`` in the terminal; return the job's PID."""
    since = term.shell.position
    term.write("sleep 600 & echo started=$!\n")
    deadline = time.monotonic() + 5
    while not (found := re.search(rb"started=(\d+)\n", pty.plain(term.shell.output_since(since)))):
        assert time.monotonic() < deadline, term.shell.output_since(since)
        time.sleep(0.02)
    return int(found.group(1))


def gone(*pids: int, timeout: float = 3.0) -> bool:
    """All ``pids`` ended (a zombie not yet reaped by its parent counts as ended)."""
    deadline = time.monotonic() + timeout
    while any(pty.running(p) for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def session_of(pid: int) -> list[int]:
    out = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                fields = open(f"/proc/{entry.name}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == pid:
                out.append(int(entry.name))
    return out


def test_shell_in_a_netns_sees_the_nodes_interfaces(two):
    term = two.terminal_session("a", rows=30, cols=100)
    try:
        read_until(term.shell, b"(a)", 5)
        text = typed(term, "ip addr", b"10.9.0.1/24")
        assert "eth0@" in text and "10.9.0.2" not in text  # a's own, not b's
        # its network namespace is the node's, not the host's
        assert pty.netns_inode(term.pid) == os.stat(f"/var/run/netns/{two.topology.netns_name('a')}").st_ino
        assert pty.netns_inode(term.pid) != os.stat("/proc/self/ns/net").st_ino
        assert term.command.shown == f"ip netns exec {two.topology.netns_name('a')} bash"
        # TERM for colours
        assert "xterm-256color" in typed(term, "echo $TERM", b"xterm-256color")
    finally:
        term.close()


def test_resize_reaches_stty_size(two):
    term = two.terminal_session("b", rows=30, cols=100)
    try:
        read_until(term.shell, b"(b)", 5)
        typed(term, "stty size", b"30 100")
        term.resize(41, 132)
        typed(term, "stty size", b"41 132")
    finally:
        term.close()


def test_ctrl_c_stops_the_foreground_job_and_ctrl_d_ends_the_shell(two):
    term = two.terminal_session("a")
    ended = []
    term.on_exit(lambda t: ended.append(t.status))
    read_until(term.shell, b"(a)", 5)
    since = term.shell.position
    term.write("sleep 60\n")
    time.sleep(0.3)
    term.write("\x03")  # Ctrl-C
    read_until(term.shell, b"^C", 5, since)
    typed(term, "echo status=$?", b"status=130")
    term.write("\x04")  # Ctrl-D at an empty prompt
    assert term.shell.wait(5) == 0
    assert ended == [0]
    assert not term.alive and term.reason == "exit"
    assert term.closed_text() == _("terminal closed: the shell exited (status {status})").format(status=0)
    assert term not in terminals.live()


def test_a_background_job_ends_with_its_shell(two):
    """A job left behind (``sleep &``) would keep the node's netns alive after ``down``: it is hung up."""
    term = two.terminal_session("a")
    read_until(term.shell, b"(a)", 5)
    job = background_job(term)
    assert pty.running(job)
    term.write("exit\n")
    assert term.shell.wait(5) is not None
    assert gone(job)


def test_several_terminals_are_recorded_and_down_ends_them(two):
    t1, t2, t3 = (two.terminal_session(n) for n in ("a", "b", "a"))
    for t, node in ((t1, "a"), (t2, "b"), (t3, "a")):
        read_until(t.shell, f"({node})".encode(), 5)
    typed(t1, "echo one", b"one")
    typed(t3, "echo three", b"three")  # two shells in one node, independent
    assert "one" not in t3.shell.scrollback().decode()
    status = subprocess.run([*nslab_cmd(), "status", "--lab", two.name, "--json"], capture_output=True, text=True,
                            timeout=60, env=os.environ.copy())
    shells = json.loads(status.stdout)["labs"][0]["terminals"]
    assert sorted((s["node"], s["pid"]) for s in shells) == sorted([("a", t1.pid), ("b", t2.pid), ("a", t3.pid)])
    entries = [e for e in records.read(two.name).of_type("terminal") if "pid" in e]
    assert sorted(e["pid"] for e in entries) == sorted([t1.pid, t2.pid, t3.pid])
    for e in entries:
        assert e["start"] == pty.start_time(e["pid"]) and e["netns_inode"] == pty.netns_inode(e["pid"])
    report = two.down()
    assert [s.action for s in report.steps[:3]] == ["terminal"] * 3 and all(s.changed for s in report.steps[:3])
    for t in (t1, t2, t3):
        assert not t.alive and t.reason == "down"
        assert gone(t.pid)
    assert not terminals.live(two.name)


def test_down_from_another_process_kills_a_recorded_shell_by_pid(two, tmp_path):
    """``nslab down`` in a terminal of its own: the kernel that opened the shell is another process."""
    term = two.terminal_session("b")
    read_until(term.shell, b"(b)", 5)
    job = background_job(term)
    proc = subprocess.run([*nslab_cmd(), "down", "--lab", two.name, "-v"], capture_output=True, text=True,
                          timeout=60, env=os.environ.copy())
    assert proc.returncode == 0, proc.stderr
    assert f"pkill -HUP -s {term.pid}" in proc.stdout
    assert term.shell.wait(5) is not None
    assert gone(job, term.pid)


def test_a_reused_pid_is_never_killed(two):
    """The ledger names a PID; if that PID is now another process (other start time), it is left alone."""
    victim = subprocess.Popen(["sleep", "60"])
    try:
        record = records.read(two.name)
        record.append(t="terminal", id="forged", node="a", command="bash", session=True, pid=victim.pid,
                      start=(pty.start_time(victim.pid) or 0) - 1, netns_inode=None)
        steps = terminals.close_recorded(records.read(two.name))
        assert [s.changed for s in steps if s.target == "a"] == [False]
        assert victim.poll() is None  # still running
    finally:
        victim.kill()
        victim.wait()


def test_a_terminal_needs_the_node_up_and_a_real_backend(tmp_path, own_state):
    path = tmp_path / "two.yaml"
    path.write_text(TWO)
    lab = Lab.load(str(path), backend="netns", lab=f"h4n{uuid.uuid4().hex[:6]}")
    # the messages are the user's language (nslab's, from the environment): compare with their translation
    with pytest.raises(Exception, match=re.escape(_("lab '{lab}' is not up; run lab.up() first").format(lab=lab.name))):
        lab.terminal_session("a")
    with pytest.raises(InputError, match="'zz'"):
        lab.terminal_session("zz")
    sim = Lab.load(str(path), backend="sim", lab=f"h4s{uuid.uuid4().hex[:6]}")
    with pytest.raises(InputError, match=re.escape(_("a simulated network has no real node to open a shell in: terminals "
                                                     "need the netns or lxd backend (run as root, or use the kernel "
                                                     "'Python 3 (nslab)')"))):
        sim.terminal_session("a")
    assert not records.lab_names()  # refused: nothing recorded


def test_closing_a_terminal_ends_its_session(two):
    """Everything started in the shell ends with it, also what left the node's netns (unshare -n)."""
    term = two.terminal_session("a")
    read_until(term.shell, b"(a)", 5)
    background_job(term)
    since = term.shell.position
    term.write("unshare -n sleep 601 & echo elsewhere=$!\n")
    deadline = time.monotonic() + 5
    while not (found := re.search(rb"elsewhere=(\d+)\n", pty.plain(term.shell.output_since(since)))):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    elsewhere = int(found.group(1))
    deadline = time.monotonic() + 5  # $! is known before unshare has left the node's netns (a busy machine)
    while pty.netns_inode(elsewhere) in (None, pty.netns_inode(term.pid)):
        assert time.monotonic() < deadline, "unshare -n never left the node's netns"
        time.sleep(0.02)
    members = session_of(term.pid)
    assert elsewhere in members
    assert term.pid in members and len(members) >= 2
    term.close()
    assert term.reason == "closed" and not term.alive
    assert gone(*members)


def test_kernel_exit_closes_its_terminals(two, tmp_path):
    """A Python process (a notebook kernel) that exits takes its shells with it (atexit)."""
    script = tmp_path / "kernel.py"
    script.write_text(f"""
from nslab_kernel import Lab
from nslab_kernel.kernel.pty import read_until
lab = Lab.open({two.name!r})
t = lab.terminal_session("a")
read_until(t.shell, b"(a)", 5)
t.write("sleep 600 & echo started=$!\\n")
read_until(t.shell, b"started=", 5)
print(t.pid, flush=True)
""")
    out = subprocess.run([os.environ.get("PYTHON", os.sys.executable), str(script)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    pid = int(out.stdout.split()[-1])
    assert gone(pid)


def test_a_killed_kernel_hangs_up_its_shells(two, tmp_path):
    """SIGKILL gives atexit no chance: the pty's master end closes and the kernel hangs the shell up."""
    script = tmp_path / "killed.py"
    script.write_text(f"""
import os, signal
from nslab_kernel import Lab
from nslab_kernel.kernel.pty import read_until
t = Lab.open({two.name!r}).terminal_session("b")
read_until(t.shell, b"(b)", 5)
print(t.pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
""")
    out = subprocess.run([os.sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert out.returncode == -9
    assert gone(int(out.stdout.split()[-1]))


# --- LXD -------------------------------------------------------------------------------------------

@pytest.fixture
def container_lab(tmp_path, own_state):
    from nslab_kernel.backends.lxd import socket_path
    need(socket_path() is not None, "needs a running LXD daemon (scripts/lxd-start.sh starts one)")
    path = tmp_path / "two.yaml"
    path.write_text(TWO)
    lab = Lab.load(str(path), backend="lxd", lab=f"h4x{uuid.uuid4().hex[:5]}")
    try:
        lab.up()
        yield lab
    finally:
        lab.down()


@pytest.mark.lxd
def test_shell_in_an_lxd_container(container_lab):
    lab = container_lab
    term = lab.terminal_session("a", rows=25, cols=90)
    try:
        read_until(term.shell, b"(a)", 10)
        assert term.command.shown == f"lxc exec {lab.topology.container_name('a')} -- sh"
        text = typed(term, "ip addr", b"10.9.0.1/24")
        assert "10.9.0.2" not in text
        assert "\ninit\n" in typed(term, "cat /proc/1/comm", b"\ninit\n")  # the container's own PID 1
        typed(term, "stty size", b"25 90")
        term.resize(33, 111)
        typed(term, "stty size", b"33 111")
        since = term.shell.position
        term.write("sleep 60\n")
        time.sleep(0.3)
        term.write("\x03")
        typed(term, "echo status=$?", b"status=130")
        background_job(term)
        members = session_of(term.pid)
        assert len(members) >= 2
    finally:
        report = lab.down()
    assert report.steps[0].action == "terminal" and report.steps[0].changed
    assert term.shell.wait(5) is not None and term.reason == "down"
    assert gone(*members)


@pytest.mark.lxd
def test_ctrl_d_in_a_container(container_lab):
    term = container_lab.terminal_session("b")
    read_until(term.shell, b"(b)", 10)
    term.write("\x04")
    assert term.shell.wait(5) == 0
    assert term.reason == "exit"


# --- nslab shell NODE --------------------------------------------------------------------------------

def test_nslab_shell_runs_a_command_in_the_node(two):
    proc = subprocess.run([*nslab_cmd(), "shell", "b", "--lab", two.name, "-c", "ip -br addr show eth0"],
                          capture_output=True, text=True, timeout=30, env=os.environ.copy())
    assert proc.returncode == 0, proc.stderr
    assert "10.9.0.2/24" in proc.stdout and "10.9.0.1" not in proc.stdout
    proc = subprocess.run([*nslab_cmd(), "shell", "b", "--lab", two.name, "-c", "exit 7"], capture_output=True,
                          text=True, timeout=30, env=os.environ.copy())
    assert proc.returncode == 7  # the shell's own status


def test_nslab_shell_is_interactive_recorded_and_ended_by_down(two):
    from ptyprocess import PtyProcess
    shell = PtyProcess.spawn([*nslab_cmd(), "shell", "a", "--lab", two.name],
                             env={**os.environ, "TERM": "dumb", "NSLAB_LANG": "en"},  # its banner is checked below
                             dimensions=(20, 70))
    try:
        seen = b""
        deadline = time.monotonic() + 10
        while b"(a)" not in pty.plain(seen):
            assert time.monotonic() < deadline, seen
            seen += shell.read(4096)
        assert b"exit or Ctrl-D to leave" in seen
        shell.write(b"stty size; ip -br addr show eth0\n")
        while b"10.9.0.1/24" not in pty.plain(seen):
            assert time.monotonic() < deadline, seen
            seen += shell.read(4096)
        assert b"20 70" in pty.plain(seen)
        entry = [e for e in records.read(two.name).of_type("terminal") if e.get("pid") == shell.pid]
        assert entry and entry[0]["session"] is False and entry[0]["start"] == pty.start_time(shell.pid)
        report = two.down()
        assert any(s.action == "terminal" and s.changed and s.command == f"kill -HUP {shell.pid}" for s in report)
        assert gone(shell.pid)
    finally:
        shell.close(force=True)


@pytest.mark.parametrize("how", ["shutdown", "restart"])
def test_a_jupyter_kernel_shut_down_or_restarted_ends_its_terminals(two, how):
    """The notebook's kernel is shut down (or restarted) from JupyterLab: its shells end with it."""
    from jupyter_client.manager import start_new_kernel
    km, kc = start_new_kernel(kernel_name="python3", env={**os.environ})
    outputs: list[dict] = []
    try:
        code = f"""
import re, time
from nslab_kernel import Lab
from nslab_kernel.kernel import pty
t = Lab.open({two.name!r}).terminal_session("a")
pty.read_until(t.shell, b"(a)", 5)
since = t.shell.position
t.write("sleep 600 & echo started=$!\\n")
deadline = time.monotonic() + 5
while not (m := re.search(rb"started=(\\d+)\\n", pty.plain(t.shell.output_since(since)))):
    assert time.monotonic() < deadline
    time.sleep(0.02)
print(t.pid, m.group(1).decode())
"""
        reply = kc.execute_interactive(code, timeout=60, output_hook=lambda msg: outputs.append(msg))
        assert reply["content"]["status"] == "ok", reply["content"]
        printed = "".join(m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream").split()
        pid, job = int(printed[0]), int(printed[1])
        assert pty.running(pid)
        if how == "shutdown":
            km.shutdown_kernel(now=False)  # what JupyterLab's "Shut Down Kernel" asks for
        else:
            km.restart_kernel(now=False)
        assert gone(pid, job, timeout=10)
    finally:
        kc.stop_channels()
        if km.is_alive():
            km.shutdown_kernel(now=True)

