"""The notebooks, run headless with papermill on the real kernel (netns) and the real daemon (lxd)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from tests.support import ALL_NOTEBOOKS as ALL
from tests.support import NOTEBOOK_PAIRS as PAIRS
from tests.support import IS_ROOT, NOTEBOOKS, ROOT, need, netns_names, notebook_build

ARTIFACTS = ROOT / "test-artifacts" / "notebooks"


def results(nb, marker: str = "NSLAB_RESULT") -> list:
    """The JSON after ``marker`` in each cell's printed output (a print may arrive in several chunks)."""
    out = []
    for cell in nb.cells:
        text = "".join(o.get("text", "") if isinstance(o.get("text", ""), str) else "".join(o["text"])
                       for o in cell.get("outputs", []) if o.get("output_type") == "stream")
        for line in text.splitlines():
            if line.startswith(marker + " "):
                out.append(json.loads(line[len(marker) + 1:]))
    return out


# --- executed with papermill -------------------------------------------------------------------------------

def backends() -> list[str]:
    return ["netns", "lxd"]


@pytest.fixture(scope="module")
def kernel():
    need(IS_ROOT, "the notebooks need root to create namespaces")
    from jupyter_client.kernelspec import KernelSpecManager
    need("nslab" in KernelSpecManager().find_kernel_specs(),
         "the 'Python 3 (nslab)' kernel is not installed (nslab kernelspec install)")
    return "nslab"


def lxd_ready() -> bool:
    from nslab_kernel.backends.lxd import socket_path
    return socket_path() is not None


def left_behind(before: set[str], lab: str, name: str = "") -> set[str]:
    """Names this test's lab left in /var/run/netns: its own (lab-…), and for the two-containers notebooks
    (02, 03) the activity's fixed names.  Other engineers' tests on the same machine come and go meanwhile:
    their names are not ours."""
    fixed = set()
    if name[:2] in ("02", "03"):
        from nslab_kernel import load
        topo = load("two-containers")
        fixed = {topo.netns_name(n) for n in topo.node_names}
    return {n for n in netns_names() - before if n.startswith(lab) or n in fixed}


def with_probes(lang: str, name: str) -> nbformat.NotebookNode:
    """The notebook as committed, plus the test's probe cells from notebooks/build.py (students never see them)."""
    nb = nbformat.read(NOTEBOOKS / lang / f"{name}.ipynb", 4)
    for at, source in notebook_build().probes(name):
        nb.cells.insert(at, nbformat.v4.new_code_cell(source))
    return nb


def run(kernel: str, lang: str, name: str, out: Path, **parameters):
    import papermill
    if parameters.get("backend") == "lxd":
        need(lxd_ready(), "a running LXD daemon is needed (scripts/lxd-start.sh)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    source = out.with_name(f"probed-{out.name}")
    nbformat.write(with_probes(lang, name), source)
    try:
        papermill.execute_notebook(str(source), str(out), parameters=parameters,
                                   kernel_name=kernel, progress_bar=False, log_output=False, cwd=str(NOTEBOOKS / lang))
    finally:
        if out.exists():
            shutil.copy(out, ARTIFACTS / f"{out.stem}.ipynb")
    return nbformat.read(out, 4)


def check_outcome(name: str, nb) -> None:
    found = results(nb)
    if name.startswith("01"):
        assert found and found[0]["checks"]["namespaces"] is True
    elif name.startswith("02"):
        (r,) = found
        assert r["container_netns"] != r["host_netns"] and r["named"] is True
        if r["symlink"] is not None:  # LXD: the container's init and its descendants live there, and ps shows them
            assert r["processes"] >= 1
            shown = "".join(o.get("text", "") for c in nb.cells if "ps_tree" in c.source for o in c.outputs)
            assert "init" in shown and str(r["container_netns"]) in shown
    elif name.startswith("03"):
        assert found == [{"ping_ok": True, "reachable": True, "peer_gone": True}]
    elif name.startswith("04"):
        assert found == [{"reachable": True, "failed": [], "pairs": 42, "probes": 84}]
    elif name.startswith("05"):
        assert found == [{"reachable": True, "failed": []}]
        (broken,) = results(nb, "NSLAB_BREAK")
        assert sorted(map(tuple, broken["failed"])) == expected_break()
        assert broken["explained"] in broken["failed"]  # explain shows a pair the break really cut


def expected_break() -> list[tuple[str, str]]:
    """What deleting r1's route to 10.0.4.0/24 breaks, from the model (independent of the run)."""
    from nslab_kernel import load
    from nslab_kernel.model.routing import Forwarder
    from nslab_kernel.model.topology import Node, Topology
    topo = load("figure1")
    nodes = tuple(Node(n.name, n.kind, n.forwarding, tuple(r for r in n.routes if not (n.name == "r1" and str(r.dst) == "10.0.4.0/24")))
                  for n in topo.nodes)
    broken = Topology(topo.name, nodes, topo.links)
    model = Forwarder(broken)
    out = []
    for src in topo.node_names:
        for other in topo.node_names:
            if other != src:
                for addr in topo.addresses_of(other):
                    if not model.reachable(src, addr.ip):
                        out.append((src, str(addr.ip)))
    assert ("h1", "10.0.4.2") in out and ("h4", "10.0.1.2") in out and ("h3", "10.0.4.2") not in out
    return sorted(out)


@pytest.mark.notebooks
@pytest.mark.parametrize("backend", backends())
@pytest.mark.parametrize("lang,name", ALL, ids=[f"{l}/{n}" for l, n in ALL])
def test_notebook_runs(kernel, state, tmp_path, unique, backend, lang, name):
    before = netns_names()
    lab = unique()
    nb = run(kernel, lang, name, tmp_path / f"{backend}-{lang}-{name}.ipynb", backend=backend, lab=lab)
    check_outcome(name, nb)
    if lang == "es":  # every message the notebook shows is Spanish (the catalogue's English never leaks)
        from nslab_kernel.core.i18n import notebook_leaks
        assert not notebook_leaks(nb)
    assert not left_behind(before, lab, name)  # the final cell removed the lab


@pytest.mark.notebooks
@pytest.mark.parametrize("backend", backends())
@pytest.mark.parametrize("name", [es for es, _ in PAIRS])
def test_notebook_runs_again_on_top_of_itself(kernel, state, tmp_path, unique, backend, name):
    """Re-run safety: a second run over a lab the first one left up gives the same result, no error."""
    before = netns_names()
    lab = unique()
    first = run(kernel, "es", name, tmp_path / f"first-{backend}-{name}.ipynb", backend=backend, lab=lab, keep=True)
    second = run(kernel, "es", name, tmp_path / f"second-{backend}-{name}.ipynb", backend=backend, lab=lab, keep=False)
    check_outcome(name, second)
    assert results(first) == results(second)
    if name.startswith("04"):  # the second run found everything already so
        text = json.dumps([o for c in second.cells for o in c.get("outputs", [])], ensure_ascii=False)
        assert "0 cambiados" in text  # the Spanish notebook: "0 changed"
    assert not left_behind(before, lab, name)


@pytest.mark.notebooks
@pytest.mark.parametrize("backend", backends())
def test_nothing_left_when_a_notebook_fails_midway(kernel, state, tmp_path, unique, backend):
    import papermill
    if backend == "lxd":
        need(lxd_ready(), "a running LXD daemon is needed")
    nb = nbformat.read(NOTEBOOKS / "es" / "04-actividad-figura1.ipynb", 4)
    at = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and 'stages=["links"]' in c.source)
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell('raise RuntimeError("a cell failed midway")'))
    broken = tmp_path / "broken.ipynb"
    nbformat.write(nb, broken)
    before = netns_names()
    name = lab = unique()
    with pytest.raises(papermill.PapermillExecutionError, match="failed midway"):
        papermill.execute_notebook(str(broken), str(tmp_path / "out.ipynb"), parameters={"backend": backend, "lab": name},
                                   kernel_name=kernel, progress_bar=False, log_output=False)
    # the kernel's shutdown took the lab down: no namespace, name, container or record is left
    assert not left_behind(before, lab)
    assert not (state / "labs" / f"{name}.jsonl").exists()
    if backend == "lxd":
        from nslab_kernel.backends.lxd import connect
        assert not [i.name for i in connect().instances.all() if i.name.startswith(name)]


@pytest.mark.notebooks
@pytest.mark.parametrize("name", [es for es, _ in PAIRS])
def test_all_cells_run_again_in_the_same_kernel(kernel, state, tmp_path, unique, name):
    """'Run all' twice in one kernel: no error, the same results (netns backend)."""
    import papermill
    nb = with_probes("es", name)
    again = [nbformat.v4.new_code_cell(c.source) for c in nb.cells
             if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])]
    nb.cells += again
    doubled = tmp_path / f"twice-{name}.ipynb"
    nbformat.write(nb, doubled)
    before = netns_names()
    out = tmp_path / f"twice-{name}-out.ipynb"
    lab = unique()
    papermill.execute_notebook(str(doubled), str(out), parameters={"backend": "netns", "lab": lab},
                               kernel_name=kernel, progress_bar=False, log_output=False, cwd=str(NOTEBOOKS / "es"))
    found = results(nbformat.read(out, 4))
    assert len(found) == 2, found
    if name.startswith("02"):  # the first pass removed its lab at the end: the second made a new netns
        for r in found:
            assert r["named"] is True and r["container_netns"] != r["host_netns"], found
        found = [{k: v for k, v in r.items() if k != "container_netns"} for r in found]
    assert found[0] == found[1], found
    assert not left_behind(before, lab, name)


@pytest.mark.notebooks
def test_demo_explains_a_pair_the_forwarding_break_really_cuts(kernel, state, tmp_path, unique):
    """With a router that stops forwarding, the demo explains a pair that break cuts (not h1 -> h4)."""
    before = netns_names()
    lab = unique()
    nb = run(kernel, "en", "05-instructor-demo", tmp_path / "forwarding.ipynb", backend="netns", lab=lab,
             break_kind="forwarding")
    (broken,) = results(nb, "NSLAB_BREAK")
    assert broken["failed"] and broken["explained"] in broken["failed"]
    explained = next(c for c in nb.cells if c.cell_type == "code" and "lab.explain(" in c.source)
    shown = json.dumps(explained.outputs)
    assert "forward" in shown  # the explanation names the router that does not forward
    assert not left_behind(before, lab)
