"""Shells inside nodes, as a student opens them in JupyterLab in Debian's Chromium (Playwright), es and en:

- the topology graph: clicking node h1 opens a terminal right below the graph, where ``ip addr`` shows h1's
  interfaces (its address of Figure 1); Tab to node r1 and Enter opens a second one, in r1;
- the student track: ``ex.terminal("contenedor1")`` before the node exists says what to create first, in the
  notebook's language; once the student made it (``!ip netns add``), it opens a terminal inside it (``ip netns
  identify`` names the node's namespace); ``ex.terminal()`` opens one in the student's host;
- no widget text cut (scrollWidth <= clientWidth) and no word of the other language;
- screenshots in test-artifacts/nodeterm/ (read them).

Ports 47100-47199; labs, namespaces and the kernel's name start with n1.  The labs go down through their
records (private_state), the student's namespaces through the exercise's teardown; both are checked.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import nbformat
import pytest

from nslab_kernel import load
from tests.integration.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.support import IS_ROOT, NOTEBOOKS, ROOT, need

pytestmark = [pytest.mark.browser, pytest.mark.root]
SHOTS = Path(os.environ.get("NSLAB_ARTIFACTS") or ROOT / "test-artifacts") / "nodeterm"
PORTS = range(47100, 47200)  # this branch's ports on the shared machine
KERNEL = "n1nslab"
STUDENT = {"es": "ejercicios/03-pares-veth", "en": "exercises/03-veth-pairs"}
FOREIGN = {"es": ["Click a node", "Open a terminal", "Terminal in", "does not exist yet", "your host"],
           "en": ["Pulse en un nodo", "Abrir una terminal", "Terminal en", "todavía no existe", "su equipo"]}
CUT = """els => els.filter(e => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1)
                  .map(e => (e.className || e.tagName) + ': ' + (e.innerText || e.textContent).trim().slice(0, 60)
                            + ' (' + e.scrollWidth + ' > ' + e.clientWidth + ')')"""
ACTIVE = ".jp-NotebookPanel"  # one notebook per workspace (run_all)
TEXTS = (".widget-html-content, .widget-button, .nslab-terminal-bar, .nslab-terminal-bar *, "
         ".jp-OutputArea-output .widget-label, .jp-RenderedHTMLCommon code")


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port in 47100-47199")


@pytest.fixture
def jupyter(tmp_path, private_state):
    """JupyterLab with this environment's kernel (as n1nslab), no news toast, every cell in the DOM."""
    need(IS_ROOT, "needs root (the notebooks build network namespaces)")
    need(os.path.exists(CHROMIUM), "Debian's chromium is needed (apt-get install chromium)")
    need(shutil.which("dot") is not None, "Graphviz's dot is needed")
    kernels = tmp_path / "jupyter" / "kernels" / KERNEL
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "nslab (n1 test)", "language": "python"}))
    settings = tmp_path / "settings" / "@jupyterlab"
    (settings / "apputils-extension").mkdir(parents=True)
    (settings / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    (settings / "notebook-extension").mkdir(parents=True)
    (settings / "notebook-extension" / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    port, token = free_port(), uuid.uuid4().hex
    log = open(tmp_path / "jupyter.log", "w")
    env = {**os.environ, "JUPYTER_PATH": str(tmp_path / "jupyter"), "NSLAB_STATE_DIR": str(private_state),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings")}
    env.pop("NSLAB_LANG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--allow-root", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--ServerApp.token={token}", f"--ServerApp.root_dir={tmp_path}", "--ServerApp.port_retries=0",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         f"--MultiKernelManager.default_kernel_name={KERNEL}"],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    labs: list[str] = []
    try:
        deadline = time.monotonic() + 180  # a loaded 2-core machine starts JupyterLab slowly
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError("JupyterLab did not start: " + (tmp_path / "jupyter.log").read_text()[-2000:])
                time.sleep(0.3)
        yield base, token, tmp_path, labs
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        from nslab_kernel.analysis import exercises
        for lab in labs:  # the student's own namespaces (no record: the student made them by hand)
            exercises.start("two-containers", "netns", lab).teardown()
        names = os.listdir("/var/run/netns") if os.path.isdir("/var/run/netns") else []
        assert not [n for n in names if any(n.startswith(lab) for lab in labs)]


def graph_notebook(lab: str, lang: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": "nslab (n1 test)", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in [
        f"import nslab_kernel\nnslab_kernel.set_language('{lang}')\n"
        "from nslab_kernel import Lab\nfrom nslab_widgets import TopologyView\n"
        f"lab = Lab.load('figure1', backend='netns', lab='{lab}')\nlab.up().summary()",
        "view = TopologyView(lab)\nview.add_class('n1-live')\nview",
    ]]
    return nb


def student_notebook(lab: str, lang: str) -> nbformat.NotebookNode:
    """The student's notebook of section 3 as handed out, with the student's cells: a terminal in contenedor1
    before it exists, the namespace made by hand, the terminal again, and one in the host."""
    nb = nbformat.read(NOTEBOOKS / lang / f"{STUDENT[lang]}.ipynb", 4)
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": "nslab (n1 test)", "language": "python"}
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.source = params.source.replace('backend = "auto"', 'backend = "netns"').replace("lab = None", f'lab = "{lab}"')
    setup = next(i for i, c in enumerate(nb.cells) if "exercises.start(" in c.source)
    mine = [
        'early = ex.terminal("contenedor1")\nearly',
        '!ip netns add {ex.netns("contenedor1")}',
        't = ex.terminal("contenedor1")\nt.add_class("n1-ex")\nt',
        'h = ex.terminal()\nh.add_class("n1-host")\nh',
    ]
    nb.cells[setup + 1:setup + 1] = [nbformat.v4.new_code_cell(c) for c in mine]
    return nb


def run_all(page, base: str, token: str, name: str) -> None:
    workspace = name.split(".")[0]  # a workspace of its own: only this notebook open (no other tab's cells)
    page.goto(f"{base}/lab/workspaces/{workspace}/tree/{name}?token={token}", wait_until="domcontentloaded")
    page.wait_for_selector(".jp-Notebook", timeout=90_000)
    page.wait_for_selector("#jp-main-statusbar", timeout=90_000)
    page.wait_for_function("document.body.innerText.includes('| Idle')", timeout=90_000)  # the kernel is there
    page.locator(".jp-Notebook .jp-CodeCell .jp-InputArea-editor").first.click()
    page.keyboard.press("Escape")
    started = f"Array.from(document.querySelectorAll('{ACTIVE} .jp-CodeCell .jp-InputPrompt')).some(p => /\\[(\\d+|\\*)\\]/.test(p.innerText))"
    for _attempt in range(4):  # "Run All" before the kernel is connected does nothing: click again
        page.click("text=Run", timeout=30_000)
        page.click("text=Run All Cells", timeout=30_000)
        try:
            page.wait_for_function(started, timeout=20_000)
            return
        except Exception:  # noqa: BLE001 - playwright's TimeoutError
            page.keyboard.press("Escape")
    raise AssertionError(f"Run All did not start {name}")


def wait_idle(page, count_cells: int) -> None:
    """Every code cell has run (a number in its prompt) and the kernel is idle: comm messages get through."""
    page.wait_for_function(
        f"Array.from(document.querySelectorAll('{ACTIVE} .jp-CodeCell .jp-InputPrompt')).filter(p => /\\[\\d+\\]/.test(p.innerText))"
        f".length >= {count_cells} && document.body.innerText.includes('| Idle')", timeout=180_000)


def terminal_text(page, selector: str) -> str:
    return page.locator(selector).first.evaluate("el => el.nslabTerminalText ? el.nslabTerminalText() : ''")


def wait_terminal(page, selector: str, needle: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = terminal_text(page, selector)
        if needle in text:
            return text
        time.sleep(0.2)
    raise AssertionError(f"{needle!r} not in the terminal {selector}:\n{text}")


def check_readable(page, lang: str) -> None:
    page.wait_for_timeout(300)
    cut = page.locator(TEXTS).evaluate_all(CUT)
    assert not cut, cut
    shown = " ".join(page.locator(".jp-OutputArea-output").evaluate_all("els => els.map(e => e.innerText)"))
    labels = " ".join(page.locator("g.node[aria-label]").evaluate_all("els => els.map(e => e.getAttribute('aria-label'))"))
    leaks = [word for word in FOREIGN[lang] if word in shown + " " + labels]
    assert not leaks, leaks


@pytest.mark.parametrize("lang", ["es", "en"])
def test_node_terminals_in_chromium(jupyter, lang):
    from playwright.sync_api import sync_playwright
    base, token, folder, labs = jupyter
    fig, student = f"n1f{lang}{uuid.uuid4().hex[:4]}", f"n1s{lang}{uuid.uuid4().hex[:4]}"
    labs.append(student)
    nbformat.write(graph_notebook(fig, lang), folder / "graph.ipynb")
    nb = student_notebook(student, lang)
    nbformat.write(nb, folder / "student.ipynb")
    code_cells = sum(c.cell_type == "code" and bool(c.source.strip()) for c in nb.cells)  # empty ones never run
    h1 = str(load("figure1").addresses_of("h1")[0])
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1500})  # graph and two terminals on screen

            # 1. the graph: a click on node h1 opens a shell in h1, right below the graph
            run_all(page, base, token, "graph.ipynb")
            wait_idle(page, 2)
            page.wait_for_selector(".n1-live .nslab-topology g#node-h1[role=button]", timeout=60_000)
            node = page.locator(".n1-live g#node-h1").first
            assert node.get_attribute("aria-label") == {"es": "Abrir una terminal en h1",
                                                        "en": "Open a terminal in h1"}[lang]
            node.click()
            page.wait_for_selector(".n1-live .nslab-terminal .nslab-terminal-screen", timeout=60_000)
            term = ".n1-live .nslab-terminal"
            graph_box = page.locator(".n1-live .nslab-topology").first.bounding_box()
            term_box = page.locator(term).first.bounding_box()
            assert term_box["y"] >= graph_box["y"] + graph_box["height"] - 1  # below the graph
            assert "h1" in page.locator(f"{term} .nslab-terminal-title").first.inner_text()
            wait_terminal(page, term, "(h1)")  # its prompt names the node
            page.locator(f"{term} .nslab-terminal-screen").first.click()
            page.keyboard.type("ip addr\n")
            text = wait_terminal(page, term, h1)
            assert "eth0" in text and "10.0.2." not in text  # h1's own interfaces, not r1's

            # the keyboard: Tab to r1 and Enter opens a second terminal, in r1
            page.locator(".n1-live g#node-r1").first.focus()
            page.keyboard.press("Enter")
            page.wait_for_function("document.querySelectorAll('.n1-live .nslab-terminal').length === 2", timeout=60_000)
            second = page.locator(term).nth(1)
            assert "r1" in second.locator(".nslab-terminal-title").inner_text()
            page.wait_for_timeout(500)
            page.locator(".n1-live").first.screenshot(path=str(SHOTS / f"{lang}-graph-terminals.png"))
            check_readable(page, lang)

            # 2. the student track, in the notebook as handed out
            page2 = page  # the same tab (a second tab of one JupyterLab workspace may be refused)
            page2.set_viewport_size({"width": 1280, "height": 900})
            run_all(page2, base, token, "student.ipynb")
            try:
                page2.wait_for_selector(".n1-ex .nslab-terminal-screen", timeout=180_000)
            except Exception:
                page2.screenshot(path=str(SHOTS / f"{lang}-FAILED-student.png"), full_page=True)
                raise
            page2.wait_for_selector(".n1-host .nslab-terminal-screen", timeout=60_000)
            early = page2.locator(".jp-CodeCell").filter(has_text="early = ex.terminal").first
            said = early.locator(".jp-OutputArea-output").first.inner_text()
            expected = {"es": "contenedor1 todavía no existe: cree primero su network namespace",
                        "en": "contenedor1 does not exist yet: create its network namespace first"}[lang]
            assert expected in said and f"ip netns add {student}-net-contenedor1" in said, said
            assert "Traceback" not in page2.locator(".jp-Notebook").first.inner_text()
            early.screenshot(path=str(SHOTS / f"{lang}-student-not-yet.png"))
            wait_idle(page2, code_cells)
            ex_term = ".n1-ex .nslab-terminal, .n1-ex.nslab-terminal"
            wait_terminal(page2, ex_term, "(contenedor1)")
            page2.locator(".n1-ex .nslab-terminal-screen").first.click()
            page2.keyboard.type("ip netns identify; ip -br link\n")
            text = wait_terminal(page2, ex_term, f"{student}-net-contenedor1\n")
            assert "lo " in text
            host = ".n1-host .nslab-terminal, .n1-host.nslab-terminal"
            title = page2.locator(".n1-host .nslab-terminal-title").first.inner_text()
            assert title == {"es": "Terminal en su equipo", "en": "Terminal in your host"}[lang], title
            wait_terminal(page2, host, "(host)")
            cell = page2.locator(".jp-CodeCell").filter(has=page2.locator(".n1-ex")).first
            cell.scroll_into_view_if_needed()
            cell.screenshot(path=str(SHOTS / f"{lang}-student-terminal.png"))
            page2.locator(".jp-CodeCell").filter(has=page2.locator(".n1-host")).first.screenshot(
                path=str(SHOTS / f"{lang}-student-host.png"))
            check_readable(page2, lang)
            page2.screenshot(path=str(SHOTS / f"{lang}-student-notebook.png"), full_page=True)
        finally:
            browser.close()
    for shot in ("graph-terminals", "student-not-yet", "student-terminal", "student-host"):
        assert (SHOTS / f"{lang}-{shot}.png").stat().st_size > 1000
