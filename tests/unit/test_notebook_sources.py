"""The notebooks' sources, as committed: no outputs, es and en in step, what notebooks/build.py writes (no root)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import nbformat
import pytest

from tests.support import ALL_NOTEBOOKS as ALL
from tests.support import NOTEBOOK_PAIRS as PAIRS
from tests.support import NOTEBOOKS, ROOT


def code_cells(path: Path) -> list[str]:
    return [c.source for c in nbformat.read(path, 4).cells if c.cell_type == "code"]


# --- no root needed ------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang,name", ALL, ids=[f"{l}/{n}" for l, n in ALL])
def test_committed_without_outputs(lang, name):
    nb = nbformat.read(NOTEBOOKS / lang / f"{name}.ipynb", 4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{lang}/{name} has committed output"
    assert nb.metadata["kernelspec"]["name"] == "nslab"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and all(k in tagged[0].source for k in ("backend", "lab", "image"))


@pytest.mark.parametrize("es,en", PAIRS, ids=[p[0] for p in PAIRS])
def test_spanish_and_english_have_the_same_code_cells(es, en):
    assert code_cells(NOTEBOOKS / "es" / f"{es}.ipynb") == code_cells(NOTEBOOKS / "en" / f"{en}.ipynb")
    prose_es = [c.source for c in nbformat.read(NOTEBOOKS / "es" / f"{es}.ipynb", 4).cells if c.cell_type == "markdown"]
    prose_en = [c.source for c in nbformat.read(NOTEBOOKS / "en" / f"{en}.ipynb", 4).cells if c.cell_type == "markdown"]
    assert len(prose_es) == len(prose_en) and all(a != b for a, b in zip(prose_es, prose_en))


def test_committed_notebooks_are_what_build_py_writes(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("nb_build", NOTEBOOKS / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "HERE", tmp_path)
    for path in module.build():
        committed = NOTEBOOKS / path.relative_to(tmp_path)
        assert nbformat.read(path, 4) == nbformat.read(committed, 4), f"{committed} differs from notebooks/build.py"


def test_binder_configuration_is_complete():
    binder = ROOT / "binder"
    assert {"graphviz", "iproute2"} <= set((binder / "apt.txt").read_text().split())
    requirements = (binder / "requirements.txt").read_text()
    for package in ("jupyterlab", "ipywidgets", "pyroute2", "graphviz", "papermill"):
        assert package in requirements
    post = binder / "postBuild"
    assert os.access(post, os.X_OK)
    text = post.read_text()
    assert "pip install" in text and "nslab kernelspec install" in text
