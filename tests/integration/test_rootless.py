"""Issue 13's contract, checked from outside: students with no root and no sudo, each in their own sandbox.

The test runs as root (CI), creates throw-away Unix users (``h6...``), runs nslab as them through
``setpriv`` (no root, no sudo, no capabilities), and removes the users, their processes and their
files afterwards.  Nothing here runs ``nslab cleanup`` as root.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from tests.support import IS_ROOT, NOTEBOOKS, SECCOMP_BLOCK, need, netns_names, notebook_build

BIN = Path(sys.executable).parent
NSLAB = str(BIN / "nslab")
FIG1 = ["h1", "h2", "h3", "h4", "r1", "r2", "r3"]


@dataclass
class Student:
    name: str
    uid: int
    gid: int
    home: str

    def env(self, **extra: str) -> dict:
        return {"HOME": self.home, "USER": self.name, "LOGNAME": self.name, "SHELL": "/bin/bash", "LANG": "C.UTF-8",
                "PATH": f"{BIN}:/usr/sbin:/usr/bin:/sbin:/bin", **extra}

    def argv(self, *argv: str) -> list[str]:
        return ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--init-groups", "--inh-caps=-all",
                "--", *argv]

    def run(self, *argv: str, timeout: float = 120, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(*argv), capture_output=True, text=True, timeout=timeout, cwd=self.home,
                              env=self.env(**extra), stdin=subprocess.DEVNULL)

    def nslab(self, *args: str, timeout: float = 120, **extra: str) -> subprocess.CompletedProcess:
        return self.run(NSLAB, *args, timeout=timeout, **extra)

    def ok(self, *args: str, **extra: str) -> str:
        proc = self.nslab(*args, **extra)
        assert proc.returncode == 0, f"{self.name}: nslab {' '.join(args)} exited {proc.returncode}: {proc.stderr}"
        return proc.stdout

    def python(self, code: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return self.run(sys.executable, "-c", code, timeout=timeout)

    def state(self) -> Path:
        return Path(self.home) / ".local" / "state" / "nslab"

    def holder(self) -> dict | None:
        try:
            return json.loads((self.state() / "sandbox.json").read_text())
        except (OSError, ValueError):
            return None

    def pids(self) -> list[int]:
        found = []
        for entry in os.listdir("/proc"):
            try:
                if entry.isdigit() and os.stat(f"/proc/{entry}").st_uid == self.uid:
                    found.append(int(entry))
            except OSError:
                continue
        return found


def _make_student(tag: str) -> Student:
    name = f"h6{tag}"
    subprocess.run(["useradd", "--create-home", "--home-dir", f"/home/{name}", "--shell", "/bin/bash",
                    "--user-group", name], check=True, capture_output=True)
    pw = pwd.getpwnam(name)
    return Student(name, pw.pw_uid, pw.pw_gid, pw.pw_dir)


def _remove_student(s: Student) -> None:
    try:
        s.nslab("sandbox", "stop", "--force", timeout=30)
    except Exception:  # noqa: BLE001 - removing the user below anyway
        pass
    for pid in s.pids():  # only processes of the user this test created
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for _ in range(50):
        if not s.pids():
            break
        time.sleep(0.1)
    subprocess.run(["userdel", "--remove", s.name], capture_output=True)
    shutil.rmtree(f"/tmp/nslab-{s.uid}", ignore_errors=True)
    for folder in Path("/tmp").glob(f"nslab-kernel-{s.uid}-*"):  # a kernel relay killed above left its sockets
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def students():
    need(IS_ROOT, "creating the test's Unix users needs root")
    need(bool(shutil.which("setpriv")) and bool(shutil.which("useradd")), "setpriv and useradd (util-linux, passwd)")
    tag = uuid.uuid4().hex[:5]
    made: list[Student] = []
    try:
        for n in ("a", "b"):
            made.append(_make_student(f"{tag}{n}"))
        a, b = made
        probe = a.run("sh", "-c", f"id -u; test -x {NSLAB} && {NSLAB} --version")
        assert probe.returncode == 0, (f"the test user cannot run {NSLAB} (is the venv readable by every user? "
                                       f"{probe.stderr.strip()})")
        assert probe.stdout.split()[0] != "0"
        yield a, b
    finally:
        for s in made:
            _remove_student(s)


def lab_name() -> str:
    return f"h6{uuid.uuid4().hex[:4]}"


def ours_on_host(lab: str) -> list[str]:
    return sorted(n for n in netns_names() if n.startswith(f"{lab}-"))


def both(fn, a: Student, b: Student) -> tuple:
    """Run fn(a) and fn(b) at the same time; re-raise the first failure."""
    results: dict[str, object] = {}

    def target(s: Student) -> None:
        try:
            results[s.name] = fn(s)
        except BaseException as exc:  # noqa: BLE001
            results[s.name] = exc

    threads = [threading.Thread(target=target, args=(s,)) for s in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    for s in (a, b):
        if isinstance(results.get(s.name), BaseException):
            raise results[s.name]  # type: ignore[misc]
    return results[a.name], results[b.name]


# --- the contract --------------------------------------------------------------------------------------

def test_the_students_have_no_root_and_no_sudo(students):
    a, _b = students
    proc = a.run("sh", "-c", "id -u; grep CapEff /proc/self/status; sudo -n true 2>/dev/null && echo SUDO-WORKS; true")
    uid, caps = proc.stdout.split("\n")[0], proc.stdout.split("\n")[1]
    assert uid == str(a.uid) != "0" and caps.split()[1] == "0000000000000000"
    assert "SUDO-WORKS" not in proc.stdout


def test_contract_two_students_same_lab_at_the_same_time(students):
    a, b = students
    lab = lab_name()
    host_before = netns_names()

    def sequence(s: Student) -> dict:
        up = s.ok("up", "figure1", "--lab", lab)
        matrix = json.loads(s.ok("ping", "--lab", lab, "--json"))
        check = s.nslab("check", "figure1", "--lab", lab)
        explain = s.ok("explain", "h1", "h4", "--lab", lab, LANG="C.UTF-8", NSLAB_LANG="en")
        status = json.loads(s.ok("status", "--json"))
        return {"up": up, "matrix": matrix, "check": check, "explain": explain, "status": status,
                "on_host": ours_on_host(lab)}

    ra, rb = both(sequence, a, b)
    for s, r in ((a, ra), (b, rb)):
        m = r["matrix"]
        assert m["reachable"] and m["ok_probes"] == m["total_probes"] == 84 and not m["failed"], (s.name, m)
        assert r["check"].returncode == 0, (s.name, r["check"].stdout, r["check"].stderr)
        assert "r1" in r["explain"] and "r3" in r["explain"], r["explain"]  # h1 -> r1 -> r3 -> h4, from the kernel
        assert [st["lab"] for st in r["status"]["labs"]] == [lab], (s.name, r["status"])  # only their own lab
        assert r["status"]["labs"][0]["up"] == 7 and r["status"]["labs"][0]["backend"] == "netns"
        assert r["on_host"] == [], f"{s.name}'s lab showed up in the host's ip netns list: {r['on_host']}"

    ha, hb = a.holder(), b.holder()
    assert ha and hb and ha["pid"] != hb["pid"] and ha["userns"] != hb["userns"]

    # b cannot enter, read or remove a's namespaces
    for kind in ("user", "mnt", "net"):
        opened = b.python(f"import os; os.open('/proc/{ha['pid']}/ns/{kind}', os.O_RDONLY)")
        assert opened.returncode != 0 and "PermissionError" in opened.stderr and "Permission denied" in opened.stderr
    entered = b.run("nsenter", "--user", "--mount", "-t", str(ha["pid"]), "--", "ip", "netns", "list")
    assert entered.returncode != 0 and f"{lab}-h1" not in entered.stdout
    b.ok("down", "--lab", lab)
    still = json.loads(a.ok("ping", "--lab", lab, "--json"))  # b's down removed only b's lab
    assert still["reachable"] and still["ok_probes"] == 84

    downs = both(lambda s: s.nslab("down", "--lab", lab), a, b)
    assert all(p.returncode == 0 for p in downs), [p.stderr for p in downs]
    for s in (a, b):
        assert json.loads(s.ok("status", "--json"))["labs"] == []
        assert s.ok("shell", "-c", "ip netns list").strip() == ""
    assert ours_on_host(lab) == [] and not {n for n in netns_names() - host_before if n.startswith(lab)}


def test_shell_shows_the_users_own_labs(students):
    a, b = students
    lab = lab_name()
    a.ok("up", "figure1", "--lab", lab)
    try:
        listed = a.ok("shell", "-c", "ip netns list").split()
        assert sorted(n for n in listed if not n.startswith("(")) == sorted(f"{lab}-{n}" for n in FIG1)
        assert b.ok("shell", "-c", "ip netns list").strip() == ""
        assert "10.0.1.2/24" in a.ok("exec", "--lab", lab, "h1", "--", "ip", "-4", "-br", "addr")
        nested = json.loads(a.ok("shell", "-c", f"{NSLAB} status --json"))  # nslab typed inside: no second sandbox
        assert [st["lab"] for st in nested["labs"]] == [lab] and nested["labs"][0]["up"] == 7
        # what a student types in the activity works in the sandbox as it does as root
        typed = a.run(NSLAB, "shell", "-c", f"ip netns add {lab}-x && ip netns exec {lab}-x ip link set lo up && "
                      f"ip netns exec {lab}-h1 ping -c1 -W1 10.0.4.2 >/dev/null && sysctl -n net.ipv4.ip_forward "
                      f"&& ip netns exec {lab}-r1 sysctl -n net.ipv4.ip_forward && ip netns del {lab}-x "
                      f"&& ip netns exec {lab}-r2 iptables -w -A FORWARD -s 10.9.9.9 -j DROP "
                      f"&& ip netns exec {lab}-r2 iptables -w -S FORWARD | grep -q 10.9.9.9 && id -u")
        assert typed.returncode == 0, typed.stderr
        assert typed.stdout.split()[-1] == "0"  # root inside the sandbox only
        assert typed.stdout.split()[-2] == "1"  # r1 forwards
        # a normal user's PATH on Debian has no /usr/sbin: inside, root's tools are found all the same
        tools = a.run(NSLAB, "shell", "-c", f"ip netns exec {lab}-h1 ifconfig eth0 && command -v sysctl",
                      PATH=f"{BIN}:/usr/local/bin:/usr/bin:/bin")
        assert tools.returncode == 0 and "10.0.1.2" in tools.stdout, tools.stdout + tools.stderr
        assert ours_on_host(lab) == []
    finally:
        a.nslab("down", "--lab", lab)


def test_the_sandbox_lasts_between_commands_and_cleanup_stops_it(students):
    a, _b = students
    lab = lab_name()
    a.ok("up", "figure1", "--lab", lab)
    first = a.holder()
    a.ok("status")
    assert a.holder() == first and os.path.exists(f"/proc/{first['pid']}")

    # while a shell (a kernel, a terminal) still uses it, cleanup removes the labs but keeps the sandbox
    shell = subprocess.Popen(a.argv(NSLAB, "shell", "-c", "sleep 60"), env=a.env(), cwd=a.home,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if json.loads(a.nslab("sandbox", "status", "--json").stdout)["members"]:
                break
            time.sleep(0.05)
        kept = a.ok("cleanup")
        assert "sandbox kept" in kept and os.path.exists(f"/proc/{first['pid']}")
        assert json.loads(a.ok("status", "--json"))["labs"] == []
    finally:
        shell.kill()
        shell.wait()
        a.run("true")
    stopped = a.ok("cleanup")
    assert "sandbox stopped" in stopped
    for _ in range(50):
        if not os.path.exists(f"/proc/{first['pid']}/ns/user"):
            break
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{first['pid']}/ns/user") and a.holder() is None
    a.ok("status")  # the next command starts a new one
    assert a.holder()["pid"] != first["pid"]


def test_a_pidfile_naming_another_process_is_not_trusted(students):
    a, _b = students
    a.ok("sandbox", "stop", "--force")
    fake = {"pid": 1, "start": 1, "userns": 1, "mntns": 1, "uid": a.uid, "state_dir": str(a.state())}
    a.run("sh", "-c", f"mkdir -p {a.state()} && printf '%s' '{json.dumps(fake)}' > {a.state()}/sandbox.json")
    assert a.nslab("sandbox", "status").returncode == 1
    assert a.ok("shell", "-c", "ip netns list").strip() == ""  # a new sandbox of its own, not PID 1's namespaces
    assert a.holder()["pid"] != 1


def test_python_api_in_a_script_enters_the_sandbox(students):
    a, _b = students
    lab = lab_name()
    proc = a.python(
        "import os\n"
        "from nslab_kernel import Lab\n"
        f"lab = Lab.load('figure1', lab='{lab}')\n"
        "lab.up()\n"
        "m = lab.ping_matrix()\n"
        "print(m.reachable, len(m.probes), bool(os.environ.get('NSLAB_SANDBOX')))\n"
        "lab.down()\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[:3] == ["True", "84", "True"]
    assert ours_on_host(lab) == []


def test_auto_picks_netns_for_a_student_and_says_why(students):
    a, _b = students
    proc = a.python("from nslab_kernel.lifecycle import session; print('chosen:', session.choose_backend('auto'))")
    assert proc.returncode == 0, proc.stderr
    assert "chosen: netns" in proc.stdout and "You are not root" in proc.stdout and "LXD is not used" in proc.stdout
    # ... in the notebook's language
    proc = a.python("import nslab_kernel; nslab_kernel.set_language('es')\n"
                    "from nslab_kernel.lifecycle import session\n"
                    "from nslab_kernel.core.i18n import english_leaks\n"
                    "import io, contextlib\n"
                    "out = io.StringIO()\n"
                    "with contextlib.redirect_stdout(out):\n    chosen = session.choose_backend('auto')\n"
                    "print(chosen, out.getvalue(), english_leaks(out.getvalue(), lang='es'))")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("netns No es usted root") and "equivale a ser root" in proc.stdout
    assert proc.stdout.rstrip().endswith("[]")  # no English left

    # a process that already runs threads (a Jupyter kernel started outside the sandbox) cannot enter:
    # auto falls back to the simulation and says which kernel to choose; netns says so as an error
    threaded = ("import threading, time\n"
                "threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n"
                "from nslab_kernel.lifecycle import session\n"
                "print('chosen:', session.choose_backend('auto'))\n"
                "from nslab_kernel import Lab, PrivilegeError\n"
                "try:\n    Lab.load('figure1', backend='netns', lab='h6zz')\n"
                "except PrivilegeError as exc:\n    print('refused:', exc)\n")
    proc = a.python(threaded)
    assert proc.returncode == 0, proc.stderr
    assert "chosen: sim" in proc.stdout and "Python 3 (nslab)" in proc.stdout
    assert "refused:" in proc.stdout and "outside" in proc.stdout


def test_doctor_as_a_student(students):
    a, _b = students
    checks = {c["name"]: c for c in json.loads(a.ok("doctor", "--json"))}
    assert checks["sandbox"]["ok"] and checks["sandbox"]["required"] and checks["namespaces"]["ok"]
    inside = {c["name"]: c for c in json.loads(a.ok("shell", "-c", f"{NSLAB} doctor --json"))}  # a notebook's view
    assert inside["sandbox"]["ok"] and inside["namespaces"]["ok"]
    assert checks["lxd"]["ok"] and "root-equivalent" in checks["lxd"]["detail"]

    # a container whose seccomp profile blocks unshare(CLONE_NEWUSER), for real (a filter like Docker's)
    blocked = a.run(sys.executable, "-c", SECCOMP_BLOCK, NSLAB, "doctor", "--json")
    assert blocked.returncode == 1
    checks = {c["name"]: c for c in json.loads(blocked.stdout)}
    assert not checks["sandbox"]["ok"] and "seccomp" in checks["sandbox"]["detail"]
    assert "hostUsers: false" in checks["sandbox"]["fix"]
    # and nslab up there fails with one line naming doctor, changing nothing
    up = a.run(sys.executable, "-c", SECCOMP_BLOCK, NSLAB, "up", "figure1", "--lab", "h6blocked",
               HOME=f"{a.home}/blocked")
    assert up.returncode != 0 and len(up.stderr.strip().splitlines()) == 1 and "nslab doctor" in up.stderr


def test_doctor_where_user_namespaces_are_switched_off():
    """user.max_user_namespaces=0 for real, inside a user namespace of the test's own (the host's is untouched)."""
    need(IS_ROOT, "root")
    proc = subprocess.run(["unshare", "--user", "--map-root-user", "sh", "-c",
                           f"echo 0 > /proc/sys/user/max_user_namespaces && {NSLAB} --rootless doctor --json"],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "NSLAB_STATE_DIR": "/nonexistent-h6"})
    checks = {c["name"]: c for c in json.loads(proc.stdout)}
    assert not checks["sandbox"]["ok"] and "user.max_user_namespaces=0" in checks["sandbox"]["detail"]
    assert "sysctl -w user.max_user_namespaces=" in checks["sandbox"]["fix"]


def test_root_with_rootless_keeps_the_lab_off_the_host(tmp_path):
    """What the class benchmark does: one sandbox per state dir, as root (NSLAB_ROOTLESS=1 / --rootless)."""
    need(IS_ROOT, "root")
    lab = lab_name()
    env = {**os.environ, "NSLAB_STATE_DIR": str(tmp_path / "state")}
    run = lambda *args: subprocess.run([NSLAB, "--rootless", *args], capture_output=True, text=True, env=env,
                                       timeout=120)
    try:
        assert run("up", "figure1", "--lab", lab).returncode == 0
        assert ours_on_host(lab) == []
        matrix = json.loads(run("ping", "--lab", lab, "--json").stdout)
        assert matrix["reachable"] and matrix["ok_probes"] == 84
        assert run("down", "--lab", lab).returncode == 0
    finally:
        run("down", "--lab", lab)
        subprocess.run([NSLAB, "sandbox", "stop", "--force"], capture_output=True, env=env, timeout=60)
    assert not (tmp_path / "state" / "sandbox.json").exists()


# --- a notebook, through the sandboxed kernel -------------------------------------------------------------

def test_papermill_runs_a_guided_notebook_as_a_student(students, tmp_path):
    a, _b = students
    need(bool(shutil.which("papermill", path=str(BIN))), "papermill in this environment")
    lab = lab_name()
    a.ok("kernelspec", "install", "--user")
    spec = json.loads(Path(a.home, ".local/share/jupyter/kernels/nslab/kernel.json").read_text())
    assert spec["argv"][1:3] == ["kernel", "--"] and spec["argv"][0].endswith("nslab-sandbox")
    assert "sudo" not in " ".join(spec["argv"])
    out = Path(a.home) / "out.ipynb"
    host_before = netns_names()
    proc = a.run(str(BIN / "papermill"), "-k", "nslab", "-p", "backend", "netns", "-p", "lab", lab,
                 str(NOTEBOOKS / "en" / "04-activity-figure1.ipynb"), str(out), timeout=600)
    try:
        assert proc.returncode == 0, proc.stderr[-3000:]
        nb = nbformat.read(out, 4)
        text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                       if o.get("output_type") == "stream")
        assert "84/84 probes answered" in text, text[-2000:]  # the final ping matrix: every probe answered
        assert "net.ipv4.ip_forward = 1" in text  # the notebook's own !ip netns exec ... sysctl cell, in the sandbox
        assert ours_on_host(lab) == [] and not {n for n in netns_names() - host_before if n.startswith(lab)}
        assert json.loads(a.ok("status", "--json"))["labs"] == []  # the notebook's last cell took it down
    finally:
        a.nslab("down", "--lab", lab)


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
    except OSError:
        return ""  # gone meanwhile


def host_links() -> list[str]:
    return sorted(os.listdir("/sys/class/net"))


STUDENT_PROBE = '''
import json, os
_found = {s: ex.check(s) for s in ex.steps if s.split(".")[0] == "3"}
print("NSLAB_RESULT", json.dumps({"passed": {s: r.passed for s, r in _found.items()},
                                  "netns": os.readlink("/proc/self/ns/net"), "uid": os.getuid()}))
'''


@pytest.mark.notebooks
@pytest.mark.parametrize("lang", ["es", "en"])
def test_a_student_does_the_veth_exercises_in_their_own_host(students, tmp_path, lang):
    """Section 3 as the activity says it, rootless: `ip link add v-1a type veth peer name v-1b` in the kernel's
    host (the student's own network namespace, in the sandbox), then `ip link set dev v-1a netns ...`: every
    check passes, full points, and the real host never sees v-1a."""
    a, _b = students
    need(bool(shutil.which("papermill", path=str(BIN))), "papermill in this environment")
    a.ok("kernelspec", "install", "--user")
    build = notebook_build()
    name = {"es": "03-pares-veth", "en": "03-veth-pairs"}[lang]
    nb = build.student_notebook(lang, name, solutions=True, nbgrader=True)
    nb.cells.insert(len(nb.cells) - 1, nbformat.v4.new_code_cell(STUDENT_PROBE.strip()))
    source, out = Path(a.home) / f"in-{lang}.ipynb", Path(a.home) / f"out-{lang}.ipynb"
    nbformat.write(nb, source)
    os.chown(source, a.uid, a.gid)
    links_before, netns_before, lab = host_links(), netns_names(), lab_name()
    proc = a.run(str(BIN / "papermill"), "-k", "nslab", "-p", "backend", "netns", "-p", "lab", lab,
                 str(source), str(out), timeout=600)
    try:
        assert proc.returncode == 0, proc.stderr[-3000:]
        done = nbformat.read(out, 4)
        cells = [c for c in done.cells if c.cell_type == "code"]
        solution = "\n".join(c.source for c in cells)
        assert "ip link add v-1a type veth peer name v-1b" in solution  # the activity's own command, typed
        line = next(l for c in cells for o in c.get("outputs", []) if o.get("output_type") == "stream"
                    for l in o["text"].splitlines() if l.startswith("NSLAB_RESULT "))
        found = json.loads(line[len("NSLAB_RESULT "):])
        assert found["passed"] and all(found["passed"].values()), found
        assert found["uid"] == 0 and found["netns"] != os.readlink("/proc/self/ns/net")  # root in its own host
        grade = [o for c in cells if c.source.startswith("ex.grade(") for o in c.outputs
                 if o.output_type == "execute_result"]
        assert [float(g["data"]["text/plain"]) for g in grade] == [4.0]
        assert not [o for c in cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert host_links() == links_before and netns_names() == netns_before  # nothing on the real host
    finally:
        a.nslab("cleanup", timeout=60)


KERNEL_SCRIPT = '''
import json, os, sys, time
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager
km = KernelManager(kernel_name="nslab", kernel_spec_manager=KernelSpecManager())
km.start_kernel()
kc = km.client(); kc.start_channels(); kc.wait_for_ready(timeout=120)
out = {"relay": km.provisioner.process.pid}

def run(code):
    seen = []
    def hook(msg):
        if msg["msg_type"] == "stream":
            seen.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            seen.append("ERROR " + msg["content"]["ename"])
    kc.execute_interactive(code, output_hook=hook, timeout=120)
    return "".join(seen).strip()

out["where"] = run("import os; print(os.getpid(), os.getuid(), os.readlink('/proc/self/ns/net'))")
out["veth"] = run("!ip link add v-1a type veth peer name v-1b && ip -o link show v-1a | cut -d: -f2")
msg_id = kc.execute("!ping -c 100 127.0.0.1 > /dev/null")
time.sleep(2)
started = time.monotonic()
km.interrupt_kernel()
while True:
    msg = kc.get_iopub_msg(timeout=30)
    if msg["parent_header"].get("msg_id") == msg_id and msg["content"].get("execution_state") == "idle":
        break
out["interrupt_s"] = time.monotonic() - started
out["after"] = run("print('still here', 6 * 7)")
km.restart_kernel(now=False)
kc.wait_for_ready(timeout=120)
out["restarted"] = run("import os; print(os.getpid(), os.readlink('/proc/self/ns/net'))")
kc.stop_channels()
km.shutdown_kernel(now=False)
out["alive"] = km.is_alive()
print("NSLAB_RESULT " + json.dumps(out))
'''


def test_the_sandboxed_kernel_lives_in_the_students_host_and_obeys_jupyter(students):
    """The kernel 'Python 3 (nslab)' as Jupyter drives it: it runs as root-in-the-sandbox in the student's own
    host netns (ip link add works there, the real host never sees it), an interrupt stops a running `!ping` in
    seconds, a restart gives a new kernel in the same host, and a shutdown leaves no kernel process behind."""
    a, _b = students
    a.ok("kernelspec", "install", "--user")
    links_before = host_links()
    dead = next(pid for pid in range(4_000_000, 4_100_000) if not os.path.exists(f"/proc/{pid}"))
    stale = Path(f"/tmp/nslab-kernel-{a.uid}-{dead}-x1")  # the folder a SIGKILLed relay could not remove
    assert a.run("mkdir", str(stale)).returncode == 0
    proc = a.run(sys.executable, "-c", KERNEL_SCRIPT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.split("NSLAB_RESULT ", 1)[1])
    pid, uid, netns = out["where"].split()
    assert uid == "0" and netns != os.readlink("/proc/self/ns/net") and int(pid) != out["relay"]
    assert out["veth"].startswith("v-1a@") and host_links() == links_before
    assert out["interrupt_s"] < 10 and out["after"] == "still here 42"
    new_pid, new_netns = out["restarted"].split()
    assert new_pid != pid and new_netns == netns  # same student host: the veth made before is still there
    assert out["alive"] is False
    assert not [p for p in a.pids() if "ipykernel" in cmdline(p)]
    assert not list(Path("/tmp").glob(f"nslab-kernel-{a.uid}-*"))  # its own socket folder and the stale one
    a.ok("cleanup")


def terminal_session(base: str, token: str, command: str, marker: str, timeout: float = 60) -> str:
    """Open a JupyterLab terminal through jupyter_server's API (what File > New > Terminal does), type
    ``command`` and return what the terminal shows until ``marker`` is printed (spell it otherwise in
    ``command``, as ``MARK"ER"``, so that the echo of the typed line does not count); then close it."""
    import asyncio
    import urllib.request

    from tornado.websocket import websocket_connect

    request = urllib.request.Request(f"{base}/api/terminals?token={token}", method="POST", data=b"")
    name = json.loads(urllib.request.urlopen(request, timeout=30).read())["name"]

    async def talk() -> str:
        ws = await websocket_connect(f"{base.replace('http', 'ws')}/terminals/websocket/{name}?token={token}")
        await ws.write_message(json.dumps(["stdin", command + "\r"]))
        seen, deadline = "", time.monotonic() + timeout
        while marker not in seen and time.monotonic() < deadline:  # (the typed line spells it otherwise)
            try:
                msg = await asyncio.wait_for(ws.read_message(), timeout=max(0.1, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                break
            if msg is None:
                break
            kind, *rest = json.loads(msg)
            if kind == "stdout":
                seen += rest[0]
        ws.close()
        return seen

    try:
        return asyncio.run(talk())
    finally:
        urllib.request.urlopen(urllib.request.Request(f"{base}/api/terminals/{name}?token={token}",
                                                      method="DELETE"), timeout=30)


@pytest.mark.browser
def test_jupyterlabs_own_terminal_opens_in_the_students_host(students, tmp_path):
    """File > New > Terminal in the student's JupyterLab: a shell in their sandbox, in their own host, where the
    activity's `ip link add v-1a type veth peer name v-1b` works; the machine's interfaces do not change."""
    import urllib.request
    import uuid as _uuid

    from tests.support import free_port
    a, _b = students
    a.ok("kernelspec", "install", "--user")  # also: JupyterLab's terminals start in the sandbox
    port, token = free_port(range(18700, 18800)), _uuid.uuid4().hex
    links_before = host_links()
    server = subprocess.Popen(a.argv(str(BIN / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
                                     "--ServerApp.port_retries=0", f"--ServerApp.token={token}",
                                     f"--ServerApp.root_dir={a.home}"),
                              env=a.env(), cwd=a.home, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "JupyterLab did not start"
                time.sleep(0.3)
        shown = terminal_session(base, token, "ip link add v-1a type veth peer name v-1b && ip -o link show v-1b "
                                 "&& readlink /proc/self/ns/net && id -u && echo TERMINAL-\"DONE\"", "TERMINAL-DONE")
        assert "v-1b@v-1a" in shown, shown
        lines = shown.replace("\r", "").split("\n")
        netns = next(l.strip() for l in lines if l.strip().startswith("net:["))
        assert netns != os.readlink("/proc/self/ns/net") and "\n0\n" in "\n".join(l.strip() for l in lines), shown
        assert host_links() == links_before
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        a.nslab("cleanup", timeout=60)


def test_a_kernel_whose_sandbox_cannot_be_made_still_starts_and_says_why(students):
    """User namespaces blocked (a seccomp filter like Docker's): the kernel 'Python 3 (nslab)' starts anyway,
    outside any sandbox, and notebook 04 on backend auto says why and runs on the simulation."""
    a, _b = students
    need(bool(shutil.which("papermill", path=str(BIN))), "papermill in this environment")
    a.ok("kernelspec", "install", "--user")
    out = Path(a.home) / "blocked.ipynb"
    proc = a.run(sys.executable, "-c", SECCOMP_BLOCK, str(BIN / "papermill"), "-k", "nslab", "-p", "lab", lab_name(),
                 str(NOTEBOOKS / "en" / "04-activity-figure1.ipynb"), str(out), timeout=600,
                 XDG_STATE_HOME=f"{a.home}/elsewhere")  # a fresh state dir: no running sandbox to enter
    assert proc.returncode == 0, proc.stderr[-3000:]
    nb = nbformat.read(out, 4)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                   if o.get("output_type") == "stream")
    assert "user namespaces are blocked; 'nslab doctor' says how to allow them" in text and "backend: sim" in text
    assert "84/84 probes answered" in text, text[-2000:]


def test_two_first_commands_at_once_share_one_new_sandbox(students):
    a, _b = students
    a.ok("sandbox", "stop", "--force")
    lab1, lab2 = lab_name(), lab_name()
    procs = [subprocess.Popen(a.argv(NSLAB, "up", "figure1", "--lab", lab), env=a.env(), cwd=a.home,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for lab in (lab1, lab2)]
    try:
        for p in procs:
            _out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
        holders = [pid for pid in a.pids() if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"nslab-sandbox\0")]
        assert holders == [a.holder()["pid"]]  # one sandbox, not two
        listed = a.ok("shell", "-c", "ip netns list").split()
        assert {f"{lab1}-h1", f"{lab2}-h1"} <= set(listed)
    finally:
        for lab in (lab1, lab2):
            a.nslab("down", "--lab", lab)


def test_a_killed_sandbox_is_replaced_and_its_labs_can_be_rebuilt(students):
    a, _b = students
    lab = lab_name()
    a.ok("up", "figure1", "--lab", lab)
    dead = a.holder()["pid"]
    os.kill(dead, signal.SIGKILL)  # the test's own user's process (a reboot, an OOM kill...)
    for _ in range(50):
        if not os.path.exists(f"/proc/{dead}/ns/user"):
            break
        time.sleep(0.05)
    status = json.loads(a.ok("status", "--json"))["labs"][0]  # a new sandbox: the lab's namespaces went with the old
    assert status["lab"] == lab and status["up"] == 0 and {n["state"] for n in status["nodes"].values()} == {"missing"}
    assert a.holder()["pid"] != dead
    a.ok("up", "figure1", "--lab", lab)  # converges again
    assert json.loads(a.ok("ping", "--lab", lab, "--json"))["reachable"]
    assert "7 changed" in a.ok("down", "--lab", lab)
