"""The notebooks' sources, as committed: no outputs, es and en in step, what notebooks/build.py writes (no root)."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from tests.support import ALL_NOTEBOOKS as ALL
from tests.support import NOTEBOOK_PAIRS as PAIRS
from tests.support import NOTEBOOKS, ROOT, notebook_build

STUDENT = [("es", "ejercicios", "02-network-namespaces"), ("es", "ejercicios", "03-pares-veth"),
           ("es", "ejercicios", "04-actividad-figura1"), ("en", "exercises", "02-network-namespaces"),
           ("en", "exercises", "03-veth-pairs"), ("en", "exercises", "04-activity-figure1")]


def code_cells(path: Path) -> list[str]:
    """The code cells, with the one line that differs by language (set_language) made the same."""
    return [c.source.replace('set_language("es")', 'set_language("en")').replace("NSLAB_LANG=es", "NSLAB_LANG=en")
            for c in nbformat.read(path, 4).cells if c.cell_type == "code"]


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
    module = notebook_build()
    monkeypatch.setattr(module, "HERE", tmp_path)
    written = module.build()
    for path in written:
        committed = NOTEBOOKS / path.relative_to(tmp_path)
        if path.suffix == ".ipynb":
            assert nbformat.read(path, 4) == nbformat.read(committed, 4), f"{committed} differs from notebooks/build.py"
        else:
            assert path.read_text() == committed.read_text(), f"{committed} differs from notebooks/build.py"
    on_disk = {p.relative_to(NOTEBOOKS) for p in NOTEBOOKS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts}
    assert on_disk == {p.relative_to(tmp_path) for p in written if p.suffix == ".ipynb"}, "a notebook build.py no longer writes"


def test_every_code_cell_of_build_py_compiles():
    """Each cell, solution and probe is real code: IPython's own transformer turns '!' lines into calls."""
    from IPython.core.inputtransformer2 import TransformerManager
    sources = notebook_build().code_sources()
    assert len(sources) > 60
    for where, source in sources:
        python = TransformerManager().transform_cell(source)
        compile(python, where, "exec")  # raises SyntaxError naming the cell


def test_cell_sources_in_build_py_are_triple_quoted_code_not_escaped_strings():
    import ast
    text = (NOTEBOOKS / "build.py").read_text()
    calls = [n for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Call) and getattr(n.func, "id", "") in ("code", "task")]
    assert len(calls) > 50
    for call in calls:
        arg = call.args[-1] if getattr(call.func, "id", "") == "task" else call.args[0]
        segment = ast.get_source_segment(text, arg)
        if isinstance(arg, ast.Name):
            continue  # a shared constant, itself triple-quoted
        assert segment.lstrip("f").startswith("\'\'\'"), f"line {call.lineno}: a cell written as a one-line string"


def test_facts_come_from_the_topology_files_not_the_text():
    """Names and subnets are read from the topology files: build.py writes none of them."""
    text = (NOTEBOOKS / "build.py").read_text()
    for fact in ("net-contenedor1", "net-contenedor2", "10.0.4.0/24", "192.168.100.", "v-1a", "v-1b", "\"r1\"",
                 "\"h4\""):
        assert fact not in text, fact
    module = notebook_build()
    nb = nbformat.read(NOTEBOOKS / "es" / "ejercicios" / "03-pares-veth.ipynb", 4)
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert f"ip link set dev {module.V_A} netns {module.NS1}" in prose  # the activity's words, its names


def test_no_test_plumbing_in_what_students_see():
    for path in NOTEBOOKS.rglob("*.ipynb"):
        text = path.read_text()
        assert "NSLAB_RESULT" not in text and "NSLAB_BREAK" not in text, path
    assert notebook_build().probes("04-actividad-figura1"), "the tests' probes live in build.py"


@pytest.mark.parametrize("lang,folder,name", STUDENT, ids=[f"{l}/{n}" for l, _f, n in STUDENT])
def test_student_notebooks_leave_the_commands_to_the_student(lang, folder, name):
    student = nbformat.read(NOTEBOOKS / lang / folder / f"{name}.ipynb", 4)
    source = nbformat.read(NOTEBOOKS / "nbgrader" / "source" / f"nslab-{lang}" / f"{name}.ipynb", 4)
    assert [c.cell_type for c in student.cells] == [c.cell_type for c in source.cells]
    tasks = [(s, t) for s, t in zip(student.cells, source.cells) if t.metadata.get("nbgrader", {}).get("solution")]
    assert len(tasks) >= 4
    for empty, solved in tasks:
        assert empty.source == ""  # an empty cell for the student's own commands
        assert solved.source.startswith("### BEGIN SOLUTION\n") and solved.source.endswith("\n### END SOLUTION")
        assert "!" in solved.source  # the solution is the activity's commands
    checks = [c.source for c in student.cells if c.source.startswith("ex.check(")]
    grades = [c for c in source.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert checks and len(grades) == 1 and grades[0].metadata["nbgrader"]["points"] > 0
    assert f'lang="{lang}"' in student.cells[3].source
    ids = [c.metadata["nbgrader"]["grade_id"] for c in source.cells if "nbgrader" in c.metadata]
    assert len(ids) == len(set(ids))
    for cell in student.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


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
