"""A student at work, in JupyterLab in Debian's Chromium: the Spanish section-3 notebook, run empty, says what
is missing with a hint in Spanish; the student types the activity's commands into the empty cells, runs the
checks again, and they turn green.  Screenshots go to test-artifacts/student-browser/ (read them)."""

from __future__ import annotations

import os
import uuid

import nbformat
import pytest

from tests.support import CHROMIUM, CHROMIUM_ARGS, IS_ROOT, NOTEBOOKS, ROOT, need, run_all_cells, start_jupyterlab, stop_jupyterlab

pytestmark = [pytest.mark.browser, pytest.mark.root]
SHOTS = ROOT / "test-artifacts" / "student-browser"
PORTS = range(18300, 18400)  # this track's ports on the shared machine


@pytest.fixture
def jupyter(tmp_path):
    need(IS_ROOT, "needs root (the student's commands create namespaces)")
    need(os.path.exists(CHROMIUM), "Debian's chromium is needed (apt-get install chromium)")
    lab = f"h3b{uuid.uuid4().hex[:5]}"
    nb = nbformat.read(NOTEBOOKS / "es" / "ejercicios" / "03-pares-veth.ipynb", 4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.source = params.source.replace('backend = "auto"', 'backend = "netns"').replace("lab = None", f'lab = "{lab}"')
    nbformat.write(nb, tmp_path / "ejercicio.ipynb")
    proc, base, token = start_jupyterlab(tmp_path, PORTS)
    try:
        yield base, token, lab
    finally:
        stop_jupyterlab(proc)
        from nslab_kernel.analysis import exercises
        exercises.start("two-containers", "netns", lab).teardown()
        left = [n for n in os.listdir("/var/run/netns") if n.startswith(lab)] if os.path.isdir("/var/run/netns") else []
        assert not left


def test_a_student_fills_in_the_veth_exercise_in_chromium(jupyter):
    from playwright.sync_api import sync_playwright
    base, token, lab = jupyter
    SHOTS.mkdir(parents=True, exist_ok=True)
    ns1, ns2 = f"{lab}-net-contenedor1", f"{lab}-net-contenedor2"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1000})
            page.goto(f"{base}/lab/tree/ejercicio.ipynb?token={token}", wait_until="domcontentloaded")
            page.wait_for_selector(".jp-Notebook", timeout=90_000)
            page.wait_for_selector("#jp-main-statusbar", timeout=90_000)
            run_all_cells(page)
            # every check says what is missing, in Spanish, with a hint and the way out
            page.wait_for_function("document.querySelectorAll('.nslab-exercise').length >= 7", timeout=120_000)
            first = page.locator(".nslab-exercise").filter(has_text="Dos contenedores").first
            first.scroll_into_view_if_needed()
            text = first.text_content()
            assert "Todavía no" in text and "Pista" in text and "ex.solve(\"3.launch\")" in text, text
            assert "Traceback" not in page.locator(".jp-Notebook").text_content()
            first.screenshot(path=str(SHOTS / "check-empty.png"))

            # the student types the activity's commands into the first two empty cells and runs them
            typed = [f"!ip netns add {ns1}\n!ip netns add {ns2}", "!ip link add v-1a type veth peer name v-1b"]
            cells = page.locator(".jp-Notebook .jp-CodeCell")
            targets = []
            for i in range(cells.count()):
                source = cells.nth(i).locator(".jp-InputArea-editor").text_content().strip()
                if source == "" and i >= 2:
                    targets.append(i)
            assert len(targets) >= 2 and targets[0] == 2, targets
            for index, commands in zip(targets[:2], typed):
                editor = cells.nth(index).locator(".jp-InputArea-editor")
                editor.scroll_into_view_if_needed()
                editor.click()
                page.keyboard.type(commands)
                page.keyboard.press("Shift+Enter")  # runs it and moves to the check cell
                page.keyboard.press("Shift+Enter")  # runs the check
            page.wait_for_function(
                "Array.from(document.querySelectorAll('.nslab-exercise')).filter(e => e.innerText.includes('Hecho')).length >= 2",
                timeout=60_000)
            done = [e for e in page.locator(".nslab-exercise").all_text_contents() if "Hecho" in e]
            assert any("La pareja veth" in t for t in done) and any("Dos contenedores" in t for t in done), done
            shot = page.locator(".nslab-exercise").filter(has_text="La pareja veth").first
            shot.scroll_into_view_if_needed()
            shot.screenshot(
                path=str(SHOTS / "check-done.png"))
            page.screenshot(path=str(SHOTS / "notebook.png"), full_page=True)
        finally:
            browser.close()
