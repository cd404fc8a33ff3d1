"""A real class server: deploy/jupyterhub/start.sh brings up JupyterHub + configurable-http-proxy; three
Unix users, created for the test (and removed after, even on failure), log in through Chromium at once
and run the Figure 1 notebook, all with the SAME lab name, each in their own sandbox, with no root.

Then, as each student: ``nslab status`` shows their own lab only (a netns of their own: the inodes
differ), another student can neither enter their namespaces nor remove their lab (EACCES), and
afterwards the host's interfaces, routes and named namespaces are as before.

Screenshots go to test-artifacts/hub/.  Settings (for a shared machine): NSLAB_TEST_HUB_PORT_BASE
(hub = BASE, proxy API = BASE+1, hub internal = BASE+2, students' servers BASE+10..BASE+99; default:
free ports), NSLAB_TEST_USER_PREFIX (the students' user names, default nslt<random>), NSLAB_TEST_HUB_PREFIX
(where start.sh installs; default a fresh folder under /var/tmp, removed afterwards).
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import nbformat
import pytest

from tests.support import CHROMIUM, CHROMIUM_ARGS, IS_ROOT, NOTEBOOKS, ROOT, need, run_all_cells

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.root]
START = ROOT / "deploy" / "jupyterhub" / "start.sh"
SHOTS = ROOT / "test-artifacts" / "hub"
STUDENTS = 3
STALL = 300  # seconds without a finished cell before a student's notebook counts as stuck


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def host_view() -> dict:
    def ipj(*args: str):
        data = json.loads(subprocess.run(["ip", "-j", *args], capture_output=True, text=True).stdout or "[]")
        for item in data:
            for key in ("stats64", "stats", "linkinfo"):
                item.pop(key, None)
            for addr in item.get("addr_info", []):
                addr.pop("valid_life_time", None)
                addr.pop("preferred_life_time", None)
        return data
    return {"links": ipj("addr"), "routes": ipj("route", "show", "table", "all")}


def host_netns() -> set[str]:
    try:
        return set(os.listdir("/run/netns"))
    except FileNotFoundError:
        return set()


class Student:
    def __init__(self, name: str, password: str):
        self.name, self.password = name, password
        self.pw = pwd.getpwnam(name)

    def run(self, argv: list[str], env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run a command as this student (no root, no sudo), with the hub's environment."""
        base = {"HOME": self.pw.pw_dir, "USER": self.name, "LOGNAME": self.name, "LANG": "C.UTF-8",
                "PATH": f"{self.venv}/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"}
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env={**base, **(env or {})},
                              user=self.pw.pw_uid, group=self.pw.pw_gid, extra_groups=[], cwd=self.pw.pw_dir)

    def nslab(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return self.run([f"{self.venv}/bin/nslab", *args], **kw)

    def state_dir(self) -> Path:
        return Path(self.pw.pw_dir) / ".local" / "state" / "nslab"

    def holder_pid(self) -> int:
        return int(json.loads((self.state_dir() / "sandbox.json").read_text())["pid"])


@pytest.fixture
def class_hub(tmp_path_factory):
    need(IS_ROOT, "needs root: the hub starts each student's server as that student")
    need(os.path.exists(CHROMIUM), "Debian's chromium is needed (apt-get install chromium)")
    need(shutil.which("npm") is not None, "npm is needed for configurable-http-proxy (apt-get install npm)")
    need(shutil.which("useradd") is not None and shutil.which("chpasswd") is not None, "useradd/chpasswd needed")
    need(os.path.exists("/usr/bin/python3"), "Debian's /usr/bin/python3 is needed (students must run it)")
    tag = uuid.uuid4().hex[:4]
    user_prefix = os.environ.get("NSLAB_TEST_USER_PREFIX", f"nslt{tag}")
    group = f"{user_prefix}g"
    base = int(os.environ.get("NSLAB_TEST_HUB_PORT_BASE", "0"))
    ports = (base, base + 1, base + 2) if base else (free_port(), free_port(), free_port())
    keep_prefix = "NSLAB_TEST_HUB_PREFIX" in os.environ
    prefix = Path(os.environ.get("NSLAB_TEST_HUB_PREFIX", f"/var/tmp/nslab-hub-test-{tag}"))
    state = Path(f"/var/tmp/nslab-hub-test-state-{tag}")
    env = {**os.environ, "NSLAB_HUB_PREFIX": str(prefix), "NSLAB_HUB_STATE": str(state), "NSLAB_HUB_IP": "127.0.0.1",
           "NSLAB_HUB_PORT": str(ports[0]), "NSLAB_HUB_API_PORT": str(ports[1]), "NSLAB_HUB_HUB_PORT": str(ports[2]),
           "NSLAB_HUB_GROUP": group}
    env.pop("NSLAB_STATE_DIR", None)
    if base:
        env["NSLAB_HUB_USER_PORTS"] = f"{base + 10}-{base + 99}"
    students: list[Student] = []
    created: list[str] = []
    try:
        subprocess.run(["groupadd", group], check=True, capture_output=True)
        for i in range(1, STUDENTS + 1):
            name = f"{user_prefix}{i}"
            subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", "--groups", group, name],
                           check=True, capture_output=True)
            created.append(name)
            password = f"pw-{uuid.uuid4().hex[:10]}"
            subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True, capture_output=True)
            students.append(Student(name, password))
        started = subprocess.run([str(START), "--daemon"], env=env, capture_output=True, text=True, timeout=900)
        assert started.returncode == 0, f"start.sh failed:\n{started.stdout}\n{started.stderr}"
        # idempotent: a second start finds it running and changes nothing
        again = subprocess.run([str(START), "--daemon"], env=env, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0 and "already running" in again.stdout, again.stdout + again.stderr
        for s in students:
            s.venv = prefix / "venv"
        yield {"url": f"http://127.0.0.1:{ports[0]}", "students": students, "state": state, "prefix": prefix}
    finally:
        subprocess.run([str(START), "--stop"], env=env, capture_output=True, text=True, timeout=120)
        log = state / "jupyterhub.log"
        if log.exists():
            SHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copy(log, SHOTS / "jupyterhub.log")
        for name in created:
            uid = pwd.getpwnam(name).pw_uid
            subprocess.run(["pkill", "-KILL", "-U", str(uid)], capture_output=True)  # only the users made here
            for _ in range(50):
                if subprocess.run(["pgrep", "-U", str(uid)], capture_output=True).returncode != 0:
                    break
                time.sleep(0.1)
            subprocess.run(["userdel", "--remove", name], capture_output=True)
            for folder in Path("/tmp").glob(f"nslab-kernel-{uid}-*"):  # its kernels' sockets, relay killed above
                shutil.rmtree(folder, ignore_errors=True)
        subprocess.run(["groupdel", group], capture_output=True)
        shutil.rmtree(state, ignore_errors=True)
        if not keep_prefix:
            shutil.rmtree(prefix, ignore_errors=True)
        left = [n for n in created if subprocess.run(["id", n], capture_output=True).returncode == 0]
        assert not left, f"test users left behind: {left}"


def figure1_notebook(lab: str) -> nbformat.NotebookNode:
    """The course's Figure 1 notebook, with its parameters set as papermill would (netns, our lab, kept)."""
    nb = nbformat.read(next((NOTEBOOKS / "en").glob("04-*.ipynb")), as_version=4)
    for cell in nb.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            cell.source = f'backend = "netns"\nlab = "{lab}"\nimage = None\nkeep = True'
            break
    else:
        raise AssertionError("the Figure 1 notebook has no parameters cell")
    # one cell of the test's own at the end: the result the test reads back (the lab is kept up)
    nb.cells.append(nbformat.v4.new_code_cell(
        "import json as _json\n"
        "_matrix, _check = lab.ping_matrix(), lab.check()\n"
        "print('NSLAB_RESULT', _json.dumps({'reachable': _matrix.reachable, 'failed': _matrix.failed, "
        "'pairs': len(_matrix.pairs), 'probes': len(_matrix.probes), 'check_failed': len(_check.failed)}))"))
    return nb


def run_in_browser(hub: dict, student: Student, lab: str, results: dict) -> None:
    """Log in as the student, open the notebook, run all cells, wait for the last result."""
    from playwright.sync_api import sync_playwright
    url = hub["url"]
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(f"{url}/hub/login", wait_until="domcontentloaded")
                if student.name.endswith("1"):  # a wrong password is refused: PAM really checks it
                    page.fill("#username_input", student.name)
                    page.fill("#password_input", "not-" + student.password)
                    page.click("#login_submit")
                    page.wait_for_selector("text=Invalid username or password", timeout=60_000)
                    results[student.name + ":refused"] = "/hub/login" in page.url
                page.fill("#username_input", student.name)
                page.fill("#password_input", student.password)
                page.screenshot(path=str(SHOTS / f"{student.name}-login.png"))
                page.click("#login_submit")
                page.wait_for_url(f"**/user/{student.name}/lab**", timeout=180_000)
                page.goto(f"{url}/user/{student.name}/lab/tree/figure1.ipynb", wait_until="domcontentloaded")
                page.wait_for_selector(".jp-Notebook", timeout=120_000)
                page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
                run_all_cells(page, SHOTS)
                done = page.locator(".jp-OutputArea-output", has_text="NSLAB_RESULT")
                errors = page.locator(".jp-OutputArea-output [data-mime-type='application/vnd.jupyter.stderr']",
                                      has_text="Error")
                # Three kernels, three browsers and three servers share two cores: the notebook may be slow,
                # so it fails only when no cell finished for STALL seconds (or past the overall cap).
                prompts = page.locator(".jp-Notebook .jp-CodeCell .jp-InputPrompt")
                cap, stall_until, finished = time.monotonic() + 780, time.monotonic() + STALL, -1
                while not done.count():  # the last cell's result, or the first error (Run All stops there)
                    now_finished = sum(1 for t in prompts.all_inner_texts() if t.strip()[1:-2].isdigit())
                    if now_finished != finished:
                        finished, stall_until = now_finished, time.monotonic() + STALL
                    if errors.count() or time.monotonic() > min(stall_until, cap):
                        if errors.count():
                            errors.first.scroll_into_view_if_needed()
                        page.screenshot(path=str(SHOTS / f"{student.name}-notebook.png"), full_page=True)
                        texts = prompts.all_inner_texts()
                        running = [i for i, t in enumerate(texts) if "*" in t]
                        raise AssertionError(f"{student.name}'s notebook did not finish: " + (
                            errors.first.inner_text()[-1500:] if errors.count() else
                            f"no progress: {finished} of {len(texts)} code cells done, running: {running}"))
                    page.wait_for_timeout(1000)
                text = done.first.inner_text()
                results[student.name] = json.loads(text[text.index("NSLAB_RESULT") + len("NSLAB_RESULT"):].strip())
                results[student.name + ":errors"] = page.locator(
                    ".jp-OutputArea-output", has_text="Traceback").count()
                page.locator(".nslab-matrix").last.screenshot(path=str(SHOTS / f"{student.name}-matrix.png"))
                page.screenshot(path=str(SHOTS / f"{student.name}-notebook.png"), full_page=True)
            finally:
                browser.close()
    except Exception as exc:  # reported by the test thread
        results[student.name + ":exception"] = repr(exc)


def test_three_students_same_lab_name_each_in_their_own_sandbox(class_hub):
    hub, students = class_hub, class_hub["students"]
    lab = "fig1"  # the same for everyone, on purpose
    SHOTS.mkdir(parents=True, exist_ok=True)
    before, netns_before = host_view(), host_netns()
    for s in students:
        path = Path(s.pw.pw_dir) / "figure1.ipynb"
        nbformat.write(figure1_notebook(lab), path)
        os.chown(path, s.pw.pw_uid, s.pw.pw_gid)

    # three browsers at the same time: three kernels build Figure 1 concurrently, same lab name
    results: dict = {}
    threads = [threading.Thread(target=run_in_browser, args=(hub, s, lab, results)) for s in students]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=1200)
    for s in students:
        assert s.name + ":exception" not in results, results[s.name + ":exception"]
        assert results[s.name]["reachable"] is True and results[s.name]["failed"] == [], results[s.name]
        assert results[s.name]["pairs"] == 42
        assert results.get(s.name + ":refused", True), "a wrong password got in"
        assert results[s.name]["check_failed"] == 0, results[s.name]  # lab.check(): everything right
        assert results[s.name + ":errors"] == 0, f"{s.name}'s notebook shows a traceback"
    assert not {n for n in host_netns() if n.startswith(lab)}, "a student's netns appeared in the host's /run/netns"
    for s in students:  # the course notebooks were copied into ~/nslab, as the student
        course = Path(s.pw.pw_dir) / "nslab"
        assert {p.name for p in course.iterdir()} == {"es", "en"}
        assert all(p.stat().st_uid == s.pw.pw_uid for p in [course, *course.rglob("*")])
        assert len(list((course / "es").glob("*.ipynb"))) == len(list((NOTEBOOKS / "es").glob("*.ipynb")))

    # each sees only their own lab: one lab, its own namespaces (different netns inodes per student)
    inodes = {}
    for s in students:
        status = s.nslab("status", "--json")
        assert status.returncode == 0, status.stderr
        labs = json.loads(status.stdout)["labs"]
        assert [st["lab"] for st in labs] == [lab], labs
        assert set(labs[0]["nodes"]) == {"h1", "h2", "h3", "h4", "r1", "r2", "r3"}
        inode = s.nslab("exec", "--lab", lab, "h1", "--", "readlink", "/proc/self/ns/net")
        assert inode.returncode == 0, inode.stderr
        inodes[s.name] = inode.stdout.strip()
    assert len(set(inodes.values())) == STUDENTS, inodes

    # one student cannot enter, read or remove another's namespaces
    a, b = students[0], students[1]
    holder = a.holder_pid()
    probe = b.run(["/usr/bin/python3", "-c", f"""
import errno, os, sys
out = []
for path in ['/proc/{holder}/ns/net', '/proc/{holder}/ns/mnt', '/proc/{holder}/ns/user', '/proc/{holder}/root/run/netns']:
    try:
        os.listdir(path) if path.endswith('netns') else os.close(os.open(path, os.O_RDONLY))
        out.append(path + ' OPENED')
    except OSError as exc:
        out.append(path + ' ' + errno.errorcode[exc.errno])
print('\\n'.join(out))
"""])
    assert probe.stdout.split("\n")[:4] == [f"/proc/{holder}/ns/net EACCES", f"/proc/{holder}/ns/mnt EACCES",
                                            f"/proc/{holder}/ns/user EACCES",
                                            f"/proc/{holder}/root/run/netns EACCES"], probe.stdout + probe.stderr
    enter = b.run(["nsenter", f"--target={holder}", "--user", "--mount", "true"])
    assert enter.returncode != 0 and "Permission denied" in enter.stderr, enter.stderr
    steal = b.nslab("down", "--lab", lab, env={"NSLAB_STATE_DIR": str(a.state_dir())})
    assert steal.returncode != 0, steal.stdout
    assert json.loads(a.nslab("status", "--json").stdout)["labs"][0]["lab"] == lab  # a's lab untouched
    assert a.nslab("ping", "--lab", lab, "--json").returncode == 0

    # b takes down b's lab: a's and c's stay up
    assert b.nslab("down", "--lab", lab).returncode == 0
    assert json.loads(b.nslab("status", "--json").stdout)["labs"] == []
    for s in (a, students[2]):
        assert [st["lab"] for st in json.loads(s.nslab("status", "--json").stdout)["labs"]] == [lab]
        assert s.nslab("down", "--lab", lab).returncode == 0

    after, netns_after = host_view(), host_netns()
    assert after == before, "the host's interfaces or routes changed"
    assert not {n for n in netns_before ^ netns_after if n.startswith(lab)}
