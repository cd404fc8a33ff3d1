"""Fixtures of the browser tests of the widgets (JupyterLab headless, Debian's Chromium)."""

from __future__ import annotations

import json
import shutil
import sys

import pytest

from tests.support import IS_ROOT, need, start_jupyterlab, stop_jupyterlab
from tests.support import CHROMIUM, CHROMIUM_ARGS  # noqa: F401 - re-exported: some tests import them from here

PORTS = range(18500, 18600)  # the widgets' range on this shared machine


@pytest.fixture
def widgets_jupyter(tmp_path, private_state):
    """JupyterLab (the widgets' tests): this environment's kernel as 'h5nslab', no news toast, every cell
    in the DOM, a port of 18500-18599; yields (url, token, folder)."""
    need(IS_ROOT, "needs root (the notebook builds Figure 1)")
    need(shutil.which("dot") is not None, "Graphviz's dot is needed")
    kernels = tmp_path / "jupyter" / "kernels" / "h5nslab"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "nslab (widgets test)", "language": "python"}))
    proc, base, token = start_jupyterlab(tmp_path, PORTS, kernel="h5nslab", all_cells_in_dom=True,
                                         env={"JUPYTER_PATH": str(tmp_path / "jupyter"),
                                              "NSLAB_STATE_DIR": str(private_state)})
    try:
        yield base, token, tmp_path
    finally:
        stop_jupyterlab(proc)
