"""A shell in a node, in a real browser: JupyterLab headless, Debian's Chromium driven by Playwright.

A student runs ``lab.terminal("h1")``, clicks in the terminal, types ``ip addr``
and sees h1's own interfaces; a second terminal (r1) is open at the same time,
takes its size from the page (``stty size``), stops a command on Ctrl-C and
closes on Ctrl-D; ``lab.down()`` closes the first one and says so in the
notebook's language.  Screenshots (es, en): test-artifacts/browser/terminal-*.png.
"""

from __future__ import annotations

import os
import time
import uuid

import nbformat
import pytest

from tests.support import CHROMIUM, CHROMIUM_ARGS, IS_ROOT, ROOT, need, start_jupyterlab, stop_jupyterlab

pytestmark = [pytest.mark.browser, pytest.mark.root]
SHOTS = ROOT / "test-artifacts" / "browser"
TEXTS = {
    "es": {"exited": "terminal cerrado: el shell ha terminado (código de salida 0)",
           "down": "terminal cerrado: se ha desmontado el laboratorio", "title": "Terminal en h1", "close": "Cerrar",
           "reopen": "Abrir de nuevo"},
    "en": {"exited": "terminal closed: the shell exited (status 0)", "down": "terminal closed: lab",
           "title": "Terminal in h1", "close": "Close", "reopen": "Reopen"},
}


@pytest.fixture
def own_state(tmp_path, monkeypatch):
    """A private state dir whose labs are taken down afterwards, and nothing else: the shared
    ``state`` fixture's ``cleanup()`` also sweeps LXD for every other lab's containers."""
    folder = tmp_path / "state"
    monkeypatch.setenv("NSLAB_STATE_DIR", str(folder))
    yield folder
    import nslab_kernel
    nslab_kernel.cleanup(lxd=False)
    left = list((folder / "labs").glob("*.jsonl")) if (folder / "labs").exists() else []
    assert not left, f"records left after cleanup: {left}"


@pytest.fixture(params=["es", "en"])
def jupyter(request, tmp_path, own_state):
    state = own_state
    need(IS_ROOT, "needs root (the notebook builds Figure 1 in network namespaces)")
    need(os.path.exists(CHROMIUM), "Debian's chromium is needed (apt-get install chromium)")
    lang = request.param
    lab = f"h4b{uuid.uuid4().hex[:5]}"
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in (
        f"from nslab_kernel import Lab, set_language\nset_language('{lang}')\n"
        f"lab = Lab.load('figure1', backend='netns', lab='{lab}')\nlab.up().summary()",
        "t1 = lab.terminal('h1')\nt1",
        "t2 = lab.terminal('r1', height='220px')\nt2",
        "lab.down().summary()",
    )]
    nbformat.write(nb, tmp_path / "terminal.ipynb")
    proc, base, token = start_jupyterlab(tmp_path, range(18400, 18500), kernel="python3",
                                         env={"NSLAB_LANG": "en" if lang == "es" else "es",
                                              "NSLAB_STATE_DIR": str(state)})
    try:
        yield base, token, lab, lang
    finally:
        stop_jupyterlab(proc)


def screen_text(page, index: int) -> str:
    return page.locator(".nslab-terminal").nth(index).evaluate("el => el.nslabTerminalText()")


def wait_text(page, index: int, needle: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = screen_text(page, index)
        if needle in text:
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"{needle!r} not on terminal {index}'s screen after {timeout:g} s:\n{text}")
        time.sleep(0.2)


def run_all_above(page, cell: int) -> None:
    """Run every cell above ``cell`` from the Run menu.  A request made while JupyterLab is still
    connecting to the new kernel can be lost (the cells stay ``[ ]``): then it is made again."""
    first_prompt = page.locator(".jp-Notebook .jp-Cell").first.locator(".jp-InputPrompt")
    for _attempt in range(4):
        page.locator(".jp-Notebook .jp-Cell").nth(cell).locator(".jp-InputArea-editor").click()
        page.click("text=Run", timeout=30_000)  # the menu
        page.click("text=Run All Above Selected Cell", timeout=30_000)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if first_prompt.inner_text().strip() not in ("[ ]:", ""):
                return
            time.sleep(0.3)
    raise AssertionError("JupyterLab never ran the cells (they stayed '[ ]')")


def test_terminal_in_chromium(jupyter):
    from playwright.sync_api import sync_playwright
    base, token, lab, lang = jupyter
    texts = TEXTS[lang]
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1300, "height": 1000})
            context.grant_permissions(["clipboard-read", "clipboard-write"])
            page = context.new_page()
            page.goto(f"{base}/lab/tree/terminal.ipynb?token={token}", wait_until="domcontentloaded")
            page.wait_for_selector(".jp-Notebook .jp-Cell .jp-InputArea-editor", timeout=90_000)
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000)
            # run lab.up(), the h1 terminal and the r1 terminal: everything above the last cell (lab.down())
            run_all_above(page, 3)
            page.wait_for_function("document.querySelectorAll('.nslab-terminal .xterm-screen').length == 2",
                                   timeout=120_000)
            first, second = page.locator(".nslab-terminal").nth(0), page.locator(".nslab-terminal").nth(1)
            wait_text(page, 0, "(h1)")
            wait_text(page, 1, "(r1)")
            assert texts["title"] in first.locator(".nslab-terminal-title").inner_text()
            assert first.locator(".nslab-terminal-button").inner_text() == texts["close"]

            # h1: ip addr shows h1's interface and address, none of r1's
            first.locator(".xterm-screen").click()
            page.keyboard.type("ip addr")
            page.keyboard.press("Enter")
            text = wait_text(page, 0, "10.0.1.2/24")
            assert "eth0@" in text and "lo:" in text
            assert "10.0.12.1" not in text and "10.0.1.1/24" not in text  # r1's addresses
            first.screenshot(path=str(SHOTS / f"terminal-h1-{lang}.png"))
            # a command copied from the notebook's text is pasted with Ctrl+V
            page.evaluate("navigator.clipboard.writeText('echo pasted-$((6*7))')")
            page.keyboard.press("Control+v")
            page.keyboard.press("Enter")
            wait_text(page, 0, "pasted-42")

            # r1, open at the same time: its size is the page's, Ctrl-C stops a command, colours on
            second.locator(".xterm-screen").click()
            rows, cols = second.evaluate("el => el.nslabTerminalSize()")
            assert rows < 24 and cols > 80, (rows, cols)  # 220 px tall, page-wide: not the pty's 24x80 default
            page.keyboard.type("stty size; ip -br addr show eth0")
            page.keyboard.press("Enter")
            text = wait_text(page, 1, f"{rows} {cols}")
            wait_text(page, 1, "10.0.1.1/24")
            page.keyboard.type("sleep 30")
            page.keyboard.press("Enter")
            time.sleep(0.5)
            page.keyboard.press("Control+c")
            wait_text(page, 1, "^C\n(r1)")  # a new prompt: the shell is back
            page.keyboard.type("echo status=$?")
            page.keyboard.press("Enter")
            wait_text(page, 1, "status=130")
            assert second.locator(".xterm-rows span[style*='color'], .xterm-rows span[class*='xterm-fg-']").count() > 0
            second.screenshot(path=str(SHOTS / f"terminal-r1-{lang}.png"))

            # Ctrl-D: the shell ends and the terminal says so, in the notebook's language
            page.keyboard.press("Control+d")
            page.wait_for_function("el => el.classList.contains('nslab-terminal-closed')",
                                   arg=second.element_handle(), timeout=20_000)
            assert second.locator(".nslab-terminal-status").inner_text() == texts["exited"]
            assert second.locator(".nslab-terminal-button").inner_text() == texts["reopen"]
            # ... and its button opens a new shell in the same node, on a clean screen
            second.locator(".nslab-terminal-button").click()
            page.wait_for_function("el => !el.classList.contains('nslab-terminal-closed')",
                                   arg=second.element_handle(), timeout=20_000)
            wait_text(page, 1, "(r1)")
            assert "status=130" not in screen_text(page, 1)
            assert second.locator(".nslab-terminal-button").inner_text() == texts["close"]

            # lab.down() (the last cell) closes h1's terminal too
            page.locator(".jp-Notebook .jp-Cell").nth(3).locator(".jp-InputArea-editor").click()
            page.keyboard.press("Shift+Enter")
            page.wait_for_function("el => el.classList.contains('nslab-terminal-closed')",
                                   arg=first.element_handle(), timeout=60_000)
            assert first.locator(".nslab-terminal-status").inner_text().startswith(texts["down"])
            page.wait_for_function("el => el.classList.contains('nslab-terminal-closed')",
                                   arg=second.element_handle(), timeout=20_000)
            assert second.locator(".nslab-terminal-status").inner_text().startswith(texts["down"])
            first.screenshot(path=str(SHOTS / f"terminal-h1-closed-{lang}.png"))

            # nothing in the terminals' bars is cut off
            cut = page.evaluate("""() => Array.from(document.querySelectorAll(
                '.nslab-terminal-bar, .nslab-terminal-bar *')).filter(e => e.scrollWidth > e.clientWidth + 1)
                .map(e => e.className + ': ' + e.textContent)""")
            assert not cut, cut
            page.locator(".jp-Notebook").screenshot(path=str(SHOTS / f"terminal-notebook-{lang}.png"))
        except BaseException:
            page.screenshot(path=str(SHOTS / f"terminal-failed-{lang}.png"), full_page=True)
            raise
        finally:
            browser.close()
    assert (SHOTS / f"terminal-h1-{lang}.png").stat().st_size > 1000
