"""Helpers shared by the tests (imported as ``tests.support``; fixtures live in conftest.py).

- ``need(cond, why)``: skip where a component is missing, but FAIL under
  ``CI=true`` (CI must never pass by skipping).
- ``run_nslab``: the ``nslab`` command of this environment, as a student runs it.
- ``topologies()``: random small topologies (hypothesis), for the model and the
  simulation against the kernel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import strategies as st

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
FUZZ_CORPUS = TESTS / "fuzz_corpus"
SIM_REGRESSIONS = TESTS / "sim_regressions"
NOTEBOOKS = ROOT / "notebooks"
NOTEBOOK_PAIRS = [("01-preparacion", "01-preparation"), ("02-network-namespaces", "02-network-namespaces"),
                  ("03-pares-veth", "03-veth-pairs"), ("04-actividad-figura1", "04-activity-figure1"),
                  ("05-demo-profesor", "05-instructor-demo")]
ALL_NOTEBOOKS = [("es", es) for es, _ in NOTEBOOK_PAIRS] + [("en", en) for _, en in NOTEBOOK_PAIRS]
CI = os.environ.get("CI") == "true"
IS_ROOT = os.geteuid() == 0


# a small valid topology (two hosts, one router) that tests mutate
MINI = {
    "name": "mini",
    "nodes": {"h1": {"kind": "host", "routes": ["default via 10.0.1.1"]},
              "r1": {"kind": "router"},
              "h2": {"kind": "host", "routes": ["default via 10.0.2.1"]}},
    "links": [{"endpoints": ["h1:eth0", "r1:eth0"], "addresses": ["10.0.1.2/24", "10.0.1.1/24"]},
              {"endpoints": ["h2:eth0", "r1:eth1"], "addresses": ["10.0.2.2/24", "10.0.2.1/24"]}],
}


def value_paths(obj, prefix=()):
    """Every path (a tuple of keys and indexes) into a parsed YAML value, the empty one first."""
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from value_paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from value_paths(v, prefix + (i,))


def need(condition: bool, why: str) -> None:
    if not condition:
        if CI:
            pytest.fail(f"{why} (CI=true: a missing component is a failure, not a skip)")
        pytest.skip(why)


def nslab_cmd() -> list[str]:
    exe = shutil.which("nslab", path=os.path.dirname(sys.executable))
    return [exe] if exe else [sys.executable, "-m", "nslab_kernel.cli"]


def run_nslab(*args: str, check: bool = False, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run([*nslab_cmd(), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f"nslab {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
    return proc


def netns_names() -> set[str]:
    try:
        return set(os.listdir("/var/run/netns"))
    except FileNotFoundError:
        return set()


@st.composite
def topologies(draw):
    n = draw(st.integers(2, 6))
    names = [f"n{i}" for i in range(n)]
    edges = [(draw(st.integers(0, i - 1)), i) for i in range(1, n)]
    for _ in range(draw(st.integers(0, 2))):
        a, b = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        if a != b and (a, b) not in edges and (b, a) not in edges:
            edges.append((a, b))
    ifcount = {name: 0 for name in names}
    links, subnets, own = [], [], {name: [] for name in names}
    for k, (a, b) in enumerate(edges):
        ea, eb = f"e{ifcount[names[a]]}", f"e{ifcount[names[b]]}"
        ifcount[names[a]] += 1
        ifcount[names[b]] += 1
        net = f"10.77.{k}"
        links.append({"endpoints": [f"{names[a]}:{ea}", f"{names[b]}:{eb}"], "addresses": [f"{net}.1/24", f"{net}.2/24"]})
        subnets.append(f"{net}.0/24")
        own[names[a]].append((net, f"{net}.2"))  # (connected subnet, the neighbour's address on it)
        own[names[b]].append((net, f"{net}.1"))
    nodes = {}
    for name in names:
        spec = {"kind": draw(st.sampled_from(["host", "router"]))}
        if draw(st.booleans()):
            spec["forwarding"] = draw(st.booleans())
        connected = {c + ".0/24" for c, _ in own[name]}
        routes = []
        for subnet in subnets:
            if subnet in connected or not draw(st.booleans()):
                continue
            net, neighbour = draw(st.sampled_from(own[name]))
            gateway = neighbour if draw(st.integers(0, 9)) else f"{net}.9"  # sometimes nobody has it
            routes.append(f"{subnet} via {gateway}")
        if draw(st.integers(0, 3)) == 0:
            routes.append(f"default via {draw(st.sampled_from(own[name]))[1]}")
        spec["routes"] = routes
        nodes[name] = spec
    return {"name": "diff", "nodes": nodes, "links": links}


def notebook_build():
    """notebooks/build.py as a module (the one source of every notebook, and of the tests' probe cells)."""
    import importlib.util
    name = "nslab_notebooks_build"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, NOTEBOOKS / "build.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


# Run argv[1:] under a seccomp filter that refuses unshare(CLONE_NEWUSER), as Docker's default profile
# does: `python -c SECCOMP_BLOCK prog args...`.  A machine whose user namespaces are blocked, for real.
SECCOMP_BLOCK = r'''
import ctypes, os, platform, struct, sys
NR_UNSHARE = {"x86_64": 272, "aarch64": 97}[platform.machine()]
def ins(code, jt, jf, k): return struct.pack("=HBBI", code, jt, jf, k)
prog = b"".join([ins(0x20, 0, 0, 0), ins(0x15, 0, 3, NR_UNSHARE), ins(0x20, 0, 0, 16),
                 ins(0x45, 0, 1, 0x10000000), ins(0x06, 0, 0, 0x00050001), ins(0x06, 0, 0, 0x7fff0000)])
buf = ctypes.create_string_buffer(prog)
class Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
fp = Fprog(len(prog) // 8, ctypes.addressof(buf))
libc = ctypes.CDLL(None, use_errno=True)
assert libc.prctl(38, 1, 0, 0, 0) == 0            # PR_SET_NO_NEW_PRIVS
assert libc.prctl(22, 2, ctypes.byref(fp), 0, 0) == 0  # PR_SET_SECCOMP, a filter like Docker's default
os.execvp(sys.argv[1], sys.argv[1:])
'''


# --- JupyterLab for the browser tests --------------------------------------------------------------------
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def free_port(ports: range) -> int:
    """The first free TCP port of ``ports`` on 127.0.0.1 (each test file keeps to its own range)."""
    import socket
    for port in ports:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError(f"no free port in {ports.start}-{ports.stop - 1}")


def jupyterlab_settings(folder: Path, all_cells_in_dom: bool = False) -> Path:
    """JupyterLab's user settings for a test: no news toast over the outputs; with ``all_cells_in_dom``
    every cell is rendered (not only those on screen), so that all of them can be measured."""
    import json
    apputils = folder / "@jupyterlab" / "apputils-extension"
    apputils.mkdir(parents=True, exist_ok=True)
    (apputils / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false",
                                                                           "checkForUpdates": False}))
    if all_cells_in_dom:
        tracker = folder / "@jupyterlab" / "notebook-extension"
        tracker.mkdir(parents=True, exist_ok=True)
        (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    return folder


def start_jupyterlab(root_dir: Path, ports: range, kernel: str = "nslab", env: dict | None = None,
                     all_cells_in_dom: bool = False):
    """Start JupyterLab headless on a free port of ``ports``, serving ``root_dir`` (its log in
    ``root_dir/jupyter.log``); returns (process, base URL, token) once it answers.  ``env`` adds to this
    process's environment (a None value removes the variable).  Stop it with :func:`stop_jupyterlab`."""
    import time
    import urllib.request
    import uuid
    need(os.path.exists(CHROMIUM), "Debian's chromium is needed (apt-get install chromium)")
    port, token = free_port(ports), uuid.uuid4().hex
    settings = jupyterlab_settings(root_dir / ".jupyterlab-settings", all_cells_in_dom)
    log_path = root_dir / "jupyter.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--allow-root", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--ServerApp.token={token}", f"--ServerApp.root_dir={root_dir}", "--ServerApp.port_retries=0",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         f"--MultiKernelManager.default_kernel_name={kernel}"],
        stdout=log, stderr=subprocess.STDOUT,
        env={k: v for k, v in {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(settings), **(env or {})}.items()
             if v is not None})
    proc.log = log  # closed by stop_jupyterlab
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180  # a loaded 2-core machine starts JupyterLab slowly
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            return proc, base, token
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                stop_jupyterlab(proc)
                raise AssertionError("JupyterLab did not start: " + log_path.read_text()[-2000:])
            time.sleep(0.3)


def stop_jupyterlab(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    proc.log.close()


def run_all_cells(page, shots: Path | None = None) -> None:
    """Run > Run All Cells, again if the click was lost (a kernel not connected yet, a busy machine), until a
    cell has started.  A JupyterLab dialog in the way (a kernel that cannot start...) fails with its text
    (and a screenshot ``dialog.png`` in ``shots``)."""
    import time
    started = page.locator(".jp-Notebook .jp-CodeCell .jp-InputPrompt")
    for _attempt in range(4):
        dialog = page.locator(".jp-Dialog")
        if dialog.count():
            if shots is not None:
                page.screenshot(path=str(shots / "dialog.png"))
            raise AssertionError("JupyterLab shows a dialog: " + " | ".join(dialog.first.inner_text().split("\n")))
        page.locator(".jp-Notebook .jp-CodeCell .jp-InputArea-editor").first.click()
        page.click("text=Run", timeout=30_000)
        page.click("text=Run All Cells", timeout=30_000)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if any(t.strip() not in ("[ ]:", "") for t in started.all_inner_texts()):
                return
            page.wait_for_timeout(500)
    raise AssertionError("Run All Cells did not start the notebook")
