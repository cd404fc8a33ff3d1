"""The widgets in a real browser: JupyterLab headless, Debian's Chromium driven by Playwright.

Run alone with ``pytest -m browser``.  Screenshots go to test-artifacts/browser/.
"""

from __future__ import annotations

import os
import shutil
import uuid

import nbformat
import pytest

from tests.support import CHROMIUM, CHROMIUM_ARGS, IS_ROOT, ROOT, need, run_all_cells, start_jupyterlab, stop_jupyterlab

pytestmark = [pytest.mark.browser, pytest.mark.root]
SHOTS = ROOT / "test-artifacts" / "browser"


@pytest.fixture
def jupyter(tmp_path, private_state):
    need(IS_ROOT, "needs root (the notebook builds Figure 1)")
    need(os.path.exists(CHROMIUM), "Debian's chromium is needed (apt-get install chromium)")
    need(shutil.which("dot") is not None, "Graphviz's dot is needed")
    lab = f"h5tb{uuid.uuid4().hex[:5]}"
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "nslab", "display_name": "Python 3 (nslab)", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in (
        f"from nslab_kernel import Lab\nfrom nslab_widgets import NetnsInspector, PingMatrixView, TopologyView\n"
        f"lab = Lab.load('figure1', backend='netns', lab='{lab}')\nlab.up().summary()",
        "TopologyView(lab)",
        "PingMatrixView(lab, run=True)",
        "NetnsInspector(lab)",
        "lab.set_forwarding('r2', False)\nbroken = PingMatrixView(lab, run=True)\nbroken.add_class('nslab-broken-matrix')\nbroken",
    )]
    nbformat.write(nb, tmp_path / "widgets.ipynb")
    proc, base, token = start_jupyterlab(tmp_path, range(18550, 18600))
    try:
        yield base, token, lab
    finally:
        stop_jupyterlab(proc)


def test_widgets_render_and_respond_in_chromium(jupyter):
    from playwright.sync_api import sync_playwright
    base, token, lab = jupyter
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.goto(f"{base}/lab/tree/widgets.ipynb?token={token}", wait_until="domcontentloaded")
            page.wait_for_selector(".jp-Notebook", timeout=90_000)
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle'], .jp-mod-idle, "
                                   "#jp-main-statusbar", timeout=90_000)
            run_all_cells(page)

            # TopologyView: the SVG graph with all 7 nodes and 7 links, labelled
            try:
                page.wait_for_selector(".nslab-topology svg g.node", timeout=120_000)
            except Exception:
                SHOTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SHOTS / "failed.png"), full_page=True)
                raise
            graph = page.locator(".nslab-topology").first
            assert graph.locator("svg g.node").count() == 7
            assert graph.locator("svg g.edge").count() == 7
            svg_text = graph.locator("svg").first.text_content()
            for label in ("h1", "r3", "10.0.12.1/24", "eth3"):
                assert label in svg_text
            page.locator(".nslab-topology").first.screenshot(path=str(SHOTS / "topology.png"))

            # PingMatrixView: 7 x 7 = 49 cells (42 probes pairs + 7 on the diagonal), all reachable and green
            page.wait_for_selector(".nslab-matrix .nslab-cell", timeout=60_000)
            cells = page.locator(".nslab-matrix .nslab-cell")
            assert cells.count() == 42
            assert page.locator(".nslab-matrix .nslab-cell-self").count() == 7
            assert page.locator(".nslab-matrix .nslab-ok").count() == 42
            colours = set(cells.evaluate_all("els => els.map(e => getComputedStyle(e).backgroundColor)"))
            assert colours == {"rgb(0, 158, 115)"}, colours  # Okabe-Ito's bluish green
            page.locator(".nslab-matrix").first.screenshot(path=str(SHOTS / "matrix.png"))

            # a click on a cell shows that pair's probes
            page.locator(".cell-h1-h4").first.click()
            page.wait_for_selector(".nslab-pair", timeout=30_000)
            details = page.locator(".nslab-matrix-details").first.inner_text()
            assert "h1 → h4" in details and "10.0.4.2" in details and "✓" in details
            page.locator(".nslab-matrix-details").first.screenshot(path=str(SHOTS / "matrix-details.png"))

            # NetnsInspector: processes grouped by netns, the host's group first
            page.wait_for_selector(".nslab-netns.host", timeout=30_000)
            host = page.locator(".nslab-netns.host").first.inner_text()
            assert ("host" in host) != ("anfitrión" in host)  # one language, not both
            # with r2 not forwarding: red where nothing answers, yellow where some addresses do
            page.wait_for_selector(".nslab-broken-matrix .nslab-cell", timeout=60_000)
            broken = page.locator(".nslab-broken-matrix .nslab-cell")
            seen = dict(broken.evaluate_all(
                "els => els.map(e => [Array.from(e.classList).find(c => c.startsWith('cell-')), "
                "getComputedStyle(e).backgroundColor])"))
            rgb = {"ok": "rgb(0, 158, 115)", "partial": "rgb(230, 159, 0)", "failed": "rgb(213, 94, 0)"}
            expected = expected_pair_states()
            assert {k: v for k, v in seen.items()} == {f"cell-{s}-{d}": rgb[st] for (s, d), st in expected.items()}
            assert {"partial", "failed", "ok"} <= set(expected.values())
            page.locator(".nslab-broken-matrix").first.screenshot(path=str(SHOTS / "matrix-broken.png"))
            page.screenshot(path=str(SHOTS / "notebook.png"), full_page=True)
        finally:
            browser.close()
    assert (SHOTS / "matrix.png").stat().st_size > 1000


def expected_pair_states() -> dict[tuple[str, str], str]:
    """Figure 1 with r2 not forwarding, per pair, from the model (independent of the browser)."""
    from nslab_kernel import load
    from nslab_kernel.model.routing import Forwarder
    from nslab_kernel.model.topology import Node, Topology
    topo = load("figure1")
    nodes = tuple(Node(n.name, n.kind, n.forwarding and n.name != "r2", n.routes) for n in topo.nodes)
    model = Forwarder(Topology(topo.name, nodes, topo.links))
    out = {}
    for s in topo.node_names:
        for d in topo.node_names:
            if s != d:
                oks = [model.reachable(s, a.ip) for a in topo.addresses_of(d)]
                out[(s, d)] = "ok" if all(oks) else "failed" if not any(oks) else "partial"
    return out
