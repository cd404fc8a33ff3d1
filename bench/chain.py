"""Benchmark: a chain of N routers (h1 - r1 - ... - rN - h2) built, routed, probed and
removed by nslab, by Mininet's Python API, and by one ``ip`` command per step, in
one run on one machine, so the figures are ratios that do not depend on the machine.

    python bench/chain.py --routers 50 --json

prints one JSON object with a key per tool (``nslab``, ``mininet``, ``ip``), each
holding ``build_s``, ``routes_s``, ``ping_s`` and ``teardown_s``; ``ip_batch`` is
the replay of nslab's own commands with ``ip -batch`` (the build's reference), and
``ratios`` compares them against the targets.  Needs root.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nslab_kernel import Lab, load  # noqa: E402
# Imported before any timing, as the Mininet run imports mininet before its own:
# the figures compare the work, not the interpreters' start-up.
from nslab_kernel.kernel import netconf, netstate, probe  # noqa: E402,F401
from nslab_kernel.core.steps import ip_batches  # noqa: E402

HERE = Path(__file__).resolve().parent
BUILD = ("nodes", "links", "addresses", "forwarding")
TARGETS = {"build_routes_vs_mininet": 1 / 10, "ping_vs_mininet": 1 / 20, "teardown_vs_mininet": 1 / 3,
           "build_vs_ip_batch": 2.0}


def run_nslab(topology, lab_name: str, timeout: float) -> tuple[dict, list[str]]:
    lab = Lab.load(topology, lab=lab_name)
    out = {}
    t0 = time.perf_counter()
    report = lab.up(stages=BUILD)
    out["build_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    routes = lab.add_routes()
    out["routes_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    matrix = lab.ping_matrix(timeout=timeout)
    out["ping_s"] = time.perf_counter() - t0
    out["probes"] = len(matrix.probes)
    out["probes_ok"] = sum(p.ok for p in matrix.probes)
    t0 = time.perf_counter()
    lab.down()
    out["teardown_s"] = time.perf_counter() - t0
    out["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out, report.commands() + routes.commands()


def _rename(commands: list[str], old: str, new: str) -> list[str]:
    return [c.replace(f"{old}-", f"{new}-") for c in commands]


def run_ip_batch(build: list[str], routes: list[str], names: list[str]) -> dict:
    """Replay nslab's own commands: one `ip -batch` for the global ones, one per namespace."""
    out = {}
    g, per_ns, execs = ip_batches(build)
    t0 = time.perf_counter()
    subprocess.run(["ip", "-batch", "-"], input="\n".join(g) + "\n", text=True, check=True)
    for ns, lines in per_ns.items():
        subprocess.run(["ip", "-n", ns, "-batch", "-"], input="\n".join(lines) + "\n", text=True, check=True)
    for words in execs:
        subprocess.run(words, check=True, capture_output=True)
    out["build_s"] = time.perf_counter() - t0
    _, per_ns, _ = ip_batches(routes)
    t0 = time.perf_counter()
    for ns, lines in per_ns.items():
        subprocess.run(["ip", "-n", ns, "-batch", "-"], input="\n".join(lines) + "\n", text=True, check=True)
    out["routes_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    subprocess.run(["ip", "-batch", "-"], input="".join(f"netns del {n}\n" for n in names), text=True, check=True)
    out["teardown_s"] = time.perf_counter() - t0
    return out


def run_ip_per_step(build: list[str], routes: list[str], names: list[str], probes: list[tuple[str, str]]) -> dict:
    """The activity's way: one `ip` process per step, one `ping` per probe."""
    out = {}
    t0 = time.perf_counter()
    for cmd in build:
        subprocess.run(cmd.split(), check=True, capture_output=True)
    out["build_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for cmd in routes:
        subprocess.run(cmd.split(), check=True, capture_output=True)
    out["routes_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    ok = 0
    for ns, address in probes:
        ok += subprocess.run(["ip", "netns", "exec", ns, "ping", "-c1", "-W1", address],
                             capture_output=True).returncode == 0
    out["ping_s"] = time.perf_counter() - t0
    out["probes"], out["probes_ok"] = len(probes), ok
    t0 = time.perf_counter()
    for n in names:
        subprocess.run(["ip", "netns", "del", n], check=True)
    out["teardown_s"] = time.perf_counter() - t0
    return out


def mininet_spec(topo) -> dict:
    nodes = {}
    for n in topo.nodes:
        first = topo.endpoints_of(n.name)[0].address
        nodes[n.name] = {"first_ip": str(first), "forwarding": n.forwarding,
                         "routes": [["default" if r.is_default else str(r.dst), str(r.via)] for r in n.routes]}
    links = [[[l.a.node, l.a.ifname, str(l.a.address)], [l.b.node, l.b.ifname, str(l.b.address)]] for l in topo.links]
    return {"nodes": nodes, "links": links}


def run_mininet(topo, python: str) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(mininet_spec(topo), fh)
    try:
        proc = subprocess.run([python, str(HERE / "mininet_chain.py"), "--spec", fh.name],
                              capture_output=True, text=True, timeout=1800)
    finally:
        os.unlink(fh.name)
    if proc.returncode != 0:
        raise RuntimeError(f"the Mininet run failed: {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--routers", type=int, default=50)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--timeout", type=float, default=1.0, help="probe timeout (s)")
    parser.add_argument("--skip", action="append", default=[], choices=["mininet", "ip"], help="leave a peer out")
    parser.add_argument("--mininet-python", default="/usr/bin/python3")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/chain.py needs root (it creates network namespaces): run it with sudo", file=sys.stderr)
        return 2
    os.environ.setdefault("NSLAB_STATE_DIR", tempfile.mkdtemp(prefix="nslab-bench-"))
    topo = load(f"chain:{args.routers}")
    tag = uuid.uuid4().hex[:4]
    result: dict = {"routers": args.routers, "nodes": len(topo.nodes), "links": len(topo.links),
                    "routes": sum(len(n.routes) for n in topo.nodes)}
    lab_name = f"bn{tag}"
    result["nslab"], commands = run_nslab(topo, lab_name, args.timeout)
    n_build = len([c for c in commands if " route add " not in c])
    build, routes = commands[:n_build], commands[n_build:]

    replay = f"bb{tag}"
    names = [topo.netns_name(n, replay) for n in topo.node_names]
    try:
        result["ip_batch"] = run_ip_batch(_rename(build, lab_name, replay), _rename(routes, lab_name, replay), names)
    finally:
        _remove_names(names)
    if "ip" not in args.skip:
        per = f"bi{tag}"
        names = [topo.netns_name(n, per) for n in topo.node_names]
        probes = [(topo.netns_name(src, per), str(addr.ip)) for src in topo.node_names
                  for other in topo.node_names if other != src for addr in topo.addresses_of(other)]
        try:
            result["ip"] = run_ip_per_step(_rename(build, lab_name, per), _rename(routes, lab_name, per), names, probes)
        finally:
            _remove_names(names)
    if "mininet" not in args.skip:
        if not shutil.which("mn"):
            print("Mininet is missing: apt-get install --no-install-recommends mininet (or --skip mininet)",
                  file=sys.stderr)
            return 1
        result["mininet"] = run_mininet(topo, args.mininet_python)

    n = result["nslab"]
    ratios = {"build_vs_ip_batch": n["build_s"] / result["ip_batch"]["build_s"]}
    if "mininet" in result:
        m = result["mininet"]
        ratios["build_routes_vs_mininet"] = (n["build_s"] + n["routes_s"]) / (m["build_s"] + m["routes_s"])
        ratios["ping_vs_mininet"] = n["ping_s"] / m["ping_s"]
        ratios["teardown_vs_mininet"] = n["teardown_s"] / m["teardown_s"]
    if "ip" in result:
        ratios["build_routes_vs_ip_per_step"] = (n["build_s"] + n["routes_s"]) / (result["ip"]["build_s"] + result["ip"]["routes_s"])
        ratios["ping_vs_ip_per_step"] = n["ping_s"] / result["ip"]["ping_s"]
    result["ratios"] = {k: round(v, 4) for k, v in ratios.items()}
    result["targets_met"] = {k: ratios[k] <= t for k, t in TARGETS.items() if k in ratios}
    for tool in ("nslab", "ip_batch", "ip", "mininet"):
        for key, value in result.get(tool, {}).items():
            if isinstance(value, float):
                result[tool][key] = round(value, 4)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for tool in ("nslab", "ip_batch", "ip", "mininet"):
            if tool in result:
                r = result[tool]
                print(f"{tool:>9}: build {r.get('build_s', 0):8.3f} s  routes {r.get('routes_s', 0):8.3f} s  "
                      f"ping {r.get('ping_s', float('nan')):8.3f} s  teardown {r.get('teardown_s', 0):8.3f} s")
        for k, v in result["ratios"].items():
            target = TARGETS.get(k)
            print(f"  {k}: {v:.4f}" + (f" (target <= {target:.3f}: {'met' if v <= target else 'NOT met'})" if target else ""))
    return 0


def _remove_names(names: list[str]) -> None:
    for n in names:
        if os.path.lexists(f"/var/run/netns/{n}"):
            subprocess.run(["ip", "netns", "del", n], capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
