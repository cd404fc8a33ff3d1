"""The widgets as a student sees them: JupyterLab headless, Debian's Chromium, Playwright; es and en.

- a link made with ``!ip`` in a later cell appears in the graph of an earlier cell, which is never run again;
- no widget text is cut: scrollWidth <= clientWidth, measured in the DOM, for every label and matrix cell;
- the graph is never wider than the output area (Figure 1, and chain:50, whose names stay readable);
- "!" marks nothing at a stage whose failures are the expected ones; clicking a cell draws its path on the
  graph just above the matrix;
- Spanish labels only in the Spanish notebook, English only in the English one;
- screenshots of each, kept in $NSLAB_ARTIFACTS (default test-artifacts/widgets/, git-ignored).

Ports 18500-18599 (this suite's range); lab names start with h5.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import nbformat
import pytest


from tests.support import CHROMIUM, CHROMIUM_ARGS, ROOT, run_all_cells

pytestmark = [pytest.mark.browser, pytest.mark.root]
SHOTS = Path(os.environ.get("NSLAB_ARTIFACTS") or ROOT / "test-artifacts") / "widgets"

# What must not appear in one language's widgets (a few words of the other language's labels)
FOREIGN = {"es": ["reachable", "unreachable", "Refresh", "missing", "Processes", "forwarding on", "expected at"],
           "en": ["alcanzable", "Actualizar", "falta", "Procesos", "reenvío", "esperado"]}


def notebook(lab: str, lang: str, chain: bool) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "h5nslab", "display_name": "nslab (widgets test)", "language": "python"}
    cells = [
        f"import os\nos.environ['NSLAB_LANG'] = '{lang}'\n"
        "import nslab_kernel\nif hasattr(nslab_kernel, 'set_language'):\n"
        f"    nslab_kernel.set_language('{lang}')\n"
        "from nslab_kernel import Lab, load\n"
        "from nslab_widgets import NetnsInspector, PingMatrixView, TopologyView, progress_bar\n"
        f"lab = Lab.load('figure1', backend='netns', lab='{lab}')\n"
        "lab.up(stages=['nodes'], progress=progress_bar())",
        "view = TopologyView(lab)\nview.add_class('h5-live')\nview",
        # the student's own link, by hand: r2:eth2 - h3:eth0 (the graph above must draw it, not run again)
        "r2, h3 = lab.topology.netns_name('r2'), lab.topology.netns_name('h3')\n"
        "!ip -n $r2 link add eth2 type veth peer name eth0 netns $h3\n!ip -n $r2 link show eth2",
        "import time\ntime.sleep(1.0)  # the graph is redrawn from netlink events meanwhile\n"
        "lab.up(stages=['links', 'addresses'])",
        "stage = PingMatrixView(lab, matrix=lab.ping_matrix(timeout=0.3))\nstage.add_class('h5-stage')\nstage",
        "NetnsInspector(lab)",
        "lab.up()\nfinal = PingMatrixView(lab, run=True)\nfinal.add_class('h5-final')\nfinal",
    ]
    if chain:
        cells.append("big = TopologyView.from_state(load('chain:50'))\nbig.add_class('h5-chain')\nbig")
    # no lab.down() cell: Run All would take the lab down before the browser is looked at; the state
    # fixture removes the lab through its record afterwards
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    return nb


CUT = """els => els.filter(e => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1)
                  .map(e => (e.className || e.tagName) + ': ' + (e.innerText || e.textContent).trim().slice(0, 60)
                            + ' (' + e.scrollWidth + ' > ' + e.clientWidth + ')')"""
TEXTS = (".h5-live .widget-button, .h5-live .widget-html-content, .nslab-legend span, "
         ".nslab-matrix .widget-button, .nslab-matrix .widget-html-content, .nslab-matrix-summary .widget-html-content, "
         ".jupyter-widget-tab .lm-TabBar-tabLabel, .jupyter-widgets .widget-button, "
         ".jp-OutputArea-output .widget-label, .widget-inline-hbox .widget-label")
WIDER = """els => els.map(svg => {
    const out = svg.closest('.jp-OutputArea-output');
    return [svg.getBoundingClientRect().width, out ? out.clientWidth : 0];
  })"""


def run_notebook(page, base: str, token: str, name: str) -> None:
    page.goto(f"{base}/lab/tree/{name}?token={token}", wait_until="domcontentloaded")
    page.wait_for_selector(".jp-Notebook", timeout=90_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle'], #jp-main-statusbar", timeout=90_000)
    time.sleep(1.5)  # the kernel connects
    news = page.locator(".jp-toast-container button:has-text('No')")
    if news.count():
        news.first.click()  # JupyterLab's "get notified about news?" toast would cover the outputs
    run_all_cells(page)


@pytest.mark.parametrize("lang", ["es", "en"])
def test_widgets_in_chromium(widgets_jupyter, lang):
    from playwright.sync_api import sync_playwright
    base, token, folder = widgets_jupyter
    lab = f"h5b{lang}{uuid.uuid4().hex[:4]}"
    chain = lang == "en"  # one chain:50 graph is enough (it needs no root: a drawing of the target)
    nbformat.write(notebook(lab, lang, chain), folder / f"widgets-{lang}.ipynb")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})  # a laptop; output area ~ 1,000 px
            run_notebook(page, base, token, f"widgets-{lang}.ipynb")

            # 1. live: the link made by hand (cell 3) reaches the graph of cell 2, never run again
            page.wait_for_selector(".h5-live .nslab-topology svg", timeout=120_000)
            page.wait_for_selector(".h5-live #link-6:not(.ghost)", timeout=60_000)
            page.wait_for_selector(".h5-stage .nslab-matrix .nslab-cell", timeout=120_000)
            page.locator(".h5-live").first.screenshot(path=str(SHOTS / f"{lang}-topology-live.png"))

            # one progress bar for the nodes operation, finished (green) when it ended
            first = page.locator(".jp-Notebook .jp-Cell").first
            bars = first.locator(".widget-hprogress, .widget-progress")
            assert bars.count() == 1, first.inner_html()[-1500:]
            assert bars.first.locator(".progress-bar-success").count() == 1, bars.first.inner_html()

            # 2. at the addresses stage each node reaches its neighbours only, as expected then: no "!"
            stage_cells = page.locator(".h5-stage .nslab-matrix .nslab-cell")
            assert stage_cells.count() == 42
            assert page.locator(".h5-stage .nslab-unexpected").count() == 0
            texts = stage_cells.evaluate_all("els => els.map(e => e.innerText.trim())")
            assert not [t for t in texts if t.startswith("!") or "…" in t]
            assert page.locator(".h5-stage .nslab-ok").count() > 0 and page.locator(".h5-stage .nslab-failed").count() > 0
            page.locator(".h5-stage").first.screenshot(path=str(SHOTS / f"{lang}-matrix-stage.png"))

            # 3. the final matrix: all reachable; a click draws the path on the graph right above it
            page.wait_for_selector(".h5-final .nslab-matrix .nslab-cell", timeout=120_000)
            assert page.locator(".h5-final .nslab-ok").count() == 42
            page.locator(".h5-final .cell-h1-h4").first.click()
            page.wait_for_selector(".h5-final .nslab-pair", timeout=30_000)
            page.wait_for_selector(".h5-final .nslab-topology #node-r3.on-path", timeout=30_000)
            graph_box = page.locator(".h5-final .nslab-topology").first.bounding_box()
            grid_box = page.locator(".h5-final .nslab-matrix").first.bounding_box()
            assert 0 <= grid_box["y"] - (graph_box["y"] + graph_box["height"]) < 200  # just above, not 20 cells away
            page.locator(".h5-final").first.screenshot(path=str(SHOTS / f"{lang}-matrix-final.png"))

            # 3b. a click on node h1 of the graph opens a shell inside that node (h4's TerminalView)
            page.locator(".h5-live .nslab-topology g#node-h1").first.click()
            page.wait_for_selector(".h5-live .nslab-terminal .nslab-terminal-screen", timeout=60_000)
            page.locator(".h5-live .nslab-terminal-screen").first.click()
            page.keyboard.type("ip -br addr\n")
            page.wait_for_function("(() => { const t = document.querySelector('.h5-live .nslab-terminal');"
                                   " return t && t.nslabTerminalText && t.nslabTerminalText().includes('10.0.1.2/24'); })()",
                                   timeout=30_000)
            page.locator(".h5-live").first.screenshot(path=str(SHOTS / f"{lang}-terminal.png"))

            # 4. inspector: the tabs and their titles
            page.wait_for_selector(".jupyter-widget-tab .lm-TabBar-tab", timeout=60_000)
            inspector = page.locator(".nslab-inspector").first
            titles = inspector.locator(".lm-TabBar-tabLabel").evaluate_all("els => els.map(e => e.innerText)")
            assert len(titles) == 2 + 7 and "h1" in titles  # every node exists by now: a tab each
            inspector.screenshot(path=str(SHOTS / f"{lang}-inspector.png"))
            if chain:
                page.wait_for_selector(".h5-chain .nslab-topology svg", timeout=60_000)
                page.locator(".h5-chain").first.screenshot(path=str(SHOTS / f"{lang}-chain50.png"))
                sizes = page.locator(".h5-chain svg text").evaluate_all(
                    "els => els.map(e => e.getBoundingClientRect().height)")
                assert sizes and min(sizes) >= 9, f"chain:50 names {min(sizes):.1f} px high"

            # 5. nothing cut, nothing wider than the output area
            page.wait_for_timeout(500)
            cut = page.locator(TEXTS).evaluate_all(CUT)
            assert not cut, cut
            widths = page.locator(".nslab-topology svg").evaluate_all(WIDER)
            assert widths and all(w <= out + 1 for w, out in widths), widths

            # 6. one language only, in the widgets' text
            shown = " ".join(page.locator(".jp-OutputArea-output .jupyter-widgets, .jp-OutputArea-output .nslab-legend")
                             .evaluate_all("els => els.map(e => e.innerText)"))
            leaks = [word for word in FOREIGN[lang] if word in shown]
            assert not leaks, leaks
            page.screenshot(path=str(SHOTS / f"{lang}-notebook.png"), full_page=True)
        finally:
            browser.close()
    for shot in ("topology-live", "matrix-stage", "matrix-final", "notebook"):
        assert (SHOTS / f"{lang}-{shot}.png").stat().st_size > 1000
