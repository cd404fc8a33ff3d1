"""The activity's notebooks as a student sees them, in Chromium: Figure 1 built stage by stage (04) and the
class demo (05), in Spanish and English.

Every widget output of the run is measured in the DOM: no text cut, no graph wider than its output area,
no progress bar left unfinished, no "!" at the stages where the failures are the expected ones; and one
screenshot per widget output is kept in $NSLAB_ARTIFACTS (default test-artifacts/notebooks/) to look at.
Ports 18500-18599; lab names start with h5.
"""

from __future__ import annotations

import time
import uuid

import nbformat
import pytest

from tests.support import CHROMIUM, CHROMIUM_ARGS
from tests.integration.test_browser_widgets import CUT, SHOTS as WIDGET_SHOTS, WIDER, run_notebook
from tests.support import NOTEBOOKS

pytestmark = [pytest.mark.browser, pytest.mark.root]
SHOTS = WIDGET_SHOTS.parent / "notebooks"
OUTPUT_TEXTS = (".jp-OutputArea-output .widget-button, .jp-OutputArea-output .widget-html-content, "
                ".jp-OutputArea-output .nslab-legend span, .jp-OutputArea-output .lm-TabBar-tabLabel, "
                ".jp-OutputArea-output .widget-label")


def prepared(lang: str, name: str, lab: str) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOKS / lang / f"{name}.ipynb", as_version=4)
    for cell in nb.cells:
        if "parameters" in cell.metadata.get("tags", []):
            # keep=True: the last cell would take the lab down before the browser looks (the fixture removes it)
            cell.source += f'\nbackend = "netns"\nlab = "{lab}"\nkeep = True'
    nb.metadata["kernelspec"] = {"name": "h5nslab", "display_name": "nslab (widgets test)", "language": "python"}
    cells = [nbformat.v4.new_code_cell(f"import os\nos.environ['NSLAB_LANG'] = '{lang}'\n"
                                       f"import nslab_kernel\nnslab_kernel.set_language('{lang}')")]
    nb.cells = cells + nb.cells
    return nb


@pytest.mark.parametrize("lang,name", [("es", "04-actividad-figura1"), ("en", "04-activity-figure1"),
                                       ("es", "05-demo-profesor")])
def test_notebook_widgets_readable(widgets_jupyter, lang, name):
    from playwright.sync_api import sync_playwright
    base, token, folder = widgets_jupyter
    lab = f"h5n{uuid.uuid4().hex[:5]}"
    nbformat.write(prepared(lang, name, lab), folder / f"{name}.ipynb")
    out = SHOTS / f"{lang}-{name}"
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            run_notebook(page, base, token, f"{name}.ipynb")
            # the run is over when the last cell has its execution count
            try:  # over when every cell has run, or one failed (Run All stops there)
                page.wait_for_function(
                    "(() => { const p = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')];"
                    " if (p.some(e => e.innerText.includes('[*]'))) return false;"
                    " return p.length && (!p.some(e => e.innerText.includes('[ ]'))"
                    " || document.querySelector('.jp-OutputArea-output[data-mime-type=\"application/vnd.jupyter.stderr\"]')); })()",
                    timeout=300_000)
            finally:
                page.screenshot(path=str(out / "page.png"))
            errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'] pre, "
                                  ".jp-RenderedText[data-mime-type='application/vnd.jupyter.error']")
            assert errors.count() == 0, errors.first.inner_text()[:2000]
            time.sleep(1.5)  # the last redraws of the live graph
            widgets = page.locator(".jp-OutputArea-output .jupyter-widgets.widget-vbox, "
                                   ".jp-OutputArea-output .nslab-report, .jp-OutputArea-output .nslab-topology-static")
            for i in range(widgets.count()):
                item = widgets.nth(i)
                item.scroll_into_view_if_needed()
                item.screenshot(path=str(out / f"{i:02d}.png"))
            cut = page.locator(OUTPUT_TEXTS).evaluate_all(CUT)
            assert not cut, cut
            widths = page.locator(".jp-OutputArea-output svg").evaluate_all(WIDER)
            assert widths and all(w <= o + 1 for w, o in widths), widths
            bars = page.locator(".jp-OutputArea-output .widget-hprogress")
            states = bars.evaluate_all("els => els.map(e => e.querySelector('.progress-bar').className)")
            assert states and all("progress-bar-success" in s for s in states), states
            if name.startswith("04"):  # built stage by stage: nothing differs from what is expected then
                assert page.locator(".nslab-unexpected").count() == 0
            reports = page.locator(".nslab-report")
            assert all(r.count("<tr>") <= 9 or "<details" in r
                       for r in reports.evaluate_all("els => els.map(e => e.outerHTML)"))
        finally:
            browser.close()
