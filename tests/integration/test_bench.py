"""The benchmark runs and its figures are real (small chain; the 50-router figures are in the notes)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support import ROOT, need, netns_names

pytestmark = [pytest.mark.root, pytest.mark.slow]


def test_chain_bench_small(root, state):
    import shutil
    need(shutil.which("mn") is not None, "Mininet (Debian's mininet package) is needed for the benchmark")
    before = netns_names()
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "chain.py"), "--routers", "3", "--json"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    for tool in ("nslab", "mininet", "ip"):
        assert {"build_s", "routes_s", "ping_s", "teardown_s"} <= data[tool].keys(), tool
        assert all(data[tool][k] > 0 for k in ("build_s", "routes_s", "ping_s")), data[tool]
    # chain:3 has 5 nodes and 8 addresses: every node probes every address of every other node
    assert data["nslab"]["probes_ok"] == data["nslab"]["probes"] == 32
    assert data["ip"]["probes_ok"] == data["ip"]["probes"]
    assert data["mininet"]["ping_loss_percent"] == 0
    assert set(data["ratios"]) >= {"build_vs_ip_batch", "build_routes_vs_mininet", "ping_vs_mininet", "teardown_vs_mininet"}
    assert netns_names() == before
