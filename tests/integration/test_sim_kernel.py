"""The simulation equals the kernel: the same lab on both, compared probe by probe and explain by explain (root)."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from nslab_kernel import Lab, load
from nslab_kernel.model.schema import from_dict
from tests.support import IS_ROOT, ROOT, SECCOMP_BLOCK, SIM_REGRESSIONS, need, notebook_build, topologies

REGRESSIONS = SIM_REGRESSIONS


def compare(data: dict) -> list[str]:
    """Build the topology on the kernel and on sim; the differences (empty: equal)."""
    tag = uuid.uuid4().hex[:6]
    topo = from_dict(dict(data, name=f"df{tag}"), "generated")
    real, sim = Lab(topo, "netns"), Lab(topo.renamed(f"ds{tag}"), "sim")
    diffs = []
    try:
        real.up()
        sim.up()
        mr, ms = real.ping_matrix(timeout=0.3), sim.ping_matrix()
        for a, b in zip(mr.probes, ms.probes):
            assert (a.source, a.address) == (b.source, b.address)
            if a.ok != b.ok:
                diffs.append(f"ping {a.source} -> {a.address}: kernel {a.ok}, sim {b.ok}")
            if a.expected != a.ok:  # the lab is its target state: the model must predict the kernel
                diffs.append(f"ping {a.source} -> {a.address}: kernel {a.ok}, expected {a.expected}")
        for s in topo.node_names:
            for d in topo.node_names:
                if s != d and topo.addresses_of(d):
                    er, es = real.explain(s, d, lang="en"), sim.explain(s, d, lang="en")
                    if (er.ok, er.cause, er.node) != (es.ok, es.cause, es.node):
                        diffs.append(f"explain {s} -> {d}: kernel {er.cause}@{er.node}, sim {es.cause}@{es.node}")
    finally:
        real.down()
        sim.down()
    return diffs


def save_regression(data: dict, diffs: list[str]) -> None:
    """Hypothesis replays the shrunk example last: this file ends up holding the minimal case.
    Rename it (case-<what>.json) to keep it in the corpus."""
    REGRESSIONS.mkdir(exist_ok=True)
    (REGRESSIONS / "latest-disagreement.json.new").write_text(json.dumps({"topology": data, "disagreed": diffs}, indent=1))


@pytest.mark.slow
@settings(max_examples=int(os.environ.get("NSLAB_DIFF_EXAMPLES", "20")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=topologies())
def test_sim_equals_kernel_on_random_topologies(root, state, data):
    diffs = compare(data)
    if diffs:
        save_regression(data, diffs)
    assert not diffs, diffs


@pytest.mark.parametrize("case", sorted(REGRESSIONS.glob("case-*.json")) if REGRESSIONS.is_dir() else [],
                         ids=lambda p: p.stem)
def test_sim_regressions(root, state, case):
    """Cases that once disagreed, kept."""
    data = json.loads(case.read_text())["topology"]
    assert not compare(data)


def test_figure1_breaks_agree_with_the_kernel(root, state):
    """The instructor's breaks: same failed probes and verdicts on the kernel and on sim."""
    data = load("figure1").to_dict()
    for node, dst in (("r1", "10.0.4.0/24"), ("r3", "10.0.1.0/24")):
        broken = json.loads(json.dumps(data))
        broken["nodes"][node]["routes"] = [r for r in broken["nodes"][node]["routes"] if not r.startswith(dst)]
        assert not compare(broken)
    off = json.loads(json.dumps(data))
    off["nodes"]["r2"]["forwarding"] = False
    assert not compare(off)


# --- the notebooks on sim, as a user without privileges -----------------------------------------------------

@pytest.fixture
def nobody_home():
    import shutil
    import tempfile
    need(IS_ROOT, "needs root to switch to an unprivileged user for the test")
    base = Path(tempfile.mkdtemp(prefix="nslab-nobody-"))
    os.chmod(base, 0o755)
    home = base / "home"
    home.mkdir()
    os.chown(home, 65534, 65534)
    yield home
    shutil.rmtree(base, ignore_errors=True)


def test_notebooks_run_on_sim_where_user_namespaces_are_blocked(nobody_home):
    need(IS_ROOT, "needs root to switch to an unprivileged user for the test")
    need(subprocess.run(["which", "setpriv"], capture_output=True).returncode == 0, "setpriv (util-linux) is needed")
    home = nobody_home
    env = {k: v for k, v in os.environ.items() if k not in ("NSLAB_STATE_DIR", "XDG_STATE_HOME")}
    env.update(HOME=str(home), JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTER_DATA_DIR=str(home / "data"),
               JUPYTER_CONFIG_DIR=str(home / "config"), IPYTHONDIR=str(home / "ipython"))
    import sys
    outputs = []
    for lang, name in (("es", "03-pares-veth"), ("es", "04-actividad-figura1"), ("en", "05-instructor-demo")):
        out = home / f"{name}.ipynb"
        import nbformat
        probed = nbformat.read(ROOT / "notebooks" / lang / f"{name}.ipynb", 4)
        for at, source in notebook_build().probes(name):  # the tests' probe cells; students never see them
            probed.cells.insert(at, nbformat.v4.new_code_cell(source))
        source = home / f"probed-{name}.ipynb"
        nbformat.write(probed, source)
        os.chown(source, 65534, 65534)
        # A normal user gets a sandbox of their own (issue 13); only where user namespaces are blocked (here a
        # seccomp filter like Docker's) is there no way to make namespaces, and the network is simulated.
        proc = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", SECCOMP_BLOCK,
             sys.executable, "-m", "papermill", "--no-progress-bar", "-k", "nslab", "-p", "backend", "auto",
             str(source), str(out)], capture_output=True, text=True, env=env, cwd=str(home), timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        import nbformat
        nb = nbformat.read(out, 4)
        text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "stream")
        assert "simulated network" in text.lower() or "red simulada" in text.lower()  # the notebook says so, visibly
        results = [json.loads(line.split(" ", 1)[1]) for line in text.splitlines() if line.startswith("NSLAB_RESULT ")]
        assert results and results[-1]["reachable"] is True, text[-2000:]
        outputs.append(out)
    assert not list((home / ".local" / "state" / "nslab" / "labs").glob("*.jsonl"))  # the last cells removed them


