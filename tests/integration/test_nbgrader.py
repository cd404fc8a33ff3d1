"""nbgrader for real: generate the assignment from notebooks/nbgrader, autograde two submissions on the
real kernel (and LXD), and read the scores from nbgrader's gradebook.

- "full" solves every exercise with the activity's ``!ip``/``!lxc`` commands (the solution regions);
- "half" does section 2 and the first two steps of section 3 (containers, the veth pair on the host), then
  stops.

The autograder runs with ``NSLAB_LAB`` (names of this test only) and ``NSLAB_BACKEND``; each notebook's
setup removes what an earlier submission left under those names and its last cell removes its own, so no
student is graded on another's lab.  The test removes whatever is left, even after a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import nbformat
import pytest

from tests.support import IS_ROOT, NOTEBOOKS, ROOT, need

ARTIFACTS = ROOT / "test-artifacts" / "nbgrader"
NAMES = {"es": ["02-network-namespaces", "03-pares-veth", "04-actividad-figura1"],
         "en": ["02-network-namespaces", "03-veth-pairs", "04-activity-figure1"]}
FOLDER = {"es": "ejercicios", "en": "exercises"}
HALF = {"task-2-1", "task-2-2", "task-2-3", "task-2-4", "task-2-5", "task-3-1", "task-3-2"}


def lxd_ready() -> bool:
    from nslab_kernel.backends.lxd import socket_path
    return socket_path() is not None


def nbgrader(course: Path, *args: str, env: dict) -> subprocess.CompletedProcess:
    exe = shutil.which("nbgrader", path=os.path.dirname(sys.executable))
    need(exe is not None, "nbgrader is not installed (pip install -e '.[grading]')")
    proc = subprocess.run([exe, *args], cwd=course, env=env, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    return proc


def solution_of(cell) -> str:
    lines = cell.source.splitlines()
    assert lines[0] == "### BEGIN SOLUTION" and lines[-1] == "### END SOLUTION"
    return "\n".join(lines[1:-1])


def submission(release: Path, source: Path, solved: set[str] | None) -> nbformat.NotebookNode:
    """The released notebook with the student cells filled in from the solutions (``None``: all of them)."""
    nb = nbformat.read(release, 4)
    answers = {c.metadata["nbgrader"]["grade_id"]: solution_of(c) for c in nbformat.read(source, 4).cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers and (solved is None or gid in solved):
            cell.source = answers[gid]
    return nb


def leftovers(lab: str) -> list[str]:
    left = [n for n in (os.listdir("/var/run/netns") if os.path.isdir("/var/run/netns") else []) if n.startswith(lab)]
    if lxd_ready():
        from nslab_kernel.backends.lxd import connect
        left += [i.name for i in connect().instances.all() if i.name.startswith(lab)]
    return left


def remove(lab: str, backend: str) -> None:
    from nslab_kernel.analysis import exercises
    for topology in ("two-containers", "figure1"):
        exercises.start(topology, backend, lab).teardown()


@pytest.mark.notebooks
@pytest.mark.slow
@pytest.mark.parametrize("lang,backend", [("es", "netns"), ("es", "lxd"), ("en", "netns")])
def test_generate_and_autograde_a_full_and_a_half_submission(tmp_path, lang, backend):
    need(IS_ROOT, "autograding the lab needs root (network namespaces)")
    if backend == "lxd":
        need(lxd_ready(), "a running LXD daemon is needed (scripts/lxd-start.sh)")
    from jupyter_client.kernelspec import KernelSpecManager
    need("nslab" in KernelSpecManager().find_kernel_specs(), "the 'Python 3 (nslab)' kernel is not installed")
    assignment = f"nslab-{lang}"
    course = tmp_path / "course"
    (course / "source").mkdir(parents=True)
    shutil.copy(NOTEBOOKS / "nbgrader" / "nbgrader_config.py", course)
    shutil.copytree(NOTEBOOKS / "nbgrader" / "source" / assignment, course / "source" / assignment)
    lab = f"h3g{uuid.uuid4().hex[:5]}"
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
           "NSLAB_LAB": lab, "NSLAB_BACKEND": backend}

    nbgrader(course, "generate_assignment", assignment, "--force", env=env)
    release = course / "release" / assignment
    for name in NAMES[lang]:  # what nbgrader hands out is the student track, cell for cell
        handed_out = [c.source for c in nbformat.read(release / f"{name}.ipynb", 4).cells]
        track = [c.source for c in nbformat.read(NOTEBOOKS / lang / FOLDER[lang] / f"{name}.ipynb", 4).cells]
        assert handed_out == track, name

    for student, solved in (("full", None), ("half", HALF)):
        folder = course / "submitted" / student / assignment
        folder.mkdir(parents=True)
        for name in NAMES[lang]:
            nb = submission(release / f"{name}.ipynb", course / "source" / assignment / f"{name}.ipynb", solved)
            nbformat.write(nb, folder / f"{name}.ipynb")
    try:
        nbgrader(course, "autograde", assignment, "--create", "--force", env=env)
    finally:
        if (course / "autograded").exists():
            shutil.copytree(course / "autograded", ARTIFACTS / f"{lang}-{backend}", dirs_exist_ok=True)
        remove(lab, backend)
    assert not leftovers(lab)

    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        score = {(s, n): gb.find_submission_notebook(n, assignment, s).score
                 for s in ("full", "half") for n in NAMES[lang]}
        total = {s: gb.find_submission(assignment, s).score for s in ("full", "half")}
        max_score = gb.find_assignment(assignment).max_score
    two, three, four = NAMES[lang]
    assert max_score == 3 + 4 + 6
    assert total["full"] == max_score, score
    # half: section 2 whole; of section 3's items, the containers (with LXD also their names) and the veth pair
    section3_items = {"netns": (3, 9), "lxd": (5, 11)}[backend]
    assert score[("half", two)] == 3
    assert score[("half", three)] == pytest.approx(round(4 * section3_items[0] / section3_items[1], 2))
    assert score[("half", four)] == 0
    assert 3 < total["half"] < 6
