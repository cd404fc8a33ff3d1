"""bench/class.py with a small class: its JSON has every figure for both modes, nobody fails, and the
Unix users it created are gone afterwards.  The 40-student run is the benchmark itself, not a test."""

from __future__ import annotations

import json
import pwd
import subprocess
import sys
import uuid

import pytest

from tests.support import IS_ROOT, ROOT, need, netns_names

pytestmark = [pytest.mark.root, pytest.mark.slow]


def test_class_bench_two_students_root_and_rootless():
    need(IS_ROOT, "needs root: the benchmark creates one Unix user per student")
    tag = uuid.uuid4().hex[:4]
    user_prefix, lab_prefix = f"nslb{tag}s", f"b{tag}"
    before = netns_names()
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "class.py"), "--students", "2", "--json",
                           "--user-prefix", user_prefix, "--lab-prefix", lab_prefix],
                          capture_output=True, text=True, timeout=600)
    for i in (1, 2):  # removed even if the run failed
        with pytest.raises(KeyError):
            pwd.getpwnam(f"{user_prefix}{i}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)
    for mode in ("root", "rootless"):
        figures = result[mode]
        assert figures["students"] == 2 and figures["failures"] == 0, figures
        assert 0 < figures["p50_s"] <= figures["p95_s"] <= figures["wall_s"] + 0.01
        assert figures["rss_mb_per_student"] > 1
        assert set(figures["step_p50_s"]) == {"up", "ping", "check", "down"}
    assert result["ratio"]["rootless_vs_root_wall"] > 0
    assert result["host_netns_unchanged"] is True
    assert not {n for n in netns_names() - before if n.startswith(lab_prefix)}
