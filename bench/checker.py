"""Benchmark: what a check cell costs beyond the two kernel reads it cannot avoid.

A check reads the lab's state and probes it (the ping matrix); everything else is the
checker's own work (grading routes by walking every packet the figure asks for, there
and back, the items, their hints).  This runs, in one process on one machine, for
Figure 1 and a chain of N routers: the state read alone, the ping matrix alone, and a
full ``check``, each the best of a few runs, and prints the ratio

    check_vs_reads = check / (read_state + ping_matrix)

so the figure does not depend on the machine.  Target: at most 1.5 (the grading adds at
most half of what the kernel reads cost).

    sudo python bench/checker.py --routers 50 --json      # netns (root); --sim without root
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nslab_kernel import Lab  # noqa: E402
from nslab_kernel.analysis.checker import check  # noqa: E402

TARGET = 1.5


def best(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(spec: str, backend: str, runs: int) -> dict:
    lab = Lab.load(spec, backend=backend, lab=f"bchk{uuid.uuid4().hex[:6]}")
    lab.up()
    try:
        assert check(lab.topology, backend=lab.backend).passed
        read = best(lab.state, runs)
        matrix = best(lambda: lab.backend.probe(lab.topology, lab.targets(), 1.0, lab.expected()), runs)
        full = best(lambda: check(lab.topology, backend=lab.backend), runs)
        return {"nodes": len(lab.topology.nodes), "read_state_s": round(read, 4), "ping_matrix_s": round(matrix, 4),
                "check_s": round(full, 4), "check_vs_reads": round(full / (read + matrix), 2)}
    finally:
        lab.down()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routers", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sim", action="store_true", help="the simulated backend (no root needed)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("NSLAB_STATE_DIR", tempfile.mkdtemp(prefix="nslab-bench-"))
    backend = "sim" if args.sim or os.geteuid() != 0 else "netns"
    results = {"backend": backend, "target": TARGET,
               "figure1": measure("figure1", backend, args.runs),
               f"chain{args.routers}": measure(f"chain:{args.routers}", backend, args.runs)}
    results["within_target"] = all(v["check_vs_reads"] <= TARGET for k, v in results.items() if isinstance(v, dict))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for name, v in results.items():
            print(f"{name}: {v}")
    return 0 if results["within_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
