"""The student track, run headless with papermill on the real kernel (netns) and the real daemon (LXD).

- solved: the nbgrader source notebooks (the student cells hold the activity's ``!ip``/``!lxc`` commands)
  pass every check and get full points, on netns and on LXD, in Spanish and in English;
- empty: the notebooks as a student gets them, run with nothing filled in, complete; every check says
  what is missing, with a hint, and no traceback reaches the student;
- a Spanish run shows no English message.

Every test uses names of its own (``lab`` = h3 + a unique suffix) and removes its containers, names and
host veth ends from the test itself, even when papermill stopped at a failing cell.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from pathlib import Path

import nbformat
import pytest

from tests.support import IS_ROOT, ROOT, need, notebook_build

ARTIFACTS = ROOT / "test-artifacts" / "student-track"
STUDENT = [("es", "02-network-namespaces"), ("es", "03-pares-veth"), ("es", "04-actividad-figura1"),
           ("en", "02-network-namespaces"), ("en", "03-veth-pairs"), ("en", "04-activity-figure1")]
TOPOLOGY = {"02": "two-containers", "03": "two-containers", "04": "figure1"}
GRADED = {"02": ("2", 3), "03": ("3", 4), "04": ("4", 6)}
PROBE = '''
import json
_found = {s: ex.check(s) for s in ex.steps if s.split(".")[0] == SECTION}
print("NSLAB_RESULT", json.dumps({s: {"passed": r.passed, "counts": list(r.counts()), "error": r.error,
                                      "lines": [list(l) for l in r.lines()]} for s, r in _found.items()}))
'''


def build_module():
    return notebook_build()


@pytest.fixture(scope="module")
def kernel():
    need(IS_ROOT, "the student notebooks need root to create namespaces")
    from jupyter_client.kernelspec import KernelSpecManager
    need("nslab" in KernelSpecManager().find_kernel_specs(),
         "the 'Python 3 (nslab)' kernel is not installed (nslab kernelspec install)")
    return "nslab"


def lxd_ready() -> bool:
    from nslab_kernel.backends.lxd import socket_path
    return socket_path() is not None


def lab_name() -> str:
    return f"h3{uuid.uuid4().hex[:6]}"


def teardown(name: str, backend: str, lab: str) -> None:
    from nslab_kernel.analysis import exercises
    exercises.start(TOPOLOGY[name[:2]], backend, lab).teardown()


def leftovers(lab: str) -> list[str]:
    """Names, containers and host veth ends of this lab that are still there."""
    import os
    left = [n for n in (os.listdir("/var/run/netns") if os.path.isdir("/var/run/netns") else []) if n.startswith(lab)]
    if lxd_ready():
        from nslab_kernel.backends.lxd import connect
        left += [i.name for i in connect().instances.all() if i.name.startswith(lab)]
    return left


def run_student(kernel: str, tmp_path: Path, lang: str, name: str, backend: str, solutions: bool,
                probe: bool = True) -> nbformat.NotebookNode:
    import papermill
    if backend == "lxd":
        need(lxd_ready(), "a running LXD daemon is needed (scripts/lxd-start.sh)")
    nb = build_module().student_notebook(lang, name, solutions=solutions, nbgrader=solutions)
    if probe:  # test plumbing, inserted here, never in the notebooks: before the last cell (ex.finish())
        section = GRADED[name[:2]][0]
        nb.cells.insert(len(nb.cells) - 1, nbformat.v4.new_code_cell(PROBE.strip().replace("SECTION", repr(section))))
    source = tmp_path / f"in-{lang}-{name}.ipynb"
    nbformat.write(nb, source)
    out = tmp_path / f"{backend}-{lang}-{name}-{'solved' if solutions else 'empty'}.ipynb"
    lab = lab_name()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        papermill.execute_notebook(str(source), str(out), parameters={"backend": backend, "lab": lab},
                                   kernel_name=kernel, progress_bar=False, log_output=False, cwd=str(tmp_path))
    finally:
        teardown(name, backend, lab)
        if out.exists():
            shutil.copy(out, ARTIFACTS / out.name)
    assert not leftovers(lab)
    return nbformat.read(out, 4)


def result(nb) -> dict:
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream":
                for line in o["text"].splitlines():
                    if line.startswith("NSLAB_RESULT "):
                        return json.loads(line[len("NSLAB_RESULT "):])
    raise AssertionError("the notebook printed no NSLAB_RESULT")


def grades(nb) -> list[float]:
    out = []
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith("ex.grade("):
            (value,) = [o for o in cell.outputs if o.output_type == "execute_result"]
            out.append(float(value["data"]["text/plain"]))
    return out


def texts(nb) -> str:
    """Everything the notebook shows: printed text, text/plain and text/html of every output."""
    parts = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream":
                parts.append(o["text"])
            for kind in ("text/plain", "text/html"):
                if kind in o.get("data", {}):
                    parts.append(o["data"][kind])
            if o.get("output_type") == "error":
                parts.append("\n".join(o.get("traceback", [])))
    return "\n".join(parts)


def english_leaks(text: str) -> list[str]:
    """English catalogue messages (the exercises', the checker's, the widgets') found in ``text``."""
    from nslab_kernel.core.i18n import english_leaks as leaks
    return leaks(re.sub(r"<[^>]+>", " ", text), lang="es")


# --- solved: every check passes, full points ------------------------------------------------------------

@pytest.mark.notebooks
@pytest.mark.parametrize("backend", ["netns", "lxd"])
@pytest.mark.parametrize("lang,name", STUDENT, ids=[f"{l}/{n}" for l, n in STUDENT])
def test_solved_student_notebook_passes_every_check(kernel, tmp_path, backend, lang, name):
    nb = run_student(kernel, tmp_path, lang, name, backend, solutions=True)
    found = result(nb)
    assert found and all(r["passed"] for r in found.values()), {s: r for s, r in found.items() if not r["passed"]}
    section, points = GRADED[name[:2]]
    assert grades(nb) == [points]
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    if lang == "es":
        assert not english_leaks(texts(nb))


# --- empty: the notebook completes and every check says what is missing -----------------------------------

@pytest.mark.notebooks
@pytest.mark.parametrize("backend", ["netns", "lxd"])
@pytest.mark.parametrize("lang,name", STUDENT, ids=[f"{l}/{n}" for l, n in STUDENT])
def test_empty_student_notebook_completes_and_says_what_is_missing(kernel, tmp_path, backend, lang, name):
    nb = run_student(kernel, tmp_path, lang, name, backend, solutions=False)
    shown = texts(nb)
    assert "Traceback" not in shown and "Error" not in shown.replace("errors", "")
    found = result(nb)
    for step, r in found.items():
        ok, total = r["counts"]
        if total == 0:  # nothing graded here (2.pid without LXD: there is no init)
            continue
        assert not r["passed"] and not r["error"], (step, r)
        for line_ok, target, text, hint in r["lines"]:
            if not line_ok:
                assert text and hint, (step, target)
    assert grades(nb) == [0]
    if backend == "netns":  # the notebook says the container steps are 'ip netns add' here
        assert "ip netns add" in shown and "LXD" in shown
    if lang == "es":
        assert not english_leaks(shown)
        assert "Pista" in shown and "ex.solve" in shown


# --- the checks themselves, on live state made by hand ---------------------------------------------------

@pytest.fixture
def two(request):
    need(IS_ROOT, "needs root")
    from nslab_kernel.analysis import exercises
    lab = lab_name()
    ex = exercises.start("two-containers", "netns", lab, lang="es")
    yield ex
    ex.teardown()
    assert not leftovers(lab)


def sh(*commands: str) -> None:
    import subprocess
    for command in commands:
        subprocess.run(command, shell=True, check=True, capture_output=True)


def test_hints_escalate_idea_shape_exact_and_reset_on_success(two):
    a, b = two.netns("contenedor1"), two.netns("contenedor2")
    sh(f"ip netns add {a}", f"ip netns add {b}")
    first, second, third = (two.check("3.veth").lines()[0][3] for _ in range(3))
    assert first.startswith("Pista:") and "pareja" in first
    assert second.startswith("Pista (la forma del comando):") and "NOMBRE1" in second
    assert third.startswith("Pista (el comando exacto):") and "ip link add v-1a type veth peer name v-1b" in third
    shown = two.solve("3.veth")
    assert [c for c, changed in shown.commands] == ["ip link add v-1a type veth peer name v-1b"]
    assert two.check("3.veth").passed
    sh("ip link del v-1a")
    assert two.check("3.veth").lines()[0][3].startswith("Pista:")  # a pass reset the ladder


def test_any_valid_address_choice_passes_and_a_wrong_one_is_named(two):
    a, b = two.netns("contenedor1"), two.netns("contenedor2")
    sh(f"ip netns add {a}", f"ip netns add {b}",
       f"ip link add v-1a netns {a} type veth peer name v-1b netns {b}",
       f"ip -n {a} addr add 10.1.1.1/24 dev v-1a", f"ip -n {a} link set v-1a up",
       f"ip -n {b} addr add 10.1.2.2/24 dev v-1b", f"ip -n {b} link set v-1b up")
    report = two.check("3.addresses")
    assert not report.passed
    assert any("otra subred" in text for ok, _t, text, _h in report.lines() if not ok)
    sh(f"ip -n {b} addr flush dev v-1b", f"ip -n {b} addr add 10.1.1.2/24 dev v-1b")
    assert two.check("3.addresses").passed and two.check("3.ping").passed
    assert two.grade("3", 4) == 4


def test_a_step_done_half_by_hand_is_finished_by_solve(two):
    """The student made the pair on the host and moved one end: solve moves the other."""
    a, b = two.netns("contenedor1"), two.netns("contenedor2")
    sh(f"ip netns add {a}", f"ip netns add {b}", "ip link add v-1a type veth peer name v-1b",
       f"ip link set dev v-1a netns {a}")
    report = two.check("3.move")
    assert [ok for ok, *_ in report.lines()] == [True, False]
    assert "sigue en el anfitrión" in report.lines()[1][2]
    done = two.solve("3.move")
    assert (f"ip link set dev v-1b netns {b}", True) in done.commands
    assert (f"ip link set dev v-1a netns {a}", False) in done.commands
    assert two.check("3.move").passed


def test_an_unknown_step_or_a_broken_state_never_raises(two):
    shown = str(two.check("9.nope"))
    assert "No hay ningún paso" in shown and "3.veth" in shown
    assert "Traceback" not in str(two.solve("3.ping"))  # nothing exists yet: it says what to do first


def test_lxd_container_pid_and_symlink_checked_as_the_activity_does_them(tmp_path):
    """Section 2 on LXD, by hand: lxc launch, a wrong PID, a symlink to the wrong netns, then the right ones."""
    need(IS_ROOT and lxd_ready(), "needs root and a running LXD daemon")
    import os
    from IPython.core.interactiveshell import InteractiveShell
    from nslab_kernel.analysis import exercises
    lab = lab_name()
    ex = exercises.start("two-containers", "lxd", lab, lang="es")
    shell = InteractiveShell.instance()
    c, ns = ex.container("contenedor1"), ex.netns("contenedor1")
    path = f"/var/run/netns/{ns}"
    try:
        first = ex.check("2.launch")
        assert not first.passed and f"lxc launch {ex.image} {c}" in str(ex.check("2.launch")) + str(ex.check("2.launch"))
        sh(f"lxc launch {ex.image} {c}")
        assert ex.check("2.launch").passed
        shell.user_ns["pid"] = 1
        wrong = ex.check("2.pid")
        assert not wrong.passed and "1 no es el PID del init" in str(wrong)
        from nslab_kernel.backends.lxd import init_pids
        pid = init_pids()[c]
        shell.user_ns["pid"] = str(pid)  # as read from 'lxc info', a string is fine
        assert ex.check("2.pid").passed
        assert "todavía no existe el nombre" in str(ex.check("2.name"))
        sh("mkdir -p /var/run/netns", f"ln -sf /proc/{os.getpid()}/ns/net {path}")  # the host's netns: wrong
        assert "que no es el netns de" in str(ex.check("2.name"))
        sh(f"ln -sf /proc/{pid}/ns/net {path}")
        assert ex.check("2.name").passed
        assert ex.grade("2", 3) == 3
        tree = str(ex.processes())
        assert "init" in tree and str(pid) in tree
    finally:
        shell.user_ns.pop("pid", None)
        ex.teardown()
        assert not leftovers(lab)
